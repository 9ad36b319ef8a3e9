"""The real-time gateway: WebSockets for widget visitors and agents, fan-out through the event bus, presence.

Depends only on ``events`` and ``security``: no database query on its hot path. Clients resume after a drop by
fetching what they missed through the REST API (messages after the last ``seq`` they saw), then apply events.
"""
