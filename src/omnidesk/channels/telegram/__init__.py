"""Telegram Bot API: the webhook (secret token header) and ``sendMessage``."""
