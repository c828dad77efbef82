"""Resolve figures: resolve_frame on 1,000 rows in process; a 200,000-row xlsx end to end."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import psycopg
import xlsxwriter
from python_calamine import CalamineWorkbook

from bench.common import Figure, run_child, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.migrate import runner
from wdh_cli.names import normalize_name

WDH = str(Path(sys.executable).parent / "wdh")
HEADER = ["月度", "计划代码", "年金账户号", "客户名称", "年金账户名", "公司代码", "规模", "类型"]


def _seed_mappings(url: str, names: list[str]) -> None:
    """One `name` mapping per name, plus plan codes, 100,000 rows in all."""
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority, source) FROM STDIN"
        ) as copy:
            for index, name in enumerate(names):
                copy.write_row((normalize_name(name), f"C{index}", "name", 4, "bench"))
            for index in range(100_000 - len(names)):
                copy.write_row((f"P{index:07d}", f"C{index}", "plan", 1, "bench"))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE enterprise.company_mapping")


def _frame_figure(url: str, rng: random.Random, tmp: str) -> Figure:
    """`resolve_frame` of 1,000 rows in process: what a pipeline step pays per call."""
    cached = [f"已知公司{i}有限公司" for i in range(50_000)]
    _seed_mappings(url, cached)
    saved = dict(os.environ)
    os.environ |= {"WDH_ALIAS_SALT": "bench", "WDH_MAPPINGS_DIR": tmp}
    try:
        samples = _frame_samples(url, rng, cached)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Figure(
        "resolve",
        "resolve_frame, 1,000 rows in process, 100k mappings, with enqueue (median)",
        statistics.median(samples[3:]) * 1000,
        "ms",
        note="aim < 100 ms (a connection, settings, one run); 40% cached names, 20% plan "
        "codes, 10% existing IDs, 30% new names",
    )


def _frame_samples(url: str, rng: random.Random, cached: list[str]) -> list[float]:
    from wdh_cli import resolve_frame

    samples = []
    for run_no in range(15):
        rows: dict[str, list[str]] = {
            "计划代码": [],
            "年金账户号": [],
            "客户名称": [],
            "公司代码": [],
        }
        for i in range(1000):
            kind = i % 10
            plan, account, name, existing = "", "", "", ""
            if kind < 4:
                name = rng.choice(cached)
            elif kind < 6:
                plan, name = f"P{rng.randrange(50_000):07d}", "某"
            elif kind == 6:
                name, existing, account = f"存量公司{i}", f"E{i}", f"A{run_no}-{i}"
            else:
                name = f"新公司{run_no}号{i % 150}（已转出）"
            for column, value in zip(rows, (plan, account, name, existing), strict=True):
                rows[column].append(value)
        frame = pl.DataFrame(rows)
        start = time.perf_counter()
        result = resolve_frame(frame, database_url=url, provider="none")
        samples.append(time.perf_counter() - start)
        assert result.frame["company_id"].null_count() == 0
    return samples


def _write_input(path: Path, rng: random.Random, known: list[str], new: list[str]) -> None:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    for row in range(1, 200_001):
        name = rng.choice(known) if row % 2 else rng.choice(new)
        sheet.write_row(
            row,
            0,
            ["202611", 60000 + row % 500, f"{row:010d}", name, "", "", row * 1.5, "受托"],
        )
    book.close()


def _baseline(path: Path, target: Path) -> float:
    """Reading the input with calamine and writing the same shape with XlsxWriter."""
    start = time.perf_counter()
    workbook = CalamineWorkbook.from_path(str(path))
    book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    sheet = book.add_worksheet()
    for index, row in enumerate(workbook.get_sheet_by_index(0).iter_rows()):
        sheet.write_row(index, 0, [*row, "IN2B3C4D5E6F7G8H9J", "temp"])
    book.close()
    return time.perf_counter() - start


def _timed_resolve(env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([WDH, "resolve", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _measured_resolve(env: dict[str, str], source: Path, tmp: str) -> tuple[float, float, float]:
    """(wall s, wdh's own peak RSS MB, peak RSS of wdh and its writer process together MB)."""
    run = run_child([WDH, "resolve", str(source), "--json"], tmp, env=env)
    return run.seconds, run.peak_mb, run.tree_peak_mb


def _ledger_figure(base_url: str) -> Figure:
    """100,000 rows, 20,000 names all answered by the ledger vs no provider at all."""
    names = [f"台账公司{i}有限公司" for i in range(20_000)]
    with (
        scratch_database(base_url, "wdh_bench_ledger") as url,
        tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp,
    ):
        runner.up(Database(load_settings(database_url=url)))
        with (
            psycopg.connect(url) as conn,
            conn.cursor().copy(
                "COPY enterprise.provider_answers (provider, normalized_name, outcome) FROM STDIN"
            ) as copy,
        ):
            for name in names:
                copy.write_row(("directory", normalize_name(name), "no_match"))
        source = Path(tmp) / "input.csv"
        with source.open("w", encoding="utf-8") as handle:
            handle.write("计划代码,客户名称,规模\n")
            for row in range(100_000):
                handle.write(f"P{row % 300},{names[row % len(names)]},{row * 1.5}\n")
        directory = Path(tmp) / "directory.csv"
        directory.write_text("company_id,official_name,unified_credit_code,aliases\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WDH_")}
        env |= {"WDH_DATABASE_URL": url, "WDH_ALIAS_SALT": "bench", "WDH_MAPPINGS_DIR": tmp}
        env |= {"WDH_DIRECTORY_PATH": str(directory)}
        common = (str(source), "--no-queue", "--output", str(Path(tmp) / "out.csv"))
        with_ledger, without = [], []
        for _ in range(3):
            with_ledger.append(
                _timed_resolve(env, *common, "--provider", "directory", "--budget", "100000")
            )
            without.append(_timed_resolve(env, *common, "--provider", "none"))
    return Figure(
        "resolve",
        "wdh resolve 100k rows, 20k names all in the provider ledger (median of 3)",
        statistics.median(with_ledger),
        "s",
        "the same resolve, no provider (no ledger read)",
        statistics.median(without),
        note="aim: ratio < 1.10",
    )


def run(base_url: str) -> list[Figure]:
    rng = random.Random(11)
    figures = [_ledger_figure(base_url)]
    with (
        scratch_database(base_url, "wdh_bench_resolve") as url,
        tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp,
    ):
        runner.up(Database(load_settings(database_url=url)))
        figures.append(_frame_figure(url, rng, tmp))

    with (
        scratch_database(base_url, "wdh_bench_resolve_file") as url,
        tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp,
    ):
        runner.up(Database(load_settings(database_url=url)))
        known = [f"老客户{i}股份有限公司" for i in range(25_000)]
        new = [f"新客户{i}科技有限公司" for i in range(25_000)]
        _seed_mappings(url, known)
        source = Path(tmp) / "input.xlsx"
        _write_input(source, rng, known, new)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WDH_")}
        env |= {"WDH_ALIAS_SALT": "bench", "WDH_MAPPINGS_DIR": tmp}
        baselines, walls, own_peaks, tree_peaks = [], [], [], []
        for attempt in range(3):  # interleaved, so the machine's drift hits both alike
            baselines.append(_baseline(source, Path(tmp) / "baseline.xlsx"))
            copy = f"wdh_bench_resolve_file_{attempt}"
            with scratch_database(base_url, copy, template="wdh_bench_resolve_file") as copy_url:
                wall, own, tree = _measured_resolve(
                    env | {"WDH_DATABASE_URL": copy_url}, source, tmp
                )
            walls.append(wall)
            own_peaks.append(own)
            tree_peaks.append(tree)
        figures.append(
            Figure(
                "resolve",
                "wdh resolve, 200k x 8 xlsx (half cached), wall time, median of 3",
                statistics.median(walls),
                "s",
                "calamine read + XlsxWriter write of the same rows",
                statistics.median(baselines),
                note="aim: ratio <= 1.25",
            )
        )
        figures.append(
            Figure(
                "resolve",
                "wdh resolve, 200k x 8 xlsx, peak RSS of wdh",
                max(own_peaks),
                "MB",
                note="aim < 300 MB",
            )
        )
        figures.append(
            Figure(
                "resolve",
                "the same, wdh and its xlsx writer process together (sampled every 50 ms)",
                max(tree_peaks),
                "MB",
            )
        )
    return figures
