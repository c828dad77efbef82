"""The progress bars of the CLI: one look for every command, on stderr, on a terminal only.

`progress_bar` yields the callback a service reports through
(wdh_cli/progress.py), or None when no bar is shown: stderr is not a
terminal (a pipe, a file, a CI log), the terminal is dumb, or the command
prints --json. The bar shows the description, the bar, done of total (or
bytes), the rate, the time elapsed and the time left, and goes when the
block ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from wdh_cli.cli.context import err
from wdh_cli.progress import Progress as ProgressCallback

BYTES = "bytes"  # the unit of a bar counting bytes read: sizes in kB, MB, ... and MB/s


def shows_progress(*, quiet: bool = False) -> bool:
    """Whether a bar would be drawn: stderr is a terminal that can redraw a line, and not quiet."""
    return not quiet and sys.stderr.isatty() and not err.is_dumb_terminal


@contextmanager
def progress_bar(
    description: str, *, unit: str = "rows", quiet: bool = False
) -> Iterator[ProgressCallback | None]:
    """A bar on stderr while the block runs, and the callback (done, total) that moves it;
    None when no bar is shown (see the module's docstring; `quiet`: the command's --json).

    `unit` names what is counted ("rows", "names", "requests": 1,200/5,000 names, 310
    names/s), or is BYTES (1.2/5.0 MB, 3.1 MB/s). A total of None draws a bar that
    pulses and counts without a total.
    """
    if not shows_progress(quiet=quiet):
        yield None
        return
    if unit == BYTES:
        counted: list[ProgressColumn] = [DownloadColumn(), TransferSpeedColumn()]
    else:
        counted = [_Count(unit), _Rate(unit)]
    bar = Progress(
        TextColumn("{task.description}", markup=False),  # descriptions may hold paths
        BarColumn(),
        *counted,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=None)

        def report(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield report


class _Count(ProgressColumn):
    """1,200/5,000 names, or 1,200 names while the total is not known."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        shown = done if task.total is None else f"{done}/{int(task.total):,}"
        return Text(f"{shown} {self.unit}", style="progress.download")


class _Rate(ProgressColumn):
    """310 names/s, as rich estimates the speed (blank until it can)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("", style="progress.data.speed")
        return Text(f"{speed:,.0f} {self.unit}/s", style="progress.data.speed")
