"""ASGI middleware: browser sessions (sets ``request.state.principal``) and security headers.

Order in the app (outermost first): security headers, sessions, CSRF. Headers wrap everything
(CSRF refusals and errors included); the session is known before CSRF and routes run.
"""

from __future__ import annotations

import time
from http.cookies import SimpleCookie
from typing import Any

from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsunagu.container import Container
from tsunagu.identity.operators import principal_for
from tsunagu.identity.principal import Principal
from tsunagu.identity.sessions import (
    TOUCH_INTERVAL,
    new_session_id,
    principal_from_dict,
    principal_to_dict,
    session_store,
)

SCOPE_KEY = "tsunagu.session"


class BrowserSession:
    """The session of one request, as routes see it (through :func:`current_session`)."""

    def __init__(self, session_id: str | None, data: dict[str, Any] | None) -> None:
        self.id = session_id
        self.data: dict[str, Any] = data or {}
        self.dirty = False
        #: Ids whose stored sessions must go (rotation at sign-in, sign-out).
        self.retired: list[str] = []
        self.cookie_changed = False
        self.principal: Principal | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Keep a value in the session (creates an anonymous session if there is none)."""
        if self.id is None:
            self.id = new_session_id()
            now = time.time()
            self.data = {"created": now, "last_seen": now}
            self.cookie_changed = True
        self.data[key] = value
        self.dirty = True

    def pop(self, key: str, default: Any = None) -> Any:
        if key in self.data:
            self.dirty = True
            return self.data.pop(key)
        return default

    def establish(self, principal: Principal, method: str) -> None:
        """Sign ``principal`` in under a brand-new session id (no session fixation)."""
        if self.id is not None:
            self.retired.append(self.id)
        now = time.time()
        self.id = new_session_id()
        self.data = {
            "created": now,
            "last_seen": now,
            "tenant_id": principal.tenant_id,
            "user_sourced_id": principal.user_sourced_id,
            "method": method,
            "principal": principal_to_dict(principal),
            "principal_at": now,
        }
        self.principal = principal
        self.dirty = True
        self.cookie_changed = True

    def end(self) -> None:
        """Sign out: the stored session is deleted and the cookie cleared."""
        if self.id is not None:
            self.retired.append(self.id)
        self.id = None
        self.data = {}
        self.principal = None
        self.dirty = False
        self.cookie_changed = True


def current_session(scope_holder: Any) -> BrowserSession:
    """The request's :class:`BrowserSession` (``request`` or ``scope``)."""
    scope = getattr(scope_holder, "scope", scope_holder)
    found = scope.get(SCOPE_KEY)
    if not isinstance(found, BrowserSession):
        raise RuntimeError("the session middleware is not installed")
    return found


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: S112  (a malformed cookie header is no session)
                continue
            if name in jar:
                return jar[name].value
    return None


class SessionMiddleware:
    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.container = container
        settings = container.settings
        self.cookie_name = settings.session_cookie_name
        self.idle = settings.session_idle_timeout_seconds
        self.absolute = settings.session_absolute_timeout_seconds
        self.refresh = settings.session_principal_refresh_seconds
        self.secure = settings.is_https

    def _ttl(self, data: dict[str, Any], now: float) -> int:
        remaining_absolute = data.get("created", now) + self.absolute - now
        return int(max(1, min(self.idle, remaining_absolute)))

    def _open(self, session_id: str | None) -> BrowserSession:
        """Load, check and refresh a session (runs in a worker thread: it may query)."""
        if not session_id or len(session_id) > 100:
            return BrowserSession(None, None)
        store = session_store(self.container)
        data = store.load(session_id)
        now = time.time()
        if data is None:
            handle = BrowserSession(None, None)
            handle.cookie_changed = True  # clear the stale cookie
            return handle
        created = float(data.get("created", 0))
        last_seen = float(data.get("last_seen", 0))
        if now - last_seen > self.idle or now - created > self.absolute:
            store.delete(session_id)
            handle = BrowserSession(None, None)
            handle.cookie_changed = True
            return handle
        handle = BrowserSession(session_id, data)
        if now - last_seen > TOUCH_INTERVAL:
            data["last_seen"] = now
            handle.dirty = True
        if "principal" in data:
            if now - float(data.get("principal_at", 0)) > self.refresh:
                with self.container.database.session() as session:
                    # The operator grant is read again too: a revoked operator loses it here.
                    principal = principal_for(
                        session, int(data["tenant_id"]), str(data["user_sourced_id"])
                    )
                if principal is None:
                    # Withdrawn, disabled or without roles since sign-in: the session ends.
                    store.delete(session_id)
                    handle = BrowserSession(None, None)
                    handle.cookie_changed = True
                    return handle
                data["principal"] = principal_to_dict(principal)
                data["principal_at"] = now
                handle.dirty = True
                handle.principal = principal
            else:
                handle.principal = principal_from_dict(data["principal"])
        return handle

    def _persist(self, handle: BrowserSession) -> None:
        store = session_store(self.container)
        for retired in handle.retired:
            store.delete(retired)
        if handle.id is not None and handle.dirty:
            store.save(handle.id, handle.data, self._ttl(handle.data, time.time()))

    def _set_cookie_header(self, handle: BrowserSession) -> bytes:
        parts = [f"{self.cookie_name}={handle.id or ''}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if handle.id is None:
            parts.append("Max-Age=0")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = _cookie(scope, self.cookie_name)
        if not session_id or len(session_id) > 100:
            # No session to load (machine clients such as xAPI tools never send the cookie):
            # answered here, without a worker-thread hop per request.
            handle = BrowserSession(None, None)
        else:
            handle = await to_thread.run_sync(self._open, session_id)
        scope[SCOPE_KEY] = handle
        state = scope.setdefault("state", {})
        state["principal"] = handle.principal

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                if handle.dirty or handle.retired:
                    await to_thread.run_sync(self._persist, handle)
                if handle.cookie_changed:
                    headers = list(message.get("headers") or [])
                    headers.append((b"set-cookie", self._set_cookie_header(handle)))
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_session)


#: Swagger UI and ReDoc load their scripts from a CDN; everything else is self-contained.
_DOCS_PATHS = ("/docs", "/redoc")
_STRICT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https:; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; object-src 'none'; "
    "frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """CSP, frame-ancestors, referrer policy, nosniff, and HSTS when served over HTTPS.

    A route that needs another policy (an LTI page framed by a tool, say) sets its own header;
    this middleware only fills in what the response does not already carry.
    """

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.hsts = container.settings.is_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = _DOCS_CSP if path.startswith(_DOCS_PATHS) else _STRICT_CSP
        wanted = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if self.hsts:
            wanted.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in wanted if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
