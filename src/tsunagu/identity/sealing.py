"""Secrets identity must read back (TOTP seeds, IdP client secrets), encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the deployment key per purpose: a
copy of the database alone yields neither administrators' second factors nor the credentials
the portal holds at Google or Entra ID.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet

from tsunagu.container import Container


def _fernet(container: Container, purpose: str) -> Fernet:
    material = f"tsunagu-{purpose}:".encode() + container.settings.resolved_secret_key
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material).digest()))


def seal(container: Container, purpose: str, value: str) -> str:
    return _fernet(container, purpose).encrypt(value.encode()).decode()


def unseal(container: Container, purpose: str, token: str) -> str:
    return _fernet(container, purpose).decrypt(token.encode()).decode()
