"""Helpers for benchmarks: a server to measure on, timing, and the report table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
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

# Linux starts a child's peak RSS (wait4's ru_maxrss) at its parent's when it
# forks or spawns it: a command started by a benchmark holding a million rows
# reports at least the benchmark's size (a 400 MB parent made /bin/true
# report 410 MB). A small launcher process starts the measured command
# instead, times it, and writes its exit code, wait4's ru_maxrss (KiB) and
# the seconds to the file named by its first argument.
LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {seconds}")
"""


@dataclass(frozen=True)
class ChildRun:
    """A measured command: its wall time, its own peak RSS (and its children's), its stdout."""

    seconds: float
    peak_mb: float
    stdout: str
    tree_peak_mb: float = 0.0  # sampled: the command and its child processes together


def run_child(args: list[str], tmp: str, *, env: dict[str, str] | None = None) -> ChildRun:
    """Run a command through the launcher (see LAUNCHER); it must exit 0.

    `env`: the command's environment (default: this one without WDH_ settings).
    """
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WDH_")}
    measured = Path(tmp) / "child-usage"
    with tempfile.TemporaryFile("w+", dir=tmp) as out, tempfile.TemporaryFile("w+", dir=tmp) as err:
        launcher = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(measured), *args],
            env=env,
            stdout=out,
            stderr=err,
        )
        tree = 0.0
        while launcher.poll() is None:
            tree = max(tree, _descendants_rss_mb(launcher.pid))
            time.sleep(0.05)
        code, peak_kib, seconds = measured.read_text().split()
        err.seek(0)
        assert int(code) == 0, (args[:4], code, err.read()[-2000:])
        out.seek(0)
        return ChildRun(float(seconds), int(peak_kib) / 1024, out.read(), tree)


def _rss_mb(pid: int) -> float:
    """Resident memory of a process now (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _descendants_rss_mb(pid: int) -> float:
    """The resident memory of a process's descendants, now (the process itself not counted)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    return sum(_rss_mb(int(child)) + _descendants_rss_mb(int(child)) for child in children)


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
