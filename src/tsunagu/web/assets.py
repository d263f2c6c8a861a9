"""Static assets the portal serves itself: its own CSS and icons, and htmx from the npm registry.

School networks are slow and filtered, so nothing comes from a CDN. Every asset is addressed by
a content hash (``/static/portal.3f2a…css``) and served ``immutable`` for a year: a returning
browser asks for none of them again, and a new release changes the URL rather than waiting for
caches to expire. Bodies are kept gzip-compressed in memory (built once per process).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PORTAL_STATIC = Path(__file__).resolve().parent.parent / "portal" / "static"
#: Third-party files: logical name → path inside ``settings.assets_dir`` (npm's node_modules).
VENDOR_FILES = {"htmx.js": Path("htmx.org") / "dist" / "htmx.min.js"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str
    url: str
    content_type: str
    body: bytes
    gzipped: bytes


class AssetRegistry:
    """Logical names (``portal.css``) → hashed URLs and bodies."""

    def __init__(self, assets: list[Asset]) -> None:
        self._by_name = {a.name: a for a in assets}
        self._by_file = {a.url.rsplit("/", 1)[1]: a for a in assets}

    def url(self, name: str) -> str | None:
        found = self._by_name.get(name)
        return found.url if found else None

    def by_filename(self, filename: str) -> Asset | None:
        return self._by_file.get(filename)

    def names(self) -> list[str]:
        return sorted(self._by_name)


def _asset(name: str, body: bytes) -> Asset:
    digest = hashlib.sha256(body).hexdigest()[:16]
    stem, dot, suffix = name.rpartition(".")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith(("javascript", "svg+xml")):
        content_type += "; charset=utf-8"
    return Asset(
        name=name,
        url=f"/static/{stem}.{digest}{dot}{suffix}",
        content_type=content_type,
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
    )


def build_assets(assets_dir: Path) -> AssetRegistry:
    found = [
        _asset(path.name, path.read_bytes())
        for path in sorted(PORTAL_STATIC.iterdir())
        if path.is_file()
    ]
    for name, relative in VENDOR_FILES.items():
        path = assets_dir / relative
        if path.is_file():
            found.append(_asset(name, path.read_bytes()))
        else:
            # Pages still work without it (every form posts normally); partial updates are lost.
            log.warning("%s not found under %s: run 'make assets'", relative, assets_dir)
    return AssetRegistry(found)
