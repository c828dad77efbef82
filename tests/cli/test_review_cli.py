"""`wdh review export | apply` through the CLI: the file a person sees, and the round trip."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
from openpyxl.utils import get_column_letter
from typer.testing import CliRunner

from tests.helpers import A, B, C, candidates, invoke_wdh, request
from wdh_cli.review.sheet import COLUMNS

DECISION = get_column_letter(COLUMNS.index("decision") + 1)
COMPANY_ID = get_column_letter(COLUMNS.index("company_id") + 1)


def _setup(conn: psycopg.Connection) -> tuple[int, int, int]:
    low = request(
        conn, "青岛海滨物流有限公司", rows_seen=26, error="best confidence 0.72 below the bar"
    )
    none = request(conn, "无此公司", rows_seen=3)
    typed = request(conn, "新公司有限公司", rows_seen=40)
    candidates(conn, "青岛海滨物流有限公司", A, B, C)
    return low, none, typed


def test_export_xlsx_is_ready_for_a_person(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        low, none, typed = _setup(conn)
    target = tmp_path / "review.xlsx"
    result = invoke_wdh(cli, db_url, "review", "export", str(target), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"exported": 3, "output": str(target)}

    sheet = openpyxl.load_workbook(target).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert [r[0] for r in rows[1:]] == [str(typed), str(low), str(none)]  # rows_seen, then id
    by_name = dict(zip(COLUMNS, rows[2], strict=True))
    assert by_name["raw_name"] == "青岛海滨物流有限公司"
    assert by_name["rows_seen"] == 26
    assert by_name["reason"] == "best confidence 0.72 below the bar"
    assert [by_name[f"candidate_{n}_id"] for n in (1, 2, 3)] == ["000123", "614810477", "608349737"]
    assert by_name["candidate_1_name"] == "青岛海滨物流有限公司"
    assert by_name["candidate_1_credit_code"] == "91370200MA3C1234X1"
    assert by_name["candidate_1_confidence"] == 0.72
    assert by_name["candidate_3_credit_code"] is None
    assert rows[1][COLUMNS.index("candidate_1_id")] is None  # no ledger answer: empty cells

    # IDs and names are text cells; counts and confidences numbers.
    texts = [
        c
        for c in COLUMNS
        if (c.endswith(("_id", "_name", "_code")) or c == "temp_id") and by_name[c]
    ]
    assert len(texts) == 12  # request_id, 2 names, temp_id; 3 ids, 3 names, 2 codes
    for name in texts:
        cell = sheet.cell(row=3, column=COLUMNS.index(name) + 1)
        assert cell.data_type == "s", name
    assert sheet.cell(row=3, column=COLUMNS.index("rows_seen") + 1).data_type == "n"
    # What a person types into company_id stays text (an ID like 000123).
    for column in ("decision", "company_id", "note"):
        assert _column_format(sheet, COLUMNS.index(column) + 1) == "@", column

    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{get_column_letter(len(COLUMNS))}4"
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list"
    assert validation.formula1 == '"1,2,3,id,none"'
    assert str(validation.sqref) == f"{DECISION}2:{DECISION}4"


def _column_format(sheet: Any, index: int) -> str | None:
    """The number format of a column (XlsxWriter groups neighbours of the same format)."""
    for dimension in sheet.column_dimensions.values():
        if dimension.min and dimension.min <= index <= dimension.max:
            return str(dimension.number_format)
    return None


def test_export_csv_all_and_limit(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        low, none, typed = _setup(conn)
        decided = request(conn, "已决定公司", rows_seen=1000, error="review: no company")
    target = tmp_path / "review.csv"
    assert invoke_wdh(cli, db_url, "review", "export", str(target)).stdout == (
        f"exported 3 request(s) to {target}\n"
    )
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheet programs read it as UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    assert [r[0] for r in rows[1:]] == [str(typed), str(low), str(none)]
    assert rows[2][COLUMNS.index("candidate_1_id")] == "000123"

    limited = invoke_wdh(
        cli, db_url, "review", "export", str(target), "--all", "--limit", "2", "--json"
    )
    assert json.loads(limited.stdout) == {"exported": 2, "output": str(target)}
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == [str(decided), str(typed)]


def test_export_refuses_a_path_that_is_not_xlsx_or_csv(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    result = invoke_wdh(cli, db_url, "review", "export", str(tmp_path / "review.txt"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "review.txt: expected a .xlsx or .csv file" in result.stderr
    assert "Traceback" not in result.stderr


def _decide_xlsx(path: Path, decisions: dict[str, tuple[object, str | None]]) -> None:
    """Fill decision (and company_id) cells by request id, as a person does in Excel."""
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    for row in range(2, sheet.max_row + 1):
        request_id = sheet.cell(row=row, column=1).value
        if request_id in decisions:
            decision, company_id = decisions[str(request_id)]
            sheet[f"{DECISION}{row}"] = decision
            if company_id is not None:
                sheet[f"{COMPANY_ID}{row}"] = company_id
    book.save(path)


def test_apply_an_xlsx_with_a_number_typed_as_decision(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        low, none, typed = _setup(conn)
    target = tmp_path / "review.xlsx"
    invoke_wdh(cli, db_url, "review", "export", str(target))
    # 2 as a number (calamine reads 2.0), an ID typed as text, `none` in capitals.
    _decide_xlsx(
        target, {str(low): (2, None), str(typed): ("id", "000777"), str(none): ("NONE", None)}
    )

    result = invoke_wdh(cli, db_url, "review", "apply", str(target), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "read": 3,
        "applied": 2,
        "confirmed_none": 1,
        "skipped": 0,
        "stale": 0,
        "conflicts": 0,
        "rejected": 0,
        "plan_only": False,
        "conflict_list": [],
        "rejected_list": [],
    }
    with psycopg.connect(db_url) as conn:
        found = conn.execute(
            "SELECT id, status, resolved_company_id, last_error "
            "FROM enterprise.enrichment_requests ORDER BY id"
        ).fetchall()
    assert found == [
        (low, "done", "614810477", None),
        (none, "failed", None, "review: no company"),
        (typed, "done", "000777", None),
    ]

    again = invoke_wdh(cli, db_url, "review", "apply", str(target), "--json")
    figures = json.loads(again.stdout)
    assert (figures["applied"], figures["confirmed_none"], figures["stale"]) == (0, 0, 3)


def test_apply_lists_conflicts_on_stdout_and_rejections_on_stderr(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        mapped = request(conn, "甲公司")
        good = request(conn, "乙公司")
        conn.execute(
            "INSERT INTO enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority, source) "
            "VALUES ('甲公司', 'C-STORED', 'name', 4, 'crm')"
        )
    path = tmp_path / "d.csv"
    path.write_text(
        "request_id,decision,company_id\n"
        f"{mapped},id,C-NEW\n"
        f"{good},id,C-GOOD\n"
        f"{good},yes,\n"
        f"{good},,\n",
        encoding="utf-8",
    )
    result = invoke_wdh(cli, db_url, "review", "apply", str(path))
    assert result.exit_code == 0, result.stderr
    assert "conflicts" in result.stdout
    conflict_line = next(line for line in result.stdout.splitlines() if "C-NEW" in line)
    assert f"{path}:2" in conflict_line and str(mapped) in conflict_line
    assert "C-STORED" in conflict_line
    assert f"rejected {path}:4: unknown decision 'yes'" in result.stderr
    assert "甲公司" not in result.stdout + result.stderr  # no company names in messages

    data = json.loads(invoke_wdh(cli, db_url, "review", "apply", str(path), "--json").stdout)
    assert data["conflict_list"] == [
        {
            "file": str(path),
            "row": 2,
            "request_id": mapped,
            "new_id": "C-NEW",
            "current_id": "C-STORED",
        }
    ]
    assert data["rejected_list"] == [
        {
            "file": str(path),
            "row": 4,
            "reason": "unknown decision 'yes' (expected 1, 2, 3, id, none)",
        }
    ]
    assert (data["read"], data["skipped"], data["stale"]) == (4, 1, 1)


def test_apply_needs_the_decision_column(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("request_id,company_id\n1,C1\n", encoding="utf-8")
    result = invoke_wdh(cli, db_url, "review", "apply", str(path), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{path}: no column 'decision' (columns: 'request_id', 'company_id')" in result.stderr
    missing = invoke_wdh(cli, db_url, "review", "apply", str(tmp_path / "nope.xlsx"))
    assert missing.exit_code == 2
    assert "nope.xlsx: no such file" in missing.stderr


def test_plan_only_writes_nothing(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        target = request(conn, "甲公司")
    path = tmp_path / "d.csv"
    path.write_text(f"request_id,decision,company_id\n{target},id,C1\n", encoding="utf-8")
    result = invoke_wdh(cli, db_url, "review", "apply", str(path), "--plan-only", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["applied"], data["plan_only"]) == (1, True)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM enterprise.company_mapping").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM enterprise.company_master").fetchone() == (0,)
        assert conn.execute("SELECT status FROM enterprise.enrichment_requests").fetchone() == (
            "failed",
        )
    human = invoke_wdh(cli, db_url, "review", "apply", str(path), "--plan-only")
    assert "plan only: nothing was written" in human.stderr


def test_the_round_trip_turns_a_temporary_id_into_a_company(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    """resolve -> drain (no match) -> export -> a person decides -> apply -> resolve: db:name."""
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n青岛海滨物流有限公司\n青岛 海滨物流有限公司\n", encoding="utf-8")
    first = invoke_wdh(cli, db_url, "resolve", str(source))
    assert first.exit_code == 0, first.stderr
    output = tmp_path / "in.resolved.csv"
    temp_ids = {row["company_id"] for row in csv.DictReader(output.open(encoding="utf-8"))}
    (temp_id,) = temp_ids
    assert invoke_wdh(cli, db_url, "queue", "drain", "--provider", "directory").exit_code == 0

    review = tmp_path / "review.xlsx"
    assert invoke_wdh(cli, db_url, "review", "export", str(review)).exit_code == 0
    book = openpyxl.load_workbook(review)
    sheet = book.active
    assert sheet is not None
    assert sheet["D2"].value == temp_id and sheet["F2"].value == "no match"
    sheet[f"{DECISION}2"] = "id"
    sheet[f"{COMPANY_ID}2"] = "614810477"
    book.save(review)
    applied = invoke_wdh(cli, db_url, "review", "apply", str(review), "--json")
    assert json.loads(applied.stdout)["applied"] == 1

    again = invoke_wdh(cli, db_url, "resolve", str(source))
    assert again.exit_code == 0, again.stderr
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [(r["company_id"], r["company_id_source"]) for r in rows] == [
        ("614810477", "db:name"),
        ("614810477", "db:name"),
    ]
    resolved = invoke_wdh(cli, db_url, "queue", "resolved")
    listed = list(csv.DictReader(io.StringIO(resolved.stdout)))
    assert [(r["temp_id"], r["raw_name"], r["resolved_company_id"]) for r in listed] == [
        (temp_id, "青岛海滨物流有限公司", "614810477")
    ]
