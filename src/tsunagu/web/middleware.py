"""Per-request interface language, as a plain ASGI middleware (no per-request task overhead)."""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

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
