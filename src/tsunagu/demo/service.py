"""Set up the demo: schema, the demo tenant and its generated roster, idempotently.

``tsunagu demo setup`` runs before every ``make run``, so each step checks before it acts: the
migration is a no-op on a current schema, the tenant is created only when missing, and the roster
is imported only while the tenant has no users (a demo someone has played with is left alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from tsunagu.container import Container
from tsunagu.db import migrate
from tsunagu.demo.portal_data import DemoPortalResult, seed_portal
from tsunagu.lti.demo import setup_demo_tool
from tsunagu.roster.generator import DISTRICT_NAME, GeneratorConfig, generate_roster
from tsunagu.roster.importer import import_roster
from tsunagu.roster.models import User
from tsunagu.tenancy import service as tenancy

ProgressCallback = Callable[[str, int], None]

#: つなぐ市: two 小学校 and one 中学校, about 600 pupils; the board code is the tenant code.
DEMO_CONFIG = GeneratorConfig(students=600, seed=1, elementary_schools=2, junior_high_schools=1)
DEMO_TENANT_CODE = DEMO_CONFIG.board_code
DEMO_TENANT_NAME = DISTRICT_NAME


class DemoSetupError(RuntimeError):
    """The demo could not be set up; the message says why."""


@dataclass(frozen=True)
class DemoResult:
    tenant_code: str
    tenant_name: str
    tenant_created: bool
    #: The package imported by this run, or None when the tenant already had a roster.
    imported_package: Path | None
    users: int
    #: People a newcomer can sign in as, with :data:`DEMO_PASSWORD`.
    accounts: tuple[DemoAccount, ...] = field(default=())
    #: The sample LTI tool's client_id and the config file its process reads.
    tool_client_id: str | None = None
    tool_config: Path | None = None
    #: What was seeded for the portal by this run (None when it already had timetables).
    portal: DemoPortalResult | None = None


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    name: str


#: The local password of the demo accounts: a demo for trying the portal out, never real data.
DEMO_PASSWORD = "tsunagu-demo-2026"  # noqa: S105  (published on purpose)


def _demo_accounts(
    container: Container, tenant_code: str, tenant_id: int
) -> tuple[DemoAccount, ...]:
    """Give a teacher, one of their pupils and a school administrator the demo password.

    Idempotent: the same people every time (the first by sourcedId), password set again.
    """
    from tsunagu.identity.service import set_password
    from tsunagu.roster.models import Enrollment, Role

    picks: list[tuple[str, str]] = []
    with container.database.transaction() as session:
        teacher = session.scalar(
            select(Enrollment.user_sourced_id)
            .where(Enrollment.tenant_id == tenant_id, Enrollment.role == "teacher")
            .order_by(Enrollment.class_sourced_id, Enrollment.user_sourced_id)
            .limit(1)
        )
        if teacher is not None:
            picks.append(("teacher", teacher))
            klass = session.scalar(
                select(Enrollment.class_sourced_id)
                .where(Enrollment.tenant_id == tenant_id, Enrollment.user_sourced_id == teacher)
                .order_by(Enrollment.class_sourced_id)
                .limit(1)
            )
            pupil = session.scalar(
                select(Enrollment.user_sourced_id)
                .where(
                    Enrollment.tenant_id == tenant_id,
                    Enrollment.class_sourced_id == klass,
                    Enrollment.role == "student",
                )
                .order_by(Enrollment.user_sourced_id)
                .limit(1)
            )
            if pupil is not None:
                picks.append(("student", pupil))
        admin = session.scalar(
            select(Role.user_sourced_id)
            .where(Role.tenant_id == tenant_id, Role.role.in_(("principal", "siteAdministrator")))
            .order_by(Role.user_sourced_id)
            .limit(1)
        )
        if admin is not None:
            picks.append(("school_admin", admin))
        accounts = []
        for role, sourced_id in picks:
            user = set_password(session, container, tenant_code, sourced_id, DEMO_PASSWORD)
            accounts.append(
                DemoAccount(role, user.username, f"{user.family_name} {user.given_name}")
            )
    return tuple(accounts)


def demo_package_path(container: Container) -> Path:
    return container.settings.var_dir / "demo" / "roster.zip"


def _user_count(container: Container, tenant_id: int) -> int:
    with container.database.session() as session:
        count = session.scalar(
            select(func.count()).select_from(User).where(User.tenant_id == tenant_id)
        )
    return count or 0


def setup_demo(
    container: Container,
    *,
    progress: ProgressCallback | None = None,
) -> DemoResult:
    migrate.upgrade(container.database.url.render_as_string(hide_password=False))
    with container.database.transaction() as session:
        try:
            tenant = tenancy.get_tenant(session, DEMO_TENANT_CODE)
            created = False
        except tenancy.TenantNotFoundError:
            tenant = tenancy.create_tenant(session, DEMO_TENANT_CODE, DEMO_TENANT_NAME)
            created = True
    package: Path | None = None
    if not _user_count(container, tenant.id):
        # Regenerated every time it is needed (under a second): a package left by an older
        # version of the generator must not be what gets imported.
        package = demo_package_path(container)
        generate_roster(DEMO_CONFIG, package)
        outcome = import_roster(container, tenant.code, package, progress=progress)
        if not outcome.accepted:
            problems = "; ".join(str(p) for p in outcome.errors[:5])
            raise DemoSetupError(f"the demo roster {package} was refused: {problems}")
    # Tool, timetables and accounts are idempotent: set up again on every run.
    tool = setup_demo_tool(container, tenant.code)
    portal = _seed_portal(container, tenant.id)
    return DemoResult(
        tenant.code,
        tenant.name,
        created,
        package,
        _user_count(container, tenant.id),
        accounts=_demo_accounts(container, tenant.code, tenant.id),
        tool_client_id=tool.client_id,
        tool_config=tool.config_path,
        portal=portal,
    )


def _seed_portal(container: Container, tenant_id: int) -> DemoPortalResult | None:
    """Timetables, notices and study activity, once (a demo someone has edited is left alone)."""
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(container.settings.portal_timezone)).date()
    return seed_portal(container, tenant_id, today=today)
