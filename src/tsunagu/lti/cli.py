"""``tsunagu tool`` (registry, deployments, Dynamic Registration) and ``tsunagu keys``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from tsunagu.cli_support import console, container_from, emit_json, fail
from tsunagu.lti import keys as platform_keys
from tsunagu.lti import launch, registry
from tsunagu.lti.registry import DeploymentInfo, RegistryError, ToolInfo
from tsunagu.tenancy.service import TenantError, get_tenant

tool_app = typer.Typer(help="LTI 1.3 tools: register, deploy, approve.", no_args_is_help=True)
keys_app = typer.Typer(help="The platform's LTI signing keys.", no_args_is_help=True)


def _deployment_json(d: DeploymentInfo) -> dict[str, Any]:
    return {
        "deployment_id": d.deployment_id,
        "tenant": d.tenant_code,
        "school_sourced_id": d.school_sourced_id,
        "active": d.active,
    }


def _tool_json(t: ToolInfo) -> dict[str, Any]:
    return {
        "client_id": t.client_id,
        "name": t.name,
        "status": t.status,
        "login_initiation_url": t.login_initiation_url,
        "redirect_uris": list(t.redirect_uris),
        "jwks_url": t.jwks_url,
        "target_link_uri": t.target_link_uri,
        "deep_linking_url": t.deep_linking_url,
        "scopes": list(t.scopes),
        "send_name": t.send_name,
        "send_email": t.send_email,
        "custom": t.custom,
        "icon_url": t.icon_url,
        "source": t.source,
        "deployments": [_deployment_json(d) for d in t.deployments],
    }


def platform_details(ctx: typer.Context) -> dict[str, str]:
    """What a tool vendor needs to configure their side (eportal-standard.md §3.1)."""
    settings = container_from(ctx).settings
    return {
        "issuer": launch.issuer(settings),
        "authorization_endpoint": launch.authorize_url(settings),
        "token_endpoint": launch.token_url(settings),
        "jwks_uri": launch.jwks_url(settings),
        "deep_link_return_url": launch.deep_link_return_url(settings),
    }


def _custom(values: list[str]) -> dict[str, str]:
    custom: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--custom takes name=value, not {item!r}")
        custom[name] = value
    return custom


@tool_app.command("register")
def register(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="The tool's name as teachers see it."),
    login_url: str = typer.Option(..., "--login-url", help="OIDC login initiation URL."),
    redirect_uri: list[str] = typer.Option(..., "--redirect-uri", help="Repeatable."),
    target_link_uri: str = typer.Option(..., "--target-link-uri"),
    client_id: str | None = typer.Option(None, "--client-id", help="Default: a new UUID."),
    jwks_url: str | None = typer.Option(None, "--jwks-url"),
    public_key: Path | None = typer.Option(None, "--public-key", help="A JWK or JWKS file."),
    deep_linking_url: str | None = typer.Option(None, "--deep-linking-url"),
    custom: list[str] = typer.Option([], "--custom", help="name=value (repeatable)."),
    icon_url: str | None = typer.Option(None, "--icon-url"),
    scope: list[str] = typer.Option(
        [], "--scope", help="score, lineitem, lineitem.readonly, result.readonly, nrps"
    ),
    send_name: bool = typer.Option(False, "--send-name", help="Send names to this tool."),
    send_email: bool = typer.Option(False, "--send-email", help="Send e-mail addresses."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register a tool by hand (its vendor gives these URLs)."""
    container = container_from(ctx)
    jwks: dict[str, Any] | None = None
    if public_key is not None:
        try:
            jwks = json.loads(public_key.read_text())
        except (OSError, ValueError) as exc:
            fail(f"cannot read the public key {public_key}: {exc}")
    try:
        with container.database.transaction() as session:
            tool = registry.register_tool(
                session,
                name=name,
                client_id=client_id,
                login_initiation_url=login_url,
                redirect_uris=redirect_uri,
                target_link_uri=target_link_uri,
                jwks_url=jwks_url,
                public_jwks=jwks,
                deep_linking_url=deep_linking_url,
                custom=_custom(custom),
                icon_url=icon_url,
                scopes=scope,
                send_name=send_name,
                send_email=send_email,
            )
            info = registry.tool_info(session, tool)
    except RegistryError as exc:
        fail(str(exc))
    if as_json:
        emit_json({**_tool_json(info), "platform": platform_details(ctx)})
        return
    console.print(f"registered tool {info.name}: client_id {info.client_id}", highlight=False)
    for key, value in platform_details(ctx).items():
        console.print(f"  {key}: {value}", highlight=False)


@tool_app.command("deploy")
def deploy(
    ctx: typer.Context,
    client_id: str = typer.Argument(...),
    tenant: str = typer.Option(..., "--tenant", help="教育委員会コード."),
    school: list[str] = typer.Option(
        [], "--school", help="学校コード (repeatable); none means the whole tenant."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Deploy a tool to a tenant (B_<board code>) or to schools (S_<school code>)."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            deployments = registry.deploy_tool(session, client_id, tenant, school or None)
    except (RegistryError, TenantError) as exc:
        fail(str(exc))
    if as_json:
        emit_json([_deployment_json(d) for d in deployments])
        return
    for d in deployments:
        console.print(f"deployed {client_id} as {d.deployment_id}", highlight=False)


@tool_app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List registered tools with their deployments."""
    container = container_from(ctx)
    with container.database.session() as session:
        tools = registry.list_tools(session)
    if as_json:
        emit_json([_tool_json(t) for t in tools])
        return
    table = Table("client_id", "name", "status", "scopes", "deployments")
    for t in tools:
        table.add_row(
            t.client_id,
            t.name,
            t.status,
            "\n".join(s.rsplit("/", 1)[-1] for s in t.scopes),
            "\n".join(d.deployment_id for d in t.deployments),
        )
    console.print(table)


@tool_app.command("link")
def link(
    ctx: typer.Context,
    client_id: str = typer.Argument(...),
    tenant: str = typer.Option(..., "--tenant"),
    class_id: str = typer.Option(..., "--class", help="The class's OneRoster sourcedId."),
    title: str = typer.Option(..., "--title"),
    url: str | None = typer.Option(None, "--url", help="Default: the tool's target link URI."),
    custom: list[str] = typer.Option([], "--custom", help="name=value (repeatable)."),
    placement: str | None = typer.Option(None, "--placement", help="e.g. timetable:<slot>"),
    score_maximum: float | None = typer.Option(
        None, "--score-maximum", help="Add an AGS line item (a test whose score comes back)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Place a link to a tool's content in a class (what Deep Linking does from the portal)."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            tool = registry.get_tool(session, client_id)
            tenant_ref = get_tenant(session, tenant)
            klass = launch.get_class(session, tenant_ref.id, class_id)
            deployment = registry.deployment_for(
                session, tool.id, tenant_ref.id, klass.school_sourced_id
            )
            if deployment is None:
                fail(f"{client_id} is not deployed for this class's school; deploy it first.")
            if score_maximum is not None and score_maximum <= 0:
                fail("--score-maximum must be above 0")
            created = launch.create_resource_link(
                session,
                tenant_id=tenant_ref.id,
                deployment=deployment,
                class_sourced_id=class_id,
                title=title,
                url=url,
                custom=_custom(custom),
                placement=placement,
                line_item=(
                    {"scoreMaximum": score_maximum, "label": title}
                    if score_maximum is not None
                    else None
                ),
            )
            result = {
                "resource_link_id": created.id,
                "deployment_id": deployment.deployment_id,
                "line_item_id": created.line_item_id,
                "launch_path": f"/lti/launch/{created.id}",
            }
    except (RegistryError, TenantError, launch.LaunchError) as exc:
        fail(str(exc))
    if as_json:
        emit_json(result)
        return
    console.print(f"placed {title}: {result['launch_path']}", highlight=False)


@tool_app.command("registration-token")
def registration_token(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant"),
    school: str | None = typer.Option(None, "--school", help="学校コード for an S_ deployment."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A one-time token to start LTI Dynamic Registration from the tool's side."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            token = registry.create_registration_token(
                session, container.settings.resolved_secret_key, tenant, school
            )
    except (RegistryError, TenantError) as exc:
        fail(str(exc))
    config_url = launch.issuer(container.settings) + "/lti/.well-known/openid-configuration"
    if as_json:
        emit_json({"openid_configuration": config_url, "registration_token": token})
        return
    console.print("Open the tool's registration URL with these parameters:", highlight=False)
    console.print(f"  openid_configuration={config_url}", highlight=False)
    console.print(f"  registration_token={token}", highlight=False)


@tool_app.command("approve")
def approve(
    ctx: typer.Context,
    client_id: str = typer.Argument(...),
    scope: list[str] = typer.Option([], "--scope", help="Grant fewer scopes than asked."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Approve a tool that registered itself (Dynamic Registration) and deploy it."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            info, deployments = registry.approve_tool(session, client_id, scope or None)
    except RegistryError as exc:
        fail(str(exc))
    if as_json:
        emit_json(_tool_json(info))
        return
    console.print(f"approved {info.name} ({info.client_id})", highlight=False)
    for d in deployments:
        console.print(f"  deployed as {d.deployment_id}", highlight=False)


@tool_app.command("reject")
def reject(ctx: typer.Context, client_id: str = typer.Argument(...)) -> None:
    """Reject a pending Dynamic Registration."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            info = registry.reject_tool(session, client_id)
    except RegistryError as exc:
        fail(str(exc))
    console.print(f"rejected {info.name} ({info.client_id})", highlight=False)


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Rotate even if the next key is new."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make the published next key sign, retire the current one, publish a new next key."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            current = platform_keys.rotate(session, container.settings, force=force)
    except platform_keys.KeyRotationError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"current_kid": current.kid})
        return
    console.print(f"now signing with {current.kid}", highlight=False)


@keys_app.command("list")
def list_keys(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """The platform keys and their states (private keys are never shown)."""
    container = container_from(ctx)
    with container.database.transaction() as session:
        platform_keys.ensure_keys(session, container.settings)
        rows = platform_keys.list_keys(session)
    if as_json:
        emit_json(
            [
                {
                    "kid": k.kid,
                    "state": k.state,
                    "created_at": k.created_at.isoformat(),
                    "unpublish_at": k.unpublish_at.isoformat() if k.unpublish_at else None,
                }
                for k in rows
            ]
        )
        return
    table = Table("kid", "state", "created", "unpublished at")
    for k in rows:
        table.add_row(
            k.kid,
            k.state,
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.unpublish_at.strftime("%Y-%m-%d %H:%M") if k.unpublish_at else "",
        )
    console.print(table)
