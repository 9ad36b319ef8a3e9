"""HTTP adapters: the API under /api/v1, operations endpoints and the web UI."""
