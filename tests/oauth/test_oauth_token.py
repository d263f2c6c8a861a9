"""POST /oauth/token (RFC 6749 §4.4), token storage and verification."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select, text, update

from tsunagu.machine_credentials import keyed_hash
from tsunagu.oauth import service
from tsunagu.oauth.models import OAuthClient, OAuthToken
from tsunagu.oauth.scopes import ROSTER_CORE_READONLY, ROSTER_READONLY
from tsunagu.oauth.service import OAuthError, TokenVerifier

FORM = "application/x-www-form-urlencoded"
ORGS = "/ims/oneroster/rostering/v1p2/orgs"


def basic(client_id: str, secret: str) -> dict[str, str]:
    # RFC 6749 §2.3.1: form-urlencode id and secret, then Base64 them.
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def post(http: Any, data: dict[str, str] | str, headers: dict[str, str] | None = None) -> Any:
    return http.post(
        "/oauth/token", content=data if isinstance(data, str) else None,
        data=None if isinstance(data, str) else data,
        headers={"Content-Type": FORM, **(headers or {})},
    )  # fmt: skip


def assert_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


def test_client_secret_basic(http: Any, credentials: Any, container: Any) -> None:
    response = post(
        http, {"grant_type": "client_credentials"}, basic(credentials.client_id, credentials.secret)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == container.settings.oauth_token_lifetime_seconds
    assert body["scope"].split() == [ROSTER_CORE_READONLY, ROSTER_READONLY]
    assert len(body["access_token"]) >= 43  # 256 bits, base64url
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    orgs = http.get(ORGS, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert orgs.status_code == 200
    assert orgs.json() == {"orgs": []}


def test_client_secret_post_with_a_narrower_scope(http: Any, credentials: Any) -> None:
    response = post(
        http,
        {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.secret,
            "scope": ROSTER_CORE_READONLY,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == ROSTER_CORE_READONLY
    token = response.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get(ORGS, headers=headers).status_code == 200
    # roster-core does not reach the nested operations.
    assert http.get(ORGS.replace("orgs", "users/x/classes"), headers=headers).status_code == 403


def test_wrong_or_missing_client_credentials_are_invalid_client(
    http: Any, credentials: Any
) -> None:
    grant = {"grant_type": "client_credentials"}
    cases = [
        (grant, basic(credentials.client_id, credentials.secret + "x")),
        (grant, basic("no-such-client", credentials.secret)),
        (grant, basic("nul\x00client", credentials.secret)),
        ({**grant, "client_id": "\x00", "client_secret": "x"}, None),
        (grant, basic("x" * 1000, credentials.secret)),
        (grant, basic(credentials.client_id, "")),
        (grant, {"Authorization": "Basic !!!not-base64"}),
        (grant, {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}),
        (grant, {"Authorization": f"Bearer {credentials.secret}"}),
        (grant, None),
        ({**grant, "client_id": credentials.client_id}, None),
        ({**grant, "client_id": credentials.client_id, "client_secret": "wrong"}, None),
    ]
    for data, headers in cases:
        response = post(http, data, headers)
        assert_error(response, 401, "invalid_client")
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_revoked_client_cannot_get_tokens(http: Any, credentials: Any, container: Any) -> None:
    with container.database.transaction() as session:
        service.revoke_client(session, credentials.client_id)
    response = post(
        http, {"grant_type": "client_credentials"}, basic(credentials.client_id, credentials.secret)
    )
    assert_error(response, 401, "invalid_client")


def test_grant_type_errors(http: Any, credentials: Any) -> None:
    auth = basic(credentials.client_id, credentials.secret)
    assert_error(post(http, {"grant_type": "password"}, auth), 400, "unsupported_grant_type")
    assert_error(
        post(http, {"grant_type": "authorization_code"}, auth), 400, "unsupported_grant_type"
    )
    assert_error(post(http, {}, auth), 400, "invalid_request")
    assert_error(post(http, {"grant_type": ""}, auth), 400, "invalid_request")


def test_scope_errors(http: Any, credentials: Any, container: Any) -> None:
    with container.database.transaction() as session:
        core_only = service.create_client(
            session,
            container.settings.resolved_secret_key,
            tenant_code="131016",
            name="core only",
            scopes=["roster-core.readonly"],
        )
    auth = basic(core_only.info.client_id, core_only.secret)
    not_granted = post(http, {"grant_type": "client_credentials", "scope": ROSTER_READONLY}, auth)
    assert_error(not_granted, 400, "invalid_scope")
    assert "not granted" in not_granted.json()["error_description"]
    unknown = post(http, {"grant_type": "client_credentials", "scope": "https://x/y"}, auth)
    assert_error(unknown, 400, "invalid_scope")
    partly = post(
        http,
        {"grant_type": "client_credentials", "scope": f"{ROSTER_CORE_READONLY} {ROSTER_READONLY}"},
        auth,
    )
    assert_error(partly, 400, "invalid_scope")
    ok = post(
        http, {"grant_type": "client_credentials", "scope": f"  {ROSTER_CORE_READONLY}  "}, auth
    )
    assert ok.status_code == 200
    assert ok.json()["scope"] == ROSTER_CORE_READONLY


def test_malformed_requests_are_invalid_request(http: Any, credentials: Any) -> None:
    auth = basic(credentials.client_id, credentials.secret)
    json_body = http.post("/oauth/token", json={"grant_type": "client_credentials"}, headers=auth)
    assert_error(json_body, 400, "invalid_request")
    repeated = post(http, "grant_type=client_credentials&grant_type=client_credentials", auth)
    assert_error(repeated, 400, "invalid_request")
    two_methods = post(
        http,
        {"grant_type": "client_credentials", "client_id": credentials.client_id,
         "client_secret": credentials.secret},
        auth,
    )  # fmt: skip
    assert_error(two_methods, 400, "invalid_request")
    other_id = post(http, {"grant_type": "client_credentials", "client_id": "someone-else"}, auth)
    assert_error(other_id, 400, "invalid_request")
    huge = post(http, "grant_type=client_credentials&scope=" + "x" * 10000, auth)
    assert_error(huge, 400, "invalid_request")
    bad_utf8 = http.post(
        "/oauth/token", content=b"grant_type=\xff", headers={"Content-Type": FORM, **auth}
    )
    assert_error(bad_utf8, 400, "invalid_request")


def test_secrets_and_tokens_are_stored_only_as_keyed_hashes(
    http: Any, credentials: Any, container: Any
) -> None:
    token = post(
        http, {"grant_type": "client_credentials"}, basic(credentials.client_id, credentials.secret)
    ).json()["access_token"]
    key = container.settings.resolved_secret_key
    with container.database.session() as session:
        client = session.scalar(select(OAuthClient))
        stored_token = session.scalar(select(OAuthToken))
        dump = " ".join(
            str(v)
            for table in ("oauth_clients", "oauth_tokens")
            for row in session.execute(text(f"SELECT * FROM {table}"))
            for v in row
        )
    assert client is not None
    assert stored_token is not None
    assert client.secret_hash == keyed_hash(key, credentials.secret)
    assert stored_token.token_hash == keyed_hash(key, token)
    assert credentials.secret not in dump
    assert token not in dump
    # A different deployment key makes the stored hashes useless.
    assert keyed_hash(b"other-key", credentials.secret) != client.secret_hash


def test_expired_tokens_are_refused_and_cleaned_up(
    http: Any, credentials: Any, container: Any
) -> None:
    auth = basic(credentials.client_id, credentials.secret)
    old = post(http, {"grant_type": "client_credentials"}, auth).json()["access_token"]
    with container.database.transaction() as session:
        session.execute(
            update(OAuthToken).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    response = http.get(ORGS, headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    post(http, {"grant_type": "client_credentials"}, auth)
    with container.database.session() as session:
        assert len(session.scalars(select(OAuthToken)).all()) == 1  # the expired one is gone


def test_issue_and_lookup_at_the_service_level(container: Any, credentials: Any) -> None:
    key = container.settings.resolved_secret_key
    now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    with container.database.transaction() as session:
        issued = service.issue_token(
            session, key, client_id=credentials.client_id, client_secret=credentials.secret,
            requested_scope=None, lifetime_seconds=600, now=now,
        )  # fmt: skip
    with container.database.session() as session:
        principal = service.lookup_token(session, key, issued.access_token, now)
        assert principal is not None
        assert principal.client_id == credentials.client_id
        assert principal.scopes == {ROSTER_CORE_READONLY, ROSTER_READONLY}
        assert principal.expires_at == now + timedelta(seconds=600)
        assert (
            service.lookup_token(session, key, issued.access_token, now + timedelta(seconds=600))
            is None
        )
        assert service.lookup_token(session, key, issued.access_token + "x", now) is None
        assert service.lookup_token(session, key, "", now) is None
    with (
        pytest.raises(OAuthError) as refused,
        container.database.transaction() as session,
    ):
        service.issue_token(
            session, key, client_id=credentials.client_id, client_secret="nope",
            requested_scope=None, lifetime_seconds=600,
        )  # fmt: skip
    assert refused.value.error == "invalid_client"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_cache_lives_for_its_ttl_and_never_past_expiry(
    container: Any, credentials: Any
) -> None:
    key = container.settings.resolved_secret_key
    now = datetime.now(UTC)
    with container.database.transaction() as session:
        token = service.issue_token(
            session, key, client_id=credentials.client_id, client_secret=credentials.secret,
            requested_scope=None, lifetime_seconds=60, now=now,
        ).access_token  # fmt: skip
    clock = FakeClock()
    verifier = TokenVerifier(key, ttl_seconds=5, clock=clock)

    def verify(value: str, at: datetime = now) -> bool:
        with container.database.session() as session:
            return verifier.verify(session, value, at) is not None

    assert verify(token)
    with container.database.transaction() as session:
        service.revoke_client(session, credentials.client_id)
    # Within the TTL the cached answer stands (the documented revocation delay) …
    clock.now += 4
    assert verify(token)
    # … and after it the database is asked again.
    clock.now += 2
    assert not verify(token)
    # Unknown tokens are never cached.
    assert not verify("nope")
    with container.database.transaction() as session:
        client = session.scalar(select(OAuthClient))
        assert client is not None
        client.revoked_at = None
        fresh = service.issue_token(
            session, key, client_id=credentials.client_id, client_secret=credentials.secret,
            requested_scope=None, lifetime_seconds=60, now=now,
        ).access_token  # fmt: skip
    assert verify(fresh)
    # An entry never outlives the token, whatever the TTL.
    assert not verify(fresh, now + timedelta(seconds=61))


def test_client_administration(container: Any, tenant: str) -> None:
    key = container.settings.resolved_secret_key
    with container.database.transaction() as session:
        first = service.create_client(
            session, key, tenant_code=tenant, name="A", scopes=["roster.readonly", ROSTER_READONLY]
        )
        assert first.info.scopes == (ROSTER_READONLY,)  # aliases resolved, duplicates dropped
        for bad in (
            {"name": "", "scopes": ["roster.readonly"]},
            {"name": "x", "scopes": []},
            {"name": "x", "scopes": ["roster-demographics.readonly"]},
        ):
            with pytest.raises(service.ClientAdminError):
                service.create_client(session, key, tenant_code=tenant, **bad)  # type: ignore[arg-type]
        second = service.create_client(
            session, key, tenant_code=tenant, name="B", scopes=["roster-core.readonly"]
        )
        assert first.secret != second.secret
        assert [c.name for c in service.list_clients(session, tenant)] == ["A", "B"]
        revoked = service.revoke_client(session, second.info.client_id)
        assert revoked.revoked_at is not None
        with pytest.raises(service.ClientAdminError):
            service.revoke_client(session, "missing")
