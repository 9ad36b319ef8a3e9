"""WhatsApp Cloud API: the webhook (verification handshake, signed notifications) and the Graph send API."""
