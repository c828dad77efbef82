"""Review files saved by spreadsheet programs, applied by the installed wdh.

tests/data/review_typed_*.{ods,xlsx,csv} (made by
tests/data/make_review_spreadsheets.py): wdh's export with decisions typed
as a person types them, saved by LibreOffice Calc as .ods, .xlsx and .csv,
and as WPS saves an .xlsx (emulated: see the script). Cells come back typed
differently from what wdh wrote: request_id and decision as numbers (2.0),
a company_id with the apostrophe LibreOffice keeps in a text cell, or as a
number, one of them too long for a spreadsheet to keep.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers import run_wdh, wdh_env
from wdh_cli.names import normalize_name
from wdh_cli.tempids.generator import TempIdGenerator

SALT = "pepper"
DATA = Path(__file__).parents[1] / "data"
FIXTURES = [
    "review_typed_libreoffice.ods",
    "review_typed_libreoffice.xlsx",
    "review_typed_libreoffice.csv",
    "review_typed_wps.xlsx",
]
TOO_LONG = (
    "company_id is a number of more than 15 digits, which a spreadsheet does not keep "
    "exactly (type it as text)"
)
# LibreOffice writes such a number into a CSV as it shows it: 9.13100001322008E+016.
NOT_AN_ID = (
    "company_id: the company ID holds the character '+' (U+002B); a company ID is ASCII "
    "letters, digits, '-', '_' and '.'"
)


def _requests(db_url: str) -> None:
    """The eight failed requests the fixtures decide (ids 1 to 8)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for number in range(1, 9):
            name = f"客户{number}有限公司"
            found = conn.execute(
                "INSERT INTO enterprise.enrichment_requests "
                "(raw_name, normalized_name, temp_id, status, last_error) "
                "VALUES (%s, %s, %s, 'failed', 'no match') RETURNING id",
                (name, normalize_name(name), TempIdGenerator(SALT).for_name(name)),
            ).fetchone()
            assert found == (number,)


def _recorded(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(db_url) as conn:
        return {
            "requests": conn.execute(
                "SELECT id, status, resolved_company_id, resolved_source, last_error "
                "FROM enterprise.enrichment_requests ORDER BY id"
            ).fetchall(),
            "master": conn.execute(
                "SELECT company_id, official_name, source FROM enterprise.company_master ORDER BY 1"
            ).fetchall(),
            "mapping": conn.execute(
                "SELECT alias_name, canonical_id, match_type, source "
                "FROM enterprise.company_mapping ORDER BY 1"
            ).fetchall(),
        }


@pytest.mark.parametrize("fixture", FIXTURES)
def test_a_review_saved_by_a_spreadsheet_program_applies(
    fixture: str, db_url: str, tmp_path: Path
) -> None:
    _requests(db_url)
    path = tmp_path / fixture.upper()  # REVIEW_TYPED_LIBREOFFICE.ODS: any case of suffix
    shutil.copy(DATA / fixture, path)
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT=SALT)

    result = run_wdh("review", "apply", str(path), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    figures = ("read", "applied", "confirmed_none", "skipped", "stale", "conflicts", "rejected")
    assert {key: report[key] for key in figures} == {
        "read": 8,
        "applied": 5,
        "confirmed_none": 1,
        "skipped": 1,
        "stale": 0,
        "conflicts": 0,
        "rejected": 1,
    }
    reason = NOT_AN_ID if fixture.endswith(".csv") else TOO_LONG
    assert report["rejected_list"] == [{"file": str(path), "row": 7, "reason": reason}]

    assert _recorded(db_url) == {
        "requests": [
            (1, "done", "000123", "review", None),  # candidate 1
            (2, "done", "614810477", "review", None),  # request_id and decision typed 2
            (3, "done", "608349737", "review", None),  # typed '608349737
            (4, "failed", None, None, "review: no company"),  # request_id typed 4
            (5, "done", "608349738", "review", None),  # typed as a number
            (6, "failed", None, None, "no match"),  # rejected: 17 digits
            (7, "failed", None, None, "no match"),  # no decision
            (8, "done", "608349739", "review", None),  # candidate 3
        ],
        "master": [
            ("000123", "青岛海滨物流有限公司", "review"),
            ("608349737", "客户3有限公司", "review"),  # a typed ID takes the request's name
            ("608349738", "客户5有限公司", "review"),
            ("608349739", "中国平安人寿保险股份有限公司", "review"),
            ("614810477", "上海浦东发展集团有限公司", "review"),
        ],
        "mapping": [
            (normalize_name("客户1有限公司"), "000123", "name", "review"),
            (normalize_name("客户2有限公司"), "614810477", "name", "review"),
            (normalize_name("客户3有限公司"), "608349737", "name", "review"),
            (normalize_name("客户5有限公司"), "608349738", "name", "review"),
            (normalize_name("客户8有限公司"), "608349739", "name", "review"),
        ],
    }


def test_a_review_export_cannot_be_an_ods(db_url: str, tmp_path: Path) -> None:
    """wdh writes no .ods: export says which files it writes (apply reads .ods)."""
    env = wdh_env(WDH_DATABASE_URL=db_url)
    result = run_wdh("review", "export", str(tmp_path / "review.ods"), env=env)
    assert result.returncode == 2
    assert "expected a .xlsx or .csv file" in result.stderr
    assert not (tmp_path / "review.ods").exists()


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04 not really a zip",
        b"",
        b"\x00" * 4096,
        (DATA / "review_typed_libreoffice.xlsx").read_bytes(),
    ],
    ids=["broken", "empty", "nul", "xlsx"],
)
def test_an_ods_that_is_not_one_is_an_input_error(
    content: bytes, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "review.ods"
    path.write_bytes(content)
    result = run_wdh("review", "apply", str(path), env=wdh_env(WDH_DATABASE_URL=db_url))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {path}: not a readable .ods workbook (")
    assert result.stderr.count("\n") == 1


def test_names_of_an_ods_column_can_be_queued_and_checked(db_url: str) -> None:
    """queue enqueue --file and names check read one column of an .ods too."""
    ods = str(DATA / "review_typed_libreoffice.ods")
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT=SALT)
    result = run_wdh("queue", "enqueue", "--file", ods, "--column", "raw_name", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"queued": 8, "skipped": 0}
    checked = run_wdh("names", "check", ods, "--col-name", "raw_name", "--json", env=env)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["names"] == 8


def test_resolve_still_refuses_an_ods(db_url: str, tmp_path: Path) -> None:
    """Resolve writes its output in the input's format, and wdh writes no .ods (yet)."""
    path = tmp_path / "input.ods"
    shutil.copy(DATA / "review_typed_libreoffice.ods", path)
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT=SALT)
    result = run_wdh("resolve", str(path), "--col-name", "raw_name", env=env)
    assert result.returncode == 2
    assert result.stderr == f"error: {path}: expected an .xlsx or .csv file\n"
