"""`wdh migrate verify`: does the live database match what the applied migrations define?

The expected catalog is not written down twice: the applied migrations are
replayed into a scratch ("shadow") database on the same server, and the two
catalogs are compared object by object.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import ClassVar, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from wdh_cli.db import Database
from wdh_cli.db.errors import translate
from wdh_cli.errors import CheckFailed, MigrationError
from wdh_cli.migrate import history
from wdh_cli.migrate.catalog import CatalogEntry, snapshot
from wdh_cli.migrate.files import discover
from wdh_cli.migrate.plan import APPLIED_STATES, compute_status, consistency_problems

HISTORY_SCHEMA = "wdh"


@dataclass(frozen=True)
class Difference:
    kind: str
    name: str
    problem: Literal["missing", "unexpected", "different"]
    expected: str | None
    actual: str | None

    def describe(self) -> str:
        if self.problem == "missing":
            return f"{self.kind} {self.name} is missing (expected: {self.expected or 'present'})"
        if self.problem == "unexpected":
            return f"{self.kind} {self.name} is not defined by any migration ({self.actual})"
        return f"{self.kind} {self.name}: expected {self.expected}, found {self.actual}"


@dataclass(frozen=True)
class VerifyReport:
    """`wdh migrate verify`: every difference; ok when there is none."""

    differences: list[Difference]
    json_properties: ClassVar[tuple[str, ...]] = ("ok",)

    @property
    def ok(self) -> bool:
        return not self.differences


def compare(expected: list[CatalogEntry], actual: list[CatalogEntry]) -> list[Difference]:
    """Differences between two snapshots, keyed by (kind, name)."""
    want = {(e.kind, e.name): e.definition for e in expected}
    have = {(e.kind, e.name): e.definition for e in actual}
    differences = []
    for key in sorted(want.keys() | have.keys()):
        kind, name = key
        if key not in have:
            differences.append(Difference(kind, name, "missing", want[key], None))
        elif key not in want:
            differences.append(Difference(kind, name, "unexpected", None, have[key]))
        elif want[key] != have[key]:
            differences.append(Difference(kind, name, "different", want[key], have[key]))
    return differences


def verify(db: Database) -> list[Difference]:
    """Replay the applied (and baselined) migrations into a shadow database and diff the catalogs.

    An edited or removed migration file is a failed check (exit 3) rather than
    an error: the files no longer say what was applied, so there is nothing
    to replay until the file is restored or `wdh migrate repair` records it.
    """
    files = discover()
    with db.connect(autocommit=True) as conn:
        statuses = compute_status(files, history.applied(conn))
        problems = consistency_problems(statuses)
        if problems:
            raise CheckFailed("cannot verify: " + "; ".join(problems))
        applied = {s.version for s in statuses if s.state in APPLIED_STATES}
        expected = _expected_catalog(db, conn, [m.up_sql for m in files if m.version in applied])
        schemas = sorted({e.name for e in expected if e.kind == "schema"})
        actual = snapshot(conn, schemas) if schemas else []
    return compare(expected, actual)


def _expected_catalog(
    db: Database, conn: psycopg.Connection, scripts: list[str]
) -> list[CatalogEntry]:
    shadow = f"wdh_verify_{secrets.token_hex(6)}"
    try:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(shadow)))
    except psycopg.Error as exc:
        raise MigrationError(
            "migrate verify needs to create a scratch database on the server: "
            + translate(exc, target="").message
        ) from exc
    try:
        with psycopg.connect(make_conninfo(db.conninfo, dbname=shadow), autocommit=True) as scratch:
            for script in scripts:
                scratch.execute(script)
            entries = snapshot(scratch)
    finally:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(shadow))
        )
    # public exists in every new database; it is only expected when a migration uses it.
    return [
        e
        for e in entries
        if e.name.split(".")[0] != HISTORY_SCHEMA
        and not (e.kind == "schema" and e.name == "public" and _empty(entries, "public"))
    ]


def _empty(entries: list[CatalogEntry], schema: str) -> bool:
    return not any(e.kind != "schema" and e.name.startswith(schema + ".") for e in entries)
