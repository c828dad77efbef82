"""How resolve groups CSV rows by their key cells (pure functions of resolve/service.py)."""

from __future__ import annotations

from wdh_cli.resolve.resolver import RowKeys
from wdh_cli.resolve.rows import row_keys_text as _row_keys_text
from wdh_cli.resolve.service import row_keys_of

PICKS = [None, 0, 1, None, None]  # account in column 0, name in column 1


def test_rows_with_the_same_key_cells_share_one_key() -> None:
    keys = _row_keys_text([["A1", "甲"], ["A1", "甲"], ["A2", "甲"]], PICKS)
    assert keys[0] == keys[1] != keys[2]
    assert row_keys_of(PICKS)(keys[0]) == RowKeys(account="A1", name="甲")


def test_a_nul_inside_a_cell_cannot_make_two_rows_one() -> None:
    # Joined with NUL, both rows would read "A\\x00B\\x00C": the batch falls
    # back to tuples, which keep them apart.
    keys = _row_keys_text([["A\x00B", "C"], ["A", "B\x00C"]], PICKS)
    assert keys[0] != keys[1]
    row_keys = row_keys_of(PICKS)
    assert row_keys(keys[0]) == RowKeys(account="A\x00B", name="C")
    assert row_keys(keys[1]) == RowKeys(account="A", name="B\x00C")


def test_one_key_column_is_its_own_key() -> None:
    picks = [None, None, 0, None, None]
    assert _row_keys_text([["甲"], ["乙\x00"]], picks) == [("甲",), ("乙\x00",)]
    assert _row_keys_text([["甲"], ["乙"]], picks) == ["甲", "乙"]
