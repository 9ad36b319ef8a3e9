"""The web chat widget (网页聊天): embeddable loader, hosted chat page, visitor API and attachments."""
