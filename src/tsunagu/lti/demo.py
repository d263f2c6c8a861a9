"""The demo's LTI side: register and deploy the sample 計算ドリル, place links, write its config.

Called by ``tsunagu demo setup`` (idempotent like the rest of the demo). The tool runs as its own
process (``python -m tsunagu_sample_tool --config var/drill_tool/config.json``; ``make run``
starts it) at ``TSUNAGU_DEMO_TOOL_URL`` (default ``http://localhost:8001``: another host name than
the portal's 127.0.0.1, so the two never share cookies).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from tsunagu.container import Container
from tsunagu.lrs.credentials import create_credential
from tsunagu.lti import launch, registry
from tsunagu.lti.keys import ensure_keys
from tsunagu.lti.models import Deployment, ResourceLink, Tool
from tsunagu.machine_credentials import utcnow
from tsunagu.roster.models import ACTIVE, Class

DEMO_TOOL_CLIENT_ID = "tsunagu-drill"
#: A unit per grade for the links placed in each homeroom.
_UNIT_BY_GRADE = {"P1": "add-1", "P2": "add-2", "P3": "sub-1"}
#: The sample tool's unit titles (tsunagu_sample_tool.units), as its Deep Linking names them.
_UNIT_TITLES = {
    "add-1": "たし算（くり上がりなし）",
    "add-2": "たし算（くり上がりあり）",
    "sub-1": "ひき算（くり下がりなし）",
    "mul-1": "かけ算九九",
}


def unit_for_grade(grade: str) -> tuple[str, str]:
    """The drill unit (id, title) the demo places for a grade."""
    unit = _UNIT_BY_GRADE.get(grade, "mul-1")
    return unit, _UNIT_TITLES[unit]


def place_demo_links(
    session: Session, tenant_id: int, placements: list[tuple[str, str, str]]
) -> dict[str, tuple[str, str]]:
    """Place the 計算ドリル on timetable periods, as a teacher's Deep Linking would:
    ``placements`` is (class sourcedId, placement, grade); returns placement → (link id, title).

    Plain multi-row INSERTs (a city has tens of thousands of arithmetic periods). Nothing is
    placed when the demo tool is not deployed in this tenant."""
    deployment = session.scalar(
        select(Deployment)
        .join(Tool, Tool.id == Deployment.tool_id)
        .where(
            Tool.client_id == DEMO_TOOL_CLIENT_ID,
            Deployment.tenant_id == tenant_id,
            Deployment.active.is_(True),
        )
        .order_by(Deployment.id)
    )
    if deployment is None:
        return {}
    now = utcnow()
    rows: list[dict[str, object]] = []
    placed: dict[str, tuple[str, str]] = {}
    for class_id, placement, grade in placements:
        unit, title = unit_for_grade(grade)
        link_id = str(uuid.uuid4())
        rows.append(
            {
                "id": link_id,
                "tenant_id": tenant_id,
                "deployment_pk": deployment.id,
                "class_sourced_id": class_id,
                "placement": placement,
                "title": title,
                "custom": {"unit": unit},
                "created_at": now,
            }
        )
        placed[placement] = (link_id, title)
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(ResourceLink), rows[chunk : chunk + 5000])
    return placed


@dataclass(frozen=True)
class DemoTool:
    client_id: str
    config_path: Path
    links_placed: int


def demo_tool_url() -> str:
    return os.environ.get("TSUNAGU_DEMO_TOOL_URL", "http://localhost:8001").rstrip("/")


def setup_demo_tool(container: Container, tenant_code: str) -> DemoTool:
    settings = container.settings
    tool_url = demo_tool_url()
    config_path = settings.var_dir / "drill_tool" / "config.json"
    with container.database.transaction() as session:
        ensure_keys(session, settings)
        tool = session.scalar(select(Tool).where(Tool.client_id == DEMO_TOOL_CLIENT_ID))
        if tool is None:
            registry.register_tool(
                session,
                name="計算ドリル",
                client_id=DEMO_TOOL_CLIENT_ID,
                description="Tsunagu のサンプル LTI ツール",
                login_initiation_url=tool_url + "/login",
                redirect_uris=[tool_url + "/launch"],
                target_link_uri=tool_url + "/launch",
                jwks_url=tool_url + "/jwks",
                deep_linking_url=tool_url + "/launch",
                scopes=["score", "lineitem", "result.readonly", "nrps"],
            )
        deployments = registry.deploy_tool(session, DEMO_TOOL_CLIENT_ID, tenant_code)
        deployment_id = deployments[0].deployment_id
        tool = session.scalar(select(Tool).where(Tool.client_id == DEMO_TOOL_CLIENT_ID))
        assert tool is not None
        deployment = session.scalar(
            select(Deployment).where(
                Deployment.tool_id == tool.id, Deployment.deployment_id == deployment_id
            )
        )
        assert deployment is not None
        placed = 0
        already = session.scalar(
            select(func.count())
            .select_from(ResourceLink)
            .where(ResourceLink.deployment_pk == deployment.id)
        )
        if not already:
            homerooms = session.scalars(
                select(Class).where(
                    Class.tenant_id == deployment.tenant_id,
                    Class.class_type == "homeroom",
                    Class.status == ACTIVE,
                )
            )
            for klass in homerooms:
                grade = (klass.grades or "").split(",")[0].strip()
                unit, _ = unit_for_grade(grade)
                launch.create_resource_link(
                    session,
                    tenant_id=deployment.tenant_id,
                    deployment=deployment,
                    class_sourced_id=klass.sourced_id,
                    title="計算ドリル",
                    custom={"unit": unit},
                    line_item={"label": "計算ドリル", "scoreMaximum": 10},
                )
                placed += 1
        lrs = None
        if not config_path.exists():
            created = create_credential(
                session, settings.resolved_secret_key, tenant_code=tenant_code, name="計算ドリル"
            )
            lrs = {
                "endpoint": settings.base_url.rstrip("/") + "/xapi",
                "key": created.info.key,
                "secret": created.secret,
            }
    if lrs is not None:
        base = launch.issuer(settings)
        config = {
            "issuer": base,
            "client_id": DEMO_TOOL_CLIENT_ID,
            "deployment_ids": [deployment_id],
            "auth_login_url": launch.authorize_url(settings),
            "auth_token_url": launch.token_url(settings),
            "key_set_url": launch.jwks_url(settings),
            "tool_url": tool_url,
            "lrs": lrs,
        }
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2))
        config_path.chmod(0o600)  # holds the tool's LRS secret
    return DemoTool(DEMO_TOOL_CLIENT_ID, config_path, placed)
