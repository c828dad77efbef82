"""A CSV input of `wdh resolve`, read in passes, in native code where the file allows.

`open_csv_input` reads the header: the first record that is not blank, with
the csv module, in UTF-8 (with or without a byte-order mark) or else
GB18030. Each pass (`CsvPasses`) then reads the data rows:

- the fast way, polars' CSV reader, on chunks of the file cut between
  records: no Python object per cell;
- the exact way, the csv module itself, for a file polars would read
  otherwise or not at all: a row longer than the header (its cells are kept
  as they are), a bare carriage return ending a line, a quote inside an
  unquoted cell, or an odd number of quotes (a stray quote, or a quoted
  cell never closed, which is an error naming its line: the rest of the
  file must not vanish into one cell).

The first pass finds out which way, and which encoding, the whole file
needs (a file is UTF-8 if all of it is): when it learns it halfway, it
raises `Reread` and starts again; later passes read the same rows the same
way. Blank rows (every cell empty) are left out; an empty cell is null.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TextIO

import polars as pl

import wdh_cli.files  # noqa: F401  (lifts the csv module's field size limit)
from wdh_cli.errors import InputFileError
from wdh_cli.resolution.frame import Reread

BOM = "\ufeff"
READ_BLOCK = 1 << 23  # bytes polars parses at a time: a pass holds a few such chunks
EXACT_ROWS = 20_000  # rows of a block read the exact way
_EOF = "\x00wdh: end of file\x00"  # the line the exact way feeds the csv module last
_ENCODINGS = ("utf-8", "gb18030")  # tried in this order (utf-8-sig: a BOM says so)
_BARE_CR = re.compile(rb"\r(?!\n)")  # a carriage return that ends a line on its own


def column_name(index: int) -> str:
    """The name of the input's column `index` in a block (a header may repeat names)."""
    return f"c{index}"


@dataclass(frozen=True)
class Block:
    """Rows of one pass: their cells as a frame of `width` text columns (c0, c1, ...; null
    where empty) and, when read the exact way, the rows as read (ragged ones too)."""

    frame: pl.DataFrame
    rows: list[list[str]] | None = None


@dataclass
class CsvInput:
    """A CSV file's encoding and header, and how its data rows are read.

    `encoding` and `exact` may change during the first pass (see the module
    docstring); the header is read again with a new encoding.
    """

    path: Path
    encoding: str  # utf-8, utf-8-sig or gb18030
    header: list[str]  # the header's cells, trimmed (a byte-order mark is not part of them)
    header_line: int  # the header's line number
    skip_records: int  # records up to the header, blank ones included (the exact way)
    data_offset: int | None  # the byte where the line after the header starts (the fast way)
    exact: bool  # read with the csv module (see the module docstring)
    stamp: tuple[int, int]  # (size, mtime_ns) when it was opened

    @property
    def width(self) -> int:
        return len(self.header)

    def read_as(self, encoding: str | None = None, *, exact: bool | None = None) -> None:
        """Read the file otherwise from now on: in another encoding, or the exact way."""
        if encoding is not None and encoding != self.encoding:
            self.encoding = encoding
            self._read_header()
        if exact:
            self.exact = True

    def _read_header(self) -> None:
        try:
            found = _header(self.path, self.encoding, by_bytes=not self.exact)
        except UnicodeDecodeError:
            if self.encoding != "utf-8":
                raise InputFileError(f"{self.path}: neither UTF-8 nor GB18030 text") from None
            self.encoding = "gb18030"
            self._read_header()
            return
        except OSError as exc:
            raise read_error(self.path, exc) from None
        if found is None:  # a header the byte lines cannot give (a bare carriage return)
            self.exact = True
            found = _header(self.path, self.encoding, by_bytes=False)
        assert found is not None  # read as text, the csv module reads any header
        self.header, self.header_line, self.skip_records, self.data_offset = found
        self.exact = self.exact or self.data_offset is None


def open_csv_input(path: Path) -> CsvInput:
    """The header and the first guess of how to read `path` (exit 2 naming it otherwise)."""
    try:
        stat = path.stat()
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError as exc:
        raise read_error(path, exc) from None
    encoding = "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else _guess(head)
    source = CsvInput(path, encoding, [], 0, 0, None, False, (stat.st_size, stat.st_mtime_ns))
    source._read_header()
    return source


def _guess(head: bytes) -> str:
    """UTF-8 unless the file's first bytes say otherwise (the first pass may still switch)."""
    cut = head.rfind(b"\n") + 1 or len(head)
    for encoding in _ENCODINGS:
        try:
            head[:cut].decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return _ENCODINGS[0]  # the first pass finds it is neither, and says so


def read_error(path: Path, exc: OSError) -> InputFileError:
    """An input that cannot be read (gone, unreadable, a disk error): one line naming it."""
    return InputFileError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})")


class CsvPasses:
    """Passes over a CSV input's data rows (`FrameRows` calls it for each pass).

    Each pass checks, before and after reading, that the file is the one
    opened: every pass must read the same rows. The first pass to finish settles how the file is
    read; a later one that would read it otherwise is an error.
    """

    def __init__(self, source: CsvInput, *, exact_rows: int = EXACT_ROWS) -> None:
        self.source = source
        self._exact_rows = exact_rows
        self._settled = False

    def __call__(self) -> Iterator[Block]:
        source = self.source
        _check_unchanged(source)
        handed = False
        while True:
            try:
                blocks = _exact(source, self._exact_rows) if source.exact else _fast(source)
                for block in blocks:
                    handed = True
                    yield block
                # Checked at the end too: rows added or cut while this pass read
                # (the last one writes the output) were never resolved.
                _check_unchanged(source)
                self._settled = True
                return
            except _ReadOtherwise as exc:
                if exc.encoding is not None:
                    source.read_as(exc.encoding)
                else:
                    source.read_as(exact=True)
                self._restart(handed)

    def _restart(self, handed: bool) -> None:
        if self._settled:
            raise InputFileError(
                f"{self.source.path}: the file changed while wdh was reading it; "
                "run again once it is complete"
            )
        if handed:
            raise Reread
        _check_unchanged(self.source)


def _check_unchanged(source: CsvInput) -> None:
    try:
        stat = source.path.stat()
    except OSError as exc:
        raise read_error(source.path, exc) from None
    if (stat.st_size, stat.st_mtime_ns) != source.stamp:
        raise InputFileError(
            f"{source.path}: the file changed while wdh was reading it; "
            "run again once it is complete"
        )


class _ReadOtherwise(Exception):
    """The file must be read otherwise: in `encoding`, or (None) the exact way."""

    def __init__(self, encoding: str | None = None) -> None:
        super().__init__(encoding)
        self.encoding = encoding


def _next_encoding(source: CsvInput) -> _ReadOtherwise:
    """The file is not in its encoding: the next one, or an error when none is left."""
    if source.encoding == "utf-8":
        return _ReadOtherwise("gb18030")
    raise InputFileError(f"{source.path}: neither UTF-8 nor GB18030 text")


# The header ------------------------------------------------------------------
def _header(
    path: Path, encoding: str, *, by_bytes: bool
) -> tuple[list[str], int, int, int | None] | None:
    """(the first non-blank record, trimmed; its line; records up to it; the offset after it).

    By bytes: the file's lines (split at line feeds, so the bytes read are
    known) feed the csv module one at a time, and the offset is where the
    header's last line ends; None when a bare carriage return makes the
    csv module refuse such lines. Otherwise the csv module reads the text,
    and there is no offset. UnicodeDecodeError: not `encoding` text.
    """
    consumed = 0
    lines = 0
    records = 0

    def byte_lines() -> Iterator[str]:
        nonlocal consumed, lines
        with path.open("rb") as handle:
            for raw in handle:
                consumed += len(raw)
                lines += 1
                yield raw.decode(encoding)

    with path.open(encoding=encoding, newline="") as text:
        reader = csv.reader(byte_lines() if by_bytes else text)
        try:
            for record in reader:
                records += 1
                header = [cell.strip() for cell in record]
                if records == 1 and header:
                    # A byte-order mark the decoding kept (GB18030 has its own).
                    header[0] = header[0].removeprefix(BOM).strip()
                if any(header):
                    line = lines if by_bytes else reader.line_num
                    return header, line, records, consumed if by_bytes else None
        except csv.Error:
            if by_bytes:
                return None
            raise
    raise InputFileError(f"{path}: empty file (no header row)")


# The fast way ----------------------------------------------------------------
def _fast(source: CsvInput) -> Iterator[Block]:
    """polars' CSV reader on chunks of the file cut between records.

    A chunk ends at a line feed after an even number of quotes, so no quoted
    cell is ever cut (a file whose quotes do not pair up is read the exact
    way). polars reads what the csv module reads, or raises: a quote inside
    an unquoted cell, text after a closing quote, a row longer than the
    header (those files are read the exact way). A bare carriage return,
    which polars would read as part of a cell, sends the file the exact way
    too. A chunk that starts with a byte-order mark (its first cell's) gets
    a line feed in front (an empty line, skipped), so that the mark stays in
    the cell.
    """
    schema = {column_name(index): pl.String for index in range(source.width)}
    for chunk in _chunks(source):
        if _BARE_CR.search(chunk) is not None:
            raise _ReadOtherwise()
        if source.encoding == "gb18030":
            try:
                chunk = chunk.decode("gb18030").encode("utf-8")
            except UnicodeDecodeError:
                raise _next_encoding(source) from None
        if chunk.startswith(b"\xef\xbb\xbf"):
            chunk = b"\n" + chunk  # polars would take this byte-order mark for the file's
        try:
            frame = pl.read_csv(
                chunk,
                has_header=False,
                schema=schema,
                missing_columns="insert",
                extra_columns="raise",
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError as exc:
            if source.encoding != "gb18030" and not _valid_utf8(chunk):
                raise _next_encoding(source) from exc
            raise _ReadOtherwise() from exc
        blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
        if blank.any():
            frame = frame.filter(~blank)
        if frame.height:
            yield Block(frame)


def _valid_utf8(data: bytes) -> bool:
    try:
        pl.Series([data], dtype=pl.Binary).cast(pl.String, strict=True)
    except pl.exceptions.PolarsError:
        return False
    return True


def _chunks(source: CsvInput) -> Iterator[bytes]:
    """The data rows' bytes, READ_BLOCK at a time, each ending between two records."""
    assert source.data_offset is not None
    try:
        handle = source.path.open("rb")
    except OSError as exc:
        raise read_error(source.path, exc) from None
    with handle:
        handle.seek(source.data_offset)
        carry = b""
        while True:
            try:
                data = handle.read(READ_BLOCK)
            except OSError as exc:
                raise read_error(source.path, exc) from None
            chunk = carry + data
            if not data:
                if b'"' in chunk and chunk.count(b'"') % 2:
                    raise _ReadOtherwise()  # quotes that do not pair up
                if chunk:
                    yield chunk
                return
            cut = _record_end(chunk)
            chunk, carry = chunk[:cut], chunk[cut:]
            if chunk:
                yield chunk


def _record_end(chunk: bytes) -> int:
    """Where the last whole record of `chunk` ends (0: none does).

    After a line feed with an even number of quotes before it: outside any
    quoted cell, since each quote opens or closes one (a doubled quote
    inside does both).
    """
    if b'"' not in chunk:  # the common case: a search, cheaper than a count
        return chunk.rfind(b"\n") + 1
    quotes = chunk.count(b'"')
    end = len(chunk)
    while (at := chunk.rfind(b"\n", 0, end)) >= 0:
        quotes -= chunk.count(b'"', at, end)
        if quotes % 2 == 0:
            return at + 1
        end = at
    return 0


# The exact way ---------------------------------------------------------------
def _exact(source: CsvInput, size: int) -> Iterator[Block]:
    """The csv module, which reads every file; a quoted cell never closed is an error."""
    width = source.width
    names = [column_name(index) for index in range(width)]
    try:
        handle = source.path.open(encoding=source.encoding, newline="", errors="strict")
    except OSError as exc:
        raise read_error(source.path, exc) from None
    with handle:
        lines = _Lines(handle)
        reader = csv.reader(lines)
        try:
            for _ in islice(reader, source.skip_records):
                pass
            lines.read = 0
            while batch := list(islice(reader, size)):
                last = batch[-1]
                if last == [_EOF]:
                    batch.pop()  # the sentinel, a record of its own: every quote was closed
                elif last and last[-1].endswith(_EOF):
                    raise _unclosed(source, lines, last[-1])
                kept = [row for row in batch if any(row)]
                if not kept:
                    continue
                columns = [[row[i] if i < len(row) else "" for row in kept] for i in range(width)]
                frame = pl.DataFrame(
                    dict(zip(names, columns, strict=True)),
                    schema=dict.fromkeys(names, pl.String),
                ).with_columns(pl.all().replace("", None))
                yield Block(frame, kept)
        except UnicodeDecodeError:
            raise _next_encoding(source) from None
        except OSError as exc:
            raise read_error(source.path, exc) from None


class _Lines:
    """The file's lines for the csv module, then a line feed and a sentinel line.

    A quoted cell never closed takes every line that follows into itself,
    the sentinel too: then the last record ends with it. Lines are counted,
    for the error's line number.
    """

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self.read = 0
        self.ended_with_break = True

    def __iter__(self) -> Iterator[str]:
        for line in self._handle:
            self.read += 1
            self.ended_with_break = line.endswith(("\n", "\r"))
            yield line
        yield "\n"
        yield _EOF


def _unclosed(source: CsvInput, lines: _Lines, cell: str) -> InputFileError:
    """The error of a quoted cell never closed, naming the line its quote opens."""
    # The cell runs from its opening quote to the end of the file's last
    # line, then the fed line feed and the sentinel. Its line breaks are
    # counted without the fed line feed: after a last line ending in a bare
    # carriage return, the two would read as one CRLF. The file's last line
    # is the cell's last when the file does not end with a line break, else
    # the one before.
    last = source.header_line + lines.read
    text = cell.removesuffix(_EOF).removesuffix("\n")
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    opening = last - breaks + (1 if lines.ended_with_break else 0)
    return InputFileError(
        f"{source.path}: line {opening}: a quoted cell starts here and is "
        "never closed (the rest of the file would be read into it): check its quotes"
    )
