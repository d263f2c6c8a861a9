"""The parsing in ``bench/lrs_conformance.py``, on runner output and logs written by hand here."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "lrs_conformance.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lrs_conformance", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


harness = _load()


# -- the summary line ----------------------------------------------------------------------------

RUNNER_OUTPUT = """\
runTests starting
{"total":null,"passed":null,"failed":null}

            Attempting xAPI Conformance Suite Against:
                xAPI Version: 2.0.0
Grep is undefined
{"total":12,"passed":3,"failed":1,"version":"2.0.0"}
{ not json }
{"total":12,"passed":9,"failed":2,"version":"2.0.0"}
Tests completed in 4.2 seconds
Full run log written to /somewhere/suite/logs/0b6f6c1e-1111-4222-8333-444455556666.log
\x1b[37mClosed\x1b[39m
"""


def test_summary_is_the_last_complete_line() -> None:
    summary = harness.parse_summary(RUNNER_OUTPUT)
    assert summary == harness.Summary(total=12, passed=9, failed=2, version="2.0.0")
    assert summary.not_run == 1
    assert not summary.all_passed


def test_summary_ignores_lines_printed_before_mocha_started() -> None:
    assert harness.parse_summary('runTests starting\n{"total":null,"passed":null}\n') is None
    assert harness.parse_summary("") is None
    assert harness.parse_summary('{"total": true, "passed": 1, "failed": 0}') is None


def test_all_passed_needs_every_test_and_at_least_one() -> None:
    assert harness.Summary(total=5, passed=5, failed=0).all_passed
    assert not harness.Summary(total=5, passed=4, failed=0).all_passed  # one did not run
    assert not harness.Summary(total=0, passed=0, failed=0).all_passed


def test_log_path_is_read_from_the_output() -> None:
    path = harness.find_log_path(RUNNER_OUTPUT)
    assert path == Path("/somewhere/suite/logs/0b6f6c1e-1111-4222-8333-444455556666.log")
    assert harness.find_log_path("no log here") is None


# -- failures from the log -----------------------------------------------------------------------


def node(
    title: str, status: str, error: str | None = None, *tests: dict[str, Any]
) -> dict[str, Any]:
    return {
        "title": title,
        "name": title,
        "requirement": "",
        "log": "POST /xapi/statements\r\nAuthorization: Basic c2VjcmV0\r\n",
        "status": status,
        "error": error,
        "tests": list(tests),
    }


def run_log(root: dict[str, Any]) -> dict[str, Any]:
    return {"name": "console", "summary": {"total": 7, "passed": 2, "failed": 4}, "log": root}


LOG = run_log(
    node(
        "",
        "failed",
        None,
        node(
            "Widget Resource Requirements (Communication 9.9)",
            "failed",
            None,
            node(
                "A widget has a colour (Data 9.9.s1, XAPI-09001)",
                "failed",
                None,
                node("should accept red", "passed"),
                node("should reject plaid", "failed", "Error: Expected 400 got 200\nat x.js:1"),
            ),
            node("A widget rolls (multiplicity, XAPI-09002)", "passed"),
            node(
                "Widgets nest (XAPI-09003)",
                "failed",
                None,
                node(
                    "inner widgets (XAPI-09004)",
                    "failed",
                    None,
                    node("the inner one counts", "failed", "Error: inner"),
                ),
            ),
        ),
        node(
            "Concurrency of widgets",
            "failed",
            "Error: before all hook: Expected 204 got 404",
            node("a test that never ran", ""),
        ),
        node(
            "Etag handling",
            "failed",
            None,
            node("should add an ETag (XAPI-09005, XAPI-09006)", "failed", "Error: no etag"),
            node("should quote it", "failed", "AssertionError: expected '' to match /\"/"),
        ),
    )
)


def test_every_failed_test_with_an_error_is_listed_once() -> None:
    failures = harness.extract_failures(LOG)
    assert [f.title for f in failures] == [
        "should reject plaid",
        "the inner one counts",
        "Concurrency of widgets",
        "should add an ETag (XAPI-09005, XAPI-09006)",
        "should quote it",
    ]
    # Rolled-up suites (failed, no error of their own) and passed tests are not failures.
    assert not any(f.title.startswith("Widget Resource") for f in failures)


def test_requirement_is_the_innermost_id() -> None:
    failures = {f.title: f for f in harness.extract_failures(LOG)}
    plaid = failures["should reject plaid"]
    assert plaid.requirement == "XAPI-09001"
    assert plaid.suites == (
        "Widget Resource Requirements (Communication 9.9)",
        "A widget has a colour (Data 9.9.s1, XAPI-09001)",
    )
    assert plaid.error.startswith("Error: Expected 400 got 200")
    assert failures["the inner one counts"].requirement == "XAPI-09004"
    assert failures["the inner one counts"].all_requirements == ("XAPI-09003", "XAPI-09004")
    assert failures["should add an ETag (XAPI-09005, XAPI-09006)"].requirement == "XAPI-09006"


def test_a_failed_hook_is_marked_and_grouped_by_its_suite() -> None:
    failures = {f.title: f for f in harness.extract_failures(LOG)}
    hook = failures["Concurrency of widgets"]
    assert hook.hook
    assert "did not run" in hook.label
    assert "did not run" not in failures["should reject plaid"].label
    assert hook.requirement == ""
    assert hook.group == "no XAPI id: Concurrency of widgets"
    assert not failures["should reject plaid"].hook


def test_a_failed_root_hook_is_the_one_failure() -> None:
    # What the suite writes when its first request (the time-margin hook) fails.
    failures = harness.extract_failures(run_log(node("", "failed", "Error: got 404")))
    assert len(failures) == 1
    assert failures[0].hook
    assert failures[0].title == "(root suite)"
    assert failures[0].group == "no XAPI id: (root suite)"


def test_grouping_keeps_the_order_of_the_run() -> None:
    groups = harness.group_by_requirement(harness.extract_failures(LOG))
    assert list(groups) == [
        "XAPI-09001",
        "XAPI-09004",
        "no XAPI id: Concurrency of widgets",
        "XAPI-09006",
        "no XAPI id: Etag handling",
    ]


def test_a_log_without_a_tree_has_no_failures() -> None:
    assert harness.extract_failures({"summary": {}}) == []
    assert harness.extract_failures({"log": None}) == []


# -- secrets -------------------------------------------------------------------------------------


def test_the_secret_and_its_basic_token_are_redacted() -> None:
    token = base64.b64encode(b"key-1:s3cr3t").decode()
    text = f"-p s3cr3t\nAuthorization: Basic {token}\n"
    redacted = harness.redact(text, harness.secret_forms("key-1", "s3cr3t"))
    assert "s3cr3t" not in redacted
    assert token not in redacted
    assert redacted == "-p ***\nAuthorization: Basic ***\n"


def test_the_url_encoded_token_is_redacted() -> None:
    # The alternate request syntax sends the header in a form body: "=" becomes "%3D".
    token = base64.b64encode(b"key-1:s3cr3t+/").decode()
    assert token.endswith("=")
    encoded = token.replace("=", "%3D").replace("+", "%2B").replace("/", "%2F")
    text = f"Authorization=Basic%20{encoded}&secret=s3cr3t%2B%2F"
    redacted = harness.redact(text, harness.secret_forms("key-1", "s3cr3t+/"))
    assert "s3cr3t" not in redacted
    assert encoded.split("%3D")[0] not in redacted
    assert redacted == "Authorization=Basic%20***%3D&secret=***"


def test_the_raw_log_is_replaced_by_a_redacted_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "OUT", tmp_path / "out")
    (tmp_path / "out").mkdir()
    raw = tmp_path / "suite" / "logs" / "run.log"
    raw.parent.mkdir(parents=True)
    token = base64.b64encode(b"k:topsecret").decode()
    tree = run_log(node("", "failed", None, node("t (XAPI-00001)", "failed", "Error: x")))
    tree["log"]["log"] = f"Authorization: Basic {token}"
    raw.write_text(json.dumps(tree))

    failures = harness.collect_log(
        f"Full run log written to {raw}\n",
        tmp_path / "suite",
        0.0,
        harness.secret_forms("k", "topsecret"),
        "2.0.0",
    )
    assert [f.requirement for f in failures] == ["XAPI-00001"]
    assert not raw.exists()
    kept = (tmp_path / "out" / "lrs-conformance-2.0.0.log.json").read_text()
    assert token not in kept
    assert "Basic ***" in kept


# -- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "printed",
    [
        {"key": "k1", "secret": "s1"},
        {"username": "k1", "password": "s1", "tenant": "139999"},
        {"credentials": {"key": "k1", "secret": "s1"}, "name": "conformance"},
    ],
)
def test_credentials_are_read_from_the_json(printed: dict[str, Any]) -> None:
    assert harness.parse_credentials(json.dumps(printed)) == ("k1", "s1")


def test_missing_credentials_name_the_fields_never_the_values() -> None:
    with pytest.raises(harness.HarnessError) as caught:
        harness.parse_credentials(json.dumps({"key": "k1", "token": "very-secret-value"}))
    assert "token" in str(caught.value)
    assert "very-secret-value" not in str(caught.value)
    with pytest.raises(harness.HarnessError):
        harness.parse_credentials("Created credentials conformance")


def test_versions_are_checked() -> None:
    assert harness.parse_args(["--versions", "2.0.0"]).versions == ["2.0.0"]
    assert harness.parse_args([]).versions == ["1.0.3", "2.0.0"]
    with pytest.raises(SystemExit):
        harness.parse_args(["--versions", "1.0.2"])
