"""DAO of the resolve engine's work tables (sql/queries/resolution.sql).

Keys and learned keys go to the session in CSV made by the columnar engine
(one COPY, no Python object per key), and cache hits come back the same
way. Functions take the caller's connection and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from wdh_cli.db.copy import copy_in, copy_out
from wdh_cli.db.sqlfiles import queries

Q = queries("resolution")


def create_keys(conn: psycopg.Connection) -> None:
    """An empty wdh_keys for this session."""
    conn.execute(Q["create_keys"])


def send_keys(conn: psycopg.Connection, csv: bytes) -> None:
    """(match_type, key) rows (CSV, no header) into wdh_keys."""
    copy_in(conn, Q["copy_keys"], csv)


def cache_hits(conn: psycopg.Connection) -> bytes:
    """(match_type, key, canonical_id, priority) of every stored key of wdh_keys, as CSV."""
    conn.execute(Q["analyze_keys"])
    return copy_out(conn, Q["cache_hits"])


def level_size(conn: psycopg.Connection, types: Sequence[str], cap: int) -> int:
    """Mappings of these match types, counted up to `cap`."""
    row = conn.execute(Q["level_size"], {"types": list(types), "cap": cap}).fetchone()
    return int(row[0]) if row else 0


def level_mappings(conn: psycopg.Connection, types: Sequence[str]) -> bytes:
    """(match_type, alias_name, canonical_id, priority) of every mapping of these types, as CSV."""
    statement = sql.SQL(Q["level_mappings"]).format(types=sql.Literal(list(types)))
    return copy_out(conn, statement)


def create_learned(conn: psycopg.Connection) -> None:
    """An empty wdh_learned for this session (what backflow writes)."""
    conn.execute(Q["create_learned"])


def send_learned(conn: psycopg.Connection, csv: bytes) -> None:
    """wdh_learned holds these (alias_name, canonical_id, match_type, priority, rows) rows."""
    create_learned(conn)
    copy_in(conn, Q["copy_learned"], csv)
