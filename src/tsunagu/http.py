"""Small helpers shared by HTTP routes of every domain."""

from __future__ import annotations

from fastapi import Request

from tsunagu.container import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def container_dependency(request: Request) -> Container:
    """``Depends(container_dependency)``: the app's container.

    ``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, and that
    hop cost more than everything else a dependency this small does, on every request."""
    return get_container(request)
