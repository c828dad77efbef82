"""Resolving a frame in process: a polars DataFrame in, its rows' answers out.

The frame's key columns become text as a spreadsheet's cells do
(`wdh_cli.tabular.sheets.cell_text`: 12345.0 is "12345", a date its ISO
form), the engine works out every distinct key and name
(wdh_cli/resolution/engine.py), and each row gets its company ID and its
source, in the frame's order. The public entry
point, which also takes pandas DataFrames and pyarrow Tables, is
`wdh_cli.resolve_frame` (wdh_cli/api.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

import polars as pl

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import UsageError
from wdh_cli.resolution.engine import RunSetup
from wdh_cli.resolution.figures import ResolveStats
from wdh_cli.resolution.frame import FrameRows
from wdh_cli.resolution.keys import KeyPlan
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.tabular.sheets import cell_text

ROW = "__wdh_row"  # the frame's row numbers, while its answers are joined back


def resolve_polars(
    settings: Settings,
    db: Database,
    frame: pl.DataFrame,
    options: ResolveOptions,
    *,
    warn: Callable[[str], None] = lambda message: None,
) -> tuple[pl.DataFrame, ResolveStats]:
    """Every row of `frame` resolved: its answers (a frame of the two output columns, row for
    row), and the figures.

    A blank row (every cell empty) is no row, as in a file: it gets no answer
    (both columns null) and is not counted.
    """
    read = options.columns.read()
    for name in (options.columns.output, options.columns.output_source):
        if name in frame.columns and name in read.values():
            raise UsageError(f"the output column {name!r} is also a column resolve reads")
    if read["name"] not in frame.columns:
        found = ", ".join(repr(column) for column in frame.columns)
        raise UsageError(
            f"the frame has no column {read['name']!r} (the customer name; columns= renames "
            f"it); columns found: {found}"
        )
    numbered = frame.with_row_index(ROW)
    blank = pl.all_horizontal([_empty(column, dtype) for column, dtype in frame.schema.items()])
    kept = numbered.filter(~blank) if frame.width else numbered
    keys = _key_frame(kept, read)
    setup = RunSetup(settings, options)
    stats = ResolveStats()
    with ExitStack() as stack:
        run = setup.start(setup.connect(db, stack, warn), stack, stats, warn)
        rows = FrameRows(KeyPlan(), lambda: iter([keys]), most_rows=keys.height)
        run.resolve(rows)
        answers = rows.answers(keys)
        run.settle()
    outputs = [options.columns.output, options.columns.output_source]
    answered = kept.select(ROW).with_columns(
        answers.to_series(0).alias(outputs[0]), answers.to_series(1).alias(outputs[1])
    )
    joined = numbered.select(ROW).join(answered, on=ROW, how="left", maintain_order="left")
    return joined.select(outputs), stats


def _key_frame(frame: pl.DataFrame, read: dict[str, str]) -> pl.DataFrame:
    """The row fields of the frame, as text (a cell as a spreadsheet shows it), null if blank."""
    return frame.select(
        [
            _as_text(frame, column).alias(field)
            if column in frame.columns
            else pl.lit(None, pl.String).alias(field)
            for field, column in read.items()
        ]
    )


def _empty(column: str, dtype: pl.DataType) -> pl.Expr:
    """Whether a cell is empty: null, or text that is "" (lists, structs and Python objects,
    which have no text, only when null)."""
    cell = pl.col(column)
    if dtype.is_nested() or dtype == pl.Object:
        return cell.is_null()
    return cell.is_null() | (cell.cast(pl.String) == "")


def _as_text(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A column's cells as the text `cell_text` gives them (natively for the common types)."""
    dtype = frame.schema[column]
    cell = pl.col(column)
    if dtype.is_nested() or dtype == pl.Object:
        raise UsageError(
            f"the frame's column {column!r} holds {dtype}: a column resolve reads holds "
            "text, numbers, dates or booleans"
        )
    if dtype == pl.String:
        text = cell
    elif dtype.is_integer():
        text = cell.cast(pl.String)
    elif dtype == pl.Boolean:
        text = pl.when(cell).then(pl.lit("TRUE")).when(~cell).then(pl.lit("FALSE"))
    elif dtype == pl.Date:
        text = cell.dt.strftime("%Y-%m-%d")
    elif dtype == pl.Null:
        text = cell.cast(pl.String)  # a column, not a literal: as many rows as the frame
    else:
        # Floats, datetimes, decimals and the rest: per distinct value, as a
        # spreadsheet's cell would read (few distinct values in key columns).
        values = frame.get_column(column).unique()
        texts = {value: cell_text(value) for value in values.to_list() if value is not None}
        text = cell.replace_strict(texts, default=None, return_dtype=pl.String)
    return pl.when(text == "").then(pl.lit(None, pl.String)).otherwise(text)
