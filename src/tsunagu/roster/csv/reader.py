"""Reading a OneRoster package: the ZIP or folder, its manifest and each CSV file as a stream.

The reader checks the *form* of the input (encoding, line endings, quoting, header) and yields
rows; what the values mean is checked by :mod:`tsunagu.roster.csv.rules`. Files are never read
into memory whole: a large city's enrollments.csv is hundreds of megabytes.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tsunagu.roster.csv.layouts import (
    ALL_MANIFEST_FILES,
    LAYOUTS,
    OUT_OF_SCOPE_FILES,
    PROFILE_BY_MANIFEST_VERSION,
    REQUIRED_FILES,
    Profile,
)
from tsunagu.roster.csv.problems import ProblemLog

FILE_MODES = ("absent", "bulk", "delta")
_MANIFEST_OTHER_PROPERTIES = {
    "manifest.version",
    "oneroster.version",
    "source.systemName",
    "source.systemCode",
}
_SNIFF_BYTES = 1 << 16
# A record whose every field is double-quoted: "a","b""c",""
_FULLY_QUOTED = re.compile(r'"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*')


#: What reading a damaged ZIP member raises (bad CRC, truncated or corrupt deflate data).
_BROKEN_ARCHIVE = (zipfile.BadZipFile, zlib.error, EOFError)


class PackageError(Exception):
    """The package cannot be read at all (not a ZIP, not a folder…)."""


class Package:
    """A roster package: a ZIP file or a folder holding manifest.csv and the CSV files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if path.is_dir():
            self._members = {p.name: p.name for p in path.iterdir() if p.is_file()}
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise PackageError(f"{path.name} is not a ZIP file ({exc})") from exc
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
            # Accept packages zipped with their folder (RO_…/manifest.csv) as well as flat ones.
            prefixes = {
                n.rsplit("/", 1)[0] + "/" if "/" in n else ""
                for n in names
                if n.rsplit("/", 1)[-1] == "manifest.csv"
            }
            prefix = prefixes.pop() if len(prefixes) == 1 else ""
            for name in names:
                if name.startswith(prefix) and "/" not in name[len(prefix) :]:
                    self._members[name[len(prefix) :]] = name
        else:
            raise PackageError(f"{path} does not exist")

    def names(self) -> set[str]:
        return set(self._members)

    def has(self, name: str) -> bool:
        return name in self._members

    def open_binary(self, name: str) -> IO[bytes]:
        member = self._members[name]
        if self._zip is not None:
            return self._zip.open(member)
        return open(self.path / member, "rb")

    def size(self, name: str) -> int:
        member = self._members[name]
        if self._zip is not None:
            return self._zip.getinfo(member).file_size
        return (self.path / member).stat().st_size

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Manifest:
    profile: Profile | None
    oneroster_version: str | None
    modes: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)

    def mode(self, file_name: str) -> str:
        return self.modes.get(file_name, "absent")


def _decode_start(raw: bytes, file: str, log: ProblemLog) -> bool:
    """Check the first bytes' encoding. Returns False when the file cannot be read as UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(raw, final=False)
        return True
    except UnicodeDecodeError as exc:
        try:
            raw.decode("cp932")
        except UnicodeDecodeError:
            log.report("encoding.invalid", file=file, detail=f"byte {exc.start}")
        else:
            log.report("encoding.shift_jis", file=file)
        return False


class CsvStream:
    """Iterates the data rows of one CSV file, reporting problems of form as it goes.

    Yields ``(row_number, values)`` where ``values`` is the list of fields in header order and
    ``row_number`` counts data rows from 1. ``header`` is available after construction.
    """

    def __init__(self, package: Package, name: str, log: ProblemLog) -> None:
        self.name = name
        self.log = log
        self.header: list[str] | None = None
        self.readable = False
        self._raw = package.open_binary(name)
        try:
            start = self._raw.read(_SNIFF_BYTES)
        except _BROKEN_ARCHIVE as exc:
            log.report("package.unreadable", file=name, detail=str(exc))
            self._raw.close()
            return
        if start.startswith(codecs.BOM_UTF8):
            log.report("encoding.bom", file=name)
            start = start[len(codecs.BOM_UTF8) :]
        if not _decode_start(start, name, log):
            self._raw.close()
            return
        self._raw.seek(0)
        # utf-8-sig drops a BOM (already reported) and is plain UTF-8 otherwise.
        self._text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", errors="strict", newline="")
        self._lines: list[str] = []
        self._line_no = 0
        self._crlf_reported = False
        self._quote_reported = False
        self._reader = csv.reader(self._line_source(), strict=True)
        try:
            self.header = next(self._reader)
            self._check_form(0, len(self.header))
        except StopIteration:
            log.report("header.empty", file=name)
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            log.report("csv.malformed", file=name, row=0, detail=str(exc))
            return
        self.readable = True

    def _line_source(self) -> Iterator[str]:
        for line in self._text:
            self._line_no += 1
            self._lines.append(line)
            yield line

    def _check_form(self, row: int, width: int) -> None:
        """Line ending and quoting of the record just read (from the raw lines it came from)."""
        lines = self._lines
        self._lines = []
        if not lines:
            return
        record = lines[0] if len(lines) == 1 else "".join(lines)
        # A missing terminator is fine (the file's last line); a bare LF is not CRLF.
        if not self._crlf_reported and record.endswith("\n") and not record.endswith("\r\n"):
            self._crlf_reported = True
            self.log.report("csv.line_ending", file=self.name, row=row, value=str(self._line_no))
        if not self._quote_reported:
            body = record.rstrip("\r\n")
            # Fast path: quoted at both ends with exactly one '","' between each pair of fields.
            # Only when that count is off (a value holding '","', or a bare value) does the full
            # pattern decide.
            if not body or (body[0] == '"' and body[-1] == '"' and body.count('","') == width - 1):
                return
            if not _FULLY_QUOTED.fullmatch(body):
                self._quote_reported = True
                self.log.report("csv.unquoted", file=self.name, row=row, value=str(self._line_no))

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        if not self.readable or self.header is None:
            return
        width = len(self.header)
        row = 0
        try:
            for values in self._reader:
                row += 1
                self._check_form(row, width)
                if not values:  # a blank line
                    continue
                if len(values) != width:
                    self.log.report(
                        "csv.field_count",
                        file=self.name,
                        row=row,
                        value=str(len(values)),
                        detail=str(width),
                    )
                    continue
                yield row, values
        except csv.Error as exc:
            self.log.report("csv.malformed", file=self.name, row=row + 1, detail=str(exc))
        except UnicodeDecodeError as exc:
            self.log.report("encoding.invalid", file=self.name, row=row + 1, detail=exc.reason)
        except _BROKEN_ARCHIVE as exc:
            self.log.report("package.unreadable", file=self.name, row=row + 1, detail=str(exc))

    def close(self) -> None:
        self._raw.close()


def read_manifest(package: Package, log: ProblemLog) -> Manifest | None:
    """Read and check manifest.csv (eportal-standard.md §4.3). None when it is unusable."""
    if not package.has("manifest.csv"):
        log.report("manifest.missing", file="manifest.csv")
        return None
    stream = CsvStream(package, "manifest.csv", log)
    try:
        if not stream.readable:
            return None
        if [h.strip() for h in stream.header or []] != ["propertyName", "value"]:
            log.report("manifest.header", file="manifest.csv", row=0)
            return None
        properties: dict[str, str] = {}
        rows: dict[str, int] = {}
        for row, (name, value) in stream.rows():
            name, value = name.strip(), value.strip()
            if name in properties:
                log.report("manifest.duplicate_property", file="manifest.csv", row=row, value=name)
            properties[name] = value
            rows[name] = row
    finally:
        stream.close()

    manifest = Manifest(
        profile=None, oneroster_version=properties.get("oneroster.version"), properties=properties
    )
    if properties.get("manifest.version") != "1.0":
        log.report(
            "manifest.version",
            file="manifest.csv",
            row=rows.get("manifest.version"),
            column="value",
            value=properties.get("manifest.version", ""),
        )
    version = properties.get("oneroster.version", "")
    manifest.profile = PROFILE_BY_MANIFEST_VERSION.get(version)
    if manifest.profile is None:
        log.report(
            "manifest.oneroster_version",
            file="manifest.csv",
            row=rows.get("oneroster.version"),
            column="value",
            value=version,
        )

    known_files = set(ALL_MANIFEST_FILES)
    for name, value in properties.items():
        if name.startswith("file."):
            file_name = name.removeprefix("file.")
            if file_name not in known_files:
                log.report(
                    "manifest.unknown_property",
                    file="manifest.csv",
                    row=rows[name],
                    column="propertyName",
                    value=name,
                )
            elif value not in FILE_MODES:
                log.report(
                    "manifest.file_mode",
                    file="manifest.csv",
                    row=rows[name],
                    column="value",
                    value=value,
                )
            else:
                manifest.modes[file_name] = value
        elif name not in _MANIFEST_OTHER_PROPERTIES:
            log.report(
                "manifest.unknown_property",
                file="manifest.csv",
                row=rows[name],
                column="propertyName",
                value=name,
            )

    any_delta = any(mode == "delta" for mode in manifest.modes.values())
    for file_name in ALL_MANIFEST_FILES:
        mode = manifest.mode(file_name)
        filename = f"{file_name}.csv"
        if mode != "absent" and not package.has(filename):
            log.report(
                "manifest.file_missing",
                file="manifest.csv",
                row=rows.get(f"file.{file_name}"),
                value=filename,
            )
        if mode == "absent" and package.has(filename):
            log.report("manifest.undeclared_file", file=filename, value=filename)
        if mode != "absent" and file_name in OUT_OF_SCOPE_FILES:
            log.report("manifest.out_of_scope_file", file=filename, value=filename)
        # A delta package carries only what changed; a bulk package must be whole.
        if file_name in REQUIRED_FILES and mode == "absent" and not any_delta:
            log.report(
                "manifest.required_file",
                file="manifest.csv",
                row=rows.get(f"file.{file_name}"),
                value=filename,
            )
    return manifest


def check_header(
    file_name: str, header: list[str], profile: Profile | None, log: ProblemLog
) -> bool:
    """Check a data file's header against the profile layouts. False when it is unusable.

    The header must list the profile's columns in spec order (eportal-standard.md §4.2, DA2022
    ib2000…); columns of another Japan profile version are accepted (parse by name) with a
    warning, and ``metadata.*`` extension columns may follow.
    """
    layout = LAYOUTS[file_name]
    filename = layout.filename
    ok = True
    seen: set[str] = set()
    for col in header:
        if col in seen:
            log.report("header.duplicate_column", file=filename, row=0, column=col)
            ok = False
        seen.add(col)
    known = layout.known_columns()
    for col in header:
        if col not in known and not col.startswith("metadata."):
            log.report("header.unknown_column", file=filename, row=0, column=col)
            ok = False
    for col in sorted(layout.required):
        if col not in seen:
            log.report("header.missing_column", file=filename, row=0, column=col)
            ok = False
    if not ok:
        return False

    # The declared profile's columns must stand in spec order. Columns that only another
    # profile version defines (e.g. kana preferred names under 1.2) are read by name, and must
    # follow them like extension columns.
    declared = profile or Profile.V4
    order = layout.columns[declared]
    present = [c for c in header if c in order]
    expected = [c for c in order if c in seen]
    for position, (got, want) in enumerate(zip(present, expected, strict=True), start=1):
        if got != want:
            log.report("header.order", file=filename, row=0, column=want, detail=str(position))
            return False
    foreign = [c for c in header if c in known and c not in order]
    if foreign:
        last_declared = max(header.index(c) for c in present) if present else -1
        if any(header.index(c) < last_declared for c in foreign):
            log.report(
                "header.order",
                file=filename,
                row=0,
                column=foreign[0],
                detail=f"> {last_declared + 1}",
            )
            return False
        log.report(
            "header.layout",
            file=filename,
            row=0,
            value=_version_of(profile),
            detail=", ".join(foreign),
        )
    return True


def _version_of(profile: Profile | None) -> str:
    from tsunagu.roster.csv.layouts import MANIFEST_VERSION

    return MANIFEST_VERSION[profile] if profile else "?"
