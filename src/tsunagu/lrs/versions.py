"""xAPI version negotiation (xAPI 1.0.3 Part Three §6.2; IEEE 9274.1.1 "Versioning").

Every request except ``GET /about`` carries ``X-Experience-API-Version``; ``1.0`` / ``1.0.x`` is
served as 1.0.3 and ``2.0`` / ``2.0.x`` as 2.0.0. Every response names the version it was served
as. Much content still sends ``1.0.0``–``1.0.2`` (xapi-notes.md §2), hence any ``1.0.x``.
"""

from __future__ import annotations

import re
from typing import Final, Literal

V1: Final = "1.0.3"
V2: Final = "2.0.0"
XapiVersion = Literal["1.0.3", "2.0.0"]
SUPPORTED: Final = (V1, V2)
HEADER: Final = "X-Experience-API-Version"

_V1_PATTERN = re.compile(r"1\.0(?:\.\d{1,4})?")
_V2_PATTERN = re.compile(r"2\.0(?:\.\d{1,4})?")
#: The statement ``version`` property (1.0.3 Part Two §2.4.10): 1.0.x; 2.0 also accepts 2.0.x.
_STATEMENT_V1 = _V1_PATTERN
_STATEMENT_V2 = re.compile(r"(?:1|2)\.0(?:\.\d{1,4})?")


class VersionError(ValueError):
    """A missing or unsupported ``X-Experience-API-Version`` header (answered with 400)."""


def negotiate(header: str | None) -> XapiVersion:
    """The version a request is served as, or :class:`VersionError`."""
    if header is None or not header.strip():
        raise VersionError(f"The {HEADER} header is required (1.0.3 or 2.0.0).")
    value = header.strip()
    if _V1_PATTERN.fullmatch(value):
        return V1
    if _V2_PATTERN.fullmatch(value):
        return V2
    shown = value[:40]
    raise VersionError(f"Unsupported {HEADER} '{shown}': this LRS serves 1.0.x and 2.0.x.")


def statement_version_ok(value: str, served_as: XapiVersion) -> bool:
    pattern = _STATEMENT_V2 if served_as == V2 else _STATEMENT_V1
    return pattern.fullmatch(value) is not None
