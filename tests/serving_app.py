"""A tiny ASGI app for tests/test_serving.py: answers every request with its worker's pid and
how many objects the garbage collector has frozen there (``PID FROZEN``); ``/hang`` blocks the
worker's event loop for good."""

from __future__ import annotations

import gc
import os
import time
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if os.environ.get("SERVING_APP_FAIL"):
                    await send({"type": "lifespan.startup.failed", "message": "refused"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope.get("path") == "/hang":
        time.sleep(3600)  # a request that wedges the event loop (tests/test_serving.py)
    body = f"{os.getpid()} {gc.get_freeze_count()}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
