"""What every webhook-driven messaging channel (WhatsApp, Telegram, SMS, …) shares: its configuration row, its
health (last message, last error), the delivery status of what we sent, and storing a webhook's messages."""
