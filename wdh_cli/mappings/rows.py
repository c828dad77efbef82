"""Mapping rows read from files, their validation, and the columns' limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from wdh_cli.mappings import levels

# Column lengths of enterprise.company_mapping (VARCHAR, in characters).
MAX_ALIAS = 255
MAX_COMPANY_ID = 100
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


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that cannot be loaded, and why."""

    file: str
    line: int
    reason: str

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def validate(
    *,
    alias: str,
    company_id: str,
    match_type: str,
    priority: str | int | None,
    source: str | None,
    file: str,
    line: int,
) -> MappingRow | Rejected:
    """Turn raw fields into a MappingRow, or say why not (on the hot path of loads)."""
    table = levels.LEVELS
    match_type = match_type.strip()
    if match_type not in table:
        return Rejected(
            file, line, f"unknown match_type {match_type!r} (expected {table.describe()})"
        )
    level = table[match_type]
    if "\x00" in alias or "\x00" in company_id or (source and "\x00" in source):
        return Rejected(file, line, "contains a NUL character")
    key = level.key(alias)
    if not key:
        after = " after normalization" if alias.strip() else ""
        return Rejected(file, line, f"empty alias_name{after}")
    company_id = company_id.strip()
    if not company_id:
        return Rejected(file, line, "empty canonical_id")
    if len(key) > MAX_ALIAS:
        return Rejected(file, line, f"alias_name longer than {MAX_ALIAS} characters ({len(key)})")
    if len(company_id) > MAX_COMPANY_ID:
        return Rejected(
            file, line, f"canonical_id longer than {MAX_COMPANY_ID} characters ({len(company_id)})"
        )
    if source:
        source = source.strip() or None
        if source is not None and len(source) > MAX_SOURCE:
            return Rejected(
                file, line, f"source longer than {MAX_SOURCE} characters ({len(source)})"
            )
    if isinstance(priority, str):
        priority = priority.strip() or None
    number = level.priority
    if priority is not None:
        low, high = table.lowest_priority, table.highest_priority
        try:
            number = int(priority)
        except ValueError:
            return Rejected(
                file, line, f"priority {priority!r} is not a whole number from {low} to {high}"
            )
        if not low <= number <= high:
            return Rejected(file, line, f"priority {number} is outside {low}..{high}")
    return MappingRow(key, company_id, match_type, number, source or None, file, line)
