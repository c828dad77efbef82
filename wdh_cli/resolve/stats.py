"""The figures a resolve run reports (the contract's JSON keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wdh_cli.mappings.levels import MATCH_TYPES


@dataclass
class ResolveStats:
    total_rows: int = 0
    yaml_hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MATCH_TYPES, 0))
    db_cache_hits: int = 0
    existing_column_hits: int = 0
    eqc_sync_hits: int = 0
    budget_consumed: int = 0
    budget_remaining: int = 0
    temp_ids_generated: int = 0
    async_queued: int = 0
    already_queued: int = 0
    unresolved: int = 0
    backflow: dict[str, int] = field(
        default_factory=lambda: {"inserted": 0, "skipped": 0, "conflicts": 0}
    )
    db_available: bool = True
    output: str | None = None
    # Failures that did not stop the run (counted, warned about once).
    errors: dict[str, int] = field(
        default_factory=lambda: {"backflow": 0, "enqueue": 0, "provider": 0, "cache": 0}
    )

    def as_json(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "yaml_hits": dict(self.yaml_hits),
            "db_cache_hits": self.db_cache_hits,
            "existing_column_hits": self.existing_column_hits,
            "eqc_sync_hits": self.eqc_sync_hits,
            "budget_consumed": self.budget_consumed,
            "budget_remaining": self.budget_remaining,
            "temp_ids_generated": self.temp_ids_generated,
            "async_queued": self.async_queued,
            "already_queued": self.already_queued,
            "unresolved": self.unresolved,
            "backflow": dict(self.backflow),
            "db_available": self.db_available,
            "output": self.output,
            "errors": dict(self.errors),
        }
