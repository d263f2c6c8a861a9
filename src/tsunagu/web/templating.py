"""Server-rendered pages: one Jinja environment for every domain's templates.

Each domain keeps its pages in its own ``templates/`` folder and extends ``base.html`` from
``tsunagu/web/templates``. The environment is built by the composition root (never at import
time) and reached through :func:`render`. Interface text goes through gettext (``_()``) so the
portal can answer in Japanese or English; the per-request translations are installed by the
portal's locale middleware (``request.state.translations``), English-as-written otherwise.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

PACKAGE_ROOT = Path(__file__).resolve().parent.parent

#: Domains whose ``templates/`` folders the environment searches, first match wins.
TEMPLATE_DOMAINS = ("web", "portal", "identity", "lti", "lrs", "roster")


def _translations(context: Context) -> gettext.NullTranslations:
    request = context.get("request")
    found = getattr(getattr(request, "state", None), "translations", None)
    return found if isinstance(found, gettext.NullTranslations) else gettext.NullTranslations()


@pass_context
def _gettext(context: Context, message: str, **variables: Any) -> str:
    text = _translations(context).gettext(message)
    return text % variables if variables else text


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int, **variables: Any) -> str:
    text = _translations(context).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


@pass_context
def _csrf_input(context: Context) -> Markup:
    from tsunagu.identity.web import csrf_input

    return csrf_input(context["request"])


@pass_context
def _csrf_token(context: Context) -> str:
    from tsunagu.identity.web import csrf_token

    return csrf_token(context["request"])


def build_templates() -> Jinja2Templates:
    folders = [PACKAGE_ROOT / domain / "templates" for domain in TEMPLATE_DOMAINS]
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders if f.is_dir()]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.globals.update(_=_gettext, gettext=_gettext, ngettext=_ngettext)
    environment.globals["csrf_input"] = _csrf_input
    environment.globals["csrf_token"] = _csrf_token
    return Jinja2Templates(env=environment)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page with the app's environment (``app.state.templates``)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code)
