"""What HTTP handlers of every domain use to learn who is signed in.

CONTRACT (kept stable while identity grows): ``optional_principal`` and ``require_principal`` are
FastAPI dependencies; ``csrf_input`` renders the hidden field every state-changing form carries.
``request.state.principal`` is set by the session middleware
(:mod:`tsunagu.identity.middleware`); the CSRF token comes from the ``asgi-csrf`` middleware
(double-submit signed cookie), which checks the ``csrftoken`` form field or the ``X-CSRFToken``
header (htmx: ``hx-headers='{"X-CSRFToken": "{{ csrf_token() }}"}'``) on every unsafe method.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from markupsafe import Markup

from tsunagu.identity.principal import Principal


class SignInRequired(HTTPException):
    """Raised by :func:`require_principal`; pages redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(
            status_code=status.HTTP_303_SEE_OTHER,
            headers={"Location": f"/signin?next={quote(next_url, safe='')}"},
        )


# Both dependencies are ``async`` although they never wait: FastAPI runs a plain ``def``
# dependency in a worker thread, a hop that cost more than the rest of a small page.


async def optional_principal(request: Request) -> Principal | None:
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else None


async def require_principal(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return principal


#: The form field and header names the CSRF middleware checks.
CSRF_FIELD = "csrftoken"
CSRF_HEADER = "X-CSRFToken"


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (for htmx headers); empty without the CSRF middleware."""
    get = request.scope.get("csrftoken")
    return str(get()) if callable(get) else ""


def csrf_input(request: Request) -> Markup:
    """The hidden CSRF field every state-changing form carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, csrf_token(request)
    )
