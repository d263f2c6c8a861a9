"""The portal's front page: which boards this deployment serves and where to go next.

The learners' and teachers' pages come with sign-in; until then the front page tells an operator
what is loaded and where the machine interfaces are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tsunagu import __version__
from tsunagu.container import Container
from tsunagu.http import get_container
from tsunagu.roster.service import roster_summary
from tsunagu.tenancy.service import list_tenants

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.get("/", response_class=HTMLResponse)
def front_page(
    request: Request, container: Annotated[Container, Depends(get_container)]
) -> HTMLResponse:
    with container.database.session() as session:
        boards = [(tenant, roster_summary(session, tenant.id)) for tenant in list_tenants(session)]
    return templates.TemplateResponse(
        request, "front.html", {"boards": boards, "version": __version__}
    )
