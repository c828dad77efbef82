"""Where company IDs enter wdh from a review file: `wdh review apply`, through the installed wdh.

A decision whose company ID breaks the one rule (wdh_cli/companies/ids.py) is
rejected as `PATH:row: reason` and the valid rows still apply; so is a cell
the decision reads that is a formula without a value.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import psycopg
import xlsxwriter

from tests.helpers import run_wdh, wdh_env
from wdh_cli.names import normalize_name
from wdh_cli.review.sheet import COLUMNS
from wdh_cli.tempids.generator import TempIdGenerator

SALT = "pepper"
DATA = Path(__file__).parents[1] / "data"


def _env(db_url: str) -> dict[str, str]:
    return wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT=SALT)


def _request(conn: psycopg.Connection, name: str) -> tuple[int, str]:
    """A failed request with the temporary ID resolve gives the name; (id, temp_id)."""
    temp_id = TempIdGenerator(SALT).for_name(name)
    assert temp_id is not None
    row = conn.execute(
        "INSERT INTO enterprise.enrichment_requests "
        "(raw_name, normalized_name, temp_id, status, last_error) "
        "VALUES (%s, %s, %s, 'failed', 'no match') RETURNING id",
        (name, normalize_name(name), temp_id),
    ).fetchone()
    assert row is not None
    return int(row[0]), temp_id


def _review_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _recorded(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "master": conn.execute(
            "SELECT company_id FROM enterprise.company_master ORDER BY 1"
        ).fetchall(),
        "mapping": conn.execute(
            "SELECT canonical_id FROM enterprise.company_mapping ORDER BY 1"
        ).fetchall(),
        "done": conn.execute(
            "SELECT id, resolved_company_id FROM enterprise.enrichment_requests "
            "WHERE status = 'done' ORDER BY 1"
        ).fetchall(),
    }


def test_review_rejects_temporary_and_malformed_ids(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        good, _ = _request(conn, "甲公司")
        target, own = _request(conn, "乙公司")
        other, others = _request(conn, "丙公司")
    bad_ids = {
        3: (own, "temporary ID"),  # the request's own temporary ID
        4: (others, "temporary ID"),  # another request's
        5: ("TEMP_000001", "temporary ID"),  # the sequential style
        6: (own.lower(), "temporary ID"),
        7: ("temp_000001", "temporary ID"),
        8: ("6148\n10477", "U+000A"),
        9: ("6148\u200b10477", "U+200B"),
        10: ("6148 10477", "U+0020"),
        11: ("9" * 101, "longer than 100 characters (101)"),
        12: ("公司123", "U+516C"),
        13: ("6148\x0010477", "U+0000"),
    }
    rows = [{"request_id": str(good), "decision": "id", "company_id": " 614810477\t"}]
    rows += [
        {"request_id": str(target), "decision": "id", "company_id": value}
        for value, _ in bad_ids.values()
    ]
    # Candidate columns are edited by people too.
    rows += [
        {"request_id": str(target), "decision": "1", "candidate_1_id": others},
        {"request_id": str(target), "decision": "2", "candidate_2_id": "61\t48"},
        {"request_id": str(other), "decision": "3", "candidate_3_id": "Ｃ１"},
        {"request_id": "-4", "decision": "none"},
    ]
    path = _review_csv(tmp_path / "review.csv", rows)

    result = run_wdh("review", "apply", str(path), "--json", env=_env(db_url))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["read"], data["applied"], data["rejected"]) == (16, 1, 15)
    reasons = {r["row"]: r["reason"] for r in data["rejected_list"]}
    assert all(r["file"] == str(path) for r in data["rejected_list"])
    for row, (_, fragment) in bad_ids.items():
        assert reasons[row].startswith("company_id: "), (row, reasons[row])
        assert fragment in reasons[row], (row, reasons[row])
    assert reasons[14] == f"candidate_1_id: {others} is a temporary ID, not a company"
    assert reasons[15].startswith("candidate_2_id: ") and "U+0009" in reasons[15]
    assert reasons[16].startswith("candidate_3_id: ") and "U+FF23" in reasons[16]
    assert reasons[17] == (
        "request_id '-4' is not a request id (expected a whole number from 1 to 2147483647)"
    )
    assert "公司" not in result.stdout + result.stderr  # no names in messages

    with psycopg.connect(db_url) as conn:
        assert _recorded(conn) == {
            "master": [("614810477",)],
            "mapping": [("614810477",)],
            "done": [(good, "614810477")],
        }

    human = run_wdh("review", "apply", str(path), "--plan-only", env=_env(db_url))
    assert human.returncode == 0, human.stderr
    assert f"rejected {path}:5: company_id: TEMP_000001 is a temporary ID, not a company" in (
        human.stderr
    )


def _formula_review(path: Path, cells: list[dict[str, Any]]) -> Path:
    """A review xlsx as XlsxWriter writes formulas: `("=...", value)` cells; value "" is none."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("review")
    sheet.write_row(0, 0, COLUMNS)
    for number, row in enumerate(cells, start=1):
        for name, value in row.items():
            column = COLUMNS.index(name)
            if isinstance(value, tuple):
                sheet.write_formula(number, column, value[0], None, value[1])
            else:
                sheet.write_string(number, column, value)
    book.close()
    return path


def test_review_names_a_formula_without_a_value(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        first, _ = _request(conn, "甲公司")
        second, _ = _request(conn, "乙公司")
        third, _ = _request(conn, "丙公司")
    path = _formula_review(
        tmp_path / "review.xlsx",
        [
            {"request_id": str(first), "decision": "id", "company_id": ('="6148"&"10477"', "")},
            {"request_id": str(first), "decision": ('=LOWER("ID")', ""), "company_id": "C1"},
            {"request_id": ("=1+1", ""), "decision": "none"},
            {"request_id": str(first), "decision": "1", "candidate_1_id": ('="C"&"1"', "")},
            # A formula with its value (as Excel and WPS save it) is its value.
            {"request_id": str(second), "decision": "id", "company_id": ('="C"&"2"', "C2")},
            {"request_id": str(third), "decision": "none", "note": ('="x"', "")},  # not read
        ],
    )
    result = run_wdh("review", "apply", str(path), "--json", env=_env(db_url))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["applied"], data["confirmed_none"], data["skipped"]) == (1, 1, 0)
    assert {r["row"]: r["reason"] for r in data["rejected_list"]} == {
        row: f"{column} is a formula without a value (open and save the file in a "
        "spreadsheet program to calculate it, or type the value)"
        for row, column in (
            (2, "company_id"),
            (3, "decision"),
            (4, "request_id"),
            (5, "candidate_1_id"),
        )
    }
    with psycopg.connect(db_url) as conn:
        assert _recorded(conn)["done"] == [(second, "C2")]


def test_review_reads_formulas_as_libreoffice_saves_them(db_url: str, tmp_path: Path) -> None:
    """tests/data/review_libreoffice.xlsx (made by tests/data/make_review_libreoffice.py):
    LibreOffice Calc saved it, so every formula has its value; a text formula whose value is
    empty (`=""`) is a blank cell, not a formula without a value."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = [_request(conn, name)[0] for name in ("甲公司", "乙公司", "丙公司", "丁公司")]
    assert ids == [1, 2, 3, 4]  # the request_ids the file holds
    path = tmp_path / "review.xlsx"
    shutil.copy(DATA / "review_libreoffice.xlsx", path)
    result = run_wdh("review", "apply", str(path), "--json", env=_env(db_url))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["read"], data["applied"], data["confirmed_none"], data["skipped"]) == (4, 1, 1, 1)
    assert data["rejected_list"] == [
        {
            "file": str(path),
            "row": 5,
            "reason": "company_id: TEMP_000001 is a temporary ID, not a company",
        }
    ]
    with psycopg.connect(db_url) as conn:
        assert _recorded(conn)["done"] == [(1, "614810477")]
        failed = conn.execute(
            "SELECT last_error FROM enterprise.enrichment_requests WHERE id = 2"
        ).fetchone()
        assert failed == ("review: no company",)
