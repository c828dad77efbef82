"""DAO: a comparable snapshot of the catalog (schemas, relations, columns, constraints, indexes)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from wdh_cli.db.sqlfiles import queries

Q = queries("catalog")


@dataclass(frozen=True)
class CatalogEntry:
    kind: str
    name: str
    definition: str


def snapshot(conn: psycopg.Connection, schemas: list[str] | None = None) -> list[CatalogEntry]:
    """Every object of `schemas` (default: all non-system schemas), sorted."""
    with conn.cursor(row_factory=class_row(CatalogEntry)) as cur:
        return cur.execute(Q["snapshot"], {"schemas": schemas}).fetchall()
