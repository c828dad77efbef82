"""Queue figures: enqueue latency and throughput; drain throughput vs a bare claim loop."""

from __future__ import annotations

import multiprocessing
import statistics
import time

import psycopg
from psycopg.types.json import Jsonb

from bench.common import Figure, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.migrate import runner
from wdh_cli.providers.base import Candidate
from wdh_cli.queue import repository
from wdh_cli.queue.drain import DrainOptions, drain

JOBS = 20_000

# The claim without the ledger read wdh's claim brings along: what a bare
# loop would send.
BARE_CLAIM = """
WITH ready AS (
    SELECT id FROM enterprise.enrichment_requests
    WHERE status = 'pending' AND next_retry_at <= now()
    ORDER BY next_retry_at, id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
UPDATE enterprise.enrichment_requests AS r
SET status = 'processing', claimed_at = now(), worker_id = %(worker_id)s, updated_at = now()
FROM ready
WHERE r.id = ready.id
RETURNING r.id, r.raw_name, r.normalized_name, r.temp_id, r.attempts
"""

BARE_DONE = """
UPDATE enterprise.enrichment_requests AS r
SET status = 'done', resolved_company_id = 'C', claimed_at = NULL, worker_id = NULL,
    updated_at = now()
FROM unnest(%(ids)s::integer[]) AS d (id)
WHERE r.id = d.id
"""

# The floor of a drain that resolves every job: a bare loop doing the same
# writes as the drain's record step, with nothing around them. Claim (one
# statement, in autocommit); then, in one transaction sent in one round trip:
# the ledger answer, the company (aliases merged), the name mapping, and the
# request closed. No advisory locks, no credit-code checks, no per-row
# figures, no handed-back or stale-row guards.
BARE_SAME_WRITES = (
    """
INSERT INTO enterprise.provider_answers
    (provider, normalized_name, outcome, company_id, candidates, asked_at)
SELECT 'bench', a.k, 'match', a.c, a.j, now()
FROM unnest(%(keys)s::text[], %(company_ids)s::text[], %(candidates)s::jsonb[]) AS a (k, c, j)
ON CONFLICT (provider, normalized_name) DO UPDATE
SET outcome = EXCLUDED.outcome, company_id = EXCLUDED.company_id,
    candidates = EXCLUDED.candidates, asked_at = EXCLUDED.asked_at
""",
    """
INSERT INTO enterprise.company_master (company_id, official_name, aliases, source)
SELECT a.c, min(a.n), array_agg(a.n), 'bench'
FROM unnest(%(company_ids)s::text[], %(raw_names)s::text[]) AS a (c, n)
GROUP BY a.c
ON CONFLICT (company_id) DO UPDATE
SET aliases = ARRAY(SELECT DISTINCT x FROM unnest(company_master.aliases || EXCLUDED.aliases) AS x),
    updated_at = now()
""",
    """
INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority, source)
SELECT a.k, a.c, 'name', 4, 'bench'
FROM unnest(%(keys)s::text[], %(company_ids)s::text[]) AS a (k, c)
ON CONFLICT (alias_name, match_type) DO NOTHING
""",
    """
UPDATE enterprise.enrichment_requests AS r
SET status = 'done', attempts = r.attempts + 1, last_error = NULL,
    resolved_company_id = d.c, resolved_source = 'bench',
    claimed_at = NULL, worker_id = NULL, updated_at = now()
FROM unnest(%(ids)s::integer[], %(company_ids)s::text[]) AS d (id, c)
WHERE r.id = d.id
""",
)


def _company_of(raw_name: str) -> str:
    return f"C{hash(raw_name) % 100_000}"


class InstantProvider:
    """Answers every name at once: the drain's own cost is what is measured."""

    name = "bench"
    calls = 0

    def search(self, raw_name: str) -> list[Candidate]:
        self.calls += 1
        return [Candidate(_company_of(raw_name), raw_name, None, "exact", 1.0)]

    def close(self) -> None:
        pass


def _fill(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE enterprise.enrichment_requests, enterprise.company_mapping,"
            " enterprise.provider_answers"
        )
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
    claim = BARE_CLAIM
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            with conn.transaction():
                ids = [row[0] for row in conn.execute(claim, {"batch": batch, "worker_id": "bare"})]
            if not ids:
                return
            with conn.transaction():
                conn.execute(BARE_DONE, {"ids": ids})


def _bare_same_worker(url: str, batch: int) -> None:
    """The drain's writes for every job resolved, as a bare SQL loop (the drain's floor)."""
    claim = BARE_CLAIM
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            jobs = conn.execute(claim, {"batch": batch, "worker_id": "bare"}).fetchall()
            if not jobs:
                return
            raw_names = [job[1] for job in jobs]
            company_ids = [_company_of(name) for name in raw_names]
            params = {
                "ids": [job[0] for job in jobs],
                "keys": [job[2] for job in jobs],
                "raw_names": raw_names,
                "company_ids": company_ids,
                # The same answer as the drain's ledger keeps (answers.py _item).
                "candidates": [
                    Jsonb(
                        [
                            {
                                "company_id": c,
                                "official_name": n,
                                "unified_credit_code": None,
                                "match_type": "exact",
                                "confidence": 1.0,
                            }
                        ]
                    )
                    for c, n in zip(company_ids, raw_names, strict=True)
                ],
            }
            with conn.pipeline(), conn.transaction():
                for statement in BARE_SAME_WRITES:
                    conn.execute(statement, params)


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
        # The figure: the drain, every job resolved, against the bare
        # loop doing the same writes; three interleaved pairs (the machine is
        # shared, so single runs are noisy), medians reported.
        pairs = [
            (_throughput(url, _wdh_worker, 1, 100), _throughput(url, _bare_same_worker, 1, 100))
            for _ in range(3)
        ]
        figures.append(
            Figure(
                "queue",
                f"drain --provider, {JOBS:,} names, batch 100 (median of 3)",
                statistics.median(p[0] for p in pairs),
                "jobs/s",
                "bare loop with the same writes",
                statistics.median(p[1] for p in pairs),
                note="aim: ratio >= 0.8; ratios of the pairs: "
                + ", ".join(f"{ours / bare:.2f}" for ours, bare in pairs),
            )
        )
        for workers in (1, 2):
            for batch in (10, 100):
                ours_rate = _throughput(url, _wdh_worker, workers, batch)
                no_match_rate = _throughput(url, _wdh_no_match_worker, workers, batch)
                bare_rate = _throughput(url, _bare_worker, workers, batch)
                same_rate = _throughput(url, _bare_same_worker, workers, batch)
                figures.append(
                    Figure(
                        "queue",
                        f"drain, {workers} worker(s), batch {batch}",
                        ours_rate,
                        "jobs/s",
                        "bare loop with the same writes",
                        same_rate,
                        note="every job resolved: ledger, company_master, company_mapping, outcome",
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
