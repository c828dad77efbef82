"""File helpers shared by services: atomic writes, text encodings, CSV files for people."""

from __future__ import annotations

import codecs
import csv
import errno
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from wdh_cli.errors import InputFileError, OutputFileError

# The csv module refuses fields over 128 KiB by default; a spreadsheet cell can
# legitimately be longer (the column limits reject over-long keys later).
# Process-wide, so it is set here, once.
csv.field_size_limit(1 << 30)


def csv_writer(handle: TextIO) -> Any:
    """A csv writer with RFC 4180 line ends.

    The csv module quotes a field only when it holds a character of the line
    terminator, so CRLF makes it quote both CR and LF inside values (a
    bare-LF terminator would leave a CR unquoted, and the file unreadable).
    """
    return csv.writer(handle, lineterminator="\r\n")


# CSV files made for a person to open (review export, `queue resolved`,
# `mappings export` as CSV): Excel and WPS run a cell that begins with one
# of these as a formula (CSV injection: `=HYPERLINK(...)` sends data out,
# DDE runs programs on old installs). Such a cell is written with an
# apostrophe in front, which they show as text. To keep that reversible, a
# cell that begins with apostrophes followed by one of these gets one more
# too; a reader takes one leading apostrophe off a cell that begins with
# apostrophes followed by one of these, and leaves every other cell as it
# is (docs/commands.md, "CSV files for people").
FORMULA_STARTS = "=+-@\t\r"
_NEEDS_APOSTROPHE = re.compile(r"'*[=+\-@\t\r]")
_WDH_APOSTROPHE = re.compile(r"'+[=+\-@\t\r]")
_FIRST = frozenset("'" + FORMULA_STARTS)


def escape_cell(value: object) -> str:
    """A cell's text for a CSV made for people: an apostrophe in front when a spreadsheet
    program would run it as a formula (or it begins with apostrophes before such a start).

    None is "", other values their `str` (numbers: `-5` becomes `'-5`).
    """
    text = value if type(value) is str else "" if value is None else str(value)
    if text[:1] in _FIRST and _NEEDS_APOSTROPHE.match(text):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """A cell of a CSV made for people as it was before `escape_cell`.

    Takes off one leading apostrophe, and only when apostrophes are followed
    by a formula start (`'=x` -> `=x`, `''-5` -> `'-5`): any other text, a
    hand-written `'abc` included, is kept as it is.
    """
    if text[:1] == "'" and _WDH_APOSTROPHE.match(text):
        return text[1:]
    return text


class PeopleCsvWriter:
    """`csv_writer` whose every cell goes through `escape_cell`."""

    def __init__(self, handle: TextIO) -> None:
        self._writer = csv_writer(handle)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([escape_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def people_csv_writer(handle: TextIO) -> PeopleCsvWriter:
    """A writer of a CSV made for a person to open in Excel or WPS: no cell runs as a formula."""
    return PeopleCsvWriter(handle)


def output_error(path: Path, exc: OSError) -> OutputFileError:
    """The one-line error (exit 2) for an output that cannot be written, naming the path."""
    return OutputFileError(f"{path}: cannot write ({exc.strerror or type(exc).__name__})")


def create_beside(path: Path) -> tuple[int, Path]:
    """Create `.<name>.<random>.tmp` beside `path`, to be renamed onto it when complete.

    The file is created like any new file, mode 0666 less the umask (mkstemp
    would make it 0600, and the rename would keep that). A missing parent
    directory is created. OutputFileError (exit 2, naming `path`) when `path`
    is a directory or nothing can be created there.
    """
    if path.is_dir():
        raise OutputFileError(f"{path}: is a directory")
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputFileError(f"{path}: {path.parent} is not a directory")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            try:
                return os.open(tmp, flags, 0o666), tmp
            except FileExistsError:
                continue  # another writer's name: draw again
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))
    except OSError as exc:
        raise output_error(path, exc) from None


@contextmanager
def atomic_text_file(path: Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Write `path` through a temporary file renamed into place on success.

    A failure (or Ctrl-C) leaves no half-written file behind, and an existing
    file untouched. A path that cannot be written is an OutputFileError
    (exit 2) naming it; so is a write that fails (a full disk) in the block.
    """
    with atomic_path(path) as tmp, tmp.open("w", encoding=encoding, newline="") as handle:
        yield handle


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write, renamed to `path` on success.

    For writers that open the file themselves (XlsxWriter). A failure leaves
    no partial file behind, and an existing file untouched.
    """
    fd, tmp = create_beside(path)
    os.close(fd)
    try:
        try:
            yield tmp
            os.replace(tmp, path)
        except OSError as exc:
            raise output_error(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_text_file(path: Path) -> str:
    """A whole file's text in UTF-8 (BOM optional) or GB18030; else InputFileError naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return data.decode(detect_encoding(data))
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: neither UTF-8 nor GB18030 text") from None


def detect_file_encoding(path: Path, *, chunk: int = 1 << 20) -> str:
    """`detect_encoding` for a file of any size: decodes it chunk by chunk, keeping none.

    Raises OSError when the file cannot be read, UnicodeDecodeError when no
    encoding decodes the whole file.
    """
    with path.open("rb") as handle:
        candidates = ["utf-8-sig"] if handle.read(3) == b"\xef\xbb\xbf" else ["utf-8", "gb18030"]
        for encoding in candidates:
            handle.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                while block := handle.read(chunk):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                continue
            return encoding
    raise UnicodeDecodeError(candidates[-1], b"", 0, 1, "neither UTF-8 nor GB18030")


def detect_encoding(data: bytes) -> str:
    """utf-8-sig (BOM), utf-8, or gb18030: the first that decodes the whole file.

    Raises UnicodeDecodeError when none does.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise UnicodeDecodeError("utf-8", data, 0, 1, "neither UTF-8 nor GB18030")
