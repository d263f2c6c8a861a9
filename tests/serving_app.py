"""A tiny ASGI app for tests/test_serving.py: answers every request with its worker's pid and
how many objects the garbage collector has frozen there (``PID FROZEN``)."""

from __future__ import annotations

import gc
import os
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
    body = f"{os.getpid()} {gc.get_freeze_count()}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
