"""What the portal needs from LTI, one function per need: the seam where ``tsunagu.lti`` plugs in.

FIRST VERSION (before the LTI domain is merged): materials are read from the portal's own
timetable tables, launches are a stand-in page that records the launch in the LRS, and deep
linking falls back to a form where the teacher names a resource link. The coordinator rewires:

- :func:`placed_materials` → ``lti.resource_links_for(session, tenant_id, class_sourced_id,
  placement=placement_of(slot_id))`` (keep the ``Material`` shape);
- :func:`class_tools` → the tools deployed for the class's school (``lti`` registry);
- :func:`launch` → ``lti.start_launch(principal, resource_link_id)`` (LTI records the launch
  statement itself; drop :func:`tsunagu.portal.statements.launched` then);
- :func:`deep_linking_tools` → the deployments offering Deep Linking to the class's school, and
  :func:`start_deep_linking` (called by ``GET /teach/slots/{slot}/deep-link/{deployment}``) →
  ``lti.start_deep_linking(principal, deployment, class_sourced_id, placement="timetable:<slot
  id>")``. Where LTI stores the returned items, it should also record the LMS-profile
  ``shared`` statement (the manual form does it with :mod:`tsunagu.portal.statements`).

The learner home, the period editor and the launch check all go through this module, so these
functions are the only places to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.responses import Response

from tsunagu.container import Container
from tsunagu.identity.principal import Principal
from tsunagu.timetable import service as timetable
from tsunagu.timetable.service import Material, Slot


@dataclass(frozen=True)
class Tool:
    name: str
    launch_url: str


@dataclass(frozen=True)
class DeepLinkingTool:
    """A tool a teacher can pick materials from (LTI Deep Linking 2.0 §2)."""

    deployment_id: str
    name: str


@dataclass(frozen=True)
class Launched:
    """Where the launch went (the stand-in shows it; LTI answers with its own auto-post form)."""

    slot: Slot
    material: Material


def launch_url(resource_link_id: str) -> str:
    """The portal URL a learner clicks to open a material."""
    return f"/launch/{quote(resource_link_id, safe='')}"


def placed_materials(
    session: Session, tenant_id: int, class_sourced_id: str, slots: list[Slot]
) -> dict[int, tuple[Material, ...]]:
    """The materials on each of these periods (slot id → materials, in teacher's order)."""
    return {slot.id: slot.materials for slot in slots}


def class_tools(
    session: Session, tenant_id: int, class_sourced_id: str, week: dict[tuple[int, int], Slot]
) -> list[Tool]:
    """The tools of a class, one tile each. First version: the tools its timetable uses."""
    seen: dict[str, Tool] = {}
    for key in sorted(week):
        for material in week[key].materials:
            name = material.tool_name or material.title
            seen.setdefault(name, Tool(name, launch_url(material.resource_link_id)))
    return sorted(seen.values(), key=lambda t: t.name)


def find_launchable(
    session: Session, principal: Principal, resource_link_id: str
) -> Launched | None:
    """The material if it is placed on one of the learner's (or teacher's) classes."""
    classes = principal.classes_attended() | principal.classes_taught()
    found = timetable.find_material(session, principal.tenant_id, classes, resource_link_id)
    return Launched(*found) if found else None


def launch(container: Container, principal: Principal, launched: Launched) -> None:
    """Stand-in for ``lti.start_launch``: records the launch so it shows in recent activity."""
    from tsunagu.portal import statements

    statements.launched(container, principal, launched.slot, launched.material)


def deep_linking_tools(
    session: Session, principal: Principal, class_sourced_id: str
) -> list[DeepLinkingTool]:
    """Tools offering Deep Linking to this class. First version: none (manual form instead)."""
    return []


def start_deep_linking(
    container: Container,
    principal: Principal,
    deployment_id: str,
    class_sourced_id: str,
    placement: str,
) -> Response | None:
    """The response that sends the teacher to the tool's Deep Linking picker, or None if the
    deployment is unknown. First version: None. Wired: ``lti.start_deep_linking(principal,
    deployment, class_sourced_id, placement=placement)``; the items the tool returns become
    resource links with that placement, which :func:`placed_materials` then lists."""
    return None
