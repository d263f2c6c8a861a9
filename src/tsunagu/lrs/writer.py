"""Group commit: statement stores that arrive together in one process share one transaction.

Why: a single-statement store is short, and on PostgreSQL most of its time is the round trips
of its transaction and the WAL flush of its COMMIT (docs/lrs-benchmark.md). Requests that
arrive while a group is being written wait for the next group, and that group pays one
BEGIN, one registry read, one insert and one COMMIT for all of them. Under no load a group is
one request and nothing waits; under load the groups grow by themselves.

Durability is unchanged: a request is answered only after the COMMIT of the transaction that
holds its statements has returned (``synchronous_commit`` as the server has it). Each request
stays all or nothing on its own and is judged as if the group's requests had arrived one
after the other (:func:`tsunagu.lrs.service.store_plans`); a request the database itself
refuses is retried alone and fails alone (:func:`tsunagu.lrs.service.store_group_with_retry`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from tsunagu.lrs.service import Plan

StoreGroup = Callable[[list[Plan]], list[list[str] | BaseException]]

#: A group stops growing at this many statements (a batch larger than that is a group alone).
MAX_GROUP_STATEMENTS = 1000


class GroupWriter:
    """Coalesces the stores of one event loop; ``writers`` groups may be in flight at once."""

    def __init__(
        self,
        store_group: StoreGroup,
        *,
        writers: int = 1,
        max_statements: int = MAX_GROUP_STATEMENTS,
    ) -> None:
        self._store_group = store_group
        self._writers = writers
        self._max_statements = max_statements
        self._pending: deque[tuple[Plan, asyncio.Future[list[str]]]] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()  # strong references until done

    async def store(self, plan: Plan) -> list[str]:
        """The job's statement ids once committed, or the job's own error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[str]] = loop.create_future()
        self._pending.append((plan, future))
        if self._running < self._writers:
            self._running += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    def _take(self) -> list[tuple[Plan, asyncio.Future[list[str]]]]:
        group = [self._pending.popleft()]
        size = group[0][0].size
        while self._pending:
            following = self._pending[0][0].size
            if size + following > self._max_statements:
                break
            group.append(self._pending.popleft())
            size += following
        return group

    async def _drain(self) -> None:
        group: list[tuple[Plan, asyncio.Future[list[str]]]] = []
        try:
            while self._pending:
                group = self._take()
                outcomes = await run_in_threadpool(self._store_group, [plan for plan, _ in group])
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():  # the client went away; its statements are stored
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                group = []
        except BaseException as exc:
            # Only if the thread hand-off itself failed (shutdown): nobody may wait forever.
            waiting = list(group)
            if self._running == 1:  # no other drain will take the rest
                waiting += self._pending
                self._pending.clear()
            for _, future in waiting:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            raise
        finally:
            self._running -= 1
