"""The ASGI entry point for servers: ``uvicorn omnidesk.web.asgi:app``."""

from omnidesk.web.app import create_app

app = create_app()
