"""The SQL loader: named queries and the shipped files."""

from __future__ import annotations

import pytest

from wdh_cli.db.sqlfiles import Queries, queries, sql_root


def test_named_blocks_are_split_without_their_opening_comment() -> None:
    parsed = Queries(
        "x.sql",
        "-- header\n\n-- name: first\n-- why, of {part}\n--\nSELECT 1 -- {part}\nFROM t;\n\n"
        "-- name: second_one\nSELECT 2;\n",
    )
    assert parsed.names() == ["first", "second_one"]
    # The opening comment is for readers: composing must not fill in its
    # {part}; comments inside the statement stay.
    assert parsed["first"] == "SELECT 1 -- {part}\nFROM t;"
    assert parsed["second_one"] == "SELECT 2;"
    with pytest.raises(KeyError, match=r"x\.sql has no query named 'third'"):
        parsed["third"]


def test_a_name_defined_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        Queries("x.sql", "-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


def test_shipped_query_files_parse() -> None:
    assert "lock_holder" in queries("migrate").names()
    assert queries("catalog").names() == ["existing_objects", "snapshot"]
    assert (sql_root() / "migrations").is_dir()
