"""Group commit: several requests' statements in one transaction, each request judged alone.

The service level (``store_plans`` in one transaction, ``store_group_with_retry``), the
coalescing writer (``GroupWriter``, with a fake store so the grouping is deterministic) and
concurrent POSTs over HTTP, on both backends.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.lrs.conftest import TENANT_A, TENANT_B, Cred, MakeCred, statement
from tests.lrs.test_profiles_store import GOOD_SCORE, answered, set_strict
from tsunagu.container import Container
from tsunagu.lrs import service
from tsunagu.lrs.credentials import authority_for
from tsunagu.lrs.models import Statement
from tsunagu.lrs.service import (
    LrsError,
    Plan,
    StoreJob,
    plan_job,
    store_group_with_retry,
    store_plans,
)
from tsunagu.lrs.versions import V1
from tsunagu.lrs.writer import GroupWriter
from tsunagu.tenancy import service as tenancy

VOIDED = {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en": "voided"}}


def _tenant_id(container: Container, code: str = TENANT_A) -> int:
    with container.database.session() as session:
        return tenancy.get_tenant(session, code).id


def _plan(container: Container, *statements: dict[str, Any], tenant: str = TENANT_A) -> Plan:
    job = StoreJob(
        tenant_id=_tenant_id(container, tenant),
        credential_id=None,
        authority=authority_for(container.settings.base_url, "test"),
        statements=list(statements),
        version=V1,
    )
    return plan_job(job)


def _void(target: str) -> dict[str, Any]:
    voiding = statement(
        id=str(uuid.uuid4()),
        verb=VOIDED,
        object={"objectType": "StatementRef", "id": target},
    )
    del voiding["context"]  # platform and language only go with an Activity object
    return voiding


def _stored(container: Container) -> dict[str, tuple[bool, dict[str, Any]]]:
    """statement id -> (voided, payload) of every stored statement."""
    with container.database.session() as session:
        found = session.execute(
            select(Statement.statement_id, Statement.voided, Statement.payload)
        ).all()
    return {r[0]: (r[1], r[2]) for r in found}


def _in_one_transaction(container: Container, plans: list[Plan]) -> list[service.Outcome]:
    with container.database.transaction() as session:
        return store_plans(session, plans)


def test_a_group_stores_every_job_in_one_transaction(
    container: Container, tenants: tuple[str, str]
) -> None:
    plans = [_plan(container, statement(id=str(uuid.uuid4()))) for _ in range(5)]
    plans.append(_plan(container, *[statement(id=str(uuid.uuid4())) for _ in range(3)]))
    outcomes = _in_one_transaction(container, plans)
    assert outcomes == [plan.ids for plan in plans]
    assert set(_stored(container)) == {i for plan in plans for i in plan.ids}


def test_a_conflict_inside_one_group_fails_only_the_later_job(
    container: Container, tenants: tuple[str, str]
) -> None:
    same = str(uuid.uuid4())
    first = statement(id=same)
    other = statement(id=same, timestamp="2025-06-02T09:00:00+09:00")  # different content
    neighbour = statement(id=str(uuid.uuid4()))
    outcomes = _in_one_transaction(
        container,
        [_plan(container, first), _plan(container, other, neighbour), _plan(container, neighbour)],
    )
    assert outcomes[0] == [same]
    assert isinstance(outcomes[1], LrsError)
    assert outcomes[1].status == 409
    assert outcomes[2] == [neighbour["id"]]  # not refused because job 2 was
    stored = _stored(container)
    assert set(stored) == {same, neighbour["id"]}
    assert stored[same][1]["timestamp"] == first["timestamp"]  # the earlier job won


def test_the_same_statement_twice_in_one_group_is_stored_once(
    container: Container, tenants: tuple[str, str]
) -> None:
    same = statement(id=str(uuid.uuid4()))
    outcomes = _in_one_transaction(container, [_plan(container, same), _plan(container, same)])
    assert outcomes == [[same["id"]], [same["id"]]]
    with container.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Statement)) == 1


def test_conflicts_with_stored_statements_fail_their_job_alone(
    container: Container, tenants: tuple[str, str]
) -> None:
    stored = statement(id=str(uuid.uuid4()))
    _in_one_transaction(container, [_plan(container, stored)])
    changed = {**stored, "timestamp": "2025-06-03T09:00:00+09:00"}
    fresh = statement(id=str(uuid.uuid4()))
    outcomes = _in_one_transaction(
        container, [_plan(container, changed, fresh), _plan(container, stored)]
    )
    assert isinstance(outcomes[0], LrsError)
    assert outcomes[0].status == 409
    assert outcomes[1] == [stored["id"]]  # idempotent
    assert fresh["id"] not in _stored(container)  # job 1 is all or nothing


def test_voiding_across_jobs_of_one_group(container: Container, tenants: tuple[str, str]) -> None:
    target = statement(id=str(uuid.uuid4()))
    voiding = _void(target["id"])
    void_of_void = _void(voiding["id"])
    bystander = statement(id=str(uuid.uuid4()))
    outcomes = _in_one_transaction(
        container,
        [
            _plan(container, target),
            _plan(container, voiding),
            _plan(container, void_of_void, bystander),
            _plan(container, bystander),
        ],
    )
    assert outcomes[0] == [target["id"]]
    assert outcomes[1] == [voiding["id"]]
    assert isinstance(outcomes[2], LrsError)
    assert outcomes[2].status == 400
    assert outcomes[3] == [bystander["id"]]
    stored = _stored(container)
    assert stored[target["id"]][0] is True  # voided by a later job of the same group
    assert stored[voiding["id"]][0] is False
    assert void_of_void["id"] not in stored


def test_a_voiding_statement_that_arrives_first_voids_a_later_job(
    container: Container, tenants: tuple[str, str]
) -> None:
    later = statement(id=str(uuid.uuid4()))
    outcomes = _in_one_transaction(
        container, [_plan(container, _void(later["id"])), _plan(container, later)]
    )
    assert all(isinstance(o, list) for o in outcomes)
    assert _stored(container)[later["id"]][0] is True


def test_strict_mode_refuses_one_job_of_a_group(
    container: Container, tenants: tuple[str, str]
) -> None:
    set_strict(container, TENANT_A, True)
    breaking = answered({"scaled": 0.5, "max": 10})  # no raw score: a rule of the profile
    good = answered(GOOD_SCORE)
    outcomes = _in_one_transaction(
        container,
        [_plan(container, good), _plan(container, breaking), _plan(container, statement())],
    )
    assert isinstance(outcomes[0], list)
    assert isinstance(outcomes[2], list)
    assert isinstance(outcomes[1], LrsError)
    assert outcomes[1].status == 400
    assert "assessment.answered.score-raw" in outcomes[1].message
    assert len(_stored(container)) == 2


def test_tenants_in_one_group_stay_apart(container: Container, tenants: tuple[str, str]) -> None:
    same_id = str(uuid.uuid4())
    a = statement(id=same_id)
    b = statement(id=same_id, timestamp="2025-06-02T09:00:00+09:00")  # would be a 409 in A
    outcomes = _in_one_transaction(
        container, [_plan(container, a), _plan(container, b, tenant=TENANT_B)]
    )
    assert outcomes == [[same_id], [same_id]]
    with container.database.session() as session:
        found = session.execute(
            select(Statement.tenant_id, Statement.payload["timestamp"].as_string()).where(
                Statement.statement_id == same_id
            )
        ).all()
    by_tenant = {row[0]: row[1] for row in found}
    assert by_tenant == {
        _tenant_id(container, TENANT_A): a["timestamp"],
        _tenant_id(container, TENANT_B): b["timestamp"],
    }


def test_a_job_the_database_refuses_does_not_take_its_neighbours_down(
    container: Container, tenants: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = [_plan(container, statement(id=str(uuid.uuid4()))) for _ in range(3)]
    poisoned = plans[1].ids[0]
    real = service.store_plans

    def failing(session: Any, group: list[Plan]) -> list[service.Outcome]:
        # Stands for a server-side error of one job's rows (not an LRS rule): the group's
        # transaction fails whenever that job is in it.
        if any(poisoned in plan.ids for plan in group):
            raise RuntimeError("the database refused a row")
        return real(session, group)

    monkeypatch.setattr(service, "store_plans", failing)
    outcomes = store_group_with_retry(container, plans)
    assert outcomes[0] == plans[0].ids
    assert outcomes[2] == plans[2].ids
    assert isinstance(outcomes[1], RuntimeError)
    assert set(_stored(container)) == {plans[0].ids[0], plans[2].ids[0]}


def test_a_group_retries_after_a_concurrent_duplicate(
    container: Container, tenants: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer commits one of the group's ids between the group's read and its insert:
    the insert fails on the registry's key, and the retry answers that job as a repeat."""
    if container.database.is_sqlite:
        pytest.skip("SQLite has one writer at a time (take_write_lock): this race cannot happen")
    raced = statement(id=str(uuid.uuid4()))
    plans = [_plan(container, raced), _plan(container, statement(id=str(uuid.uuid4())))]
    real = service._read_registry
    calls = {"n": 0}

    def read_then_race(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:  # the other writer wins the race once
            _in_one_transaction(container, [_plan(container, raced)])
        return found

    monkeypatch.setattr(service, "_read_registry", read_then_race)
    outcomes = store_group_with_retry(container, plans)
    assert outcomes == [plans[0].ids, plans[1].ids]
    assert len(_stored(container)) == 2


# --- the coalescing writer -------------------------------------------------------------------


def _fake_plan(size: int = 1) -> Plan:
    job = StoreJob(1, None, {}, [{}] * size, V1)
    return Plan(job, "", None, [], [], [])  # type: ignore[arg-type,unused-ignore]


def test_the_writer_coalesces_waiting_jobs_and_answers_each_after_its_group() -> None:
    groups: list[int] = []
    first_started = threading.Event()
    release = threading.Event()
    committed: list[int] = []

    def store(plans: list[Plan]) -> list[list[str] | BaseException]:
        if not groups:
            first_started.set()
            release.wait(10)  # the first group is "in the database" while the others arrive
        groups.append(len(plans))
        out: list[list[str] | BaseException] = []
        for plan in plans:
            n = plan.job.tenant_id
            out.append(LrsError(409, "conflict") if n == 3 else [str(n)])
        committed.append(len(plans))
        return out

    async def scenario() -> list[Any]:
        writer = GroupWriter(store)
        plans = [_fake_plan() for _ in range(5)]
        for i, plan in enumerate(plans):
            plan.job = StoreJob(i, None, {}, [{}], V1)
        first = asyncio.ensure_future(writer.store(plans[0]))
        await asyncio.get_running_loop().run_in_executor(None, first_started.wait, 10)
        rest = [asyncio.ensure_future(writer.store(p)) for p in plans[1:]]
        await asyncio.sleep(0.05)
        assert not any(f.done() for f in rest)  # nobody is answered before their commit
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = asyncio.run(scenario())
    assert groups == [1, 4]  # the four that waited went in one group
    assert committed == [1, 4]
    assert results[:3] == [["0"], ["1"], ["2"]]
    assert results[4] == ["4"]
    assert isinstance(results[3], LrsError)  # its own error, not its neighbours'


def test_the_writer_caps_a_group_by_statements() -> None:
    groups: list[int] = []
    gate = threading.Event()

    def store(plans: list[Plan]) -> list[list[str] | BaseException]:
        gate.wait(10)
        groups.append(sum(p.size for p in plans))
        return [[] for _ in plans]

    async def scenario() -> None:
        writer = GroupWriter(store, max_statements=250)
        sizes = [1, 100, 100, 100, 100]
        plans = []
        for size in sizes:
            plan = _fake_plan()
            plan.prepared = [None] * size  # type: ignore[list-item,unused-ignore]
            plans.append(plan)
        futures = [asyncio.ensure_future(writer.store(p)) for p in plans]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(*futures)

    asyncio.run(scenario())
    assert groups == [201, 200]  # all five were waiting when the first group formed


# --- over HTTP -------------------------------------------------------------------------------


def test_concurrent_posts_are_each_answered_for_their_own_statements(
    http: TestClient, make_cred: MakeCred, container: Container
) -> None:
    creds: list[Cred] = [make_cred(), make_cred(TENANT_B)]
    taken = statement(id=str(uuid.uuid4()))
    assert http.post("/xapi/statements", json=taken, headers=creds[0].headers()).status_code == 200
    results: list[tuple[int, int, Any]] = []
    start = threading.Barrier(12)

    def post(n: int) -> None:
        cred = creds[n % 2]
        if n == 4:  # a conflict in tenant A: its own 409, nobody else's
            body: Any = [{**taken, "timestamp": "2025-06-09T09:00:00+09:00"}]
        else:
            body = [statement(id=str(uuid.uuid4())) for _ in range(1 + n % 3)]
        start.wait()
        r = http.post("/xapi/statements", json=body, headers=cred.headers())
        results.append((n, r.status_code, (body, r.json())))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 12
    expected = 1
    for n, status, (body, answer) in results:
        if n == 4:
            assert status == 409
            continue
        assert status == 200, answer
        assert answer == [s["id"] for s in body]
        expected += len(body)
    with container.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Statement)) == expected
        a, b = _tenant_id(container, TENANT_A), _tenant_id(container, TENANT_B)
        per_tenant = dict(
            session.execute(
                select(Statement.tenant_id, func.count()).group_by(Statement.tenant_id)
            ).all()
        )
    assert set(per_tenant) == {a, b}


# --- content digests written before orjson ----------------------------------------------------


def test_rows_with_the_legacy_digest_still_compare(
    container: Container, tenants: tuple[str, str]
) -> None:
    """Statements stored before the digest moved to orjson carry the json.dumps digest: a
    repeat is still idempotent and a change still a 409."""
    from sqlalchemy import update

    from tsunagu.lrs.models import StatementId

    # A float with a negative exponent: the one place the two serialisations differ
    # (json.dumps writes 1e-07, orjson 1e-7); for everything else the digests are equal.
    old = statement(
        id=str(uuid.uuid4()), result={"extensions": {"https://portal.example.jp/x/eps": 1e-7}}
    )
    _in_one_transaction(container, [_plan(container, old)])
    legacy = service.legacy_canonical_hash(_plan(container, old).prepared[0].hashed)
    assert legacy != service.canonical_hash(_plan(container, old).prepared[0].hashed)
    with container.database.transaction() as session:
        for table in (StatementId, Statement):
            session.execute(
                update(table).where(table.statement_id == old["id"]).values(content_hash=legacy)
            )
    changed = {**old, "timestamp": "2025-06-05T09:00:00+09:00"}
    outcomes = _in_one_transaction(container, [_plan(container, old), _plan(container, changed)])
    ordinary = statement(id=str(uuid.uuid4()))
    hashed = _plan(container, ordinary).prepared[0].hashed
    assert service.canonical_hash(hashed) == service.legacy_canonical_hash(hashed)
    assert outcomes[0] == [old["id"]]
    assert isinstance(outcomes[1], LrsError)
    assert outcomes[1].status == 409


def test_integers_beyond_64_bits_are_hashed_and_compared(
    container: Container, tenants: tuple[str, str]
) -> None:
    big = statement(
        id=str(uuid.uuid4()),
        result={"extensions": {"https://portal.example.jp/x/big": 2**70}},
    )
    first = _in_one_transaction(container, [_plan(container, big)])
    again = _in_one_transaction(container, [_plan(container, big)])
    assert first == again == [[big["id"]]]
    other = {**big, "result": {"extensions": {"https://portal.example.jp/x/big": 2**70 + 1}}}
    (conflict,) = _in_one_transaction(container, [_plan(container, other)])
    assert isinstance(conflict, LrsError)
    assert conflict.status == 409
