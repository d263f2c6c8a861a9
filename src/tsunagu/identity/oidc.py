"""Sign-in with a school's Google Workspace, Microsoft Entra ID or any OpenID Provider.

Authorization code flow with PKCE (RFC 7636, S256), ``state`` and ``nonce`` (OpenID Connect Core
1.0 §3.1). The id_token is validated in full (§3.1.3.7): signature by the provider's JWKS
(cached; an unknown ``kid`` or a failed signature triggers one refetch, rate-limited, which is how
key rotation arrives), ``iss`` exactly, ``aud`` containing our client_id (and ``azp`` when there
are several), ``exp``, ``iat`` not in the future nor too old, ``nonce``. Then the tenant rules:
Google's ``hd`` must be one of the tenant's domains, Entra's ``tid`` one of its directories.

The identity is mapped onto exactly one roster user, by a ``userIds`` entry (``{Google:sub}``,
``{MS:oid}``) or by ``username`` (email / UPN). Nobody is ever created here: an unknown or
ambiguous identity is refused with a page that says so.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from anyio import to_thread
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.orm import Session

from tsunagu.audit import service as audit_service
from tsunagu.container import Container
from tsunagu.identity.models import IdentityProvider
from tsunagu.identity.operators import principal_for
from tsunagu.identity.protection import signin_guard
from tsunagu.identity.sealing import seal, unseal
from tsunagu.identity.service import SignInError, SignInResult, needs_totp
from tsunagu.roster.models import ACTIVE, User
from tsunagu.tenancy.service import get_tenant

KINDS = ("google", "microsoft", "oidc")
GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_DISCOVERY = "https://accounts.google.com/.well-known/openid-configuration"
ENTRA_AUTHORITY = "https://login.microsoftonline.com"
#: Clock skew allowed on ``exp`` / ``iat`` (seconds).
LEEWAY = 120
#: An id_token issued longer ago than this is refused, whatever its ``exp``.
MAX_TOKEN_AGE = 600
#: Least time between two JWKS refetches of one provider (bogus ``kid``s must not hammer it).
JWKS_REFETCH_INTERVAL = 5.0
#: How long an authorization request may take (state kept in the session).
TRANSACTION_LIFETIME = 600


class IdpAdminError(ValueError):
    """An identity provider configuration was refused; the message says why."""


@dataclass(frozen=True)
class ProviderInfo:
    id: int
    tenant_code: str
    kind: str
    label: str
    issuer: str
    client_id: str
    discovery_url: str
    allowed_domains: tuple[str, ...]
    allowed_tenant_ids: tuple[str, ...]


def _info(row: IdentityProvider, tenant_code: str) -> ProviderInfo:
    return ProviderInfo(
        id=row.id,
        tenant_code=tenant_code,
        kind=row.kind,
        label=row.label,
        issuer=row.issuer,
        client_id=row.client_id,
        discovery_url=row.discovery_url,
        allowed_domains=tuple(row.allowed_domains.split()),
        allowed_tenant_ids=tuple(row.allowed_tenant_ids.split()),
    )


# --- the per-process caches ------------------------------------------------------------------


class OidcRuntime:
    """Discovery documents and JWKS, cached per process; one HTTP client."""

    def __init__(self, container: Container) -> None:
        settings = container.settings
        self._timeout = settings.oidc_http_timeout_seconds
        self.http = httpx.Client(timeout=self._timeout)
        self._async_http: httpx.AsyncClient | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self.ttl = settings.oidc_jwks_cache_seconds
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[dict[str, Any], float]] = {}
        self._jwks: dict[str, tuple[KeySet, float]] = {}
        #: How many times each JWKS was fetched (tests and the benchmark read it).
        self.jwks_fetches: dict[str, int] = {}

    def close(self) -> None:
        self.http.close()
        # The event loop's client is dropped with its loop (closing it needs that loop).
        self._async_http = None

    def async_http(self) -> httpx.AsyncClient:
        """The HTTP client of the running event loop (its connections belong to that loop:
        one per serving process, a new one for a test's next app)."""
        loop = asyncio.get_running_loop()
        if self._async_http is None or self._async_loop is not loop:
            self._async_http = httpx.AsyncClient(timeout=self._timeout)
            self._async_loop = loop
        return self._async_http

    def metadata(self, discovery_url: str) -> dict[str, Any]:
        with self._lock:
            cached = self._metadata.get(discovery_url)
        if cached and time.monotonic() - cached[1] < self.ttl:
            return cached[0]
        response = self.http.get(discovery_url)
        response.raise_for_status()
        document = response.json()
        for required in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(required), str):
                raise SignInError("provider_metadata")
        with self._lock:
            self._metadata[discovery_url] = (document, time.monotonic())
        return dict(document)

    def keys(self, jwks_uri: str, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._jwks.get(jwks_uri)
        now = time.monotonic()
        if cached and not refresh and now - cached[1] < self.ttl:
            return cached[0]
        if cached and refresh and now - cached[1] < JWKS_REFETCH_INTERVAL:
            return cached[0]
        response = self.http.get(jwks_uri)
        response.raise_for_status()
        keys = KeySet.import_key_set(response.json())
        with self._lock:
            self._jwks[jwks_uri] = (keys, time.monotonic())
            self.jwks_fetches[jwks_uri] = self.jwks_fetches.get(jwks_uri, 0) + 1
        return keys


def oidc_runtime(container: Container) -> OidcRuntime:
    runtime: OidcRuntime = container.runtime("identity.oidc", OidcRuntime)
    return runtime


# --- configuration ---------------------------------------------------------------------------


def add_provider(
    session: Session,
    container: Container,
    *,
    tenant_code: str,
    kind: str,
    client_id: str,
    client_secret: str,
    domains: list[str] | None = None,
    entra_tenant_id: str | None = None,
    discovery_url: str | None = None,
    issuer: str | None = None,
    label: str | None = None,
) -> ProviderInfo:
    tenant = get_tenant(session, tenant_code)
    if kind not in KINDS:
        raise IdpAdminError(f"--kind must be one of {', '.join(KINDS)}, not '{kind}'.")
    if not client_id.strip() or not client_secret.strip():
        raise IdpAdminError("A provider needs the client_id and client_secret it issued to us.")
    allowed_domains = " ".join(d.strip().lower() for d in domains or [] if d.strip())
    allowed_tids = ""
    if kind == "google":
        if not allowed_domains:
            raise IdpAdminError(
                "Google needs --domain (the Workspace domain, checked against the hd claim): "
                "without it any Google account could sign in."
            )
        discovery_url = discovery_url or GOOGLE_DISCOVERY
        issuer = issuer or (GOOGLE_ISSUER if discovery_url == GOOGLE_DISCOVERY else None)
        label = label or "Google でサインイン"
    elif kind == "microsoft":
        tid = (entra_tenant_id or "").strip().lower()
        if not tid:
            raise IdpAdminError(
                "Microsoft needs --entra-tenant-id (the directory id, checked against the tid "
                "claim): a multi-tenant app would otherwise accept every organisation."
            )
        allowed_tids = tid
        if discovery_url is None:
            discovery_url = f"{ENTRA_AUTHORITY}/{tid}/v2.0/.well-known/openid-configuration"
            issuer = issuer or f"{ENTRA_AUTHORITY}/{tid}/v2.0"
        label = label or "Microsoft でサインイン"
    else:
        if not discovery_url:
            raise IdpAdminError("An OIDC provider needs --discovery-url.")
        label = label or "外部アカウントでサインイン"
    if not discovery_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise IdpAdminError("The discovery URL must use https.")
    if issuer is None:
        # Learn the issuer from the provider itself, which also proves the URL works.
        try:
            issuer = str(oidc_runtime(container).metadata(discovery_url)["issuer"])
        except (httpx.HTTPError, ValueError, SignInError) as exc:
            raise IdpAdminError(f"Could not read {discovery_url}: {exc}") from exc
    row = IdentityProvider(
        tenant_id=tenant.id,
        kind=kind,
        label=label,
        discovery_url=discovery_url,
        issuer=issuer,
        client_id=client_id.strip(),
        client_secret=seal(container, "idp", client_secret.strip()),
        allowed_domains=allowed_domains,
        allowed_tenant_ids=allowed_tids,
        scopes="openid email profile",
    )
    session.add(row)
    session.flush()
    return _info(row, tenant.code)


def list_providers(session: Session, tenant_code: str) -> list[ProviderInfo]:
    tenant = get_tenant(session, tenant_code)
    rows = session.scalars(
        select(IdentityProvider)
        .where(IdentityProvider.tenant_id == tenant.id)
        .order_by(IdentityProvider.id)
    )
    return [_info(row, tenant.code) for row in rows]


def remove_provider(session: Session, tenant_code: str, provider_id: int) -> ProviderInfo:
    tenant = get_tenant(session, tenant_code)
    row = session.get(IdentityProvider, provider_id)
    if row is None or row.tenant_id != tenant.id:
        raise IdpAdminError(f"Tenant {tenant.code} has no identity provider {provider_id}.")
    info = _info(row, tenant.code)
    session.delete(row)
    return info


def providers_for_signin(session: Session) -> list[ProviderInfo]:
    """Every tenant's providers, for the sign-in page's buttons."""
    from tsunagu.tenancy.models import Tenant

    rows = session.execute(
        select(IdentityProvider, Tenant.code)
        .join(Tenant, Tenant.id == IdentityProvider.tenant_id)
        .order_by(Tenant.code, IdentityProvider.id)
    ).all()
    return [_info(row, code) for row, code in rows]


# --- the flow --------------------------------------------------------------------------------


def redirect_uri(container: Container) -> str:
    return container.settings.base_url.rstrip("/") + "/signin/oidc/callback"


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def start(container: Container, provider_id: int, ip: str = "") -> tuple[str, dict[str, Any]]:
    """The authorization URL to send the browser to, and the transaction to keep by ``state``.

    Counted against the address's sign-in budget: every start stores a pending transaction.
    """
    if not signin_guard(container).address_allows("oidc-start", ip):
        raise SignInError("rate_limited")
    with container.database.session() as session:
        row = session.get(IdentityProvider, provider_id)
        if row is None:
            raise SignInError("unknown_provider")
        discovery_url, client_id, scopes, kind = (
            row.discovery_url,
            row.client_id,
            row.scopes,
            row.kind,
        )
        domains = row.allowed_domains.split()
    metadata = oidc_runtime(container).metadata(discovery_url)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri(container),
        "scope": scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
    }
    if kind == "google" and len(domains) == 1:
        params["hd"] = domains[0]  # a hint for Google's account chooser; the claim is checked
    url = f"{metadata['authorization_endpoint']}?{urlencode(params)}"
    transaction = {
        "provider_id": provider_id,
        "nonce": nonce,
        "verifier": verifier,
        "created": time.time(),
    }
    return url, {"state": state, **transaction}


def _validate_claims(
    claims: dict[str, Any], provider: IdentityProvider, nonce: str, now: float
) -> None:
    issuer = provider.issuer
    if "{tenantid}" in issuer:
        issuer = issuer.replace("{tenantid}", str(claims.get("tid", "")))
    if claims.get("iss") != issuer:
        raise SignInError("wrong_issuer")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if provider.client_id not in audiences:
        raise SignInError("wrong_audience")
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise SignInError("wrong_audience")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp + LEEWAY < now:
        raise SignInError("expired")
    if not isinstance(iat, int | float) or iat - LEEWAY > now or now - iat > MAX_TOKEN_AGE:
        raise SignInError("bad_iat")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(
        claims["nonce"], nonce
    ):
        raise SignInError("wrong_nonce")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SignInError("no_subject")
    # Google: hd names the Workspace domain (absent for consumer accounts); Entra: tid names
    # the directory. Either check applies whenever the provider has an allow-list.
    domains = provider.allowed_domains.split()
    if (provider.kind == "google" or domains) and str(claims.get("hd", "")).lower() not in domains:
        raise SignInError("wrong_domain")
    tids = provider.allowed_tenant_ids.split()
    if (provider.kind == "microsoft" or tids) and str(claims.get("tid", "")).lower() not in tids:
        raise SignInError("wrong_tenant")


def _decode(runtime: OidcRuntime, jwks_uri: str, id_token: str) -> dict[str, Any]:
    for refresh in (False, True):
        keys = runtime.keys(jwks_uri, refresh=refresh)
        try:
            token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"])
        except (InvalidKeyIdError, BadSignatureError):
            if refresh:
                raise SignInError("bad_signature") from None
            continue  # perhaps the provider rotated its keys: fetch them once more
        except (JoseError, ValueError) as exc:
            raise SignInError("bad_token") from exc
        return dict(token.claims)
    raise SignInError("bad_signature")


def _user_id_entries(value: str | None) -> set[str]:
    """``{Google:123},{MS:abc}`` → ``{"Google:123", "MS:abc"}``."""
    return {part.strip().strip("{}") for part in (value or "").split(",") if part.strip()}


def _match_user(session: Session, tenant_id: int, kind: str, claims: dict[str, Any]) -> User:
    """Exactly one active roster user for the identity, or :class:`SignInError`."""
    id_entries: list[str] = []
    names: list[str] = []
    if kind == "google":
        id_entries.append(f"Google:{claims['sub']}")
    if kind == "microsoft":
        id_entries.append(f"MS:{claims.get('oid') or claims['sub']}")
    if kind == "microsoft":
        # Entra's email claim is not verified (users can set it in some directories); the UPN
        # is assigned by the school's own directory, which the tid check has pinned down.
        names.extend(str(claims[c]) for c in ("preferred_username", "upn") if claims.get(c))
    elif claims.get("email") and claims.get("email_verified") is True:
        names.append(str(claims["email"]))
    found: dict[str, User] = {}
    if names:
        for user in session.scalars(
            select(User).where(
                User.tenant_id == tenant_id,
                User.status == ACTIVE,
                User.username.in_({n.strip() for n in names}),
            )
        ):
            found[user.sourced_id] = user
    postgresql = session.get_bind().dialect.name == "postgresql"
    for entry in id_entries:
        if postgresql:
            # The GIN index of migration 0009 holds each comma-separated entry of userIds.
            # The separator is a literal, not a parameter: only the very expression of the
            # index lets PostgreSQL use it.
            entries = func.regexp_split_to_array(
                User.user_ids, literal_column(r"'\s*,\s*'"), type_=ARRAY(Text)
            )
            wanted = cast(array(["{" + entry + "}"]), ARRAY(Text))
            has_entry = entries.contains(wanted)
        else:
            pattern = "%{" + entry.replace("%", r"\%").replace("_", r"\_") + "}%"
            has_entry = User.user_ids.like(pattern, escape="\\")
        for user in session.scalars(
            select(User).where(User.tenant_id == tenant_id, User.status == ACTIVE, has_entry)
        ):
            if entry in _user_id_entries(user.user_ids):
                found[user.sourced_id] = user
    if not found:
        raise SignInError("unknown_user")
    if len(found) > 1:
        raise SignInError("ambiguous_user")
    return next(iter(found.values()))


@dataclass
class _Exchange:
    """A callback's sign-in between its two halves: the provider and the token request."""

    provider: IdentityProvider
    token_endpoint: str = ""
    jwks_uri: str = ""
    form: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] = ("", "")
    #: Claims read so far (the failure audit names the person when it can).
    claims: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _failures_audited(container: Container, exchange: _Exchange, ip: str) -> Iterator[None]:
    """Every refusal once the provider is known goes to the audit log; a provider that cannot
    be reached is a refusal (``provider_unreachable``), not an error page."""
    try:
        try:
            yield
        except httpx.HTTPError as exc:
            raise SignInError("provider_unreachable") from exc
    except SignInError as exc:
        claims = exchange.claims
        with container.database.transaction() as session:
            audit_service.record(
                session,
                exchange.provider.tenant_id,
                str(claims.get("email") or claims.get("sub") or "?"),
                "signin.failure",
                "",
                ip,
                {"method": f"oidc:{exchange.provider.kind}", "reason": exc.reason},
            )
        exc.claims = claims  # type: ignore[attr-defined]
        raise


def _prepare(container: Container, transaction: dict[str, Any], code: str, ip: str) -> _Exchange:
    """Rate limit, transaction age, the provider and its (cached) metadata."""
    guard = signin_guard(container)
    if not guard.address_allows("oidc", ip):
        raise SignInError("rate_limited")
    if time.time() - float(transaction.get("created", 0)) > TRANSACTION_LIFETIME:
        raise SignInError("transaction_expired")
    with container.database.session() as session:
        provider = session.get(IdentityProvider, int(transaction["provider_id"]))
        if provider is None:
            raise SignInError("unknown_provider")
        session.expunge(provider)
    exchange = _Exchange(provider)
    with _failures_audited(container, exchange, ip):
        metadata = oidc_runtime(container).metadata(provider.discovery_url)
    exchange.token_endpoint = str(metadata["token_endpoint"])
    exchange.jwks_uri = str(metadata["jwks_uri"])
    exchange.form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(container),
        "code_verifier": transaction["verifier"],
    }
    exchange.auth = (provider.client_id, unseal(container, "idp", provider.client_secret))
    return exchange


def _conclude(
    container: Container,
    exchange: _Exchange,
    transaction: dict[str, Any],
    answer: httpx.Response | httpx.HTTPError,
    provider_seconds: float,
    now: float | None,
    ip: str,
) -> SignInResult:
    """Validate the id_token of the token endpoint's ``answer`` (or its failure) and map it to
    a roster user."""
    provider = exchange.provider
    with _failures_audited(container, exchange, ip):
        if isinstance(answer, httpx.HTTPError):
            raise answer
        if answer.status_code != 200:
            raise SignInError("code_rejected")
        id_token = answer.json().get("id_token")
        if not isinstance(id_token, str):
            raise SignInError("no_id_token")
        exchange.claims = _decode(oidc_runtime(container), exchange.jwks_uri, id_token)
        _validate_claims(exchange.claims, provider, str(transaction["nonce"]), now or time.time())
        with container.database.session() as session:
            user = _match_user(session, provider.tenant_id, provider.kind, exchange.claims)
            principal = principal_for(session, provider.tenant_id, user.sourced_id)
        if principal is None:
            raise SignInError("not_allowed")
    return SignInResult(
        principal, f"oidc:{provider.kind}", needs_totp(container, principal), provider_seconds
    )


async def finish_async(
    container: Container,
    transaction: dict[str, Any],
    code: str,
    ip: str,
    *,
    now: float | None = None,
) -> SignInResult:
    """Exchange the code, validate the id_token, map it to a roster user.

    The token exchange waits on the provider (100 ms and more from a school's network) and is
    awaited on the event loop: at the first bell a grade signing in with Google would otherwise
    hold every worker thread of a process, and every request that needs one (each page's
    session load) would queue behind them. The database and cached-key work before and after
    still runs in a worker thread."""
    exchange = await to_thread.run_sync(_prepare, container, transaction, code, ip)
    started = time.perf_counter()
    answer: httpx.Response | httpx.HTTPError
    try:
        answer = (
            await oidc_runtime(container)
            .async_http()
            .post(
                exchange.token_endpoint,
                data=exchange.form,
                auth=exchange.auth,
                headers={"Accept": "application/json"},
            )
        )
    except httpx.HTTPError as exc:
        answer = exc  # refused and audited with the rest, in the worker thread
    elapsed = time.perf_counter() - started
    return await to_thread.run_sync(
        _conclude, container, exchange, transaction, answer, elapsed, now, ip
    )
