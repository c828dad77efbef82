"""`wdh db backup` / `wdh db restore`: pg_dump custom-format archives of wdh's schemas."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from wdh_cli.db import Database, embedded
from wdh_cli.errors import DatabaseError, InputFileError, ToolNotFound

# What a backup holds: the enterprise data and the migration history.
BACKUP_SCHEMAS = ("enterprise", "wdh")


def default_backup_path(now: datetime | None = None) -> Path:
    return Path(f"wdh-backup-{(now or datetime.now()):%Y%m%d-%H%M%S}.dump")


def _program(db: Database, name: str) -> str:
    """The embedded server's own client, or for a URL the one on PATH (else the bundled one)."""
    bundled = embedded.bin_dir() / name
    if db.target.mode == "url":
        found = shutil.which(name)
        if found:
            return found
    if bundled.exists():
        return str(bundled)
    raise ToolNotFound(f"{name} not found: install the PostgreSQL client tools")


def _command_env(db: Database) -> tuple[str, dict[str, str]]:
    """Connection string without the password, which goes through PGPASSWORD instead of argv."""
    params = conninfo_to_dict(db.conninfo)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def backup(db: Database, path: Path) -> Path:
    """Write a custom-format archive of wdh's schemas to `path`."""
    conninfo, env = _command_env(db)
    args = [_program(db, "pg_dump"), "--format=custom", f"--file={path}", f"--dbname={conninfo}"]
    args += [f"--schema={schema}" for schema in BACKUP_SCHEMAS]
    _run(args, env, "pg_dump")
    return path


def restore(db: Database, path: Path) -> None:
    """Replace wdh's schemas with the archive's, in one transaction."""
    if not path.is_file():
        raise InputFileError(f"{path}: no such backup file")
    conninfo, env = _command_env(db)
    args = [
        _program(db, "pg_restore"),
        "--clean",
        "--if-exists",
        "--single-transaction",
        "--no-owner",
        f"--dbname={conninfo}",
        str(path),
    ]
    _run(args, env, "pg_restore")


def _run(args: list[str], env: dict[str, str], name: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise DatabaseError(
            f"{name} failed: {lines[-1] if lines else f'exit code {result.returncode}'}",
            detail=result.stderr,
        )
