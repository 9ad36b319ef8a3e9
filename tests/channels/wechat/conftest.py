from tests.channels.messaging_support import msg_app, msg_client, providers

__all__ = ["msg_app", "msg_client", "providers"]
