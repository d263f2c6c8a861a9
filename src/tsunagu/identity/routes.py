"""Sign-in, sign-out and the small identity pages (``/me``, a class roster, the audit log).

Thin: parse the form, call :mod:`tsunagu.identity.service` / :mod:`tsunagu.identity.oidc`, turn a
result into a session (:class:`~tsunagu.identity.middleware.BrowserSession`) and render.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from tsunagu.audit import service as audit_service
from tsunagu.container import Container
from tsunagu.http import container_dependency
from tsunagu.identity import directory, oidc, policy, service
from tsunagu.identity.middleware import BrowserSession, current_session
from tsunagu.identity.operators import principal_for
from tsunagu.identity.principal import Principal, load_principal
from tsunagu.identity.service import SignInError, SignInResult
from tsunagu.identity.web import require_principal
from tsunagu.tenancy.service import list_tenants
from tsunagu.web.templating import render

router = APIRouter(include_in_schema=False)

ContainerDep = Annotated[Container, Depends(container_dependency)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]

#: One answer for every failed password sign-in (no user enumeration).
BAD_CREDENTIALS = "サインインできませんでした。ユーザー名とパスワードを確かめてください。"
TOO_MANY = "サインインの回数が多すぎます。しばらく待ってからもう一度お試しください。"
BAD_CARD = "このカードは使えません。先生に知らせてください。"
#: A pending second factor must be finished within this many seconds.
PENDING_LIFETIME = 300


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _safe_next(value: str | None) -> str:
    """Only same-site paths: ``next`` must never send someone to another site."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/me"


def _complete(
    request: Request, container: Container, result: SignInResult, next_url: str
) -> Response:
    session = current_session(request)
    if result.needs_totp:
        # Not signed in yet: remember who passed the first factor, under a fresh id.
        session.end()
        session.set(
            "pending",
            {
                "tenant_id": result.principal.tenant_id,
                "user_sourced_id": result.principal.user_sourced_id,
                "method": result.method,
                "next": next_url,
                "at": time.time(),
            },
        )
        return RedirectResponse("/signin/totp", status_code=303)
    session.establish(result.principal, result.method)
    service.record_success(container, result.principal, result.method, _ip(request))
    return RedirectResponse(next_url, status_code=303)


def _signin_page(
    request: Request,
    container: Container,
    *,
    next_url: str,
    error: str | None = None,
    username: str = "",
    tenant: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    with container.database.session() as db:
        tenants = list_tenants(db)
        providers = oidc.providers_for_signin(db)
    return render(
        request,
        "signin.html",
        {
            "next": next_url,
            "error": error,
            "username": username,
            "tenant": tenant,
            "tenants": tenants,
            "tenant_names": {t.code: t.name for t in tenants},
            "show_tenants": len(tenants) > 1,
            "providers": providers,
        },
        status_code=status_code,
    )


def _message(
    request: Request, title: str, message: str, status_code: int, detail: str = ""
) -> HTMLResponse:
    return render(
        request,
        "signin_message.html",
        {"title": title, "message": message, "detail": detail},
        status_code=status_code,
    )


@router.get("/signin", response_class=HTMLResponse)
def signin_form(
    request: Request, container: ContainerDep, next: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    return _signin_page(request, container, next_url=_safe_next(next))


@router.post("/signin", response_class=HTMLResponse)
def signin_password(
    request: Request,
    container: ContainerDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    tenant: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    next_url = _safe_next(next[:2000])
    username, tenant = username[:256], tenant[:6]
    try:
        result = service.sign_in_with_password(
            container, username, password[:1024], tenant or None, _ip(request)
        )
    except SignInError as exc:
        limited = exc.reason == "rate_limited"
        return _signin_page(
            request,
            container,
            next_url=next_url,
            error=TOO_MANY if limited else BAD_CREDENTIALS,
            username=username,
            tenant=tenant,
            status_code=429 if limited else 401,
        )
    return _complete(request, container, result, next_url)


@router.get("/signin/oidc/callback", response_class=HTMLResponse)
async def signin_oidc_callback(
    request: Request,
    container: ContainerDep,
    state: Annotated[str, Query()] = "",
    code: Annotated[str, Query()] = "",
    error: Annotated[str, Query()] = "",
) -> Response:
    session = current_session(request)
    pending: dict[str, Any] = dict(session.get("oidc") or {})
    transaction = pending.pop(state, None) if state and len(state) < 200 else None
    # The transaction is used up whatever happens next: a replayed state finds nothing.
    session.set("oidc", pending) if pending else session.pop("oidc")
    if transaction is None:
        return _message(
            request,
            "サインインできませんでした",
            "サインインの手続きが無効か、期限が切れています。もう一度サインインしてください。",
            400,
        )
    if error or not code:
        return _message(
            request, "サインインできませんでした", "アカウントの確認が取り消されました。", 400
        )
    try:
        # Async: the wait on the provider's token endpoint holds no worker thread.
        result = await oidc.finish_async(container, transaction, code, _ip(request))
    except SignInError as exc:
        return _oidc_failure(request, exc)
    next_url = _safe_next(transaction.get("next"))
    response = await to_thread.run_sync(_complete, request, container, result, next_url)
    # W3C Server Timing: how much of the answer was the provider's token endpoint.
    response.headers["Server-Timing"] = f"idp;dur={result.provider_seconds * 1000:.1f}"
    return response


def _oidc_failure(request: Request, exc: SignInError) -> HTMLResponse:
    claims: dict[str, Any] = getattr(exc, "claims", {}) or {}
    who = str(claims.get("email") or claims.get("preferred_username") or "")
    if exc.reason in ("unknown_user", "ambiguous_user"):
        message = (
            f"このアカウント（{who}）は名簿に見つかりません。学校の先生か教育委員会に連絡してください。"
            if exc.reason == "unknown_user"
            else f"このアカウント（{who}）に名簿の複数の人が対応しています。"
            "教育委員会に連絡してください。"
        )
        return _message(request, "アカウントが登録されていません", message, 403, exc.reason)
    if exc.reason in ("wrong_domain", "wrong_tenant"):
        return _message(
            request,
            "このアカウントは使えません",
            "この教育委員会の学校のアカウントでサインインしてください。",
            403,
            exc.reason,
        )
    if exc.reason == "rate_limited":
        return _message(request, "しばらくお待ちください", TOO_MANY, 429)
    return _message(
        request,
        "サインインできませんでした",
        "アカウントの確認ができませんでした。もう一度お試しください。",
        400,
        exc.reason,
    )


@router.get("/signin/oidc/{provider_id}")
def signin_oidc_start(
    request: Request,
    container: ContainerDep,
    provider_id: str,
    next: Annotated[str | None, Query()] = None,
) -> Response:
    if not provider_id.isdigit() or len(provider_id) > 9:
        return _message(request, "サインインできませんでした", "この方法は使えません。", 404)
    try:
        url, transaction = oidc.start(container, int(provider_id), _ip(request))
    except SignInError as exc:
        if exc.reason == "rate_limited":
            return _message(request, "しばらくお待ちください", TOO_MANY, 429)
        return _message(request, "サインインできませんでした", "この方法は使えません。", 404)
    except Exception:  # the provider's discovery document could not be read
        return _message(
            request,
            "サインインできませんでした",
            "アカウントの提供元に接続できません。しばらくしてからお試しください。",
            502,
        )
    session = current_session(request)
    pending: dict[str, Any] = dict(session.get("oidc") or {})
    # At most a few sign-ins in flight per browser (several tabs), oldest dropped.
    for old in sorted(pending, key=lambda s: pending[s].get("created", 0))[:-4]:
        pending.pop(old)
    state = transaction.pop("state")
    pending[state] = {**transaction, "next": _safe_next(next)}
    session.set("oidc", pending)
    return RedirectResponse(url, status_code=303)


@router.get("/signin/qr/{token}", response_class=HTMLResponse)
def signin_qr_page(request: Request, token: str) -> HTMLResponse:
    # A page with one big button, not an immediate sign-in: a GET must not sign anyone in
    # (link previews, prefetching), and the POST carries the CSRF token.
    return render(request, "signin_qr.html", {"token": token[:200], "error": None})


@router.post("/signin/qr", response_class=HTMLResponse)
def signin_qr(
    request: Request, container: ContainerDep, token: Annotated[str, Form()] = ""
) -> Response:
    token = token[:200]
    try:
        result = service.sign_in_with_card(container, token, _ip(request))
    except SignInError as exc:
        limited = exc.reason == "rate_limited"
        return render(
            request,
            "signin_qr.html",
            {"token": token, "error": TOO_MANY if limited else BAD_CARD},
            status_code=429 if limited else 401,
        )
    return _complete(request, container, result, "/me")


def _pending_principal(
    container: Container, session: BrowserSession
) -> tuple[dict[str, Any], Principal] | None:
    pending = session.get("pending")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_LIFETIME:
        return None
    with container.database.session() as db:
        principal = principal_for(db, int(pending["tenant_id"]), str(pending["user_sourced_id"]))
    return None if principal is None else (pending, principal)


def _totp_page(
    request: Request, container: Container, principal: Principal, error: str | None, status: int
) -> HTMLResponse:
    import segno

    state = service.totp_state(container, principal)
    qr_svg = (
        # segno writes the SVG itself from the URI's bits: no text of ours reaches the markup.
        Markup(segno.make(state.provisioning_uri, error="m").svg_inline(scale=4))  # noqa: S704
        if state.provisioning_uri
        else ""
    )
    return render(
        request,
        "signin_totp.html",
        {"enroll": not state.enrolled, "secret": state.secret, "qr_svg": qr_svg, "error": error},
        status_code=status,
    )


@router.get("/signin/totp", response_class=HTMLResponse)
def signin_totp_form(request: Request, container: ContainerDep) -> Response:
    found = _pending_principal(container, current_session(request))
    if found is None:
        return RedirectResponse("/signin", status_code=303)
    return _totp_page(request, container, found[1], None, 200)


@router.post("/signin/totp", response_class=HTMLResponse)
def signin_totp(
    request: Request, container: ContainerDep, code: Annotated[str, Form()] = ""
) -> Response:
    session = current_session(request)
    found = _pending_principal(container, session)
    if found is None:
        return RedirectResponse("/signin", status_code=303)
    pending, principal = found
    if not service.verify_totp(container, principal, code[:20], _ip(request)):
        return _totp_page(request, container, principal, "コードが正しくありません。", 401)
    session.establish(principal, f"{pending['method']}+totp")
    service.record_success(container, principal, f"{pending['method']}+totp", _ip(request))
    return RedirectResponse(_safe_next(pending.get("next")), status_code=303)


@router.post("/signout")
def signout(request: Request, container: ContainerDep) -> Response:
    session = current_session(request)
    if session.principal is not None:
        service.record_signout(container, session.principal, _ip(request))
    session.end()
    return RedirectResponse("/signin", status_code=303)


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, container: ContainerDep, principal: PrincipalDep) -> HTMLResponse:
    with container.database.session() as db:
        classes = []
        for membership in principal.memberships:
            ref = directory.class_ref(db, principal.tenant_id, membership.class_sourced_id)
            if ref is None:
                continue
            classes.append(
                {
                    "id": ref.sourced_id,
                    "title": directory.class_title(db, principal.tenant_id, ref.sourced_id),
                    "roster": policy.can_view_class_roster(principal, ref),
                }
            )
    return render(
        request,
        "me.html",
        {
            "principal": principal,
            "roles": sorted(r.value for r in principal.roles),
            "classes": classes,
            "audit": policy.can_read_audit_log(principal, principal.tenant_id),
        },
    )


def _forbidden(request: Request) -> HTMLResponse:
    return _message(request, "表示できません", "このページを見る権限がありません。", 403)


def _not_found(request: Request) -> HTMLResponse:
    return _message(request, "見つかりません", "ページが見つかりません。", 404)


@router.get("/classes/{class_id}/roster", response_class=HTMLResponse)
def class_roster(
    request: Request, container: ContainerDep, principal: PrincipalDep, class_id: str
) -> HTMLResponse:
    with container.database.session() as db:
        # Looked up in the principal's own tenant only: another tenant's class is "not found".
        ref = directory.class_ref(db, principal.tenant_id, class_id)
        if ref is None:
            return _not_found(request)
        if not policy.can_view_class_roster(principal, ref):
            return _forbidden(request)
        members = directory.class_members(db, principal.tenant_id, class_id)
        title = directory.class_title(db, principal.tenant_id, class_id)
    return render(
        request,
        "class_roster.html",
        {
            "title": title,
            "class_id": class_id,
            "members": members,
            "can_issue_cards": policy.can_issue_sign_in_cards(principal, ref),
        },
    )


@router.post("/classes/{class_id}/sign-in-cards")
def class_sign_in_cards(
    request: Request, container: ContainerDep, principal: PrincipalDep, class_id: str
) -> Response:
    from tsunagu.identity.cards import class_cards_pdf

    with container.database.transaction() as db:
        ref = directory.class_ref(db, principal.tenant_id, class_id)
        if ref is None:
            return _not_found(request)
        if not policy.can_issue_sign_in_cards(principal, ref):
            return _forbidden(request)
        cards = service.issue_class_cards(db, container, principal.tenant_code, class_id)
        audit_service.record(
            db,
            principal.tenant_id,
            principal.user_sourced_id,
            "qr.issue",
            class_id,
            _ip(request),
            {"cards": len(cards)},
        )
    pdf = class_cards_pdf(cards, container.settings.base_url)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="sign-in-cards.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/user/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request, container: ContainerDep, principal: PrincipalDep, user_id: str
) -> HTMLResponse:
    with container.database.session() as db:
        ref = directory.user_ref(db, principal.tenant_id, user_id)
        if ref is None:
            return _not_found(request)
        if not policy.can_view_user(principal, ref):
            return _forbidden(request)
        target = load_principal(db, principal.tenant_id, user_id)
    if target is None:
        return _not_found(request)
    return render(
        request,
        "me.html",
        {"principal": target, "roles": sorted(r.value for r in target.roles), "classes": []},
    )


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, container: ContainerDep, principal: PrincipalDep) -> HTMLResponse:
    if not policy.can_read_audit_log(principal, principal.tenant_id):
        return _forbidden(request)
    with container.database.session() as db:
        events = audit_service.list_events(db, principal.tenant_id, limit=500)
    return render(request, "audit.html", {"events": events})


@router.get("/admin/audit.csv")
def audit_csv(request: Request, container: ContainerDep, principal: PrincipalDep) -> Response:
    if not policy.can_read_audit_log(principal, principal.tenant_id):
        return _forbidden(request)
    with container.database.transaction() as db:
        events = audit_service.list_events(db, principal.tenant_id, limit=None)
        audit_service.record(
            db,
            principal.tenant_id,
            principal.user_sourced_id,
            "audit.export",
            "",
            _ip(request),
            {"rows": len(events)},
        )
    return Response(
        audit_service.to_csv(events, principal.tenant_code),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
