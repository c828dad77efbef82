"""COPY with bytes both ways: set-based data in and out of a session, no Python object per row.

What goes in is CSV (or COPY text) made by native code (polars), and what
comes out is CSV for polars to read.
"""

from __future__ import annotations

import io

import polars as pl
import psycopg
from psycopg import sql


def copy_in(conn: psycopg.Connection, statement: str | sql.SQL | sql.Composed, data: bytes) -> None:
    """Send `data` to a `COPY ... FROM STDIN` statement."""
    with conn.cursor().copy(statement) as copy:
        copy.write(data)


def copy_out(conn: psycopg.Connection, statement: str | sql.SQL | sql.Composed) -> bytes:
    """Everything a `COPY ... TO STDOUT` statement sends."""
    chunks: list[bytes] = []
    with conn.cursor().copy(statement) as copy:
        for chunk in copy:
            chunks.append(bytes(chunk))
    return b"".join(chunks)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """A frame as COPY's CSV (no header; null as an empty field)."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False)
    return buffer.getvalue()
