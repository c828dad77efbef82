"""The one place where psycopg errors become wdh errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from wdh_cli.errors import DatabaseError, DatabaseUnavailable, LockTimeout, WdhError

# undefined_table, undefined_column, undefined_function, invalid_schema_name:
# a database that has not been migrated, or whose objects were dropped since
# (far more likely than a bug). `wdh db check` tells the two apart and says
# what to do about each; `wdh migrate up` alone does nothing for the second.
_SCHEMA_MISSING = ("42P01", "42703", "42883", "3F000")
_SCHEMA_HINT = (
    " (`wdh db check` says whether migrations are pending or objects they create are "
    "missing; `wdh migrate verify` lists the differences)"
)

# insufficient_privilege: the connected role may not do this.
_NO_PRIVILEGE = "42501"

# lock_not_available: lock_timeout ran out (WDH_LOCK_TIMEOUT).
LOCK_NOT_AVAILABLE = "55P03"

# SQLSTATE classes that mean "the server went away or is not there".
_CONNECTION_CLASSES = ("08", "57P")

# SQLSTATE classes of errors caused by the rows a statement writes: a data
# exception (22: a value too long, bad text), an integrity constraint (23),
# or a collision with another session (40: serialization failure, deadlock).
_ROW_CLASSES = ("22", "23", "40")


def translate(
    exc: psycopg.Error, *, target: str, purpose: str = "", user: str | None = None
) -> WdhError:
    """Map a psycopg error to a WdhError whose message is safe to print.

    The server's DETAIL may quote row values (company names); it goes to
    `detail`, shown only with -v, never into the one-line message. `purpose`
    (the command, e.g. "migrate up") and `user` (the connected role) pick the
    hint: a migration run by an application role is told to run as the schema
    owner, a daily command to have the owner run `wdh db grant`.
    """
    sqlstate = exc.sqlstate or ""
    diag = exc.diag
    primary = diag.message_primary or _one_line(str(exc))
    if isinstance(exc, psycopg.OperationalError) and (
        not sqlstate or sqlstate.startswith(_CONNECTION_CLASSES)
    ):
        return DatabaseUnavailable(
            f"cannot reach the database {target} (or lost the connection): {_one_line(str(exc))}",
            detail=str(exc),
        )
    code = f" [{sqlstate}]" if sqlstate else ""
    migrating = purpose.startswith("migrate")
    if sqlstate in _SCHEMA_MISSING and not migrating:
        primary += _SCHEMA_HINT
    elif sqlstate == _NO_PRIVILEGE:
        role = f"role {user}" if user else "the connected role"
        if migrating:
            primary += (
                f" ({role} lacks this privilege: run migrations as the owner of the "
                "enterprise and wdh schemas; daily work needs only what `wdh db grant` gives)"
            )
        elif purpose == "db grant":
            primary += f" ({role} lacks this privilege: run `wdh db grant` as the schema owner)"
        else:
            primary += (
                f" ({role} lacks this privilege: the schema owner can grant what wdh's daily "
                f"commands need with `wdh db grant {user or 'ROLE'}`)"
            )
    return DatabaseError(
        f"database error{code}: {primary}",
        detail="\n".join(part for part in (diag.message_detail, diag.message_hint) if part) or None,
    )


def about_the_rows(exc: psycopg.Error) -> bool:
    """Whether the error came from the rows written, so fewer rows at a time may succeed.

    Any other error (a privilege, a full disk, a read-only server, a lost
    connection) is about the database, and would meet any rows alike.
    """
    return (exc.sqlstate or "").startswith(_ROW_CLASSES)


@contextmanager
def lock_timeouts(what: str, seconds: int) -> Iterator[None]:
    """lock_timeout running out on `what` (a warehouse table) becomes a LockTimeout naming it."""
    try:
        yield
    except psycopg.Error as exc:
        if exc.sqlstate != LOCK_NOT_AVAILABLE:
            raise
        raise LockTimeout(
            f"{what}: another session held a lock on it for more than {seconds} s "
            "(WDH_LOCK_TIMEOUT); the current batch was rolled back, committed batches stay: "
            "run the same command again once the lock is gone"
        ) from exc


# undefined_column, undefined_table, undefined_function (an operator on a
# retyped column), datatype_mismatch: a table another session altered under a
# running command, between its batches (its own checks ran before the first).
_ALTERED = ("42703", "42P01", "42883", "42804")


@contextmanager
def altered_tables(what: str, command: str) -> Iterator[None]:
    """A table altered while `command` runs becomes a DatabaseError naming it, not the schema hint.

    The schema hint of `translate` (`wdh db check`, migrations) is about wdh's
    own tables; a warehouse table that lost a column is no migration matter.
    """
    try:
        yield
    except psycopg.Error as exc:
        if exc.sqlstate not in _ALTERED:
            raise
        primary = exc.diag.message_primary or _one_line(str(exc))
        raise DatabaseError(
            f"{what} changed while {command} ran: {primary}; the current batch was rolled "
            "back, committed batches stay: check the table, then run the same command again",
            detail=str(exc),
        ) from exc


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "connection failed"
