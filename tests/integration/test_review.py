"""The review round trip's services on a real database: export, apply, and their guarantees."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import psycopg
import pytest
import xlsxwriter

from tests.helpers import A, B, C, candidates, request
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseError, InputFileError, OutputFileError, UsageError
from wdh_cli.providers.base import Candidate
from wdh_cli.review import repository, service
from wdh_cli.review.sheet import COLUMNS, Chosen, read_review


def decide(path: Path, rows: list[dict[str, str]]) -> Path:
    """A review CSV as a person leaves it (only the columns given, plus the header)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: conn.execute(f"SELECT * FROM enterprise.{table} ORDER BY 1, 2").fetchall()
        for table in ("company_master", "company_mapping", "enrichment_requests")
    }


def state(conn: psycopg.Connection, request_id: int) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT status, resolved_company_id, resolved_source, last_error "
        "FROM enterprise.enrichment_requests WHERE id = %s",
        (request_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_export_lists_the_newest_failed_request_of_each_name(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    few = request(conn, "甲公司", rows_seen=3)
    many = request(conn, "乙公司", rows_seen=40, error="best confidence 0.72 below the bar")
    request(conn, "丙公司", status="done")
    request(conn, "丁公司", status="pending")
    decided = request(conn, "戊公司", rows_seen=99, error="review: no company")
    request(conn, "己公司", rows_seen=500)  # superseded: the name was queued again since
    request(conn, "己公司", status="pending")
    tie = request(conn, "庚公司", rows_seen=3)
    candidates(conn, "乙公司", A, B, C, Candidate("X", "X", None, "fuzzy", 0.1))

    report = service.export(db, tmp_path / "r.csv", limit=None, include_none=False)
    assert (report.exported, report.output) == (3, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["request_id"] for r in rows] == [str(many), str(few), str(tie)]
    assert rows[0]["reason"] == "best confidence 0.72 below the bar"
    assert [rows[0][f"candidate_{n}_id"] for n in (1, 2, 3)] == ["000123", "614810477", "608349737"]
    assert rows[0]["candidate_3_credit_code"] == ""
    assert rows[1]["candidate_1_id"] == ""

    everything = service.export(db, tmp_path / "all.csv", limit=2, include_none=True)
    assert everything.exported == 2
    with (tmp_path / "all.csv").open(encoding="utf-8-sig", newline="") as handle:
        assert [r["request_id"] for r in csv.DictReader(handle)] == [str(decided), str(many)]


def test_export_refuses_other_suffixes_and_leaves_no_partial_file(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    request(conn, "甲公司")
    with pytest.raises(UsageError, match=r"r\.txt: expected a \.xlsx or \.csv file"):
        service.export(db, tmp_path / "r.txt", limit=None, include_none=False)
    (tmp_path / "taken.xlsx").mkdir()  # refused before anything is written
    with pytest.raises(OutputFileError, match=r"taken\.xlsx: is a directory"):
        service.export(db, tmp_path / "taken.xlsx", limit=None, include_none=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.xlsx"]


def test_apply_records_each_kind_of_decision(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    first = request(conn, "青岛海滨物流")
    second = request(conn, "上海浦发")
    third = request(conn, "平安")
    typed = request(conn, "新公司有限公司")
    nothing = request(conn, "无此公司")
    left = request(conn, "未决定公司")
    for name in ("青岛海滨物流", "上海浦发", "平安"):
        candidates(conn, name, A, B, C)
    conn.execute(  # a company already known keeps its name, and gains the raw name as an alias
        "INSERT INTO enterprise.company_master (company_id, official_name, source) "
        "VALUES ('614810477', '上海浦东发展集团有限公司', 'directory')"
    )
    service.export(db, tmp_path / "r.csv", limit=None, include_none=False)
    with (tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    choices = {first: "1", second: " 2 ", third: "3", typed: "ID", nothing: "None", left: ""}
    for row in rows:
        row["decision"] = choices[int(row["request_id"])]
        if int(row["request_id"]) == typed:
            row["company_id"] = " 600555001 "
    report = service.apply(db, decide(tmp_path / "d.csv", rows))

    assert (report.read, report.applied, report.confirmed_none, report.skipped) == (6, 4, 1, 1)
    assert (report.stale, report.conflicts, report.rejected) == (0, 0, 0)
    assert state(conn, first) == ("done", "000123", "review", None)
    assert state(conn, second) == ("done", "614810477", "review", None)
    assert state(conn, third) == ("done", "608349737", "review", None)
    assert state(conn, typed) == ("done", "600555001", "review", None)
    assert state(conn, nothing) == ("failed", None, None, "review: no company")
    assert state(conn, left) == ("failed", None, None, "no match")
    master = conn.execute(
        "SELECT company_id, official_name, unified_credit_code, aliases, source "
        "FROM enterprise.company_master ORDER BY company_id"
    ).fetchall()
    assert master == [
        ("000123", "青岛海滨物流有限公司", "91370200MA3C1234X1", ["青岛海滨物流"], "review"),
        ("600555001", "新公司有限公司", None, ["新公司有限公司"], "review"),  # raw name
        ("608349737", "中国平安人寿保险股份有限公司", None, ["平安"], "review"),
        ("614810477", "上海浦东发展集团有限公司", None, ["上海浦发"], "directory"),
    ]
    mappings = conn.execute(
        "SELECT alias_name, canonical_id, match_type, priority, source "
        "FROM enterprise.company_mapping ORDER BY canonical_id"
    ).fetchall()
    assert mappings == [
        ("青岛海滨物流", "000123", "name", 4, "review"),
        ("新公司有限公司", "600555001", "name", 4, "review"),
        ("平安", "608349737", "name", 4, "review"),
        ("上海浦发", "614810477", "name", 4, "review"),
    ]
    # Decided `none`: out of the next export, unless --all.
    again = service.export(db, tmp_path / "again.csv", limit=None, include_none=False)
    assert again.exported == 1  # the undecided one
    assert service.export(db, tmp_path / "all.csv", limit=None, include_none=True).exported == 2


def test_conflicts_stored_and_within_the_file_are_listed_and_untouched(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    mapped = request(conn, "甲公司")
    conn.execute(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES ('甲公司', 'C-STORED', 'name', 4)"
    )
    older = request(conn, "乙公司")
    newer = request(conn, "乙公司")
    same = request(conn, "丙公司")
    conn.execute(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES ('丙公司', 'C3', 'name', 4)"
    )
    path = decide(
        tmp_path / "d.csv",
        [
            {"request_id": str(mapped), "decision": "id", "company_id": "C-NEW"},
            {"request_id": str(newer), "decision": "id", "company_id": "C2"},
            {"request_id": str(older), "decision": "id", "company_id": "C-OTHER"},
            {"request_id": str(same), "decision": "id", "company_id": "C3"},  # agrees: applied
        ],
    )
    report = service.apply(db, path)
    assert (report.applied, report.conflicts) == (2, 2)
    assert [(c.row, c.request_id, c.new_id, c.current_id) for c in report.conflict_list] == [
        (2, mapped, "C-NEW", "C-STORED"),
        (4, older, "C-OTHER", "C2"),
    ]
    assert state(conn, mapped) == ("failed", None, None, "no match")
    assert state(conn, older)[0] == "failed"
    assert state(conn, newer)[:2] == ("done", "C2")
    assert state(conn, same)[:2] == ("done", "C3")
    assert conn.execute(
        "SELECT canonical_id FROM enterprise.company_mapping WHERE alias_name = '甲公司'"
    ).fetchall() == [("C-STORED",)]


def test_rejected_rows_are_listed_and_the_valid_ones_applied(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    good = request(conn, "甲公司")
    other = request(conn, "乙公司")
    path = decide(
        tmp_path / "d.csv",
        [
            {"request_id": str(other), "decision": "maybe"},
            {"request_id": str(other), "decision": "2"},  # no candidate 2 in the file
            {"request_id": str(other), "decision": "id"},
            {"request_id": str(other), "decision": "id", "company_id": "9" * 101},
            {"request_id": "999999", "decision": "none"},
            {"request_id": "abc", "decision": "none"},
            {"request_id": "", "decision": "none"},
            {"request_id": str(good), "decision": "id", "company_id": "C1"},
            {"request_id": str(good), "decision": "none"},
            {"request_id": "", "decision": ""},  # blank: not even read
        ],
    )
    report = service.apply(db, path)
    assert (report.read, report.applied, report.rejected) == (9, 1, 8)
    assert [r.describe() for r in report.rejected_list] == [
        f"{path}:2: unknown decision 'maybe' (expected 1, 2, 3, id, none)",
        f"{path}:3: decision 2 but candidate_2_id is empty",
        f"{path}:4: decision id but company_id is empty",
        f"{path}:5: company_id: the company ID is longer than 100 characters (101)",
        f"{path}:6: unknown request_id 999999",
        f"{path}:7: request_id 'abc' is not a request id "
        "(expected a whole number from 1 to 2147483647)",
        f"{path}:8: empty request_id",
        f"{path}:10: request {good} is decided again (first on row 9)",
    ]
    assert state(conn, good)[:2] == ("done", "C1")
    assert state(conn, other) == ("failed", None, None, "no match")


def test_stale_rows_and_a_second_apply_change_nothing(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    resolved = request(conn, "甲公司")
    purged = request(conn, "乙公司")
    kept = request(conn, "丙公司")
    nothing = request(conn, "丁公司")
    path = decide(
        tmp_path / "d.csv",
        [
            {"request_id": str(resolved), "decision": "id", "company_id": "C1"},
            {"request_id": str(purged), "decision": "id", "company_id": "C2"},
            {"request_id": str(kept), "decision": "id", "company_id": "C3"},
            {"request_id": str(nothing), "decision": "none"},
        ],
    )
    conn.execute(
        "UPDATE enterprise.enrichment_requests SET status = 'done', resolved_company_id = 'P1' "
        "WHERE id = %s",
        (resolved,),
    )
    conn.execute("DELETE FROM enterprise.enrichment_requests WHERE id = %s", (purged,))
    first = service.apply(db, path)
    assert (first.applied, first.confirmed_none, first.stale, first.rejected) == (1, 1, 2, 0)
    assert state(conn, resolved)[:2] == ("done", "P1")

    before = snapshot(conn)
    second = service.apply(db, path)
    assert (second.applied, second.confirmed_none, second.stale) == (0, 0, 4)
    assert snapshot(conn) == before


def test_plan_only_reports_the_real_figures_and_writes_nothing(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    ids = [request(conn, name) for name in ("甲公司", "乙公司", "丙公司")]
    conn.execute(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES ('乙公司', 'C-STORED', 'name', 4)"
    )
    path = decide(
        tmp_path / "d.csv",
        [
            {"request_id": str(ids[0]), "decision": "id", "company_id": "C1"},
            {"request_id": str(ids[1]), "decision": "id", "company_id": "C2"},
            {"request_id": str(ids[2]), "decision": "none"},
            {"request_id": "x", "decision": "none"},
        ],
    )
    before = snapshot(conn)
    planned = service.apply(db, path, plan_only=True)
    assert snapshot(conn) == before
    assert planned.plan_only
    real = service.apply(db, path)
    assert (
        (planned.applied, planned.confirmed_none, planned.conflicts, planned.rejected)
        == (
            real.applied,
            real.confirmed_none,
            real.conflicts,
            real.rejected,
        )
        == (1, 1, 1, 1)
    )


def test_a_file_without_the_decision_column_applies_nothing(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    request(conn, "甲公司")
    path = tmp_path / "d.csv"
    path.write_text("request_id,company_id\n1,C1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"d\.csv: no column 'decision'"):
        service.apply(db, path)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    with pytest.raises(InputFileError, match=r"broken\.xlsx: not a readable \.xlsx workbook"):
        service.apply(db, broken)
    assert state(conn, 1) == ("failed", None, None, "no match")


def test_apply_sends_the_same_statements_for_any_number_of_rows(
    db: Database, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set-based: a file of 40 decisions costs the statements of a file of 4."""
    sent: list[str] = []
    original = psycopg.Cursor.execute

    def counting(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query)[:40])
        return original(self, query, *args, **kwargs)

    def run(count: int, offset: int) -> int:
        ids = [request(conn, f"公司{offset + n}") for n in range(count)]
        rows = [
            {"request_id": str(i), "decision": "id" if n % 2 else "none", "company_id": f"C{i}"}
            for n, i in enumerate(ids)
        ]
        path = decide(tmp_path / f"d{count}.csv", rows)
        sent.clear()
        monkeypatch.setattr(psycopg.Cursor, "execute", counting)
        report = service.apply(db, path)
        monkeypatch.setattr(psycopg.Cursor, "execute", original)
        assert report.applied + report.confirmed_none == count
        return len(sent)

    small = run(4, 0)
    assert small >= 4  # targets, companies, mappings, requests
    assert run(40, 100) == small


def test_a_name_mapped_by_another_session_meanwhile_rolls_the_file_back(
    db: Database, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests are locked during an apply, the mappings are not: a name mapped to another
    company between the check and the insert rolls the whole file back."""
    other = request(conn, "甲公司")
    raced = request(conn, "乙公司")
    path = decide(
        tmp_path / "d.csv",
        [
            {"request_id": str(other), "decision": "id", "company_id": "C1"},
            {"request_id": str(raced), "decision": "id", "company_id": "C2"},
        ],
    )
    checked = repository.targets

    def check_then_race(*args: Any, **kwargs: Any) -> dict[int, repository.Target]:
        found = checked(*args, **kwargs)
        with psycopg.connect(conn.info.dsn, autocommit=True) as elsewhere:
            elsewhere.execute(
                "INSERT INTO enterprise.company_mapping "
                "(alias_name, canonical_id, match_type, priority) "
                "VALUES ('乙公司', 'C-ELSEWHERE', 'name', 4)"
            )
        return found

    monkeypatch.setattr(repository, "targets", check_then_race)
    before = snapshot(conn)
    with pytest.raises(DatabaseError, match="name mappings changed while it ran"):
        service.apply(db, path)
    after = snapshot(conn)
    assert after["enrichment_requests"] == before["enrichment_requests"]
    assert after["company_master"] == []
    assert [row[1:3] for row in after["company_mapping"]] == [("乙公司", "C-ELSEWHERE")]


def test_reading_rejects_what_is_not_a_company_and_formulas_without_values(
    tmp_path: Path,
) -> None:
    """The reader alone (tests/cli/test_review_entry.py drives the installed wdh)."""
    path = tmp_path / "r.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("review")
    sheet.write_row(0, 0, ["request_id", "decision", "company_id", "candidate_1_id"])
    sheet.write_row(1, 0, ["1", "id", "TEMP_000001"])
    sheet.write_row(2, 0, ["2", "1", "", "6148\n10477"])
    sheet.write_row(3, 0, ["3", "id"])
    sheet.write_formula(3, 2, '="C"&"3"', None, "")
    sheet.write_string(4, 0, "4")
    sheet.write_formula(4, 1, '="none"', None, "")
    sheet.write_row(5, 0, ["0", "none"])
    sheet.write_row(6, 0, ["9" * 5000, "none"])
    sheet.write_row(7, 0, ["8", "id", " C-8 "])
    book.close()
    found = read_review(path)
    assert [(d.row, d.request_id, d.company) for d in found.decisions] == [
        (8, 8, Chosen("C-8", None, None))
    ]
    formula = "a formula without a value (open and save the file in a spreadsheet program "
    not_a_request = "is not a request id (expected a whole number from 1 to 2147483647)"
    assert [(r.number, r.reason) for r in found.rejected] == [
        (2, "company_id: TEMP_000001 is a temporary ID, not a company"),
        (
            3,
            "candidate_1_id: the company ID holds an invisible or control character (U+000A); "
            "a company ID is ASCII letters, digits, '-', '_' and '.'",
        ),
        (4, f"company_id is {formula}to calculate it, or type the value)"),
        (5, f"decision is {formula}to calculate it, or type the value)"),
        (6, f"request_id '0' {not_a_request}"),
        (7, f"request_id {not_a_request}"),
    ]


def test_reading_takes_cells_as_spreadsheet_programs_type_them(tmp_path: Path) -> None:
    """Numbers where wdh wrote text, a typed apostrophe, numbers too long to be exact."""
    path = tmp_path / "r.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("review")
    sheet.write_row(0, 0, ["request_id", "decision", "company_id", "candidate_1_id"])
    sheet.write_row(1, 0, [1.0, 2.0, "", "x"])  # decision 2 but no candidate 2: rejected
    sheet.write_row(2, 0, ["'2", "'ID", "' 608349737"])
    sheet.write_row(3, 0, [3.0, "id", 999999999999999.0])  # 15 digits: exact
    sheet.write_row(4, 0, [4.0, "id", 1e15])  # 16 digits
    sheet.write_row(5, 0, [-1e16, "none"])
    sheet.write_row(6, 0, [1e15, "none"])
    sheet.write_row(7, 0, ["8", "id", "''608349737"])  # one apostrophe only is taken off
    sheet.write_row(8, 0, ["9", "'1", "", "'C9"])
    sheet.write_row(9, 0, ["10", "none", "'"])
    sheet.write_row(10, 0, [11.5, "none"])
    book.close()
    found = read_review(path)
    assert [(d.row, d.request_id, d.company) for d in found.decisions] == [
        (3, 2, Chosen("608349737", None, None)),
        (4, 3, Chosen("999999999999999", None, None)),
        (9, 9, Chosen("C9", None, None)),
        (10, 10, None),
    ]
    too_long = "is a number of more than 15 digits, which a spreadsheet does not keep exactly"
    not_a_request = "is not a request id (expected a whole number from 1 to 2147483647)"
    assert [(r.number, r.reason) for r in found.rejected] == [
        (2, "decision 2 but candidate_2_id is empty"),
        (5, f"company_id {too_long} (type it as text)"),
        (6, f"request_id {too_long} (type it as text)"),
        (7, f"request_id {too_long} (type it as text)"),
        (
            8,
            'company_id: the company ID holds the character "\'" (U+0027); '
            "a company ID is ASCII letters, digits, '-', '_' and '.'",
        ),
        (11, f"request_id '11.5' {not_a_request}"),
    ]
