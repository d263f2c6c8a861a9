"""ASGI middleware of the portal window: the interface language, CSRF for multipart forms."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsunagu.web.i18n import LANGUAGE_COOKIE, negotiate, translations


class LocaleMiddleware:
    """Sets ``request.state.locale`` and ``request.state.translations`` for the templates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            cookie_value: str | None = None
            accept: str | None = None
            for name, value in scope.get("headers", ()):
                if name == b"cookie":
                    jar: SimpleCookie = SimpleCookie()
                    try:
                        jar.load(value.decode("latin-1"))
                    except Exception:  # a malformed cookie header must not break the page
                        jar = SimpleCookie()
                    if LANGUAGE_COOKIE in jar:
                        cookie_value = jar[LANGUAGE_COOKIE].value
                elif name == b"accept-language":
                    accept = value.decode("latin-1")
            language = negotiate(cookie_value, accept)
            state = scope.setdefault("state", {})
            state["locale"] = language
            state["translations"] = translations(language)
        await self.app(scope, receive, send)


class _TokenSeen(Exception):  # noqa: N818  (control flow, not an error)
    pass


class MultipartCsrfToken:
    """Checks the CSRF token of plain multipart forms (the roster upload works without
    JavaScript), in front of asgi-csrf.

    asgi-csrf 0.11 cannot read multipart bodies with python-multipart 0.0.2x+ (it passes a
    ``FileClass`` argument that no longer exists), so a browser's file upload would end in a
    500. This middleware sits just outside it and handles ``multipart/form-data`` the way
    asgi-csrf would: requests it would let through unchecked (no cookies at all, a machine path,
    a Bearer token, or an ``X-CSRFToken`` header it checks itself) pass untouched; otherwise the
    body is read only until the first part ends, and that part must be the ``csrftoken`` field
    (``{{ csrf_input() }}`` comes first in the form) equal to the ``csrftoken`` cookie. Then the
    token is passed on as the header, so asgi-csrf still verifies the signed cookie, and the body
    read so far is replayed untouched; anything else is refused with 403 here.
    """

    #: The token field is tiny; never buffer more than this looking for it.
    LIMIT = 64 * 1024

    def __init__(
        self,
        app: ASGIApp,
        skip: Callable[[Any], bool] | None = None,
        always_protect: frozenset[str] = frozenset(),
        field: str = "csrftoken",
        header: str = "x-csrftoken",
    ) -> None:
        self.app = app
        self.skip = skip
        self.always_protect = always_protect
        self.field = field.encode()
        self.cookie = field
        self.header = header.encode("latin-1")

    def _unchecked(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        """What asgi-csrf lets through without reading the body."""
        if self.header in headers:
            return True
        if not headers.get(b"cookie") and scope.get("path") not in self.always_protect:
            return True
        if self.skip is not None and self.skip(scope):
            return True
        return headers.get(b"authorization", b"").startswith(b"Bearer ")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS", "TRACE"}:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"")
        if not content_type.startswith(b"multipart/form-data") or self._unchecked(scope, headers):
            await self.app(scope, receive, send)
            return
        from python_multipart.multipart import MultipartParser, parse_options_header

        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        messages: list[Message] = []
        token = b""
        if boundary:
            token = await self._first_field(MultipartParser, boundary, receive, messages)
        expected = _cookie(headers, self.cookie).encode("latin-1")
        if not token or not expected or not secrets.compare_digest(token, expected):
            await _refuse(send)
            return
        scope = dict(scope)
        scope["headers"] = [*scope.get("headers", []), (self.header, token)]

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _first_field(
        self, parser_class: Any, boundary: bytes, receive: Receive, messages: list[Message]
    ) -> bytes:
        """The value of the first part if it is the token field (else empty)."""
        from python_multipart.multipart import parse_options_header

        state: dict[str, Any] = {"headers": b"", "data": b"", "value": b""}

        def on_header_value(data: bytes, start: int, end: int) -> None:
            state["headers"] += data[start:end]

        def on_headers_finished() -> None:
            _, disposition = parse_options_header(state["headers"])
            state["name"] = disposition.get(b"name")
            state["file"] = b"filename" in disposition

        def on_part_data(data: bytes, start: int, end: int) -> None:
            state["data"] += data[start:end]
            if len(state["data"]) > self.LIMIT:
                raise _TokenSeen

        def on_part_end() -> None:
            if state.get("name") == self.field and not state.get("file"):
                state["value"] = state["data"]
            raise _TokenSeen  # only the first part may carry the token

        parser = parser_class(
            boundary,
            {
                "on_header_value": on_header_value,
                "on_headers_finished": on_headers_finished,
                "on_part_data": on_part_data,
                "on_part_end": on_part_end,
            },
        )
        size = 0
        more = True
        try:
            while more and size <= self.LIMIT:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body = message.get("body", b"")
                size += len(body)
                parser.write(body)
                more = message.get("more_body", False)
        except _TokenSeen:
            pass
        except Exception:  # a malformed body carries no token
            return b""
        return bytes(state["value"])


def _cookie(headers: dict[bytes, bytes], name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get(b"cookie", b"").decode("latin-1"))
    except Exception:  # a malformed cookie header carries no token
        return ""
    return jar[name].value if name in jar else ""


async def _refuse(send: Send) -> None:
    body = b"multipart/form-data POST field did not match cookie"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})
