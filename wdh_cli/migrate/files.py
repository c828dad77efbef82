"""Migration files on disk: discovery, parsing of names, checksums."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from wdh_cli.db.sqlfiles import sql_root
from wdh_cli.errors import MigrationError

_FILE_NAME = re.compile(
    r"^(?P<version>\d{4})_(?P<description>[a-z0-9_]+)\.(?P<direction>up|down)\.sql$"
)


@dataclass(frozen=True)
class MigrationFile:
    """One versioned migration: its up and down SQL."""

    version: int
    description: str
    up_sql: str
    down_sql: str

    @property
    def name(self) -> str:
        return f"{self.version:04d}_{self.description}"

    @property
    def up_file(self) -> str:
        return f"{self.name}.up.sql"

    @property
    def down_file(self) -> str:
        return f"{self.name}.down.sql"

    @property
    def checksum(self) -> str:
        return checksum(self.up_sql)

    def matches(self, recorded: str) -> bool:
        """Whether a history row's checksum is this file's: today's text or an earlier release's."""
        return recorded == self.checksum or recorded in EARLIER_RELEASES.get(self.up_file, ())


# Checksums of the texts an up file had in earlier releases, each accepted as
# the file (Liquibase's validCheckSum). A released migration never changes:
# a change is a new migration. 0002 is the one exception, from before that
# rule was kept: it gained the P-030 counter upgrade after three releases had
# shipped it, and the upgrade cannot be a later migration (an old-form counter
# makes the first text fail, so it must be converted before 0002's statements
# run). Where the first text was applied, 0006 does the rest of what 0002 does
# now. docs/mappings.md ("Upgrading from earlier releases") tells the story;
# tests/e2e/test_upgrade.py migrates a database with every release in git.
EARLIER_RELEASES: dict[str, frozenset[str]] = {
    "0002_create_temp_id_sequence.up.sql": frozenset(
        # 0002 as released from 107672c to 852994f (before the P-030 upgrade).
        {"7fa46e10f275fe147c07fba8743fa5ba2e6824ed6a78710e9a3f749012852ccc"}
    ),
}


def checksum(sql: str) -> str:
    """SHA-256 of the SQL with line endings normalized, so a CRLF checkout is not 'changed'."""
    normalized = sql.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def migrations_dir() -> Traversable:
    return sql_root() / "migrations"


def discover(directory: Traversable | None = None) -> list[MigrationFile]:
    """All migrations in version order; a malformed set is an error naming the file."""
    directory = directory if directory is not None else migrations_dir()
    found: dict[int, dict[str, str]] = {}
    descriptions: dict[int, str] = {}
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(
                f"sql/migrations/{entry.name}: not a migration file name "
                "(expected NNNN_description.up.sql or NNNN_description.down.sql)"
            )
        version = int(match["version"])
        if descriptions.setdefault(version, match["description"]) != match["description"]:
            raise MigrationError(
                f"sql/migrations/{entry.name}: version {version:04d} is used by two "
                f"migrations ({descriptions[version]} and {match['description']})"
            )
        found.setdefault(version, {})[match["direction"]] = entry.read_text(encoding="utf-8")
    migrations = []
    for version in sorted(found):
        files = found[version]
        name = f"{version:04d}_{descriptions[version]}"
        for direction in ("up", "down"):
            if direction not in files:
                raise MigrationError(f"sql/migrations/{name}.{direction}.sql is missing")
        migrations.append(MigrationFile(version, descriptions[version], files["up"], files["down"]))
    return migrations
