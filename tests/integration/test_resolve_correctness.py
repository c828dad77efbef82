"""Resolution correctness: the stored priority decides in the cache, and a plan tells the truth."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from wdh_cli.cli.app import app
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.reports import to_json
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.tabular.service import resolve_file


def _mappings(conn: psycopg.Connection, *rows: tuple[str, str, str, int]) -> None:
    conn.cursor().executemany(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES (%s, %s, %s, %s)",
        rows,
    )


def test_the_lowest_stored_priority_wins_among_cache_hits(
    db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    cli = CliRunner()
    # A name loaded with priority 3 beats an account loaded with priority 5,
    # although the account level comes first in the level order.
    _mappings(conn, ("A1", "D-ACCT", "account", 5), ("戊公司", "D-NAME", "name", 3))
    # Equal priorities: the level order decides.
    _mappings(conn, ("A2", "D-ACCT2", "account", 4), ("己公司", "D-NAME2", "name", 4))
    source = tmp_path / "in.csv"
    source.write_text("年金账户号,客户名称\nA1,戊公司\nA2,己公司\nA1,\n", encoding="utf-8")
    result = cli.invoke(app, ["--db", db_url, "resolve", str(source)], env={"WDH_ALIAS_SALT": "s"})
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader((tmp_path / "in.resolved.csv").open(encoding="utf-8")))
    assert [row[2:] for row in rows[1:]] == [
        ["D-NAME", "db:name"],
        ["D-ACCT2", "db:account"],
        ["D-ACCT", "db:account"],
    ]
    explained = cli.invoke(app, ["--db", db_url, "explain", "戊公司", "--account", "A1", "--json"])
    assert (
        '"winner": "db:name"' in explained.stdout and '"company_id": "D-NAME"' in explained.stdout
    )


@pytest.fixture
def messy_input(conn: psycopg.Connection, tmp_path: Path) -> Path:
    """Rows that exercise every figure a plan reports, spread over several batches."""
    _mappings(conn, ("既存公司", "C-OLD", "name", 4), ("冲突公司", "C-STORED", "name", 4))
    conn.execute(
        "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, status) VALUES "
        "('失败公司', '失败公司', 'failed'), ('排队公司', '排队公司', 'pending')"
    )
    rows = [
        ["A1", "新公司甲", ""],  # new name: queued
        ["A2", "失败公司", ""],  # its lookup failed: not queued again
        ["A3", "排队公司", ""],  # already open
        ["A4", "新公司甲", ""],  # the same new name again: counted once
        ["A5", "回流公司", "C-BACK"],  # teaches account A5, and the name C-BACK
        ["A6", "回流公司", "C-BACK"],  # teaches A6; the name C-BACK again
        ["A7", "回流公司", "C-OTHER"],  # the name another company: a conflict (3 rows)
        # The column teaches account A8, which answers the row before the stored
        # name does (an account outranks a name): the row's own ID.
        ["A8", "冲突公司", "C-NEW"],
        ["A9", "既存公司", ""],  # a cache hit
        ["", "", ""],  # blank: dropped
        ["A10", "新公司乙", ""],
        ["A11", "回流二", "C-X"],
        ["A12", "回流二", "C-Y"],  # the same name, another company: a conflict (2 rows)
    ]
    path = tmp_path / "messy.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["年金账户号", "客户名称", "公司代码"], *rows])
    return path


def _figures(db: Database, path: Path, *, plan_only: bool) -> dict[str, object]:
    settings = load_settings(alias_salt="pepper")
    options = ResolveOptions(plan_only=plan_only)
    figures: dict[str, object] = to_json(resolve_file(settings, db, path, options))
    figures.pop("output")
    return figures


def test_a_plan_reports_the_figures_of_the_real_run(db: Database, messy_input: Path) -> None:
    planned = _figures(db, messy_input, plan_only=True)
    real = _figures(db, messy_input, plan_only=False)
    assert planned == real
    assert (real["async_queued"], real["already_queued"]) == (2, 2)
    # Six accounts learned; the two names taught two companies each are not, and
    # A8's name is stored with another company: conflicts (3 + 2 + 1 rows).
    assert real["backflow"] == {"inserted": 6, "skipped": 0, "conflicts": 6}
    assert (real["db_cache_hits"], real["existing_column_hits"]) == (1, 6)


def test_a_plan_writes_nothing(db: Database, conn: psycopg.Connection, messy_input: Path) -> None:
    def snapshot() -> tuple[object, ...]:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM enterprise.company_mapping), "
            "(SELECT count(*) FROM enterprise.enrichment_requests), "
            "(SELECT count(*) FROM enterprise.company_master), "
            "(SELECT last_value FROM enterprise.company_mapping_id_seq), "
            "(SELECT last_value FROM enterprise.enrichment_requests_id_seq)"
        ).fetchone()
        assert counts is not None
        return tuple(counts)

    before = snapshot()
    _figures(db, messy_input, plan_only=True)
    assert snapshot() == before
