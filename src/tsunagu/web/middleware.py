"""Per-request interface language, as a plain ASGI middleware (no per-request task overhead)."""

from __future__ import annotations

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
    """Lets a plain multipart form (the roster upload, no JavaScript) carry its CSRF token.

    asgi-csrf 0.11 cannot read multipart bodies with python-multipart 0.0.2x+ (it passes a
    ``FileClass`` argument that no longer exists), so a browser's file upload would fail. This
    middleware sits just outside it: for an unsafe multipart request without the ``X-CSRFToken``
    header it reads the body only until the first part ends; when that part is the
    ``csrftoken`` field (``{{ csrf_input() }}`` comes first in the form), its value is passed on
    as the header, and asgi-csrf compares it with the signed cookie as usual. The body read so
    far is replayed untouched. A file before the token means no header, hence a refusal.
    """

    #: The token field is tiny; never buffer more than this looking for it.
    LIMIT = 64 * 1024

    def __init__(self, app: ASGIApp, field: str = "csrftoken", header: str = "x-csrftoken"):
        self.app = app
        self.field = field.encode()
        self.header = header.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS", "TRACE"}:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"")
        if self.header in headers or not content_type.startswith(b"multipart/form-data"):
            await self.app(scope, receive, send)
            return
        from python_multipart.multipart import MultipartParser, parse_options_header

        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if not boundary:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"headers": b"", "data": b"", "field": b"", "value": b""}

        def on_header_value(data: bytes, start: int, end: int) -> None:
            state["headers"] += data[start:end]

        def on_headers_finished() -> None:
            _, disposition = parse_options_header(state["headers"])
            state["name"] = disposition.get(b"name")
            state["file"] = b"filename" in disposition

        def on_part_data(data: bytes, start: int, end: int) -> None:
            state["data"] += data[start:end]

        def on_part_end() -> None:
            if state.get("name") == self.field and not state.get("file"):
                state["value"] = state["data"]
            raise _TokenSeen  # only the first part may carry the token

        parser = MultipartParser(
            boundary,
            {
                "on_header_value": on_header_value,
                "on_headers_finished": on_headers_finished,
                "on_part_data": on_part_data,
                "on_part_end": on_part_end,
            },
        )
        messages: list[Message] = []
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
        except Exception:  # a malformed body: let asgi-csrf refuse it
            state["value"] = b""
        if state["value"]:
            scope = dict(scope)
            scope["headers"] = [*scope.get("headers", []), (self.header, state["value"])]

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)
