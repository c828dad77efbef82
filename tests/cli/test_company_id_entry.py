"""Where company IDs enter wdh from mapping files: loads, checks, and YAML overrides.

Every entry point applies the one rule of wdh_cli/companies/ids.py, through the
installed `wdh`: a temporary ID of either style (in any letter case) or a
malformed ID is a rejected row naming its file and line, and the valid rows
still go in; a YAML override file holding one is refused whole.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import psycopg
import pytest
import xlsxwriter

from tests.helpers import run_wdh, wdh_env


def _env(db_url: str, mappings: Path | None = None) -> dict[str, str]:
    extra = {"WDH_DATABASE_URL": db_url, "WDH_ALIAS_SALT": "pepper"}
    if mappings is not None:
        extra["WDH_MAPPINGS_DIR"] = str(mappings)
    return wdh_env(**extra)


MAPPING_ROWS = [
    ("P1", "614810477", "plan"),
    ("P2", "INABCDEFGHIJKLMNOP", "plan"),
    ("P3", "TEMP_000001", "plan"),
    ("P4", "temp_12", "plan"),
    ("P5", "in2b3c4d5e6f7g2h3j", "plan"),
    ("P6", "6148\n10477", "plan"),
    ("P7", "6148\u200b10477", "plan"),
    ("P8", "6148 10477", "plan"),
    ("P9", "9" * 101, "plan"),
    ("P10", "公司123", "plan"),
    ("P 11", " C-11.x_Y ", "plan"),  # a key with a space is fine: only the company has the rule
    ("上海某某有限公司", "C\u3000", "name"),  # ends trimmed, ideographic space included
]


def _mapping_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("alias_name", "canonical_id", "match_type"))
        writer.writerows(MAPPING_ROWS)
    return path


def test_mapping_loads_reject_what_is_not_a_company(db_url: str, tmp_path: Path) -> None:
    path = _mapping_csv(tmp_path / "m.csv")
    # Lines: the header is 1, P6's quoted line break makes P7 start on line 8.
    expected = {
        3: "canonical_id: INABCDEFGHIJKLMNOP is a temporary ID, not a company",
        4: "canonical_id: TEMP_000001 is a temporary ID, not a company",
        5: "canonical_id: temp_12 is a temporary ID, not a company",
        6: "canonical_id: in2b3c4d5e6f7g2h3j is a temporary ID, not a company",
        7: "U+000A",
        9: "U+200B",
        10: "U+0020",
        11: "canonical_id: the company ID is longer than 100 characters (101)",
        12: "U+516C",
    }
    result = run_wdh("mappings", "load", str(path), "--json", env=_env(db_url))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["read"], data["inserted"], data["rejected"]) == (12, 3, 9)
    found = {r["line"]: r["reason"] for r in data["rejected_list"]}
    assert set(found) == set(expected)
    for line, fragment in expected.items():
        assert found[line].startswith("canonical_id: ") and fragment in found[line]
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT alias_name, canonical_id FROM enterprise.company_mapping"
        ).fetchall()
    assert sorted(stored) == [("P 11", "C-11.x_Y"), ("P1", "614810477"), ("上海某某有限公司", "C")]

    checked = run_wdh("mappings", "check", str(path), "--json", env=_env(db_url))
    assert checked.returncode == 3
    problems = json.loads(checked.stdout)["problems"]
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{line}" for line in expected]


def test_yaml_overrides_with_a_bad_id_are_refused_everywhere(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    overrides = folder / "company_id_overrides_plan.yml"
    overrides.write_text(
        'P1: "614810477"\nP2: TEMP_000001\nP3: "6148\\u200b10477"\n"P 4": C-4\n',
        encoding="utf-8",
    )
    env = _env(db_url, folder)

    checked = run_wdh("mappings", "check", "--json", env=env)
    assert checked.returncode == 3
    assert json.loads(checked.stdout)["problems"] == [
        f"{overrides}:2: canonical_id: TEMP_000001 is a temporary ID, not a company",
        f"{overrides}:3: canonical_id: the company ID holds an invisible or control "
        "character (U+200B); a company ID is ASCII letters, digits, '-', '_' and '.'",
    ]

    loaded = run_wdh("mappings", "load", env=env)
    assert loaded.returncode == 2
    assert loaded.stdout == ""
    assert f"{overrides}:2: canonical_id: TEMP_000001 is a temporary ID" in loaded.stderr
    assert len(loaded.stderr.strip().splitlines()) == 1

    source = tmp_path / "in.csv"
    source.write_text("计划代码,客户名称\nP1,甲公司\nP2,乙公司\n", encoding="utf-8")
    resolved = run_wdh("resolve", str(source), "--offline", env=env)
    assert resolved.returncode == 2, resolved.stderr
    assert resolved.stderr.startswith("error: ")
    assert f"{overrides}:2: canonical_id: TEMP_000001 is a temporary ID" in resolved.stderr
    assert f"{overrides}:3: canonical_id:" in resolved.stderr
    assert "Traceback" not in resolved.stderr
    assert not (tmp_path / "in.resolved.csv").exists()

    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM enterprise.company_mapping").fetchone() == (0,)


@pytest.mark.parametrize("value", ["TEMP_1", "IN" + "A" * 16, "in" + "2" * 16])
def test_a_yaml_override_of_a_temporary_id_fails_resolve(
    db_url: str, tmp_path: Path, value: str
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "company_id_overrides_name.yml").write_text(f"甲公司: {value}\n", encoding="utf-8")
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n甲公司\n", encoding="utf-8")
    result = run_wdh("resolve", str(source), env=_env(db_url, folder))
    assert result.returncode == 2
    assert f"company_id_overrides_name.yml:1: canonical_id: {value} is a temporary ID" in (
        result.stderr
    )


def test_a_boolean_is_never_a_company_id(db_url: str, tmp_path: Path) -> None:
    # An existing-ID cell typed as a boolean read as "TRUE" and was learned and
    # backflowed as the company "TRUE" (found by the hostile pass of the engine);
    # the text TRUE or false in a CSV cell is no company either.
    book_path = tmp_path / "in.xlsx"
    book = xlsxwriter.Workbook(str(book_path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["客户名称", "公司代码"])
    sheet.write_string(1, 0, "甲公司")
    sheet.write_boolean(1, 1, True)
    sheet.write_string(2, 0, "乙公司")
    sheet.write_string(2, 1, "614810477")
    book.close()
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("客户名称,公司代码\n丙公司,false\n丁公司,True\n", encoding="utf-8")
    env = _env(db_url)
    for source, existing in ((book_path, 1), (csv_path, 0)):
        result = run_wdh("resolve", str(source), "--json", env=env)
        assert result.returncode == 0, result.stderr
        stats = json.loads(result.stdout)
        assert stats["existing_column_hits"] == existing, stats
        assert stats["backflow"]["inserted"] == existing, stats
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            'CREATE TABLE public.t ("客户名称" text, "公司代码" boolean, company_id text, '
            "company_id_source text)"
        )
        conn.execute("INSERT INTO public.t VALUES ('戊公司', true), ('己公司', false)")
    table = run_wdh("resolve", "--table", "public.t", "--json", env=env)
    assert table.returncode == 0, table.stderr
    assert json.loads(table.stdout)["existing_column_hits"] == 0
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT canonical_id FROM enterprise.company_mapping").fetchall()
    assert stored == [("614810477",)]

    mappings = tmp_path / "m.csv"
    mappings.write_text("alias_name,canonical_id,match_type\nP1,TRUE,plan\nP2,C2,plan\n")
    loaded = run_wdh("mappings", "load", str(mappings), "--json", env=env)
    assert loaded.returncode == 0, loaded.stderr
    [rejected] = json.loads(loaded.stdout)["rejected_list"]
    assert rejected["line"] == 2
    assert rejected["reason"] == "canonical_id: TRUE is a spreadsheet's TRUE/FALSE, not a company"
