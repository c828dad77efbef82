"""CSV files for people (wdh_cli/files.py): no cell runs as a formula, and reading undoes it."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wdh_cli.files import FORMULA_STARTS, escape_cell, people_csv_writer, unescape_cell

# Text that often begins with apostrophes and formula starts, and any text at all.
_EDGY = st.text(alphabet=st.sampled_from(["'", *FORMULA_STARTS, "a", "1", "公", " ", "\n"]))
TEXT = st.one_of(st.text(), _EDGY, st.builds(lambda a, b: a + b, _EDGY, st.text()))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x","点我")有限公司', '\'=HYPERLINK("http://x","点我")有限公司'),
        ("+1+2有限公司", "'+1+2有限公司"),
        ("-5", "'-5"),
        (-5, "'-5"),
        ("@SUM(1)公司", "'@SUM(1)公司"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),  # apostrophes before a formula start: one more
        ("'''-x", "''''-x"),
        ("'abc", "'abc"),  # before anything else: left alone
        ("''", "''"),
        ("a=b", "a=b"),
        (" =x", " =x"),  # the start is what counts
        ("", ""),
        (None, ""),
        (5, "5"),
        (0.72, "0.72"),
    ],
)
def test_cells_written_for_people(value: object, written: str) -> None:
    assert escape_cell(value) == written
    assert unescape_cell(written) == ("" if value is None else str(value))


@given(TEXT)
def test_the_round_trip_changes_nothing(value: str) -> None:
    written = escape_cell(value)
    assert written[:1] not in tuple(FORMULA_STARTS)
    assert unescape_cell(written) == value


@given(TEXT)
def test_a_reader_takes_off_only_what_escaping_puts_on(value: str) -> None:
    """A hand-written cell keeps its text unless it begins with apostrophes and a formula
    start; then exactly one apostrophe goes."""
    if re.match(r"'+[=+\-@\t\r]", value):
        assert unescape_cell(value) == value[1:]
    else:
        assert unescape_cell(value) == value


@given(st.lists(st.lists(TEXT, min_size=1, max_size=4), max_size=5))
def test_rows_survive_the_csv_file(rows: list[list[str]]) -> None:
    handle = io.StringIO(newline="")
    writer = people_csv_writer(handle)
    writer.writerows(rows)
    read = list(csv.reader(io.StringIO(handle.getvalue(), newline="")))
    for row in read:
        assert all(cell[:1] not in tuple(FORMULA_STARTS) for cell in row)
    assert [[unescape_cell(cell) for cell in row] for row in read] == rows
