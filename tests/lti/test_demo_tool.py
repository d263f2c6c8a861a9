"""``tsunagu demo setup`` registers and deploys the sample tool and writes its configuration."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from tsunagu.container import Container
from tsunagu.demo import service as demo
from tsunagu.lti import launch, registry
from tsunagu.lti.models import ResourceLink
from tsunagu.roster.models import Class


def test_demo_registers_and_deploys_the_drill(container: Container) -> None:
    first = demo.setup_demo(container)
    assert first.tool_client_id == "tsunagu-drill"
    assert first.tool_config is not None
    config = json.loads(first.tool_config.read_text())
    assert config["issuer"] == launch.issuer(container.settings)
    assert config["deployment_ids"] == [f"B_{first.tenant_code}"]
    assert config["key_set_url"].endswith("/lti/jwks")
    assert config["lrs"]["secret"]
    assert oct(first.tool_config.stat().st_mode & 0o777) == "0o600"
    with container.database.session() as session:
        tools = registry.list_tools(session)
        assert [t.client_id for t in tools] == ["tsunagu-drill"]
        assert tools[0].deployments[0].deployment_id == f"B_{first.tenant_code}"
        homerooms = session.scalar(
            select(func.count()).select_from(Class).where(Class.class_type == "homeroom")
        )
        links = session.scalar(select(func.count()).select_from(ResourceLink))
        unplaced = session.scalar(
            select(func.count()).select_from(ResourceLink).where(ResourceLink.placement.is_(None))
        )
        on_periods = session.scalars(
            select(ResourceLink.placement).where(ResourceLink.placement.is_not(None))
        ).all()
    # One link per homeroom, plus the drill on every arithmetic period of the timetables.
    assert unplaced == homerooms
    assert on_periods
    assert all(p.startswith("timetable:") for p in on_periods)
    assert links
    # Idempotent: nothing is registered, placed or rewritten twice.
    written = first.tool_config.read_text()
    second = demo.setup_demo(container)
    assert second.tool_client_id == "tsunagu-drill"
    assert first.tool_config.read_text() == written
    with container.database.session() as session:
        assert session.scalar(select(func.count()).select_from(ResourceLink)) == links
