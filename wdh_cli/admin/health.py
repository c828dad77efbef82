"""`wdh db check`: is the database reachable, which one is it, are migrations current,
do the objects they create exist?"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from wdh_cli.db import Database
from wdh_cli.errors import DatabaseError
from wdh_cli.migrate import runner
from wdh_cli.reports import json_field


@dataclass
class HealthReport:
    """`wdh db check`: which database, whether it answers, whether its migrations are current."""

    json_properties: ClassVar[tuple[str, ...]] = ("healthy", "migrations_current")

    mode: str
    database: str
    pool_max: int
    reachable: bool = False
    server_version: str | None = None
    latency_ms: float | None = None
    migrations: dict[str, int] = field(default_factory=dict)
    missing_objects: list[str] = field(default_factory=list)
    error: str | None = None
    # Migrations recorded by `wdh migrate baseline` (counted as applied above):
    # their down is refused, which changes the advice for missing objects.
    baselined: int = json_field(include=False, default=0)

    @property
    def migrations_current(self) -> bool:
        """Known to be current: the history was read and every migration is applied."""
        return (
            self.reachable
            and self.error is None
            and not any(count for state, count in self.migrations.items() if state != "applied")
        )

    @property
    def healthy(self) -> bool:
        return (
            self.reachable
            and self.error is None
            and self.migrations_current
            and not self.missing_objects
        )


def check(db: Database) -> HealthReport:
    """Probe the server; an unreachable one is a report, not an exception."""
    target = db.target
    report = HealthReport(target.mode, target.display, db.settings.pool_max)
    try:
        report.server_version, latency_ms = db.ping()
        report.latency_ms = round(latency_ms, 3)
        report.reachable = True
        state = runner.schema_state(db)
    except DatabaseError as exc:
        report.error = exc.message
        return report
    counts = Counter(status.state for status in state.migrations)
    # A baselined migration counts as applied: its objects are there, made by another tool.
    counts["applied"] += counts.pop("baseline", 0)
    report.baselined = sum(1 for status in state.migrations if status.state == "baseline")
    report.migrations = {
        name: counts.get(name, 0) for name in ("applied", "pending", "changed", "missing")
    }
    report.missing_objects = [o.describe() for o in state.missing_objects]
    return report
