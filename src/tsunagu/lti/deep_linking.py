"""Deep Linking 2.0 responses: verify the tool's signed answer and create the resource links.

What is checked (LTI Deep Linking 2.0 §4.2, lti-oneroster-notes.md §1.4.7): the JWT is RS256
signed by a key of the tool whose ``client_id`` is its ``iss``; ``aud`` is this platform; it is in
date; the ``nonce`` is present and not seen before; ``message_type`` and ``version``; the
``deployment_id`` is the one the request was made for; the ``data`` claim is the sealed value
this platform sent (which says who asked, for which class and placement, until when). Content
items must fit the request's settings: only ``ltiResourceLink``, ``lineItem`` only when line items
were accepted, a positive ``scoreMaximum``, string custom parameters, http(s) URLs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from tsunagu.container import Container
from tsunagu.identity.principal import Principal
from tsunagu.lti import vocabulary as v
from tsunagu.lti.launch import (
    DL_DATA_PURPOSE,
    LaunchError,
    create_resource_link,
    issuer,
    use_once,
)
from tsunagu.lti.models import TOOL_ACTIVE, Deployment, Tool
from tsunagu.lti.sealing import SealError, open_json
from tsunagu.lti.toolkeys import ToolTokenError, header_and_claims, verify_tool_jwt
from tsunagu.roster.models import User

log = logging.getLogger(__name__)


class DeepLinkingError(LaunchError):
    """A response the spec forbids; ``reasons`` lists what is wrong, for the page."""

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or [message]


@dataclass
class DeepLinkingOutcome:
    created: list[tuple[str, str]] = field(default_factory=list)  # (resource link id, title)
    message: str | None = None
    error_message: str | None = None
    class_sourced_id: str = ""
    placement: str | None = None
    return_url: str | None = None


def _check_url(value: Any, where: str, reasons: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        reasons.append(f"{where}: must be a string URL")
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        reasons.append(f"{where}: must be an absolute http(s) URL")
        return None
    return value


def _check_items(items: Any, accept_lineitem: bool) -> tuple[list[dict[str, Any]], list[str]]:
    reasons: list[str] = []
    if items is None:
        return [], reasons
    if not isinstance(items, list):
        return [], [f"{v.CLAIM_DL_CONTENT_ITEMS} must be an array"]
    accepted: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"content_items[{index}]"
        if not isinstance(item, dict):
            reasons.append(f"{where}: must be an object")
            continue
        if item.get("type") != "ltiResourceLink":
            kind = item.get("type")
            reasons.append(f"{where}: type {kind!r} is not accepted (only ltiResourceLink)")
            continue
        url = _check_url(item.get("url"), f"{where}.url", reasons)
        custom = item.get("custom", {})
        if not isinstance(custom, dict) or not all(
            isinstance(k, str) and isinstance(val, str) for k, val in custom.items()
        ):
            reasons.append(f"{where}.custom: must map names to strings")
            custom = {}
        title = item.get("title")
        if title is not None and not isinstance(title, str):
            reasons.append(f"{where}.title: must be a string")
            title = None
        line_item = item.get("lineItem")
        if line_item is not None:
            if not accept_lineitem:
                reasons.append(f"{where}.lineItem: line items were not accepted for this tool")
                line_item = None
            elif not isinstance(line_item, dict):
                reasons.append(f"{where}.lineItem: must be an object")
                line_item = None
            else:
                maximum = line_item.get("scoreMaximum")
                if (
                    isinstance(maximum, bool)
                    or not isinstance(maximum, int | float)
                    or maximum <= 0
                ):
                    reasons.append(f"{where}.lineItem.scoreMaximum: must be a number above 0")
                    line_item = None
        accepted.append(
            {
                "title": title,
                "text": item.get("text") if isinstance(item.get("text"), str) else None,
                "url": url,
                "custom": custom,
                "lineItem": line_item,
            }
        )
    return accepted, reasons


def accept_response(
    container: Container, token: str, principal: Principal | None
) -> DeepLinkingOutcome:
    """Verify a Deep Linking response JWT and create the links it carries (all or nothing)."""
    settings = container.settings
    try:
        _, unverified = header_and_claims(token)
    except ToolTokenError as exc:
        raise DeepLinkingError("JWT が読めません。 (Not a JWT.)", [str(exc)]) from exc
    client_id = unverified.get("iss")
    with container.database.session() as session:
        tool = session.scalar(select(Tool).where(Tool.client_id == str(client_id)))
        if tool is None or tool.status != TOOL_ACTIVE:
            raise DeepLinkingError(
                "登録されていないツールからの応答です。 (Unknown tool.)",
                [f"iss {client_id!r} is not the client_id of an active tool"],
            )
        try:
            claims = verify_tool_jwt(tool, token)
        except ToolTokenError as exc:
            raise DeepLinkingError(
                "署名を確認できません。 (Signature check failed.)", [str(exc)]
            ) from exc
    reasons: list[str] = []
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if issuer(settings) not in audiences:
        reasons.append(f"aud must contain this platform's issuer {issuer(settings)}")
    if claims.get(v.CLAIM_MESSAGE_TYPE) != v.DEEP_LINKING_RESPONSE:
        reasons.append(f"message_type must be {v.DEEP_LINKING_RESPONSE}")
    if claims.get(v.CLAIM_VERSION) != v.LTI_VERSION:
        reasons.append("version must be 1.3.0")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        reasons.append("nonce is required")
    try:
        data = open_json(
            settings.resolved_secret_key, DL_DATA_PURPOSE, str(claims.get(v.CLAIM_DL_DATA, ""))
        )
    except SealError:
        data = None
        reasons.append("data must be returned exactly as the platform sent it")
    if data is not None and int(data.get("exp", 0)) < time.time():
        reasons.append("the deep linking request has expired; start again from the portal")
    if reasons:
        raise DeepLinkingError("ツールからの応答が仕様に合いません。 (Invalid response.)", reasons)
    assert data is not None
    if principal is not None and (
        principal.tenant_id != data.get("t") or principal.user_sourced_id != data.get("u")
    ):
        raise DeepLinkingError(
            "別の利用者が開始した教材選択です。 (Started by someone else.)",
            ["the signed-in user is not the one who started deep linking"],
        )
    with container.database.session() as session:
        deployment = session.get(Deployment, data.get("d"))
        if deployment is None or deployment.tool_id != tool.id or not deployment.active:
            raise DeepLinkingError("配備が見つかりません。", ["unknown deployment"])
        if claims.get(v.CLAIM_DEPLOYMENT_ID) != deployment.deployment_id:
            raise DeepLinkingError(
                "配備IDが一致しません。 (deployment_id mismatch.)",
                [f"deployment_id must be {deployment.deployment_id}"],
            )
        accept_lineitem = any(s in v.AGS_SCOPES for s in tool.scopes.split(" "))
    items, reasons = _check_items(claims.get(v.CLAIM_DL_CONTENT_ITEMS), accept_lineitem)
    if reasons:
        raise DeepLinkingError("受け付けられない教材が含まれています。 (Items refused.)", reasons)
    assert isinstance(nonce, str)
    if not use_once(container, "dl-nonce", f"{tool.id}:{nonce}", 3600):
        raise DeepLinkingError("この応答は使用済みです。 (Replayed response.)", ["nonce replayed"])
    outcome = DeepLinkingOutcome(
        class_sourced_id=str(data["c"]),
        placement=data.get("p"),
        return_url=data.get("ru"),
        message=claims.get(v.CLAIM_DL_MSG) if isinstance(claims.get(v.CLAIM_DL_MSG), str) else None,
        error_message=(
            claims.get(v.CLAIM_DL_ERRORMSG)
            if isinstance(claims.get(v.CLAIM_DL_ERRORMSG), str)
            else None
        ),
    )
    with container.database.transaction() as session:
        deployment = session.get(Deployment, data["d"])
        assert deployment is not None
        for item in items:
            link = create_resource_link(
                session,
                tenant_id=int(data["t"]),
                deployment=deployment,
                class_sourced_id=str(data["c"]),
                title=item["title"] or tool.name,
                url=item["url"],
                custom=item["custom"],
                placement=data.get("p"),
                description=item["text"],
                line_item=item["lineItem"],
                created_by=str(data["u"]),
            )
            outcome.created.append((link.id, link.title))
        teacher = session.get(User, (int(data["t"]), str(data["u"])))
        umi = teacher.user_master_identifier if teacher is not None else None
    if outcome.created and umi:
        _record_shared(container, int(data["t"]), umi, tool.name, outcome)
    return outcome


def _record_shared(
    container: Container, tenant_id: int, teacher: str, tool_name: str, outcome: DeepLinkingOutcome
) -> None:
    """LMS profile: handing content to a class is the teacher's ``shared`` statement
    (eportal-standard.md §5.3), one per new link. A failure is logged, never raised: the links
    exist and the teacher must see them."""
    from sqlalchemy.exc import SQLAlchemyError

    from tsunagu.lrs import portal_statements as xapi
    from tsunagu.lrs.service import LrsError

    base = container.settings.base_url.rstrip("/")
    for link_id, title in outcome.created:
        activity = xapi.PortalActivity(
            id=f"{base}/lti/resource-links/{link_id}",
            name_ja=title,
            description_ja=tool_name,
        )
        try:
            xapi.record(container, tenant_id, xapi.shared(container.settings, teacher, activity))
        except (LrsError, SQLAlchemyError, ValueError):
            log.exception("could not record the shared statement")
