"""``tsunagu demo setup``: idempotent schema, tenant and roster."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from package_rules import check_rules, insert_package, read_package
from typer.testing import CliRunner

from tsunagu.cli import app
from tsunagu.container import Container
from tsunagu.demo import service
from tsunagu.tenancy import service as tenancy


@dataclass
class Outcome:
    accepted: bool
    errors: list[str] = field(default_factory=list)


@dataclass
class FakeImporter:
    """Stores the package as-is (the real importer lands separately) and records its calls."""

    accept: bool = True
    calls: list[Path] = field(default_factory=list)

    def __call__(
        self, container: Container, tenant_code: str, source: Path, *, progress: object = None
    ) -> Outcome:
        self.calls.append(source)
        if not self.accept:
            return Outcome(False, ["orgs.csv line 2: something is wrong"])
        with container.database.transaction() as session:
            tenant = tenancy.get_tenant(session, tenant_code)
            insert_package(session, tenant.id, read_package(source))
        return Outcome(True)


def test_setup_creates_the_tenant_and_imports_once(container: Container) -> None:
    importer = FakeImporter()
    first = service.setup_demo(container, importer=importer)
    assert (first.tenant_code, first.tenant_name) == ("139999", "つなぐ市教育委員会")
    assert first.tenant_created
    assert first.imported_package == container.settings.var_dir / "demo" / "roster.zip"
    package = read_package(first.imported_package)
    assert check_rules(package) == []
    assert len([o for o in package.rows["orgs"] if o["type"] == "school"]) == 3
    assert first.users == len(package.rows["users"]) > 600

    second = service.setup_demo(container, importer=importer)
    assert not second.tenant_created
    assert second.imported_package is None
    assert second.users == first.users
    assert len(importer.calls) == 1


def test_a_refused_import_fails_and_the_next_run_tries_again(container: Container) -> None:
    with pytest.raises(service.DemoSetupError, match="something is wrong"):
        service.setup_demo(container, importer=FakeImporter(accept=False))
    retry = FakeImporter()
    result = service.setup_demo(container, importer=retry)
    assert not result.tenant_created
    assert len(retry.calls) == 1
    assert result.users > 600


def test_setup_with_the_real_importer(container: Container) -> None:
    pytest.importorskip("tsunagu.roster.importer")
    first = service.setup_demo(container)
    assert first.imported_package is not None
    assert first.users > 600
    again = service.setup_demo(container)
    assert again.imported_package is None
    assert again.users == first.users


def test_cli_demo_setup(container: Container) -> None:
    pytest.importorskip("tsunagu.roster.importer")
    runner = CliRunner()
    for imported in (True, False):
        result = runner.invoke(app, ["demo", "setup", "--json"], obj=container)
        assert result.exit_code == 0, result.output
        output = json.loads(result.stdout.strip().splitlines()[-1])
        assert output["tenant"] == "139999"
        assert (output["imported"] is not None) is imported
