"""A resolve's input rows in batches, and each row's key cells: the per-row side of a run.

Everything here is per row, so it runs in C where it can (islice, map,
itemgetter, str.join). It is shared by wdh's own process and the CSV
process beside it (wdh_cli.resolve.csv_process), so it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from operator import itemgetter
from typing import Any, NamedTuple

from wdh_cli.sheets import InputTable


class Batch(NamedTuple):
    numbers: list[int] | None  # each row's number in the sheet, for messages (xlsx only)
    cells: list[list[Any]]


def batches(table: InputTable, size: int) -> Iterator[Batch]:
    """Batches of rows padded to the header's width (so the added columns line up).

    Blank rows are dropped. Cells beyond the header are kept, after the added
    columns' places. A CSV row is a list of text, blank when no cell is
    truthy: its batches are cut with C-level iteration only, and carry no row
    numbers (nothing written to a CSV file is ever cut).
    """
    width = len(table.header)
    if table.format == "csv":
        rows = filter(any, table.rows)
        while cells := list(islice(rows, size)):
            if min(map(len, cells)) < width:
                cells = [_padded(row, width) for row in cells]
            yield Batch(None, cells)
        return
    numbers: list[int] = []
    cells = []
    for number, row in table.numbered_rows():
        # A sheet's cells are values: 0 and FALSE are not blank.
        if not any(row) and all(cell in ("", None) for cell in row):
            continue
        numbers.append(number)
        cells.append(_padded(row, width))
        if len(cells) == size:
            yield Batch(numbers, cells)
            numbers, cells = [], []
    if cells:
        yield Batch(numbers, cells)


def _padded(row: list[Any], width: int) -> list[Any]:
    return row if len(row) >= width else [*row, *[""] * (width - len(row))]


KeyCells = tuple[Any, ...]  # the key cells of a row, as read
# A CSV row's key cells joined into one string: one object to hash and to
# compare, where a tuple is five (measured: a lookup loop over a 1M-row CSV
# took 3.0 s with joined keys, 5.5 s with tuples). NUL never joins cells
# that hold it themselves (checked per batch), so two rows share a key only
# when they share every key cell.
SEPARATOR = "\x00"


def _key_getter(picks: list[int | None]) -> Callable[[list[Any]], KeyCells]:
    """A row's key cells (only the columns the input has), in one C-level call."""
    present = [at for at in picks if at is not None]
    if len(present) > 1:
        return itemgetter(*present)
    only = present[0]
    return lambda row: (row[only],)


def row_keys_cells(rows: list[list[Any]], picks: list[int | None]) -> list[Any]:
    """Each row's key cells, as a tuple (a sheet's cells are values of any type)."""
    return list(map(_key_getter(picks), rows))


def row_keys_text(rows: list[list[Any]], picks: list[int | None]) -> list[Any]:
    """Each CSV row's key cells as one joined string; tuples for a batch with a NUL in a key."""
    cells = list(map(_key_getter(picks), rows))
    joined = list(map(SEPARATOR.join, cells))
    width = sum(at is not None for at in picks)
    if "".join(joined).count(SEPARATOR) != len(joined) * (width - 1):
        return cells
    return joined
