from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import and_, select

from tests.identity.support import sign_in
from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.demo.service import DEMO_TENANT_CODE, setup_demo
from tsunagu.lti.demo import demo_tool_url
from tsunagu.roster.models import Class, Enrollment


def test_demo_has_timetables_notices_and_activity(container: Container) -> None:
    first = setup_demo(container)
    assert first.portal is not None
    assert first.portal.slots > 100
    assert first.portal.notices > 0
    assert first.portal.statements > 500
    assert setup_demo(container).portal is None  # seeded once, then left alone

    with container.database.session() as session:
        pupil = session.scalar(
            select(Enrollment.user_sourced_id)
            .join(
                Class,
                and_(
                    Class.tenant_id == Enrollment.tenant_id,
                    Class.sourced_id == Enrollment.class_sourced_id,
                ),
            )
            .where(
                Enrollment.role == "student", Class.class_type == "homeroom", Class.grades == "P5"
            )
            .order_by(Enrollment.user_sourced_id)
            .limit(1)
        )
    assert pupil is not None
    with TestClient(create_app(container=container)) as client:
        sign_in(client, container, DEMO_TENANT_CODE, pupil)
        home = client.get("/home")
        assert home.status_code == 200
        week = home.text.split('id="week"', 1)[1]
        assert "算数" in week
        assert "国語" in week
        recent = home.text.split('id="recent"', 1)[1].split("</ul>", 1)[0]
        assert "<li>" in recent
        assert "ひなんくんれん" in home.text
        # Arithmetic periods carry the sample 計算ドリル: a period opens the tool (LTI launch).
        tools = home.text.split('id="tools-heading"', 1)[1].split("</section>", 1)[0]
        link = re.search(r'href="(/launch/[^"]+)">計算ドリル', tools)
        assert link is not None, tools
        started = client.get(link.group(1), follow_redirects=False)
        assert started.status_code == 303
        assert started.headers["location"].startswith(demo_tool_url() + "/login?")
