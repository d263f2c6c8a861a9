"""HTTP endpoints of the LTI platform (thin: parse, call the services, render).

Browser-facing: ``/lti/launch/{id}``, ``/lti/review/{id}``, ``/lti/deep-linking/start``,
``/lti/authorize``, ``/lti/deep-linking/return``. Tool-facing: ``/lti/jwks``, ``/lti/token``,
``/lti/.well-known/openid-configuration``, ``/lti/register`` and the NRPS / AGS services under
``/lti/services/{tenant}/contexts/{class}/…``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from tsunagu import __version__
from tsunagu.container import Container
from tsunagu.http import container_dependency
from tsunagu.identity.principal import Principal
from tsunagu.identity.web import optional_principal, require_principal
from tsunagu.lti import deep_linking, launch, registry, services, tokens
from tsunagu.lti import vocabulary as v
from tsunagu.lti.keys import public_jwks
from tsunagu.web.templating import render


class LtiRoute(APIRoute):
    """Malformed parameters are a 400 with where (never FastAPI's 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                where = "; ".join(
                    ".".join(str(part) for part in error.get("loc", ()))
                    + ": "
                    + error.get("msg", "")
                    for error in exc.errors()
                )
                return JSONResponse({"error": f"Malformed request: {where}"}, status_code=400)

        return handle


router = APIRouter(tags=["LTI 1.3"], route_class=LtiRoute)

ContainerDep = Annotated[Container, Depends(container_dependency)]
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error_page(request: Request, exc: launch.LaunchError) -> Response:
    reasons = getattr(exc, "reasons", None)
    return render(
        request,
        "lti_error.html",
        {"message": exc.message, "reasons": reasons if reasons != [exc.message] else None},
        status_code=exc.status,
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _own_policy(
    response: Response, nonce: str, *, form_action: str = "'self'", frame_src: str = "'none'"
) -> Response:
    """This page's own Content-Security-Policy (the portal's default forbids inline scripts,
    foreign form targets and framing): one nonce'd script, posting only to the tool's origin,
    framed only by the portal itself (iframe launches)."""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        f"form-action {form_action}; frame-src {frame_src}; frame-ancestors 'self'; "
        "base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _form_post(request: Request, action: str, fields: dict[str, str]) -> Response:
    nonce = secrets.token_urlsafe(16)
    response = render(
        request, "lti_form_post.html", {"action": action, "fields": fields, "csp_nonce": nonce}
    )
    response.headers.update(_NO_STORE)
    return _own_policy(response, nonce, form_action=_origin(action))


# --- keys and configuration -----------------------------------------------------------------


@router.get("/lti/jwks", summary="The platform's public keys (JWKS)")
@router.get("/.well-known/jwks.json", include_in_schema=False)
def jwks(container: ContainerDep) -> JSONResponse:
    with container.database.session() as session:
        document = public_jwks(session)
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


@router.get("/lti/.well-known/openid-configuration", summary="Platform configuration (LTI-DR)")
def openid_configuration(container: ContainerDep) -> JSONResponse:
    settings = container.settings
    iss = launch.issuer(settings)
    return JSONResponse(
        {
            "issuer": iss,
            "authorization_endpoint": launch.authorize_url(settings),
            "token_endpoint": launch.token_url(settings),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": launch.jwks_url(settings),
            "registration_endpoint": iss + "/lti/register",
            "authorization_server": launch.token_url(settings),
            "scopes_supported": ["openid", *v.ALL_SCOPES],
            "response_types_supported": ["id_token"],
            "response_modes_supported": ["form_post"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "claims_supported": [
                "iss",
                "aud",
                "sub",
                "iat",
                "exp",
                "nonce",
                "name",
                "given_name",
                "family_name",
                "email",
            ],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "tsunagu",
                "version": __version__,
                "messages_supported": [
                    {"type": v.RESOURCE_LINK_REQUEST},
                    {"type": v.DEEP_LINKING_REQUEST, "placements": ["ContentArea"]},
                ],
            },
        }
    )


@router.post("/lti/register", summary="LTI Dynamic Registration endpoint")
async def register(request: Request, container: ContainerDep) -> JSONResponse:
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return JSONResponse(
            {"error": "invalid_token", "error_description": "Bearer registration token required"},
            status_code=401,
        )
    raw = await _limited_body(request, 65536)
    try:
        body = json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return JSONResponse(
            {
                "error": "invalid_client_metadata",
                "error_description": "the body must be a JSON object of at most 64 KiB",
            },
            status_code=400,
        )

    def run() -> dict[str, Any]:
        with container.database.transaction() as session:
            _, answer = registry.dynamic_register(
                session, container.settings.resolved_secret_key, token.strip(), body
            )
            return answer

    try:
        answer = await run_in_threadpool(run)
    except PermissionError as exc:
        return JSONResponse(
            {"error": "invalid_token", "error_description": str(exc)}, status_code=401
        )
    except registry.RegistryError as exc:
        return JSONResponse(
            {"error": "invalid_client_metadata", "error_description": str(exc)}, status_code=400
        )
    return JSONResponse(answer)


# --- browser side: starting launches --------------------------------------------------------


def _redirect_or_post(request: Request, url: str, post: bool) -> Response:
    if not post:
        return RedirectResponse(url, status_code=303, headers=_NO_STORE)
    # Third-party-initiated login by POST (Security Framework §5.1.1.1 allows GET or POST).
    parts = urlsplit(url)
    action = parts._replace(query="").geturl()
    return _form_post(request, action, dict(parse_qsl(parts.query)))


@router.get("/lti/launch/{resource_link_id}", summary="Launch a resource link")
def launch_link(
    request: Request,
    resource_link_id: str,
    container: ContainerDep,
    principal: Annotated[Principal, Depends(require_principal)],
    post: bool = False,
    target: str = Query("window", pattern="^(window|iframe)$"),
) -> Response:
    try:
        url = launch.start_launch(container, principal, resource_link_id, document_target=target)
    except launch.LaunchError as exc:
        return _error_page(request, exc)
    if target == "iframe":
        # Embedded launch: the portal page frames the tool and answers its Platform Storage
        # postMessages (cookies of a framed tool are third-party and often blocked).
        nonce = secrets.token_urlsafe(16)
        origins = launch.tool_origins(container, resource_link_id)
        page = render(
            request,
            "lti_iframe.html",
            {"src": url, "title": "LTI", "origins": origins, "csp_nonce": nonce},
        )
        return _own_policy(page, nonce, frame_src=" ".join(origins) or "'none'")
    return _redirect_or_post(request, url, post)


@router.get("/lti/review/{resource_link_id}", summary="MEXCBT result review launch")
def review_link(
    request: Request,
    resource_link_id: str,
    container: ContainerDep,
    principal: Annotated[Principal, Depends(require_principal)],
    for_user: str,
    show_score: bool = True,
    show_correct: bool = True,
) -> Response:
    try:
        url = launch.start_review_launch(
            container,
            principal,
            resource_link_id,
            for_user,
            show_score=show_score,
            show_correct=show_correct,
        )
    except launch.LaunchError as exc:
        return _error_page(request, exc)
    return _redirect_or_post(request, url, False)


@router.get("/lti/deep-linking/start", summary="Open a tool to pick content (Deep Linking)")
def deep_linking_start(
    request: Request,
    container: ContainerDep,
    principal: Annotated[Principal, Depends(require_principal)],
    client_id: str,
    class_id: str = Query(..., alias="class"),
    placement: str | None = None,
) -> Response:
    try:
        url = launch.start_deep_linking(container, principal, client_id, class_id, placement)
    except launch.LaunchError as exc:
        return _error_page(request, exc)
    return _redirect_or_post(request, url, False)


# --- the authorization endpoint and the Deep Linking return -----------------------------------


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: str(val) for k, val in form.items() if isinstance(val, str)})
    return params


@router.get("/lti/authorize", summary="OIDC authorization (LTI), GET")
async def authorize(
    request: Request,
    container: ContainerDep,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Response:
    return await _authorize(request, container, principal)


@router.post("/lti/authorize", summary="OIDC authorization (LTI), POST")
async def authorize_post(
    request: Request,
    container: ContainerDep,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Response:
    return await _authorize(request, container, principal)


async def _authorize(
    request: Request, container: Container, principal: Principal | None
) -> Response:
    params = await _params(request)
    try:
        answer = await run_in_threadpool(
            launch.authorize, container, principal, params, record=False
        )
    except launch.RedirectableError as exc:
        fields = {"error": exc.error, "error_description": exc.message}
        if exc.state is not None:
            fields["state"] = exc.state
        return _form_post(request, exc.redirect_uri, fields)
    except launch.LaunchError as exc:
        return _error_page(request, exc)
    response = _form_post(request, answer.redirect_uri, answer.fields)
    if answer.statement is not None:
        # Written after the form has gone out: the pupil's launch does not wait on the LRS.
        response.background = BackgroundTask(launch.record_launch, container, *answer.statement)
    return response


@router.post("/lti/deep-linking/return", summary="Deep Linking response from a tool")
async def deep_linking_return(
    request: Request,
    container: ContainerDep,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Response:
    # The tool's page posts here cross-site, so the portal's SameSite=Lax session cookie may not
    # come along: the sealed ``data`` claim binds the response to who started it.
    form = await request.form()
    token = form.get("JWT")
    if not isinstance(token, str) or not token:
        return _error_page(
            request,
            deep_linking.DeepLinkingError("JWT がありません。 (The JWT form field is missing.)"),
        )
    try:
        outcome = await run_in_threadpool(deep_linking.accept_response, container, token, principal)
    except launch.LaunchError as exc:
        return _error_page(request, exc)
    return render(
        request,
        "lti_deep_linking_done.html",
        {
            "created": outcome.created,
            "message": outcome.message,
            "error_message": outcome.error_message,
            "return_url": outcome.return_url,
        },
    )


# --- the token endpoint -----------------------------------------------------------------------


@router.post("/lti/token", summary="OAuth 2.0 token for LTI services (JWT client assertion)")
async def token(request: Request, container: ContainerDep) -> JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return JSONResponse(
            {"error": "invalid_request", "error_description": "form-urlencoded body required"},
            status_code=400,
            headers=_NO_STORE,
        )
    body = await _limited_body(request, 16384)
    form = dict(parse_qsl((body or b"").decode("utf-8", "replace"), keep_blank_values=True))
    try:
        issued = await run_in_threadpool(tokens.issue_token, container, form)
    except tokens.TokenError as exc:
        status = 401 if exc.error == "invalid_client" else 400
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description},
            status_code=status,
            headers=_NO_STORE,
        )
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scopes),
        },
        headers=_NO_STORE,
    )


# --- NRPS and AGS -----------------------------------------------------------------------------


class _ServiceAuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


def _problem(status: int, message: str) -> JSONResponse:
    headers = {}
    if status in (401, 403):
        error = "invalid_token" if status == 401 else "insufficient_scope"
        headers["WWW-Authenticate"] = f'Bearer error="{error}", error_description="{message}"'
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _tool(request: Request, container: Container, *accepted: str) -> tokens.ToolPrincipal:
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _ServiceAuthError(401, "An access token from /lti/token is required.")
    who = tokens.verify_access_token(container, value.strip())
    if who is None:
        raise _ServiceAuthError(401, "The access token is invalid or expired.")
    if not who.scopes & set(accepted):
        raise _ServiceAuthError(403, "The token lacks the scope: " + " or ".join(accepted))
    return who


def _with_next(request: Request, next_page: int | None) -> dict[str, str]:
    if next_page is None:
        return {}
    query = dict(request.query_params)
    query["page"] = str(next_page)
    # Lower-case-safe (pylti1p3 2.0.0 lower-cases the Link header, notes §1.3).
    url = str(request.url.replace(query=urlencode(query)))
    return {"Link": f'<{url}>; rel="next"'}


async def _run_service(handler: Callable[[], Response]) -> Response:
    """Run a service handler off the event loop, mapping auth and service errors to JSON."""
    try:
        return await run_in_threadpool(handler)
    except _ServiceAuthError as exc:
        return _problem(exc.status, exc.message)
    except services.ServiceError as exc:
        return _problem(exc.status, exc.message)


async def _limited_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (stops reading there)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


async def _json_body(request: Request) -> Any:
    raw = await _limited_body(request, 65536)
    try:
        return json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError):
        return None


CONTEXT = "/lti/services/{tenant}/contexts/{class_id}"


@router.get(CONTEXT + "/memberships", summary="NRPS 2.0 context membership")
async def nrps_memberships(
    request: Request,
    tenant: str,
    class_id: str,
    container: ContainerDep,
    role: str | None = None,
    rlid: str | None = None,
    limit: int | None = None,
    page: int | None = None,
) -> Response:
    def run() -> Response:
        who = _tool(request, container, v.SCOPE_NRPS)
        with container.database.session() as session:
            ctx = services.resolve_context(session, container, who, tenant, class_id)
            body, next_page = services.memberships(
                session,
                ctx,
                role=role,
                rlid=rlid,
                limit=limit,
                page=page,
                default_limit=container.settings.lti_nrps_page_size,
            )
        return JSONResponse(
            body, media_type=v.MEDIA_MEMBERSHIPS, headers=_with_next(request, next_page)
        )

    return await _run_service(run)


@router.get(CONTEXT + "/lineitems", summary="AGS line items of a context")
async def ags_line_items(
    request: Request,
    tenant: str,
    class_id: str,
    container: ContainerDep,
    resource_link_id: str | None = None,
    resource_id: str | None = None,
    tag: str | None = None,
    limit: int | None = None,
    page: int | None = None,
) -> Response:
    def run() -> Response:
        who = _tool(request, container, v.SCOPE_LINEITEM, v.SCOPE_LINEITEM_READONLY)
        with container.database.session() as session:
            ctx = services.resolve_context(session, container, who, tenant, class_id)
            items, next_page = services.list_line_items(
                session,
                ctx,
                resource_link_id=resource_link_id,
                resource_id=resource_id,
                tag=tag,
                limit=limit,
                page=page,
            )
        return JSONResponse(
            items, media_type=v.MEDIA_LINEITEMS, headers=_with_next(request, next_page)
        )

    return await _run_service(run)


@router.post(CONTEXT + "/lineitems", summary="Create an AGS line item")
async def ags_create_line_item(
    request: Request, tenant: str, class_id: str, container: ContainerDep
) -> Response:
    body = await _json_body(request)

    def run() -> Response:
        who = _tool(request, container, v.SCOPE_LINEITEM)
        with container.database.transaction() as session:
            ctx = services.resolve_context(session, container, who, tenant, class_id)
            created = services.create_line_item(session, ctx, body)
        return JSONResponse(created, status_code=201, media_type=v.MEDIA_LINEITEM)

    return await _run_service(run)


@router.get(CONTEXT + "/lineitems/{item_id}", summary="An AGS line item")
async def ags_get_line_item(
    request: Request, tenant: str, class_id: str, item_id: str, container: ContainerDep
) -> Response:
    def run() -> Response:
        who = _tool(request, container, v.SCOPE_LINEITEM, v.SCOPE_LINEITEM_READONLY)
        with container.database.session() as session:
            ctx = services.resolve_context(session, container, who, tenant, class_id)
            item = services.get_line_item(session, ctx, item_id)
            body = services.line_item_json(ctx.base_url, item)
        return JSONResponse(body, media_type=v.MEDIA_LINEITEM)

    return await _run_service(run)


@router.put(CONTEXT + "/lineitems/{item_id}", summary="Update an AGS line item")
async def ags_put_line_item(
    request: Request, tenant: str, class_id: str, item_id: str, container: ContainerDep
) -> Response:
    body = await _json_body(request)

    def run() -> Response:
        who = _tool(request, container, v.SCOPE_LINEITEM)
        with container.database.transaction() as session:
            ctx = services.resolve_context(session, container, who, tenant, class_id)
            updated = services.update_line_item(session, ctx, item_id, body)
        return JSONResponse(updated, media_type=v.MEDIA_LINEITEM)

    return await _run_service(run)


@router.delete(CONTEXT + "/lineitems/{item_id}", summary="Delete an AGS line item")
async def ags_delete_line_item(
    request: Request, tenant: str, class_id: str, item_id: str, container: ContainerDep
) -> Response:
    def run() -> Response:
        who = _tool(request, container, v.SCOPE_LINEITEM)
        with container.database.transaction() as session:
            ctx = services.resolve_context(session, container, who, tenant, class_id)
            services.delete_line_item(session, ctx, item_id)
        return Response(status_code=204)

    return await _run_service(run)


@router.post(CONTEXT + "/lineitems/{item_id}/scores", summary="Post a score (AGS)")
async def ags_post_score(
    request: Request, tenant: str, class_id: str, item_id: str, container: ContainerDep
) -> Response:
    body = await _json_body(request)

    def run() -> Response:
        who = _tool(request, container, v.SCOPE_SCORE)
        services.post_score(container, who, tenant, class_id, item_id, body)
        return Response(status_code=204)

    return await _run_service(run)


@router.get(CONTEXT + "/lineitems/{item_id}/results", summary="Results of a line item (AGS)")
async def ags_results(
    request: Request,
    tenant: str,
    class_id: str,
    item_id: str,
    container: ContainerDep,
    user_id: str | None = None,
    limit: int | None = None,
    page: int | None = None,
) -> Response:
    def run() -> Response:
        who = _tool(request, container, v.SCOPE_RESULT_READONLY)
        with container.database.session() as session:
            ctx = services.resolve_context(session, container, who, tenant, class_id)
            body, next_page = services.results(
                session, ctx, item_id, user_id=user_id, limit=limit, page=page
            )
        return JSONResponse(
            body, media_type=v.MEDIA_RESULTS, headers=_with_next(request, next_page)
        )

    return await _run_service(run)
