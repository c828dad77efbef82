"""The README's table of --json keys is what the commands really print (docs checked by tests).

Every command in the table is run with --json on a real database, and its
top-level keys must be exactly the ones the README lists; every command that
takes --json must have a row.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from wdh_cli.cli.app import app

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## JSON output", 1)[1].split("\n## ", 1)[0]
ROWS = re.findall(r"^\| `(wdh [a-z -]+)` \| (.+) \|$", SECTION, flags=re.M)
DOCUMENTED = {command: re.findall(r"`([a-z_]+)`", keys) for command, keys in ROWS}


def _commands(tmp_path: Path) -> dict[str, list[str]]:
    source = tmp_path / "in.csv"
    source.write_text("客户名称,公司代码\n甲公司,\n乙公司,C2\n", encoding="utf-8")
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("request_id,decision,company_id\n", encoding="utf-8")
    mappings = tmp_path / "mappings.csv"
    mappings.write_text("alias_name,canonical_id,match_type\nP9,C9,plan\n", encoding="utf-8")
    return {
        "wdh resolve": ["resolve", str(source)],
        "wdh resolve --table": ["resolve", "--table", "public.annuity", "--add-columns"],
        "wdh rewrite": ["rewrite", "--table", "public.annuity"],
        "wdh explain": ["explain", "甲公司", "--plan", "P9"],
        "wdh queue enqueue": ["queue", "enqueue", "丙公司"],
        "wdh queue drain": ["queue", "drain", "--provider", "directory"],
        "wdh queue status": ["queue", "status"],
        "wdh queue retry": ["queue", "retry", "--failed"],
        "wdh queue purge": ["queue", "purge", "--done", "--older-than", "0"],
        "wdh review export": ["review", "export", str(tmp_path / "review.xlsx")],
        "wdh review apply": ["review", "apply", str(decisions)],
        "wdh mappings load": ["mappings", "load", str(mappings)],
        "wdh mappings check": ["mappings", "check", str(mappings)],
        "wdh migrate status": ["migrate", "status"],
        "wdh migrate verify": ["migrate", "verify"],
        "wdh db check": ["db", "check"],
    }


def test_the_readme_lists_every_command_that_takes_json(tmp_path: Path) -> None:
    assert set(DOCUMENTED) == set(_commands(tmp_path))


@pytest.mark.parametrize("command", sorted(DOCUMENTED))
def test_json_keys_are_the_documented_ones(
    cli: CliRunner, db_url: str, tmp_path: Path, command: str
) -> None:
    env = {
        "WDH_ALIAS_SALT": "pepper",
        "WDH_MAPPINGS_DIR": str(tmp_path),
        "WDH_DIRECTORY_PATH": str(ROOT / "examples" / "directory.csv"),
    }
    args = _commands(tmp_path)[command]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE public.annuity ("客户名称" text, company_id text)')
        conn.execute("INSERT INTO public.annuity VALUES ('甲公司'), ('乙公司')")
    result = cli.invoke(app, ["--db", db_url, *args, "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)  # exactly one JSON object, nothing else on stdout
    assert list(data) == DOCUMENTED[command]
