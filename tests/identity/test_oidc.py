"""OpenID Connect sign-in through a real provider on loopback, configured like Google and Entra."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.identity.conftest import World, build_world, new_client
from tests.identity.oidc_provider import LoopbackProvider, loopback_provider, sign_in_via
from tsunagu.audit import service as audit_service
from tsunagu.container import Container, build_container
from tsunagu.identity import oidc
from tsunagu.identity.models import IdentityProvider
from tsunagu.roster.models import User
from tsunagu.settings import Settings

HD = "tsunagu.example.jp"
ENTRA_TID = "0d5c1a6e-1f1b-4c7e-9d3f-2b6f1c9a7e11"


@pytest.fixture(scope="module")
def provider() -> Iterator[LoopbackProvider]:
    with loopback_provider() as found:
        yield found


def _person(container: Container, world: World, sourced_id: str) -> User:
    with container.database.session() as session:
        user = session.get(User, (world.tenant_id, sourced_id))
        assert user is not None
        session.expunge(user)
        return user


def _google_id(user: User) -> str:
    entries = [e.strip("{}") for e in (user.user_ids or "").split(",")]
    found = [e.split(":", 1)[1] for e in entries if e.startswith("Google:")]
    assert found, user.user_ids
    return found[0]


def _add(container: Container, provider: LoopbackProvider, kind: str, **extra: object) -> int:
    with container.database.transaction() as session:
        info = oidc.add_provider(
            session,
            container,
            tenant_code="139999",
            kind=kind,
            client_id=f"tsunagu-{kind}",
            client_secret="loopback-secret",
            discovery_url=provider.discovery_url,
            **extra,  # type: ignore[arg-type]
        )
    assert info.issuer == provider.url
    with container.database.session() as session:
        row = session.get(IdentityProvider, info.id)
        assert row is not None
        assert "loopback-secret" not in row.client_secret  # sealed at rest
    return info.id


def _google_teacher(
    container: Container, provider: LoopbackProvider, world: World
) -> tuple[int, User, str]:
    """A Google-like provider for the board, and the teacher set up at it as a Workspace user:
    the provider's id, the teacher and their Google subject."""
    provider_id = _add(container, provider, "google", domains=[HD])
    teacher = _person(container, world, world.teacher)
    sub = _google_id(teacher)
    provider.set_user(sub, {"email": teacher.username, "email_verified": True, "hd": HD})
    return provider_id, teacher, sub


def test_google_like_sign_in_maps_to_the_roster_user(
    container: Container, client: TestClient, world: World, provider: LoopbackProvider
) -> None:
    provider_id, teacher, sub = _google_teacher(container, provider, world)

    start = client.get(f"/signin/oidc/{provider_id}", follow_redirects=False)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["hd"] == [HD]
    assert query["redirect_uri"] == ["https://portal.example.jp/signin/oidc/callback"]
    for name in ("state", "nonce", "code_challenge"):
        assert len(query[name][0]) >= 40

    answer, callback = sign_in_via(client, provider, provider_id, sub)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/me"
    me = client.get("/me")
    assert me.status_code == 200
    assert teacher.family_name in me.text

    # Replayed state: the transaction was used up by the first callback.
    replay = client.get(callback, follow_redirects=False)
    assert replay.status_code == 400
    assert "期限が切れています" in replay.text

    # A second sign-in uses the cached JWKS: one fetch in all.
    client.cookies.clear()
    assert sign_in_via(client, provider, provider_id, sub)[0].status_code == 303
    assert sum(oidc.oidc_runtime(container).jwks_fetches.values()) == 1

    with container.database.session() as session:
        events = audit_service.list_events(session, world.tenant_id, actions=["signin.success"])
    assert any(e.detail.get("method") == "oidc:google" for e in events)


def test_google_wrong_hd_and_consumer_accounts_are_refused(
    container: Container, client: TestClient, world: World, provider: LoopbackProvider
) -> None:
    provider_id = _add(container, provider, "google", domains=[HD])
    teacher = _person(container, world, world.teacher)
    sub = _google_id(teacher)
    provider.set_user(sub, {"email": teacher.username, "email_verified": True, "hd": "evil.jp"})
    answer, _ = sign_in_via(client, provider, provider_id, sub)
    assert answer.status_code == 403
    assert "この教育委員会の学校のアカウント" in answer.text
    provider.set_user(sub, {"email": teacher.username, "email_verified": True})  # no hd
    assert sign_in_via(client, provider, provider_id, sub)[0].status_code == 403
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_entra_like_sign_in_checks_tid_and_maps_by_upn(
    container: Container, client: TestClient, world: World, provider: LoopbackProvider
) -> None:
    provider_id = _add(container, provider, "microsoft", entra_tenant_id=ENTRA_TID)
    pupil = _person(container, world, world.pupil)
    oid = "5b3f9a40-7d2e-4b8c-a1f0-99e4c2d1b7aa"
    claims = {"tid": ENTRA_TID, "oid": oid, "preferred_username": pupil.username}
    provider.set_user(oid, claims)
    answer, _ = sign_in_via(client, provider, provider_id, oid)
    assert answer.status_code == 303, answer.text
    assert client.get("/me").status_code == 200

    # An unverified email claim naming the teacher does not make this person the teacher.
    teacher = _person(container, world, world.teacher)
    provider.set_user("oid-2", {"tid": ENTRA_TID, "oid": "oid-2", "email": teacher.username})
    with new_client(container) as other:
        answer, _ = sign_in_via(other, provider, provider_id, "oid-2")
        assert answer.status_code == 403
        assert "unknown_user" in answer.text

    with new_client(container) as other:
        provider.set_user(oid, {**claims, "tid": "ffffffff-0000-4000-8000-000000000000"})
        answer, _ = sign_in_via(other, provider, provider_id, oid)
        assert answer.status_code == 403
        assert "wrong_tenant" in answer.text


def test_wrong_audience_expired_token_and_unknown_user_are_refused(
    container: Container, client: TestClient, world: World, provider: LoopbackProvider
) -> None:
    provider_id = _add(container, provider, "google", domains=[HD])
    teacher = _person(container, world, world.teacher)
    sub = _google_id(teacher)
    good = {"email": teacher.username, "email_verified": True, "hd": HD}

    provider.set_user(sub, {**good, "aud": "some-other-client"})
    answer, _ = sign_in_via(client, provider, provider_id, sub)
    assert answer.status_code == 400
    assert "wrong_audience" in answer.text

    provider.set_user(sub, {**good, "exp": int(time.time()) - 3600})
    answer, _ = sign_in_via(client, provider, provider_id, sub)
    assert answer.status_code == 400
    assert "expired" in answer.text

    provider.set_user(
        "stranger-1", {"email": "stranger@tsunagu.example.jp", "hd": HD, "email_verified": True}
    )
    answer, _ = sign_in_via(client, provider, provider_id, "stranger-1")
    assert answer.status_code == 403
    assert "名簿に見つかりません" in answer.text
    assert "stranger@tsunagu.example.jp" in answer.text
    with container.database.session() as session:
        assert (
            session.scalar(select(User).where(User.username == "stranger@tsunagu.example.jp"))
            is None
        )
        reasons = [
            e.detail.get("reason")
            for e in audit_service.list_events(session, world.tenant_id, actions=["signin.failure"])
        ]
    assert {"wrong_audience", "expired", "unknown_user"} <= set(reasons)
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_rotated_provider_keys_are_fetched_again(container: Container, world: World) -> None:
    teacher = _person(container, world, world.teacher)
    sub = _google_id(teacher)
    claims = {"email": teacher.username, "email_verified": True, "hd": HD}
    with new_client(container) as browser:
        with loopback_provider() as first:
            port = first.port
            provider_id = _add(container, first, "google", domains=[HD])
            first.set_user(sub, claims)
            assert sign_in_via(browser, first, provider_id, sub)[0].status_code == 303
        browser.cookies.clear()
        # Same issuer, new signing key (a provider restarted with rotated keys).
        with loopback_provider(port) as rotated:
            rotated.set_user(sub, claims)
            time.sleep(oidc.JWKS_REFETCH_INTERVAL)
            answer, _ = sign_in_via(browser, rotated, provider_id, sub)
            assert answer.status_code == 303, answer.text
        assert sum(oidc.oidc_runtime(container).jwks_fetches.values()) == 2


def test_idp_cli_add_list_remove(
    container: Container, world: World, provider: LoopbackProvider
) -> None:
    import json

    from typer.testing import CliRunner

    from tsunagu.cli import app

    runner = CliRunner()
    refused = runner.invoke(
        app,
        [
            "idp",
            "add",
            "--tenant",
            world.tenant,
            "--kind",
            "google",
            "--client-id",
            "x",
            "--client-secret",
            "y",
        ],
        obj=container,
    )
    assert refused.exit_code != 0
    assert "--domain" in refused.output
    added = runner.invoke(
        app,
        [
            "idp",
            "add",
            "--tenant",
            world.tenant,
            "--kind",
            "oidc",
            "--client-id",
            "x",
            "--client-secret",
            "y",
            "--discovery-url",
            provider.discovery_url,
            "--json",
        ],
        obj=container,
    )
    assert added.exit_code == 0, added.output
    info = json.loads(added.stdout.strip().splitlines()[-1])
    assert info["issuer"] == provider.url
    listed = runner.invoke(app, ["idp", "list", "--tenant", world.tenant, "--json"], obj=container)
    assert [p["id"] for p in json.loads(listed.stdout)] == [info["id"]]
    # Another tenant cannot remove it.
    other = runner.invoke(
        app, ["idp", "remove", str(info["id"]), "--tenant", world.other_tenant], obj=container
    )
    assert other.exit_code != 0
    removed = runner.invoke(
        app, ["idp", "remove", str(info["id"]), "--tenant", world.tenant], obj=container
    )
    assert removed.exit_code == 0, removed.output
    listed = runner.invoke(app, ["idp", "list", "--tenant", world.tenant, "--json"], obj=container)
    assert json.loads(listed.stdout) == []


def test_an_identity_matching_two_roster_users_is_refused(
    container: Container, client: TestClient, world: World, provider: LoopbackProvider
) -> None:
    provider_id = _add(container, provider, "google", domains=[HD])
    teacher = _person(container, world, world.teacher)
    pupil = _person(container, world, world.pupil)
    # The teacher's Google id, but the pupil's address: which person is it? Neither.
    sub = _google_id(teacher)
    provider.set_user(sub, {"email": pupil.username, "email_verified": True, "hd": HD})
    answer, _ = sign_in_via(client, provider, provider_id, sub)
    assert answer.status_code == 403
    assert "複数の人" in answer.text
    # An unverified address is not used to map at all (the Google id alone decides).
    provider.set_user(sub, {"email": pupil.username, "email_verified": False, "hd": HD})
    answer, _ = sign_in_via(client, provider, provider_id, sub)
    assert answer.status_code == 303


def test_entra_issuer_template_and_claim_rules() -> None:
    """Claim checks on their own, for what a loopback provider cannot show (path issuers)."""
    from tsunagu.identity.service import SignInError

    entra = IdentityProvider(
        kind="microsoft",
        issuer="https://login.microsoftonline.com/{tenantid}/v2.0",
        client_id="app",
        allowed_domains="",
        allowed_tenant_ids=ENTRA_TID,
    )
    now = time.time()
    good = {
        "iss": f"https://login.microsoftonline.com/{ENTRA_TID}/v2.0",
        "aud": "app",
        "exp": now + 300,
        "iat": now,
        "nonce": "n-1",
        "sub": "s",
        "tid": ENTRA_TID,
    }
    oidc._validate_claims(good, entra, "n-1", now)
    cases = {
        "wrong_issuer": {"iss": "https://login.microsoftonline.com/other/v2.0"},
        "wrong_audience": {"aud": ["app", "other"]},  # several audiences need azp == app
        "expired": {"exp": now - 3600},
        "bad_iat": {"iat": now + 3600},
        "wrong_nonce": {"nonce": "n-2"},
    }
    for reason, change in cases.items():
        with pytest.raises(SignInError) as refused:
            oidc._validate_claims({**good, **change}, entra, "n-1", now)
        assert refused.value.reason == reason
    oidc._validate_claims({**good, "aud": ["app", "other"], "azp": "app"}, entra, "n-1", now)
    other_tid = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(SignInError) as refused:
        # Another directory's token, issuer consistent with its own tid: refused by tid.
        oidc._validate_claims(
            {
                **good,
                "tid": other_tid,
                "iss": f"https://login.microsoftonline.com/{other_tid}/v2.0",
            },
            entra,
            "n-1",
            now,
        )
    assert refused.value.reason == "wrong_tenant"


def test_a_slow_token_endpoint_holds_no_worker_thread(
    settings: Settings,
    tmp_path: Path,
    provider: LoopbackProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At the first bell many pupils sign in with Google at once. While their token exchanges
    wait on the provider, pages that need a worker thread must still be served: here a real
    server process has one thread, the provider answers the token request after 1.5 s, and the
    sign-in page (a threaded handler) is asked for meanwhile by another browser."""
    import socket
    import threading

    import httpx
    import uvicorn

    from tsunagu.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    one_thread = settings.model_copy(update={"worker_threads": 1, "base_url": base})
    container = build_container(one_thread)
    world = build_world(container, tmp_path)
    provider_id, _teacher, sub = _google_teacher(container, provider, world)

    class SlowTokenEndpoint(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                await asyncio.sleep(1.5)
            return await self.inner.handle_async_request(request)

    runtime = oidc.oidc_runtime(container)
    monkeypatch.setattr(
        runtime, "async_http", lambda: httpx.AsyncClient(transport=SlowTokenEndpoint())
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(container=container), port=port, log_level="warning")
    )
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=base) as pupil, httpx.Client(base_url=base) as other:
            start = pupil.get(f"/signin/oidc/{provider_id}")
            callback = urlsplit(provider.authorize(start.headers["location"], sub))
            answers: list[int] = []
            signing_in = threading.Thread(
                target=lambda: answers.append(
                    pupil.get(f"{callback.path}?{callback.query}").status_code
                )
            )
            signing_in.start()
            time.sleep(0.5)  # the callback is now waiting on the token endpoint
            began = time.monotonic()
            page = other.get("/signin")
            waited = time.monotonic() - began
            signing_in.join(10)
        assert page.status_code == 200
        assert waited < 0.8, f"the sign-in page waited {waited:.2f} s behind the token exchange"
        assert answers == [303]
    finally:
        server.should_exit = True
        serving.join(10)
        container.close()


def test_an_unreachable_provider_is_a_refused_sign_in_not_an_error(
    container: Container,
    client: TestClient,
    world: World,
    provider: LoopbackProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    provider_id, _teacher, sub = _google_teacher(container, provider, world)
    start = client.get(f"/signin/oidc/{provider_id}", follow_redirects=False)
    callback = urlsplit(provider.authorize(start.headers["location"], sub))

    def unreachable(discovery_url: str) -> dict[str, object]:
        raise httpx.ConnectError("the provider's network is down")

    monkeypatch.setattr(oidc.oidc_runtime(container), "metadata", unreachable)
    answer = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert answer.status_code == 400
    assert "サインインできませんでした" in answer.text
    with container.database.session() as session:
        events = audit_service.list_events(session, world.tenant_id, actions=["signin.failure"])
    assert [e.detail.get("reason") for e in events] == ["provider_unreachable"]
