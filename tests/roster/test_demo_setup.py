"""``tsunagu demo setup``: idempotent schema, tenant and roster."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.roster.package_rules import check_rules, read_package
from tsunagu.cli import app
from tsunagu.container import Container
from tsunagu.demo import service


def test_setup_creates_the_tenant_and_imports_once(container: Container) -> None:
    first = service.setup_demo(container)
    assert (first.tenant_code, first.tenant_name) == ("139999", "つなぐ市教育委員会")
    assert first.tenant_created
    assert first.imported_package == container.settings.var_dir / "demo" / "roster.zip"
    package = read_package(first.imported_package)
    assert check_rules(package) == []
    assert len([o for o in package.rows["orgs"] if o["type"] == "school"]) == 3
    assert first.users == len(package.rows["users"]) > 600

    second = service.setup_demo(container)
    assert not second.tenant_created
    assert second.imported_package is None
    assert second.users == first.users


def test_cli_demo_setup(container: Container) -> None:
    runner = CliRunner()
    for imported in (True, False):
        result = runner.invoke(app, ["demo", "setup", "--json"], obj=container)
        assert result.exit_code == 0, result.output
        output = json.loads(result.stdout.strip().splitlines()[-1])
        assert output["tenant"] == "139999"
        assert (output["imported"] is not None) is imported
