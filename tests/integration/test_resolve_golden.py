"""The resolve engine's output, byte for byte, pinned on a generated file covering every layer.

The input covers YAML overrides, cache hits, existing IDs teaching keys
(learned ones, and conflicts: a key taught two companies), provider answers
within a budget, temporary IDs with queueing, blank and short and long rows,
numbers and formula-looking text, and names that repeat. Whatever way a file
is read (the fast way in chunks of any size, or the exact way, which a row
longer than the header calls for) and written (xlsx here or by the writer
process), the bytes, the figures and the database state are the same.

To rewrite the expected files after a deliberate change of behaviour:
WDH_UPDATE_GOLDEN=1 pytest tests/integration/test_resolve_golden.py
"""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path
from typing import Any

import psycopg
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.reports import to_json
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.tabular import csv_input, sheet_writer
from wdh_cli.tabular.service import resolve_file

GOLDEN = Path(__file__).parent.parent / "data" / "resolve_golden"
UPDATE = os.environ.get("WDH_UPDATE_GOLDEN") == "1"
HEADER = ["月度", "计划代码", "年金账户号", "客户名称", "年金账户名", "公司代码", "规模"]

CACHED_NAMES = [f"缓存公司{i}有限公司" for i in range(12)]
DIRECTORY_NAMES = [f"目录公司{i}有限公司" for i in range(8)]
NEW_NAMES = [f"新公司{i}有限公司" for i in range(30)]
YAML_NAME = "甲乙丙有限公司"


def _rows(*, ragged: bool = True) -> list[list[str]]:
    """About 400 rows; the same seed always gives the same file.

    Without `ragged`, the one row longer than the header loses its extra cell
    (so the fast way reads the file).
    """
    rng = random.Random(20261124)
    rows: list[list[str]] = [
        # Backflow within one batch: a repeated row (skipped), the same name
        # with another company (a conflict), a row with no ID that the cache
        # answers only in later batches.
        ["202601", "", "B-DUP", "回流重复", "", "E-DUP", "1"],
        ["202601", "", "B-DUP", "回流重复", "", "E-DUP", "1"],
        ["202601", "", "B-DUP2", "回流重复", "", "E-DUP-OTHER", "1"],
        ["202601", "", "", "回流重复", "", "", "1"],
        ["202601", "", "", "回流公司1", "", "", "1"],
        ["202601", "", "B-DUP", "另一家", "", "", "1"],
    ]
    for number in range(400):
        kind = rng.randrange(14)
        month = f"2026{rng.randrange(1, 13):02d}"
        amount = rng.choice(["12345", "1.50", "-5", "=SUM(A1:A3)", "+86 21", "@x", "0012"])
        plan, account, name, account_name, existing = "", "", "", "", ""
        if kind == 0:
            name = rng.choice(CACHED_NAMES)
        elif kind == 1:
            plan, name = f"P{rng.randrange(6)}", rng.choice(NEW_NAMES)  # P0-P2 are cached
        elif kind == 2:
            account, name = f"A{rng.randrange(8)}", rng.choice(NEW_NAMES)  # A0-A3 cached
        elif kind == 3:
            name = rng.choice(DIRECTORY_NAMES)  # the provider knows these
        elif kind == 4:
            # Existing IDs, some names with two companies: conflicts, and keys
            # that a later batch finds stored.
            pick = rng.randrange(6)
            name = f"回流公司{pick}"
            account = f"B{rng.randrange(10)}"
            existing = f"E{pick}" if rng.random() < 0.8 else f"E{pick}-X"
        elif kind == 5:
            name, existing = rng.choice(NEW_NAMES), f"E-NEW{rng.randrange(4)}"
        elif kind == 6:
            name = YAML_NAME if rng.random() < 0.5 else f" {YAML_NAME}（已转出） "
        elif kind == 7:
            plan = "FP-YAML"
            name = rng.choice(NEW_NAMES)
        elif kind == 8:
            account_name = f"{rng.choice(['某', '另'])}企业年金计划"  # no name: unresolved
        elif kind == 9:
            rows.append([])  # blank row
            continue
        elif kind == 10:
            # Spellings of one company: full-width, spaces, brackets.
            name = rng.choice(
                ["ＡＢＣ科技（北京）有限公司", "ABC科技(北京)有限公司", " abc科技 (北京) 有限公司"]
            )
        elif kind == 11:
            rows.append([month, "", "", rng.choice(NEW_NAMES)])  # short row
            continue
        elif kind == 12:
            name = rng.choice(NEW_NAMES)
            extra = ["extra"] if ragged else []
            rows.append([month, plan, account, name, account_name, existing, amount, *extra])
            continue
        elif number % 2:
            name = rng.choice(["失败公司", "排队公司", "", "  "])
        else:
            # Keys that earlier batches' backflow put in the cache.
            name = rng.choice(["回流重复", "回流公司1", "回流公司2", "另一家"])
            account = rng.choice(["", "B-DUP", "B-DUP2"])
        rows.append([month, plan, account, name, account_name, existing, amount])
    return rows


def _seed(conn: psycopg.Connection) -> None:
    mappings = [(n, f"C-N{i}", "name", 4) for i, n in enumerate(CACHED_NAMES)]
    mappings += [(f"P{i}", f"C-P{i}", "plan", 1) for i in range(3)]
    mappings += [(f"A{i}", f"C-A{i}", "account", 2) for i in range(4)]
    mappings += [("回流公司0", "C-STORED0", "name", 4)]
    conn.cursor().executemany(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES (%s, %s, %s, %s)",
        mappings,
    )
    conn.execute(
        "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, status) VALUES "
        "('失败公司', '失败公司', 'failed'), ('排队公司', '排队公司', 'pending')"
    )


def _overrides(folder: Path) -> Path:
    folder.mkdir()
    (folder / "company_id_overrides_name.yml").write_text(
        f'{YAML_NAME}: "Y-NAME"\n', encoding="utf-8"
    )
    (folder / "company_id_overrides_plan.yml").write_text('FP-YAML: "Y-PLAN"\n', encoding="utf-8")
    return folder


def _directory(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["company_id", "official_name", "unified_credit_code", "aliases"])
        for index, name in enumerate(DIRECTORY_NAMES):
            out.writerow([f"D{index}", name, "", ""])
    return path


def _state(conn: psycopg.Connection) -> dict[str, Any]:
    """What the run left in the database, in a stable order."""
    mappings = conn.execute(
        "SELECT alias_name, canonical_id, match_type, priority, source "
        "FROM enterprise.company_mapping ORDER BY match_type, alias_name"
    ).fetchall()
    requests = conn.execute(
        "SELECT raw_name, normalized_name, temp_id, status, rows_seen "
        "FROM enterprise.enrichment_requests ORDER BY normalized_name"
    ).fetchall()
    answers = conn.execute(
        "SELECT provider, normalized_name, outcome FROM enterprise.provider_answers "
        "ORDER BY normalized_name"
    ).fetchall()
    return {
        "mappings": [list(r) for r in mappings],
        "requests": [list(r) for r in requests],
        "answers": [list(r) for r in answers],
    }


def _check(name: str, actual: Any) -> None:
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        if isinstance(actual, bytes):
            path.write_bytes(actual)
        else:
            path.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", "utf-8")
        return
    if isinstance(actual, bytes):
        assert actual == path.read_bytes(), f"{name} differs from the pinned output"
    else:
        assert actual == json.loads(path.read_text("utf-8")), f"{name} differs"


def _write_xlsx(path: Path, rows: list[list[str]]) -> None:
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": True})
    sheet = book.add_worksheet()
    for index, row in enumerate([HEADER, *rows]):
        sheet.write_row(index, 0, row)
    book.close()


def _run(db: Database, tmp_path: Path, source: Path, *, plan_only: bool = False) -> dict[str, Any]:
    settings = load_settings(
        alias_salt="golden-salt",
        mappings_dir=_overrides(tmp_path / f"overrides-{source.stem}-{plan_only}"),
        directory_path=_directory(tmp_path / "directory.csv"),
    )
    options = ResolveOptions(budget=15, provider="directory", plan_only=plan_only)
    unknown = None if plan_only else tmp_path / f"{source.stem}.unknown.csv"
    stats = resolve_file(settings, db, source, options, export_unknown=unknown)
    figures: dict[str, Any] = to_json(stats)
    figures.pop("output")
    return figures


@pytest.mark.parametrize(
    ("encoding", "ragged", "chunk"),
    [
        ("utf-8", True, csv_input.READ_BLOCK),  # the exact way (a row longer than the header)
        ("gb18030", True, csv_input.READ_BLOCK),
        ("utf-8", False, csv_input.READ_BLOCK),  # the fast way, one chunk
        ("utf-8", False, 512),  # the fast way, many chunks
        ("gb18030", False, 300),
    ],
)
def test_a_csv_resolves_to_the_pinned_bytes(
    db: Database,
    conn: psycopg.Connection,
    tmp_path: Path,
    encoding: str,
    ragged: bool,
    chunk: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(csv_input, "READ_BLOCK", chunk)
    monkeypatch.setattr(csv_input, "EXACT_ROWS", 16)
    _seed(conn)
    source = tmp_path / "golden.csv"
    with source.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows([HEADER, *_rows(ragged=ragged)])
    planned = _run(db, tmp_path, source, plan_only=True)
    figures = _run(db, tmp_path, source)
    suffix = ("" if encoding == "utf-8" else f".{encoding}") + ("" if ragged else ".even")
    _check(f"output{suffix}.csv", (tmp_path / "golden.resolved.csv").read_bytes())
    _check(f"unknown{suffix}.csv", (tmp_path / "golden.unknown.csv").read_bytes())
    _check(f"figures{suffix}.json", figures)
    _check(f"plan{suffix}.json", planned)
    _check(f"state{suffix}.json", _state(conn))


@pytest.mark.parametrize("writer", ["this process", "writer process"])
def test_an_xlsx_resolves_to_the_pinned_cells(
    db: Database,
    conn: psycopg.Connection,
    tmp_path: Path,
    writer: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The golden sheet is small; a threshold of 0 rows makes the second
    # process write it, as it writes every large sheet.
    rows = 0 if writer == "writer process" else 1 << 30
    monkeypatch.setattr(sheet_writer, "WRITER_PROCESS_ROWS", rows)
    _seed(conn)
    source = tmp_path / "golden.xlsx"
    _write_xlsx(source, _rows())
    figures = _run(db, tmp_path, source)
    book = CalamineWorkbook.from_path(str(tmp_path / "golden.resolved.xlsx"))
    cells = [[repr(cell) for cell in row] for row in book.get_sheet_by_index(0).to_python()]
    _check("output.xlsx.json", cells)
    _check("figures.xlsx.json", figures)
    _check("state.xlsx.json", _state(conn))
