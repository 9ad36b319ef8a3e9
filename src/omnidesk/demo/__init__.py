"""The demo tenant: Skylark Mall (云雀优选), an online shop with its own delivery service, Skylark Express."""
