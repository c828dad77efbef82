"""Queue figures: enqueue latency and throughput; drain throughput vs a bare claim loop."""

from __future__ import annotations

import multiprocessing
import statistics
import time

import psycopg

from bench.common import Figure, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.db.sqlfiles import queries
from wdh_cli.migrate import runner
from wdh_cli.providers.base import Candidate
from wdh_cli.queue import repository
from wdh_cli.queue.drain import DrainOptions, drain

JOBS = 20_000

BARE_DONE = """
UPDATE enterprise.enrichment_requests AS r
SET status = 'done', resolved_company_id = 'C', claimed_at = NULL, worker_id = NULL,
    updated_at = now()
FROM unnest(%(ids)s::integer[]) AS d (id)
WHERE r.id = d.id
"""


class InstantProvider:
    """Answers every name at once: the drain's own cost is what is measured."""

    name = "bench"
    calls = 0

    def search(self, raw_name: str) -> list[Candidate]:
        self.calls += 1
        return [Candidate(f"C{hash(raw_name) % 100_000}", raw_name, None, "exact", 1.0)]

    def close(self) -> None:
        pass


def _fill(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE enterprise.enrichment_requests, enterprise.company_mapping")
        conn.execute("TRUNCATE enterprise.company_master")
        names = [f"公司{i}" for i in range(JOBS)]
        repository.enqueue(conn, names, names, [None] * JOBS)
        conn.execute("VACUUM ANALYZE enterprise.enrichment_requests")


class NoMatchProvider(InstantProvider):
    """Finds nothing: isolates the queue's own cost from recording what was learned."""

    def search(self, raw_name: str) -> list[Candidate]:
        self.calls += 1
        return []


def _wdh_worker(url: str, batch: int) -> None:
    db = Database(load_settings(database_url=url))
    drain(db, InstantProvider(), DrainOptions.from_settings(load_settings(), batch=batch))


def _wdh_no_match_worker(url: str, batch: int) -> None:
    db = Database(load_settings(database_url=url))
    drain(db, NoMatchProvider(), DrainOptions.from_settings(load_settings(), batch=batch))


def _bare_worker(url: str, batch: int) -> None:
    claim = queries("queue")["claim"]
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            with conn.transaction():
                ids = [row[0] for row in conn.execute(claim, {"batch": batch, "worker_id": "bare"})]
            if not ids:
                return
            with conn.transaction():
                conn.execute(BARE_DONE, {"ids": ids})


def _throughput(url: str, target: object, workers: int, batch: int) -> float:
    _fill(url)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=target, args=(url, batch)) for _ in range(workers)]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - start
    with psycopg.connect(url) as conn:
        finished = conn.execute(
            "SELECT count(*) FROM enterprise.enrichment_requests WHERE status IN ('done', 'failed')"
        ).fetchone()
    assert finished == (JOBS,), finished
    return JOBS / elapsed


def run(base_url: str) -> list[Figure]:
    figures: list[Figure] = []
    with scratch_database(base_url, "wdh_bench_queue") as url:
        runner.up(Database(load_settings(database_url=url)))
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE bare_insert (name text)")
            conn.commit()
            ours, bare = [], []
            for run_no in range(60):
                names = [f"名{run_no}-{i}" for i in range(100)]
                start = time.perf_counter()
                repository.enqueue(conn, names, names, [None] * 100)
                conn.commit()
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                conn.execute("INSERT INTO bare_insert SELECT unnest(%s::text[])", [names])
                conn.commit()
                bare.append(time.perf_counter() - start)
            figures.append(
                Figure(
                    "queue",
                    "enqueue 100 names + commit (median)",
                    statistics.median(ours) * 1000,
                    "ms",
                    "bare INSERT of 100 rows + commit",
                    statistics.median(bare) * 1000,
                    note="aim < 5 ms; floor 1.8 ms",
                )
            )
            start = time.perf_counter()
            for run_no in range(50):
                names = [f"批{run_no}-{i}" for i in range(1000)]
                repository.enqueue(conn, names, names, [None] * 1000)
                conn.commit()
            figures.append(
                Figure(
                    "queue",
                    "enqueue throughput, batches of 1,000",
                    50_000 / (time.perf_counter() - start),
                    "names/s",
                )
            )
        for workers in (1, 2):
            for batch in (10, 100):
                ours_rate = _throughput(url, _wdh_worker, workers, batch)
                no_match_rate = _throughput(url, _wdh_no_match_worker, workers, batch)
                bare_rate = _throughput(url, _bare_worker, workers, batch)
                figures.append(
                    Figure(
                        "queue",
                        f"drain, {workers} worker(s), batch {batch}",
                        ours_rate,
                        "jobs/s",
                        "bare claim + mark-done loop",
                        bare_rate,
                        note="every job resolved: also writes company_master and company_mapping",
                    )
                )
                figures.append(
                    Figure(
                        "queue",
                        f"drain, {workers} worker(s), batch {batch}, no matches",
                        no_match_rate,
                        "jobs/s",
                        "bare claim + mark-done loop",
                        bare_rate,
                        note="the queue's own cost; aim: ratio >= 0.7",
                    )
                )
    return figures
