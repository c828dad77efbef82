"""The review's reads of the queue and the mappings. Callers own the transactions.

The review writes through the owners of each table: companies, mappings
and queue repositories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from wdh_cli.db.sqlfiles import queries
from wdh_cli.queue.repository import REVIEW_NO_COMPANY

Q = queries("review")


@dataclass(frozen=True)
class ReviewRequest:
    """A failed request a person should decide."""

    id: int
    raw_name: str
    normalized_name: str
    temp_id: str | None
    rows_seen: int
    last_error: str | None


@dataclass(frozen=True)
class Target:
    """A request a review file decides, as stored now (found = False: no such row)."""

    id: int
    found: bool
    issued: bool  # the id was handed out once (a missing row was purged)
    status: str | None
    raw_name: str | None
    normalized_name: str | None
    last_error: str | None
    mapped_to: str | None  # the company the name is mapped to now, if any


def requests_to_review(
    conn: psycopg.Connection, *, include_none: bool, limit: int | None
) -> list[ReviewRequest]:
    """Failed requests, most rows held back first; `include_none`: also those decided `none`."""
    params = {"include_none": include_none, "no_company": REVIEW_NO_COMPANY, "limit": limit}
    with conn.cursor(row_factory=class_row(ReviewRequest)) as cur:
        return cur.execute(Q["requests_to_review"], params).fetchall()


def targets(conn: psycopg.Connection, ids: Sequence[int], match_type: str) -> dict[int, Target]:
    """The requests of these ids, locked until the transaction ends, with their name's mapping."""
    if not ids:
        return {}
    params = {"ids": list(ids), "match_type": match_type}
    with conn.cursor(row_factory=class_row(Target)) as cur:
        return {t.id: t for t in cur.execute(Q["review_targets"], params)}
