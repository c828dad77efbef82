"""The queue on a real database: enqueue, claim, drain outcomes, stale rows, the claim plan."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.eqc_standin import EqcStandin, Reply
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.interrupts import StopFlag
from wdh_cli.names import normalize_name
from wdh_cli.providers.base import Candidate, ProviderAuthError, TransientProviderError
from wdh_cli.providers.eqc import EqcProvider
from wdh_cli.queue import repository, service
from wdh_cli.queue.drain import DrainOptions, drain

OPTIONS = DrainOptions.from_settings(load_settings(queue_backoff="60,300"), batch=10)


class CountingConnection:
    """Counts the statements a DAO function sends."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.statements = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return self.conn.execute(*args, **kwargs)


def _rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT normalized_name, status, attempts, last_error, resolved_company_id "
        "FROM enterprise.enrichment_requests ORDER BY id"
    ).fetchall()


def test_enqueue_a_batch_with_duplicates_in_one_statement(conn: psycopg.Connection) -> None:
    already = [f"公司{i}" for i in range(10)]
    repository.enqueue(conn, already, already, [None] * 10)
    raw = [f"公司{i % 60}" for i in range(100)]  # 60 distinct, 10 of them already pending
    spy = CountingConnection(conn)
    queued = repository.enqueue(spy, raw, [normalize_name(n) for n in raw], [None] * 100)  # type: ignore[arg-type]
    assert spy.statements == 1
    assert queued == 50
    count = conn.execute("SELECT count(*) FROM enterprise.enrichment_requests").fetchone()
    assert count == (60,)


def test_enqueue_service_skips_spellings_and_empty_names(db: Database) -> None:
    settings = load_settings(alias_salt="pepper")
    report = service.enqueue(
        db, settings, ["上海 某某 有限公司", "上海某某有限公司（已转出）", "  ", "乙公司"]
    )
    assert (report.queued, report.skipped) == (2, 2)
    again = service.enqueue(db, settings, ["上海某某有限公司", "丙公司"])
    assert (again.queued, again.skipped) == (1, 1)


def test_done_or_failed_names_can_be_queued_again(conn: psycopg.Connection) -> None:
    names = ["甲", "乙", "丙"]
    repository.enqueue(conn, names, names, [None] * 3)
    conn.execute("UPDATE enterprise.enrichment_requests SET status = 'done' WHERE raw_name = '甲'")
    conn.execute(
        "UPDATE enterprise.enrichment_requests SET status = 'failed' WHERE raw_name = '乙'"
    )
    # A resolve run leaves the failed name alone (it waits for a person or a retry)...
    assert repository.enqueue(conn, names, names, [None] * 3, skip_failed=True) == 1
    conn.execute(
        "DELETE FROM enterprise.enrichment_requests "
        "WHERE id = (SELECT max(id) FROM enterprise.enrichment_requests)"
    )
    # ...while `wdh queue enqueue` queues it again; 丙 is still pending.
    assert repository.enqueue(conn, names, names, [None] * 3) == 2


class FakeProvider:
    """An in-process provider with scripted answers."""

    name = "fake"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls = 0
        self.asked: list[str] = []

    def search(self, raw_name: str) -> list[Candidate]:
        self.calls += 1
        self.asked.append(raw_name)
        answer = self.answers.get(raw_name, [])
        if isinstance(answer, Exception):
            raise answer
        return list(answer)

    def close(self) -> None:
        pass


def _candidate(company_id: str, name: str, confidence: float = 1.0) -> Candidate:
    return Candidate(company_id, name, f"91{company_id}", "全称精确匹配", confidence)


def test_drain_records_done_no_match_and_low_confidence(
    db: Database, conn: psycopg.Connection
) -> None:
    names = ["上海某某有限公司", "无此公司", "模糊公司"]
    repository.enqueue(conn, names, names, ["IN1", "IN2", "IN3"])
    provider = FakeProvider(
        {
            "上海某某有限公司": [_candidate("614810477", "上海某某有限公司")],
            "模糊公司": [_candidate("1", "模糊公司", 0.6)],
        }
    )
    report = drain(db, provider, OPTIONS)
    assert (report.claimed, report.resolved, report.no_match, report.api_calls) == (3, 1, 2, 3)
    assert (report.lost, report.handed_back) == (0, 0)
    assert _rows(conn) == [
        ("上海某某有限公司", "done", 1, None, "614810477"),
        ("无此公司", "failed", 1, "no match", None),
        ("模糊公司", "failed", 1, "best confidence 0.60 below 0.80", None),
    ]
    master = conn.execute(
        "SELECT company_id, official_name, unified_credit_code, aliases, source "
        "FROM enterprise.company_master"
    ).fetchall()
    assert master == [
        ("614810477", "上海某某有限公司", "91614810477", ["上海某某有限公司"], "fake")
    ]
    mapping = conn.execute(
        "SELECT alias_name, canonical_id, match_type, priority, source "
        "FROM enterprise.company_mapping"
    ).fetchall()
    assert mapping == [("上海某某有限公司", "614810477", "name", 4, "fake")]


def test_a_known_company_gains_aliases_and_an_existing_mapping_wins(
    db: Database, conn: psycopg.Connection
) -> None:
    conn.execute(
        "INSERT INTO enterprise.company_master (company_id, official_name, aliases) "
        "VALUES ('614810477', '上海某某有限公司', ARRAY['旧名'])"
    )
    conn.execute(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES ('某某（上海）', 'MANUAL', 'name', 4)"
    )
    raw = ["上海 某某 有限公司", "某某(上海)"]
    repository.enqueue(conn, raw, [normalize_name(n) for n in raw], [None, None])
    hit = [_candidate("614810477", "上海某某有限公司")]
    drain(db, FakeProvider(dict.fromkeys(raw, hit)), OPTIONS)
    aliases = conn.execute("SELECT aliases FROM enterprise.company_master").fetchone()
    assert aliases == (["上海 某某 有限公司", "旧名", "某某(上海)"],)
    mappings = dict(
        conn.execute("SELECT alias_name, canonical_id FROM enterprise.company_mapping").fetchall()
    )
    assert mappings == {"上海某某有限公司": "614810477", "某某（上海）": "MANUAL"}


@pytest.fixture
def eqc() -> Iterator[EqcStandin]:
    with EqcStandin({"甲公司": ("600000001", "91A")}, token="s3cret") as server:
        yield server


def _eqc_client(eqc: EqcStandin, token: str = "s3cret") -> EqcProvider:
    return EqcProvider(
        base_url=eqc.url, token=token, timeout=2, rate_limit=1000, retries=1, sleep=lambda s: None
    )


def test_transient_errors_back_off_then_fail_after_max_attempts(
    db: Database, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    repository.enqueue(conn, ["甲公司"], ["甲公司"], [None])
    eqc.script("甲公司", *[Reply(status=500, body="x")] * 6)
    client = _eqc_client(eqc)
    for attempt, expected_delay in ((1, 60), (2, 300)):
        report = drain(db, client, OPTIONS)
        assert (report.retried, report.failed) == (1, 0)
        row = conn.execute(
            "SELECT status, attempts, last_error, "
            "round(extract(epoch FROM next_retry_at - updated_at)) "
            "FROM enterprise.enrichment_requests"
        ).fetchone()
        assert row == ("pending", attempt, "EQC HTTP 500 after 2 attempt(s)", expected_delay)
        assert drain(db, client, OPTIONS).claimed == 0  # not ready before its retry time
        conn.execute("UPDATE enterprise.enrichment_requests SET next_retry_at = now()")
    report = drain(db, client, OPTIONS)
    assert (report.retried, report.failed) == (0, 1)
    assert _rows(conn) == [
        ("甲公司", "failed", 3, "EQC HTTP 500 after 2 attempt(s) (attempt 3)", None)
    ]
    assert len(eqc.calls) == 6


def test_429_then_success(db: Database, conn: psycopg.Connection, eqc: EqcStandin) -> None:
    repository.enqueue(conn, ["甲公司"], ["甲公司"], [None])
    eqc.script("甲公司", Reply(status=429, body="{}", headers={"Retry-After": "1"}))
    report = drain(db, _eqc_client(eqc), OPTIONS)
    assert (report.resolved, report.api_calls) == (1, 1)
    assert _rows(conn) == [("甲公司", "done", 1, None, "600000001")]


def test_401_stops_the_drain_and_hands_rows_back(
    db: Database, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    names = ["甲公司", "乙公司", "丙公司"]
    repository.enqueue(conn, names, names, [None] * 3)
    with pytest.raises(ProviderAuthError, match="WDH_EQC_TOKEN") as caught:
        drain(db, _eqc_client(eqc, token="expired-token"), OPTIONS)
    assert "expired-token" not in caught.value.message
    assert [(r[1], r[2]) for r in _rows(conn)] == [("pending", 0)] * 3
    assert len(eqc.calls) == 1


def test_a_stop_request_hands_back_unasked_rows(db: Database, conn: psycopg.Connection) -> None:
    names = [f"公司{i}" for i in range(5)]
    repository.enqueue(conn, names, names, [None] * 5)
    stop = StopFlag()

    class StopsAfterTwo(FakeProvider):
        def search(self, raw_name: str) -> list[Candidate]:
            if self.calls == 1:
                stop.request("SIGTERM")
            return super().search(raw_name)

    report = drain(db, StopsAfterTwo({}), OPTIONS, stop=stop)
    assert (report.claimed, report.no_match, report.handed_back) == (5, 2, 3)
    assert report.stopped_by == "SIGTERM"
    statuses = [(r[1], r[2]) for r in _rows(conn)]
    assert statuses == [("failed", 1)] * 2 + [("pending", 0)] * 3


def test_stale_rows_are_taken_back_and_a_late_worker_records_nothing(
    db: Database, conn: psycopg.Connection
) -> None:
    names = ["甲公司", "乙公司"]
    repository.enqueue(conn, names, names, [None, None])
    with conn.transaction():
        jobs = repository.claim(conn, 10, "dead-worker")
    assert len(jobs) == 2
    conn.execute("UPDATE enterprise.enrichment_requests SET claimed_at = now() - interval '1 hour'")

    hit = [_candidate("600000001", "x")]
    report = drain(db, FakeProvider(dict.fromkeys(names, hit)), OPTIONS)
    assert (report.reclaimed, report.resolved) == (2, 2)

    late = [repository.Outcome(job.id, "failed", 1, "late") for job in jobs]
    with conn.transaction():
        assert repository.record_outcomes(conn, late, "dead-worker", "eqc") == 0
    assert [r[1] for r in _rows(conn)] == ["done", "done"]


def test_plan_only_claims_nothing(db: Database, conn: psycopg.Connection) -> None:
    from wdh_cli.queue.drain import plan

    repository.enqueue(conn, ["甲", "乙"], ["甲", "乙"], [None, None])
    report = plan(db, DrainOptions.from_settings(load_settings(), limit=1))
    assert (report.claimed, report.plan_only) == (1, True)
    assert [r[1] for r in _rows(conn)] == ["pending", "pending"]


def test_retry_resolved_and_purge(db: Database, conn: psycopg.Connection) -> None:
    repository.enqueue(conn, ["甲", "乙", "丙"], ["甲", "乙", "丙"], ["IN1", "IN2", "IN3"])
    conn.execute(
        "UPDATE enterprise.enrichment_requests SET status = 'failed', attempts = 3 "
        "WHERE raw_name IN ('甲', '乙')"
    )
    repository.enqueue(conn, ["乙"], ["乙"], [None])  # 乙 is open again: its failed row stays
    assert service.retry(db, None).retried == 1
    conn.execute(
        "UPDATE enterprise.enrichment_requests SET status = 'done', resolved_company_id = 'C3', "
        "updated_at = now() - interval '40 days' WHERE raw_name = '丙'"
    )
    [row] = service.resolved(db, None)
    assert (row.temp_id, row.raw_name, row.resolved_company_id) == ("IN3", "丙", "C3")
    assert service.purge_done(db, 50).purged == 0
    assert service.purge_done(db, 30).purged == 1
    statuses = dict(
        conn.execute("SELECT raw_name || attempts, status FROM enterprise.enrichment_requests")
    )
    assert statuses == {"甲0": "pending", "乙3": "failed", "乙0": "pending"}


def test_status_counts(db: Database, conn: psycopg.Connection) -> None:
    repository.enqueue(conn, ["甲", "乙"], ["甲", "乙"], [None, None])
    conn.execute(
        "UPDATE enterprise.enrichment_requests SET status = 'failed', last_error = 'no match' "
        "WHERE raw_name = '乙'"
    )
    report = service.status(db, load_settings())
    c = report
    assert (c.pending, c.processing, c.done, c.failed, c.ready) == (1, 0, 0, 1, 1)
    assert c.oldest_pending_seconds is not None and c.oldest_pending_seconds >= 0
    assert [(e.error, e.rows) for e in report.errors] == [("no match", 1)]


def test_the_claim_uses_the_ready_index_on_100k_rows(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, status) "
        "SELECT 'n' || g, 'n' || g, CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'done' END "
        "FROM generate_series(1, 100000) AS g"
    )
    conn.execute("ANALYZE enterprise.enrichment_requests")
    from wdh_cli.db.sqlfiles import queries

    plan = conn.execute(
        "EXPLAIN (FORMAT JSON) " + queries("queue")["claim"],
        {"batch": 50, "worker_id": "w", "provider": "eqc", "ttl": 3600},
    ).fetchone()
    assert plan is not None
    text = json.dumps(plan[0])
    assert "idx_enrichment_requests_ready" in text
    assert '"Node Type": "Seq Scan"' not in text


def test_outcomes_for_rows_taken_over_meanwhile_are_counted_as_lost(
    db: Database, conn: psycopg.Connection
) -> None:
    names = ["甲公司", "乙公司"]
    repository.enqueue(conn, names, names, [None, None])

    class TakenOver(FakeProvider):
        def search(self, raw_name: str) -> list[Candidate]:
            if raw_name == "甲公司":  # another worker took this row back as stale
                conn.execute(
                    "UPDATE enterprise.enrichment_requests SET worker_id = 'other' "
                    "WHERE raw_name = '甲公司'"
                )
            return super().search(raw_name)

    hit = [_candidate("600000001", "x")]
    report = drain(db, TakenOver(dict.fromkeys(names, hit)), OPTIONS)
    assert (report.resolved, report.lost) == (2, 1)
    statuses = dict(conn.execute("SELECT raw_name, status FROM enterprise.enrichment_requests"))
    assert statuses == {"甲公司": "processing", "乙公司": "done"}


def test_retry_failed_keeps_a_persons_none_and_retry_by_id_does_not(
    db: Database, conn: psycopg.Connection
) -> None:
    repository.enqueue(conn, ["甲", "乙"], ["甲", "乙"], [None, None])
    conn.execute(
        "UPDATE enterprise.enrichment_requests SET status = 'failed', "
        "last_error = CASE raw_name WHEN '甲' THEN 'review: no company' ELSE 'no match' END"
    )
    assert service.retry(db, None).retried == 1  # only 乙
    [(decided,)] = conn.execute(
        "SELECT id FROM enterprise.enrichment_requests WHERE raw_name = '甲' AND status = 'failed'"
    ).fetchall()
    assert service.retry(db, [decided]).retried == 1  # named: retried all the same


class SharedProvider:
    """A provider safe to share between worker threads, answering after `delay` seconds."""

    name = "fake"

    def __init__(self, answers: dict[str, Any], delay: float = 0.01) -> None:
        self.answers = answers
        self.delay = delay
        self.calls = 0
        self.asked: list[str] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def search(self, raw_name: str) -> list[Candidate]:
        with self._lock:
            self.calls += 1
            self.asked.append(raw_name)
            self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        answer = self.answers.get(raw_name, [])
        if isinstance(answer, Exception):
            raise answer
        return list(answer)

    def close(self) -> None:
        pass


def _queue(conn: psycopg.Connection, count: int) -> list[str]:
    names = [f"公司{i:03d}" for i in range(count)]
    repository.enqueue(conn, names, names, [None] * count)
    return names


def _statuses(conn: psycopg.Connection) -> Counter[str]:
    return Counter(s for (s,) in conn.execute("SELECT status FROM enterprise.enrichment_requests"))


def _concurrent(workers: int, batch: int, **options: Any) -> DrainOptions:
    return DrainOptions.from_settings(
        load_settings(queue_backoff="60"), batch=batch, concurrency=workers, **options
    )


def test_workers_share_the_queue_and_their_figures_add_up(
    db: Database, conn: psycopg.Connection
) -> None:
    names = _queue(conn, 60)
    answers: dict[str, Any] = {}
    for i, name in enumerate(names):
        if i % 3 == 0:
            answers[name] = [_candidate(f"6{i:08d}", name)]
        elif i % 3 == 1:
            answers[name] = TransientProviderError("EQC HTTP 503 after 3 attempt(s)")
    provider = SharedProvider(answers)  # the rest: no match
    report = drain(db, provider, _concurrent(4, 5))
    assert len(provider.threads) > 1  # the work was shared
    assert Counter(provider.asked) == Counter(names)  # every name asked exactly once
    figures = (report.claimed, report.resolved, report.retried, report.no_match, report.failed)
    assert figures == (60, 20, 20, 20, 0)
    assert (report.api_calls, report.handed_back, report.lost) == (60, 0, 0)
    assert report.concurrency == 4
    assert _statuses(conn) == Counter({"done": 20, "pending": 20, "failed": 20})
    mapped = conn.execute("SELECT count(*) FROM enterprise.company_mapping").fetchone()
    assert mapped == (20,)


@pytest.mark.parametrize("limit", [7, 37])
def test_the_limit_holds_for_all_workers_together(
    db: Database, conn: psycopg.Connection, limit: int
) -> None:
    names = _queue(conn, 100)
    hit = {name: [_candidate("600000001", name)] for name in names}
    provider = SharedProvider(hit)
    report = drain(db, provider, _concurrent(4, 5, limit=limit))
    assert (report.claimed, report.resolved, report.api_calls) == (limit, limit, limit)
    assert len(set(provider.asked)) == len(provider.asked) == limit
    assert _statuses(conn) == Counter({"done": limit, "pending": 100 - limit})


def test_a_stop_reaches_every_worker(db: Database, conn: psycopg.Connection) -> None:
    _queue(conn, 40)
    stop = StopFlag()

    class StopsAfterSix(SharedProvider):
        def search(self, raw_name: str) -> list[Candidate]:
            if self.calls >= 6:
                stop.request("SIGTERM")
            return super().search(raw_name)

    provider = StopsAfterSix({}, delay=0.05)
    report = drain(db, provider, _concurrent(4, 10), stop=stop)
    assert report.stopped_by == "SIGTERM"
    assert report.no_match == provider.calls < 40
    assert report.no_match + report.handed_back == report.claimed
    statuses = _statuses(conn)
    assert statuses == Counter({"failed": provider.calls, "pending": 40 - provider.calls})
    attempts = conn.execute(
        "SELECT DISTINCT attempts FROM enterprise.enrichment_requests WHERE status = 'pending'"
    ).fetchall()
    assert attempts == [(0,)]


def test_a_401_in_one_worker_stops_them_all_and_is_raised(
    db: Database, conn: psycopg.Connection
) -> None:
    names = _queue(conn, 40)
    refused = ProviderAuthError("EQC refused the token (HTTP 401): set a valid WDH_EQC_TOKEN")
    provider = SharedProvider({names[6]: refused}, delay=0.05)
    with pytest.raises(ProviderAuthError, match="WDH_EQC_TOKEN"):
        drain(db, provider, _concurrent(4, 5))
    statuses = _statuses(conn)
    assert statuses["processing"] == 0
    assert statuses["failed"] == provider.calls - 1  # every other name asked was recorded
    assert provider.calls < 40  # the others stopped claiming
    attempts = conn.execute(
        "SELECT DISTINCT attempts FROM enterprise.enrichment_requests WHERE status = 'pending'"
    ).fetchall()
    assert attempts == [(0,)]


def _written(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """What the record step writes, without timestamps or serial IDs of new rows."""
    return {
        "answers": conn.execute(
            "SELECT provider, normalized_name, outcome, company_id, candidates::text,"
            " asked_at = now() FROM enterprise.provider_answers ORDER BY 1, 2"
        ).fetchall(),
        "companies": conn.execute(
            "SELECT company_id, official_name, unified_credit_code, aliases, source,"
            " updated_at = now() FROM enterprise.company_master ORDER BY 1"
        ).fetchall(),
        "mappings": conn.execute(
            "SELECT alias_name, canonical_id, match_type, priority, source"
            " FROM enterprise.company_mapping ORDER BY 1, 3"
        ).fetchall(),
        "requests": conn.execute(
            "SELECT id, status, attempts, last_error, resolved_company_id, resolved_source,"
            " next_retry_at - now(), claimed_at, worker_id, updated_at = now()"
            " FROM enterprise.enrichment_requests ORDER BY id"
        ).fetchall(),
    }


def test_record_batch_writes_what_the_tables_owners_write(conn: psycopg.Connection) -> None:
    """The drain's one-statement record step stands in for four owners' statements:
    on the same batch both ways leave the same rows (a guard against the copies drifting)."""
    from wdh_cli.companies import service as companies
    from wdh_cli.companies.repository import Learned, lock
    from wdh_cli.ledger import repository as ledger
    from wdh_cli.ledger.answers import answer_of
    from wdh_cli.queue.repository import Outcome

    # What is stored before: a company with a credit code and an alias, a
    # name mapped to another company, an old ledger answer.
    companies.remember(conn, [Learned("旧", "旧", "C1", "公司一", "91A")], "eqc")
    conn.execute(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type,"
        " priority, source) VALUES ('乙', 'C9', 'name', 4, 'internal')"
    )
    ledger.remember(conn, "eqc", [answer_of("eqc", "甲", [], 0.8)])
    names = ["甲", "乙", "丙", "丁", "戊", "己"]
    repository.enqueue(conn, names, names, [None] * len(names))
    jobs = repository.claim(conn, 10, "w")
    conn.execute(
        "UPDATE enterprise.enrichment_requests SET last_error = 'before' WHERE id = %s",
        [jobs[4].id],
    )
    ids = [job.id for job in jobs]
    hit = Candidate("C1", "公司一", "91A", "exact", 1.0)
    answers = [
        answer_of("eqc", "甲", [hit], 0.8),  # replaces the old answer
        answer_of("eqc", "乙", [Candidate("C2", "公司二", "91A", "exact", 1.0)], 0.8),
        answer_of("eqc", "丙", [Candidate("C3", "公司三", "91C", "exact", 1.0)], 0.8),
        answer_of("eqc", "丙", [Candidate("C3", "公司三", "91C", "exact", 1.0)], 0.8),
        answer_of("eqc", "丁", [], 0.8),
    ]
    learned = [
        Learned("甲", "甲", "C1", "公司一", "91A"),  # known company: gains an alias
        Learned("乙", "乙", "C2", "公司二", "91A"),  # code held by C1; name mapped to C9
        Learned("丙", "丙", "C3", "公司三", "91C"),  # two companies of the batch claim 91C
        Learned("丙 ", "丙", "C4", "公司四", "91C"),  # a later row of the same key
    ]
    outcomes = [
        Outcome(ids[0], "done", 1, company_id="C1"),
        Outcome(ids[1], "done", 1, company_id="C2"),
        Outcome(ids[2], "done", 1, company_id="C3"),
        Outcome(ids[3], "failed", 1, error="no match"),
        Outcome(ids[4], "pending", 0),  # handed back: keeps its error
        Outcome(ids[5], "pending", 1, error="timeout", retry_in=60.0),
    ]

    def by_owners() -> int:
        ledger.remember(conn, "eqc", answers)
        companies.remember(conn, learned, "eqc")
        return repository.record_outcomes(conn, outcomes, "w", "eqc")

    def in_one_statement() -> int:
        lock(conn, learned)
        return repository.record_batch(conn, outcomes, answers, learned, "w", "eqc")

    results = []
    for record in (by_owners, in_one_statement):
        with conn.transaction(force_rollback=True):
            held = record()
            results.append((held, _written(conn)))
    assert results[0] == results[1]
    assert results[0][0] == 6


def test_the_claim_brings_what_the_ledger_read_would(conn: psycopg.Connection) -> None:
    """claim_with_answers stands in for ledger.fresh: same answers, per provider and TTL."""
    from wdh_cli.ledger import repository as ledger
    from wdh_cli.ledger.answers import answer_of

    hit = Candidate("C1", "公司一", "91A", "exact", 1.0)
    ledger.remember(conn, "eqc", [answer_of("eqc", "甲", [hit], 0.8)])
    ledger.remember(conn, "eqc", [answer_of("eqc", "乙", [], 0.8)])
    ledger.remember(conn, "directory", [answer_of("directory", "丙", [hit], 0.8)])
    conn.execute("UPDATE enterprise.provider_answers SET asked_at = now() - interval '2 hours'")
    ledger.remember(conn, "eqc", [answer_of("eqc", "丁", [hit], 0.8)])  # asked just now
    names = ["甲", "乙", "丙", "丁", "戊"]
    for provider, ttl in (("eqc", 3 * 3600), ("eqc", 3600), ("eqc", 0), ("directory", 3 * 3600)):
        with conn.transaction(force_rollback=True):
            repository.enqueue(conn, names, names, [None] * len(names))
            jobs, answers = repository.claim_with_answers(conn, 10, "w", provider, ttl)
            assert sorted(job.normalized_name for job in jobs) == sorted(names)
            assert answers == ledger.fresh(conn, provider, names, ttl)
    with conn.transaction(force_rollback=True):
        repository.enqueue(conn, names, names, [None] * len(names))
        jobs, answers = repository.claim_with_answers(conn, 10, "w", "eqc", 3 * 3600)
        assert sorted(answers) == ["丁", "乙", "甲"]
        assert answers["甲"].company_id == "C1" and answers["乙"].outcome == "no_match"


def test_an_unvetted_company_from_a_provider_is_a_broken_answer(
    db: Database, conn: psycopg.Connection
) -> None:
    """wdh's providers vet what they parse; the drain does not rely on it alone:
    an accepted company that cannot be stored is retried as a broken answer and
    never reaches the ledger, company_master or company_mapping."""
    names = ["好公司", "临时公司", "过长公司"]
    repository.enqueue(conn, names, names, [None] * 3)
    provider = FakeProvider(
        {
            "好公司": [_candidate("600000001", "好公司")],
            "临时公司": [_candidate("TEMP_000001", "临时公司")],
            "过长公司": [_candidate("9" * 130, "过长公司")],
        }
    )
    report = drain(db, provider, OPTIONS)
    assert (report.resolved, report.retried, report.failed) == (1, 2, 0)
    rows = {row[0]: row[1:] for row in _rows(conn)}
    assert rows["好公司"] == ("done", 1, None, "600000001")
    assert rows["临时公司"][:2] == ("pending", 1)
    assert rows["临时公司"][2] == (
        "the provider answered with a company that cannot be stored: "
        "TEMP_000001 is a temporary ID, not a company"
    )
    assert "longer than 100 characters (130)" in rows["过长公司"][2]
    ledger = conn.execute("SELECT normalized_name FROM enterprise.provider_answers").fetchall()
    assert ledger == [("好公司",)]


def test_a_row_whose_answer_the_database_refuses_fails_alone(
    db: Database, conn: psycopg.Connection
) -> None:
    """A suggestion holding NUL reaches the record step (a provider that did not vet
    it): PostgreSQL's JSON refuses it (22P05). The batch is recorded in halves until
    that row stands alone; it fails with the reason, the others are recorded."""
    names = _queue(conn, 9)
    answers: dict[str, Any] = {
        name: [_candidate(f"6{i:08d}", name)] for i, name in enumerate(names)
    }
    answers[names[5]] = [_candidate("600000005", names[5]), _candidate("7", "某\x00", 0.5)]
    spy = SharedProvider(answers)
    report = drain(db, spy, _concurrent(2, 50))
    assert (report.claimed, report.resolved, report.failed, report.lost) == (9, 8, 1, 0)
    rows = {row[0]: row[1:] for row in _rows(conn)}
    status, attempts, error, company = rows[names[5]]
    assert (status, attempts, company) == ("failed", 1, None)
    assert error.startswith("its answer could not be recorded: database error [22P05]")
    assert sum(1 for row in rows.values() if row[0] == "done") == 8
    ledger = conn.execute("SELECT count(*) FROM enterprise.provider_answers").fetchone()
    assert ledger == (8,)


def test_rows_a_dead_worker_leaves_waiting_are_handed_back(
    db: Database, conn: psycopg.Connection
) -> None:
    """A worker that dies of a bug (not a provider error) hands its row back; the
    rows of its batch nobody asked are recorded after it, handed back too."""
    _queue(conn, 5)

    class Broken(FakeProvider):
        def search(self, raw_name: str) -> list[Candidate]:
            raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        drain(db, Broken({}), OPTIONS)
    assert _statuses(conn) == Counter({"pending": 5})
    assert {row[2] for row in _rows(conn)} == {0}
