"""company_master written by several sessions at once (the workers of a drain, other drains)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from wdh_cli.companies import service as companies
from wdh_cli.companies.repository import Learned

SESSIONS = 6
ROUNDS = 30


def _race(db_url: str, learned_by: Callable[[int, int], Learned]) -> list[Exception]:
    """Every session records learned_by(session, round) at the same moment, round after round."""
    barrier = threading.Barrier(SESSIONS)
    errors: list[Exception] = []

    def session(number: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            for round_ in range(ROUNDS):
                barrier.wait(timeout=30)
                try:
                    with conn.pipeline(), conn.transaction():
                        companies.remember(conn, [learned_by(number, round_)], "test")
                except psycopg.Error as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_sessions_learning_the_same_company_at_once_merge_their_aliases(
    db_url: str, conn: psycopg.Connection
) -> None:
    def learned(session: int, round_: int) -> Learned:
        alias = f"名{session}-{round_}"
        return Learned(alias, alias, f"C{round_}", f"公司{round_}", f"91{round_:016d}")

    assert _race(db_url, learned) == []
    rows = conn.execute(
        "SELECT company_id, unified_credit_code, cardinality(aliases) "
        "FROM enterprise.company_master ORDER BY company_id"
    ).fetchall()
    assert sorted(rows) == sorted((f"C{r}", f"91{r:016d}", SESSIONS) for r in range(ROUNDS))


def test_sessions_learning_companies_that_share_a_credit_code_keep_it_once(
    db_url: str, conn: psycopg.Connection
) -> None:
    def learned(session: int, round_: int) -> Learned:
        alias = f"名{session}-{round_}"
        return Learned(alias, alias, f"C{session}-{round_}", alias, f"91{round_:016d}")

    assert _race(db_url, learned) == []
    codes = conn.execute(
        "SELECT count(*), count(unified_credit_code), count(DISTINCT unified_credit_code) "
        "FROM enterprise.company_master"
    ).fetchone()
    assert codes == (SESSIONS * ROUNDS, ROUNDS, ROUNDS)  # one holder per code
