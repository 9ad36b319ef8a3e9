"""SMS through a Twilio-compatible API: signed form webhooks (messages and status callbacks), the Messages API."""
