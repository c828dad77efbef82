"""Tables in place: `wdh resolve --table` and `wdh rewrite --table` against a bare UPDATE ... FROM.

resolve, two shapes, each against one bare `UPDATE ... FROM` of the same
rows joined to a prepared name -> ID table (the least any in-place resolve
must do):
- repeating: ROWS rows and NAMES distinct names, half of them in the cache
  (the other half get temporary IDs and are queued), no other key;
- own accounts: ROWS rows, every one with its own account number, as most
  real annuity data has, and HARD_NAMES names, half of them cached;
- own accounts, half cached: the same, and the cache holds half of the
  rows' accounts, so half of the rows are decided by their account, one by
  one (wdh_rows in sql/queries/resolve_table.sql).
rewrite: REWRITE_ROWS rows holding temporary IDs that the queue has
resolved, against the bare UPDATE joined to the same temp ID -> company
table. Each run starts from a fresh, vacuumed copy of the table.
`python -m bench tables` (WDH_BENCH_TABLE_ROWS=10000000 for the large
point).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench.common import Figure, run_child, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.migrate import runner
from wdh_cli.names import normalize_name
from wdh_cli.tempids.generator import TempIdGenerator

WDH = str(Path(sys.executable).parent / "wdh")
ROWS = int(os.environ.get("WDH_BENCH_TABLE_ROWS", "1000000"))
NAMES = 20_000
HARD_NAMES = 100_000
REWRITE_ROWS = 500_000
RUNS = int(os.environ.get("WDH_BENCH_RUNS", "3"))


def _name(index: int) -> str:
    return f"华南{index}号贸易有限公司"


def _hard_name(index: int) -> str:
    return f"华东{index}号实业有限公司"


def _setup_own_accounts(conn: psycopg.Connection) -> None:
    """The own-accounts table, its cache rows (half the names, half the accounts), its floor's
    name -> ID table."""
    conn.execute(
        'CREATE TABLE bench_hard ("月度" text, "计划代码" text, "年金账户号" text, '
        '"客户名称" text, "年金账户名" text, "规模" numeric, company_id text, '
        "company_id_source text)"
    )
    conn.execute(
        """INSERT INTO bench_hard
               ("月度", "计划代码", "年金账户号", "客户名称", "年金账户名", "规模")
           SELECT '2026' || lpad((n %% 12 + 1)::text, 2, '0'), 'Q' || (n * 7919 %% 5000),
                  lpad(n::text, 10, '0'), '华东' || ((n * 7919) %% %(names)s) || '号实业有限公司',
                  ((n * 7919) %% 300) || '号企业年金计划', n
           FROM generate_series(0::bigint, %(rows)s - 1) AS n""",
        {"rows": ROWS, "names": HARD_NAMES},
    )
    with conn.cursor().copy(
        "COPY enterprise.company_mapping (alias_name, canonical_id, match_type, priority, source) "
        "FROM STDIN"
    ) as copy:
        for index in range(0, HARD_NAMES, 2):
            copy.write_row((normalize_name(_hard_name(index)), f"H{index}", "name", 4, "bench"))
        for row in range(0, ROWS, 2):
            copy.write_row((f"{row:010d}", f"A{row}", "account", 2, "bench"))
    # The same rows with accounts the cache does not hold (it holds others).
    conn.execute(
        """CREATE TABLE bench_own AS
           SELECT "月度", "计划代码", 'N' || "年金账户号" AS "年金账户号", "客户名称",
                  "年金账户名", "规模", company_id, company_id_source
           FROM bench_hard"""
    )
    conn.execute("CREATE TABLE bench_hard_keys (name text PRIMARY KEY, company_id text)")
    with conn.cursor().copy("COPY bench_hard_keys FROM STDIN") as copy:
        for index in range(HARD_NAMES):
            copy.write_row((_hard_name(index), f"H{index}"))
    conn.execute("VACUUM ANALYZE enterprise.company_mapping")


def _setup(conn: psycopg.Connection) -> None:
    """The template tables, the cache (half the names) and resolved requests."""
    conn.execute(
        'CREATE TABLE bench_src ("月度" text, "客户名称" text, "规模" numeric, '
        "company_id text, company_id_source text)"
    )
    conn.execute(
        """INSERT INTO bench_src ("月度", "客户名称", "规模")
           SELECT '2026' || lpad((n %% 12 + 1)::text, 2, '0'),
                  '华南' || ((n * 7919) %% %(names)s) || '号贸易有限公司', n
           FROM generate_series(1::bigint, %(rows)s) AS n""",
        {"rows": ROWS, "names": NAMES},
    )
    with conn.cursor().copy(
        "COPY enterprise.company_mapping (alias_name, canonical_id, match_type, priority, source) "
        "FROM STDIN"
    ) as copy:
        for index in range(0, NAMES, 2):
            copy.write_row((normalize_name(_name(index)), f"C{index}", "name", 4, "bench"))
    # The floor's prepared key -> ID table: every name with an answer.
    conn.execute("CREATE TABLE bench_keys (name text PRIMARY KEY, company_id text)")
    with conn.cursor().copy("COPY bench_keys FROM STDIN") as copy:
        for index in range(NAMES):
            copy.write_row((_name(index), f"C{index}"))
    # rewrite: rows holding temporary IDs, every one resolved by the queue.
    generator = TempIdGenerator("bench")
    conn.execute(
        'CREATE TABLE bench_temp_src ("客户名称" text, company_id text, company_id_source text)'
    )
    with conn.cursor().copy(
        "COPY enterprise.enrichment_requests (raw_name, normalized_name, temp_id, status, "
        "resolved_company_id, resolved_source) FROM STDIN"
    ) as copy:
        for index in range(NAMES):
            key = normalize_name(_name(index))
            copy.write_row(
                (_name(index), key, generator.for_key(key), "done", f"C{index}", "directory")
            )
    conn.execute(
        """INSERT INTO bench_temp_src
           SELECT raw_name, temp_id, 'temp'
           FROM enterprise.enrichment_requests, generate_series(1, %(per)s)""",
        {"per": REWRITE_ROWS // NAMES},
    )
    conn.execute(
        "CREATE TABLE bench_rewrite_keys AS SELECT temp_id, resolved_company_id AS company_id, "
        "resolved_source AS source FROM enterprise.enrichment_requests"
    )
    conn.execute("ALTER TABLE bench_rewrite_keys ADD PRIMARY KEY (temp_id)")


def _fresh(url: str, source: str, target: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {target}")
        conn.execute(f"CREATE TABLE {target} AS TABLE {source}")
        conn.execute(f"VACUUM ANALYZE {target}")


def _timed_sql(url: str, statement: str) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        conn.execute(statement)
        return time.perf_counter() - start


def _timed_wdh(url: str, tmp: str, *args: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one installed `wdh` run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WDH_")}
    env |= {"WDH_DATABASE_URL": url, "WDH_ALIAS_SALT": "bench", "WDH_MAPPINGS_DIR": tmp}
    run = run_child([WDH, *args], tmp, env=env)
    return run.seconds, run.peak_mb


def _reset_queue(url: str) -> None:
    """Each resolve run starts with the same queue: only the resolved requests of the setup."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM enterprise.enrichment_requests WHERE status <> 'done'")


def _pairs_of_runs(
    url: str, source: str, floor: str, wdh: Callable[[str], tuple[float, float]]
) -> tuple[list[float], list[float], list[float]]:
    """RUNS pairs, each on fresh copies of `source`: (floor seconds, wdh seconds, wdh peak MB).

    `floor` is the bare statement, `{}` standing for the table; the queue is
    reset before each wdh run, so each starts from the setup's requests.
    """
    floors, walls, peaks = [], [], []
    for _ in range(RUNS):
        _fresh(url, source, "bench_floor")
        floors.append(_timed_sql(url, floor.format("bench_floor")))
        _fresh(url, source, "bench_wdh")
        _reset_queue(url)
        wall, peak = wdh("bench_wdh")
        walls.append(wall)
        peaks.append(peak)
    return floors, walls, peaks


def run(base_url: str) -> list[Figure]:
    with (
        scratch_database(base_url, "wdh_bench_tables") as url,
        tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp,
    ):
        runner.up(Database(load_settings(database_url=url)))
        with psycopg.connect(url, autocommit=True) as conn:
            _setup(conn)
            _setup_own_accounts(conn)
        name_floor = (
            "UPDATE {} AS t SET company_id = k.company_id, company_id_source = 'db:name' "
            'FROM bench_hard_keys AS k WHERE t."客户名称" = k.name'
        )
        own_floors, own_walls, own_peaks = _pairs_of_runs(
            url,
            "bench_own",
            name_floor,
            lambda table: _timed_wdh(url, tmp, "resolve", "--table", f"public.{table}"),
        )
        hard_floors, hard_walls, hard_peaks = _pairs_of_runs(
            url,
            "bench_hard",
            "UPDATE {} AS t SET company_id = k.company_id, company_id_source = 'db:name' "
            'FROM bench_hard_keys AS k WHERE t."客户名称" = k.name',
            lambda table: _timed_wdh(url, tmp, "resolve", "--table", f"public.{table}"),
        )
        floors, walls, peaks = _pairs_of_runs(
            url,
            "bench_src",
            "UPDATE {} AS t SET company_id = k.company_id, company_id_source = 'db:name' "
            'FROM bench_keys AS k WHERE t."客户名称" = k.name',
            lambda table: _timed_wdh(url, tmp, "resolve", "--table", f"public.{table}"),
        )
        rewrite_floors, rewrite_walls, rewrite_peaks = _pairs_of_runs(
            url,
            "bench_temp_src",
            "UPDATE {} AS t SET company_id = k.company_id, company_id_source = k.source "
            "FROM bench_rewrite_keys AS k WHERE t.company_id = k.temp_id",
            lambda table: _timed_wdh(url, tmp, "rewrite", "--table", f"public.{table}"),
        )
    rows = f"{ROWS:,}"
    bare = "one bare UPDATE ... FROM join to a prepared name -> ID table"
    return [
        Figure(
            "tables",
            f"wdh resolve --table, own accounts: {rows} rows each its own account, "
            f"{HARD_NAMES:,} names (half cached), median of {RUNS}",
            statistics.median(own_walls),
            "s",
            bare,
            statistics.median(own_floors),
            note="aim: ratio <= 2 (issue 20: >= 0.5 of the floor)",
        ),
        Figure(
            "tables",
            "wdh resolve --table, own accounts, peak RSS",
            max(own_peaks),
            "MB",
            note="aim < 200 MB",
        ),
        Figure(
            "tables",
            f"wdh resolve --table, own accounts, half cached: the same, the cache holding "
            f"half the rows' accounts, median of {RUNS}",
            statistics.median(hard_walls),
            "s",
            bare,
            statistics.median(hard_floors),
            note="aim: ratio <= 2",
        ),
        Figure(
            "tables",
            "wdh resolve --table, own accounts, half cached, peak RSS",
            max(hard_peaks),
            "MB",
            note="aim < 200 MB",
        ),
        Figure(
            "tables",
            f"wdh resolve --table, repeating: {rows} rows, {NAMES:,} names (half cached), "
            f"median of {RUNS}",
            statistics.median(walls),
            "s",
            "one bare UPDATE ... FROM join to a prepared name -> ID table",
            statistics.median(floors),
            note="aim: ratio <= 2",
        ),
        Figure(
            "tables",
            "wdh resolve --table, repeating, peak RSS",
            max(peaks),
            "MB",
            note="aim < 200 MB",
        ),
        Figure(
            "tables",
            f"wdh rewrite --table, {REWRITE_ROWS:,} rows, median of {RUNS}",
            statistics.median(rewrite_walls),
            "s",
            "one bare UPDATE ... FROM join to the temp ID -> company table",
            statistics.median(rewrite_floors),
            note="aim: ratio <= 2",
        ),
        Figure(
            "tables", "wdh rewrite --table, peak RSS", max(rewrite_peaks), "MB", note="aim < 200 MB"
        ),
    ]
