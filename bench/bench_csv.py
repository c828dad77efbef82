"""`wdh resolve` of a 1,000,000-row CSV against the csv module copying the same file.

Two shapes of the same size, 100,000 distinct companies, half of their
names in the cache (the other half get temporary IDs and are queued):
- repeating: each company has its own plan code and account number and
  ten rows (its months), in random order: 100,000 distinct key tuples;
- own accounts: every row carries its own account number, as most real
  annuity data does: 1,000,000 distinct accounts, none cached;
- own accounts, half cached: the same file, and the cache holds half of the
  accounts (500,000 account mappings, as backflow leaves them), so half the
  rows are decided by their account and the account level is sent to the
  session rather than read whole (wdh_cli/resolution/cache.py).
The floor is the csv module reading the file and writing it back with two
added columns: the least any resolve of a CSV must do. A third point, the
own-accounts file five times over (5M rows, the same keys), shows the
memory does not grow with rows.
"""

from __future__ import annotations

import csv
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from itertools import islice
from operator import add, itemgetter
from pathlib import Path

import psycopg

from bench.common import Figure, run_child, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.migrate import runner
from wdh_cli.names import normalize_name

WDH = str(Path(sys.executable).parent / "wdh")
HEADER = ["月度", "计划代码", "年金账户号", "客户名称", "年金账户名", "公司代码", "规模", "类型"]
ROWS = 1_000_000
NAMES = 100_000
RUNS = int(os.environ.get("WDH_BENCH_RUNS", "3"))
FIVE_MILLION = os.environ.get("WDH_BENCH_CSV_5M", "1") != "0"  # the 5M-row point (a minute)


def _names() -> list[str]:
    return [f"华东{i}号实业有限公司" for i in range(NAMES)]


def _write_input(path: Path, *, own_accounts: bool, copies: int = 1) -> None:
    """The repeating shape, or every row its own account (see the module docstring)."""
    rng = random.Random(14)
    names = _names()
    order = [i for i in range(NAMES) for _ in range(ROWS // NAMES)]
    rng.shuffle(order)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for _ in range(copies):
            for row, company in enumerate(order):
                out.writerow(
                    [
                        f"2026{row % 12 + 1:02d}",
                        f"Q{company % 5000:05d}",
                        f"{row:010d}" if own_accounts else f"{company:010d}",
                        names[company],
                        "",
                        "",
                        f"{row * 1.5:.2f}",
                        "受托",
                    ]
                )


def _seed(url: str, *, accounts: bool) -> None:
    """Every second name cached; with `accounts`, every second row's account too."""
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority, source) FROM STDIN"
        ) as copy:
            for index, name in enumerate(_names()[::2]):
                copy.write_row((normalize_name(name), f"C{index}", "name", 4, "bench"))
            for row in range(0, ROWS if accounts else 0, 2):
                copy.write_row((f"{row:010d}", f"A{row}", "account", 2, "bench"))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE enterprise.company_mapping")


def _floor(source: Path, target: Path) -> float:
    """The csv module: read every row, write it back with two more columns."""
    start = time.perf_counter()
    with (
        source.open(encoding="utf-8", newline="") as src,
        target.open("w", encoding="utf-8", newline="") as dst,
    ):
        out = csv.writer(dst, lineterminator="\r\n")
        for row in csv.reader(src):
            row.append("IN2B3C4D5E6F7G8H9J")
            row.append("temp")
            out.writerow(row)
    return time.perf_counter() - start


def _lookup_loop(source: Path, target: Path) -> float:
    """The least a per-key resolve does: read, key each row, one dictionary lookup, write.

    Keys are the row's key cells joined into one string, as wdh makes them;
    every key's answer is made once. No layer, no database: the ceiling of
    the design, to read wdh's figure against.
    """
    key = itemgetter(1, 2, 3, 4, 5)
    answers: dict[str, list[str]] = {}
    start = time.perf_counter()
    with (
        source.open(encoding="utf-8", newline="", buffering=1 << 20) as src,
        target.open("w", encoding="utf-8", newline="", buffering=1 << 20) as dst,
    ):
        out = csv.writer(dst, lineterminator="\r\n")
        rows = csv.reader(src)
        out.writerow([*next(rows), "company_id", "company_id_source"])
        while batch := list(islice(rows, 5000)):
            keys = list(map("\x00".join, map(key, batch)))
            for found in Counter(keys):
                if found not in answers:
                    answers[found] = ["IN2B3C4D5E6F7G8H9J", "temp"]
            out.writerows(map(add, batch, map(answers.__getitem__, keys)))
    return time.perf_counter() - start


def _resolve(url: str, source: Path, target: Path, tmp: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `wdh resolve`, queueing on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WDH_")}
    env |= {"WDH_DATABASE_URL": url, "WDH_ALIAS_SALT": "bench", "WDH_MAPPINGS_DIR": tmp}
    args = [WDH, "resolve", str(source), "--provider", "none", "--output", str(target), "--json"]
    run = run_child(args, tmp, env=env)
    return run.seconds, run.peak_mb


def _shape(
    base_url: str, template: str, source: Path, tmp: str, runs: int
) -> tuple[float, float, float, float]:
    """Medians of `runs` interleaved runs: (floor s, lookup loop s, wdh s), and wdh's peak MB."""
    floors, loops, walls, peaks = [], [], [], []
    for attempt in range(runs):
        floors.append(_floor(source, Path(tmp) / "floor.csv"))
        loops.append(_lookup_loop(source, Path(tmp) / "loop.csv"))
        with scratch_database(base_url, f"wdh_bench_csv_{attempt}", template=template) as url:
            wall, peak = _resolve(url, source, Path(tmp) / "out.csv", tmp)
        walls.append(wall)
        peaks.append(peak)
        for name in ("floor.csv", "loop.csv", "out.csv"):
            (Path(tmp) / name).unlink()
    return (
        statistics.median(floors),
        statistics.median(loops),
        statistics.median(walls),
        max(peaks),
    )


SHAPES = (
    # label, every row its own account, the cache holds half the accounts, what it is
    ("repeating", False, False, "1M rows, 100k companies x 10 rows"),
    ("own accounts", True, False, "1M rows, every row its own account"),
    ("own accounts, half cached", True, True, "1M rows, every row its own account, 500k cached"),
)


def run(base_url: str) -> list[Figure]:
    figures = []
    floor_name = "csv module copying the file with two added columns"
    with (
        tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp,
        scratch_database(base_url, "wdh_bench_csv_names") as names,
        scratch_database(base_url, "wdh_bench_csv_accounts") as accounts,
    ):
        for url, with_accounts in ((names, False), (accounts, True)):
            runner.up(Database(load_settings(database_url=url)))
            _seed(url, accounts=with_accounts)
        source = Path(tmp) / "input.csv"
        for label, own, cached, what in SHAPES:
            _write_input(source, own_accounts=own)
            template = "wdh_bench_csv_accounts" if cached else "wdh_bench_csv_names"
            floor, loop, wall, peak = _shape(base_url, template, source, tmp, RUNS)
            figures += [
                Figure(
                    "csv",
                    f"wdh resolve, {label}: {what}; 100k names (half cached), median of {RUNS}",
                    wall,
                    "s",
                    floor_name,
                    floor,
                    note="aim: ratio <= 1 (issue 20)",
                ),
                Figure(
                    "csv",
                    f"a bare per-key lookup loop, {label} (a Python resolve's ceiling)",
                    loop,
                    "s",
                    floor_name,
                    floor,
                ),
                Figure("csv", f"wdh resolve, {label}, peak RSS", peak, "MB", note="aim < 300 MB"),
            ]
        if FIVE_MILLION:
            _write_input(source, own_accounts=True, copies=5)
            floor, _, wall, peak = _shape(base_url, "wdh_bench_csv_names", source, tmp, 1)
            figures += [
                Figure(
                    "csv",
                    "wdh resolve, own accounts x 5: 5M rows, the same keys",
                    wall,
                    "s",
                    floor_name,
                    floor,
                ),
                Figure(
                    "csv",
                    "wdh resolve, 5M rows, peak RSS",
                    peak,
                    "MB",
                    note="aim: within 1.3x of the own-accounts 1M-row figure",
                ),
            ]
    return figures
