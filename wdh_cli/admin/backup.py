"""`wdh db backup` / `wdh db restore`: pg_dump custom-format archives of wdh's schemas."""

from __future__ import annotations

import os
import re
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
    """A pg_dump/pg_restore able to talk to the server.

    With a URL the one on PATH is preferred (what the user installed), but
    pg_dump refuses a server newer than itself, so an older one gives way to
    the client bundled with the embedded server when that one is new enough.
    """
    server_major = db.server_version_num() // 10000
    candidates = [embedded.bin_dir() / name]
    if db.target.mode == "url":
        on_path = shutil.which(name)
        if on_path:
            candidates.insert(0, Path(on_path))
    found = []
    for candidate in candidates:
        major = _client_major(candidate)
        if major is not None:
            found.append(f"{candidate} ({major})")
            if major >= server_major:
                return str(candidate)
    raise ToolNotFound(
        f"no {name} for PostgreSQL {server_major} or newer: found "
        + (", ".join(found) or "none")
        + "; install the matching PostgreSQL client tools"
    )


def _client_major(program: Path) -> int | None:
    try:
        result = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", result.stdout)
    return int(match.group(1)) if match else None


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
