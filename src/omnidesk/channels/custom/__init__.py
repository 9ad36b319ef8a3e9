"""The generic "custom channel": any other system (a mobile app, a mini-program, a kiosk) posts its customers'
messages with the workspace's API key; answers reach it through the signed outgoing webhooks."""
