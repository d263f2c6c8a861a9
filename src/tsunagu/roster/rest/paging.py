"""RFC 8288 ``Link`` header for a page of a OneRoster collection.

The binding names the relations ``first``, ``prev``, ``next`` and ``last`` and pages with
``limit``/``offset``; every other query parameter (filter, sort, fields …) is kept so the links
address pages of the same result.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode


def page_offsets(offset: int, limit: int, total: int) -> dict[str, int]:
    """Relation -> offset. ``prev``/``next`` only exist when there is such a page."""
    last = max(0, (total - 1) // limit * limit) if total > 0 else 0
    offsets = {"first": 0}
    if offset > 0:
        offsets["prev"] = max(0, min(offset - limit, last))
    if offset + limit < total:
        offsets["next"] = offset + limit
    offsets["last"] = last
    return offsets


def link_header(
    url: str, params: Iterable[tuple[str, str]], offset: int, limit: int, total: int
) -> str:
    """``url`` is absolute without a query; ``params`` are the request's query parameters."""
    kept = [(k, v) for k, v in params if k not in ("limit", "offset")]
    links = []
    for rel, rel_offset in page_offsets(offset, limit, total).items():
        query = urlencode([*kept, ("limit", str(limit)), ("offset", str(rel_offset))])
        links.append(f'<{url}?{query}>; rel="{rel}"')
    return ", ".join(links)
