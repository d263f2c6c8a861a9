"""``tsunagu user`` / ``idp`` / ``qr``: local passwords, external IdPs and sign-in cards."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer
from rich.table import Table

from tsunagu.audit import service as audit_service
from tsunagu.cli_support import console, container_from, emit_json, fail
from tsunagu.identity import oidc, service
from tsunagu.identity.passwords import PasswordPolicyError
from tsunagu.tenancy.service import TenantError, get_tenant

user_app = typer.Typer(help="Local accounts of roster users.", no_args_is_help=True)
idp_app = typer.Typer(
    help="External OpenID Providers a tenant signs in with.", no_args_is_help=True
)
qr_app = typer.Typer(help="QR sign-in cards for young learners.", no_args_is_help=True)
session_app = typer.Typer(help="Browser sessions.", no_args_is_help=True)

TENANT = typer.Option(..., "--tenant", help="教育委員会コード of the tenant.")


def cli_actor() -> str:
    """Who ran an administrative command (for the audit log)."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


@user_app.command("set-password")
def set_password(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="Username or sourcedId."),
    tenant: str = TENANT,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (scripts)."
    ),
) -> None:
    """Set a user's local password (argon2id), checked against the password policy."""
    container = container_from(ctx)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with container.database.transaction() as session:
            found = service.set_password(session, container, tenant, user, password)
            audit_service.record(
                session,
                found.tenant_id,
                cli_actor(),
                "user.set_password",
                found.sourced_id,
                "",
                {},
            )
    except (PasswordPolicyError, service.IdentityAdminError, TenantError) as exc:
        fail(str(exc))
    console.print(f"password set for {found.username} ({found.sourced_id})", highlight=False)


@user_app.command("reset-totp")
def reset_totp(ctx: typer.Context, user: str = typer.Argument(...), tenant: str = TENANT) -> None:
    """Forget an administrator's authenticator (lost phone); they enroll again at sign-in."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            removed = service.reset_totp(session, tenant, user)
            tenant_ref = get_tenant(session, tenant)
            audit_service.record(session, tenant_ref.id, cli_actor(), "user.reset_totp", user)
    except (service.IdentityAdminError, TenantError) as exc:
        fail(str(exc))
    console.print("TOTP reset" if removed else "no TOTP was enrolled")


@user_app.command("grant-operator")
def grant_operator(
    ctx: typer.Context, user: str = typer.Argument(...), tenant: str = TENANT
) -> None:
    """Make a roster user a deployment operator of their tenant (administers it, with TOTP)."""
    _operator(ctx, user, tenant, grant=True)


@user_app.command("revoke-operator")
def revoke_operator(
    ctx: typer.Context, user: str = typer.Argument(...), tenant: str = TENANT
) -> None:
    """Take the operator role back (open sessions lose it at their next refresh)."""
    _operator(ctx, user, tenant, grant=False)


def _operator(ctx: typer.Context, user: str, tenant: str, *, grant: bool) -> None:
    from tsunagu.identity import operators

    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            tenant_ref = get_tenant(session, tenant)
            found = service.find_user(session, tenant_ref.id, user)
            if found is None:
                raise service.IdentityAdminError(f"No user '{user}' in tenant {tenant_ref.code}.")
            change = operators.grant if grant else operators.revoke
            changed = change(session, tenant_ref.id, found.sourced_id)
            action = "user.grant_operator" if grant else "user.revoke_operator"
            audit_service.record(session, tenant_ref.id, cli_actor(), action, found.sourced_id)
    except (service.IdentityAdminError, TenantError) as exc:
        fail(str(exc))
    state = "granted" if grant else "revoked"
    console.print(
        f"operator role {state} for {found.username}" if changed else "nothing to change",
        highlight=False,
    )


@idp_app.command("add")
def idp_add(
    ctx: typer.Context,
    tenant: str = TENANT,
    kind: str = typer.Option(..., "--kind", help="google | microsoft | oidc"),
    client_id: str = typer.Option(..., "--client-id"),
    client_secret: str = typer.Option(..., "--client-secret"),
    domain: list[str] = typer.Option(
        [], "--domain", help="Google Workspace domain allowed by the hd claim (repeatable)."
    ),
    entra_tenant_id: str | None = typer.Option(
        None, "--entra-tenant-id", help="Microsoft Entra directory (tenant) id, checked as tid."
    ),
    discovery_url: str | None = typer.Option(
        None, "--discovery-url", help="OpenID discovery document (required for --kind oidc)."
    ),
    issuer: str | None = typer.Option(None, "--issuer", help="Expected iss (default: discovered)."),
    label: str | None = typer.Option(None, "--label", help="Sign-in button text."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add an external OpenID Provider for a tenant's sign-in page."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            info = oidc.add_provider(
                session,
                container,
                tenant_code=tenant,
                kind=kind,
                client_id=client_id,
                client_secret=client_secret,
                domains=domain,
                entra_tenant_id=entra_tenant_id,
                discovery_url=discovery_url,
                issuer=issuer,
                label=label,
            )
            tenant_ref = get_tenant(session, tenant)
            audit_service.record(
                session, tenant_ref.id, cli_actor(), "idp.add", str(info.id), "", {"kind": kind}
            )
    except (oidc.IdpAdminError, TenantError) as exc:
        fail(str(exc))
    if as_json:
        emit_json(_info_json(info))
        return
    console.print(f"added identity provider {info.id} ({info.kind}) issuer {info.issuer}")
    console.print(f"redirect URI to register at the provider: {oidc.redirect_uri(container)}")


def _info_json(info: oidc.ProviderInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "tenant": info.tenant_code,
        "kind": info.kind,
        "label": info.label,
        "issuer": info.issuer,
        "client_id": info.client_id,
        "discovery_url": info.discovery_url,
        "domains": list(info.allowed_domains),
        "entra_tenant_ids": list(info.allowed_tenant_ids),
    }


@idp_app.command("list")
def idp_list(
    ctx: typer.Context, tenant: str = TENANT, as_json: bool = typer.Option(False, "--json")
) -> None:
    """List a tenant's identity providers."""
    container = container_from(ctx)
    try:
        with container.database.session() as session:
            infos = oidc.list_providers(session, tenant)
    except TenantError as exc:
        fail(str(exc))
    if as_json:
        emit_json([_info_json(i) for i in infos])
        return
    table = Table("id", "kind", "label", "issuer", "client_id", "restricted to")
    for i in infos:
        table.add_row(
            str(i.id),
            i.kind,
            i.label,
            i.issuer,
            i.client_id,
            " ".join(i.allowed_domains + i.allowed_tenant_ids),
        )
    console.print(table)


@idp_app.command("remove")
def idp_remove(
    ctx: typer.Context, provider_id: int = typer.Argument(...), tenant: str = TENANT
) -> None:
    """Remove an identity provider (its button disappears from the sign-in page)."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            info = oidc.remove_provider(session, tenant, provider_id)
            tenant_ref = get_tenant(session, tenant)
            audit_service.record(session, tenant_ref.id, cli_actor(), "idp.remove", str(info.id))
    except (oidc.IdpAdminError, TenantError) as exc:
        fail(str(exc))
    console.print(f"removed identity provider {info.id} ({info.kind})")


@qr_app.command("issue")
def qr_issue(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="PDF file to write."),
    tenant: str = TENANT,
    class_id: str = typer.Option(..., "--class", help="sourcedId of the class."),
) -> None:
    """Issue new cards for every pupil of a class, as a PDF (older cards stop working)."""
    from tsunagu.identity.cards import class_cards_pdf

    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            cards = service.issue_class_cards(session, container, tenant, class_id)
            tenant_ref = get_tenant(session, tenant)
            audit_service.record(
                session, tenant_ref.id, cli_actor(), "qr.issue", class_id, "", {"cards": len(cards)}
            )
    except (service.IdentityAdminError, TenantError) as exc:
        fail(str(exc))
    out.write_bytes(class_cards_pdf(cards, container.settings.base_url))
    console.print(f"{len(cards)} cards written to {out}")


@qr_app.command("revoke")
def qr_revoke(ctx: typer.Context, user: str = typer.Argument(...), tenant: str = TENANT) -> None:
    """Revoke a pupil's cards (lost card); issue the class again or reissue to replace it."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            count = service.revoke_cards(session, tenant, user)
            tenant_ref = get_tenant(session, tenant)
            audit_service.record(
                session, tenant_ref.id, cli_actor(), "qr.revoke", user, "", {"cards": count}
            )
    except (service.IdentityAdminError, TenantError) as exc:
        fail(str(exc))
    console.print(f"revoked {count} card(s)")


@qr_app.command("reissue")
def qr_reissue(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="PDF file to write."),
    user: str = typer.Option(..., "--user", help="Username or sourcedId."),
    tenant: str = TENANT,
) -> None:
    """Issue one pupil a new card (the old one stops working)."""
    from tsunagu.identity.cards import class_cards_pdf
    from tsunagu.identity.service import IssuedCard

    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            found, token = service.reissue_card(session, container, tenant, user)
            audit_service.record(session, found.tenant_id, cli_actor(), "qr.reissue", user)
            card = IssuedCard(
                user_sourced_id=found.sourced_id,
                kana_name=f"{found.kana_family_name or ''} {found.kana_given_name or ''}".strip(),
                display_name=f"{found.family_name} {found.given_name}",
                class_title="",
                token=token,
            )
    except (service.IdentityAdminError, TenantError) as exc:
        fail(str(exc))
    out.write_bytes(class_cards_pdf([card], container.settings.base_url))
    console.print(f"new card written to {out}")


@session_app.command("purge")
def session_purge(ctx: typer.Context) -> None:
    """Delete ended sessions from the database (run daily; Redis expires its own)."""
    from tsunagu.identity.sessions import DatabaseSessionStore

    container = container_from(ctx)
    removed = DatabaseSessionStore(container).purge_expired()
    console.print(f"{removed} ended session(s) deleted")
