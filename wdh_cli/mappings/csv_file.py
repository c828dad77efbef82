"""Mapping CSV files: header `alias_name,canonical_id,match_type` [+ priority, source].

Encoding: UTF-8 with or without BOM, else GB18030. Row problems are
reported as Rejected with their line; file problems raise InputFileError.
A field that `wdh mappings export` (a CSV for people, files.people_csv_writer)
wrote with an apostrophe in front of a formula start is read without it;
any other field, hand-written apostrophes included, is read as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

from wdh_cli.errors import InputFileError
from wdh_cli.files import detect_file_encoding, unescape_cell
from wdh_cli.mappings.rows import MappingRow, RowChecker
from wdh_cli.reports import Rejected

REQUIRED = ("alias_name", "canonical_id", "match_type")
OPTIONAL = ("priority", "source")


READ_EVERY = 4096  # rows between two reports of the bytes read


def read_csv(
    path: Path, read: Callable[[int], None] | None = None
) -> Iterator[MappingRow | Rejected]:
    """Rows of a mapping CSV in file order, read as a stream: memory stays flat.

    The encoding is settled by a first pass over the file (which keeps
    nothing), so an undecodable file is refused before any row is yielded.
    `read` is told the bytes read so far every READ_EVERY rows.
    """
    name = str(path)
    try:
        encoding = detect_file_encoding(path)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: neither UTF-8 nor GB18030 text") from None
    # Most files hold no apostrophe at all (in either encoding the byte is only
    # ever the character): one search of the bytes spares a test of every row.
    apostrophes = _holds(path, b"'")
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputFileError(f"{name}: empty file (expected the header {','.join(REQUIRED)})")
        columns = [column.strip().lower() for column in header]
        missing = [c for c in REQUIRED if c not in columns]
        unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
        if missing or unknown or len(set(columns)) != len(columns):
            found = ", ".join(repr(c) for c in header)
            raise InputFileError(
                f"{name}:1: the header must name {', '.join(REQUIRED)} (optional: "
                f"{', '.join(OPTIONAL)}); found {found}"
            )
        index = {column: position for position, column in enumerate(columns)}
        alias_at, id_at, type_at = index["alias_name"], index["canonical_id"], index["match_type"]
        priority_at, source_at = index.get("priority"), index.get("source")
        width = len(columns)
        check = RowChecker().check
        previous_end = reader.line_num
        for number, fields in enumerate(reader):
            if read is not None and number % READ_EVERY == 0:
                read(raw.tell())  # the bytes the text layer has taken
            line = previous_end + 1
            previous_end = reader.line_num  # a quoted field may span lines
            if len(fields) != width:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # blank line
                yield Rejected(name, line, f"{len(fields)} fields, expected {width}")
                continue
            if apostrophes and "\x00'" in "\x00" + "\x00".join(fields):
                fields = [unescape_cell(field) for field in fields]
            yield check(
                fields[alias_at],
                fields[id_at],
                fields[type_at],
                None if priority_at is None else fields[priority_at],
                None if source_at is None else fields[source_at],
                name,
                line,
            )


def _holds(path: Path, needle: bytes, chunk: int = 1 << 20) -> bool:
    """Whether the file's bytes hold `needle` (one byte: no match is split between chunks)."""
    try:
        with path.open("rb") as handle:
            while block := handle.read(chunk):
                if needle in block:
                    return True
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    return False
