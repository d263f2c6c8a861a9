"""What the portal needs from LTI, one function per need: the seam where ``tsunagu.lti`` plugs in.

The learner home, the period editor and the launch all go through this module:

- :func:`placed_materials`: the resource links LTI holds for a period, found by their opaque
  placement ``timetable:<slot id>`` (``lti.launch.resource_links_for``);
- :func:`class_tools`: the tools deployed to the class's school or board;
- :func:`launch_target`: the tool's login initiation URL for a resource-link launch
  (``lti.launch.start_launch``; LTI records the LMS ``launched`` statement when it answers);
- :func:`deep_linking_tools` / :func:`start_deep_linking`: a teacher picks content in a tool
  (LTI Deep Linking 2.0); the items the tool returns become resource links with the period's
  placement, and LTI records the teacher's LMS ``shared`` statement for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from urllib.parse import quote

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.orm import Session

from tsunagu.container import Container
from tsunagu.identity.principal import Principal
from tsunagu.lti import launch as lti
from tsunagu.lti.models import TOOL_ACTIVE, Deployment, ResourceLink
from tsunagu.lti.models import Tool as LtiTool
from tsunagu.roster.models import Class
from tsunagu.timetable.service import ClassInfo, Material, Slot


@dataclass(frozen=True)
class Tool:
    """A tile on the learner home: a tool of the class, opened at the class's first link to it
    (``launch_url`` is empty when no link of the tool is placed in the class yet)."""

    name: str
    launch_url: str


@dataclass(frozen=True)
class DeepLinkingTool:
    """A tool a teacher can pick materials from (LTI Deep Linking 2.0 §2)."""

    client_id: str
    name: str


class LaunchRefusedError(Exception):
    """The link cannot be opened by this person (pages answer with ``status``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def launch_url(resource_link_id: str) -> str:
    """The portal URL a learner clicks to open a material."""
    return f"/launch/{quote(resource_link_id, safe='')}"


def _material(link: lti.ResourceLinkInfo) -> Material:
    return Material(0, link.id, link.title, link.tool_name)


def placed_materials(
    session: Session, tenant_id: int, class_sourced_id: str, slots: list[Slot]
) -> dict[int, tuple[Material, ...]]:
    """The materials on each of these periods (slot id → materials, oldest first)."""
    if not slots:
        return {}
    by_placement = {slot.placement: slot.id for slot in slots}
    placed: dict[int, list[Material]] = {}
    # One query for the class, not one per period: the home is the launch morning's hot path.
    for link in lti.resource_links_for(session, tenant_id, class_sourced_id):
        slot_id = by_placement.get(link.placement or "")
        if slot_id is not None:
            placed.setdefault(slot_id, []).append(_material(link))
    return {slot_id: tuple(items) for slot_id, items in placed.items()}


@dataclass(frozen=True)
class _DeployedTool:
    client_id: str
    name: str
    deep_linking_url: str | None


@cache
def _deployed_tools_query() -> Executable:
    """Built once per process: the learner home runs it on every visit."""
    return (
        select(LtiTool.id, LtiTool.client_id, LtiTool.name, LtiTool.deep_linking_url)
        .join(Deployment, Deployment.tool_id == LtiTool.id)
        .where(
            Deployment.tenant_id == bindparam("tenant_id"),
            Deployment.active.is_(True),
            LtiTool.status == TOOL_ACTIVE,
            (Deployment.school_sourced_id.is_(None))
            | (Deployment.school_sourced_id == bindparam("school_sourced_id")),
        )
        .order_by(LtiTool.name, LtiTool.id)
    )


def _deployed_tools(
    session: Session, tenant_id: int, school_sourced_id: str
) -> list[_DeployedTool]:
    """Tools deployed to the school or to the whole board (a tool deployed both ways once)."""
    rows = session.execute(
        _deployed_tools_query(), {"tenant_id": tenant_id, "school_sourced_id": school_sourced_id}
    )
    tools: dict[int, _DeployedTool] = {}
    for tool_id, client_id, name, deep_linking_url in rows:
        tools.setdefault(tool_id, _DeployedTool(client_id, name, deep_linking_url))
    return list(tools.values())


def class_tools(
    session: Session, tenant_id: int, klass: ClassInfo, week: dict[tuple[int, int], Slot]
) -> list[Tool]:
    """The tools deployed to the class's school or board, one tile each, opened at the first
    material of theirs on the week (``week`` as :func:`placed_materials` filled it in: no second
    read of the class's links on the home's hot path)."""
    first_link: dict[str, str] = {}
    for key in sorted(week):
        for material in week[key].materials:
            first_link.setdefault(material.tool_name, material.resource_link_id)
    return [
        Tool(tool.name, launch_url(first_link[tool.name]) if tool.name in first_link else "")
        for tool in _deployed_tools(session, tenant_id, klass.school_sourced_id)
    ]


def launch_target(container: Container, principal: Principal, resource_link_id: str) -> str:
    """Where to send the browser to open a link: the tool's OIDC login initiation URL.

    Only links of the person's own classes open from the portal; any other link is "not found"
    (a learner learns nothing about other classes' materials)."""
    classes = principal.classes_attended() | principal.classes_taught()
    try:
        with container.database.session() as session:
            info = session.get(ResourceLink, resource_link_id)
            if (
                info is None
                or info.tenant_id != principal.tenant_id
                or info.class_sourced_id not in classes
            ):
                raise LaunchRefusedError("この教材は開けません。", 404)
        return lti.start_launch(container, principal, resource_link_id)
    except lti.LaunchError as exc:
        raise LaunchRefusedError(str(exc), 404 if exc.status == 403 else exc.status) from exc


def deep_linking_tools(
    session: Session, principal: Principal, class_sourced_id: str
) -> list[DeepLinkingTool]:
    """Tools offering Deep Linking to this class (deployed, with a deep linking URL)."""
    klass = session.get(Class, (principal.tenant_id, class_sourced_id))
    if klass is None:
        return []
    return [
        DeepLinkingTool(tool.client_id, tool.name)
        for tool in _deployed_tools(session, principal.tenant_id, klass.school_sourced_id)
        if tool.deep_linking_url
    ]


def start_deep_linking(
    container: Container,
    principal: Principal,
    client_id: str,
    class_sourced_id: str,
    placement: str,
    return_url: str,
) -> str:
    """The tool's login initiation URL for a Deep Linking request for this period
    (``return_url``: where the page after the tool's answer leads back to)."""
    try:
        return lti.start_deep_linking(
            container,
            principal,
            client_id,
            class_sourced_id,
            placement,
            return_url=return_url,
        )
    except lti.LaunchError as exc:
        raise LaunchRefusedError(str(exc), exc.status) from exc


def unplace(session: Session, principal: Principal, slot: Slot, resource_link_id: str) -> bool:
    """Take a link off a period (the caller has checked the teacher may edit it)."""
    return lti.unplace_resource_link(session, principal.tenant_id, resource_link_id, slot.placement)


def unplace_all(session: Session, principal: Principal, slot: Slot) -> int:
    """Take every link off a period being cleared (the caller has checked the permission)."""
    return lti.unplace_all(session, principal.tenant_id, slot.placement)
