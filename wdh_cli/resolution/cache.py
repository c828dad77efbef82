"""Layer 2 as a file's run starts: the cache read once per level, set-based.

For each trimmed key column (plan codes, accounts, account names) one of two
ways, whichever moves less:
- the level is small (at most PULL_LIMIT mappings, and no more than the
  input has rows, when that is known): it is read whole, and the file's
  rows are joined to it, so the file's keys never travel (not for an
  input of SEND_ALWAYS rows or fewer: counting costs it more);
- otherwise the file's distinct keys go to the session (COPY into wdh_keys,
  batch by batch as the first pass reads them) and one join finds the
  stored ones.
Names are always sent: there is one key per distinct name, made in Python
anyway. Hits come back as CSV, read by polars: no Python object per key.
"""

from __future__ import annotations

import polars as pl
import psycopg

from wdh_cli.db.copy import csv_bytes
from wdh_cli.resolution import repository
from wdh_cli.resolution.keys import CACHE, STORED, KeyColumn, KeyPlan

# The largest level read whole. Reading a level costs about as much per
# mapping as sending a key costs per key; a file holds rarely more distinct
# keys of a level than this (an account a row: a million-row file). Measured
# in bench/bench_csv.py.
PULL_LIMIT = 500_000

# An input of no more rows than this sends its keys without counting the
# levels first: counting a level that is small or empty reads the whole
# cache (no index leads with match_type), 10 ms a level at 100,000 mappings
# and growing with the cache, while 10,000 keys are sent in a few ms.
# resolve_frame of 1,000 rows spent 60 of its 180 ms on the counts
# (bench/bench_resolve.py).
SEND_ALWAYS = 10_000

HITS = {"match_type": pl.String, "key": pl.String, "company_id": pl.String, "priority": pl.Int64}


class LevelCache:
    """The cache's answers for one file run's keys (see the module docstring).

    Calls: `send` for each batch of the first pass (the distinct keys of
    each column `sent` names), then `hits` once.
    """

    def __init__(
        self, conn: psycopg.Connection, plan: KeyPlan, most_rows: int | None = None
    ) -> None:
        self.conn = conn
        self.plan = plan
        # A level of more mappings than the input has rows costs more to read
        # than the input's keys (one a row at most) cost to send: 1,000 rows of
        # a frame read a 50,000-mapping level in 200 ms (bench/bench_resolve.py).
        limit = PULL_LIMIT if most_rows is None else min(PULL_LIMIT, most_rows)
        self._pulled: list[pl.DataFrame] = []
        self.sent: list[KeyColumn] = []  # the trimmed columns whose keys go to the session
        repository.create_keys(conn)
        for column in (c for c in plan.columns if c.trimmed):
            types = self._types(column)
            if limit <= SEND_ALWAYS:
                self.sent.append(column)  # a small input: its keys cost less than any count
            elif repository.level_size(conn, types, limit + 1) <= limit:
                data = repository.level_mappings(conn, types)
                self._pulled.append(_read(data, ["match_type", "key", "company_id", "priority"]))
            else:
                self.sent.append(column)

    def _types(self, column: KeyColumn) -> list[str]:
        return [level.match_type for level in self.plan.levels if level.column == column]

    def send(self, keys: dict[str, pl.DataFrame]) -> None:
        """A batch's distinct keys of each sent column (column name -> one-column frame)."""
        parts = [
            frame.select(pl.lit(match_type).alias("match_type"), pl.all().alias("key"))
            for column in self.sent
            for frame in [keys[column.name]]
            for match_type in self._types(column)
        ]
        if parts:
            repository.send_keys(self.conn, csv_bytes(pl.concat(parts)))

    def hits(self, names: pl.DataFrame) -> pl.DataFrame:
        """(match_type, key, cand) of every stored key of the run; `names`: the name keys."""
        name_type = self.plan.name_level.match_type
        repository.send_keys(
            self.conn, csv_bytes(names.select(pl.lit(name_type).alias("match_type"), pl.all()))
        )
        found = _read(repository.cache_hits(self.conn), list(HITS))
        pulled = [frame for frame in self._pulled if frame.height]
        codes = {level.match_type: level.code for level in self.plan.levels}
        return pl.concat([found, *pulled]).select(
            "match_type",
            "key",
            (
                pl.lit(CACHE)
                + pl.col("priority").cast(pl.String).str.zfill(4)
                + pl.col("match_type").replace_strict(codes)
                + pl.lit(STORED)
                + pl.col("company_id")
            ).alias("cand"),
        )


def _read(data: bytes, names: list[str]) -> pl.DataFrame:
    schema = {name: HITS[name] for name in names}
    if not data:
        return pl.DataFrame(schema=schema)
    return pl.read_csv(data, has_header=False, schema=schema)
