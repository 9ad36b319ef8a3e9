"""Knowledge base and the self-service help center (articles, FAQ, search, import/export, analytics)."""
