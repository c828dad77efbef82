"""Helpers for benchmarks: a server to measure on, timing, and the report table."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from wdh_cli.db import embedded

RESULTS = Path(__file__).parent / "results"


@dataclass
class Figure:
    """One measured figure, its baseline from the same run, and their ratio."""

    bench: str
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return self.value / self.baseline


def median_seconds(action: Callable[[], object], *, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@contextmanager
def server_url() -> Iterator[str]:
    """WDH_BENCH_DATABASE_URL if set, else a throwaway embedded server."""
    configured = os.environ.get("WDH_BENCH_DATABASE_URL")
    if configured:
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="wdh-bench-") as home:
        try:
            yield embedded.ensure_running(Path(home))
        finally:
            embedded.stop(Path(home))


@contextmanager
def scratch_database(base_url: str, name: str, *, template: str = "") -> Iterator[str]:
    """A new database on the server of `base_url` (a copy of `template`), dropped afterwards."""
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        admin.execute(create)
    try:
        yield psycopg.conninfo.make_conninfo(base_url, dbname=name)
    finally:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def report(figures: list[Figure]) -> None:
    """Print the figures and save them as JSON under bench/results/."""
    RESULTS.mkdir(exist_ok=True)
    width = max(len(f.name) for f in figures)
    for f in figures:
        ratio = (
            f" | {f.baseline_name}: {f.baseline:,.3f} {f.unit} | ratio {f.ratio:.2f}"
            if (f.baseline is not None and f.ratio is not None)
            else ""
        )
        note = f"  ({f.note})" if f.note else ""
        print(f"[{f.bench}] {f.name:<{width}} {f.value:>12,.3f} {f.unit}{ratio}{note}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps([asdict(f) | {"ratio": f.ratio} for f in figures], indent=2))
    print(f"saved {out}")
