"""``/xapi``: the xAPI Statement and About resources (xAPI 1.0.3 Part Three, IEEE 9274.1.1).

Thin: each handler parses the request by hand (so FastAPI never answers 422: xAPI wants 400 for
every malformed request) and calls :mod:`tsunagu.lrs.service`. :class:`XapiRoute` turns every
:class:`~tsunagu.lrs.service.LrsError` into a JSON error body and puts
``X-Experience-API-Version`` on every response, errors included.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from tsunagu import __version__
from tsunagu.container import Container
from tsunagu.http import get_container
from tsunagu.lrs import credentials as scopes
from tsunagu.lrs.attachments import (
    Part,
    boundary_of,
    check_parts,
    load_parts,
    multipart_response_body,
    parse_multipart,
    require_file_urls,
    store_parts,
    verify_signatures,
)
from tsunagu.lrs.credentials import CredentialVerifier, LrsPrincipal, authority_for
from tsunagu.lrs.documents import (
    DocumentKey,
    Kind,
    Preconditions,
    StoredDocument,
    delete_documents,
    get_document,
    list_document_ids,
    post_document,
    put_document,
)
from tsunagu.lrs.jsonio import dump_json_bytes
from tsunagu.lrs.service import (
    LrsError,
    StatementQuery,
    StoreJob,
    agent_ifi,
    canonical_activities,
    decode_more,
    downgrade_to_1_0,
    encode_more,
    format_instant,
    get_activity_definition,
    get_statement,
    ids_format,
    plan_job,
    query_statements,
    store_group_with_retry,
    store_with_retry,
    take_write_lock,
    utcnow,
)
from tsunagu.lrs.validation import (
    first_language,
    is_iri,
    is_uuid,
    parse_timestamp,
    validate_actor,
    walk_language_maps,
)
from tsunagu.lrs.versions import (
    HEADER,
    SUPPORTED,
    V1,
    V2,
    VersionError,
    XapiVersion,
    negotiate,
)
from tsunagu.lrs.writer import GroupWriter

logger = logging.getLogger(__name__)

PREFIX = "/xapi"
CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"
_REALM = 'Basic realm="xAPI"'


class FastJSONResponse(JSONResponse):
    """JSON rendered by orjson (query pages of hundreds of statements), same bytes otherwise."""

    def render(self, content: Any) -> bytes:
        return dump_json_bytes(content)


def _version_of(request: Request) -> str:
    version: str | None = getattr(request.state, "xapi_version", None)
    if version is None:
        try:
            version = negotiate(request.headers.get(HEADER))
        except VersionError:
            version = get_container(request).settings.lrs_unversioned_response_version
    return version


def error_response(
    request: Request, status: int, message: str, problems: list[dict[str, str]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": status, "message": message}
    if problems:
        body["path"] = problems[0]["path"]
        if "rule" in problems[0]:
            body["rule"] = problems[0]["rule"]
        body["problems"] = problems[:100]
    headers = {HEADER: _version_of(request)}
    if request.method in ("GET", "HEAD") and request.url.path.rstrip("/").endswith("/statements"):
        # 1.0.3 Part Three §2.1.3: on every GET of statements, "regardless of the code returned".
        headers[CONSISTENT_THROUGH] = format_instant(utcnow())
    if status == 401:
        headers["WWW-Authenticate"] = _REALM
    return JSONResponse(body, status_code=status, headers=headers)


class XapiRoute(APIRoute):
    """Every failure of an xAPI route as a JSON body; the version header on every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except LrsError as exc:
                problems = [p.as_json() for p in exc.problems]
                return error_response(request, exc.status, exc.message, problems)
            except RequestValidationError:
                return error_response(request, 400, "Malformed request.")
            except Exception:
                logger.exception("xAPI request failed: %s", request.url.path)
                return error_response(request, 500, "Internal server error.")
            response.headers[HEADER] = _version_of(request)
            return response

        return handle


router = APIRouter(prefix=PREFIX, route_class=XapiRoute, tags=["xAPI"])

_Endpoint = Callable[..., Coroutine[Any, Any, Response]]


def _methods(path: str, methods: list[str]) -> Callable[[_Endpoint], _Endpoint]:
    """Register ``endpoint`` once per method, so each OpenAPI operation has its own id."""

    def register(endpoint: _Endpoint) -> _Endpoint:
        for method in methods:
            router.add_api_route(
                path, endpoint, methods=[method], name=f"{endpoint.__name__}_{method.lower()}"
            )
        return endpoint

    return register


# --- request context -------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    container: Container
    principal: LrsPrincipal
    version: XapiVersion


def _verifier(request: Request, container: Container) -> CredentialVerifier:
    verifier: CredentialVerifier | None = getattr(request.app.state, "lrs_verifier", None)
    if verifier is None:
        verifier = CredentialVerifier(container.settings.resolved_secret_key)
        request.app.state.lrs_verifier = verifier
    return verifier


def _basic(authorization: str | None) -> tuple[str, str]:
    if not authorization:
        raise LrsError(401, "Authentication required (HTTP Basic with an LRS key and secret).")
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise LrsError(401, "Use HTTP Basic authentication.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise LrsError(401, "Malformed HTTP Basic credentials.") from None
    user, colon, secret = decoded.partition(":")
    if not colon:
        raise LrsError(401, "Malformed HTTP Basic credentials.")
    return user, secret


async def begin(request: Request, *accepted_scopes: str) -> Call:
    """Version negotiation, authentication and the scope check every resource does first."""
    try:
        version = negotiate(request.headers.get(HEADER))
    except VersionError as exc:
        raise LrsError(400, str(exc)) from None
    request.state.xapi_version = version
    container = get_container(request)
    user, secret = _basic(request.headers.get("authorization"))
    verifier = _verifier(request, container)
    principal = verifier.cached(user, secret) or await run_in_threadpool(
        verifier.verify, container.database.session, user, secret
    )
    if principal is None:
        raise LrsError(401, "Unknown or revoked LRS credentials.")
    if not principal.may(*accepted_scopes):
        raise LrsError(403, "These credentials lack the scope this request needs.")
    return Call(container, principal, version)


def _params(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """Query parameters; unknown or repeated ones are a 400 (1.0.3 Part Three §2.1.3)."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise LrsError(400, f"Unknown query parameter '{name[:40]}'.")
        if name in params:
            raise LrsError(400, f"Query parameter '{name}' given more than once.")
        params[name] = value
    return params


async def _read_body(request: Request, container: Container) -> bytes:
    """The body, refusing anything over ``lrs_max_body_bytes`` with 413 before reading it all."""
    limit = container.settings.lrs_max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise LrsError(413, f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise LrsError(413, f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise LrsError(400, "The request body is not valid JSON.") from None


async def _statements_body(request: Request, container: Container) -> tuple[Any, dict[str, Part]]:
    """The statement(s) of a PUT/POST and the attachment parts that came with them."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media == "multipart/mixed":
        # 1.0.3 Part Three §2.1.2: statements first (application/json), then raw attachments.
        boundary = boundary_of(content_type)
        parts = parse_multipart(await _read_body(request, container), boundary)
        first, rest = parts[0], parts[1:]
        if first.content_type.split(";")[0].strip().lower() != "application/json":
            raise LrsError(400, "The first multipart part must be the application/json statements.")
        body = _parse_json(first.body)
        statements = body if isinstance(body, list) else [body]
        by_hash = check_parts(statements, rest)
        verify_signatures(statements, by_hash)
        return body, by_hash
    if media != "application/json":
        raise LrsError(400, "Send statements as application/json or multipart/mixed.")
    body = _parse_json(await _read_body(request, container))
    require_file_urls(body if isinstance(body, list) else [body])
    return body, {}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _write_alone(call: Call, statements: list[Any], parts: dict[str, Part]) -> list[str]:
    authority = authority_for(call.container.settings.base_url, call.principal.key)
    tenant_id = call.principal.tenant_id
    return store_with_retry(
        call.container,
        tenant_id=tenant_id,
        credential_id=call.principal.credential_id,
        authority=authority,
        statements=statements,
        version=call.version,
        also=(lambda session: store_parts(session, tenant_id, parts)) if parts else None,
    )


def _group_writer(request: Request, container: Container) -> GroupWriter:
    writer: GroupWriter | None = getattr(request.app.state, "lrs_writer", None)
    if writer is None:
        writer = GroupWriter(lambda plans: store_group_with_retry(container, plans))
        request.app.state.lrs_writer = writer
    return writer


#: Requests of up to this many statements go through the group commit: they are validated on
#: the event loop (a few hundred microseconds) and share a transaction with the requests that
#: arrive with them. Larger ones already spread their commit over many statements and would
#: only queue behind each other in a group: they are validated and stored in a transaction of
#: their own, in a worker thread, concurrently.
GROUP_AT_MOST = 10


async def _write(
    request: Request, call: Call, statements: list[Any], parts: dict[str, Part]
) -> list[str]:
    """Store the statements; committed when this returns."""
    if parts or not call.container.settings.lrs_group_commit:
        # Attachments write their content in the same transaction: a transaction of its own.
        return await run_in_threadpool(_write_alone, call, statements, parts)
    job = StoreJob(
        tenant_id=call.principal.tenant_id,
        credential_id=call.principal.credential_id,
        authority=authority_for(call.container.settings.base_url, call.principal.key),
        statements=statements,
        version=call.version,
    )
    if len(statements) > GROUP_AT_MOST:
        return await run_in_threadpool(_plan_and_store, call.container, job)
    return await _group_writer(request, call.container).store(plan_job(job))


def _plan_and_store(container: Container, job: StoreJob) -> list[str]:
    (outcome,) = store_group_with_retry(container, [plan_job(job)])
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


# --- About (1.0.3 Part Three §2.8) -----------------------------------------------------------


@_methods("/about", ["GET", "HEAD"])
async def about(request: Request) -> Response:
    """Versions this LRS serves. The only resource without authentication or version header."""
    container = get_container(request)
    # A 1.0.x client is told only of 1.0.3: older clients (Rustici's tincan for Python) reject
    # an About whose version list holds anything else. Without the header: every version.
    try:
        versions = [negotiate(request.headers.get(HEADER))]
        if versions == [V2]:
            versions = list(SUPPORTED)
    except VersionError:
        versions = list(SUPPORTED)
    body = {
        "version": versions,
        "extensions": {
            f"{container.settings.base_url}/xapi/extensions/implementation": {
                "name": "Tsunagu",
                "version": __version__,
            }
        },
    }
    return _respond(request, JSONResponse(body))


def _respond(request: Request, response: Response) -> Response:
    if request.method == "HEAD":
        return Response(status_code=response.status_code, headers=dict(response.headers))
    return response


# --- Statements (1.0.3 Part Three §2.1) ------------------------------------------------------

_WRITE = (scopes.STATEMENTS_WRITE, scopes.ALL)
_READ = (scopes.STATEMENTS_READ, scopes.STATEMENTS_READ_MINE, scopes.ALL_READ, scopes.ALL)


@router.put("/statements", status_code=204)
async def put_statement(request: Request) -> Response:
    call = await begin(request, *_WRITE)
    params = _params(request, frozenset({"statementId"}))
    statement_id = params.get("statementId")
    if statement_id is None:
        raise LrsError(400, "PUT /statements needs the statementId parameter.")
    if not is_uuid(statement_id):
        raise LrsError(400, "statementId must be a UUID.")
    body, parts = await _statements_body(request, call.container)
    if not isinstance(body, dict):
        raise LrsError(400, "PUT /statements takes one statement (a JSON object).")
    if "id" in body and str(body["id"]).lower() != statement_id.lower():
        raise LrsError(400, "The statement's id differs from statementId.")
    body = {**body, "id": body.get("id", statement_id)}
    await _write(request, call, [body], parts)
    return Response(status_code=204)


@router.post("/statements")
async def post_statements(request: Request) -> Response:
    call = await begin(request, *_WRITE)
    _params(request, frozenset())
    body, parts = await _statements_body(request, call.container)
    statements = body if isinstance(body, list) else [body]
    if not statements:
        raise LrsError(400, "The batch is empty.")
    ids = await _write(request, call, statements, parts)
    return JSONResponse(ids)


_QUERY_PARAMS = frozenset(
    {
        "agent",
        "verb",
        "activity",
        "registration",
        "related_activities",
        "related_agents",
        "since",
        "until",
        "limit",
        "format",
        "attachments",
        "ascending",
    }
)
_SINGLE_PARAMS = frozenset({"statementId", "voidedStatementId", "format", "attachments"})
_FORMATS = frozenset({"exact", "ids", "canonical"})


def _bool(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "false")
    if value not in ("true", "false"):
        raise LrsError(400, f"{name} must be true or false.")
    return value == "true"


def _instant(params: dict[str, str], name: str) -> Any:
    if name not in params:
        return None
    parsed = parse_timestamp(params[name])
    if parsed is None:
        raise LrsError(400, f"{name} must be an ISO 8601 timestamp.")
    return parsed


def _agent_param(value: str, version: XapiVersion) -> str:
    try:
        agent = json.loads(value)
    except (ValueError, RecursionError):
        raise LrsError(400, "agent must be a JSON Agent or Group.") from None
    problems = validate_actor(agent, version, "agent")
    if problems:
        raise LrsError(400, "agent is not a valid Agent or identified Group.", problems)
    ifi = agent_ifi(agent)
    if ifi is None:
        raise LrsError(400, "agent must carry an identifier (an anonymous Group cannot match).")
    return ifi


def _build_query(call: Call, params: dict[str, str]) -> StatementQuery:
    settings = call.container.settings
    limit_text = params.get("limit", "")
    if limit_text:
        if not limit_text.isdigit():
            raise LrsError(400, "limit must be a non-negative integer.")
        limit = int(limit_text) or settings.lrs_max_limit  # 0: the server's maximum
    else:
        limit = settings.lrs_default_limit
    registration = params.get("registration")
    if registration is not None and not is_uuid(registration):
        raise LrsError(400, "registration must be a UUID.")
    return StatementQuery(
        agent=_agent_param(params["agent"], call.version) if "agent" in params else None,
        verb=params.get("verb"),
        activity=params.get("activity"),
        registration=registration,
        related_activities=_bool(params, "related_activities"),
        related_agents=_bool(params, "related_agents"),
        since=_instant(params, "since"),
        until=_instant(params, "until"),
        limit=min(limit, settings.lrs_max_limit),
        ascending=_bool(params, "ascending"),
        credential_id=call.principal.credential_id if call.principal.reads_only_own else None,
    )


def _accepted_languages(header: str | None) -> dict[str, float]:
    accepted: dict[str, float] = {}
    for part in (header or "").split(","):
        tag, _, rest = part.strip().partition(";")
        if not tag:
            continue
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        accepted[tag.strip()] = quality
    return accepted


def _shape(request: Request, statements: list[dict[str, Any]], fmt: str) -> list[dict[str, Any]]:
    if getattr(request.state, "xapi_version", None) == V1:
        # A 1.0.3 client must not receive 2.0-only properties it would reject as unknown.
        statements = [downgrade_to_1_0(s) for s in statements]
    if fmt == "ids":
        return [ids_format(s) for s in statements]
    if fmt == "canonical":
        pick = first_language(_accepted_languages(request.headers.get("accept-language")))
        return [walk_language_maps(s, pick) for s in statements]
    return statements


def _more_state(query: StatementQuery, tenant_id: int, fmt: str) -> dict[str, Any]:
    return {
        "t": tenant_id,
        "c": query.credential_id,
        "f": fmt,
        "q": {
            "agent": query.agent,
            "verb": query.verb,
            "activity": query.activity,
            "registration": query.registration,
            "ra": query.related_activities,
            "rg": query.related_agents,
            "since": query.since.isoformat() if query.since else None,
            "until": query.until.isoformat() if query.until else None,
            "limit": query.limit,
            "asc": query.ascending,
        },
    }


def _query_from_state(state: dict[str, Any]) -> StatementQuery:
    from datetime import datetime

    q = state["q"]
    return StatementQuery(
        agent=q["agent"],
        verb=q["verb"],
        activity=q["activity"],
        registration=q["registration"],
        related_activities=bool(q["ra"]),
        related_agents=bool(q["rg"]),
        since=datetime.fromisoformat(q["since"]) if q["since"] else None,
        until=datetime.fromisoformat(q["until"]) if q["until"] else None,
        limit=int(q["limit"]),
        ascending=bool(q["asc"]),
        credential_id=state["c"],
    )


@_methods("/statements", ["GET", "HEAD"])
async def get_statements(request: Request) -> Response:
    call = await begin(request, *_READ)
    names = set(request.query_params.keys())
    consistent = format_instant(utcnow())
    if names & {"statementId", "voidedStatementId"}:
        return await _single(request, call, _params(request, _SINGLE_PARAMS), consistent)
    if "more" in names:
        params = _params(request, frozenset({"more"}))
        return await _more(request, call, params["more"], consistent)
    params = _params(request, _QUERY_PARAMS)
    fmt = params.get("format", "exact")
    if fmt not in _FORMATS:
        raise LrsError(400, "format must be ids, exact or canonical.")
    with_attachments = _bool(params, "attachments")
    query = _build_query(call, params)
    return await _page(request, call, query, fmt, with_attachments, None, None, consistent)


async def _single(
    request: Request, call: Call, params: dict[str, str], consistent: str
) -> Response:
    if "statementId" in params and "voidedStatementId" in params:
        raise LrsError(400, "Give statementId or voidedStatementId, not both.")
    voided = "voidedStatementId" in params
    statement_id = params["voidedStatementId" if voided else "statementId"]
    fmt = params.get("format", "exact")
    if fmt not in _FORMATS:
        raise LrsError(400, "format must be ids, exact or canonical.")
    with_attachments = _bool(params, "attachments")
    if not is_uuid(statement_id):
        raise LrsError(400, "The statement id must be a UUID.")
    principal = call.principal
    mine = principal.credential_id if principal.reads_only_own else None

    def load() -> Any:
        with call.container.database.session() as session:
            found = get_statement(
                session, principal.tenant_id, statement_id, voided=voided, credential_id=mine
            )
            if found is not None and fmt == "canonical":
                payload = canonical_activities(session, principal.tenant_id, [found[0]])[0]
                return payload, found[1]
            return found

    found = await run_in_threadpool(load)
    if found is None:
        raise LrsError(404, f"No statement {statement_id}.")
    payload, stored = found
    headers = {CONSISTENT_THROUGH: consistent}
    # IEEE 9274.1.1 (2.0): Last-Modified is the statement's stored time; harmless on 1.0.3.
    headers["Last-Modified"] = format_datetime(stored, usegmt=True)
    body = _shape(request, [payload], fmt)[0]
    return await _statement_response(request, call, body, [payload], headers, with_attachments)


async def _more(request: Request, call: Call, token: str, consistent: str) -> Response:
    state = decode_more(call.container.settings.resolved_secret_key, token)
    principal = call.principal
    if state is None or state.get("t") != principal.tenant_id:
        raise LrsError(400, "The more token is invalid.")
    if principal.reads_only_own and state.get("c") != principal.credential_id:
        raise LrsError(400, "The more token is invalid.")
    try:
        query = _query_from_state(state)
        after, bound = int(state["a"]), int(state["b"])
    except (KeyError, TypeError, ValueError):
        raise LrsError(400, "The more token is invalid.") from None
    fmt, with_attachments = str(state.get("f", "exact")), bool(state.get("at"))
    return await _page(request, call, query, fmt, with_attachments, after, bound, consistent)


async def _page(
    request: Request,
    call: Call,
    query: StatementQuery,
    fmt: str,
    with_attachments: bool,
    after: int | None,
    bound: int | None,
    consistent: str,
) -> Response:
    tenant_id = call.principal.tenant_id

    def load() -> Any:
        with call.container.database.session() as session:
            found = query_statements(session, tenant_id, query, after=after, bound=bound)
            if fmt == "canonical":
                shaped = canonical_activities(session, tenant_id, found.statements)
                return found, shaped
            return found, found.statements

    page, shaped = await run_in_threadpool(load)
    more = ""
    if page.next_position is not None:
        state = _more_state(query, tenant_id, fmt)
        state["a"], state["b"] = page.next_position
        state["at"] = with_attachments
        token = encode_more(call.container.settings.resolved_secret_key, state)
        root = request.scope.get("root_path", "")
        more = f"{root}{PREFIX}/statements?more={quote(token)}"
    body = {"statements": _shape(request, shaped, fmt), "more": more}
    headers = {CONSISTENT_THROUGH: consistent}
    return await _statement_response(
        request, call, body, page.statements, headers, with_attachments
    )


async def _statement_response(
    request: Request,
    call: Call,
    body: Any,
    statements: list[dict[str, Any]],
    headers: dict[str, str],
    with_attachments: bool,
) -> Response:
    """JSON, or with ``attachments=true`` multipart/mixed with every attachment's content."""
    if not with_attachments:
        return _respond(request, FastJSONResponse(body, headers=headers))
    tenant_id = call.principal.tenant_id

    def load() -> list[tuple[str, str, bytes]]:
        with call.container.database.session() as session:
            return load_parts(session, tenant_id, statements)

    parts = await run_in_threadpool(load)
    boundary = secrets.token_hex(16)
    content = multipart_response_body(body, parts, boundary)
    response = Response(
        content, media_type=f"multipart/mixed; boundary={boundary}", headers=headers
    )
    return _respond(request, response)


# --- Documents (1.0.3 Part Three §2.3 State, §2.6 Agent Profile, §2.7 Activity Profile) ------


@dataclass(frozen=True)
class _DocumentResource:
    kind: Kind
    id_param: str
    activity: bool
    agent: bool
    registration: bool
    scope: str


_STATE = _DocumentResource("state", "stateId", True, True, True, scopes.STATE)
_ACTIVITY_PROFILE = _DocumentResource(
    "activity_profile", "profileId", True, False, False, scopes.PROFILE
)
_AGENT_PROFILE = _DocumentResource("agent_profile", "profileId", False, True, False, scopes.PROFILE)


def _document_key(call: Call, resource: _DocumentResource, params: dict[str, str]) -> DocumentKey:
    activity_id = agent = registration = ""
    if resource.activity:
        activity_id = params.get("activityId", "")
        if not is_iri(activity_id):
            raise LrsError(400, "activityId is required and must be an IRI.")
    if resource.agent:
        if "agent" not in params:
            raise LrsError(400, "agent is required.")
        agent = _agent_param(params["agent"], call.version)
    if resource.registration and "registration" in params:
        registration = params["registration"].lower()
        if not is_uuid(registration):
            raise LrsError(400, "registration must be a UUID.")
    return DocumentKey(resource.kind, activity_id, agent, registration)


async def _document(request: Request, resource: _DocumentResource) -> Response:
    reading = request.method in ("GET", "HEAD")
    accepted = (resource.scope, scopes.ALL) + ((scopes.ALL_READ,) if reading else ())
    call = await begin(request, *accepted)
    allowed = {resource.id_param}
    allowed |= {"activityId"} if resource.activity else set()
    allowed |= {"agent"} if resource.agent else set()
    allowed |= {"registration"} if resource.registration else set()
    allowed |= {"since"} if reading else set()
    params = _params(request, frozenset(allowed))
    key = _document_key(call, resource, params)
    document_id = params.get(resource.id_param)
    pre = Preconditions(request.headers.get("if-match"), request.headers.get("if-none-match"))
    tenant_id = call.principal.tenant_id
    database = call.container.database

    if reading:
        if document_id is None:
            since = _instant(params, "since")

            def listing() -> list[str]:
                with database.session() as session:
                    return list_document_ids(session, tenant_id, key, since)

            found_ids = await run_in_threadpool(listing)
            return _respond(request, JSONResponse(found_ids))

        def load() -> StoredDocument | None:
            with database.session() as session:
                return get_document(session, tenant_id, key, document_id)

        found = await run_in_threadpool(load)
        if found is None:
            raise LrsError(404, f"No document '{document_id[:80]}'.")
        headers = {
            "ETag": f'"{found.etag}"',
            "Last-Modified": format_datetime(found.updated, usegmt=True),
        }
        response = Response(found.content, media_type=found.content_type, headers=headers)
        return _respond(request, response)

    if request.method == "DELETE":
        if document_id is None and resource.kind != "state":
            raise LrsError(400, f"DELETE needs {resource.id_param}.")

        def remove() -> None:
            with database.transaction() as session:
                take_write_lock(session)
                delete_documents(session, tenant_id, key, document_id, pre)

        await run_in_threadpool(remove)
        return Response(status_code=204)

    if document_id is None:
        raise LrsError(400, f"{resource.id_param} is required.")
    content = await _read_body(request, call.container)
    content_type = request.headers.get("content-type", "application/octet-stream")
    if request.method == "POST" or content_type.split(";")[0].strip() == "application/json":
        try:
            parsed = json.loads(content, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise LrsError(400, "The JSON document is not valid JSON.") from None
        if request.method == "POST" and not isinstance(parsed, dict):
            raise LrsError(400, "POST merges JSON objects only.")

    def save() -> None:
        with database.transaction() as session:
            take_write_lock(session)
            if request.method == "PUT":
                put_document(
                    session, tenant_id, key, document_id, content, content_type, pre,
                    # Profiles always; State from 2.0 on (IEEE 9274.1.1, xapi-notes.md §2).
                    require_preconditions=resource.kind != "state" or call.version == V2,
                    refuse_new_without_preconditions=(
                        resource.kind != "state" and call.version == V1
                    ),
                )  # fmt: skip
            else:
                post_document(session, tenant_id, key, document_id, content, content_type, pre)

    await run_in_threadpool(save)
    return Response(status_code=204)


_DOCUMENT_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]


@_methods("/activities/state", _DOCUMENT_METHODS)
async def state(request: Request) -> Response:
    return await _document(request, _STATE)


@_methods("/activities/profile", _DOCUMENT_METHODS)
async def activity_profile(request: Request) -> Response:
    return await _document(request, _ACTIVITY_PROFILE)


@_methods("/agents/profile", _DOCUMENT_METHODS)
async def agent_profile(request: Request) -> Response:
    return await _document(request, _AGENT_PROFILE)


# --- Activities (§2.5) and Agents (§2.4) -----------------------------------------------------

_META_READ = (scopes.STATEMENTS_READ, scopes.ALL_READ, scopes.ALL, scopes.PROFILE, scopes.STATE)


@_methods("/activities", ["GET", "HEAD"])
async def activities(request: Request) -> Response:
    """The LRS's canonical definition of one activity (the latest it was sent)."""
    call = await begin(request, *_META_READ)
    params = _params(request, frozenset({"activityId"}))
    activity_id = params.get("activityId", "")
    if not is_iri(activity_id):
        raise LrsError(400, "activityId is required and must be an IRI.")

    def load() -> dict[str, Any] | None:
        with call.container.database.session() as session:
            return get_activity_definition(session, call.principal.tenant_id, activity_id)

    definition = await run_in_threadpool(load)
    body: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        body["definition"] = definition
    return _respond(request, JSONResponse(body))


@_methods("/agents", ["GET", "HEAD"])
async def agents(request: Request) -> Response:
    """The Person object of an agent (§2.4.1.2): every identifier as an array."""
    call = await begin(request, *_META_READ)
    params = _params(request, frozenset({"agent"}))
    if "agent" not in params:
        raise LrsError(400, "agent is required.")
    _agent_param(params["agent"], call.version)
    agent = json.loads(params["agent"])
    if agent.get("objectType") == "Group":
        raise LrsError(400, "agent must be an Agent, not a Group.")
    person: dict[str, Any] = {"objectType": "Person"}
    for field in ("name", "mbox", "mbox_sha1sum", "openid", "account"):
        if field in agent:
            person[field] = [agent[field]]
    return _respond(request, JSONResponse(person))


_KNOWN_PATHS = frozenset(
    {
        "about",
        "statements",
        "activities",
        "activities/state",
        "activities/profile",
        "agents",
        "agents/profile",
    }
)


@router.api_route(
    "/{rest:path}", methods=["GET", "HEAD", "PUT", "POST", "DELETE"], include_in_schema=False
)
async def not_found(request: Request, rest: str) -> Response:
    """Unknown xAPI paths (and methods) answered in the xAPI error format."""
    if rest.strip("/") in _KNOWN_PATHS:
        raise LrsError(405, f"{request.method} is not supported on /{rest.strip('/')}.")
    raise LrsError(404, f"No xAPI resource at /{rest[:80]}.")
