"""Thread-pool limits for the one-message path."""

from __future__ import annotations

from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


def _blas_single_thread(user_api: str | None = "blas") -> AbstractContextManager[object]:
    """Context limiting BLAS (or, with ``user_api=None``, BLAS and OpenMP) to one thread.

    Used on the one-message path: thread pools spin-wait for busy cores, which on a loaded 2-core host turns
    a 1 ms product into tens of milliseconds. The controller is created once (discovery costs ~ms).
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api=user_api)  # type: ignore[no-any-return]
