"""Running the platform (uvicorn, in a thread) and the PyLTI1p3 sample tool (its own process) on
loopback, for the interoperability tests and the demo checks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def serve_platform(app: FastAPI, port: int) -> Iterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(f"http://127.0.0.1:{port}/lti/jwks")
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def run_tool(config: dict[str, Any], folder: Path, port: int) -> Iterator[str]:
    """Start the sample tool (``python -m tsunagu_sample_tool``); yields its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(config))
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log = (folder / "tool.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tsunagu_sample_tool",
            "--config",
            str(config_file),
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(f"http://localhost:{port}/jwks")
        yield f"http://localhost:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()
