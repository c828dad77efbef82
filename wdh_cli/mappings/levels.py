"""The five mapping levels, their priorities, key forms and column limits."""

from __future__ import annotations

from dataclasses import dataclass

from wdh_cli.names import normalize_name

# match_type -> priority (lower wins); the order of the CLI contract's table.
PRIORITIES: dict[str, int] = {
    "plan": 1,
    "account": 2,
    "hardcode": 3,
    "name": 4,
    "account_name": 5,
}
MATCH_TYPES = tuple(PRIORITIES)

# Column lengths of enterprise.company_mapping (VARCHAR, in characters).
MAX_ALIAS = 255
MAX_COMPANY_ID = 100
MAX_SOURCE = 50

DEFAULT_SOURCE = "internal"


def key_for(match_type: str, raw: str) -> str:
    """The stored key form: `normalize_name` for names, trimmed text otherwise."""
    if match_type == "name":
        return normalize_name(raw)
    return raw.strip()


@dataclass(frozen=True)
class MappingRow:
    """One mapping read from a file, with where it came from."""

    alias_name: str
    canonical_id: str
    match_type: str
    priority: int
    source: str | None  # None: the load's --source
    file: str
    line: int


@dataclass(frozen=True)
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
    """Turn raw fields into a MappingRow, or say why not."""

    def reject(reason: str) -> Rejected:
        return Rejected(file, line, reason)

    match_type = match_type.strip()
    if match_type not in PRIORITIES:
        return reject(f"unknown match_type {match_type!r} (expected {', '.join(MATCH_TYPES)})")
    fields = {"alias_name": alias, "canonical_id": company_id, "source": source or ""}
    if any("\x00" in value for value in fields.values()):
        return reject("contains a NUL character")
    key = key_for(match_type, alias)
    if not key:
        return reject("empty alias_name" + (" after normalization" if alias.strip() else ""))
    company_id = company_id.strip()
    if not company_id:
        return reject("empty canonical_id")
    if len(key) > MAX_ALIAS:
        return reject(f"alias_name longer than {MAX_ALIAS} characters ({len(key)})")
    if len(company_id) > MAX_COMPANY_ID:
        return reject(f"canonical_id longer than {MAX_COMPANY_ID} characters ({len(company_id)})")
    source = (source or "").strip() or None
    if source is not None and len(source) > MAX_SOURCE:
        return reject(f"source longer than {MAX_SOURCE} characters ({len(source)})")
    if priority is None or (isinstance(priority, str) and not priority.strip()):
        level = PRIORITIES[match_type]
    else:
        try:
            level = int(priority)
        except ValueError:
            return reject(f"priority {priority!r} is not a whole number from 1 to 5")
        if not 1 <= level <= 5:
            return reject(f"priority {level} is outside 1..5")
    return MappingRow(key, company_id, match_type, level, source, file, line)
