"""DAO for enterprise.provider_answers, its owner. Callers own transactions.

The drain's `claim` and `record_batch` and the re-key (sql/queries/names.sql)
also reach into it, each for a reason given in docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from wdh_cli.db.sqlfiles import queries
from wdh_cli.ledger.answers import Answer

Q = queries("ledger")


def fresh(
    conn: psycopg.Connection, provider: str, keys: Sequence[str], ttl: int
) -> dict[str, Answer]:
    """The provider's answers younger than `ttl` seconds, by normalized name."""
    if not keys or ttl <= 0:
        return {}
    params = {"provider": provider, "keys": list(keys), "ttl": ttl}
    with conn.cursor(row_factory=class_row(Answer)) as cur:
        return {a.normalized_name: a for a in cur.execute(Q["fresh_answers"], params)}


def remember(conn: psycopg.Connection, provider: str, answers: Sequence[Answer]) -> None:
    """Insert or refresh answers (one statement; nothing read back, so it pipelines)."""
    if not answers:
        return
    conn.execute(
        Q["remember"],
        {
            "provider": provider,
            "keys": [a.normalized_name for a in answers],
            "outcomes": [a.outcome for a in answers],
            "company_ids": [a.company_id for a in answers],
            "candidates": [Jsonb(a.candidates) for a in answers],
        },
    )


def forget(conn: psycopg.Connection, keys: Sequence[str]) -> int:
    """Drop every provider's answers for these names; returns how many."""
    if not keys:
        return 0
    return conn.execute(Q["forget"], {"keys": list(keys)}).rowcount


def latest(conn: psycopg.Connection, keys: Sequence[str]) -> dict[str, Answer]:
    """Each name's newest answer, whichever provider gave it (for a review)."""
    if not keys:
        return {}
    with conn.cursor(row_factory=class_row(Answer)) as cur:
        return {
            a.normalized_name: a for a in cur.execute(Q["latest_candidates"], {"keys": list(keys)})
        }
