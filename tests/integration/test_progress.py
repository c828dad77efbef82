"""What the services tell a progress bar: (done, total) with the totals each command counts
(docs/commands.md, "Progress bars"), on a real database."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import psycopg

from tests.helpers import DIRECTORY, request
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.interrupts import StopFlag
from wdh_cli.mappings import service as mappings
from wdh_cli.providers.names import ProviderName
from wdh_cli.queue import drain
from wdh_cli.queue import service as queue
from wdh_cli.review import service as review
from wdh_cli.review.sheet import PROGRESS_EVERY
from wdh_cli.warehouse.repository import TableRef
from wdh_cli.warehouse.rewrite import rewrite_table


class Calls(list[tuple[int, int | None]]):
    """Every (done, total) a service reported, in order; thread-safe as the drain needs."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int | None) -> None:
        with self._lock:
            self.append((done, total))

    def check_sensible(self) -> None:
        """It starts at 0, done never goes back, never passes the total, and ends at it."""
        assert self, "no progress was reported"
        assert self[0][0] == 0
        dones = [done for done, _ in self]
        assert dones == sorted(dones)
        assert all(total is None or done <= total for done, total in self)
        assert self[-1][0] == self[-1][1]


def test_mappings_load_counts_the_bytes_of_its_files(db: Database, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["alias_name", "canonical_id", "match_type"])
        writer.writerows((f"公司{i}", f"{600000000 + i}", "name") for i in range(20_000))
    overrides = tmp_path / "company_id_overrides_plan.yml"
    overrides.write_text("P0190: '614810477'\nP0191: '608349737'\n", encoding="utf-8")
    small = tmp_path / "small.csv"
    small.write_text("alias_name,canonical_id,match_type\nA1,614810477,account\n", "utf-8")
    total = sum(path.stat().st_size for path in (big, overrides, small))

    calls = Calls()
    report = mappings.load(
        db,
        [big, overrides, small],
        mode="append",
        source="test",
        default_dir=tmp_path,
        progress=calls,
    )
    assert report.read == 20_003
    calls.check_sensible()
    assert {t for _, t in calls} == {total}
    # The big file is reported as it is read (every 4,096 rows), not only once it ends.
    assert len([d for d, _ in calls if 0 < d < big.stat().st_size]) >= 3
    assert (big.stat().st_size, total) in calls  # each file counts whole once it is read


def test_review_export_counts_the_requests_written(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    count = 2 * PROGRESS_EVERY + 50
    for number in range(count):
        request(conn, f"公司{number}", rows_seen=number)
    for suffix in ("xlsx", "csv"):
        calls = Calls()
        report = review.export(
            db, tmp_path / f"r.{suffix}", limit=None, include_none=False, progress=calls
        )
        assert report.exported == count
        assert calls == [(0, count), (200, count), (400, count), (count, count)]


def test_a_drain_counts_the_names_ready_when_it_started(db: Database, db_url: str) -> None:
    settings = load_settings(
        database_url=db_url, alias_salt="pepper", directory_path=str(DIRECTORY)
    )
    names = [f"测试公司{i}" for i in range(25)]
    queue.enqueue(db, settings, names)
    options = drain.DrainOptions.from_settings(settings, batch=10, limit=None)

    calls = Calls()
    report = drain.run(settings, db, ProviderName.directory, options, progress=calls)
    assert report.claimed == 25
    calls.check_sensible()
    assert calls == [(0, 25), (10, 25), (20, 25), (25, 25)]

    queue.enqueue(db, settings, [f"另一公司{i}" for i in range(25)])
    limited = drain.DrainOptions.from_settings(settings, batch=10, limit=12)
    calls = Calls()
    drain.run(settings, db, ProviderName.directory, limited, progress=calls)
    assert calls == [(0, 12), (10, 12), (12, 12)]  # --limit bounds the total


def test_a_following_drain_has_no_total(db: Database, db_url: str) -> None:
    settings = load_settings(
        database_url=db_url, alias_salt="pepper", directory_path=str(DIRECTORY)
    )
    queue.enqueue(db, settings, [f"测试公司{i}" for i in range(5)])
    options = drain.DrainOptions.from_settings(settings, batch=10, follow=True)
    stop = StopFlag()
    calls = Calls()

    def stop_once_recorded(done: int, total: int | None) -> None:
        calls(done, total)
        if done == 5:
            stop.request("test")

    drain.run(settings, db, ProviderName.directory, options, stop=stop, progress=stop_once_recorded)
    assert calls == [(0, None), (5, None)]


def _table(conn: psycopg.Connection, rows: int, *, analyzed: bool) -> None:
    conn.execute(
        "CREATE TABLE rows_to_fix (company_id text, company_id_source text, filler text) "
        "WITH (autovacuum_enabled = false)"
    )
    conn.execute(
        "INSERT INTO rows_to_fix SELECT 'IN' || lpad(n::text, 16, '0'), 'temp', "
        "repeat('x', 40) FROM generate_series(1, %s) AS n",
        [rows],
    )
    if analyzed:
        conn.execute("ANALYZE rows_to_fix")


def test_rewrite_counts_rows_by_the_planners_estimate(
    db: Database, conn: psycopg.Connection
) -> None:
    _table(conn, 20_000, analyzed=True)
    calls = Calls()
    report = rewrite_table(db, TableRef.parse("rows_to_fix"), batch=2_000, progress=calls)
    calls.check_sensible()
    assert {t for _, t in calls} == {20_000}  # ANALYZE saw every row: the estimate is exact
    assert len(calls) == report.batches + 1


def test_rewrite_of_a_table_never_analyzed_counts_a_hundred_rows_a_page(
    db: Database, conn: psycopg.Connection
) -> None:
    _table(conn, 5_000, analyzed=False)
    pages = conn.execute("SELECT pg_relation_size('rows_to_fix') / 8192").fetchone()
    assert pages is not None
    calls = Calls()
    rewrite_table(db, TableRef.parse("rows_to_fix"), batch=1_000, progress=calls)
    calls.check_sensible()
    assert {t for _, t in calls} == {100 * pages[0]}
