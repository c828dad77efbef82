"""wdh's error hierarchy: each error carries the exit code of the CLI contract.

Everything below the CLI raises these; `wdh_cli.cli.app` is the one place that
turns them into a message on stderr and an exit code.
"""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CHECK = 3


class WdhError(Exception):
    """Base of every expected failure; `detail` is shown only with -v."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class UsageError(WdhError):
    """A bad option or argument (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(WdhError):
    """A missing or invalid setting (exit 2)."""

    exit_code = EXIT_USAGE


class InputFileError(WdhError):
    """A missing, unreadable or invalid input file (exit 2)."""

    exit_code = EXIT_USAGE


class OutputFileError(WdhError):
    """An output file that cannot be written where asked (exit 2); the message names the path."""

    exit_code = EXIT_USAGE


class DatabaseError(WdhError):
    """The database failed or refused an operation (exit 1)."""


class DatabaseUnavailable(DatabaseError):
    """The server cannot be reached; the message carries the masked URL."""


class MigrationError(WdhError):
    """A migration could not be applied or reverted (exit 1)."""


class MigrationStateError(MigrationError):
    """History and files disagree (changed or missing migrations)."""


class CheckFailed(WdhError):
    """A check found a problem it cannot go past, e.g. verify on an edited migration (exit 3)."""

    exit_code = EXIT_CHECK


class LockTimeout(WdhError):
    """Another process held the lock past the timeout (exit 1)."""


class Interrupted(WdhError):
    """SIGINT or SIGTERM ended the command; its exit code is the shell's (130, 143)."""

    def __init__(self, signal_name: str, signal_number: int) -> None:
        super().__init__(f"stopped by {signal_name}; nothing was written")
        self.exit_code = 128 + signal_number


class ToolNotFound(WdhError):
    """An external program (pg_dump, pg_restore) is not available (exit 1)."""


class NameRulesError(WdhError):
    """The database's name keys were made with other rules than this wdh's (exit 1)."""
