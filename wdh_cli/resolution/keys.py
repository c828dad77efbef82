"""The levels as the native engines see them: key columns, candidates, sources.

A run's per-row work happens in native code: polars for files and frames
(`wdh_cli/resolution/frame.py`), SQL for tables (`wdh_cli/warehouse/rows.py`,
`sql/queries/resolve_table.sql`). Both read the level table through one
`KeyPlan`, and both rank a row's hits by the same *candidate* strings, so the
two cannot disagree on which hit wins (docs/architecture.md, "The resolve
engine").

A candidate is one level's answer for one key, written so that the smallest
string (compared byte by byte: polars, and SQL under COLLATE "C") is the
winner among a row's hits:

    YAML override    "0" + LL + company_id
    cache hit        "1" + PPPP + LL + F + company_id

LL is the level's priority (two digits), PPPP the stored priority of the
mapping (four digits; a learned key's is its level's priority), F is "0"
for a mapping stored before the run started and "1" for a key the run
learned from its own existing IDs. Overrides beat the cache; in the cache the
lowest stored priority wins, then the level's. (engine.md's last tie-break,
the smaller company ID, never arises: a row has one key per level, and a key
one mapping.)
"""

from __future__ import annotations

from dataclasses import dataclass

from wdh_cli.mappings import levels
from wdh_cli.mappings.rows import MAX_ALIAS

# What str.strip() removes: every character Python calls whitespace. Native
# code trims key cells with exactly this set (polars strip_chars, SQL btrim),
# so a key is the same string whichever engine made it. Written out: working
# it out over every code point took 0.3 s of each run's start
# (tests/unit/test_keys.py checks it against Python's own).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

MAX_KEY = MAX_ALIAS  # company_mapping.alias_name: longer keys are neither looked up nor cached

YAML = "0"
CACHE = "1"
STORED = "0"
LEARNED = "1"
YAML_ID_AT = 3  # where the company ID starts in a YAML candidate
CACHE_ID_AT = 8  # ... and in a cache candidate
EXISTING_FIELD = "existing"  # the row field of the existing company ID column


def storable(key: str) -> bool:
    """A key company_mapping can hold: not empty, within the column, no NUL character."""
    return bool(key) and len(key) <= MAX_KEY and "\x00" not in key


def yaml_candidate(level_priority: int, company_id: str) -> str:
    return f"{YAML}{level_priority:02d}{company_id}"


def cache_candidate(stored_priority: int, level_priority: int, company_id: str) -> str:
    return f"{CACHE}{stored_priority:04d}{level_priority:02d}{STORED}{company_id}"


def learned_candidate(level_priority: int, company_id: str) -> str:
    return f"{CACHE}{level_priority:04d}{level_priority:02d}{LEARNED}{company_id}"


@dataclass(frozen=True)
class KeyColumn:
    """A key computed from one row field: `k0`, `k1`, ... in native frames and SQL."""

    name: str
    field: str
    trimmed: bool  # trimmed text; otherwise the name form (normalize_name, per distinct name)


@dataclass(frozen=True)
class NativeLevel:
    match_type: str
    priority: int
    column: KeyColumn
    backflows: bool

    @property
    def code(self) -> str:
        """The two digits a candidate carries for this level."""
        return f"{self.priority:02d}"


class KeyPlan:
    """The level table (`wdh_cli.mappings.levels.LEVELS`, read when the plan is made)
    laid out for native code: its key columns, and the source each level gives."""

    def __init__(self) -> None:
        table = levels.LEVELS
        columns: list[KeyColumn] = []
        for field, form in table.key_columns:
            if form is not levels.trimmed and form is not table[levels.NAME].key_form:
                raise NotImplementedError(
                    f"a key form other than trimmed text or the name form ({form.__name__}) "
                    "has no native implementation"
                )
            columns.append(KeyColumn(f"k{len(columns)}", field, form is levels.trimmed))
        self.columns = tuple(columns)
        self.levels = tuple(
            NativeLevel(level.match_type, level.priority, columns[at], level.backflows)
            for level, at in zip(table, table.column_of, strict=True)
        )
        if any(not 1 <= level.priority <= 99 for level in self.levels):
            raise NotImplementedError("a candidate holds a level priority of two digits")
        self.name_level = next(level for level in self.levels if level.match_type == levels.NAME)
        self.name_column = self.name_level.column
        if self.name_column.trimmed:
            raise NotImplementedError("the name level is keyed by normalize_name")
        self.fields = tuple(dict.fromkeys([*(c.field for c in columns), EXISTING_FIELD]))
        self.match_types = table.match_types

    def level(self, match_type: str) -> NativeLevel:
        return next(level for level in self.levels if level.match_type == match_type)

    @property
    def backflow_levels(self) -> tuple[NativeLevel, ...]:
        return tuple(level for level in self.levels if level.backflows)
