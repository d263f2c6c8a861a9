"""The portal's own static files and the interface-language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from tsunagu.web.assets import IMMUTABLE, AssetRegistry
from tsunagu.web.i18n import LANGUAGE_COOKIE, LANGUAGES

router = APIRouter(include_in_schema=False)


@router.get("/static/{filename}")
def static_asset(filename: str, request: Request) -> Response:
    registry: AssetRegistry = request.app.state.assets
    asset = registry.by_filename(filename)
    if asset is None:
        raise HTTPException(status_code=404)
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.content_type, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def _local_path(target: str) -> str:
    """Only same-site paths: ``next`` must not turn the switch into an open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.post("/lang")
def choose_language(
    language: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    if language not in LANGUAGES:
        raise HTTPException(status_code=400, detail=f"language must be one of {LANGUAGES}")
    response = RedirectResponse(_local_path(next), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=400 * 24 * 3600, httponly=True, samesite="lax"
    )
    return response
