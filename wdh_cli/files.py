"""File helpers shared by services: atomic writes, text encodings, CSV files for people."""

from __future__ import annotations

import codecs
import csv
import errno
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
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
    _check_target(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            tmp = _temporary_name(path)
            try:
                return os.open(tmp, flags, 0o666), tmp
            except FileExistsError:
                continue  # another writer's name: draw again
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))
    except OSError as exc:
        raise output_error(path, exc) from None


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise OutputFileError(f"{path}: is a directory")
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputFileError(f"{path}: {path.parent} is not a directory")


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


class PendingFile:
    """An output being written beside `target`, which appears there only on `commit`.

    Where the system allows it (Linux's O_TMPFILE) the file has no name at
    all until the commit links it into place: whatever stops wdh, even
    SIGKILL, leaves nothing behind. Elsewhere it is `.<name>.<random>.tmp`,
    renamed on commit and removed on discard. `fd` is open for writing;
    `path` opens the same file by name, in this process or, with
    `for_process`, in another one (a writer process). OutputFileError (exit
    2, naming the target) when nothing can be created there.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self._named: Path | None = None
        _check_target(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(target.parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666)
        except (AttributeError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in _NO_TMPFILE:
                raise output_error(target, exc) from None
            self.fd, self._named = create_beside(target)
        self.done = False

    @property
    def path(self) -> Path:
        return self.for_process(os.getpid())

    def for_process(self, pid: int) -> Path:
        """A name by which process `pid` (of the same user) opens this file."""
        return self._named if self._named is not None else Path(f"/proc/{pid}/fd/{self.fd}")

    def commit(self) -> None:
        """Put the file in place of the target (closing it); OutputFileError if it cannot be."""
        try:
            if self._named is None:
                # An unnamed file gets a temporary name first (a link cannot
                # replace a file), then takes the target's in one rename: a
                # reader sees the old file or the new one, never a part.
                named = _temporary_name(self.target)
                folder = os.open(named.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    # A directory fd makes os.link call linkat(), which
                    # follows the /proc link to the file (link() would not).
                    os.link(f"/proc/self/fd/{self.fd}", named.name, dst_dir_fd=folder)
                finally:
                    os.close(folder)
                self._named = named
            os.close(self.fd)
            self.done = True
            os.replace(self._named, self.target)
        except OSError as exc:
            self.discard()
            raise output_error(self.target, exc) from None

    def discard(self) -> None:
        if not self.done:
            self.done = True
            with suppress(OSError):
                os.close(self.fd)
        if self._named is not None:
            self._named.unlink(missing_ok=True)


# What os.open(dir, O_TMPFILE) raises where the file system cannot make unnamed files.
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT}


@contextmanager
def atomic_text_file(path: Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Write `path` through a PendingFile: whole, or not at all.

    A failure (or Ctrl-C) leaves no half-written file behind, and an existing
    file untouched. A path that cannot be written is an OutputFileError
    (exit 2) naming it; so is a write that fails (a full disk) in the block.
    """
    with atomic_path(path) as tmp, tmp.open("w", encoding=encoding, newline="") as handle:
        yield handle


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A path to write `path` through (a PendingFile's), put in place on success.

    For writers that open the file themselves (XlsxWriter). A failure leaves
    no partial file behind, and an existing file untouched.
    """
    pending = PendingFile(path)
    try:
        try:
            yield pending.path
        except OSError as exc:
            raise output_error(path, exc) from None
        pending.commit()
    except BaseException:
        pending.discard()
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
