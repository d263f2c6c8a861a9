"""The tool registry: tools, their deployments to tenants and schools, Dynamic Registration."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.lti.models import (
    TOOL_ACTIVE,
    TOOL_PENDING,
    TOOL_REJECTED,
    Deployment,
    PlatformInstance,
    RegistrationToken,
    Tool,
)
from tsunagu.lti.vocabulary import ALL_SCOPES, BOARD_DEPLOYMENT, SCHOOL_DEPLOYMENT, resolve_scope
from tsunagu.machine_credentials import as_utc, keyed_hash, utcnow
from tsunagu.roster.models import ACTIVE, Org
from tsunagu.tenancy.models import Tenant
from tsunagu.tenancy.service import get_tenant, get_tenant_by_id


class RegistryError(ValueError):
    """A registration or deployment was refused; the message says why."""


@dataclass(frozen=True)
class DeploymentInfo:
    deployment_id: str
    tenant_code: str
    school_sourced_id: str | None
    active: bool


@dataclass(frozen=True)
class ToolInfo:
    client_id: str
    name: str
    status: str
    login_initiation_url: str
    redirect_uris: tuple[str, ...]
    jwks_url: str | None
    target_link_uri: str
    deep_linking_url: str | None
    scopes: tuple[str, ...]
    send_name: bool
    send_email: bool
    custom: dict[str, str]
    icon_url: str | None
    source: str
    deployments: tuple[DeploymentInfo, ...] = field(default=())


def _check_url(value: str | None, what: str, *, required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise RegistryError(f"{what} is required.")
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise RegistryError(f"{what} must be an absolute http(s) URL without fragment: {value!r}")
    return value


def _check_custom(custom: dict[str, Any] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in (custom or {}).items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise RegistryError(f"custom parameters must map names to strings: {key!r}")
        checked[key] = value
    return checked


def _check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    try:
        resolved = {resolve_scope(s) for s in scopes}
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc
    return tuple(s for s in ALL_SCOPES if s in resolved)


def _check_jwks(public_jwks: dict[str, Any] | None) -> dict[str, Any] | None:
    if public_jwks is None:
        return None
    keys = public_jwks.get("keys") if "keys" in public_jwks else [public_jwks]
    if not isinstance(keys, list) or not keys:
        raise RegistryError("the public key must be a JWK or a JWK set")
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise RegistryError(f"the public key is not a usable JWK: {exc}") from exc
    for key in keys:
        if key.get("kty") != "RSA" or "d" in key:
            raise RegistryError("the public key must be a public RSA JWK (no private part)")
    return {"keys": keys}


def _deployment_info(session: Session, row: Deployment) -> DeploymentInfo:
    return DeploymentInfo(
        deployment_id=row.deployment_id,
        tenant_code=get_tenant_by_id(session, row.tenant_id).code,
        school_sourced_id=row.school_sourced_id,
        active=row.active,
    )


def tool_info(session: Session, tool: Tool) -> ToolInfo:
    deployments = session.scalars(
        select(Deployment).where(Deployment.tool_id == tool.id).order_by(Deployment.id)
    )
    return ToolInfo(
        client_id=tool.client_id,
        name=tool.name,
        status=tool.status,
        login_initiation_url=tool.login_initiation_url,
        redirect_uris=tuple(tool.redirect_uris),
        jwks_url=tool.jwks_url,
        target_link_uri=tool.target_link_uri,
        deep_linking_url=tool.deep_linking_url,
        scopes=tuple(s for s in tool.scopes.split(" ") if s),
        send_name=tool.send_name,
        send_email=tool.send_email,
        custom=dict(tool.custom or {}),
        icon_url=tool.icon_url,
        source=tool.source,
        deployments=tuple(_deployment_info(session, d) for d in deployments),
    )


def register_tool(
    session: Session,
    *,
    name: str,
    login_initiation_url: str,
    redirect_uris: list[str],
    target_link_uri: str,
    client_id: str | None = None,
    jwks_url: str | None = None,
    public_jwks: dict[str, Any] | None = None,
    deep_linking_url: str | None = None,
    custom: dict[str, Any] | None = None,
    icon_url: str | None = None,
    scopes: list[str] | tuple[str, ...] = (),
    send_name: bool = False,
    send_email: bool = False,
    description: str | None = None,
    status: str = TOOL_ACTIVE,
    source: str = "manual",
) -> Tool:
    name = name.strip()
    if not name:
        raise RegistryError("A tool needs a name.")
    client_id = (client_id or str(uuid.uuid4())).strip()
    if not client_id or len(client_id) > 255 or not client_id.isprintable():
        raise RegistryError("client_id must be 1-255 printable characters.")
    if session.scalar(select(Tool.id).where(Tool.client_id == client_id)) is not None:
        raise RegistryError(f"A tool with client_id {client_id} is already registered.")
    uris = [u for u in (_check_url(r, "redirect URI") for r in redirect_uris) if u]
    if not uris:
        raise RegistryError("At least one redirect URI is required.")
    jwks_url = _check_url(jwks_url, "JWKS URL", required=False)
    checked_jwks = _check_jwks(public_jwks)
    if (jwks_url is None) == (checked_jwks is None):
        raise RegistryError("Give exactly one of a JWKS URL or a public key.")
    tool = Tool(
        client_id=client_id,
        name=name,
        description=description,
        status=status,
        login_initiation_url=_check_url(login_initiation_url, "OIDC login initiation URL"),
        redirect_uris=uris,
        jwks_url=jwks_url,
        public_jwks=checked_jwks,
        target_link_uri=_check_url(target_link_uri, "target link URI"),
        deep_linking_url=_check_url(deep_linking_url, "deep linking URL", required=False),
        custom=_check_custom(custom),
        icon_url=_check_url(icon_url, "icon URL", required=False),
        scopes=" ".join(_check_scopes(scopes)),
        send_name=send_name,
        send_email=send_email,
        source=source,
        created_at=utcnow(),
    )
    session.add(tool)
    session.flush()
    return tool


def get_tool(session: Session, client_id: str, *, active_only: bool = True) -> Tool:
    tool = session.scalar(select(Tool).where(Tool.client_id == client_id.strip()))
    if tool is None:
        raise RegistryError(f"No tool with client_id {client_id}.")
    if active_only and tool.status != TOOL_ACTIVE:
        raise RegistryError(f"The tool {client_id} is {tool.status}, not active.")
    return tool


def list_tools(session: Session) -> list[ToolInfo]:
    return [tool_info(session, t) for t in session.scalars(select(Tool).order_by(Tool.id))]


def school_by_code(session: Session, tenant_id: int, school_code: str) -> Org:
    school = session.scalar(
        select(Org).where(
            Org.tenant_id == tenant_id,
            Org.type == "school",
            Org.identifier == school_code,
            Org.status == ACTIVE,
        )
    )
    if school is None:
        raise RegistryError(f"No active school with 学校コード {school_code} in this tenant.")
    return school


def deploy_tool(
    session: Session, client_id: str, tenant_code: str, school_codes: list[str] | None = None
) -> list[DeploymentInfo]:
    """Deploy to the whole tenant (``B_`` + board code) or to each given school (``S_`` + code).

    Deploying again is harmless (an existing deployment is reactivated and returned).
    """
    tool = get_tool(session, client_id)
    tenant = get_tenant(session, tenant_code)
    wanted: list[tuple[str, str | None]] = []
    if school_codes:
        for code in school_codes:
            code = code.strip().upper()
            deployment_id = f"S_{code}"
            if not SCHOOL_DEPLOYMENT.fullmatch(deployment_id):
                raise RegistryError(f"'{code}' is not a 13-character 学校コード.")
            wanted.append((deployment_id, school_by_code(session, tenant.id, code).sourced_id))
    else:
        deployment_id = f"B_{tenant.code}"
        if not BOARD_DEPLOYMENT.fullmatch(deployment_id):
            raise RegistryError(f"'{tenant.code}' is not a 6-digit 教育委員会コード.")
        wanted.append((deployment_id, None))
    rows = []
    for deployment_id, school in wanted:
        row = session.scalar(
            select(Deployment).where(
                Deployment.tool_id == tool.id, Deployment.deployment_id == deployment_id
            )
        )
        if row is None:
            row = Deployment(
                tool_id=tool.id,
                tenant_id=tenant.id,
                deployment_id=deployment_id,
                school_sourced_id=school,
                active=True,
                created_at=utcnow(),
            )
            session.add(row)
        elif row.tenant_id != tenant.id:
            raise RegistryError(f"{deployment_id} already belongs to another tenant.")
        row.active = True
        rows.append(row)
    session.flush()
    return [_deployment_info(session, r) for r in rows]


def deployment_for(
    session: Session, tool_id: int, tenant_id: int, school_sourced_id: str | None
) -> Deployment | None:
    """The deployment a launch in this school uses: the school's own, else the board's."""
    rows = list(
        session.scalars(
            select(Deployment).where(
                Deployment.tool_id == tool_id,
                Deployment.tenant_id == tenant_id,
                Deployment.active.is_(True),
            )
        )
    )
    for row in rows:
        if school_sourced_id is not None and row.school_sourced_id == school_sourced_id:
            return row
    for row in rows:
        if row.school_sourced_id is None:
            return row
    return None


def platform_guid(session: Session, tenant_id: int) -> str:
    """The tenant's ``tool_platform.guid`` (UUID v4), created on first use."""
    row = session.get(PlatformInstance, tenant_id)
    if row is None:
        row = PlatformInstance(tenant_id=tenant_id, guid=str(uuid.uuid4()))
        session.add(row)
        session.flush()
    return row.guid


# --- LTI Dynamic Registration 1.0 ------------------------------------------------------------


def _token_hash(secret: bytes, token: str) -> str:
    return keyed_hash(secret, "lti-registration:" + token)


def create_registration_token(
    session: Session,
    secret: bytes,
    tenant_code: str,
    school_code: str | None = None,
    *,
    lifetime: timedelta = timedelta(hours=24),
) -> str:
    """A one-time token for a tool's registration initiation URL (shown once)."""
    tenant = get_tenant(session, tenant_code)
    if school_code:
        school_by_code(session, tenant.id, school_code.strip().upper())
    token = secrets.token_urlsafe(32)
    session.add(
        RegistrationToken(
            token_hash=_token_hash(secret, token),
            tenant_id=tenant.id,
            school_code=school_code.strip().upper() if school_code else None,
            expires_at=utcnow() + lifetime,
        )
    )
    session.flush()
    return token


TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"


def dynamic_register(
    session: Session, secret: bytes, token: str, body: dict[str, Any]
) -> tuple[Tool, dict[str, Any]]:
    """Store a tool's registration request as *pending* (LTI-DR 1.0 §3.5).

    The administrator approves it with ``tsunagu tool approve``; until then the tool can neither
    launch nor get tokens. Returns the tool and the registration response body.
    """
    row = session.get(RegistrationToken, _token_hash(secret, token))
    now = utcnow()
    if row is None or row.used_at is not None or as_utc(row.expires_at) <= now:
        raise PermissionError("The registration token is unknown, used or expired.")
    config = body.get(TOOL_CONFIGURATION)
    if not isinstance(config, dict):
        raise RegistryError(f"'{TOOL_CONFIGURATION}' is required.")
    if body.get("application_type", "web") != "web":
        raise RegistryError("application_type must be 'web'.")
    if "id_token" not in (body.get("response_types") or []):
        raise RegistryError("response_types must include 'id_token'.")
    grant_types = body.get("grant_types") or []
    if "implicit" not in grant_types or "client_credentials" not in grant_types:
        raise RegistryError("grant_types must include 'implicit' and 'client_credentials'.")
    method = body.get("token_endpoint_auth_method", "private_key_jwt")
    if method != "private_key_jwt":
        raise RegistryError("token_endpoint_auth_method must be 'private_key_jwt'.")
    redirect_uris = body.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not all(isinstance(u, str) for u in redirect_uris):
        raise RegistryError("redirect_uris must be a list of URLs.")
    messages = config.get("messages") or []
    deep_linking_url = None
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("type") == "LtiDeepLinkingRequest":
            deep_linking_url = message.get("target_link_uri") or config.get("target_link_uri")
    requested_scopes = [s for s in str(body.get("scope", "")).split(" ") if s in ALL_SCOPES]
    claims = config.get("claims") or []
    name = str(body.get("client_name") or config.get("domain") or "LTI tool")
    tool = register_tool(
        session,
        name=name,
        login_initiation_url=str(body.get("initiate_login_uri", "")),
        redirect_uris=redirect_uris,
        target_link_uri=str(config.get("target_link_uri", "")),
        jwks_url=body.get("jwks_uri"),
        deep_linking_url=deep_linking_url,
        custom=config.get("custom_parameters") or {},
        icon_url=body.get("logo_uri"),
        scopes=requested_scopes,
        send_name=any(c in claims for c in ("name", "given_name", "family_name")),
        send_email="email" in claims,
        status=TOOL_PENDING,
        source="dynamic",
    )
    contacts = body.get("contacts")
    if isinstance(contacts, list) and contacts:
        tool.contact_email = str(contacts[0])
    tool.registration_request = json.loads(json.dumps(body))
    tool.pending_tenant_id = row.tenant_id
    tool.pending_school_code = row.school_code
    row.used_at = now
    tenant = session.get(Tenant, row.tenant_id)
    assert tenant is not None
    deployment_id = f"S_{row.school_code}" if row.school_code else f"B_{tenant.code}"
    response = dict(body)
    response["client_id"] = tool.client_id
    response[TOOL_CONFIGURATION] = {**config, "deployment_id": deployment_id}
    session.flush()
    return tool, response


def approve_tool(
    session: Session, client_id: str, scopes: list[str] | None = None
) -> tuple[ToolInfo, list[DeploymentInfo]]:
    """Activate a pending dynamic registration and create its deployment.

    ``scopes`` narrows the grant to fewer than the tool asked for (never more).
    """
    tool = get_tool(session, client_id, active_only=False)
    if tool.status != TOOL_PENDING:
        raise RegistryError(f"The tool {client_id} is {tool.status}, not pending approval.")
    if scopes is not None:
        asked = set(tool.scopes.split(" "))
        granted = _check_scopes(scopes)
        extra = [s for s in granted if s not in asked]
        if extra:
            raise RegistryError(f"The tool did not ask for {', '.join(extra)}.")
        tool.scopes = " ".join(granted)
    tool.status = TOOL_ACTIVE
    session.flush()
    deployments: list[DeploymentInfo] = []
    if tool.pending_tenant_id is not None:
        tenant = get_tenant_by_id(session, tool.pending_tenant_id)
        schools = [tool.pending_school_code] if tool.pending_school_code else None
        deployments = deploy_tool(session, tool.client_id, tenant.code, schools)
    return tool_info(session, tool), deployments


def reject_tool(session: Session, client_id: str) -> ToolInfo:
    tool = get_tool(session, client_id, active_only=False)
    tool.status = TOOL_REJECTED
    session.flush()
    return tool_info(session, tool)


def undeploy_tool(session: Session, client_id: str, tenant_id: int, deployment_id: str) -> bool:
    """Deactivate one deployment of a tenant (launches through it stop; links stay for history).

    The row is kept (inactive) rather than deleted so resource links placed through it, their
    grades and statements keep their meaning; deploying again reactivates it. Returns False when
    it was already inactive.
    """
    tool = get_tool(session, client_id, active_only=False)
    row = session.scalar(
        select(Deployment).where(
            Deployment.tool_id == tool.id,
            Deployment.tenant_id == tenant_id,
            Deployment.deployment_id == deployment_id,
        )
    )
    if row is None:
        raise RegistryError(f"The tool {client_id} has no deployment {deployment_id} here.")
    was_active = row.active
    row.active = False
    session.flush()
    return was_active
