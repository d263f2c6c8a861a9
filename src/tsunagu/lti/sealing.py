"""Authenticated encryption for what the platform keeps secret or hands out opaque.

Platform private keys at rest and the ``lti_message_hint`` / deep-linking ``data`` values that
travel through the tool are sealed with AES-256-GCM under keys derived (HKDF-SHA256) from the
deployment secret, one key per purpose. A sealed hint is opaque to the tool (it carries internal
ids, not for the tool to read) and cannot be altered or forged.
"""

from __future__ import annotations

import base64
import json
import os
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SealError(ValueError):
    """A sealed value was tampered with, forged or sealed for another purpose."""


@lru_cache(maxsize=32)
def _key(secret: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"tsunagu-lti", info=purpose.encode()
    ).derive(secret)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal_bytes(secret: bytes, purpose: str, data: bytes) -> str:
    nonce = os.urandom(12)
    return _b64(nonce + AESGCM(_key(secret, purpose)).encrypt(nonce, data, purpose.encode()))


def open_bytes(secret: bytes, purpose: str, sealed: str) -> bytes:
    try:
        raw = _unb64(sealed)
        if len(raw) < 28:
            raise SealError("sealed value too short")
        return AESGCM(_key(secret, purpose)).decrypt(raw[:12], raw[12:], purpose.encode())
    except (InvalidTag, ValueError, TypeError) as exc:
        raise SealError("the value was altered or was not issued by this portal") from exc


def seal_json(secret: bytes, purpose: str, value: dict[str, Any]) -> str:
    return seal_bytes(secret, purpose, json.dumps(value, separators=(",", ":")).encode())


def open_json(secret: bytes, purpose: str, sealed: str) -> dict[str, Any]:
    try:
        value = json.loads(open_bytes(secret, purpose, sealed))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SealError("the sealed value is not JSON") from exc
    if not isinstance(value, dict):
        raise SealError("the sealed value is not an object")
    return value
