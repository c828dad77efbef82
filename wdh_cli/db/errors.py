"""The one place where psycopg errors become wdh errors."""

from __future__ import annotations

import psycopg

from wdh_cli.errors import DatabaseError, DatabaseUnavailable, WdhError

# undefined_table, undefined_column, undefined_function, invalid_schema_name:
# a database that has not been migrated, or whose objects were dropped since
# (far more likely than a bug). `wdh db check` tells the two apart and says
# what to do about each; `wdh migrate up` alone does nothing for the second.
_SCHEMA_MISSING = ("42P01", "42703", "42883", "3F000")
_SCHEMA_HINT = (
    " (`wdh db check` says whether migrations are pending or objects they create are "
    "missing; `wdh migrate verify` lists the differences)"
)

# SQLSTATE classes that mean "the server went away or is not there".
_CONNECTION_CLASSES = ("08", "57P")


def translate(exc: psycopg.Error, *, target: str) -> WdhError:
    """Map a psycopg error to a WdhError whose message is safe to print.

    The server's DETAIL may quote row values (company names); it goes to
    `detail`, shown only with -v, never into the one-line message.
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
    if sqlstate in _SCHEMA_MISSING:
        primary += _SCHEMA_HINT
    return DatabaseError(
        f"database error{code}: {primary}",
        detail="\n".join(part for part in (diag.message_detail, diag.message_hint) if part) or None,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "connection failed"
