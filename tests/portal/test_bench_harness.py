"""The load side of ``bench/portal.py``: its wrk script and the parsing of wrk's output.

wrk runs for a second against a stub server here (no portal): what is checked is that every
request carries a session cookie from the list and ``Accept-Encoding: gzip``, that answers
outside 2xx are counted as errors (wrk alone would let a 303 pass), and that the figures come
back parsed. Skipped where wrk is not installed (``make bench-tools``).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "portal.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("portal_bench", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load()


def test_wrk_durations_are_read_in_milliseconds() -> None:
    assert bench._wrk_ms("850.00us") == pytest.approx(0.85)
    assert bench._wrk_ms("12.5ms") == pytest.approx(12.5)
    assert bench._wrk_ms("1.02s") == pytest.approx(1020)


class _Stub(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None, str | None]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        cookie = self.headers.get("Cookie")
        with self.lock:
            self.seen.append((self.path, cookie, self.headers.get("Accept-Encoding")))
        # Sessions named "stale-…" stand for ones the portal does not know: a sign-in redirect.
        status = 303 if cookie and "=stale-" in cookie else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    _Stub.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_sends_the_sessions_and_counts_redirects_as_errors(stub: str) -> None:
    sessions = ["good-a", "good-b", "stale-c"]
    figures = bench.load_wrk(stub, "bench_cookie", sessions, 1, 4)

    seen = list(_Stub.seen)
    assert figures["requests"] > 0
    assert {path for path, _, _ in seen} == {"/home"}
    assert {cookie for _, cookie, _ in seen} == {f"bench_cookie={s}" for s in sessions}
    assert {encoding for _, _, encoding in seen} == {"gzip"}
    # The stale session is a third of the list: its redirects are errors, the rest are not.
    # (The server may answer a few more than wrk counted: those in flight when it stopped.)
    redirects = sum(1 for _, cookie, _ in seen if cookie == "bench_cookie=stale-c")
    assert 0 < figures["errors"] <= redirects
    assert figures["errors"] < figures["requests"]
    assert figures["socket_errors"] == 0
    assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"]
    assert figures["rps"] == pytest.approx(figures["requests"] / figures["seconds"])
