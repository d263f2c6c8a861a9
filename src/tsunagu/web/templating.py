"""Server-rendered pages: one Jinja environment for every domain's templates.

Each domain keeps its pages in its own ``templates/`` folder and extends ``base.html`` from
``tsunagu/web/templates``. The environment is built by the composition root (never at import
time) and reached through :func:`render`. Interface text goes through gettext (``_()``) so the
portal can answer in Japanese or English; the per-request translations are installed by the
portal's locale middleware (``request.state.translations``), English-as-written otherwise.
"""

from __future__ import annotations

import gettext
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from tsunagu.web import dates

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


def _language(context: Context) -> str:
    request = context.get("request")
    found = getattr(getattr(request, "state", None), "locale", None)
    return found if isinstance(found, str) else "ja"


@pass_context
def _ruby(context: Context, text: str) -> Markup:
    """Furigana on young learners' screens (``kid_mode`` in the page context), else plain."""
    from tsunagu.web.furigana import with_ruby

    if context.get("kid_mode") and _language(context) == "ja":
        return with_ruby(str(text))
    return Markup(escape(text))  # noqa: S704  (escaped)


@pass_context
def _long_date(context: Context, day: date | datetime) -> str:
    if context.get("kid_mode") and _language(context) == "ja":
        return dates.kana_date(day)
    return dates.long_date(day, _language(context))


@pass_context
def _short_date(context: Context, day: date | datetime) -> str:
    if context.get("kid_mode") and _language(context) == "ja":
        return dates.kana_date(day)
    return dates.short_date(day, _language(context))


@pass_context
def _nendo(context: Context, day: date) -> str:
    return dates.nendo(day, _language(context))


@pass_context
def _asset_url(context: Context, name: str) -> str | None:
    """The hashed URL of a static asset, or None when it is not installed."""
    request = context.get("request")
    registry = getattr(getattr(getattr(request, "app", None), "state", None), "assets", None)
    return registry.url(name) if registry is not None else None


def build_templates() -> Jinja2Templates:
    folders = [PACKAGE_ROOT / domain / "templates" for domain in TEMPLATE_DOMAINS]
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders if f.is_dir()]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        # No stat() of every template file on every render (measured at ~1% of a home page);
        # `tsunagu serve --reload` restarts on template edits instead.
        auto_reload=False,
    )
    environment.globals.update(_=_gettext, gettext=_gettext, ngettext=_ngettext)
    environment.globals["csrf_input"] = _csrf_input
    environment.globals["csrf_token"] = _csrf_token
    environment.globals["asset_url"] = _asset_url
    environment.filters.update(
        ruby=_ruby,
        long_date=_long_date,
        short_date=_short_date,
        nendo=_nendo,
        time_of_day=dates.time_of_day,
    )
    return Jinja2Templates(env=environment)


def render_fragment(request: Request, name: str, context: dict[str, Any]) -> Markup:
    """A template rendered to HTML for inclusion in a page (``{{ fragment }}``), with the same
    environment, globals and per-request translations as :func:`render`."""
    templates: Jinja2Templates = request.app.state.templates
    html = templates.env.get_template(name).render({"request": request, **context})
    return Markup(html)  # noqa: S704  (autoescaped template output)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page with the app's environment (``app.state.templates``)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code)
