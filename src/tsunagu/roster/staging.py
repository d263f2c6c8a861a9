"""Temporary staging tables an import streams rows into, per database dialect.

Rows go into per-transaction temporary tables (COPY on PostgreSQL, batched inserts on SQLite);
everything that needs more than one row — duplicates, references between files, the diff
against the stored roster — is then one SQL statement over those tables instead of Python
dictionaries holding a city in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Connection, text

from tsunagu.roster.csv.layouts import LAYOUTS
from tsunagu.roster.models import MODEL_BY_FILE

#: Columns every staging table starts with.
BASE_COLUMNS = ("row_no", "sourced_id", "status", "dlm", "row_hash", "extra_metadata")
_BATCH = 5000


@dataclass(frozen=True)
class StagingTable:
    file_name: str
    name: str
    #: Model attributes staged after the base columns (also the live table's column names).
    attributes: tuple[str, ...]
    live_table: str | None

    @property
    def columns(self) -> tuple[str, ...]:
        return BASE_COLUMNS + self.attributes


def staging_table_for(file_name: str) -> StagingTable:
    layout = LAYOUTS[file_name]
    model = MODEL_BY_FILE.get(file_name)
    skip = {"sourced_id", "status", "date_last_modified"}
    skip |= {layout.attributes[c] for c in layout.not_stored if c in layout.attributes}
    attributes: list[str] = []
    for attr in layout.attributes.values():
        if attr not in skip and attr not in attributes:
            attributes.append(attr)
    live = model.__tablename__ if model is not None and layout.stored else None  # type: ignore[attr-defined]
    return StagingTable(
        file_name=file_name,
        name=f"stg_{file_name.lower()}",
        attributes=tuple(attributes) if layout.stored else (),
        live_table=live,
    )


LIST_REFS_TABLE = "stg_list_refs"


def copy_line(row: Sequence[str], tabs: int) -> str:
    """One row in COPY text format ("" is NULL), escaping only when a value needs it."""
    line = "\t".join(row)
    if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != tabs:
        line = "\t".join(_copy_escape(v) for v in row)
    return line


def _copy_escape(value: str) -> str:
    # COPY text format: backslash escapes for the characters that delimit fields and rows.
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


class Stager:
    """Creates staging tables on one connection and loads rows into them."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.is_postgresql = connection.dialect.name == "postgresql"
        self.created: list[str] = []

    def create_temp(self, name: str, columns: Sequence[str]) -> None:
        defs = ", ".join(f"{c} {'INTEGER' if c == 'row_no' else 'TEXT'}" for c in columns)
        suffix = " ON COMMIT DROP" if self.is_postgresql else ""
        self.connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        self.connection.execute(text(f"CREATE TEMPORARY TABLE {name} ({defs}){suffix}"))
        self.created.append(name)

    def create(self, table: StagingTable) -> None:
        self.create_temp(table.name, table.columns)

    def create_list_refs(self) -> None:
        self.create_temp(LIST_REFS_TABLE, ("file", "row_no", "col", "value"))

    def load(self, name: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """Load rows of strings ("" = NULL), an iterable consumed once, into a staging table."""
        if self.is_postgresql:
            self._copy(name, columns, rows)
            return
        placeholders = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})"
        dbapi = self.connection.connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        batch: list[list[str | None]] = []
        for row in rows:
            batch.append([v if v != "" else None for v in row])
            if len(batch) >= _BATCH:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
        cursor.close()

    def _copy(self, name: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """COPY in text format, built here in big chunks: adapting a million rows value by value
        costs more than parsing and checking them."""
        tabs = len(columns) - 1
        buffer: list[str] = []
        with self._copy_stream(name, columns) as copy:
            for row in rows:
                buffer.append(copy_line(row, tabs))
                if len(buffer) >= _BATCH:
                    buffer.append("")
                    copy.write("\n".join(buffer))
                    buffer.clear()
            if buffer:
                buffer.append("")
                copy.write("\n".join(buffer))

    def copy_spool(self, name: str, columns: Sequence[str], spool: IO[str]) -> None:
        """COPY lines another thread already formatted (see :func:`copy_line`) from a spool."""
        spool.seek(0)
        with self._copy_stream(name, columns) as copy:
            while chunk := spool.read(1 << 20):
                copy.write(chunk)

    @contextmanager
    def _copy_stream(self, name: str, columns: Sequence[str]) -> Iterator[Any]:
        import psycopg

        pg = self.connection.connection.dbapi_connection
        assert isinstance(pg, psycopg.Connection)
        sql = f"COPY {name} ({', '.join(columns)}) FROM STDIN (FORMAT text, NULL '')"
        with pg.cursor() as cursor, cursor.copy(sql) as copy:
            yield copy

    def index(self, name: str, column: str | None) -> None:
        """Index a loaded staging table on ``column`` (if any) and give the planner statistics."""
        if column is not None:
            self.connection.execute(text(f"CREATE INDEX ix_{name}_{column} ON {name} ({column})"))
        if self.is_postgresql:
            # Temporary tables are never auto-analysed; without statistics the planner picks
            # nested loops over a million rows.
            self.connection.execute(text(f"ANALYZE {name}"))

    def drop_all(self) -> None:
        """SQLite keeps temporary tables for the connection's life: drop them for the pool."""
        if self.is_postgresql:
            return
        for name in self.created:
            self.connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        self.created.clear()
