"""Audit log: who did what, when and from where (read and exported by administrators)."""
