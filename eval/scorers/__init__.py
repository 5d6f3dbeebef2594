"""Per-conversation scorers: resolution (simulation), repeat-inquiry proxies, safety/policy."""
