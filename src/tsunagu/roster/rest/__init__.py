"""The OneRoster 1.2 Rostering Service, REST/JSON binding (read-only), over the stored roster."""
