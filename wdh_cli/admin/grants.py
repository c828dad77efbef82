"""`wdh db grant ROLE`: what a lower-privileged role needs for wdh's daily commands.

Migrations run as the owner of the schemas; resolve, queue, mappings (and
later review and rewrite) can run as a role that may read and write the
enterprise tables and read the migration history, but create nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from wdh_cli.admin import repository
from wdh_cli.db import Database
from wdh_cli.errors import MigrationStateError, UsageError


@dataclass(frozen=True)
class GrantReport:
    role: str
    statements: list[str]
    dry_run: bool


def grant(db: Database, role: str, *, dry_run: bool = False) -> GrantReport:
    """Grant `role` its privileges in one transaction; with dry_run, only say which."""
    if role == "public":  # the pseudo-role of every role, present and future
        raise UsageError("role 'public' is PUBLIC, every role: name one role to grant to")
    with db.connect() as conn:
        if not repository.role_exists(conn, role):
            raise UsageError(
                f"role {role!r} does not exist: create it first (CREATE ROLE ... LOGIN), "
                "then run `wdh db grant` again"
            )
        owner, has_history = repository.grant_targets(conn)
        if owner is None or not has_history:
            raise MigrationStateError(
                "nothing to grant on yet: schema enterprise or wdh.schema_history does not "
                "exist; run `wdh migrate up` (as the schema owner) first"
            )
        statements = repository.grant_statements(role, owner)
        texts = [statement.as_string(conn) for statement in statements]
        if not dry_run:
            for statement in statements:
                repository.execute(conn, statement)
        # Database.connect commits when the block ends without an error.
    return GrantReport(role, texts, dry_run)
