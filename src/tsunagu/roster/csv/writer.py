"""Writing OneRoster CSV exactly as the Japan profiles require.

Every value double-quoted, CRLF line endings, UTF-8 without BOM, columns in the profile's order
(eportal-standard.md §4.2). Used by the exporter and the demo generator, so both produce packages
the importer accepts.
"""

from __future__ import annotations

import _csv
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from tsunagu.roster.csv.layouts import (
    ALL_MANIFEST_FILES,
    LAYOUTS,
    MANIFEST_VERSION,
    Profile,
)


class _Writable(Protocol):
    def write(self, s: str, /) -> int: ...


def _writer(stream: _Writable) -> _csv.Writer:
    return csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\r\n")


def manifest_rows(
    profile: Profile,
    modes: Mapping[str, str],
    *,
    system_name: str = "Tsunagu",
    system_code: str = "tsunagu",
) -> list[tuple[str, str]]:
    """manifest.csv rows: ``modes`` maps a file name to ``bulk``/``delta``; the rest are absent."""
    rows = [
        ("manifest.version", "1.0"),
        ("oneroster.version", MANIFEST_VERSION[profile]),
    ]
    rows += [(f"file.{name}", modes.get(name, "absent")) for name in ALL_MANIFEST_FILES]
    rows += [("source.systemName", system_name), ("source.systemCode", system_code)]
    return rows


def write_rows(
    stream: _Writable,
    header: Sequence[str],
    rows: Iterable[Mapping[str, str | None]],
) -> int:
    """Write a header and rows (dicts keyed by column name; missing or None means empty)."""
    writer = _writer(stream)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([row.get(col) or "" for col in header])
        count += 1
    return count


def header_for(file_name: str, profile: Profile, extra_columns: Sequence[str] = ()) -> list[str]:
    return [*LAYOUTS[file_name].columns[profile], *extra_columns]


class PackageWriter:
    """Writes a package as a ZIP or into a folder, one file at a time (streaming)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._zip: zipfile.ZipFile | None = None
        if target.suffix.lower() == ".zip":
            target.parent.mkdir(parents=True, exist_ok=True)
            self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED)
        else:
            target.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def open_text(self, filename: str) -> Iterator[IO[str]]:
        if self._zip is not None:
            with (
                self._zip.open(filename, "w", force_zip64=True) as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
            ):
                yield text
        else:
            with open(self.target / filename, "w", encoding="utf-8", newline="") as text:
                yield text

    def write_manifest(self, rows: Sequence[tuple[str, str]]) -> None:
        with self.open_text("manifest.csv") as stream:
            write_rows(
                stream,
                ["propertyName", "value"],
                (dict(propertyName=name, value=value) for name, value in rows),
            )

    def write_file(
        self,
        file_name: str,
        profile: Profile,
        rows: Iterable[Mapping[str, str | None]],
        extra_columns: Sequence[str] = (),
    ) -> int:
        with self.open_text(LAYOUTS[file_name].filename) as stream:
            return write_rows(stream, header_for(file_name, profile, extra_columns), rows)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
