"""Serving the app in several worker processes, each with a listening socket of its own.

uvicorn's own multi-worker mode hands one listening socket to every worker, and each worker's
event loop accepts as many pending connections as it finds when it wakes. When many connections
arrive at once (a whole grade opening the portal at the first bell, or a proxy opening its
keep-alive pool) the first worker to wake takes most of them: measured with 32 connections and
2 workers, 27 landed on one worker and 5 on the other, so one core queued while the other idled.

Here every worker gets its own socket, all bound to the same address with ``SO_REUSEPORT``, and
the kernel spreads new connections over them by a hash of the connection's addresses. The
supervisor binds the sockets and keeps them open, so a worker that dies is replaced on the same
socket and the connections waiting in its accept queue are served by the replacement instead of
being reset. Linux (and other systems with ``SO_REUSEPORT``) only; elsewhere, and with
``--reload``, uvicorn's own modes run.

Every serving process, one worker or many, also freezes the built app out of the garbage
collector's sight before it serves (:func:`serve_loaded`).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")

_spawn = multiprocessing.get_context("spawn")
#: How often the supervisor looks for workers that have exited (seconds).
_WATCH_INTERVAL = 0.5
#: A worker that exits this soon after starting most likely never served (seconds) ...
_RAPID_EXIT = 10.0
#: ... and after this many such exits in a row the app is taken to be broken.
_RAPID_EXITS_TO_STOP = 3


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and sys.platform != "win32"


def bind_reuse_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that shares the port with its siblings (not listening:
    the worker's ``create_server`` calls ``listen``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve_loaded(config: uvicorn.Config, sockets: list[socket.socket] | None = None) -> None:
    """Import and build the app, set the collector up for serving, then serve.

    A full (oldest-generation) garbage collection walks every object the process holds, and in
    a built app those are mostly what importing FastAPI, SQLAlchemy, pydantic and our models
    left behind: measured on the bench city, each took 200-240 ms and stopped every request
    in flight on that worker, five times in 20 s. Freezing what exists once the app is built
    moves those objects out of the collector's sight (they live as long as the process), so a
    full collection only walks what serving has made since.
    """
    config.load()
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run(sockets=sockets)


def _serve_one(config: uvicorn.Config, sock: socket.socket) -> None:
    """A worker process: one uvicorn server on its own socket (handles SIGINT/SIGTERM itself)."""
    config.configure_logging()
    serve_loaded(config, [sock])


class Supervisor:
    """Starts ``workers`` processes, replaces any that exits, stops them all on SIGINT/SIGTERM."""

    def __init__(self, config: uvicorn.Config, workers: int) -> None:
        self.config = config
        first = bind_reuse_port(config.host, config.port)
        port = first.getsockname()[1]  # resolves port 0 for every sibling alike
        self.sockets = [first] + [bind_reuse_port(config.host, port) for _ in range(workers - 1)]
        self.port = port
        self.processes: list[SpawnProcess] = []
        self.started_at: dict[int, float] = {}
        self.rapid_exits = 0
        self.should_exit = threading.Event()
        self.exit_code = 0

    def _start(self, index: int) -> SpawnProcess:
        process = _spawn.Process(
            target=_serve_one, args=(self.config, self.sockets[index]), name=f"worker-{index}"
        )
        process.start()
        self.started_at[index] = time.monotonic()
        logger.info("Started worker [%s] on its own socket", process.pid)
        return process

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.should_exit.set()

    def _replace_exited(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive() or self.should_exit.is_set():
                continue
            process.join()
            rapid = time.monotonic() - self.started_at[index] < _RAPID_EXIT
            self.rapid_exits = self.rapid_exits + 1 if rapid else 0
            if process.exitcode == STARTUP_FAILURE or self.rapid_exits >= _RAPID_EXITS_TO_STOP:
                # The app or its settings are broken (its lifespan refused to start, or it
                # cannot even be imported): every replacement would fail alike.
                logger.error("Worker [%s] failed to start; stopping.", process.pid)
                self.exit_code = STARTUP_FAILURE
                self.should_exit.set()
                return
            logger.warning(
                "Worker [%s] exited (%s); starting another", process.pid, process.exitcode
            )
            self.processes[index] = self._start(index)

    def run(self) -> int:
        logger.info(
            "Supervisor [%s]: %d workers on %s:%d (SO_REUSEPORT)",
            os.getpid(),
            len(self.sockets),
            self.config.host,
            self.port,
        )
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        self.processes = [self._start(index) for index in range(len(self.sockets))]
        while not self.should_exit.wait(_WATCH_INTERVAL):
            self._replace_exited()
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)  # uvicorn finishes in-flight requests
        for process in self.processes:
            process.join()
        for sock in self.sockets:
            sock.close()
        return self.exit_code


def run(app: str, *, workers: int = 1, reload: bool = False, **options: Any) -> None:
    """Serve the import string ``app`` with uvicorn ``options``: several workers each on a
    socket of its own where the system allows it, otherwise exactly as ``uvicorn.run``."""
    if workers > 1 and not reload and not options.get("uds") and reuse_port_supported():
        config = uvicorn.Config(app, workers=workers, **_with_app_dir(options))
        code = Supervisor(config, workers).run()
        if code:
            sys.exit(code)
        return
    if workers <= 1 and not reload:
        serve_loaded(uvicorn.Config(app, **_with_app_dir(options)))
        return
    uvicorn.run(app, workers=workers, reload=reload, **options)


def _with_app_dir(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without ``app_dir``, which goes on ``sys.path`` as ``uvicorn.run`` puts it
    (spawned workers inherit the parent's path)."""
    options = dict(options)
    app_dir = options.pop("app_dir", None)
    if app_dir is not None:
        sys.path.insert(0, app_dir)
    return options
