"""The portal's front page: where a visitor starts (sign in) and a signed-in person is sent on.

Signed in, everyone goes to their own start page (learners' timetable, teachers' classes,
administrators' console); signed out, the page offers sign-in and says which boards this
deployment serves and where the machine interfaces are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from tsunagu import __version__
from tsunagu.container import Container
from tsunagu.http import container_dependency
from tsunagu.identity import policy
from tsunagu.identity.principal import PortalRole, Principal
from tsunagu.identity.web import optional_principal
from tsunagu.roster.service import roster_summary
from tsunagu.tenancy.service import list_tenants
from tsunagu.web.templating import render

router = APIRouter(include_in_schema=False)


def start_page(principal: Principal) -> str | None:
    """Where this person starts (None: nowhere in the portal window for them)."""
    if principal.has(PortalRole.STUDENT):
        return "/home"
    if policy.is_staff(principal):
        return "/teach"
    if policy.can_open_admin(principal):
        return "/admin"
    return None


@router.get("/")
def front_page(
    request: Request,
    container: Annotated[Container, Depends(container_dependency)],
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Response:
    if principal is not None:
        target = start_page(principal)
        if target is not None:
            return RedirectResponse(target, status_code=303)
    with container.database.session() as session:
        boards = [(tenant, roster_summary(session, tenant.id)) for tenant in list_tenants(session)]
    return render(
        request,
        "front.html",
        {"boards": boards, "version": __version__, "signed_in": principal is not None},
    )
