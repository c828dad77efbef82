"""`wdh queue drain` processes against one database and the EQC stand-in."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest

from tests.eqc_standin import EqcStandin
from tests.helpers import WDH, run_wdh, wdh_env
from wdh_cli.queue import repository

pytestmark = pytest.mark.e2e
TOKEN = "tok-7f3a9c-secret"


@pytest.fixture
def eqc() -> Iterator[EqcStandin]:
    companies = {f"公司{i:04d}": (f"6{i:08d}", f"91{i:016d}") for i in range(2000)}
    with EqcStandin(companies, token=TOKEN) as server:
        yield server


def _env(db_url: str, eqc: EqcStandin, **extra: str) -> dict[str, str]:
    return wdh_env(
        WDH_DATABASE_URL=db_url,
        WDH_EQC_BASE_URL=eqc.url,
        WDH_EQC_TOKEN=TOKEN,
        WDH_EQC_RATE_LIMIT="1000000",
        WDH_PROVIDER="eqc",
        **extra,
    )


def _enqueue(conn: psycopg.Connection, count: int) -> list[str]:
    names = [f"公司{i:04d}" for i in range(count)]
    repository.enqueue(conn, names, names, [None] * count)
    return names


def _statuses(conn: psycopg.Connection) -> Counter[str]:
    rows = conn.execute("SELECT status FROM enterprise.enrichment_requests").fetchall()
    return Counter(status for (status,) in rows)


def _drain(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [WDH, "queue", "drain", "--json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_calls(eqc: EqcStandin, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(eqc.calls) < count:
        assert time.monotonic() < deadline, f"expected {count} provider calls"
        time.sleep(0.02)


def test_four_drains_resolve_every_row_exactly_once(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    names = _enqueue(conn, 2000)
    eqc.delay = 0.005
    workers = [_drain(_env(db_url, eqc), "--batch", "25") for _ in range(4)]
    results = [worker.communicate(timeout=240) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [err for _, err in results]

    reports = [json.loads(out) for out, _ in results]
    assert sum(r["claimed"] for r in reports) == 2000
    assert sum(r["resolved"] for r in reports) == 2000
    assert sum(1 for r in reports if r["claimed"] > 0) >= 2  # the work was shared
    asked = Counter(eqc.keys())
    assert set(asked) == set(names) and max(asked.values()) == 1  # each name asked once
    assert _statuses(conn) == Counter({"done": 2000})
    cached = conn.execute(
        "SELECT count(*) FROM enterprise.company_mapping WHERE match_type = 'name'"
    ).fetchone()
    assert cached == (2000,)


def test_a_killed_drain_leaves_rows_that_the_next_drain_takes_back(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    _enqueue(conn, 10)
    eqc.delay = 0.3
    env = _env(db_url, eqc, WDH_QUEUE_STALE_AFTER="1")
    victim = _drain(env, "--batch", "10")
    _wait_for_calls(eqc, 2)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert _statuses(conn) == Counter({"processing": 10})

    time.sleep(1.5)  # past WDH_QUEUE_STALE_AFTER
    eqc.delay = 0.0
    result = run_wdh("queue", "drain", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["reclaimed"], report["resolved"]) == (10, 10)
    assert _statuses(conn) == Counter({"done": 10})


def test_sigterm_stops_after_the_current_name_and_hands_back_the_rest(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    _enqueue(conn, 10)
    eqc.delay = 0.3
    worker = _drain(_env(db_url, eqc), "--batch", "10")
    _wait_for_calls(eqc, 2)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    report = json.loads(out)
    asked = len(eqc.calls)
    assert report["resolved"] == asked and report["handed_back"] == 10 - asked
    assert "stopped by SIGTERM" in err
    assert _statuses(conn) == Counter({"done": asked, "pending": 10 - asked})
    attempts = conn.execute(
        "SELECT DISTINCT attempts FROM enterprise.enrichment_requests WHERE status = 'pending'"
    ).fetchall()
    assert attempts == [(0,)]


def test_a_cut_connection_exits_1_and_the_rows_come_back_after_the_stale_time(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    _enqueue(conn, 5)
    eqc.delay = 0.3
    env = _env(db_url, eqc, WDH_QUEUE_STALE_AFTER="1")
    worker = _drain(env, "--batch", "5")
    _wait_for_calls(eqc, 1)
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE 'wdh queue drain%%'"
    )
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "connection" in lines[0], err
    assert _statuses(conn) == Counter({"processing": 5})

    time.sleep(1.5)
    eqc.delay = 0.0
    result = run_wdh("queue", "drain", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert _statuses(conn) == Counter({"done": 5})


def test_401_exits_1_without_printing_the_token(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    _enqueue(conn, 3)
    env = _env(db_url, eqc)
    env["WDH_EQC_TOKEN"] = "wrong-token-9d8e7f"
    result = run_wdh("-v", "queue", "drain", "--json", env=env)
    assert result.returncode == 1
    assert "WDH_EQC_TOKEN" in result.stderr
    assert "wrong-token-9d8e7f" not in result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert "公司" not in result.stderr  # no names in messages or logs
    assert _statuses(conn) == Counter({"pending": 3})
    assert len(eqc.calls) == 1


def test_follow_waits_for_new_work_until_stopped(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    worker = _drain(_env(db_url, eqc, WDH_QUEUE_POLL_INTERVAL="1"), "--follow")
    time.sleep(1.5)  # idle, polling
    assert worker.poll() is None
    _enqueue(conn, 3)
    deadline = time.monotonic() + 30
    while _statuses(conn) != Counter({"done": 3}):
        assert time.monotonic() < deadline, "the following drain should pick up new rows"
        time.sleep(0.1)
    worker.send_signal(signal.SIGINT)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert json.loads(out)["resolved"] == 3


def test_a_living_drain_keeps_its_claims_however_slow_the_provider(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    # One batch of 12 names at 0.4 s each takes about 5 s: more than twice the
    # stale time of 2 s. Without a heartbeat the second drain would take the
    # first one's rows back as stale and ask (and pay for) them again.
    names = _enqueue(conn, 24)
    eqc.delay = 0.4
    env = _env(db_url, eqc, WDH_QUEUE_STALE_AFTER="2")
    workers = [_drain(env, "--batch", "12") for _ in range(2)]
    results = [worker.communicate(timeout=120) for worker in workers]
    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
    reports = [json.loads(out) for out, _ in results]
    assert sum(r["reclaimed"] for r in reports) == 0
    assert sum(r["lost"] for r in reports) == 0
    assert sum(r["resolved"] for r in reports) == len(names)
    assert Counter(eqc.keys()) == dict.fromkeys(names, 1)
    assert _statuses(conn) == {"done": len(names)}


def test_a_dead_drains_rows_are_still_taken_back(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    names = _enqueue(conn, 6)
    eqc.delay = 1.0
    env = _env(db_url, eqc, WDH_QUEUE_STALE_AFTER="2")
    dying = _drain(env, "--batch", "6")
    _wait_for_calls(eqc, 1)
    dying.kill()  # no heartbeat any more
    dying.communicate(timeout=30)
    time.sleep(2.5)
    eqc.delay = 0.0
    survivor = run_wdh("queue", "drain", "--json", env=env)
    assert survivor.returncode == 0, survivor.stderr
    assert json.loads(survivor.stdout)["reclaimed"] == len(names)
    assert _statuses(conn) == {"done": len(names)}


def test_sigterm_stops_every_worker_and_the_figures_add_up(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    _enqueue(conn, 80)
    eqc.delay = 0.3
    worker = _drain(_env(db_url, eqc), "--concurrency", "4", "--batch", "10")
    _wait_for_calls(eqc, 6)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    report = json.loads(out)
    assert report["concurrency"] == 4 and report["claimed"] > 0
    assert report["resolved"] + report["handed_back"] == report["claimed"]
    assert report["resolved"] == len(eqc.calls) < 80  # each stopped after its current name
    assert "stopped by SIGTERM" in err
    assert _statuses(conn) == Counter({"done": len(eqc.calls), "pending": 80 - len(eqc.calls)})
    attempts = conn.execute(
        "SELECT DISTINCT attempts FROM enterprise.enrichment_requests WHERE status = 'pending'"
    ).fetchall()
    assert attempts == [(0,)]


def test_401_with_workers_exits_1_with_one_message_and_hands_every_row_back(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    _enqueue(conn, 40)
    eqc.delay = 0.1  # the workers' first requests are all out before the first 401 is back
    env = _env(db_url, eqc)
    env["WDH_EQC_TOKEN"] = "wrong-token-9d8e7f"
    result = run_wdh("queue", "drain", "--json", "--concurrency", "4", "--batch", "5", env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "WDH_EQC_TOKEN" in errors[0], result.stderr
    assert "wrong-token-9d8e7f" not in result.stdout + result.stderr
    assert _statuses(conn) == Counter({"pending": 40})
    attempts = conn.execute(
        "SELECT DISTINCT attempts FROM enterprise.enrichment_requests"
    ).fetchall()
    assert attempts == [(0,)]
    assert 1 <= len(eqc.calls) <= 4  # at most one request per worker


def test_a_cut_connection_in_one_worker_exits_1_with_one_line_and_no_hang(
    db_url: str, conn: psycopg.Connection, eqc: EqcStandin
) -> None:
    _enqueue(conn, 80)
    eqc.delay = 0.3
    worker = _drain(_env(db_url, eqc), "--concurrency", "4", "--batch", "10")
    deadline = time.monotonic() + 30
    while _statuses(conn)["processing"] < 40:  # every worker holds a batch
        assert time.monotonic() < deadline, "the four workers should each claim a batch"
        time.sleep(0.02)
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE 'wdh queue drain%%' "
        "LIMIT 1"
    )
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "connection" in lines[0], err
    statuses = _statuses(conn)
    # The cut worker's batch waits for the stale time; every other row is done or
    # handed back, and each name asked by a healthy worker was recorded. The cut
    # worker asked between none and all of its 10 names before it met the cut
    # connection (its ledger read right after the claim may meet it first).
    assert statuses["processing"] == 10
    assert statuses["done"] + statuses["pending"] == 70
    assert statuses["done"] <= len(eqc.calls) <= statuses["done"] + 10
