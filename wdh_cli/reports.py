"""Reports as JSON: the one conversion every `--json` goes through.

A command's figures are a dataclass (its report). Its JSON object has one
key per field, in field order, nested dataclasses and lists converted the
same way, datetimes in ISO 8601, paths and enums as text. A field can say
otherwise in its metadata: `json_key` renames it (for keys kept for
compatibility), `json=False` leaves it out. Computed values a report wants in
its JSON are listed in its `json_properties` class attribute. A `Rejected`
row (below) names its number by what it counts: `line` or `row`.
docs/commands.md lists every command's keys; a test holds the README's list
to the real output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal


def json_field(*, key: str | None = None, include: bool = True, **kwargs: Any) -> Any:
    """A dataclass field with its JSON rules (see the module docstring)."""
    metadata = {"json_key": key, "json": include}
    return dataclasses.field(metadata=metadata, **kwargs)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row of an input file that cannot be used, and why (never a company name).

    `number` is a line of a mapping file or a row of a review sheet; `unit` says
    which, and is its key in JSON: `{file, line, reason}` or `{file, row, reason}`.
    """

    file: str
    number: int
    reason: str
    unit: Literal["line", "row"] = "line"

    def describe(self) -> str:
        return f"{self.file}:{self.number}: {self.reason}"

    def json_data(self) -> dict[str, Any]:
        return {"file": self.file, self.unit: self.number, "reason": self.reason}


def to_json(value: Any) -> Any:
    """A report (or any value inside one) as plain JSON data."""
    if isinstance(value, Rejected):
        return value.json_data()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data: dict[str, Any] = {}
        for item in dataclasses.fields(value):
            if not item.metadata.get("json", True):
                continue
            key = item.metadata.get("json_key") or item.name
            data[key] = to_json(getattr(value, item.name))
        for name in getattr(type(value), "json_properties", ()):
            data[name] = to_json(getattr(value, name))
        return data
    if isinstance(value, Enum):
        return to_json(value.value)
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value
