"""A large CSV's rows, read, keyed and written by a second process while wdh resolves.

Reading, keying and writing a CSV is Python per row, and resolving the
distinct key tuples is Python per tuple; in one process they take turns on
one core. From CSV_PROCESS_BYTES on, a child process (`python -m
wdh_cli.resolve.csv_process`) does the per-row side: it reads the file in
batches, sends wdh each batch's distinct key tuples with their row counts,
and writes the batch once wdh sends back one answer (company ID, source) per
tuple. wdh keeps the answers, the five layers and the database, exactly as
for a run in one process (wdh_cli.resolve.answers.AnswerBook.resolve_counts,
as `resolve --table` uses it), so output and figures are the same.

The child runs up to LOOKAHEAD batches ahead of the answers; a thread of its
own takes in wdh's answers, so neither side ever waits on a full pipe for
the other. The child writes the output into the temporary file wdh made;
wdh renames it into place when the whole run succeeded, or removes it,
whatever became of the child.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from wdh_cli.errors import InputFileError
from wdh_cli.files import output_error
from wdh_cli.resolve.child import Child, Receive, Send, serve
from wdh_cli.resolve.rows import Batch, batches, row_keys_text
from wdh_cli.resolve.table import OutputLayout, csv_output
from wdh_cli.resolve.tuning import bulk_run
from wdh_cli.sheets import InputTable, open_csv

# Input size from which a CSV's rows go to a child process: below it,
# starting one (about 0.2 s) costs more than it saves.
CSV_PROCESS_BYTES = 8 << 20
LOOKAHEAD = 2  # batches the child reads ahead of wdh's answers


@dataclass(frozen=True)
class Job:
    """What the child needs to read the file as wdh did, and to write the output."""

    path: Path
    encoding: str
    picks: list[int | None]  # where each RowKeys field is (wdh_cli.resolve.service._columns)
    batch_size: int
    id_column: str
    source_column: str
    target: Path | None  # the output, for messages (None under plan-only: nothing is written)
    tmp: Path | None  # where the child writes it; wdh's OutputTable owns this file


@dataclass(frozen=True)
class KeyedBatch:
    """A batch as wdh sees it: distinct key tuples (first-row order), their rows, all rows."""

    keys: list[Any]
    counts: list[int]
    rows: int


class CsvProcess:
    """wdh's side: the child's batches in, one answer per distinct tuple out."""

    def __init__(self, job: Job) -> None:
        self._child = Child("wdh_cli.resolve.csv_process", what=f"the process reading {job.path}")
        self._open = True
        try:
            self._child.send(("job", job))
        except BaseException:
            self.abandon()
            raise

    def batches(self) -> Iterator[KeyedBatch]:
        """Each batch's key tuples, until the input ends."""
        while True:
            message = self._child.receive()
            if message[0] == "done":
                return
            yield KeyedBatch(message[1], message[2], message[3])

    def answer(self, suffixes: list[list[str]]) -> None:
        """A batch's answers: [company ID, source] per distinct tuple, in the order sent."""
        self._child.send(("answers", suffixes))

    def finish(self) -> None:
        """The run succeeded: the child closes the output file (wdh renames it) and ends."""
        self._child.send(("finish",))
        self._child.receive()
        self._child.finish()
        self._open = False

    def abandon(self) -> None:
        if self._open:
            self._open = False
            self._child.stop()

    def __enter__(self) -> CsvProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None:
            self.abandon()


def _serve(receive: Receive, send: Send) -> None:
    """The child: read, key, count and send each batch; write it when its answers come."""
    job: Job = receive()[1]
    with _naming_input(job.path):
        table = open_csv(job.path, job.encoding)
    layout = OutputLayout(table, job.id_column, job.source_column)
    answers: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
    threading.Thread(target=_take_in, args=(receive, answers), daemon=True).start()
    output = _Output(job, layout)
    pending: deque[tuple[Batch, list[Any], list[Any]]] = deque()
    with bulk_run():
        for batch in _read(table, job.batch_size):
            keys = row_keys_text(batch.cells, job.picks)
            counts = Counter(keys)  # distinct tuples, in first-row order
            distinct = list(counts)
            send(("batch", distinct, list(counts.values()), len(batch.cells)))
            pending.append((batch, keys, distinct))
            if len(pending) > LOOKAHEAD:
                output.write(pending.popleft(), _next(answers)[1])
        while pending:
            output.write(pending.popleft(), _next(answers)[1])
    send(("done",))
    _next(answers)  # "finish": the run succeeded
    output.close()
    send(("written",))


def _read(table: InputTable, size: int) -> Iterator[Batch]:
    with _naming_input(table.path):
        yield from batches(table, size)


@contextmanager
def _naming_input(path: Path) -> Iterator[None]:
    """The input changed or vanished since wdh read its header: an error naming it (exit 2)."""
    try:
        yield
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it changed while being read"
        raise InputFileError(f"{path}: cannot read ({reason})") from None


class _Output:
    """The child's writing of the output; an OSError names the output (exit 2)."""

    def __init__(self, job: Job, layout: OutputLayout) -> None:
        self._job = job
        self._layout = layout
        self._text: TextIO | None = None
        if job.tmp is not None:
            with self._naming_output():
                self._text, self._csv = csv_output(job.tmp, job.encoding)
                self._csv.writerow(layout.header)

    def write(self, item: tuple[Batch, list[Any], list[Any]], suffixes: list[list[str]]) -> None:
        batch, keys, distinct = item
        if self._text is None:
            return
        of_key = dict(zip(distinct, suffixes, strict=True))
        rows = self._layout.rows(batch.cells, list(map(of_key.__getitem__, keys)))
        with self._naming_output():
            self._csv.writerows(rows)

    def close(self) -> None:
        if self._text is not None:
            with self._naming_output():
                self._text.close()

    @contextmanager
    def _naming_output(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            assert self._job.target is not None
            raise output_error(self._job.target, exc) from None


def _next(answers: queue.SimpleQueue[tuple[Any, ...]]) -> tuple[Any, ...]:
    """wdh's next message; its end or "abandon" stops the child."""
    message = answers.get()
    if message[0] in ("answers", "finish"):
        return message
    raise EOFError


def _take_in(receive: Receive, answers: queue.SimpleQueue[tuple[Any, ...]]) -> None:
    """wdh's messages into a queue as they come, so wdh never waits on a full pipe."""
    try:
        while True:
            answers.put(receive())
    except Exception:
        answers.put(("abandon",))


if __name__ == "__main__":
    # Served by the module under its own name (not __main__), so Job and the
    # errors unpickle as wdh's classes.
    from wdh_cli.resolve import csv_process

    sys.exit(serve(csv_process._serve))
