"""Adding a level is one row in the level table plus one migration (docs/architecture.md).

The test adds a sixth level, `name_exact` (the customer name as typed,
trimmed, priority 6), by building the table with one more row and applying
the migration such a change would ship (widening company_mapping's two CHECK
constraints). Loading, YAML overrides, the cache, backflow, explain and the
figures then all know the new level, with no other code changed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.helpers import invoke_wdh_json
from wdh_cli.mappings import levels
from wdh_cli.mappings.levels import Level, LevelTable, trimmed

SIXTH = Level("name_exact", 6, "name", trimmed, backflows=True)

# What the migration of such a change would hold.
MIGRATION = """
ALTER TABLE enterprise.company_mapping
    DROP CONSTRAINT company_mapping_match_type_check,
    ADD CONSTRAINT company_mapping_match_type_check CHECK (match_type IN
        ('plan', 'account', 'hardcode', 'name', 'account_name', 'name_exact')),
    DROP CONSTRAINT company_mapping_priority_check,
    ADD CONSTRAINT company_mapping_priority_check CHECK (priority BETWEEN 1 AND 6);
"""


@pytest.fixture
def six_levels(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    monkeypatch.setattr(levels, "LEVELS", LevelTable([*levels.LEVELS, SIXTH]))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(MIGRATION)
    return db_url


def test_a_sixth_level_needs_one_table_row_and_one_migration(
    cli: CliRunner, six_levels: str, tmp_path: Path
) -> None:
    db_url = six_levels
    env = {"WDH_ALIAS_SALT": "pepper", "WDH_MAPPINGS_DIR": str(tmp_path / "mappings")}
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "company_id_overrides_name_exact.yml").write_text(
        "丙 公司: Y-EXACT\n", encoding="utf-8"
    )
    mappings = tmp_path / "mappings.csv"
    mappings.write_text("alias_name,canonical_id,match_type\n甲 公司,D-EXACT,name_exact\n")

    # The loader validates the new type and gives it its priority.
    loaded = invoke_wdh_json(cli, db_url, "mappings", "load", str(mappings), env=env)
    assert (loaded["inserted"], loaded["rejected"]) == (1, 0)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT alias_name, priority FROM enterprise.company_mapping "
            "WHERE match_type = 'name_exact'"
        ).fetchall()
    assert stored == [("甲 公司", 6)]

    # The resolver: YAML and cache hits on the new level, backflow into it.
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [["客户名称", "公司代码"], ["甲 公司", ""], ["丙 公司", ""], ["丁 公司", "C-EXISTING"]]
        )
    stats = invoke_wdh_json(cli, db_url, "resolve", str(source), env=env)
    assert stats["yaml_hits"] == {
        "plan": 0,
        "account": 0,
        "hardcode": 0,
        "name": 0,
        "account_name": 0,
        "name_exact": 1,
    }
    assert (stats["db_cache_hits"], stats["existing_column_hits"]) == (1, 1)
    assert stats["backflow"] == {"inserted": 2, "skipped": 0, "conflicts": 0}  # name, name_exact
    rows = list(csv.reader((tmp_path / "in.resolved.csv").open(encoding="utf-8")))
    assert [row[2:] for row in rows[1:]] == [
        ["D-EXACT", "db:name_exact"],
        ["Y-EXACT", "yaml:name_exact"],
        ["C-EXISTING", "existing"],
    ]

    # explain lists the new level's answers and its winner.
    explained = invoke_wdh_json(cli, db_url, "explain", "甲 公司", env=env)
    layers = {layer["layer"]: layer["answer"] for layer in explained["layers"]}
    assert layers["db:name_exact"] == "D-EXACT" and layers["yaml:name_exact"] is None
    assert (explained["winner"], explained["company_id"]) == ("db:name_exact", "D-EXACT")


def test_the_table_refuses_a_level_that_repeats_a_type_or_priority() -> None:
    with pytest.raises(ValueError, match="own match_type and priority"):
        LevelTable([*levels.LEVELS, Level("name_exact", 4, "name", trimmed, backflows=False)])
    with pytest.raises(ValueError, match="own match_type and priority"):
        LevelTable([*levels.LEVELS, Level("plan", 7, "plan", trimmed, backflows=False)])
