"""No command prints any part of a database password, whatever the URL looks like."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from wdh_cli.cli.app import app

# Each password holds the marker SECRET; libpq misreads the first four URLs
# (it would put parts of the password into the port, database or host).
MISREAD = [
    "postgresql://etl:my/SECRET@127.0.0.1:1/x",
    "postgresql://etl:my?SECRET@127.0.0.1:1/x",
    "postgresql://etl:my#SECRET@127.0.0.1:1/x",
    "postgresql://etl:my@SECRET@127.0.0.1:1/x",
    "postgresql://etl:bad%zzSECRET@127.0.0.1:1/x",
    "host=127.0.0.1 port=1 password=my/SE CRET",
    "host=127.0.0.1 port=1 password='SECRET",
]
UNREACHABLE = [
    "postgresql://etl:p%2FSECRET%40x@127.0.0.1:1/x?connect_timeout=2",
    "postgresql://etl:SECRET@127.0.0.1:1/x?connect_timeout=2",
    "host=127.0.0.1 port=1 user=etl password='my SECRET' connect_timeout=2",
]
COMMANDS = [
    ["migrate", "status"],
    ["migrate", "up"],
    ["db", "check"],
    ["db", "check", "--json"],
    ["queue", "status", "--json"],
]
LEAKS = ("SECRET", "CRET", "my/", "my?", "my#", "%zz")


def _assert_quiet(output: str) -> None:
    for leak in LEAKS:
        assert leak not in output


@pytest.mark.parametrize("url", MISREAD)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_url_libpq_would_misread_is_a_config_error(url: str, command: list[str]) -> None:
    result = CliRunner().invoke(app, ["--db", url, *command])
    assert result.exit_code == 2, result.output
    assert "WDH_DATABASE_URL" in result.stderr and "Traceback" not in result.stderr
    _assert_quiet(result.stdout + result.stderr)


@pytest.mark.parametrize("url", UNREACHABLE)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreachable_server_is_named_without_the_password(url: str, command: list[str]) -> None:
    result = CliRunner().invoke(app, ["--db", url, *command])
    assert result.exit_code in (1, 3), result.output
    assert "Traceback" not in result.stderr
    _assert_quiet(result.stdout + result.stderr)


@pytest.mark.parametrize("url", MISREAD + UNREACHABLE)
def test_resolve_going_offline_never_repeats_the_password(url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n甲公司\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--db", url, "resolve", str(source), "--json"], env={"WDH_ALIAS_SALT": "s"}
    )
    assert result.exit_code == (2 if url in MISREAD else 0), result.output
    _assert_quiet(result.stdout + result.stderr)
    result = CliRunner().invoke(
        app,
        ["-v", "--db", url, "resolve", str(source), "--require-db"],
        env={"WDH_ALIAS_SALT": "s"},
    )
    assert result.exit_code in (1, 2)
    _assert_quiet(result.stdout + result.stderr)
