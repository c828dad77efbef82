"""Mapping figures: loads against psql \\copy, their peak RSS, batch lookups, names per second.

The load figures are those of the issue that asked for streaming loads:

- `wdh mappings load --mode append` of 1M NEW account mappings in random order
  into an empty `company_mapping`, as a ratio to `psql \\copy` of the same CSV
  into an empty copy of the table (same indexes), measured in the same run,
  RUNS times with the order alternated (medians reported, every ratio in the
  note);
- the peak RSS of that load at 1M and 5M rows, measured in the child process
  (`os.wait4` in a small launcher), to show that it does not grow with the input;
- and, as before, appending 1M rows of which half are already stored.
"""

from __future__ import annotations

import base64
import hmac
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.common import ChildRun, Figure, run_child, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.mappings import repository, service
from wdh_cli.migrate import runner
from wdh_cli.names import normalize_name
from wdh_cli.tempids.generator import TempIdGenerator

ROWS = 1_000_000
BIG = 5_000_000  # the second size of the peak-RSS figure
RUNS = 3  # psql \copy / wdh load pairs per run, order alternated
TYPES = (("account", 2), ("plan", 1), ("account_name", 5))
WDH = str(Path(sys.executable).parent / "wdh")
COLUMNS = "alias_name, canonical_id, match_type, priority, source"


def _write_csv(path: Path, rows: list[tuple[str, str, str, int]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("alias_name,canonical_id,match_type,priority,source\n")
        for alias, company, match_type, priority in rows:
            handle.write(f"{alias},{company},{match_type},{priority},bench\n")


def _write_new_accounts(path: Path, count: int, seed: int) -> None:
    """`count` distinct account keys in random order, written as they are drawn."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("alias_name,canonical_id,match_type,priority,source\n")
        for i in range(count):
            # A random 15-digit prefix scatters the keys; the suffix keeps them distinct.
            company = 600_000_000 + rng.randrange(10**8)
            handle.write(f"{rng.getrandbits(48):015d}{i},{company},account,2,bench\n")


def _rows(rng: random.Random) -> list[tuple[str, str, str, int]]:
    rows = []
    for i in range(ROWS):
        match_type, priority = TYPES[i % 3]
        rows.append(
            (
                f"{rng.getrandbits(48):015d}{i}",
                str(600_000_000 + rng.randrange(10**8)),
                match_type,
                priority,
            )
        )
    return rows


def _child(args: list[str], tmp: str) -> ChildRun:
    return run_child(args, tmp)


def _wdh_load(url: str, path: Path, tmp: str, rows: int) -> ChildRun:
    args = ["--db", url, "mappings", "load", str(path), "--mode", "append", "--source", "bench"]
    run = _child([WDH, *args, "--json"], tmp)
    report = json.loads(run.stdout)
    assert (report["read"], report["inserted"]) == (rows, rows), report
    return run


def _psql_copy(url: str, path: Path, tmp: str) -> ChildRun:
    command = f"\\copy copy_target ({COLUMNS}) FROM '{path}' WITH (FORMAT csv, HEADER true)"
    return _child(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", command], tmp)


def _empty_tables(url: str) -> None:
    """Both targets empty, and a checkpoint so neither pays for the other's dirty pages."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE enterprise.company_mapping, copy_target")
        conn.execute("CHECKPOINT")


def _new_rows_figures(url: str, tmp: str) -> list[Figure]:
    """1M new rows in random order: wdh against psql \\copy; peak RSS at 1M and 5M rows."""
    if shutil.which("psql") is None:
        print("bench mappings: no psql on PATH, load figures against \\copy skipped")
        return []
    path = Path(tmp) / "new-1m.csv"
    _write_new_accounts(path, ROWS, seed=11)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE copy_target (LIKE enterprise.company_mapping INCLUDING ALL)")
    loads: list[ChildRun] = []
    copies: list[ChildRun] = []
    for run in range(RUNS):
        for first in ("psql", "wdh") if run % 2 == 0 else ("wdh", "psql"):
            _empty_tables(url)
            if first == "psql":
                copies.append(_psql_copy(url, path, tmp))
            else:
                loads.append(_wdh_load(url, path, tmp, ROWS))
    ratios = [c.seconds / w.seconds for w, c in zip(loads, copies, strict=True)]
    load_s = statistics.median(r.seconds for r in loads)
    copy_s = statistics.median(r.seconds for r in copies)
    figures = [
        Figure(
            "mappings",
            "load 1M new rows (random order), input rows/s",
            ROWS / load_s,
            "rows/s",
            "psql \\copy into an empty copy of the table",
            ROWS / copy_s,
            note=(
                f"medians of {RUNS}: load {load_s:.1f} s, \\copy {copy_s:.1f} s; ratios "
                + "/".join(f"{r:.2f}" for r in ratios)
                + f" (median {statistics.median(ratios):.2f}); aim: ratio >= 1.0"
            ),
        ),
        Figure(
            "mappings",
            "load 1M new rows, peak RSS of wdh",
            statistics.median(r.peak_mb for r in loads),
            "MB",
            note="median; aim < 200 MB",
        ),
    ]
    path.unlink()
    big = Path(tmp) / "new-5m.csv"
    _write_new_accounts(big, BIG, seed=13)
    _empty_tables(url)
    load = _wdh_load(url, big, tmp, BIG)
    big.unlink()
    figures.append(
        Figure(
            "mappings",
            "load 5M new rows, peak RSS of wdh",
            load.peak_mb,
            "MB",
            note=f"{BIG / load.seconds:,.0f} rows/s ({load.seconds:.1f} s); aim: as at 1M",
        )
    )
    return figures


def run(base_url: str) -> list[Figure]:
    rng = random.Random(7)
    rows = _rows(rng)
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp,
        scratch_database(base_url, "wdh_bench_mappings") as url,
    ):
        full = Path(tmp) / "mappings.csv"
        half = Path(tmp) / "half.csv"
        _write_csv(full, rows)
        _write_csv(half, rng.sample(rows, ROWS // 2))
        db = Database(load_settings(database_url=url))
        runner.up(db)
        service.load(db, [half], mode="append", source="bench", default_dir=Path(tmp))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE enterprise.company_mapping")
            conn.execute("CREATE TABLE raw_target (LIKE enterprise.company_mapping INCLUDING ALL)")

            start = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy(
                    f"COPY raw_target ({COLUMNS}) FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy,
                full.open("rb") as handle,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            raw_copy = time.perf_counter() - start
            conn.execute("DROP TABLE raw_target")

        start = time.perf_counter()
        report = service.load(db, [full], mode="append", source="bench", default_dir=Path(tmp))
        load = time.perf_counter() - start
        assert (report.inserted, report.unchanged) == (ROWS - ROWS // 2, ROWS // 2), report
        figures.append(
            Figure(
                "mappings",
                "append 1M rows (half present), input rows/s",
                ROWS / load,
                "rows/s",
                "raw COPY into an empty indexed table",
                ROWS / raw_copy,
                note=f"load {load:.1f} s, raw COPY {raw_copy:.1f} s; aim: ratio >= 0.8",
            )
        )

        with psycopg.connect(url, autocommit=True) as conn:
            for size, repeat in ((1_000, 7), (100_000, 3)):
                samples = []
                for _ in range(repeat):
                    picked = rng.sample(rows, size // 2)
                    pairs = [(r[2], r[0]) for r in picked] + [
                        ("account", f"missing{n}") for n in range(size - size // 2)
                    ]
                    start = time.perf_counter()
                    hits = repository.lookup(conn, pairs)
                    samples.append(time.perf_counter() - start)
                    assert len(hits) == size // 2
                figures.append(
                    Figure(
                        "mappings",
                        f"batch lookup of {size:,} keys in 1M mappings",
                        statistics.median(samples) * 1000,
                        "ms",
                        note="floor: 7-12 ms for 1k, 0.5-0.9 s for 100k",
                    )
                )
        full.unlink()
        half.unlink()
        figures += _new_rows_figures(url, tmp)

    names = [f"上海{rng.randrange(10**7)}某某科技 有限公司（已转出）" for _ in range(ROWS)]
    generator = TempIdGenerator("bench-salt")
    start = time.perf_counter()
    for name in names:
        generator.for_key(normalize_name(name))
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for name in names:
        digest = hmac.new(b"bench-salt", name.encode(), "sha1").digest()
        base64.b32encode(digest[:10])
    bare = time.perf_counter() - start
    figures.append(
        Figure(
            "names",
            "normalize_name + temp ID, 1M names",
            ROWS / ours,
            "names/s",
            "bare hmac.new + b32encode (no normalization)",
            ROWS / bare,
            note="floor: 174k/s plain, 260k/s pre-keyed",
        )
    )
    return figures
