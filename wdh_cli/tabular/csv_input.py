"""A CSV input of `wdh resolve`, read in passes, in native code where the file allows.

`open_csv_input` looks at the whole file once, cheaply (byte counts in C,
UTF-8 checked by polars): its encoding (UTF-8 with or without a byte-order
mark, else GB18030), whether its quotes pair up, whether a line ends in a
bare carriage return; then it reads the header, the first record that is not
blank, with the csv module. Each pass (`CsvPasses`) then reads the data rows:

- the fast way, polars' CSV reader, on chunks of the file cut between
  records: no Python object per cell;
- the exact way, the csv module itself, for a file polars would read
  otherwise or not at all: a row longer than the header (its cells are kept
  as they are), a bare carriage return ending a line, a quote inside an
  unquoted cell, or an odd number of quotes (a stray quote, or a quoted
  cell never closed, which is an error naming its line: the rest of the
  file must not vanish into one cell).

Blank rows (every cell empty) are left out; an empty cell is null.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import TextIO

import polars as pl

import wdh_cli.files  # noqa: F401  (lifts the csv module's field size limit)
from wdh_cli.errors import InputFileError
from wdh_cli.resolution.frame import Reread

BOM = "\ufeff"
SCAN_CHUNK = 1 << 23  # bytes the prescan reads at a time
READ_BLOCK = 1 << 23  # bytes polars parses at a time: a pass holds a few such chunks
EXACT_ROWS = 20_000  # rows of a block read the exact way
_EOF = "\x00wdh: end of file\x00"  # the line the exact way feeds the csv module last


def column_name(index: int) -> str:
    """The name of the input's column `index` in a block (a header may repeat names)."""
    return f"c{index}"


@dataclass(frozen=True)
class CsvInput:
    """A CSV file's encoding and header, and how its data rows are read."""

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


@dataclass(frozen=True)
class Block:
    """Rows of one pass: their cells as a frame of `width` text columns (c0, c1, ...; null
    where empty) and, when read the exact way, the rows as read (ragged ones too)."""

    frame: pl.DataFrame
    rows: list[list[str]] | None = None


def open_csv_input(path: Path) -> CsvInput:
    """Settle how to read `path`; InputFileError (exit 2) naming it when it cannot be read."""
    try:
        stat = path.stat()
        encoding, odd_quotes, bare_cr = _prescan(path)
        if encoding is None:
            raise InputFileError(f"{path}: neither UTF-8 nor GB18030 text")
        header, line, records, offset = _header(path, encoding, by_bytes=not bare_cr)
    except OSError as exc:
        raise read_error(path, exc) from None
    return CsvInput(
        path,
        encoding,
        header,
        line,
        records,
        offset,
        exact=odd_quotes or bare_cr or offset is None,
        stamp=(stat.st_size, stat.st_mtime_ns),
    )


def read_error(path: Path, exc: OSError) -> InputFileError:
    """An input that cannot be read (gone, unreadable, a disk error): one line naming it."""
    return InputFileError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})")


class CsvPasses:
    """Passes over a CSV input's data rows (`FrameRows` calls it for each pass).

    The first pass that finds a row polars reads otherwise switches to the
    exact way for good; if it had handed out rows already, it raises
    `Reread`, and the pass starts again. Each pass first checks that the
    file is the one opened: every pass must read the same rows.
    """

    def __init__(self, source: CsvInput, *, exact_rows: int = EXACT_ROWS) -> None:
        self.source = source
        self._exact_rows = exact_rows

    def __call__(self) -> Iterator[Block]:
        source = self.source
        _check_unchanged(source)
        if source.exact:
            yield from _exact(source, self._exact_rows)
            return
        handed = False
        try:
            for block in _fast(source):
                handed = True
                yield block
            return
        except _ReadOtherwise:
            self.source = replace(source, exact=True)
        if handed:
            raise Reread
        yield from _exact(self.source, self._exact_rows)


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


# The prescan ---------------------------------------------------------------
def _prescan(path: Path) -> tuple[str | None, bool, bool]:
    """(encoding or None, an odd number of quotes, a bare carriage return), in one read."""
    quotes = 0
    bare_cr = False
    utf8 = True
    with path.open("rb") as handle:
        start = handle.read(3)
        bom = start == b"\xef\xbb\xbf"
        carry = b"" if bom else start
        while True:
            data = handle.read(SCAN_CHUNK)
            chunk = carry + data
            if data:
                # Cut after the last line feed: it never ends inside a
                # character (UTF-8 or GB18030), nor between CR and LF.
                cut = chunk.rfind(b"\n") + 1
                chunk, carry = chunk[:cut], chunk[cut:]
            else:
                carry = b""
            if chunk:
                quotes += chunk.count(b'"')
                bare_cr = bare_cr or chunk.count(b"\r") != chunk.count(b"\r\n")
                utf8 = utf8 and _valid_utf8(chunk)
            if not data:
                break
    if utf8:
        return ("utf-8-sig" if bom else "utf-8"), quotes % 2 == 1, bare_cr
    if not bom and _decodes(path, "gb18030"):
        return "gb18030", quotes % 2 == 1, bare_cr
    return None, False, False


def _valid_utf8(data: bytes) -> bool:
    try:
        pl.Series([data], dtype=pl.Binary).cast(pl.String, strict=True)
    except pl.exceptions.PolarsError:
        return False
    return True


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as handle:
        try:
            while data := handle.read(SCAN_CHUNK):
                decoder.decode(data)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


# The header ------------------------------------------------------------------
def _header(path: Path, encoding: str, *, by_bytes: bool) -> tuple[list[str], int, int, int | None]:
    """(the first non-blank record, trimmed; its line; records up to it; the offset after it).

    By bytes: the file's lines (split at line feeds, so the bytes read are
    known) feed the csv module one at a time, and the offset is where the
    header's last line ends. Otherwise (a bare carriage return ends some
    line) the csv module reads the text, and there is no offset.
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
                yield raw.decode(encoding, errors="replace")

    with path.open(encoding=encoding, newline="", errors="replace") as text:
        reader = csv.reader(byte_lines() if by_bytes else text)
        for record in reader:
            records += 1
            header = [cell.strip() for cell in record]
            if records == 1 and header:
                # A byte-order mark the decoding kept (GB18030 has its own): not a name.
                header[0] = header[0].removeprefix(BOM).strip()
            if any(header):
                line = lines if by_bytes else reader.line_num
                return header, line, records, consumed if by_bytes else None
    raise InputFileError(f"{path}: empty file (no header row)")


# The fast way ----------------------------------------------------------------
class _ReadOtherwise(Exception):
    """polars cannot read the file as the csv module does: read it the exact way."""


def _fast(source: CsvInput) -> Iterator[Block]:
    """polars' CSV reader on chunks of the file cut between records.

    A chunk ends at a line feed after an even number of quotes (the
    prescan found their number even): no quoted cell is ever cut. polars
    reads what the csv module reads, or raises: a quote inside an unquoted
    cell, text after a closing quote, a row longer than the header (those
    files are read the exact way). Each chunk starts with a line feed (an
    empty line, skipped), so a byte-order mark opening its first cell stays
    in the cell.
    """
    schema = {column_name(index): pl.String for index in range(source.width)}
    assert source.data_offset is not None
    for chunk in _chunks(source):
        if source.encoding == "gb18030":
            chunk = chunk.decode("gb18030").encode("utf-8")
        try:
            frame = pl.read_csv(
                b"\n" + chunk,
                has_header=False,
                schema=schema,
                missing_columns="insert",
                extra_columns="raise",
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError as exc:
            raise _ReadOtherwise from exc
        frame = frame.filter(~pl.all_horizontal(pl.all().is_null()))
        if frame.height:
            yield Block(frame)


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
            raise InputFileError(f"{source.path}: not {source.encoding} text throughout") from None
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
    # The cell runs from its opening quote to the sentinel, whose line is the
    # file's last line plus one (plus two when the file ends with a line
    # break: then the fed line feed is a line of its own).
    last = source.header_line + lines.read
    sentinel_line = last + (2 if lines.ended_with_break else 1)
    text = cell.removesuffix(_EOF)
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return InputFileError(
        f"{source.path}: line {sentinel_line - breaks}: a quoted cell starts here and is "
        "never closed (the rest of the file would be read into it): check its quotes"
    )
