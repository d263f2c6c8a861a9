"""OneRoster errors and the imsx_StatusInfo envelope they are reported in.

OneRoster 1.2 REST binding, "imsx_StatusInfoDType": a failed request answers with
``imsx_codeMajor`` ``failure``, ``imsx_severity`` ``error``, a description and one code minor.
"""

from __future__ import annotations

from typing import Any, Literal

CodeMinor = Literal[
    "fullsuccess",
    "invalid_filter_field",
    "invalid_selection_field",
    "invaliddata",
    "unauthorisedrequest",
    "forbidden",
    "server_busy",
    "unknownobject",
    "internal_server_error",
]


class RosterApiError(Exception):
    """A request the rostering service refuses; rendered as an imsx error body."""

    def __init__(self, status_code: int, code_minor: CodeMinor, description: str) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.code_minor: CodeMinor = code_minor
        self.description = description


class UnknownObjectError(RosterApiError):
    def __init__(self, what: str, sourced_id: str) -> None:
        shown = sourced_id if len(sourced_id) <= 80 else sourced_id[:80] + "…"
        super().__init__(404, "unknownobject", f"Unknown Object: no {what} '{shown}'.")


class InvalidFilterError(RosterApiError):
    def __init__(self, description: str) -> None:
        super().__init__(400, "invalid_filter_field", description)


class InvalidSelectionError(RosterApiError):
    def __init__(self, description: str) -> None:
        super().__init__(400, "invalid_selection_field", description)


class InvalidDataError(RosterApiError):
    def __init__(self, description: str) -> None:
        super().__init__(400, "invaliddata", description)


def imsx_body(code_minor: CodeMinor, description: str) -> dict[str, Any]:
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }
