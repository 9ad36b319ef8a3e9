"""WeChat Official Account customer-service messages: token signature, the AES "safe mode", XML bodies."""
