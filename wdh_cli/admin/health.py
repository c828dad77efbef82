"""`wdh db check`: is the database reachable, which one is it, are migrations current?"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from wdh_cli.db import Database
from wdh_cli.errors import DatabaseError
from wdh_cli.migrate import runner


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
    error: str | None = None

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
        return self.reachable and self.error is None and self.migrations_current


def check(db: Database) -> HealthReport:
    """Probe the server; an unreachable one is a report, not an exception."""
    target = db.target
    report = HealthReport(target.mode, target.display, db.settings.pool_max)
    try:
        report.server_version, latency_ms = db.ping()
        report.latency_ms = round(latency_ms, 3)
        report.reachable = True
        counts = Counter(status.state for status in runner.status(db))
    except DatabaseError as exc:
        report.error = exc.message
        return report
    # A baselined migration counts as applied: its objects are there, made by another tool.
    counts["applied"] += counts.pop("baseline", 0)
    report.migrations = {
        state: counts.get(state, 0) for state in ("applied", "pending", "changed", "missing")
    }
    return report
