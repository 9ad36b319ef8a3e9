"""The e-mail channel: MIME parsing, threading, loop protection, the SMTP/LMTP ingress and SMTP delivery."""
