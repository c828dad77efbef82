"""The engine's per-row work on files and frames, in polars (`FrameRows`).

The rows are read in passes, each a stream of polars frames whose columns
are the row fields (`plan`, `account`, `name`, `account_name`, `existing`;
text, null where a cell is blank), so memory holds the distinct keys of each
level and their answers, never the rows: a file twice as long with the same
keys costs no more memory. Python sees distinct names and keys only; every
row is keyed, joined to its level's answers and decided here, in polars.

Each row's answer is decided by `_decide` from its levels' candidates (see
wdh_cli/resolution/keys.py): the SQL of a table run
(sql/queries/resolve_table.sql) decides the same way, and
tests/integration/test_engine_properties.py holds the two to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import polars as pl
import psycopg

from wdh_cli.companies.ids import COMPANY_ID_PATTERN, NOT_A_COMPANY_PATTERN
from wdh_cli.db.copy import csv_bytes
from wdh_cli.resolution import repository
from wdh_cli.resolution.cache import LevelCache
from wdh_cli.resolution.engine import Classes, Teaching, Waiting
from wdh_cli.resolution.keys import (
    CACHE,
    CACHE_ID_AT,
    EXISTING_FIELD,
    LEARNED,
    MAX_KEY,
    WHITESPACE,
    YAML,
    YAML_ID_AT,
    KeyPlan,
    NativeLevel,
    learned_candidate,
    yaml_candidate,
)
from wdh_cli.resolution.overrides import Overrides

Passes = Callable[[], Iterator[pl.DataFrame]]  # a new pass over the rows, frame by frame

ID = "company_id"
SOURCE = "company_id_source"
WAITING = "\x00waiting"  # the class of a row left for layers 4 and 5 (never a source)
_NAME_KEY, _NAME_CAND, _FALLBACK_ID, _FALLBACK_SOURCE = "n_key", "n_cand", "n_id", "n_source"
_WINNER, _EXISTING, _EXISTING_OK, _CLASS = "w", "e", "e_ok", "class"
_NAME_ROW = "n_row"  # a name cell's row in the names table: rows group by it cheaply
# A row's class, as a number (grouping numbers is cheaper than grouping text):
# 100 + the level of its override, 200 + the level of its cache hit, or these.
_OWN, _WAITS, _NONE = 300, 400, 500
_COMPACT_ROWS = 1 << 18  # rows an accumulator may gather before it aggregates again
# Each batch is worked out in memory: the rows already come in batches, and
# polars' streaming engine, its default for a lazy query, made a batch's join
# several times slower (measured: a 1M-row join to 100k names, 0.09 s in
# memory against 0.24-0.6 s streaming).
ENGINE: Literal["in-memory"] = "in-memory"


class Reread(Exception):
    """Raised by a pass over the rows that must start again from the first row.

    (A CSV file found to need the csv module's reading halfway through its
    first pass: wdh_cli/tabular/csv_input.py.) Only the first pass may.
    """


class FrameRows:
    """The `Rows` of a file or a frame (wdh_cli/resolution/engine.py), in polars."""

    def __init__(self, plan: KeyPlan, passes: Passes, *, most_rows: int | None = None) -> None:
        self.plan = plan
        self._passes = passes
        self._most_rows = most_rows  # at most this many rows (for the cache's choice)
        self._names = pl.DataFrame(
            schema={"raw": pl.String, _NAME_KEY: pl.String, _NAME_CAND: pl.String}
        )
        self._hits: dict[str, pl.DataFrame] = {}  # match_type -> (key, cand), name level excepted
        self._cache: LevelCache | None = None
        self._learned: pl.DataFrame | None = None
        self.existing_cells = 0  # rows whose existing-ID cell is not blank

    # The engine's calls, in order ---------------------------------------------
    def distinct_names(self, conn: psycopg.Connection | None) -> list[str]:
        """One pass: the distinct names; with `conn`, the keys the cache is asked about."""
        while True:
            try:
                return self._first_pass(conn)
            except Reread:
                continue

    def _first_pass(self, conn: psycopg.Connection | None) -> list[str]:
        plan = self.plan
        name_field = plan.name_column.field
        cache = LevelCache(conn, plan, self._most_rows) if conn is not None else None
        self._cache = cache
        sent = cache.sent if cache is not None else []
        names = _distinct(name_field)
        self.existing_cells = 0
        for batch in self._passes():
            lazy = batch.lazy()
            found = pl.collect_all(
                [
                    lazy.select(pl.col(name_field).drop_nulls().unique()),
                    *[
                        lazy.select(_trimmed(c.field).alias(c.name))
                        .filter(_storable(c.name))
                        .unique()
                        for c in sent
                    ],
                ],
                engine=ENGINE,
            )
            names.add(found[0])
            if cache is not None and sent:
                cache.send(dict(zip([c.name for c in sent], found[1:], strict=True)))
            self.existing_cells += batch.height - batch[EXISTING_FIELD].null_count()
        return names.result().to_series().to_list()

    def set_name_keys(self, raw: list[str], keys: list[str]) -> None:
        self._names = (
            pl.DataFrame(
                {"raw": raw, _NAME_KEY: keys}, schema={"raw": pl.String, _NAME_KEY: pl.String}
            )
            .with_row_index(_NAME_ROW)
            .with_columns(pl.lit(None, pl.String).alias(_NAME_CAND))
        )

    def set_hits(self, overrides: Overrides, conn: psycopg.Connection | None) -> None:
        found: dict[str, list[pl.DataFrame]] = {level.match_type: [] for level in self.plan.levels}
        for level in self.plan.levels:
            entries = overrides.get(level.match_type) or {}
            if entries:
                found[level.match_type].append(
                    pl.DataFrame(
                        {
                            "key": list(entries),
                            "cand": [yaml_candidate(level.priority, i) for i in entries.values()],
                        },
                        schema={"key": pl.String, "cand": pl.String},
                    )
                )
        if conn is not None and self._cache is not None:
            keys = self._names.select(pl.col(_NAME_KEY).unique()).filter(_storable(_NAME_KEY))
            with conn.transaction():
                cached = self._cache.hits(keys)
            for match_type, level_hits in cached.group_by("match_type"):
                found[str(match_type[0])].append(level_hits.select("key", "cand"))
        hits = {
            match_type: (
                pl.concat(frames).group_by("key").agg(pl.col("cand").min())
                if frames
                else pl.DataFrame(schema={"key": pl.String, "cand": pl.String})
            )
            for match_type, frames in found.items()
        }
        name_type = self.plan.name_level.match_type
        self._names = self._names.drop(_NAME_CAND).join(
            hits.pop(name_type).rename({"key": _NAME_KEY, "cand": _NAME_CAND}),
            on=_NAME_KEY,
            how="left",
        )
        self._hits = hits

    def teach(self) -> Teaching:
        if not self.existing_cells:
            return Teaching()
        plan = self.plan
        taught = _summed(dict.fromkeys(["match_type", "key", ID], pl.String))
        stored_same = stored_other = 0
        for batch in self._passes():
            keyed = self._keyed(batch.lazy())
            names = keyed.collect_schema().names()
            # Teachers: rows with a company ID that no override answers (engine.md).
            winner = pl.col(_WINNER)
            teachers = keyed.filter(
                (winner.is_null() | winner.str.starts_with(CACHE)) & pl.col(_EXISTING_OK)
            )
            pairs = pl.concat(
                [
                    teachers.select(
                        pl.lit(level.match_type).alias("match_type"),
                        self._key_of(level).alias("key"),
                        pl.col(_EXISTING).alias(ID),
                        _level_candidate(level, plan, names).alias("cand"),
                    ).filter(_storable("key"))
                    for level in plan.backflow_levels
                ]
            )
            stored_id = pl.col("cand").str.slice(CACHE_ID_AT)
            new_keys, stored = pl.collect_all(
                [
                    pairs.filter(pl.col("cand").is_null())
                    .group_by("match_type", "key", ID)
                    .len("rows"),
                    pairs.filter(pl.col("cand").is_not_null()).select(
                        (stored_id == pl.col(ID)).sum().alias("same"),
                        (stored_id != pl.col(ID)).sum().alias("other"),
                    ),
                ],
                engine=ENGINE,
            )
            taught.add(new_keys)
            stored_same += int(stored["same"][0] or 0)
            stored_other += int(stored["other"][0] or 0)
        groups = (
            taught.result()
            .group_by("match_type", "key")
            .agg(pl.col(ID).n_unique().alias("ids"), pl.col(ID).first(), pl.col("rows").sum())
        )
        learned = groups.filter(pl.col("ids") == 1).drop("ids")
        conflicts = groups.filter(pl.col("ids") > 1)
        self._learned = learned
        for match_type, keys in learned.group_by("match_type"):
            level = plan.level(str(match_type[0]))
            cands = keys.select(
                "key", (pl.lit(learned_candidate(level.priority, "")) + pl.col(ID)).alias("cand")
            )
            if level is plan.name_level:
                learned_names = cands.rename({"key": _NAME_KEY, "cand": "learned"})
                self._names = (
                    self._names.join(learned_names, on=_NAME_KEY, how="left")
                    .with_columns(pl.coalesce(_NAME_CAND, "learned").alias(_NAME_CAND))
                    .drop("learned")
                )
            else:
                self._hits[level.match_type] = pl.concat([self._hits[level.match_type], cands])
        return Teaching(
            learned_keys=learned.height,
            learned_rows=int(learned["rows"].sum() or 0),
            conflict_keys=conflicts.height,
            conflict_rows=int(conflicts["rows"].sum() or 0),
            stored_same_rows=stored_same,
            stored_other_rows=stored_other,
        )

    def stage_learned(self, conn: psycopg.Connection) -> None:
        assert self._learned is not None
        priority = {level.match_type: level.priority for level in self.plan.levels}
        rows = self._learned.select(
            pl.col("key"),
            pl.col(ID),
            pl.col("match_type"),
            pl.col("match_type").replace_strict(priority, return_dtype=pl.Int32).alias("priority"),
            pl.col("rows"),
        )
        repository.send_learned(conn, csv_bytes(rows))

    def classify(self) -> Classes:
        counts = _summed({_CLASS: pl.Int32, _NAME_ROW: pl.UInt32})
        total = 0
        for batch in self._passes():
            decided = self._decide(self._keyed(batch.lazy()), answered=False)
            name_row = pl.when(pl.col(_CLASS) == _WAITS).then(pl.col(_NAME_ROW))
            counts.add(
                decided.select(_CLASS, name_row.alias(_NAME_ROW))
                .group_by(_CLASS, _NAME_ROW)
                .len("rows")
                .collect(engine=ENGINE)
            )
            total += batch.height
        found = counts.result()
        labels = self._labels()
        by_source: dict[str, int] = {}
        for code, rows in found.group_by(_CLASS).agg(pl.col("rows").sum()).iter_rows():
            if code != _WAITS:
                by_source[labels[code]] = by_source.get(labels[code], 0) + int(rows)
        waiting = found.filter(pl.col(_CLASS) == _WAITS).join(
            self._names.select(_NAME_ROW, _NAME_KEY, "raw"), on=_NAME_ROW
        )
        return Classes(total, by_source, waiting_names(waiting.select(_NAME_KEY, "raw", "rows")))

    def _labels(self) -> dict[int, str]:
        """The source each class number stands for (see _OWN)."""
        labels = {_OWN: "existing", _NONE: "unresolved", _WAITS: WAITING}
        for level in self.plan.levels:
            labels[100 + level.priority] = f"yaml:{level.match_type}"
            labels[200 + level.priority] = f"db:{level.match_type}"
        return labels

    def set_name_answers(self, answers: Mapping[str, tuple[str, str]]) -> None:
        found = pl.DataFrame(
            {
                _NAME_KEY: list(answers),
                _FALLBACK_ID: [company for company, _ in answers.values()],
                _FALLBACK_SOURCE: [source for _, source in answers.values()],
            },
            schema={_NAME_KEY: pl.String, _FALLBACK_ID: pl.String, _FALLBACK_SOURCE: pl.String},
        )
        self._names = self._names.join(found, on=_NAME_KEY, how="left")

    # Writing -----------------------------------------------------------------
    def answers(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Each row's (company_id, company_id_source), in the batch's order; null: no ID."""
        decided = self._decide(self._keyed(batch.lazy()), answered=True)
        return decided.select(pl.col(ID), pl.col(SOURCE)).collect(engine=ENGINE)

    # Per row -----------------------------------------------------------------
    def _key_of(self, level: NativeLevel) -> pl.Expr:
        if level is self.plan.name_level:
            return pl.col(_NAME_KEY)
        return pl.col(level.column.name)

    def _keyed(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """Rows with their keys, each level's candidate, the winner, and the existing ID."""
        plan = self.plan
        rows = rows.with_columns(
            *[_trimmed(c.field).alias(c.name) for c in plan.columns if c.trimmed],
            _trimmed(EXISTING_FIELD).alias(_EXISTING),
        )
        names = self._names.lazy()
        rows = rows.join(
            names.rename({"raw": plan.name_column.field}),
            on=plan.name_column.field,
            how="left",
            maintain_order="left",
        ).with_columns(pl.col(_NAME_KEY).fill_null(""))
        cands = [pl.col(_NAME_CAND)]
        for level in plan.levels:
            hits = self._hits.get(level.match_type)
            if level is plan.name_level or hits is None or hits.is_empty():
                continue
            alias = f"c_{level.match_type}"
            rows = rows.join(
                hits.lazy().rename({"key": level.column.name, "cand": alias}),
                on=level.column.name,
                how="left",
                maintain_order="left",
            )
            cands.append(pl.col(alias))
        existing = pl.col(_EXISTING)
        return rows.with_columns(
            pl.min_horizontal(cands).alias(_WINNER),
            (
                existing.str.contains(COMPANY_ID_PATTERN)
                & ~existing.str.contains("(?i)" + NOT_A_COMPANY_PATTERN)
            )
            .fill_null(False)
            .alias(_EXISTING_OK),
        )

    def _decide(self, rows: pl.LazyFrame, *, answered: bool) -> pl.LazyFrame:
        """Each keyed row's class (see _OWN) and, when `answered` (layers 4 and 5 are
        known), its answer: company ID and source."""
        winner, existing, ok = pl.col(_WINNER), pl.col(_EXISTING), pl.col(_EXISTING_OK)
        kind = winner.str.slice(0, 1)
        is_yaml, is_cache = kind == YAML, kind == CACHE
        cache_id = winner.str.slice(CACHE_ID_AT)
        # A learned key that gives the row its own existing ID: the row's own answer.
        own = (
            is_cache
            & (winner.str.slice(CACHE_ID_AT - 1, 1) == LEARNED)
            & ok
            & (cache_id == existing)
        )
        waits = pl.col(_NAME_KEY) != ""
        code = (
            pl.when(is_yaml)
            .then(100 + winner.str.slice(1, 2).cast(pl.Int32))
            .when(own)
            .then(_OWN)
            .when(is_cache)
            .then(200 + winner.str.slice(CACHE_ID_AT - 3, 2).cast(pl.Int32))
            .when(ok)
            .then(_OWN)
            .when(waits)
            .then(_WAITS)
            .otherwise(_NONE)
            .cast(pl.Int32)
        )
        if not answered:
            return rows.with_columns(code.alias(_CLASS))
        labels = self._labels()
        labels.pop(_WAITS)
        source = (
            pl.when(pl.col(_CLASS) == _WAITS)
            .then(pl.col(_FALLBACK_SOURCE))
            .otherwise(pl.col(_CLASS).replace_strict(labels, return_dtype=pl.String))
        )
        company = (
            pl.when(is_yaml)
            .then(winner.str.slice(YAML_ID_AT))
            .when(is_cache)
            .then(cache_id)
            .when(ok)
            .then(existing)
            .when(waits)
            .then(pl.col(_FALLBACK_ID))
        )
        return rows.with_columns(code.alias(_CLASS)).with_columns(
            company.alias(ID), source.alias(SOURCE)
        )


def _level_candidate(level: NativeLevel, plan: KeyPlan, columns: list[str]) -> pl.Expr:
    """A keyed row's candidate at `level` as the run started (null: none)."""
    if level is plan.name_level:
        return pl.col(_NAME_CAND)
    name = f"c_{level.match_type}"
    return pl.col(name) if name in columns else pl.lit(None, pl.String)


def _trimmed(field: str) -> pl.Expr:
    """A cell as a key of a trimmed level: str.strip() of its text ("" when blank)."""
    return pl.col(field).str.strip_chars(WHITESPACE).fill_null("")


def _storable(column: str) -> pl.Expr:
    """Keys the cache can hold (wdh_cli.resolution.keys.storable), as a polars filter."""
    key = pl.col(column)
    return (key != "") & (key.str.len_chars() <= MAX_KEY) & ~key.str.contains("\x00", literal=True)


def waiting_names(counts: pl.DataFrame) -> list[Waiting]:
    """Each waiting name's rows, and its spelling (what the queue and --export-unknown show).

    The spelling is the one most rows carry; among equals the shortest (the
    one with fewest stray spaces and marks), then the smallest text: never
    the order of the rows. `counts`: rows per (n_key, raw) of the rows left
    for layers 4 and 5.
    """
    if counts.is_empty():
        return []
    best = (
        counts.with_columns(pl.col("raw").str.len_chars().alias("length"))
        .sort([_NAME_KEY, "rows", "length", "raw"], descending=[False, True, False, False])
        .group_by(_NAME_KEY, maintain_order=True)
        .agg(pl.col("rows").sum(), pl.col("raw").first())
    )
    return [Waiting(key, int(rows), raw) for key, rows, raw in best.iter_rows()]


class _Gathered:
    """Frames gathered over a pass, aggregated again (`combine`) whenever they grow."""

    def __init__(self, combine: Callable[[pl.DataFrame], pl.DataFrame], empty: pl.DataFrame):
        self._combine = combine
        self._empty = empty
        self._frames: list[pl.DataFrame] = []
        self._rows = 0
        self._floor = _COMPACT_ROWS

    def add(self, frame: pl.DataFrame) -> None:
        self._frames.append(frame)
        self._rows += frame.height
        if self._rows > self._floor:
            # Aggregated again once it has grown by four times what it held:
            # memory follows the distinct groups, work stays linear in rows.
            self._compact()
            self._floor = max(_COMPACT_ROWS, 4 * self._rows)

    def _compact(self) -> None:
        if self._frames:
            self._frames = [self._combine(pl.concat(self._frames))]
            self._rows = self._frames[0].height

    def result(self) -> pl.DataFrame:
        self._compact()
        return self._frames[0] if self._frames else self._empty


def _distinct(column: str) -> _Gathered:
    """The distinct values of one text column."""
    return _Gathered(lambda frame: frame.unique(), pl.DataFrame(schema={column: pl.String}))


def _summed(by: dict[str, Any]) -> _Gathered:
    """Rows (`rows`) summed per group of the columns `by` (name -> dtype)."""
    empty = pl.DataFrame(schema={**by, "rows": pl.UInt32})
    return _Gathered(lambda frame: frame.group_by(list(by)).agg(pl.col("rows").sum()), empty)
