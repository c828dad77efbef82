"""The figures a resolve run reports; its fields are the --json keys (docs/commands.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wdh_cli.mappings import levels
from wdh_cli.reports import json_field


@dataclass
class ResolveStats:
    total_rows: int = 0
    yaml_hits: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(levels.LEVELS.match_types, 0)
    )
    db_cache_hits: int = 0
    existing_column_hits: int = 0
    # Rows answered by a sync provider lookup, whichever the provider; the
    # JSON key keeps its first name for the scripts that read it.
    provider_hits: int = json_field(key="eqc_sync_hits", default=0)
    ledger_hits: int = 0  # names answered from the provider ledger: no call, no budget
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
