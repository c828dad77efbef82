"""Which schemas and relations a migration's up SQL creates and drops, read from its text (pure).

Two questions need the answer without running anything: which objects would
the pending migrations create (`wdh migrate up` refuses to adopt ones that
already exist), and which objects must the applied migrations have left
behind (`wdh db check` looks them up in the catalog, a cheap query, where
`wdh migrate verify` replays everything).

The reading is statement-shaped, not a SQL parser: `CREATE [UNIQUE] INDEX`,
`CREATE TABLE`, `CREATE SCHEMA`, `CREATE SEQUENCE`, `CREATE [MATERIALIZED]
VIEW` (with or without `IF NOT EXISTS`) and the matching `DROP`s, outside
`--` comments, with unquoted names as wdh's migrations write them. Columns,
constraints and renames are left to `wdh migrate verify`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_COMMENT = re.compile(r"--[^\n]*")
_NAME = r"[a-z_][a-z0-9_$]*(?:\.[a-z_][a-z0-9_$]*)?"
_KIND = r"SCHEMA|TABLE|INDEX|SEQUENCE|VIEW|MATERIALIZED\s+VIEW"
_CREATE = re.compile(
    rf"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+)?(?P<kind>{_KIND})\s+"
    rf"(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})"
    rf"(?:\s+ON\s+(?:ONLY\s+)?(?P<table>{_NAME}))?",
    re.IGNORECASE,
)
_DROP = re.compile(
    rf"\bDROP\s+(?P<kind>{_KIND})\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?(?P<name>{_NAME})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DbObject:
    """A schema, or a relation (table, index, sequence, view) by its qualified name."""

    kind: str  # schema, table, index, sequence, view, materialized view
    name: str

    @property
    def is_schema(self) -> bool:
        return self.kind == "schema"

    @property
    def schema(self) -> str:
        return self.name if self.is_schema else self.name.partition(".")[0]

    def describe(self) -> str:
        return f"{self.kind} {self.name}"


def _kind(text: str) -> str:
    return " ".join(text.lower().split())


def created(sql: str) -> list[DbObject]:
    """Objects the SQL creates, in order. An index lives in its table's schema."""
    found = []
    for match in _CREATE.finditer(_COMMENT.sub("", sql)):
        kind, name = _kind(match["kind"]), match["name"].lower()
        if name == "on":  # CREATE INDEX ON t (...): a nameless index, nothing to look up
            continue
        if kind == "index" and "." not in name and match["table"] and "." in match["table"]:
            name = f"{match['table'].lower().partition('.')[0]}.{name}"
        found.append(DbObject(kind, name))
    return found


def dropped(sql: str) -> list[DbObject]:
    """Objects the SQL drops, in order."""
    return [
        DbObject(_kind(m["kind"]), m["name"].lower()) for m in _DROP.finditer(_COMMENT.sub("", sql))
    ]


def left_by(scripts: Iterable[str]) -> list[DbObject]:
    """What running the scripts in order leaves: created, minus what a later script dropped."""
    objects: dict[str, DbObject] = {}
    for sql in scripts:
        for obj in created(sql):
            objects.setdefault(obj.describe(), obj)
        for gone in dropped(sql):
            for key, obj in list(objects.items()):
                same = obj.name == gone.name and obj.is_schema == gone.is_schema
                if same or (gone.is_schema and obj.schema == gone.name):
                    del objects[key]
    return list(objects.values())
