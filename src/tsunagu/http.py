"""Small helpers shared by HTTP routes of every domain."""

from __future__ import annotations

from fastapi import Request

from tsunagu.container import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container
