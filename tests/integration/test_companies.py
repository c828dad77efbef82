"""company_master written by several sessions at once (the workers of a drain, other drains),
through its owner (as resolve writes) and through the drain's one-statement record step."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from wdh_cli.companies import repository as company_repository
from wdh_cli.companies import service as companies
from wdh_cli.companies.repository import Learned
from wdh_cli.queue import repository as queue_repository

SESSIONS = 6
ROUNDS = 30


def _owners(conn: psycopg.Connection, learned: list[Learned]) -> None:
    """How resolve records what it learned: the tables' owners, statement by statement."""
    companies.remember(conn, learned, "test")


def _drain(conn: psycopg.Connection, learned: list[Learned]) -> None:
    """How a drain records it: the locks, then every write in one statement."""
    company_repository.lock(conn, learned)
    queue_repository.record_batch(conn, [], [], learned, "worker", "test")


WRITERS = pytest.mark.parametrize("write", [_owners, _drain], ids=["owners", "drain"])


def _race(
    db_url: str,
    learned_by: Callable[[int, int], Learned],
    write: Callable[[psycopg.Connection, list[Learned]], None],
) -> list[Exception]:
    """Every session records learned_by(session, round) at the same moment, round after round."""
    barrier = threading.Barrier(SESSIONS)
    errors: list[Exception] = []

    def session(number: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            for round_ in range(ROUNDS):
                barrier.wait(timeout=30)
                try:
                    with conn.pipeline(), conn.transaction():
                        write(conn, [learned_by(number, round_)])
                except psycopg.Error as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@WRITERS
def test_sessions_learning_the_same_company_at_once_merge_their_aliases(
    db_url: str,
    conn: psycopg.Connection,
    write: Callable[[psycopg.Connection, list[Learned]], None],
) -> None:
    def learned(session: int, round_: int) -> Learned:
        alias = f"名{session}-{round_}"
        return Learned(alias, alias, f"C{round_}", f"公司{round_}", f"91{round_:016d}")

    assert _race(db_url, learned, write) == []
    rows = conn.execute(
        "SELECT company_id, unified_credit_code, cardinality(aliases) "
        "FROM enterprise.company_master ORDER BY company_id"
    ).fetchall()
    assert sorted(rows) == sorted((f"C{r}", f"91{r:016d}", SESSIONS) for r in range(ROUNDS))


@WRITERS
def test_sessions_learning_companies_that_share_a_credit_code_keep_it_once(
    db_url: str,
    conn: psycopg.Connection,
    write: Callable[[psycopg.Connection, list[Learned]], None],
) -> None:
    def learned(session: int, round_: int) -> Learned:
        alias = f"名{session}-{round_}"
        return Learned(alias, alias, f"C{session}-{round_}", alias, f"91{round_:016d}")

    assert _race(db_url, learned, write) == []
    codes = conn.execute(
        "SELECT count(*), count(unified_credit_code), count(DISTINCT unified_credit_code) "
        "FROM enterprise.company_master"
    ).fetchone()
    assert codes == (SESSIONS * ROUNDS, ROUNDS, ROUNDS)  # one holder per code
