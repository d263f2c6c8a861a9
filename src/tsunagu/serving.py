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
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from multiprocessing.sharedctypes import Synchronized
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
#: A worker whose event loop has not ticked for this long is killed and replaced (seconds).
#: Generous: the loop runs the learner home's reads itself (portal.pages.learner_home), so only
#: a wedged call, not a slow page, should ever come near it.
DEFAULT_HANG_SECONDS = 60.0


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


def serve_loaded(
    config: uvicorn.Config,
    sockets: list[socket.socket] | None = None,
    server: Callable[[uvicorn.Config], uvicorn.Server] = uvicorn.Server,
) -> None:
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
    server(config).run(sockets=sockets)


class _BeatingServer(uvicorn.Server):
    """A uvicorn server whose event loop writes the time into ``heartbeat`` every tick (0.1 s):
    a loop that stops ticking is stuck (a request that blocks it, a wedged driver call)."""

    def __init__(self, config: uvicorn.Config, heartbeat: Synchronized[float]) -> None:
        super().__init__(config)
        self.heartbeat = heartbeat

    async def on_tick(self, counter: int) -> bool:
        self.heartbeat.value = time.monotonic()
        return await super().on_tick(counter)


def _serve_one(config: uvicorn.Config, sock: socket.socket, heartbeat: Synchronized[float]) -> None:
    """A worker process: one uvicorn server on its own socket (handles SIGINT/SIGTERM itself)."""
    config.configure_logging()
    serve_loaded(config, [sock], lambda loaded: _BeatingServer(loaded, heartbeat))


class Supervisor:
    """Starts ``workers`` processes, replaces any that exits or whose event loop is stuck, and
    stops them all on SIGINT/SIGTERM."""

    def __init__(
        self, config: uvicorn.Config, workers: int, hang_seconds: float = DEFAULT_HANG_SECONDS
    ) -> None:
        self.config = config
        self.hang_seconds = hang_seconds
        #: Per worker slot, when its event loop last ticked (time.monotonic, shared memory).
        self.heartbeats = [_spawn.Value("d", 0.0, lock=False) for _ in range(workers)]
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
        # A new worker has until hang_seconds after its start to load the app and first tick.
        self.heartbeats[index].value = time.monotonic()
        process = _spawn.Process(
            target=_serve_one,
            args=(self.config, self.sockets[index], self.heartbeats[index]),
            name=f"worker-{index}",
        )
        process.start()
        self.started_at[index] = time.monotonic()
        logger.info("Started worker [%s] on its own socket", process.pid)
        return process

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.should_exit.set()

    def _kill_hung(self) -> None:
        now = time.monotonic()
        for index, process in enumerate(self.processes):
            silent = now - self.heartbeats[index].value
            if process.is_alive() and silent > self.hang_seconds and process.pid is not None:
                # Its requests are lost either way; a replacement serves the ones to come.
                logger.error(
                    "Worker [%s]: event loop stuck for %.0f s; killing it", process.pid, silent
                )
                os.kill(process.pid, signal.SIGKILL)
                process.join()

    def _replace_exited(self) -> None:
        self._kill_hung()
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
        # Graceful first; a worker that cannot even handle the signal (its loop is stuck) is
        # killed once uvicorn's own grace period has passed.
        grace = (self.config.timeout_graceful_shutdown or 30) + 5
        deadline = time.monotonic() + grace
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.error("Worker [%s] did not stop; killing it", process.pid)
                process.kill()
                process.join()
        for sock in self.sockets:
            sock.close()
        return self.exit_code


def run(
    app: str,
    *,
    workers: int = 1,
    reload: bool = False,
    hang_seconds: float = DEFAULT_HANG_SECONDS,
    **options: Any,
) -> None:
    """Serve the import string ``app`` with uvicorn ``options``: several workers each on a
    socket of its own where the system allows it, otherwise exactly as ``uvicorn.run``. A
    supervised worker whose event loop has not ticked for ``hang_seconds`` is replaced."""
    if workers > 1 and not reload and not options.get("uds") and reuse_port_supported():
        config = uvicorn.Config(app, workers=workers, **_with_app_dir(options))
        code = Supervisor(config, workers, hang_seconds).run()
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
