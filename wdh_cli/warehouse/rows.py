"""The engine's per-row work on a table, in PostgreSQL (`TableRows`).

A table's rows never leave the server: the distinct name cells come out
(once, for Python to key), the keys and the answers of layers 4 and 5 go in,
and every row is keyed, joined to its level's answers, decided, counted and
finally written by set-based statements (sql/queries/resolve_table.sql,
composed by wdh_cli/warehouse/repository.py). A file's rows are decided the
same way in polars (wdh_cli/resolution/frame.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import psycopg

from wdh_cli.db.copy import csv_bytes
from wdh_cli.resolution import repository as work
from wdh_cli.resolution.engine import Classes, Teaching
from wdh_cli.resolution.frame import waiting_names
from wdh_cli.resolution.keys import KeyPlan, yaml_candidate
from wdh_cli.resolution.overrides import Overrides
from wdh_cli.warehouse.repository import WAITING, ResolveStatements

_NAMES_PER_COPY = 25_000

# The columns of the classify query (wdh_cli/warehouse/repository.py).
_CLASSIFIED = {
    "class": pl.String,
    "key": pl.String,
    "raw": pl.String,
    "rows": pl.Int64,
    "whole": pl.Int64,
}


class TableRows:
    """The `Rows` of a table (wdh_cli/resolution/engine.py), on the run's connection."""

    def __init__(self, conn: psycopg.Connection, statements: ResolveStatements) -> None:
        self.conn = conn
        self.statements = statements
        self.plan: KeyPlan = statements.plan
        with conn.transaction():
            statements.create(conn)

    def distinct_names(self, conn: psycopg.Connection | None) -> list[str]:
        data = self.statements.distinct_names(self.conn)
        if not data:
            return []
        frame = pl.read_csv(data, has_header=False, schema={"raw": pl.String})
        return frame.to_series().fill_null("").to_list()

    def set_name_keys(self, raw: list[str], keys: list[str]) -> None:
        with self.conn.transaction():
            # A COPY per 25,000 names: the whole frame and its CSV at once held
            # 30 MB more of a run with 100,000 names (bench tables, own accounts).
            for start in range(0, len(raw), _NAMES_PER_COPY):
                end = start + _NAMES_PER_COPY
                names = pl.DataFrame(
                    {"raw": raw[start:end], "key": keys[start:end]},
                    schema={"raw": pl.String, "key": pl.String},
                )
                self.statements.send_names(self.conn, csv_bytes(names))

    def set_hits(self, overrides: Overrides, conn: psycopg.Connection | None) -> None:
        rows = [
            (level.match_type, key, yaml_candidate(level.priority, company))
            for level in self.plan.levels
            for key, company in (overrides.get(level.match_type) or {}).items()
        ]
        yaml = pl.DataFrame(
            rows,
            schema={"match_type": pl.String, "key": pl.String, "cand": pl.String},
            orient="row",
        )
        with self.conn.transaction():
            if yaml.height:
                self.statements.send_hits(self.conn, csv_bytes(yaml))
            self.statements.cache_hits(self.conn)

    def teach(self) -> Teaching:
        conn = self.conn
        with conn.transaction():
            work.create_learned(conn)
            taught, stored = self.statements.teach(conn)
            if taught.learned_keys:
                self.statements.learn(conn)
        return Teaching(
            learned_keys=taught.learned_keys,
            learned_rows=taught.learned_rows,
            conflict_keys=taught.conflict_keys,
            conflict_rows=taught.conflict_rows,
            stored_same_rows=stored.stored_same_rows,
            stored_other_rows=stored.stored_other_rows,
        )

    def stage_learned(self, conn: psycopg.Connection) -> None:
        """`teach` staged them already (in wdh_learned, on the server)."""

    def classify(self) -> Classes:
        with self.conn.transaction():
            self.statements.stage(self.conn)
        data = self.statements.classify(self.conn)
        found = (
            pl.read_csv(data, has_header=False, schema=_CLASSIFIED)
            if data
            else pl.DataFrame(schema=_CLASSIFIED)
        )
        by_source = {
            str(c): int(n)
            for c, n in found.filter(pl.col("whole") == 3).select("class", "rows").iter_rows()
        }
        waiting = found.filter((pl.col("whole") == 0) & (pl.col("class") == WAITING)).select(
            pl.col("key").alias("n_key"), pl.col("raw").fill_null(""), "rows"
        )
        total = sum(by_source.values())
        by_source.pop(WAITING, None)
        return Classes(total, by_source, waiting_names(waiting))

    def set_name_answers(self, answers: Mapping[str, tuple[str | None, str]]) -> None:
        frame = pl.DataFrame(
            {
                "key": list(answers),
                "company_id": [company for company, _ in answers.values()],
                "source": [source for _, source in answers.values()],
            },
            schema={"key": pl.String, "company_id": pl.String, "source": pl.String},
        )
        with self.conn.transaction():
            self.statements.set_name_answers(self.conn, csv_bytes(frame))
