"""Roster import in the browser: upload a ZIP, review the dry run, then apply it.

Each upload is kept under ``var_dir/roster-uploads/<tenant code>/<token>/`` with the package, the
dry run's problem report (CSV, the CLI's ``--report`` format) and its change list, so the review
page, the report download and the final import all use the very file that was reviewed. The token
is random and the folder is per tenant: an administrator of one board cannot reach another's.

A roster is personal data: the package is deleted as soon as it has been imported, and every
upload folder (problem report included) is removed after :data:`KEEP_HOURS`.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tsunagu.container import Container
from tsunagu.identity.principal import Principal
from tsunagu.roster.importer import import_roster
from tsunagu.roster.report import result_as_json, write_report_csv
from tsunagu.timetable.service import N_

#: A city's bulk package is ~60 MB zipped; anything far beyond is not a roster.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
#: How many changed records the review page lists (the rest are counted).
MAX_CHANGES_SHOWN = 500
#: How long an upload (its package and problem report) is kept for review.
KEEP_HOURS = 24
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class UploadRefusedError(ValueError):
    pass


@dataclass
class Upload:
    token: str
    folder: Path
    filename: str
    dry_run: dict[str, Any]
    changes: list[dict[str, str]] = field(default_factory=list)
    changes_total: int = 0
    applied: dict[str, Any] | None = None

    @property
    def package_path(self) -> Path:
        return self.folder / "package.zip"

    @property
    def report_path(self) -> Path:
        return self.folder / "problems.csv"


def _root(container: Container, principal: Principal) -> Path:
    return container.settings.var_dir / "roster-uploads" / principal.tenant_code


def receive(container: Container, principal: Principal, stream: BinaryIO, filename: str) -> Upload:
    """Store the upload and dry-run it (validation problems and the diff)."""
    if not filename.lower().endswith(".zip"):
        raise UploadRefusedError(N_("OneRoster の ZIP ファイルを選んでください。"))
    prune(container, principal)
    token = secrets.token_urlsafe(18)
    folder = _root(container, principal) / token
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / "package.zip"
    size = 0
    with target.open("wb") as out:
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                out.close()
                shutil.rmtree(folder, ignore_errors=True)
                raise UploadRefusedError(N_("ファイルが大きすぎます（512 MB まで）。"))
            out.write(chunk)
    if size == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadRefusedError(N_("ファイルが空です。"))
    changes: list[dict[str, str]] = []
    total = 0

    def sink(file_name: str, action: str, sourced_id: str, label: str) -> None:
        nonlocal total
        total += 1
        if len(changes) < MAX_CHANGES_SHOWN:
            changes.append(
                {"file": file_name, "action": action, "sourcedId": sourced_id, "label": label}
            )

    result = import_roster(container, principal.tenant_code, target, dry_run=True, changes=sink)
    write_report_csv(result, folder / "problems.csv")
    meta = {
        "filename": Path(filename).name,
        "dry_run": result_as_json(result),
        "changes": changes,
        "changes_total": total,
        "applied": None,
    }
    (folder / "upload.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return _from_meta(token, folder, meta)


def prune(container: Container, principal: Principal, now: float | None = None) -> int:
    """Remove this tenant's uploads older than :data:`KEEP_HOURS`; returns how many."""
    root = _root(container, principal)
    if not root.is_dir():
        return 0
    limit = (now if now is not None else time.time()) - KEEP_HOURS * 3600
    removed = 0
    for folder in root.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _from_meta(token: str, folder: Path, meta: dict[str, Any]) -> Upload:
    return Upload(
        token=token,
        folder=folder,
        filename=meta["filename"],
        dry_run=meta["dry_run"],
        changes=meta["changes"],
        changes_total=meta["changes_total"],
        applied=meta.get("applied"),
    )


def load(container: Container, principal: Principal, token: str) -> Upload | None:
    if not TOKEN.match(token):
        return None
    folder = _root(container, principal) / token
    meta_path = folder / "upload.json"
    if not meta_path.is_file():
        return None
    return _from_meta(token, folder, json.loads(meta_path.read_text(encoding="utf-8")))


def apply(container: Container, principal: Principal, upload: Upload) -> dict[str, Any]:
    """Import the reviewed package for real (the importer validates it again: all or nothing)."""
    if upload.applied and upload.applied.get("applied"):
        return upload.applied
    result = import_roster(container, principal.tenant_code, upload.package_path)
    outcome = result_as_json(result)
    meta_path = upload.folder / "upload.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["applied"] = outcome
    meta_path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    if result.applied:
        upload.package_path.unlink(missing_ok=True)  # imported: no copy of the roster stays here
    else:
        write_report_csv(result, upload.report_path)
    return outcome
