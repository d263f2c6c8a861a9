"""The problem report a school fixes its export with, as CSV or JSON."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tsunagu.roster.importer import ChangeSink, ImportResult

CHANGE_COLUMNS = ("file", "action", "sourcedId", "label")
REPORT_COLUMNS = ("severity", "rule", "file", "row", "column", "value", "message_ja", "message_en")


def write_report_csv(result: ImportResult, path: Path) -> int:
    """Write every listed problem; returns how many. Counted-only ones get a summary line."""
    # Written with a BOM on purpose: unlike OneRoster files, this report is opened by people,
    # and Excel on Japanese Windows shows UTF-8 without a BOM as mojibake.
    with open(path, "w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(REPORT_COLUMNS)
        for p in result.problems:
            writer.writerow(
                [
                    p.severity,
                    p.rule,
                    p.file or "",
                    "" if p.row is None else p.row,
                    p.column or "",
                    p.value or "",
                    p.message_ja,
                    p.message_en,
                ]
            )
        for (rule, file), count in sorted(result.suppressed.items(), key=lambda x: str(x)):
            writer.writerow(
                [
                    "",
                    rule,
                    file or "",
                    "",
                    "",
                    "",
                    f"ほかに同じ問題が {count} 件あります。",
                    f"{count} more problems of this rule.",
                ]
            )
    return len(result.problems)


def result_as_json(result: ImportResult) -> dict[str, Any]:
    return {
        "import_id": result.import_id,
        "source": result.source,
        "accepted": result.accepted,
        "applied": result.applied,
        "dry_run": result.dry_run,
        "profile": result.profile.value if result.profile else None,
        "error_count": result.error_count,
        "warning_count": result.warning_count,
        "seconds": round(result.seconds, 3),
        "changes": {name: counts.as_dict() for name, counts in result.summary.items()},
        "problems": [
            {
                "severity": p.severity.value,
                "rule": p.rule,
                "file": p.file,
                "row": p.row,
                "column": p.column,
                "value": p.value,
                "message_ja": p.message_ja,
                "message_en": p.message_en,
            }
            for p in result.problems
        ],
        "suppressed": [
            {"rule": rule, "file": file, "count": count}
            for (rule, file), count in result.suppressed.items()
        ],
    }


@contextmanager
def changes_csv(path: Path) -> Iterator[ChangeSink]:
    """A change sink writing one CSV row per added, changed or deactivated record."""
    with open(path, "w", encoding="utf-8-sig", newline="") as stream:  # BOM: see above
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(CHANGE_COLUMNS)

        def sink(file_name: str, action: str, sourced_id: str, label: str) -> None:
            writer.writerow((file_name, action, sourced_id, label))

        yield sink
