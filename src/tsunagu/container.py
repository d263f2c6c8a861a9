"""The composition root's product: settings plus the shared resources every service needs.

Built once per process by :func:`build_container` (from the CLI or :func:`tsunagu.app.create_app`),
never at import time, so tests can build as many as they like against different databases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tsunagu.db.engine import Database
from tsunagu.settings import Settings


@dataclass
class Container:
    settings: Settings
    database: Database
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if not self._closed:
            self.database.dispose()
            self._closed = True


def build_container(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    return Container(settings=settings, database=Database(settings.resolved_database_url))
