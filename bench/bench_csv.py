"""`wdh resolve` of a 1,000,000-row CSV against the csv module copying the same file.

The input: 100,000 distinct companies, each with its own plan code and
account number (a company's rows repeat month after month, as in the
business data), ten rows each in random order; half of the names are in
the cache, the other half get temporary IDs and are queued. The floor is
the csv module reading the file and writing it back with two added
columns: the least any resolve of a CSV must do.
"""

from __future__ import annotations

import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import islice
from operator import add, itemgetter
from pathlib import Path

import psycopg

from bench.common import Figure, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.migrate import runner
from wdh_cli.names import normalize_name

WDH = str(Path(sys.executable).parent / "wdh")
HEADER = ["月度", "计划代码", "年金账户号", "客户名称", "年金账户名", "公司代码", "规模", "类型"]
ROWS = 1_000_000
NAMES = 100_000


def _names() -> list[str]:
    return [f"华东{i}号实业有限公司" for i in range(NAMES)]


def _write_input(path: Path) -> None:
    rng = random.Random(14)
    names = _names()
    order = [i for i in range(NAMES) for _ in range(ROWS // NAMES)]
    rng.shuffle(order)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for row, company in enumerate(order):
            out.writerow(
                [
                    f"2026{row % 12 + 1:02d}",
                    f"Q{company % 5000:05d}",
                    f"{company:010d}",
                    names[company],
                    "",
                    "",
                    f"{row * 1.5:.2f}",
                    "受托",
                ]
            )


def _seed(url: str) -> None:
    """Every second name cached (no plan or account keys: those rows reach the name level)."""
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority, source) FROM STDIN"
        ) as copy:
            for index, name in enumerate(_names()[::2]):
                copy.write_row((normalize_name(name), f"C{index}", "name", 4, "bench"))
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
    start = time.perf_counter()
    child = subprocess.Popen(
        [WDH, "resolve", str(source), "--provider", "none", "--output", str(target), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # wait4: this child's own peak RSS (RUSAGE_CHILDREN would count others).
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, child.stderr.read() if child.stderr else ""
    return wall, usage.ru_maxrss / 1024


def run(base_url: str) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp:
        source = Path(tmp) / "input.csv"
        _write_input(source)
        floors, walls, peaks, loops = [], [], [], []
        for attempt in range(3):
            with scratch_database(base_url, f"wdh_bench_csv_{attempt}") as url:
                runner.up(Database(load_settings(database_url=url)))
                _seed(url)
                floors.append(_floor(source, Path(tmp) / "floor.csv"))
                loops.append(_lookup_loop(source, Path(tmp) / "loop.csv"))
                wall, peak = _resolve(url, source, Path(tmp) / "out.csv", tmp)
                walls.append(wall)
                peaks.append(peak)
    return [
        Figure(
            "csv",
            "wdh resolve, 1M-row CSV, 100k names (half cached, half queued), median of 3",
            statistics.median(walls),
            "s",
            "csv module copying the file with two added columns",
            statistics.median(floors),
            note="aim: ratio <= 2",
        ),
        Figure(
            "csv",
            "a bare per-key lookup loop over the same file (the design's ceiling)",
            statistics.median(loops),
            "s",
            "csv module copying the file with two added columns",
            statistics.median(floors),
        ),
        Figure("csv", "wdh resolve, 1M-row CSV, peak RSS", max(peaks), "MB", note="rows add none"),
    ]
