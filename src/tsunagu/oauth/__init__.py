"""OAuth 2.0 client-credentials clients and tokens for machine access (OneRoster REST, …)."""
