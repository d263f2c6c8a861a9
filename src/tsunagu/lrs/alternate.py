"""Alternate Request Syntax (xAPI 1.0.3 Part Three §1.3; removed in IEEE 9274.1.1).

``POST /xapi/<resource>?method=PUT`` with an ``application/x-www-form-urlencoded`` body whose
fields are the request's headers (Authorization, X-Experience-API-Version, Content-Type,
If-Match, If-None-Match), its query parameters, and ``content`` (the body). Browsers used it to
get around cross-origin limits. This ASGI middleware turns such a request into the ordinary one
before routing, for 1.0.x requests only: a 2.0 request keeps its ``method`` parameter, which the
resource refuses with 400 as an unknown parameter.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsunagu.lrs.versions import V1, VersionError, negotiate

_HEADER_FIELDS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}
_METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE"}
_MAX_FORM_BYTES = 10 * 1024 * 1024


class AlternateRequestSyntax:
    def __init__(self, app: ASGIApp, prefix: str = "/xapi/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not str(scope["path"]).startswith(self.prefix)
            or b"method=" not in scope.get("query_string", b"")
        ):
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope["query_string"].decode("latin-1"))
        methods = query.get("method", [])
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        content_type = headers.get("content-type", b"").decode("latin-1").split(";")[0].strip()
        if (
            len(query) != 1
            or len(methods) != 1
            or methods[0].upper() not in _METHODS
            or content_type != "application/x-www-form-urlencoded"
        ):
            await self.app(scope, receive, send)
            return
        body, complete = await _read(receive)
        text = body.decode("utf-8", "replace")
        if len(text) > 1 and text[0] == text[-1] == '"':
            # Some clients (the ADL suite among them) send the form JSON-quoted.
            try:
                unquoted = json.loads(text)
            except ValueError:
                unquoted = None
            text = unquoted if isinstance(unquoted, str) else text
        fields = parse_qsl(text, keep_blank_values=True)
        form_headers = {k.lower(): v for k, v in fields if k.lower() in _HEADER_FIELDS}
        version_header = form_headers.get(
            "x-experience-api-version",
            headers.get("x-experience-api-version", b"").decode("latin-1"),
        )
        try:
            is_v1 = negotiate(version_header) == V1
        except VersionError:
            is_v1 = False
        if not complete or not is_v1:
            # Not ours to rewrite: replay the body we read to the resource.
            await self.app(scope, _replay(body), send)
            return
        content = next((v for k, v in fields if k == "content"), "").encode("utf-8")
        params = [(k, v) for k, v in fields if k.lower() not in _HEADER_FIELDS and k != "content"]
        # Form fields replace the real headers of the same name; the form's own content type
        # and length go (the content gets its own below).
        replaced = set(form_headers) | {"content-type", "content-length"}
        new_headers = [
            (k, v) for k, v in scope["headers"] if k.decode("latin-1").lower() not in replaced
        ]
        for name, value in form_headers.items():
            if name != "content-length":
                new_headers.append((name.encode("latin-1"), value.encode("latin-1", "replace")))
        new_headers.append((b"content-length", str(len(content)).encode()))
        if "content-type" not in form_headers and content:
            new_headers.append((b"content-type", b"application/json"))
        new_scope: dict[str, Any] = {
            **scope,
            "method": methods[0].upper(),
            "query_string": urlencode(params).encode("latin-1"),
            "headers": new_headers,
        }
        await self.app(new_scope, _replay(content), send)


async def _read(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
