"""File helpers shared by services: atomic writes, text encodings."""

from __future__ import annotations

import codecs
import csv
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

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


@contextmanager
def atomic_text_file(path: Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Write `path` through a temporary file renamed into place on success.

    A failure (or Ctrl-C) leaves no half-written file behind, and an existing
    file untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
