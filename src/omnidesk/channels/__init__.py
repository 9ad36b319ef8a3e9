"""Channel adapters: each normalises what arrives on its channel and calls the conversations actions."""
