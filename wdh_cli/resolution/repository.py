"""DAO of the resolve engine's work tables (sql/queries/resolution.sql).

Keys and learned keys go to the session in CSV made by the columnar engine
(one COPY, no Python object per key), and cache hits come back the same
way. Functions take the caller's connection and never commit.
"""

from __future__ import annotations

import psycopg

from wdh_cli.db.sqlfiles import queries

Q = queries("resolution")


def send_keys(conn: psycopg.Connection, csv: bytes) -> None:
    """wdh_keys holds these (match_type, key) rows (CSV, no header), and nothing else."""
    conn.execute(Q["create_keys"])
    _copy_in(conn, Q["copy_keys"], csv)
    conn.execute(Q["analyze_keys"])


def cache_hits(conn: psycopg.Connection) -> bytes:
    """(match_type, key, canonical_id, priority) of every stored key of wdh_keys, as CSV."""
    return _copy_out(conn, Q["cache_hits"])


def send_learned(conn: psycopg.Connection, csv: bytes) -> None:
    """wdh_learned holds these (alias_name, canonical_id, match_type, priority, rows) rows."""
    conn.execute(Q["create_learned"])
    _copy_in(conn, Q["copy_learned"], csv)


def _copy_in(conn: psycopg.Connection, statement: str, data: bytes) -> None:
    with conn.cursor().copy(statement) as copy:
        copy.write(data)


def _copy_out(conn: psycopg.Connection, statement: str) -> bytes:
    chunks: list[bytes] = []
    with conn.cursor().copy(statement) as copy:
        for chunk in copy:
            chunks.append(bytes(chunk))
    return b"".join(chunks)
