"""The composition root's product: settings plus the shared resources every service needs.

Built once per process by :func:`build_container` (from the CLI or :func:`tsunagu.app.create_app`),
never at import time, so tests can build as many as they like against different databases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tsunagu.db.engine import Database
from tsunagu.settings import Settings


@dataclass
class Container:
    settings: Settings
    database: Database
    #: Per-process objects a domain builds on first use (session store, rate limiter, JWKS
    #: cache), by name; see :meth:`runtime`.
    _runtime: dict[str, Any] = field(default_factory=dict, repr=False)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _runtime_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = field(default=False, repr=False)

    def runtime(self, name: str, build: Callable[[Container], Any]) -> Any:
        """The process-wide object ``name``, built once by ``build(container)``."""
        found = self._runtime.get(name)
        if found is None:
            with self._runtime_lock:  # request threads may ask at the same moment
                found = self._runtime.get(name)
                if found is None:
                    found = build(self)
                    close = getattr(found, "close", None)
                    if callable(close):
                        self._closers.append(close)
                    self._runtime[name] = found
        return found

    def close(self) -> None:
        # Runtime objects are dropped on every close (an app's lifespan ends, a test's next
        # app builds them again); the engine only needs disposing once.
        for close in reversed(self._closers):
            close()
        self._closers.clear()
        self._runtime.clear()
        if not self._closed:
            self.database.dispose()
            self._closed = True


def build_container(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    return Container(
        settings=settings,
        database=Database(settings.resolved_database_url, pool_size=settings.worker_threads),
    )
