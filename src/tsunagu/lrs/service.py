"""Storing and querying statements (xAPI 1.0.3 Part Three §2.1 "Statement Resource").

No HTTP here: :mod:`tsunagu.lrs.routes` parses requests and calls these functions, and other
parts of Tsunagu call :func:`record_statement` directly.

Design:

* A statement is stored once per ``(tenant, id)``. The same id again with the same content (the
  canonical comparison of 1.0.3 Part Two §2.3.1 "Statement Immutability": ``stored``,
  ``authority`` and ``version`` ignored, timestamps compared as instants, single context
  activities as arrays) is accepted without writing; different content is a 409.
* A batch is validated whole, then written in one transaction: all or nothing.
* ``seq`` (autoincrement) orders statements; query pages are keyset ranges on it and the
  ``more`` token carries the last ``seq`` returned plus an upper bound fixed on the first page,
  so statements arriving while a client pages never shift or repeat a page.
* Filters read the index tables :class:`~tsunagu.lrs.models.StatementAgent` and
  :class:`~tsunagu.lrs.models.StatementActivity` (``EXISTS`` on ``(tenant, value, seq)``, joined
  on ``(seq, stored)`` so PostgreSQL probes one monthly partition per candidate).
* Canonical activity definitions are upserted in sorted id order and only when they changed, so
  concurrent batches touching the same activities take their row locks in one order (no
  deadlock) and an unchanged definition costs no write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    String,
    Text,
    and_,
    any_,
    exists,
    false,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY as PG_ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from tsunagu.lrs.jsonio import dump_json
from tsunagu.lrs.models import (
    Activity,
    Statement,
    StatementActivity,
    StatementAgent,
    StatementId,
    TenantLrsSettings,
)
from tsunagu.lrs.partitions import ensure_in_transaction
from tsunagu.lrs.profiles import service as profiles
from tsunagu.lrs.validation import (
    VOIDED_VERB,
    Problem,
    normalise_context_activities,
    parse_timestamp,
    timestamp_to_utc,
    validate_statement,
    validate_statements,
)
from tsunagu.lrs.versions import V1, V2, XapiVersion

if TYPE_CHECKING:
    from tsunagu.container import Container

logger = logging.getLogger(__name__)


class LrsError(Exception):
    """A request the LRS refuses; ``status`` is the xAPI status code (400, 404, 409 …)."""

    def __init__(self, status: int, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = list(problems)


def invalid(problems: list[Problem]) -> LrsError:
    shown = "; ".join(f"{p.path}: {p.message}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return LrsError(400, f"Invalid statement: {shown}{more}", problems)


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_instant(value: datetime) -> str:
    """xAPI timestamps the LRS writes: UTC, millisecond precision, ``Z``."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- identities ------------------------------------------------------------------------------


def agent_ifi(agent: Any) -> str | None:
    """The inverse functional identifier of an Agent or identified Group as one string."""
    if not isinstance(agent, dict):
        return None
    if isinstance(agent.get("mbox"), str):
        return "mbox:" + str(agent["mbox"])
    if isinstance(agent.get("mbox_sha1sum"), str):
        return "mbox_sha1sum:" + str(agent["mbox_sha1sum"]).lower()
    if isinstance(agent.get("openid"), str):
        return "openid:" + str(agent["openid"])
    account = agent.get("account")
    if isinstance(account, dict):
        return "account:" + json.dumps(
            [account.get("homePage"), account.get("name")], ensure_ascii=False
        )
    return None


_SECONDS = re.compile(r"(\d+)\.(\d+)S$")


def _duration_key(value: str) -> str:
    """IEEE 9274.1.1: durations compare to 0.01 s; finer digits are ignored (truncated)."""
    return _SECONDS.sub(lambda m: f"{m.group(1)}.{(m.group(2) + '00')[:2]}S", value)


def canonical_hash(statement: dict[str, Any]) -> str:
    """Digest of what immutability compares (1.0.3 Part Two §2.3.1, "Statement Comparison").

    The canonical form is serialised by orjson with sorted keys: the standard library's
    ``json.dumps(sort_keys=True)`` cost several times more and was the largest single item of
    a batch's CPU. What orjson cannot serialise (integers beyond 64 bits, lone surrogates)
    gets :func:`legacy_canonical_hash`. Rows stored before this change carry the legacy
    digest; :func:`_same_content` accepts either, so a repeated statement stays idempotent.
    """
    body = _canonical_body(statement)
    try:
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except TypeError:
        return _legacy_digest(body)


def legacy_canonical_hash(statement: dict[str, Any]) -> str:
    """The digest written before orjson: the canonical form through ``json.dumps``."""
    return _legacy_digest(_canonical_body(statement))


def _legacy_digest(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical_body(statement: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in statement.items() if k not in ("stored", "authority", "version")}
    body["id"] = str(body.get("id", "")).lower()
    if isinstance(body.get("timestamp"), str):
        body["timestamp"] = timestamp_to_utc(body["timestamp"])
    for key, holder in (("result", body), ("object", body)):
        part = holder.get(key)
        if key == "object" and isinstance(part, dict):
            result = part.get("result")
            if isinstance(result, dict) and isinstance(result.get("duration"), str):
                body["object"] = {
                    **part,
                    "result": {**result, "duration": _duration_key(result["duration"])},
                }
        elif isinstance(part, dict) and isinstance(part.get("duration"), str):
            body["result"] = {**part, "duration": _duration_key(part["duration"])}
    return body


@dataclass
class _Indexed:
    agents: dict[str, bool] = field(default_factory=dict)
    activities: dict[str, bool] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def agent(self, value: Any, related: bool) -> None:
        ifi = agent_ifi(value)
        if ifi is not None:
            # Direct wins: an IFI that is also the actor matches ``agent=`` (related False).
            self.agents[ifi] = self.agents.get(ifi, True) and related

    def activity(self, value: Any, related: bool) -> None:
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            self.activities[value["id"]] = self.activities.get(value["id"], True) and related
            if isinstance(value.get("definition"), dict):
                self.definitions[value["id"]] = value["definition"]


def _index(statement: dict[str, Any]) -> _Indexed:
    """What the query filters need (1.0.3 Part Three §2.1.3 agent/activity/related_*)."""
    found = _Indexed()

    def body(part: dict[str, Any], related: bool) -> None:
        found.agent(part.get("actor"), related)
        target = part.get("object")
        if isinstance(target, dict):
            kind = target.get("objectType", "Activity")
            if kind in ("Agent", "Group"):
                found.agent(target, related)
            elif kind == "Activity":
                found.activity(target, related)
            elif kind == "SubStatement":
                body(target, True)
        context = part.get("context")
        if isinstance(context, dict):
            found.agent(context.get("instructor"), True)
            found.agent(context.get("team"), True)
            for item in context.get("contextAgents") or ():
                if isinstance(item, dict):
                    found.agent(item.get("agent"), True)
            for item in context.get("contextGroups") or ():
                if isinstance(item, dict):
                    found.agent(item.get("group"), True)
            activities = context.get("contextActivities")
            if isinstance(activities, dict):
                for items in activities.values():
                    for item in items if isinstance(items, list) else [items]:
                        found.activity(item, True)

    body(statement, False)
    found.agent(statement.get("authority"), True)
    return found


# --- storing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    statement_id: str
    payload: dict[str, Any]
    content_hash: str
    voiding_target: str | None
    #: The statement as hashed (before the LRS set stored, timestamp, authority, version).
    hashed: dict[str, Any]


def _same_content(stored_hash: str, prepared: _Prepared) -> bool:
    """Whether a stored digest is this statement's: today's, or the one written before orjson
    (computed only when today's differs, i.e. for a conflict or a row from before)."""
    return stored_hash == prepared.content_hash or (
        stored_hash == legacy_canonical_hash(prepared.hashed)
    )


def _prepare(
    statement: dict[str, Any],
    *,
    version: XapiVersion,
    authority: dict[str, Any],
    stored: str,
) -> _Prepared:
    # Copy-on-write (no deep copy): the caller's statement is never changed.
    payload = dict(normalise_context_activities(statement))
    if "id" not in payload:
        payload["id"] = str(uuid.uuid4())
    if version == V2:
        # IEEE 9274.1.1: the LRS converts timestamps to UTC (xapi-notes.md §2).
        if isinstance(payload.get("timestamp"), str):
            payload["timestamp"] = timestamp_to_utc(payload["timestamp"])
        target = payload.get("object")
        if isinstance(target, dict) and isinstance(target.get("timestamp"), str):
            payload["object"] = {**target, "timestamp": timestamp_to_utc(target["timestamp"])}
    hashed = dict(payload)
    content_hash = canonical_hash(hashed)
    payload["stored"] = stored
    payload.setdefault("timestamp", stored)  # 1.0.3 Part Two §2.4.7: timestamp = stored
    # 1.0.3 Part Two §2.4.9: the LRS SHOULD overwrite authority from the credentials.
    payload["authority"] = authority
    # 1.0.3 Part Two §2.4.10: version defaults to 1.0.0 when not sent.
    payload.setdefault("version", "1.0.0" if version == V1 else V2)
    voiding_target = None
    verb = payload.get("verb") or {}
    if verb.get("id") == VOIDED_VERB:
        voiding_target = str(payload["object"]["id"]).lower()
    return _Prepared(str(payload["id"]).lower(), payload, content_hash, voiding_target, hashed)


def _merge_definition(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The canonical definition: the newest one, with language maps merged across statements
    (1.0.3 Part Three §2.5: the Activity holds all information known about it)."""
    if not old:
        return new
    merged = {**old, **new}
    for key in ("name", "description"):
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            merged[key] = {**old[key], **new[key]}
    return merged


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


#: Canonical definitions this process has read back from the database, by (database, tenant,
#: activity): (expiry, digest, definition). A statement whose definition adds nothing to a
#: cached one skips the read; entries come only from committed rows and live a short while, so
#: a definition another process changed is re-read within ``_DEFINITION_TTL`` seconds.
_definitions_seen: dict[tuple[str, int, str], tuple[float, str, dict[str, Any]]] = {}
_DEFINITION_TTL = 30.0
_DEFINITIONS_MAX = 50_000


def _upsert_activities(session: Session, tenant_id: int, definitions: dict[str, Any]) -> None:
    if not definitions:
        return
    database = session.get_bind().engine.url.render_as_string(hide_password=True)
    tick = time.monotonic()
    ids = []
    for activity_id in sorted(definitions):  # one lock order for every writer
        hit = _definitions_seen.get((database, tenant_id, activity_id))
        if (
            hit is not None
            and hit[0] > tick
            and _digest(_merge_definition(hit[2], definitions[activity_id])) == hit[1]
        ):
            continue  # nothing new: no read, no write
        ids.append(activity_id)
    if not ids:
        return
    current = {
        row[0]: (row[1], row[2])
        for row in session.execute(
            select(Activity.activity_id, Activity.definition, Activity.definition_hash).where(
                Activity.tenant_id == tenant_id, _one_of(session, Activity.activity_id, ids)
            )
        )
    }
    if len(_definitions_seen) > _DEFINITIONS_MAX:
        _definitions_seen.clear()
    for activity_id, (definition, digest) in current.items():
        _definitions_seen[(database, tenant_id, activity_id)] = (
            tick + _DEFINITION_TTL,
            digest,
            definition,
        )
    rows = []
    for activity_id in ids:
        old, old_hash = current.get(activity_id, (None, None))
        definition = _merge_definition(old, definitions[activity_id])
        digest = _digest(definition)
        if digest == old_hash:
            continue  # unchanged: no write, no lock
        rows.append(
            {
                "tenant_id": tenant_id,
                "activity_id": activity_id,
                "definition": definition,
                "definition_hash": digest,
            }
        )
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = builder(Activity)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Activity.tenant_id, Activity.activity_id],
        set_={
            "definition": stmt.excluded.definition,
            "definition_hash": stmt.excluded.definition_hash,
        },
        # Skip rewriting unchanged rows (no lock churn, no dead tuples).
        where=Activity.definition_hash != stmt.excluded.definition_hash,
    )
    session.execute(stmt, rows)


@dataclass(frozen=True)
class StoreJob:
    """One request's statements to store (a POST, a PUT, or :func:`record_statement`)."""

    tenant_id: int
    credential_id: int | None
    authority: dict[str, Any]
    statements: list[Any]
    version: XapiVersion


#: What :func:`store_plans` answers for each job: its statement ids, or the error it gets.
Outcome = list[str] | LrsError


@dataclass
class Plan:
    """A job validated and prepared, before any database work (:func:`plan_job`).

    Everything here is per request and needs no database, so a group commit does it before a
    job joins a group, outside the one-at-a-time section that talks to the database.
    """

    job: StoreJob
    stored: str  # the ``stored`` instant of the job's statements, as written in the payloads
    stored_at: datetime
    prepared: list[_Prepared]
    #: Japan profile matches and index values, one per prepared statement.
    matches: list[profiles.Match]
    found: list[_Indexed]

    @property
    def ids(self) -> list[str]:
        return [p.statement_id for p in self.prepared]

    @property
    def size(self) -> int:
        return len(self.prepared)


def plan_job(job: StoreJob, *, now: datetime | None = None) -> Plan:
    """Validate and prepare a job; raises :class:`LrsError` 400 when it is invalid."""
    problems = validate_statements(job.statements, job.version)
    if problems:
        raise invalid(problems)
    stored_at = now or utcnow()
    stored = format_instant(stored_at)
    prepared = [
        _prepare(s, version=job.version, authority=job.authority, stored=stored)
        for s in job.statements
    ]
    parsed = parse_timestamp(stored)  # millisecond precision, as the payloads say
    assert parsed is not None
    return Plan(
        job,
        stored,
        parsed,
        prepared,
        # Japan xAPI profiles (xapi-notes.md §1.8): the template each statement matches.
        profiles.match_batch([p.payload for p in prepared]),
        [_index(p.payload) for p in prepared],
    )


def store_statements(
    session: Session,
    *,
    tenant_id: int,
    credential_id: int | None,
    authority: dict[str, Any],
    statements: list[Any],
    version: XapiVersion,
    now: datetime | None = None,
) -> list[str]:
    """Validate and store a batch in the caller's transaction; the ids in request order.

    Raises :class:`LrsError` 400 (invalid, with every problem), 409 (an id already stored with
    different content). Nothing is written unless everything can be.
    """
    job = StoreJob(tenant_id, credential_id, authority, statements, version)
    (outcome,) = store_plans(session, [plan_job(job, now=now)])
    if isinstance(outcome, LrsError):
        raise outcome
    return outcome


def store_plans(session: Session, plans: list[Plan]) -> list[Outcome]:
    """Store several independent jobs in the caller's transaction (group commit).

    Each job is all or nothing on its own and is judged as if the jobs had arrived one after
    the other in list order: a job that conflicts (409, also with an earlier job of the
    group), voids a voiding statement or breaks a strict tenant's profile rule gets its error
    and writes nothing, and the others are written. Errors of the database itself (including
    a concurrent writer's duplicate id) are raised for the whole group: the caller rolls back
    and retries (see :func:`store_group_with_retry`).
    """
    outcomes: list[Outcome | None] = [None] * len(plans)
    by_tenant: dict[int, list[tuple[int, Plan]]] = {}
    for i, plan in enumerate(plans):
        by_tenant.setdefault(plan.job.tenant_id, []).append((i, plan))
    for tenant_id in sorted(by_tenant):
        group = by_tenant[tenant_id]
        stored = _store_tenant(session, tenant_id, [plan for _, plan in group])
        for (i, _), outcome in zip(group, stored, strict=True):
            outcomes[i] = outcome
    return [o for o in outcomes if o is not None]


@dataclass
class _Registry:
    """What one read of the id registry says about the ids a group writes."""

    existing: dict[str, str]  # statement id -> content hash
    voiding_statements: set[str]
    already_voided: set[str]  # targets of stored voiding statements
    strict: bool  # the tenant's Japan profile strict mode


def _read_registry(session: Session, tenant_id: int, ids: set[str], targets: set[str]) -> _Registry:
    # One read answers four questions (1.0.3 Part Two §2.3.1, §2.3.2; xapi-notes.md §1.8):
    # which ids are already stored (and with what content), which voiding targets are
    # themselves voiding statements, which of these statements were voided before they
    # arrived, and whether the tenant is in strict mode (a marker row with an empty id, which
    # no statement can have: ids are UUIDs). Reading the switch here costs no round trip.
    r = StatementId
    registry = select(r.statement_id, r.content_hash, r.voiding_target).where(
        r.tenant_id == tenant_id,
        or_(
            _one_of(session, r.statement_id, ids | targets),
            _one_of(session, r.voiding_target, ids),
        ),
    )
    marker = select(
        literal("", String(36)), literal("", String(64)), literal(None, String(36))
    ).where(TenantLrsSettings.tenant_id == tenant_id, TenantLrsSettings.profile_strict.is_(True))
    found = _Registry({}, set(), set(), strict=False)
    rows: Iterable[Any] = session.execute(union_all(registry, marker))
    for sid, content_hash, voids in rows:
        if sid == "":
            found.strict = True
            continue
        if voids is not None:
            found.already_voided.add(voids)
            found.voiding_statements.add(sid)
        found.existing[sid] = content_hash
    return found


def _store_tenant(session: Session, tenant_id: int, plans: list[Plan]) -> list[Outcome]:
    ids: set[str] = set()
    targets: set[str] = set()
    for plan in plans:
        ids.update(plan.ids)
        targets.update(p.voiding_target for p in plan.prepared if p.voiding_target)
    registry = _read_registry(session, tenant_id, ids, targets)
    # Ids stored before or by an earlier job of the group, with their content hash.
    claimed = dict(registry.existing)
    voiding_ids = set(registry.voiding_statements)
    outcomes: list[Outcome] = []
    accepted: list[tuple[Plan, list[int]]] = []
    for plan in plans:
        try:
            new = _admit(plan, claimed, voiding_ids, registry.strict)
        except LrsError as exc:
            outcomes.append(exc)
            continue
        outcomes.append(plan.ids)
        if new:
            accepted.append((plan, new))
            for p in (plan.prepared[i] for i in new):
                claimed[p.statement_id] = p.content_hash
                if p.voiding_target:
                    voiding_ids.add(p.statement_id)
    if not accepted:
        return outcomes

    # Statements voided by voiding statements that arrived before them, or in this group.
    voided_targets = {
        target
        for plan, new in accepted
        for i in new
        if (target := plan.prepared[i].voiding_target) is not None
    }
    already_voided = registry.already_voided | voided_targets
    ensure_in_transaction(session, [plan.stored_at for plan, _ in accepted])
    rows = [
        _Row(
            statement_id=(p := plan.prepared[i]).statement_id,
            credential_id=plan.job.credential_id,
            stored=plan.stored,
            stored_at=plan.stored_at,
            verb_id=p.payload["verb"]["id"],
            registration=_registration(p.payload),
            voided=p.statement_id in already_voided and p.voiding_target is None,
            voiding_target=p.voiding_target,
            ref_target=_ref_target(p.payload),
            content_hash=p.content_hash,
            payload=p.payload,
            found=plan.found[i],
            **profiles.match_columns(plan.matches[i]),
        )
        for plan, new in accepted
        for i in new
    ]
    if session.get_bind().dialect.name == "postgresql":
        _insert_postgresql(session, tenant_id, rows)
    else:
        _insert_generic(session, tenant_id, rows)
    definitions: dict[str, Any] = {}
    for row in rows:
        for activity_id, definition in row.found.definitions.items():
            # Later statements add to (not replace) earlier definitions.
            definitions[activity_id] = _merge_definition(definitions.get(activity_id), definition)
    if voided_targets:
        session.execute(
            update(Statement)
            .where(
                Statement.tenant_id == tenant_id,
                _one_of(session, Statement.statement_id, sorted(voided_targets)),
                Statement.voiding_target.is_(None),
                Statement.voided.is_(False),
            )
            .values(voided=True)
        )
    _upsert_activities(session, tenant_id, definitions)
    return outcomes


def _admit(plan: Plan, claimed: dict[str, str], voiding_ids: set[str], strict: bool) -> list[int]:
    """Positions of the job's statements to write, or the job's error."""
    for i, p in enumerate(plan.prepared):
        if p.statement_id in claimed and not _same_content(claimed[p.statement_id], p):
            raise LrsError(
                409,
                f"Statement {p.statement_id} is already stored with different content "
                "(statements are immutable).",
                [Problem(f"$[{i}].id", "already stored with different content")],
            )
    new = [i for i, p in enumerate(plan.prepared) if p.statement_id not in claimed]
    # Japan xAPI profiles (xapi-notes.md §1.8): a tenant in strict mode refuses the job when
    # a statement it writes breaks a rule of the profile it claims.
    if strict:
        for i in new:
            if plan.matches[i].errors:
                raise _profile_violation(i, plan.matches[i])
    # Voiding (1.0.3 Part Two §2.3.2): a voiding statement cannot target another voiding one.
    targets = {t for i in new if (t := plan.prepared[i].voiding_target) is not None}
    own_voiding = {plan.prepared[i].statement_id for i in new if plan.prepared[i].voiding_target}
    if (targets & voiding_ids) or (targets & own_voiding):
        raise LrsError(400, "A voiding statement cannot void another voiding statement.")
    return new


def _profile_violation(index: int, match: profiles.Match) -> LrsError:
    """The 400 of strict mode: names the first broken rule and the JSON path of the part."""
    errors = match.errors
    first = errors[0]
    problems = [
        Problem(f"$[{index}]" + v.path[1:], f"{v.message_en} / {v.message_ja}", rule=v.rule)
        for v in errors
    ]
    return LrsError(
        400,
        f"Statement $[{index}] breaks the Japan xAPI profile rule {first.rule} at "
        f"$[{index}]{first.path[1:]}: {first.message_en} (this tenant's LRS is in strict mode)",
        problems,
    )


def _one_of(session: Session, column: Any, values: Iterable[str]) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY(array)``: one parameter, one plan (an
    expanded IN list of a hundred parameters costs more to plan than to run)."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(values, type_=PG_ARRAY(Text())))
    return column.in_(values)


@dataclass
class _Row:
    statement_id: str
    credential_id: int | None
    stored: str  # as in the payload
    stored_at: datetime
    verb_id: str
    registration: str | None
    voided: bool
    voiding_target: str | None
    ref_target: str | None
    content_hash: str
    payload: dict[str, Any]
    found: _Indexed
    # Japan xAPI profile tags (profiles.match_columns): both None when no profile is claimed.
    profile_template: str | None
    profile_rules: str | None


# Every row of a store in one statement, one round trip: the statements, their registry rows
# and their index rows (data-modifying CTEs; the index rows find their ``seq`` by statement id
# in the statements' RETURNING). The registry insert is what fails on a concurrent duplicate.
# Rows travel as three JSON documents (``jsonb_to_recordset``), not as arrays: psycopg escapes
# every quote of a text array element in Python, which for JSON payloads cost more than the
# whole insert. Each row carries its credential: a group commit writes several requests.
_PG_INSERT = text(
    """
WITH input AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS u(
        ord integer, sid varchar, cred integer, stored timestamptz, verb text,
        registration varchar, voided boolean, voiding varchar, ref varchar, hash varchar,
        payload jsonb, ptemplate varchar, prules varchar)
), st AS (
    INSERT INTO lrs_statements (tenant_id, statement_id, credential_id, verb_id, registration,
                                voided, voiding_target, ref_target, stored, content_hash, payload,
                                profile_template, profile_rules)
    SELECT :tenant_id, sid, cred, verb, registration, voided, voiding, ref, stored,
           hash, payload, ptemplate, prules
    FROM input ORDER BY ord
    RETURNING seq, statement_id, content_hash, voiding_target, stored
), registry AS (
    INSERT INTO lrs_statement_ids (tenant_id, statement_id, seq, content_hash, voiding_target)
    SELECT :tenant_id, statement_id, seq, content_hash, voiding_target FROM st
), agents AS (
    INSERT INTO lrs_statement_agents (seq, ifi, tenant_id, related, stored)
    SELECT st.seq, a.ifi, :tenant_id, a.related, st.stored
    FROM jsonb_to_recordset(CAST(:agents AS jsonb)) AS a(sid varchar, ifi text, related boolean)
    JOIN st ON st.statement_id = a.sid
), activities AS (
    INSERT INTO lrs_statement_activities (seq, activity_id, tenant_id, related, stored)
    SELECT st.seq, c.aid, :tenant_id, c.related, st.stored
    FROM jsonb_to_recordset(CAST(:activities AS jsonb)) AS c(sid varchar, aid text, related boolean)
    JOIN st ON st.statement_id = c.sid
)
SELECT count(*) FROM st
"""
)


def _insert_postgresql(session: Session, tenant_id: int, rows: list[_Row]) -> None:
    """The one-round-trip insert."""
    agents = [
        {"sid": row.statement_id, "ifi": ifi, "related": related}
        for row in rows
        for ifi, related in row.found.agents.items()
    ]
    activities = [
        {"sid": row.statement_id, "aid": aid, "related": related}
        for row in rows
        for aid, related in row.found.activities.items()
    ]
    inserted = session.execute(
        _PG_INSERT,
        {
            "tenant_id": tenant_id,
            "rows": dump_json(
                [
                    {
                        "ord": i,
                        "sid": r.statement_id,
                        "cred": r.credential_id,
                        "stored": r.stored,
                        "verb": r.verb_id,
                        "registration": r.registration,
                        "voided": r.voided,
                        "voiding": r.voiding_target,
                        "ref": r.ref_target,
                        "hash": r.content_hash,
                        "payload": r.payload,
                        "ptemplate": r.profile_template,
                        "prules": r.profile_rules,
                    }
                    for i, r in enumerate(rows)
                ]
            ),
            "agents": dump_json(agents),
            "activities": dump_json(activities),
        },
    ).scalar_one()
    if inserted != len(rows):  # pragma: no cover - the statement inserts every input row
        raise AssertionError(f"stored {inserted} of {len(rows)} statements")


def _insert_generic(session: Session, tenant_id: int, rows: list[_Row]) -> None:
    """SQLite (and any other database): executemany INSERTs, same rows as on PostgreSQL."""
    result = session.execute(
        insert(Statement).returning(Statement.seq, sort_by_parameter_order=True),
        [
            {
                "tenant_id": tenant_id,
                "statement_id": r.statement_id,
                "credential_id": r.credential_id,
                "verb_id": r.verb_id,
                "registration": r.registration,
                "voided": r.voided,
                "voiding_target": r.voiding_target,
                "ref_target": r.ref_target,
                "stored": r.stored_at,
                "content_hash": r.content_hash,
                "payload": r.payload,
                "profile_template": r.profile_template,
                "profile_rules": r.profile_rules,
            }
            for r in rows
        ],
    )
    seqs = [row[0] for row in result]
    session.execute(
        insert(StatementId),
        [
            {
                "tenant_id": tenant_id,
                "statement_id": r.statement_id,
                "seq": seq,
                "content_hash": r.content_hash,
                "voiding_target": r.voiding_target,
            }
            for seq, r in zip(seqs, rows, strict=True)
        ],
    )
    agent_rows = [
        {"seq": seq, "ifi": ifi, "tenant_id": tenant_id, "related": related, "stored": r.stored_at}
        for seq, r in zip(seqs, rows, strict=True)
        for ifi, related in r.found.agents.items()
    ]
    activity_rows = [
        {
            "seq": seq,
            "activity_id": aid,
            "tenant_id": tenant_id,
            "related": related,
            "stored": r.stored_at,
        }
        for seq, r in zip(seqs, rows, strict=True)
        for aid, related in r.found.activities.items()
    ]
    if agent_rows:
        session.execute(insert(StatementAgent), agent_rows)
    if activity_rows:
        session.execute(insert(StatementActivity), activity_rows)


def _ref_target(payload: dict[str, Any]) -> str | None:
    target = payload.get("object")
    if isinstance(target, dict) and target.get("objectType") == "StatementRef":
        return str(target.get("id", "")).lower() or None
    return None


def _registration(payload: dict[str, Any]) -> str | None:
    context = payload.get("context")
    if isinstance(context, dict) and isinstance(context.get("registration"), str):
        return str(context["registration"]).lower()
    return None


def take_write_lock(session: Session) -> None:
    """On SQLite, become the writer before the first read of a read-then-write transaction.

    SQLite (WAL) cannot upgrade a transaction that has read into a writer while another
    connection writes: it fails at once with "database is locked" instead of waiting on the busy
    timeout. A write that matches no row, issued first, takes the write lock (waiting its turn).
    PostgreSQL needs nothing: row locks and the unique constraint do the work there.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Activity).where(false()).values(tenant_id=Activity.tenant_id))


def store_with_retry(
    container: Container,
    *,
    tenant_id: int,
    credential_id: int | None,
    authority: dict[str, Any],
    statements: list[Any],
    version: XapiVersion,
    also: Callable[[Session], None] | None = None,
) -> list[str]:
    """:func:`store_statements` in its own transaction (with ``also``, e.g. attachment content).

    Two writers racing on one new id both pass the existence check; the loser's insert hits the
    unique constraint. Running it once more compares against the winner's row (idempotent or
    409), as if it had come second.
    """
    for attempt in (1, 2):
        try:
            with container.database.transaction() as session:
                take_write_lock(session)
                ids = store_statements(
                    session,
                    tenant_id=tenant_id,
                    credential_id=credential_id,
                    authority=authority,
                    statements=statements,
                    version=version,
                )
                if also is not None:
                    also(session)
                return ids
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def store_group_with_retry(
    container: Container, plans: list[Plan]
) -> list[list[str] | BaseException]:
    """:func:`store_plans` in one transaction: one commit, one WAL flush for every job.

    Returns after the commit, never before. A concurrent writer's duplicate id fails the
    group's insert; the group runs once more and then compares with the winner's rows, as in
    :func:`store_with_retry`. When the group's transaction fails otherwise (or twice), every
    job is stored again on its own, so a job the database refuses (a server error, not an LRS
    rule) fails alone and never takes its neighbours' statements with it.
    """
    if len(plans) > 1:
        for _attempt in (1, 2):
            try:
                return _store_plans_committed(container, plans)
            except IntegrityError:
                continue
            except Exception:
                logger.warning("a group of %d xAPI writes failed; storing each alone", len(plans))
                break
    alone: list[list[str] | BaseException] = []
    for plan in plans:
        try:
            alone.append(_store_plan_alone(container, plan))
        except Exception as exc:
            alone.append(exc)
    return alone


def _store_plan_alone(container: Container, plan: Plan) -> list[str] | BaseException:
    for attempt in (1, 2):  # as store_with_retry
        try:
            (outcome,) = _store_plans_committed(container, [plan])
            return outcome
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store_plans_committed(
    container: Container, plans: list[Plan]
) -> list[list[str] | BaseException]:
    with container.database.transaction() as session:
        take_write_lock(session)
        outcomes: list[list[str] | BaseException] = list(store_plans(session, plans))
    return outcomes  # committed


def record_statement(container: Container, tenant_id: int, statement: dict[str, Any]) -> str:
    """Validate and store one statement from inside Tsunagu (sign-in, launches, grades).

    The authority is the portal itself (account ``tsunagu`` at the portal's base URL).
    Raises :class:`LrsError` like the HTTP API would answer.
    """
    problems = validate_statement(statement, V1)
    if problems:
        raise invalid(problems)
    authority = {
        "objectType": "Agent",
        "account": {"homePage": container.settings.base_url, "name": "tsunagu"},
    }
    ids = store_with_retry(
        container,
        tenant_id=tenant_id,
        credential_id=None,
        authority=authority,
        statements=[statement],
        version=V1,
    )
    return ids[0]


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementQuery:
    """The filters of ``GET /statements`` (1.0.3 Part Three §2.1.3), already parsed."""

    agent: str | None = None  # an IFI as :func:`agent_ifi` spells it
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 0
    ascending: bool = False
    #: Only statements stored with this credential (``statements/read/mine``).
    credential_id: int | None = None


@dataclass(frozen=True)
class Page:
    statements: list[dict[str, Any]]
    #: (last seq returned, bound) for the next page, or None at the end.
    next_position: tuple[int, int] | None


def get_statement(
    session: Session,
    tenant_id: int,
    statement_id: str,
    *,
    voided: bool,
    credential_id: int | None = None,
) -> tuple[dict[str, Any], datetime] | None:
    """``statementId`` (not voided) or ``voidedStatementId`` (voided) lookup."""
    where = [
        Statement.tenant_id == tenant_id,
        Statement.statement_id == statement_id.lower(),
        Statement.voided.is_(voided),
    ]
    if credential_id is not None:
        where.append(Statement.credential_id == credential_id)
    row = session.execute(select(Statement.payload, Statement.stored).where(*where)).first()
    if row is None:
        return None
    payload, stored = row
    return payload, stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)


def get_activity_definition(
    session: Session, tenant_id: int, activity_id: str
) -> dict[str, Any] | None:
    """The canonical definition kept for an activity (1.0.3 Part Three §2.5), if any."""
    found = session.scalar(
        select(Activity.definition).where(
            Activity.tenant_id == tenant_id, Activity.activity_id == activity_id
        )
    )
    return dict(found) if found is not None else None


def _activities_in(part: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The Activity objects of a statement or sub-statement (object and context activities)."""
    target = part.get("object")
    if isinstance(target, dict):
        kind = target.get("objectType", "Activity")
        if kind == "Activity":
            yield target
        elif kind == "SubStatement":
            yield from _activities_in(target)
    context = part.get("context")
    activities = context.get("contextActivities") if isinstance(context, dict) else None
    if isinstance(activities, dict):
        for items in activities.values():
            for item in items if isinstance(items, list) else [items]:
                if isinstance(item, dict):
                    yield item


def _with_definitions(part: dict[str, Any], found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    def activity(value: Any) -> Any:
        if isinstance(value, dict) and value.get("id") in found:
            return {**value, "definition": found[value["id"]]}
        return value

    out = dict(part)
    target = out.get("object")
    if isinstance(target, dict):
        kind = target.get("objectType", "Activity")
        if kind == "Activity":
            out["object"] = activity(target)
        elif kind == "SubStatement":
            out["object"] = _with_definitions(target, found)
    context = out.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        out["context"] = {
            **context,
            "contextActivities": {
                key: [activity(i) for i in items] if isinstance(items, list) else activity(items)
                for key, items in context["contextActivities"].items()
            },
        }
    return out


def canonical_activities(
    session: Session, tenant_id: int, statements: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``format=canonical`` (1.0.3 Part Three §2.1.3): every Activity carries the definition the
    LRS holds for it (:class:`Activity`, merged from every statement), not the one this statement
    happened to send. One query per page; the stored statements are not changed."""
    ids = sorted({a["id"] for s in statements for a in _activities_in(s) if "id" in a})
    found: dict[str, dict[str, Any]] = {}
    for chunk in iter_batches(ids, 500):
        found.update(
            (row[0], dict(row[1]))
            for row in session.execute(
                select(Activity.activity_id, Activity.definition).where(
                    Activity.tenant_id == tenant_id, Activity.activity_id.in_(chunk)
                )
            )
        )
    if not found:
        return statements
    return [_with_definitions(s, found) for s in statements]


def max_seq(session: Session, tenant_id: int) -> int:
    found = session.scalar(
        select(Statement.seq)
        .where(Statement.tenant_id == tenant_id)
        .order_by(Statement.seq.desc())
        .limit(1)
    )
    return int(found or 0)


def query_statements(
    session: Session,
    tenant_id: int,
    query: StatementQuery,
    *,
    after: int | None = None,
    bound: int | None = None,
) -> Page:
    """One page, newest first unless ``ascending``; voided statements never appear."""
    if session.get_bind().dialect.name == "postgresql":
        # A page is a short keyset read: starting parallel workers costs more than it saves
        # (measured ~10 ms of worker start-up at 1 M statements on two cores).
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    if bound is None:
        bound = max_seq(session, tenant_id)
    s = Statement
    where: list[Any] = [s.tenant_id == tenant_id, s.voided.is_(False), s.seq <= bound]
    if after is not None:
        where.append(s.seq > after if query.ascending else s.seq < after)
    if query.since is not None:
        where.append(s.stored > query.since)
    if query.until is not None:
        where.append(s.stored <= query.until)
    if query.credential_id is not None:
        where.append(s.credential_id == query.credential_id)
    own = _content_filters(s, tenant_id, query)
    order = s.seq.asc() if query.ascending else s.seq.desc()
    rows = list(
        session.execute(
            select(s.seq, s.payload).where(*where, *own).order_by(order).limit(query.limit + 1)
        ).all()
    )
    if own:
        # 1.0.3 Part Three §2.1.3 "Filter Conditions for StatementRefs": a statement whose object
        # is a StatementRef (voiding statements too) also matches when its target does (one
        # level; the target may itself be voided). A second keyset query driven from the
        # matching targets through ix_lrs_statements_ref_target, merged here: an OR inside one
        # query would stop PostgreSQL from driving the page from the filter's index.
        target = aliased(Statement)
        referencing = (
            select(s.seq, s.payload)
            .join(
                target,
                and_(target.tenant_id == s.tenant_id, target.statement_id == s.ref_target),
            )
            # Redundant with the join, but it lets the planner start from the few statements
            # that reference another (ix_lrs_statements_ref_target) instead of from every
            # statement the filter matches.
            .where(s.ref_target.is_not(None), *where, *_content_filters(target, tenant_id, query))
            .order_by(order)
            .limit(query.limit + 1)
        )
        seen = {row[0] for row in rows}
        rows.extend(row for row in session.execute(referencing).all() if row[0] not in seen)
        rows.sort(key=lambda row: int(row[0]), reverse=not query.ascending)
        rows = rows[: query.limit + 1]
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_position = (int(rows[-1][0]), bound) if more and rows else None
    return Page([row[1] for row in rows], next_position)


def _content_filters(s: Any, tenant_id: int, query: StatementQuery) -> list[Any]:
    """The agent/verb/activity/registration conditions on statement row ``s``."""
    where: list[Any] = []
    if query.verb is not None:
        where.append(s.verb_id == query.verb)
    if query.registration is not None:
        where.append(s.registration == query.registration.lower())
    if query.agent is not None:
        a = StatementAgent
        # ``stored`` too: the partition key lets PostgreSQL probe one partition per candidate.
        cond = [
            a.tenant_id == tenant_id,
            a.ifi == query.agent,
            a.seq == s.seq,
            a.stored == s.stored,
        ]
        if not query.related_agents:
            cond.append(a.related.is_(False))
        where.append(exists().where(and_(*cond)))
    if query.activity is not None:
        c = StatementActivity
        cond = [
            c.tenant_id == tenant_id,
            c.activity_id == query.activity,
            c.seq == s.seq,
            c.stored == s.stored,
        ]
        if not query.related_activities:
            cond.append(c.related.is_(False))
        where.append(exists().where(and_(*cond)))
    return where


# --- formats (1.0.3 Part Three §2.1.3 "format") ----------------------------------------------


def _ids_agent(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    out: dict[str, Any] = {}
    if "objectType" in agent:
        out["objectType"] = agent["objectType"]
    for key in ("mbox", "mbox_sha1sum", "openid", "account"):
        if key in agent:
            out[key] = agent[key]
            break
    else:
        if isinstance(agent.get("member"), list):  # anonymous group: its members identify it
            out["member"] = [_ids_agent(m) for m in agent["member"]]
    return out


def _ids_body(part: dict[str, Any]) -> dict[str, Any]:
    out = dict(part)
    if "actor" in out:
        out["actor"] = _ids_agent(out["actor"])
    if isinstance(out.get("verb"), dict):
        out["verb"] = {"id": out["verb"].get("id")}
    target = out.get("object")
    if isinstance(target, dict):
        kind = target.get("objectType", "Activity")
        if kind in ("Agent", "Group"):
            out["object"] = _ids_agent(target)
        elif kind == "Activity":
            out["object"] = {"id": target.get("id")}
        elif kind == "SubStatement":
            out["object"] = _ids_body(target)
    if "authority" in out:
        out["authority"] = _ids_agent(out["authority"])
    context = out.get("context")
    if isinstance(context, dict):
        context = dict(context)
        for key in ("instructor", "team"):
            if key in context:
                context[key] = _ids_agent(context[key])
        activities = context.get("contextActivities")
        if isinstance(activities, dict):
            context["contextActivities"] = {
                k: [{"id": a.get("id")} for a in v] if isinstance(v, list) else v
                for k, v in activities.items()
            }
        out["context"] = context
    return out


_V2_CONTEXT_ONLY = ("contextAgents", "contextGroups")


def downgrade_to_1_0(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement without the IEEE 9274.1.1 (2.0) context properties, for 1.0.3 readers.

    Copy-on-write: unchanged statements are returned as they are."""

    def strip(part: dict[str, Any]) -> dict[str, Any]:
        context = part.get("context")
        if isinstance(context, dict) and any(k in context for k in _V2_CONTEXT_ONLY):
            context = {k: v for k, v in context.items() if k not in _V2_CONTEXT_ONLY}
            part = {**part, "context": context}
        target = part.get("object")
        if isinstance(target, dict) and target.get("objectType") == "SubStatement":
            stripped = strip(target)
            if stripped is not target:
                part = {**part, "object": stripped}
        return part

    return strip(statement)


def ids_format(statement: dict[str, Any]) -> dict[str, Any]:
    """``format=ids``: Agents, Groups, Activities and Verbs reduced to what identifies them."""
    return _ids_body(statement)


# --- the ``more`` token ----------------------------------------------------------------------


def encode_more(key: bytes, state: dict[str, Any]) -> str:
    """An opaque, signed, URL-safe token: base64url(JSON) '.' base64url(HMAC-SHA256)[:16]."""
    body = base64.urlsafe_b64encode(
        json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    ).rstrip(b"=")
    mac = hmac.new(key, b"lrs-more:" + body, hashlib.sha256).digest()[:16]
    return body.decode() + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def decode_more(key: bytes, token: str) -> dict[str, Any] | None:
    body, _, sig = token.partition(".")
    if not body or not sig or len(token) > 4096:
        return None
    try:
        expected = hmac.new(key, b"lrs-more:" + body.encode(), hashlib.sha256).digest()[:16]
        given = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        if not hmac.compare_digest(expected, given):
            return None
        state = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, UnicodeError):
        return None
    return state if isinstance(state, dict) else None


def iter_batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
