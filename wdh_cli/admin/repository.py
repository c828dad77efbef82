"""DAO of `wdh db grant`: roles, the schema owner, and the GRANT statements."""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from wdh_cli.db.sqlfiles import queries

Q = queries("grants")

# In the order they run: schemas before the objects in them.
GRANT_STATEMENTS = (
    "grant_schemas",
    "grant_tables",
    "grant_sequences",
    "grant_history",
    "default_tables",
    "default_sequences",
)

_COMMENT_LINE = re.compile(r"^\s*--.*\n?", re.M)


def role_exists(conn: psycopg.Connection, role: str) -> bool:
    row = conn.execute(Q["role_exists"], {"role": role}).fetchone()
    return bool(row and row[0])


def grant_targets(conn: psycopg.Connection) -> tuple[str | None, bool]:
    """The owner of schema enterprise (None if missing), and whether the history exists."""
    row = conn.execute(Q["grant_targets"]).fetchone()
    assert row is not None, "a SELECT without FROM returns one row"
    return row[0], bool(row[1])


def grant_statements(role: str, owner: str) -> list[sql.Composed]:
    """The GRANTs for `role`, identifiers quoted by psycopg (comments left out)."""
    names = {"role": sql.Identifier(role), "owner": sql.Identifier(owner)}
    return [
        sql.SQL(_COMMENT_LINE.sub("", Q[name]).strip()).format(**names) for name in GRANT_STATEMENTS
    ]


def execute(conn: psycopg.Connection, statement: sql.Composed) -> None:
    conn.execute(statement)
