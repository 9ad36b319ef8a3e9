"""``omnidesk bot eval-faq``: a tenant's-eye evaluation of the whole assistant on an FAQ and real questions.

The FAQ file is imported (published) into a scratch tenant of a scratch SQLite database, a model is trained the
way ``POST /bot/models`` trains it, and every query goes through the same answer path as ``POST /api/v1/bot/answer``
(the tenant's cached brain, then :meth:`Assistant.reply` on a first turn). Each reply is scored against the
entry the query belongs to (column ``id``; empty or ``oos`` for a question the FAQ does not cover):

* in scope: ``answered_right`` / ``answered_wrong`` (an answer with the wrong entry), ``clarified_right`` (a
  "which did you mean?" whose buttons hold the right entry), ``clarified_wrong``, ``declined`` (anything else:
  a polite refusal, a hand-over);
* out of scope: ``answered`` / ``clarified`` / ``declined``.

Shares are fractions of their rows. ``p50_ms`` / ``p99_ms`` time :meth:`Assistant.reply` (the NLU turn),
``with_db_*`` the answer as the endpoint computes it (the brain's version check in the database first), one
message at a time, each message new to the encoders' caches. ``expected`` is what the trained model's operating point promised (measured on held-out
examples at training time): the figures a tenant sees in the console before activating it.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

OUT_OF_SCOPE = ("", "oos")


def read_queries(path: str | Path) -> list[tuple[str, str]]:
    """``(text, id)`` rows of a ``text,id`` CSV (an empty id or ``oos``: not covered by the FAQ)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and ("text" not in rows[0] or "id" not in rows[0]):
        raise ValueError("the queries file needs the columns text,id")
    return [(r["text"].strip(), (r["id"] or "").strip()) for r in rows if r["text"].strip()]


def score(replies: list[dict[str, Any]], expected: list[str]) -> dict[str, Any]:
    """The figures of one run from the replies (``kind``, ``knowledge_id``, ``buttons``) and the expected ids."""
    inside: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    for reply, want in zip(replies, expected, strict=True):
        kind = reply["kind"]
        if want.lower() in OUT_OF_SCOPE:
            outside["answered" if kind == "answer" else "clarified" if kind == "clarify" else "declined"] += 1
            continue
        if kind == "answer":
            inside["answered_right" if reply.get("knowledge_id") == want else "answered_wrong"] += 1
        elif kind == "clarify":
            offered = {b.get("knowledge_id") for b in reply.get("buttons", [])}
            inside["clarified_right" if want in offered else "clarified_wrong"] += 1
        else:
            inside["declined"] += 1
    n_in, n_out = sum(inside.values()), sum(outside.values())
    result: dict[str, Any] = {"in_scope": n_in, "out_of_scope": n_out}
    for key in ("answered_right", "answered_wrong", "clarified_right", "clarified_wrong", "declined"):
        result[key] = round(inside[key] / n_in, 4) if n_in else 0.0
    for key in ("answered", "clarified", "declined"):
        result[f"oos_{key}"] = round(outside[key] / n_out, 4) if n_out else 0.0
    return result


def evaluate_faq(
    faq_csv: str | Path, queries_csv: str | Path, *, encoder_kind: str, workdir: str | Path | None = None
) -> dict[str, Any]:
    """Import, train, ask; return the figures (see the module docstring) with the training time and the model's
    own expectation of its answer / clarify / decline rates."""
    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.schemas import TenantCreate
    from omnidesk.bot import actions
    from omnidesk.bot.brains import Brains, operating_point
    from omnidesk.bot.engine import Assistant
    from omnidesk.core import migrate
    from omnidesk.core.actor import system_actor
    from omnidesk.core.db import Database
    from omnidesk.knowledge import transfer
    from omnidesk.security.outbound import OutboundPolicy

    queries = read_queries(queries_csv)
    content = transfer.with_status(Path(faq_csv).read_bytes(), "published")
    with tempfile.TemporaryDirectory(prefix="eval-faq-", dir=workdir) as folder:
        url = f"sqlite:///{Path(folder) / 'scratch.db'}"
        migrate.upgrade(url)
        db = Database(url)
        try:
            with db.platform_transaction() as s:
                scratch = TenantCreate(
                    slug="eval-faq",
                    name="eval-faq",
                    admin_email="eval@eval-faq.example",
                    default_language=_main_language(content),
                )
                tenant, _, _ = accounts.create_tenant(s, scratch)
                tenant_id = tenant.id
            actor = system_actor(tenant_id)
            with db.tenant_transaction(tenant_id) as s:
                imported = transfer.import_entries(s, actor, "csv", content)
            brains = Brains(encoder_kind)
            with db.tenant_transaction(tenant_id) as s:
                model_id = actions.request_training(s, actor).id
            started = time.perf_counter()
            row = actions.train(db, tenant_id, model_id, brains)
            train_seconds = time.perf_counter() - started
            if row.status != "ready":
                raise RuntimeError(f"training failed: {row.error}")
            point = operating_point(row.policy, row.answer_target)
            expected_rates = {"target": point.target, **point.rates} if point is not None else {}
            assistant = Assistant(OutboundPolicy())
            replies, times, whole = [], [], []
            for text, _ in queries:
                began = time.perf_counter()
                with db.tenant_read(tenant_id) as s:
                    brain = brains.get(s, tenant_id)
                thinking = time.perf_counter()
                reply = assistant.reply(brain, text, tenant_key=str(tenant_id))
                done = time.perf_counter()
                times.append((done - thinking) * 1000)
                whole.append((done - began) * 1000)
                replies.append({"kind": reply.kind, "knowledge_id": reply.knowledge_id, "buttons": reply.buttons})
        finally:
            db.dispose()
    result = score(replies, [want for _, want in queries])
    result.update(
        entries=imported.created,
        skipped_rows=imported.skipped,
        examples=row.examples,
        train_seconds=round(train_seconds, 1),
        p50_ms=round(float(np.percentile(times, 50)), 2),
        p99_ms=round(float(np.percentile(times, 99)), 2),
        with_db_p50_ms=round(float(np.percentile(whole, 50)), 2),
        with_db_p99_ms=round(float(np.percentile(whole, 99)), 2),
        expected=expected_rates or {},
        encoder=encoder_kind,
    )
    return result


def _main_language(content: bytes) -> str:
    text = content.decode("utf-8-sig", errors="replace")
    chinese = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return "zh-CN" if chinese > len(text) * 0.05 else "en"
