"""The administrators' console: tools, sign-in settings, QR cards, people and their credentials.

Thin handlers (issue 6, "Administrators"): parse the form, ask :mod:`tsunagu.identity.policy`,
call a service (:mod:`tsunagu.lti.registry`, :mod:`tsunagu.identity.service`,
:mod:`tsunagu.identity.oidc`, :mod:`tsunagu.portal.admin_service`) and render. Every change is
written to the audit log in the same transaction, so a refused or failed action leaves neither a
change nor an audit line. Bad input answers 400 with the page and its message; another school's
or another tenant's object answers 403 or 404, never its content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.audit import service as audit_service
from tsunagu.container import Container
from tsunagu.http import container_dependency
from tsunagu.identity import oidc, policy
from tsunagu.identity import service as identity
from tsunagu.identity.directory import class_ref, user_ref
from tsunagu.identity.operators import principal_for
from tsunagu.identity.passwords import PasswordPolicyError
from tsunagu.identity.principal import Principal
from tsunagu.identity.web import require_principal
from tsunagu.lti import registry
from tsunagu.lti.models import Deployment, Tool
from tsunagu.portal import admin_service as console
from tsunagu.portal.pages import page
from tsunagu.roster.models import ACTIVE, Org
from tsunagu.timetable.service import N_

router = APIRouter(include_in_schema=False)

ContainerDep = Annotated[Container, Depends(container_dependency)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]

#: The console's own menu, shown on each of its pages (and the older admin pages it links to).
CONSOLE_LINKS = (
    ("/admin/tools", N_("ツール")),
    ("/admin/sign-in-settings", N_("サインインの設定")),
    ("/admin/cards", N_("QR カード")),
    ("/admin/users", N_("利用者と役割")),
    ("/admin/roster", N_("名簿の取り込み")),
    ("/admin/integrations", N_("連携（LRS・OAuth）")),
    ("/admin/audit", N_("監査ログ")),
)


class RefusedError(Exception):
    """A request the handler answers with a message page (403, 404 or 400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _links(principal: Principal) -> list[tuple[str, str]]:
    tenant_admin = policy.is_tenant_admin(principal)
    board_only = {
        "/admin/sign-in-settings",
        "/admin/roster",
        "/admin/integrations",
        "/admin/audit",
    }
    return [
        (href, label) for href, label in CONSOLE_LINKS if tenant_admin or href not in board_only
    ]


def _page(
    request: Request,
    principal: Principal,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    full = {"console_links": _links(principal), **(context or {})}
    response = page(request, principal, f"admin_console/{name}", full, status_code)
    # Administrative pages list personal data: never kept by a shared school computer's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _message(request: Request, principal: Principal, refused: RefusedError) -> HTMLResponse:
    return _page(request, principal, "message.html", {"message": refused.message}, refused.status)


def _refused(
    request: Request,
    principal: Principal,
    refused: RefusedError,
    form_page: Callable[[str], HTMLResponse],
) -> HTMLResponse:
    """A refused form: a bad value (400) shows the form's page again with ``form_page(error)``,
    anything else (not allowed, not found) the message page."""
    if refused.status == 400:
        return form_page(refused.message)
    return _message(request, principal, refused)


def _console(principal: Principal) -> None:
    if not policy.can_open_admin(principal):
        raise RefusedError(403, N_("管理者のページです。"))


def _audit(
    db: Session,
    request: Request,
    principal: Principal,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    audit_service.record(
        db, principal.tenant_id, principal.user_sourced_id, action, target, _ip(request), detail
    )


def _back(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


# --- tools ---------------------------------------------------------------------------------------


def _tools_context(
    db: Session, container: Container, principal: Principal, days: int
) -> dict[str, Any]:
    reviewer = policy.can_review_tool_registrations(principal, principal.tenant_id)
    return {
        "tools": console.tools(db, principal),
        "schools": console.schools(db, principal),
        "tenant_admin": policy.can_deploy_tool(principal, principal.tenant_id, None),
        "pending": console.pending_registrations(db, principal.tenant_id) if reviewer else [],
        "reviewer": reviewer,
        "scope_labels": console.SCOPE_LABELS,
        "days": days,
        "periods": console.STATISTICS_PERIODS,
        "figures": console.launch_figures(db, principal, container.settings.base_url, days),
    }


def _tools_page(
    request: Request,
    container: ContainerDep,
    principal: Principal,
    *,
    days: int = 7,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with container.database.session() as db:
        context = _tools_context(db, container, principal, days)
    context["error"] = error
    context["done"] = request.query_params.get("done", "")
    return _page(request, principal, "tools.html", context, status_code)


@router.get("/admin/tools", response_class=HTMLResponse)
def tools_page(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    days: Annotated[str, Query()] = "7",
) -> Response:
    try:
        _console(principal)
        if days not in {str(p) for p in console.STATISTICS_PERIODS}:
            raise RefusedError(400, N_("集計の期間は 7 日か 30 日を選んでください。"))
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _tools_page(request, container, principal, days=int(days))


def _school_codes(db: Session, principal: Principal, school_ids: list[str]) -> list[str]:
    codes = []
    for school_id in school_ids:
        org = db.get(Org, (principal.tenant_id, school_id))
        if org is None or org.type != "school" or org.status != ACTIVE:
            raise RefusedError(400, N_("学校が見つかりません。"))
        if not policy.can_deploy_tool(principal, principal.tenant_id, org.sourced_id):
            raise RefusedError(403, N_("この学校のツールは管理できません。"))
        codes.append(org.identifier or "")
    return codes


@router.post("/admin/tools/deploy", response_class=HTMLResponse)
def deploy(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    client_id: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    school: Annotated[list[str] | None, Form()] = None,
) -> Response:
    try:
        _console(principal)
        if target not in ("tenant", "schools"):
            raise RefusedError(400, N_("配信先を選んでください。"))
        with container.database.transaction() as db:
            if target == "tenant":
                if not policy.can_deploy_tool(principal, principal.tenant_id, None):
                    raise RefusedError(
                        403, N_("教育委員会全体への配信は教育委員会の管理者が行います。")
                    )
                codes = None
            else:
                if not school:
                    raise RefusedError(400, N_("配信する学校を選んでください。"))
                codes = _school_codes(db, principal, school)
            try:
                deployed = registry.deploy_tool(db, client_id, principal.tenant_code, codes)
            except registry.RegistryError as exc:
                raise RefusedError(400, N_("このツールは配信できません。")) from exc
            _audit(
                db,
                request,
                principal,
                "lti.deploy",
                client_id,
                {"deployments": [d.deployment_id for d in deployed]},
            )
    except RefusedError as refused:
        return _refused(
            request,
            principal,
            refused,
            lambda error: _tools_page(request, container, principal, error=error, status_code=400),
        )
    return _back("/admin/tools", "deployed")


@router.post("/admin/tools/undeploy", response_class=HTMLResponse)
def undeploy(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    client_id: Annotated[str, Form()] = "",
    deployment_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        _console(principal)
        with container.database.transaction() as db:
            row = db.scalar(
                select(Deployment)
                .join(Tool, Tool.id == Deployment.tool_id)
                .where(
                    Tool.client_id == client_id,
                    Deployment.tenant_id == principal.tenant_id,
                    Deployment.deployment_id == deployment_id,
                )
            )
            if row is None:
                raise RefusedError(404, N_("見つかりません。"))
            if not policy.can_deploy_tool(principal, principal.tenant_id, row.school_sourced_id):
                raise RefusedError(403, N_("この配信は変更できません。"))
            registry.undeploy_tool(db, client_id, principal.tenant_id, deployment_id)
            _audit(db, request, principal, "lti.undeploy", client_id, {"deployment": deployment_id})
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _back("/admin/tools", "undeployed")


def _reviewable(db: Session, principal: Principal, client_id: str) -> Tool:
    _console(principal)
    if not policy.can_review_tool_registrations(principal, principal.tenant_id):
        raise RefusedError(403, N_("ツールの登録の承認は教育委員会の管理者が行います。"))
    tool = console.pending_tool(db, principal.tenant_id, client_id)
    if tool is None:
        raise RefusedError(404, N_("承認を待っている登録が見つかりません。"))
    return tool


@router.post("/admin/tools/approve", response_class=HTMLResponse)
def approve(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    client_id: Annotated[str, Form()] = "",
    scope: Annotated[list[str] | None, Form()] = None,
) -> Response:
    try:
        with container.database.transaction() as db:
            tool = _reviewable(db, principal, client_id)
            asked = tuple(s for s in tool.scopes.split(" ") if s)
            try:
                granted = console.check_scopes(asked, scope or [])
            except console.ConsoleError as exc:
                raise RefusedError(400, str(exc)) from exc
            try:
                info, deployed = registry.approve_tool(db, client_id, granted)
            except registry.RegistryError as exc:
                # E.g. the school the registration was aimed at has left the roster since.
                raise RefusedError(400, N_("この登録は承認できません。")) from exc
            _audit(
                db,
                request,
                principal,
                "lti.approve",
                client_id,
                {
                    "name": info.name,
                    "scopes": list(granted),
                    "deployments": [d.deployment_id for d in deployed],
                },
            )
    except RefusedError as refused:
        return _refused(
            request,
            principal,
            refused,
            lambda error: _tools_page(request, container, principal, error=error, status_code=400),
        )
    return _back("/admin/tools", "approved")


@router.post("/admin/tools/reject", response_class=HTMLResponse)
def reject(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    client_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        with container.database.transaction() as db:
            tool = _reviewable(db, principal, client_id)
            registry.reject_tool(db, client_id)
            _audit(db, request, principal, "lti.reject", client_id, {"name": tool.name})
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _back("/admin/tools", "rejected")


# --- sign-in settings ----------------------------------------------------------------------------


def _signin_admin(principal: Principal) -> None:
    _console(principal)
    if not policy.can_manage_sign_in_settings(principal, principal.tenant_id):
        raise RefusedError(403, N_("サインインの設定は教育委員会の管理者が行います。"))


def _signin_page(
    request: Request,
    container: Container,
    principal: Principal,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with container.database.session() as db:
        providers = oidc.list_providers(db, principal.tenant_code)
    return _page(
        request,
        principal,
        "sign_in_settings.html",
        {
            "providers": providers,
            "redirect_uri": oidc.redirect_uri(container),
            "kinds": oidc.KINDS,
            "error": error,
            "form": form or {},
            "done": request.query_params.get("done", ""),
        },
        status_code,
    )


@router.get("/admin/sign-in-settings", response_class=HTMLResponse)
def sign_in_settings(
    request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    try:
        _signin_admin(principal)
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _signin_page(request, container, principal)


@router.post("/admin/sign-in-settings/providers", response_class=HTMLResponse)
def add_provider(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    kind: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    client_secret: Annotated[str, Form()] = "",
    domains: Annotated[str, Form()] = "",
    entra_tenant_id: Annotated[str, Form()] = "",
    discovery_url: Annotated[str, Form()] = "",
) -> Response:
    # Echoed back on a refusal so the administrator need not type it again (never the secret).
    form = {
        "kind": kind,
        "label": label,
        "client_id": client_id,
        "domains": domains,
        "entra_tenant_id": entra_tenant_id,
        "discovery_url": discovery_url,
    }
    try:
        _signin_admin(principal)
        with container.database.transaction() as db:
            try:
                info = oidc.add_provider(
                    db,
                    container,
                    tenant_code=principal.tenant_code,
                    kind=kind.strip(),
                    client_id=client_id,
                    client_secret=client_secret,
                    domains=domains.replace(",", " ").split(),
                    entra_tenant_id=entra_tenant_id.strip() or None,
                    discovery_url=discovery_url.strip() or None,
                    label=label.strip() or None,
                )
            except oidc.IdpAdminError as exc:
                raise RefusedError(400, str(exc)) from exc
            _audit(db, request, principal, "idp.add", str(info.id), {"kind": info.kind})
    except RefusedError as refused:
        return _refused(
            request,
            principal,
            refused,
            lambda error: _signin_page(
                request, container, principal, error=error, form=form, status_code=400
            ),
        )
    return _back("/admin/sign-in-settings", "added")


@router.post("/admin/sign-in-settings/providers/{provider_id}/delete", response_class=HTMLResponse)
def remove_provider(
    request: Request, container: ContainerDep, principal: PrincipalDep, provider_id: str
) -> Response:
    try:
        _signin_admin(principal)
        if not provider_id.isdigit() or len(provider_id) > 18:
            raise RefusedError(404, N_("見つかりません。"))
        with container.database.transaction() as db:
            try:
                info = oidc.remove_provider(db, principal.tenant_code, int(provider_id))
            except oidc.IdpAdminError as exc:
                raise RefusedError(404, N_("見つかりません。")) from exc
            _audit(db, request, principal, "idp.remove", str(info.id), {"kind": info.kind})
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _back("/admin/sign-in-settings", "removed")


# --- QR cards ------------------------------------------------------------------------------------


@router.get("/admin/cards", response_class=HTMLResponse)
def cards_page(request: Request, container: ContainerDep, principal: PrincipalDep) -> Response:
    try:
        _console(principal)
    except RefusedError as refused:
        return _message(request, principal, refused)
    with container.database.session() as db:
        classes = console.class_cards(db, principal)
    return _page(
        request,
        principal,
        "cards.html",
        {"classes": classes, "done": request.query_params.get("done", "")},
    )


@router.post("/admin/cards/{class_id}/revoke", response_class=HTMLResponse)
def revoke_class_cards(
    request: Request, container: ContainerDep, principal: PrincipalDep, class_id: str
) -> Response:
    try:
        _console(principal)
        with container.database.transaction() as db:
            ref = class_ref(db, principal.tenant_id, class_id)
            if ref is None:
                raise RefusedError(404, N_("見つかりません。"))
            if not policy.can_administer_school(
                principal, principal.tenant_id, ref.school_sourced_id
            ):
                raise RefusedError(403, N_("この学級のカードは管理できません。"))
            count = console.revoke_class_cards(db, principal.tenant_id, class_id)
            _audit(db, request, principal, "qr.revoke", class_id, {"cards": count, "class": True})
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _back("/admin/cards", "revoked")


# --- people and their credentials ----------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    q: Annotated[str, Query()] = "",
) -> Response:
    try:
        _console(principal)
    except RefusedError as refused:
        return _message(request, principal, refused)
    with container.database.session() as db:
        people = console.search_people(db, principal, q)
    return _page(
        request,
        principal,
        "users.html",
        {"q": q, "people": people, "limit": console.SEARCH_LIMIT},
    )


def _person(db: Session, principal: Principal, user_id: str) -> console.PersonDetail:
    _console(principal)
    if user_ref(db, principal.tenant_id, user_id) is None:
        raise RefusedError(404, N_("見つかりません。"))
    detail = console.person_detail(db, principal, user_id)
    if detail is None:
        raise RefusedError(403, N_("この人の情報は表示できません。"))
    return detail


def _manageable(db: Session, principal: Principal, user_id: str) -> console.PersonDetail:
    detail = _person(db, principal, user_id)
    if not detail.manageable:
        raise RefusedError(403, N_("この人のサインイン方法は変更できません。"))
    return detail


def _user_page(
    request: Request,
    container: Container,
    principal: Principal,
    user_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        with container.database.session() as db:
            detail = _person(db, principal, user_id)
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _page(
        request,
        principal,
        "user.html",
        {
            "detail": detail,
            "role_labels": {r.value: label for r, label in console.ROLE_LABELS.items()},
            "error": error,
            "done": request.query_params.get("done", ""),
            "min_length": container.settings.password_min_length,
        },
        status_code,
    )


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request, container: ContainerDep, principal: PrincipalDep, user_id: str
) -> Response:
    return _user_page(request, container, principal, user_id)


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    user_id: str,
    new_password: Annotated[str, Form()] = "",
) -> Response:
    generated = not new_password
    password = new_password or console.temporary_password(container.settings.password_min_length)
    try:
        with container.database.transaction() as db:
            detail = _manageable(db, principal, user_id)
            try:
                identity.set_password(db, container, principal.tenant_code, user_id, password)
            except PasswordPolicyError as exc:
                raise RefusedError(400, str(exc)) from exc
            _audit(db, request, principal, "user.set_password", user_id, {"generated": generated})
    except RefusedError as refused:
        return _refused(
            request,
            principal,
            refused,
            lambda error: _user_page(
                request, container, principal, user_id, error=error, status_code=400
            ),
        )
    return _page(
        request,
        principal,
        "password_set.html",
        {"detail": detail, "password": password if generated else None},
    )


@router.post("/admin/users/{user_id}/totp-reset", response_class=HTMLResponse)
def reset_totp(
    request: Request, container: ContainerDep, principal: PrincipalDep, user_id: str
) -> Response:
    try:
        with container.database.transaction() as db:
            _manageable(db, principal, user_id)
            removed = identity.reset_totp(db, principal.tenant_code, user_id)
            _audit(db, request, principal, "user.reset_totp", user_id, {"enrolled": removed})
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _back(f"/admin/users/{user_id}", "totp")


@router.post("/admin/users/{user_id}/cards/revoke", response_class=HTMLResponse)
def revoke_user_cards(
    request: Request, container: ContainerDep, principal: PrincipalDep, user_id: str
) -> Response:
    try:
        with container.database.transaction() as db:
            _manageable(db, principal, user_id)
            count = identity.revoke_cards(db, principal.tenant_code, user_id)
            _audit(db, request, principal, "qr.revoke", user_id, {"cards": count})
    except RefusedError as refused:
        return _message(request, principal, refused)
    return _back(f"/admin/users/{user_id}", "revoked")


@router.post("/admin/users/{user_id}/cards/reissue")
def reissue_user_card(
    request: Request, container: ContainerDep, principal: PrincipalDep, user_id: str
) -> Response:
    from tsunagu.identity.cards import class_cards_pdf

    try:
        with container.database.transaction() as db:
            detail = _manageable(db, principal, user_id)
            user, token = identity.reissue_card(db, container, principal.tenant_code, user_id)
            target = principal_for(db, principal.tenant_id, user_id)
            home = detail.classes[0][1] if detail.classes else ""
            _audit(db, request, principal, "qr.reissue", user_id, {})
    except RefusedError as refused:
        return _message(request, principal, refused)
    card = identity.IssuedCard(
        user_sourced_id=user.sourced_id,
        kana_name=detail.person.kana_name,
        display_name=target.display_name if target else detail.person.name,
        class_title=home,
        token=token,
    )
    return Response(
        class_cards_pdf([card], container.settings.base_url),
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="sign-in-card.pdf"',
            "Cache-Control": "no-store",
        },
    )
