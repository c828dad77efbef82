"""`wdh db grant ROLE`: daily commands run as a lower-privileged role; migrations do not.

Roles are cluster-wide: each test makes its own, with a unique name, and
drops it (and what was granted to it) even when the test fails.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from tests.helpers import CLI_ENV, catalog, invoke_wdh


def _make_role(db_url: str, name: str) -> Iterator[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            # Privileges and default privileges live in this database; the
            # role can only go once they are gone.
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def app_role(db_url: str) -> Iterator[str]:
    yield from _make_role(db_url, f"wdh_app_{secrets.token_hex(4)}")


def _as(db_url: str, role: str) -> str:
    return make_conninfo(db_url, user=role)


def _privilege(db_url: str, check: str, *args: str) -> bool:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT {check}(%s, %s, %s)", args).fetchone()
    return bool(row and row[0])


def test_a_granted_role_runs_the_daily_commands_but_no_migration(
    cli: CliRunner, db_url: str, app_role: str, tmp_path: Path
) -> None:
    url = _as(db_url, app_role)
    ungranted = invoke_wdh(cli, url, "queue", "status")
    assert ungranted.exit_code == 1
    assert f"role {app_role} lacks this privilege" in ungranted.stderr
    assert f"`wdh db grant {app_role}`" in ungranted.stderr

    dry = invoke_wdh(cli, db_url, "db", "grant", app_role, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert f'GRANT USAGE ON SCHEMA enterprise, wdh TO "{app_role}";' in dry.stdout
    assert "nothing was changed" in dry.stderr
    assert not _privilege(db_url, "has_schema_privilege", app_role, "enterprise", "USAGE")

    done = invoke_wdh(cli, db_url, "db", "grant", app_role)
    assert done.exit_code == 0, done.stderr
    assert _privilege(db_url, "has_schema_privilege", app_role, "enterprise", "USAGE")
    for schema in ("enterprise", "wdh", "public"):  # no DDL anywhere
        assert not _privilege(db_url, "has_schema_privilege", app_role, schema, "CREATE")
    assert _privilege(db_url, "has_table_privilege", app_role, "wdh.schema_history", "SELECT")
    assert not _privilege(db_url, "has_table_privilege", app_role, "wdh.schema_history", "INSERT")

    source = tmp_path / "in.csv"
    source.write_text("客户名称,公司代码\n浦发集团,\n无此公司,\n乙公司,C2\n", encoding="utf-8")
    resolved = invoke_wdh(
        cli, url, "resolve", str(source), "--output", str(tmp_path / "o.csv"), "--json"
    )
    assert resolved.exit_code == 0, resolved.stderr
    report = json.loads(resolved.stdout)
    assert report["async_queued"] == 2 and report["db_available"] is True
    assert set(report["errors"].values()) == {0}
    sequential = invoke_wdh(
        cli, url, "resolve", str(source), "--output", str(tmp_path / "s.csv"), "--json",
        env=CLI_ENV | {"WDH_TEMP_ID_STYLE": "sequence"},
    )  # fmt: skip
    assert sequential.exit_code == 0, sequential.stderr
    assert set(json.loads(sequential.stdout)["errors"].values()) == {0}

    drained = invoke_wdh(cli, url, "queue", "drain", "--provider", "directory", "--json")
    assert drained.exit_code == 0, drained.stderr
    assert json.loads(drained.stdout)["resolved"] == 1

    mappings = tmp_path / "m.csv"
    mappings.write_text("alias_name,canonical_id,match_type\nP9,C9,plan\n", encoding="utf-8")
    loaded = invoke_wdh(cli, url, "mappings", "load", str(mappings), "--mode", "delete_insert")
    assert loaded.exit_code == 0, loaded.stderr
    assert invoke_wdh(cli, url, "db", "check").exit_code == 0

    before = catalog(db_url)
    for args in (["migrate", "up"], ["migrate", "down"], ["migrate", "down", "--all", "--yes"]):
        refused = invoke_wdh(cli, url, *args)
        assert refused.exit_code == 1, args
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        assert f"role {app_role} lacks this privilege" in refused.stderr
        assert "run migrations as the owner" in refused.stderr
    assert catalog(db_url) == before


def test_tables_created_later_by_the_owner_are_granted_too(
    cli: CliRunner, db_url: str, app_role: str
) -> None:
    assert invoke_wdh(cli, db_url, "db", "grant", app_role).exit_code == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE enterprise.later (id serial PRIMARY KEY)")
    assert _privilege(db_url, "has_table_privilege", app_role, "enterprise.later", "INSERT")
    assert _privilege(
        db_url, "has_sequence_privilege", app_role, "enterprise.later_id_seq", "USAGE"
    )


def test_a_role_name_is_one_quoted_identifier(cli: CliRunner, db_url: str) -> None:
    name = f'wdh app"{secrets.token_hex(3)}; DROP TABLE enterprise.company_master; --'
    for role in _make_role(db_url, name):
        result = invoke_wdh(cli, db_url, "db", "grant", role)
        assert result.exit_code == 0, result.stderr
        assert _privilege(db_url, "has_schema_privilege", role, "enterprise", "USAGE")
    assert any(e.name == "enterprise.company_master" for e in catalog(db_url))


def test_a_role_that_does_not_exist_exits_2_naming_it(cli: CliRunner, db_url: str) -> None:
    before = catalog(db_url)
    for role in ("wdh_no_such_role_x", "public", "PUBLIC"):
        result = invoke_wdh(cli, db_url, "db", "grant", role)
        assert result.exit_code == 2, role
        assert role in result.stderr and "Traceback" not in result.stderr
    assert catalog(db_url) == before


def test_grant_before_any_migration_says_to_migrate(cli: CliRunner, empty_db_url: str) -> None:
    for role in _make_role(empty_db_url, f"wdh_app_{secrets.token_hex(4)}"):
        result = invoke_wdh(cli, empty_db_url, "db", "grant", role)
        assert result.exit_code == 1
        assert "`wdh migrate up`" in result.stderr
