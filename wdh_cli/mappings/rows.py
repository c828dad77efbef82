"""Mapping rows read from files, their validation, and the columns' limits."""

from __future__ import annotations

from typing import NamedTuple

from wdh_cli.companies.ids import company_id_problem
from wdh_cli.mappings import levels
from wdh_cli.mappings.levels import LevelTable
from wdh_cli.reports import Rejected

# Column lengths of enterprise.company_mapping (VARCHAR, in characters);
# canonical_id's (MAX_COMPANY_ID) is part of the company-ID rule, companies/ids.py.
MAX_ALIAS = 255
MAX_SOURCE = 50

DEFAULT_SOURCE = "internal"


class MappingRow(NamedTuple):
    """One mapping read from a file, with where it came from.

    A NamedTuple rather than a dataclass: a million-row load creates a million
    of them, and tuple construction is several times cheaper.
    """

    alias_name: str
    canonical_id: str
    match_type: str
    priority: int
    source: str | None  # None: the load's --source
    file: str
    line: int


class RowChecker:
    """Turns raw fields into a MappingRow, or says why not: the hot path of loads.

    Set up once per file from a level table (the current `levels.LEVELS` by
    default), so each row costs one call with plain arguments and a few dict
    and string operations.
    """

    def __init__(self, table: LevelTable | None = None) -> None:
        self._table = table if table is not None else levels.LEVELS
        self._levels = {level.match_type: (level.key_form, level.priority) for level in self._table}
        self._low, self._high = self._table.lowest_priority, self._table.highest_priority

    def check(
        self,
        alias: str,
        company_id: str,
        match_type: str,
        priority: str | None,
        source: str | None,
        file: str,
        line: int,
    ) -> MappingRow | Rejected:
        """`priority` and `source` as read (None: no such column; empty: the default)."""
        level = self._levels.get(match_type)
        if level is None:
            match_type = match_type.strip()
            level = self._levels.get(match_type)
            if level is None:
                expected = self._table.describe()
                return Rejected(
                    file, line, f"unknown match_type {match_type!r} (expected {expected})"
                )
        if "\x00" in alias or "\x00" in company_id or (source and "\x00" in source):
            return Rejected(file, line, "contains a NUL character")
        key_form, number = level
        key = key_form(alias)
        if not key:
            after = " after normalization" if alias.strip() else ""
            return Rejected(file, line, f"empty alias_name{after}")
        company_id = company_id.strip()
        if not company_id:
            return Rejected(file, line, "empty canonical_id")
        if len(key) > MAX_ALIAS:
            return Rejected(
                file, line, f"alias_name longer than {MAX_ALIAS} characters ({len(key)})"
            )
        problem = company_id_problem(company_id)
        if problem is not None:  # a temporary ID, a space or control inside, too long, ...
            return Rejected(file, line, f"canonical_id: {problem}")
        if source:
            source = source.strip() or None
            if source is not None and len(source) > MAX_SOURCE:
                return Rejected(
                    file, line, f"source longer than {MAX_SOURCE} characters ({len(source)})"
                )
        if priority:
            low, high = self._low, self._high
            try:
                number = int(priority)
            except ValueError:
                if not priority.strip():
                    number = level[1]  # only blanks: the level's priority
                else:
                    return Rejected(
                        file,
                        line,
                        f"priority {priority.strip()!r} is not a whole number from {low} to {high}",
                    )
            if not low <= number <= high:
                return Rejected(file, line, f"priority {number} is outside {low}..{high}")
        return MappingRow(key, company_id, match_type, number, source or None, file, line)
