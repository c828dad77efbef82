"""Layer 2 of a file run (wdh_cli/resolution/cache.py): reading a small level whole and
sending the input's keys find the same hits, so the choice between them is one of speed."""

from __future__ import annotations

import polars as pl
import psycopg

from wdh_cli.resolution.cache import SEND_ALWAYS, LevelCache
from wdh_cli.resolution.keys import KeyPlan


def _hits(conn: psycopg.Connection, most_rows: int | None) -> tuple[LevelCache, pl.DataFrame]:
    plan = KeyPlan()
    cache = LevelCache(conn, plan, most_rows)
    keys = {
        "plan": ["P1", "P2", "P-none"],
        "account": ["A1", "A-none"],
        "account_name": ["某计划"],
    }
    found = {}
    for column in cache.sent:
        types = [level.match_type for level in plan.levels if level.column == column]
        values = sorted({value for match_type in types for value in keys.get(match_type, [])})
        found[column.name] = pl.DataFrame({column.name: values}, schema={column.name: pl.String})
    cache.send(found)
    names = pl.DataFrame({"key": ["甲公司", "乙公司"]})
    return cache, cache.hits(names).sort("match_type", "key", "cand")


def test_a_level_read_whole_and_a_level_sent_key_by_key_give_the_same_hits(
    conn: psycopg.Connection,
) -> None:
    conn.execute(
        """INSERT INTO enterprise.company_mapping
               (alias_name, canonical_id, match_type, priority, source)
           VALUES ('P1', 'C-P1', 'plan', 1, 'test'), ('P9', 'C-P9', 'plan', 1, 'test'),
                  ('A1', 'C-A1', 'account', 2, 'test'), ('甲公司', 'C-NAME', 'name', 4, 'test')"""
    )
    # Without a row count the small levels are read whole; a small input sends its keys.
    pulled_cache, pulled = _hits(conn, None)
    sent_cache, sent = _hits(conn, SEND_ALWAYS)
    assert pulled_cache.sent == [] and len(sent_cache.sent) > 0
    # A level read whole brings its other keys too (P9): the input's rows never join them.
    asked = pulled.filter(pl.col("key") != "P9")
    assert asked.equals(sent), (asked, sent)
    assert set(sent["key"]) == {"P1", "A1", "甲公司"}
