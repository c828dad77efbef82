"""The key rules shared by the engines (wdh_cli/resolution/keys.py)."""

from __future__ import annotations

import sys

import polars as pl

from wdh_cli.resolution.keys import WHITESPACE


def test_whitespace_is_what_str_strip_removes() -> None:
    assert "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()) == WHITESPACE


def test_polars_trims_exactly_as_str_strip() -> None:
    cells = ["\u3000甲公司\u00a0", "\x1c乙\x1f", "\u200b丙\u200b", " ", "丁 戊"]
    trimmed = pl.Series(cells).str.strip_chars(WHITESPACE).to_list()
    assert trimmed == [cell.strip() for cell in cells]
