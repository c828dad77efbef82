"""The invariants of the resolve engine (docs/architecture.md, "The resolve engine"), held by
hypothesis over random files on real PostgreSQL:

- I1: permuting the rows, or reading them in other chunks, changes no row's answer and no
  figure; for a table, neither does --batch;
- I2: resolving the same input again right after gives every row the same company_id;
- I3: a file and the same rows as a table give the same answers row for row, the same
  figures and the same database state;
- I4: the figures add up to total_rows.

Cells come from small pools, so that rows share keys at every level: overrides, stored
mappings at several priorities, existing IDs that teach (and conflict, and are temporary or
malformed), names in several spellings, a provider within a budget.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tests.conftest import Server, _fresh_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.reports import to_json
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.tabular import csv_input
from wdh_cli.tabular.service import resolve_file
from wdh_cli.warehouse.repository import TableRef
from wdh_cli.warehouse.resolve import resolve_table

HEADER = ["序号", "计划代码", "年金账户号", "客户名称", "年金账户名", "公司代码"]
PLANS = ["", "P1", "P2", " P1 ", "P3"]
ACCOUNTS = ["", "A1", "A2", "A3", "A4", "A5"]
NAMES = ["", "甲公司", "甲 公司", "乙公司", "丙公司（已转出）", "丙公司", "丁公司", "戊公司", "无"]
ACCOUNT_NAMES = ["", "计划甲", "计划乙"]
EXISTING = ["", "", "", "C1", "C2", "C3", "INABCDEFGHIJKLMNOP", "TEMP_000001", "C 4", " C5 "]
# What the cache may hold when the run starts: (key, match_type, company, stored priority).
STORED = [
    ("P1", "plan", "CP1", 1),
    ("P3", "hardcode", "CH3", 3),
    ("A1", "account", "CA1", 2),
    ("A2", "account", "CA2", 5),  # stored with a lower rank than its level's
    ("乙公司", "name", "CN2", 4),
    ("甲公司", "name", "CN1", 1),  # a name stored with a better rank than accounts
    ("计划乙", "account_name", "CAN", 5),
]
OVERRIDES = {"plan": "P2: Y-P2\n", "name": "丁公司: Y-DING\n"}
DIRECTORY = [("D-WU", "戊公司"), ("D-BING", "丙公司")]
TABLE = TableRef("public", "明细")

row = st.tuples(
    st.sampled_from(PLANS),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(NAMES),
    st.sampled_from(ACCOUNT_NAMES),
    st.sampled_from(EXISTING),
)
case = st.fixed_dictionaries(
    {
        "rows": st.lists(row, min_size=1, max_size=40),
        "stored": st.lists(st.sampled_from(STORED), unique=True),
        "overrides": st.lists(st.sampled_from(sorted(OVERRIDES)), unique=True),
        "budget": st.integers(0, 2),
        "order": st.randoms(use_true_random=False),
        "chunk": st.integers(40, 4000),
        "batch": st.integers(1, 50),
    }
)


@pytest.fixture(scope="module")
def databases(pg_server: Server, migrated_template: str) -> Iterator[tuple[str, str]]:
    """Two databases, truncated for every example (one for files, one for tables)."""
    first = _fresh_database(pg_server, migrated_template)
    second = _fresh_database(pg_server, migrated_template)
    yield next(first), next(second)
    for made in (first, second):
        next(made, None)


def _reset(url: str, stored: list[tuple[str, str, str, int]]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE enterprise.company_mapping, enterprise.enrichment_requests, "
            "enterprise.provider_answers, enterprise.company_master RESTART IDENTITY"
        )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(TABLE.identifier))
        for key, match_type, company, priority in stored:
            conn.execute(
                "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, "
                "priority) VALUES (%s, %s, %s, %s)",
                (key, company, match_type, priority),
            )


def _settings(folder: Path, overrides: list[str]) -> Any:
    mappings = folder / "mappings"
    mappings.mkdir(exist_ok=True)
    for old in mappings.iterdir():
        old.unlink()
    for level in overrides:
        (mappings / f"company_id_overrides_{level}.yml").write_text(OVERRIDES[level], "utf-8")
    directory = folder / "directory.csv"
    with directory.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["company_id", "official_name", "unified_credit_code", "aliases"])
        writer.writerows([company, name, "", ""] for company, name in DIRECTORY)
    return load_settings(alias_salt="pepper", mappings_dir=mappings, directory_path=directory)


def _numbered(rows: list[tuple[str, ...]]) -> list[list[str]]:
    return [[str(number), *cells] for number, cells in enumerate(rows)]


def _file_run(
    url: str, folder: Path, rows: list[list[str]], options: ResolveOptions, settings_: Any
) -> tuple[dict[str, tuple[str, str]], dict[str, Any]]:
    """Answers by row number, and the figures, of resolving `rows` as a CSV file."""
    source = folder / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    db = Database(load_settings(database_url=url), purpose="pytest")
    stats = resolve_file(settings_, db, source, options)
    with (folder / "in.resolved.csv").open(encoding="utf-8", newline="") as handle:
        written = list(csv.reader(handle))[1:]
    return {r[0]: (r[-2], r[-1]) for r in written}, _figures(stats)


def _figures(stats: Any) -> dict[str, Any]:
    figures: dict[str, Any] = to_json(stats)
    for key in ("output", "table", "batches"):
        figures.pop(key, None)
    return figures


def _state(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        return {
            "mappings": conn.execute(
                "SELECT alias_name, canonical_id, match_type, priority, source "
                "FROM enterprise.company_mapping ORDER BY match_type, alias_name"
            ).fetchall(),
            "requests": conn.execute(
                "SELECT raw_name, normalized_name, temp_id, status, rows_seen, "
                "resolved_company_id FROM enterprise.enrichment_requests ORDER BY normalized_name"
            ).fetchall(),
            "answers": conn.execute(
                "SELECT provider, normalized_name, outcome, company_id "
                "FROM enterprise.provider_answers ORDER BY normalized_name"
            ).fetchall(),
        }


def _adds_up(figures: dict[str, Any]) -> None:
    """I4."""
    layers = (
        sum(figures["yaml_hits"].values())
        + figures["db_cache_hits"]
        + figures["existing_column_hits"]
        + figures["eqc_sync_hits"]
        + figures["temp_ids_generated"]
        + figures["unresolved"]
    )
    assert layers == figures["total_rows"]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(example=case)
def test_answers_depend_on_the_rows_as_a_set(
    databases: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    example: dict[str, Any],
) -> None:
    file_url, table_url = databases
    rows = _numbered(example["rows"])
    settings_ = _settings(tmp_path, example["overrides"])
    options = ResolveOptions(budget=example["budget"], provider="directory")

    # The rows in their order, read in one chunk.
    _reset(file_url, example["stored"])
    answers, figures = _file_run(file_url, tmp_path, rows, options, settings_)
    _adds_up(figures)
    state = _state(file_url)

    # I1: the same rows in another order, read in other chunks.
    shuffled = list(rows)
    example["order"].shuffle(shuffled)
    monkeypatch.setattr(csv_input, "READ_BLOCK", example["chunk"])
    _reset(file_url, example["stored"])
    again, again_figures = _file_run(file_url, tmp_path, shuffled, options, settings_)
    assert again == answers
    assert again_figures == figures
    assert _state(file_url) == state

    # I3: the same rows as a table, in batches of any size.
    _reset(table_url, example["stored"])
    with psycopg.connect(table_url, autocommit=True) as conn:
        columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(h)) for h in HEADER)
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(TABLE.identifier, columns))
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(TABLE.identifier)) as copy:
            for cells in shuffled:
                copy.write_row([cell or None for cell in cells])
    table_db = Database(load_settings(database_url=table_url), purpose="pytest")
    table_stats = resolve_table(
        settings_, table_db, TABLE, options, batch=example["batch"], add_columns=True
    )
    with psycopg.connect(table_url) as conn:
        found = conn.execute(
            sql.SQL("SELECT \"序号\", coalesce(company_id, ''), company_id_source FROM {}").format(
                TABLE.identifier
            )
        ).fetchall()
    assert {number: (company, source) for number, company, source in found} == answers
    assert _figures(table_stats) == figures
    assert _state(table_url) == state


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(example=case)
def test_a_second_run_gives_every_row_the_same_company(
    databases: tuple[str, str], tmp_path: Path, example: dict[str, Any]
) -> None:
    """I2: what the first run learned and cached, the second finds; no provider in between."""
    file_url, _ = databases
    rows = _numbered(example["rows"])
    settings_ = _settings(tmp_path, example["overrides"])
    options = ResolveOptions(budget=0)
    _reset(file_url, example["stored"])
    first, figures = _file_run(file_url, tmp_path, rows, options, settings_)
    second, _ = _file_run(file_url, tmp_path, rows, options, settings_)
    assert {n: company for n, (company, _) in second.items()} == {
        n: company for n, (company, _) in first.items()
    }
    _adds_up(figures)
