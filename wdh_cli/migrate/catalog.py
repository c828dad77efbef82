"""DAO: a comparable snapshot of the catalog (schemas, relations, columns, constraints, indexes)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from wdh_cli.db.sqlfiles import queries
from wdh_cli.migrate.objects import DbObject

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


def existing(conn: psycopg.Connection, objects: list[DbObject]) -> list[DbObject]:
    """Those of `objects` that exist in the database, in the given order."""
    schemas = [o.name for o in objects if o.is_schema]
    relations = [o.name for o in objects if not o.is_schema]
    rows = conn.execute(Q["existing_objects"], {"schemas": schemas, "relations": relations})
    found = {(kind == "schema", name) for kind, name in rows.fetchall()}
    return [o for o in objects if (o.is_schema, o.name) in found]
