"""The embedded PostgreSQL (pgserver) used when no database URL is configured.

The server is started under `<WDH_HOME>/pgdata` and left running when wdh
exits, so the next command attaches to it in milliseconds instead of starting
it again. `stop()` shuts it down.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import warnings
from pathlib import Path
from types import ModuleType

from wdh_cli.errors import DatabaseUnavailable


def pgdata_dir(home: Path) -> Path:
    """Where the embedded cluster keeps its files."""
    return home / "pgdata"


def _pgserver() -> ModuleType:
    # pgserver computes a runtime dir at import and warns when XDG_RUNTIME_DIR
    # is unset; that warning is noise for a CLI user.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    return pgserver


def ensure_running(home: Path) -> str:
    """Start (or attach to) the embedded server and return its connection URL."""
    running = _running_url(home)
    if running is not None:
        return running
    pgserver = _pgserver()
    pgdata = pgdata_dir(home)
    try:
        home.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(pgdata, cleanup_mode=None)
        url: str = server.get_uri()
    except (OSError, subprocess.SubprocessError, AssertionError) as exc:
        raise DatabaseUnavailable(
            f"cannot start the embedded PostgreSQL in {pgdata}: {exc}",
            detail=f"server log: {pgdata / 'log'}",
        ) from exc
    return url


def _running_url(home: Path) -> str | None:
    """URL of an already running, ready server, read from postmaster.pid.

    This fast path skips importing and initializing pgserver (about 150 ms),
    which matters because every wdh command attaches to the server.
    """
    try:
        lines = (pgdata_dir(home) / "postmaster.pid").read_text().splitlines()
        pid, port, socket_dir, status = int(lines[0]), lines[3], lines[4], lines[7]
    except (OSError, ValueError, IndexError):
        return None
    if status.strip() != "ready" or not socket_dir or not _alive(pid):
        return None
    return f"postgresql://postgres:@/postgres?host={socket_dir}&port={port}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by the pgserver user when we run as root
    return True


def is_running(home: Path) -> bool:
    """True when a postmaster for this home's cluster is alive."""
    pid_file = pgdata_dir(home) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    return _alive(pid)


def stop(home: Path) -> bool:
    """Stop the embedded server of `home`; False when it was not running."""
    if not is_running(home):
        return False
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl = bin_dir() / "pg_ctl"
    subprocess.run(
        [str(pg_ctl), "-D", str(pgdata_dir(home)), "-w", "-m", "fast", "stop"],
        check=True,
        capture_output=True,
        user=user,
        timeout=60,
    )
    # pgserver caches one handle per data dir for the life of the process;
    # forget it so that a later ensure_running() starts the server again.
    handle = _pgserver().PostgresServer._instances.pop(pgdata_dir(home).resolve(), None)
    if handle is not None:
        atexit.unregister(handle._cleanup)  # it would look for the forgotten handle
    return True


def bin_dir() -> Path:
    """Directory of the PostgreSQL client programs bundled with pgserver."""
    return Path(str(_pgserver().__file__)).parent / "pginstall" / "bin"
