"""Hostile inputs and outputs: every one a one-line error with the right exit code, or a
complete output; never a traceback, a half-written file, or a valid row lost."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tests.helpers import invoke_resolve, one_line_error
from wdh_cli.cli.app import app

HEADER = ["计划代码", "年金账户号", "客户名称", "年金账户名", "公司代码", "金额"]


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "company_id_overrides_plan.yml").write_text("P001: Y-PLAN\n")
    (folder / "company_id_overrides_name.yml").write_text("甲公司: Y-NAME\n")
    return folder


def _env(overrides: Path, **extra: str) -> dict[str, str]:
    return {"WDH_ALIAS_SALT": "pepper", "WDH_MAPPINGS_DIR": str(overrides)} | extra


def _csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _xlsx(path: Path, rows: list[list[Any]], header: list[str] = HEADER) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("数据")
    sheet.write_row(0, 0, header)
    for index, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(index, col, value)
            elif value is not None:
                sheet.write_number(index, col, value)
    book.close()
    return path


def _read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _leftovers(folder: Path) -> list[str]:
    """Temporary files left in a folder (there should never be any)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# Outputs that cannot be written -----------------------------------------------------


def _unwritable(tmp_path: Path) -> list[Path]:
    """Output paths that cannot be written, even by root."""
    folder = tmp_path / "a-folder"
    folder.mkdir(exist_ok=True)
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("x")
    return [folder, a_file / "out.csv", Path("/proc/wdh-out.csv"), Path("/proc/self/out.csv")]


def test_resolve_output_that_cannot_be_written_exits_2_naming_it(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "in.csv", [["", "", "乙公司", "", "", ""]])
    for target in _unwritable(tmp_path):
        result = invoke_resolve(cli, db_url, path, _env(overrides), "--output", str(target))
        one_line_error(result, 2, str(target))
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "a-folder") == []
    assert not (tmp_path / "in.resolved.csv").exists()


def test_export_unknown_that_cannot_be_written_exits_2_and_writes_no_output(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "in.csv", [["", "", "乙公司", "", "", ""]])
    for target in _unwritable(tmp_path):
        result = invoke_resolve(cli, db_url, path, _env(overrides), "--export-unknown", str(target))
        one_line_error(result, 2, str(target))
        # The resolved output is not left behind by a run that failed.
        assert not (tmp_path / "in.resolved.csv").exists()
    assert _leftovers(tmp_path) == []


def test_queue_resolved_and_mappings_export_to_unwritable_paths_exit_2(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    for target in _unwritable(tmp_path):
        for command in (["queue", "resolved"], ["mappings", "export"]):
            result = cli.invoke(app, ["--db", db_url, *command, "--output", str(target)])
            assert result.exit_code == 2, (command, target, result.stderr)
            assert "Traceback" not in result.stderr
            assert f"error: {target}" in result.stderr
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "a-folder") == []


# Permissions of new files -----------------------------------------------------------


@pytest.fixture(params=[0o022, 0o002, 0o077, 0o027], ids=lambda mask: f"umask-{mask:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    mask: int = request.param
    previous = os.umask(mask)
    yield mask
    os.umask(previous)


def test_outputs_get_the_permissions_of_any_new_file(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path, umask: int
) -> None:
    expected = 0o666 & ~umask
    rows = [["", "", "乙公司", "", "", ""]]
    env = _env(overrides)
    targets = []
    for source in (_csv(tmp_path / "in.csv", rows), _xlsx(tmp_path / "in.xlsx", rows)):
        unknown = tmp_path / f"unknown-{source.suffix[1:]}.csv"
        result = invoke_resolve(cli, db_url, source, env, "--export-unknown", str(unknown))
        assert result.exit_code == 0, result.stderr
        targets += [Path(json.loads(result.stdout)["output"]), unknown]
    for command in (["queue", "resolved"], ["mappings", "export"]):
        target = tmp_path / f"{command[0]}.csv"
        result = cli.invoke(app, ["--db", db_url, *command, "--output", str(target)])
        assert result.exit_code == 0, result.stderr
        targets.append(target)
    modes = {target.name: oct(stat.S_IMODE(target.stat().st_mode)) for target in targets}
    assert modes == {target.name: oct(expected) for target in targets}


# Outputs that would destroy data ----------------------------------------------------


def _workbook_with_formulas(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    data = book.add_worksheet("数据")
    data.write_row(0, 0, ["客户名称", "金额"])
    data.write_row(1, 0, ["乙公司", 2])
    data.write_formula(2, 1, "=B2*2", None, 4)
    book.add_worksheet("其他").write(0, 0, "keep me")
    book.close()
    return path


def test_output_that_is_the_input_is_refused(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    source = _workbook_with_formulas(tmp_path / "in.xlsx")
    before = source.read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.xlsx").symlink_to(source)
    os.link(source, tmp_path / "hard.xlsx")
    same = [
        source,
        tmp_path / "sub" / ".." / "in.xlsx",
        tmp_path / "link.xlsx",
        tmp_path / "hard.xlsx",
        Path(os.path.relpath(source)),
    ]
    for target in same:
        result = invoke_resolve(cli, db_url, source, _env(overrides), "--output", str(target))
        one_line_error(result, 2, f"--output {target} is the input file {source}")
    assert source.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_output_with_the_suffix_of_another_format_is_refused(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    book = _workbook_with_formulas(tmp_path / "in.xlsx")
    text = _csv(tmp_path / "in.csv", [["", "", "乙公司", "", "", ""]])
    for source, target, suffix in [
        (book, "out.csv", ".xlsx"),
        (book, "out", ".xlsx"),
        (book, "out.xlsm", ".xlsx"),
        (text, "out.xlsx", ".csv"),
        (text, "out.txt", ".csv"),
    ]:
        result = invoke_resolve(
            cli, db_url, source, _env(overrides), "--output", str(tmp_path / target)
        )
        one_line_error(result, 2, f"--output {tmp_path / target}", f"must end in {suffix}")
        assert not (tmp_path / target).exists()
    # The suffix is compared without case.
    upper = invoke_resolve(
        cli, db_url, text, _env(overrides), "--output", str(tmp_path / "OUT.CSV")
    )
    assert upper.exit_code == 0, upper.stderr


def test_export_unknown_over_the_input_or_the_output_is_refused(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    source = _csv(tmp_path / "in.csv", [["", "", "乙公司", "", "", ""]])
    before = source.read_bytes()
    out = tmp_path / "out.csv"
    for args, message in [
        (["--export-unknown", str(source)], f"is the input file {source}"),
        (["--export-unknown", str(source), "--plan-only"], f"is the input file {source}"),
        (["--output", str(out), "--export-unknown", str(out)], f"is the output file {out}"),
        (["--export-unknown", str(tmp_path / "in.resolved.csv")], "is the output file"),
    ]:
        result = invoke_resolve(cli, db_url, source, _env(overrides), *args)
        one_line_error(result, 2, message)
    assert source.read_bytes() == before and not out.exists()


def test_an_xlsm_input_gives_an_xlsx_output(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    source = _workbook_with_formulas(tmp_path / "book.xlsx").rename(tmp_path / "book.xlsm")
    result = invoke_resolve(cli, db_url, source, _env(overrides))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["output"] == str(tmp_path / "book.resolved.xlsx")


# Blank rows above the header --------------------------------------------------------


def test_a_header_below_blank_rows_is_found_in_xlsx_and_csv(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "in.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_row(2, 0, ["计划代码", "客户名称", "金额"])  # row 3
    sheet.write_row(3, 0, ["P001", "乙公司", 1])
    sheet.write_row(5, 0, ["", "甲公司", 2])
    book.close()
    text = tmp_path / "in.csv"
    text.write_text("\n,,\n计划代码,客户名称,金额\nP001,乙公司,1\n,甲公司,2\n", encoding="utf-8")
    for source in (tmp_path / "in.xlsx", text):
        result = invoke_resolve(cli, db_url, source, _env(overrides))
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["total_rows"] == 2
    out = _read_csv(tmp_path / "in.resolved.csv")
    assert out == [
        ["计划代码", "客户名称", "金额", "company_id", "company_id_source"],
        ["P001", "乙公司", "1", "Y-PLAN", "yaml:plan"],
        ["", "甲公司", "2", "Y-NAME", "yaml:name"],
    ]
    rows = CalamineWorkbook.from_path(str(tmp_path / "in.resolved.xlsx")).get_sheet_by_index(0)
    assert [r[3:] for r in rows.to_python()] == [
        ["company_id", "company_id_source"],
        ["Y-PLAN", "yaml:plan"],
        ["Y-NAME", "yaml:name"],
    ]
    queued = cli.invoke(
        app,
        ["--db", db_url, "queue", "enqueue", "--file", str(tmp_path / "in.xlsx"), "--json"],
        env=_env(overrides),
    )
    assert queued.exit_code == 0, queued.stderr
    assert json.loads(queued.stdout)["queued"] == 2


# Duplicate headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "args", "named", "where"),
    [
        (["客户名称", "金额", "客户名称"], [], "'客户名称'", "column 1, column 3"),
        (["计划代码", "客户名称", "计划代码"], [], "'计划代码'", "column 1, column 3"),
        (["年金账户号", "客户名称", "年金账户号"], [], "'年金账户号'", "column 1, column 3"),
        (["客户名称", "年金账户名", "年金账户名"], [], "'年金账户名'", "column 2, column 3"),
        (["公司代码", "客户名称", "公司代码"], [], "'公司代码'", "column 1, column 3"),
        (
            ["Cust", "x", "Cust", "Cust"],
            ["--col-name", "Cust"],
            "3 columns",
            "1, column 3, column 4",
        ),
        (["客户名称", "P", "P"], ["--col-plan", "P"], "'P'", "column 2, column 3"),
    ],
)
def test_a_key_column_named_twice_is_ambiguous(
    cli: CliRunner,
    db_url: str,
    overrides: Path,
    tmp_path: Path,
    header: list[str],
    args: list[str],
    named: str,
    where: str,
) -> None:
    path = _csv(tmp_path / "in.csv", [["甲公司"] * len(header)], header=header)
    result = invoke_resolve(cli, db_url, path, _env(overrides), *args)
    one_line_error(result, 2, str(path), named, where, "ambiguous")
    assert not (tmp_path / "in.resolved.csv").exists()


def test_duplicate_key_columns_in_a_workbook_are_named_by_letter(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "in.xlsx"))
    book.add_worksheet().write_row(1, 1, ["客户名称", "金额", "客户名称"])  # B2:D2
    book.close()
    result = invoke_resolve(cli, db_url, tmp_path / "in.xlsx", _env(overrides))
    one_line_error(result, 2, "2 columns are named '客户名称' (column B, column D)")
    queued = cli.invoke(
        app, ["--db", db_url, "queue", "enqueue", "--file", str(tmp_path / "in.xlsx")]
    )
    one_line_error(queued, 2, "column B, column D")


def test_other_duplicate_headers_are_kept_as_they_are(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "in.csv", [["1", "甲公司", "2"]], header=["金额", "客户名称", "金额"])
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    assert _read_csv(tmp_path / "in.resolved.csv") == [
        ["金额", "客户名称", "金额", "company_id", "company_id_source"],
        ["1", "甲公司", "2", "Y-NAME", "yaml:name"],
    ]


# Resolving a resolved file ----------------------------------------------------------


def test_resolving_a_resolved_file_overwrites_the_pair_in_place(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    rows = [["", "", "乙公司", "", "", "1"], ["P001", "", "丙公司", "", "", "2"]]
    for source in (_csv(tmp_path / "in.csv", rows), _xlsx(tmp_path / "in.xlsx", rows)):
        first = invoke_resolve(cli, db_url, source, _env(overrides))
        assert first.exit_code == 0, first.stderr
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, "
            "priority) VALUES ('乙公司', 'D-NAME', 'name', 4)"
        )
    header = [*HEADER, "company_id", "company_id_source"]
    expected = [["D-NAME", "db:name"], ["Y-PLAN", "yaml:plan"]]
    again = invoke_resolve(cli, db_url, tmp_path / "in.resolved.csv", _env(overrides))
    assert again.exit_code == 0, again.stderr
    out = _read_csv(tmp_path / "in.resolved.resolved.csv")
    assert out[0] == header and [r[6:] for r in out[1:]] == expected
    assert [r[:6] for r in out[1:]] == rows
    again = invoke_resolve(cli, db_url, tmp_path / "in.resolved.xlsx", _env(overrides))
    assert again.exit_code == 0, again.stderr
    book = CalamineWorkbook.from_path(str(tmp_path / "in.resolved.resolved.xlsx"))
    sheet = book.get_sheet_by_index(0).to_python()
    assert sheet[0] == header and [r[6:] for r in sheet[1:]] == expected


@pytest.mark.parametrize(
    ("header", "args", "out_header"),
    [
        # The pair in the middle, in either order: overwritten where it is.
        (
            ["company_id", "客户名称", "company_id_source", "x"],
            [],
            ["company_id", "客户名称", "company_id_source", "x"],
        ),
        (
            ["company_id_source", "客户名称", "company_id"],
            [],
            ["company_id_source", "客户名称", "company_id"],
        ),
        # Half of the pair: that one in place, the other appended.
        (["company_id", "客户名称"], [], ["company_id", "客户名称", "company_id_source"]),
        (["客户名称", "company_id_source"], [], ["客户名称", "company_id_source", "company_id"]),
        # Renamed output columns.
        (
            ["cid", "客户名称", "cid_source"],
            ["--col-output", "cid"],
            ["cid", "客户名称", "cid_source"],
        ),
        (
            ["company_id", "客户名称", "company_id_source"],
            ["--col-output", "cid"],
            ["company_id", "客户名称", "company_id_source", "cid", "cid_source"],
        ),
    ],
)
def test_the_output_pair_is_overwritten_wherever_it_is(
    cli: CliRunner,
    db_url: str,
    overrides: Path,
    tmp_path: Path,
    header: list[str],
    args: list[str],
    out_header: list[str],
) -> None:
    values = {"客户名称": "甲公司", "x": "keep", "company_id": "OLD", "company_id_source": "temp"}
    values |= {"cid": "OLD", "cid_source": "temp"}
    path = _csv(tmp_path / "in.csv", [[values[h] for h in header]], header=header)
    result = invoke_resolve(cli, db_url, path, _env(overrides), *args)
    assert result.exit_code == 0, result.stderr
    [got_header, got] = _read_csv(tmp_path / "in.resolved.csv")
    assert got_header == out_header
    row = dict(zip(got_header, got, strict=True))
    output = args[1] if args else "company_id"
    assert (row[output], row[f"{output}_source"]) == ("Y-NAME", "yaml:name")
    for name in header:  # every other column as it was
        if name not in (output, f"{output}_source"):
            assert row[name] == values[name]


@pytest.mark.parametrize(
    "args",
    [
        ["--col-output", "客户名称"],
        ["--col-output", "计划代码"],
        ["--col-output", "公司代码"],
        ["--col-output", "x", "--col-name", "x_source"],
    ],
)
def test_an_output_column_that_is_read_is_refused(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path, args: list[str]
) -> None:
    path = _csv(tmp_path / "in.csv", [["甲公司", "甲公司"]], header=["客户名称", "x_source"])
    result = invoke_resolve(cli, db_url, path, _env(overrides), *args)
    one_line_error(result, 2, "--col-output", "also a column resolve reads")


def test_a_duplicated_output_column_is_ambiguous(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    header = ["客户名称", "company_id", "company_id"]
    path = _csv(tmp_path / "in.csv", [["甲公司", "a", "b"]], header=header)
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    one_line_error(result, 2, "'company_id' (column 2, column 3)")


# Error cells ------------------------------------------------------------------------


def test_error_cells_are_kept_as_text_and_hold_no_key(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "in.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    sheet.write_string(1, 2, "甲公司")
    sheet.write_formula(1, 5, "=1/0", None, "#DIV/0!")  # 金额
    sheet.write_formula(2, 5, "=A1", None, "#REF!")  # a row holding only an error
    sheet.write_string(3, 2, "乙公司")
    sheet.write_formula(3, 4, "=NA()", None, "#N/A")  # 公司代码: no existing ID
    sheet.write_formula(4, 2, "=NA()", None, "#N/A")  # 客户名称: no name
    sheet.write_formula(4, 0, "=X()", None, "#NAME?")  # 计划代码: no plan
    book.close()
    result = invoke_resolve(cli, db_url, tmp_path / "in.xlsx", _env(overrides))
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["total_rows"] == 4
    assert (stats["existing_column_hits"], stats["temp_ids_generated"], stats["unresolved"]) == (
        0,
        1,
        2,
    )
    out = CalamineWorkbook.from_path(str(tmp_path / "in.resolved.xlsx"))
    rows = out.get_sheet_by_index(0).to_python()
    assert [r[:6] for r in rows[1:]] == [
        ["", "", "甲公司", "", "", "#DIV/0!"],
        ["", "", "", "", "", "#REF!"],
        ["", "", "乙公司", "", "#N/A", ""],
        ["#NAME?", "", "#N/A", "", "", ""],
    ]
    assert [r[7] for r in rows[1:]] == ["yaml:name", "unresolved", "temp", "unresolved"]
    assert rows[1][6] == "Y-NAME" and rows[3][6].startswith("IN")
    with psycopg.connect(db_url) as conn:
        queued = conn.execute("SELECT raw_name FROM enterprise.enrichment_requests").fetchall()
        cached = conn.execute("SELECT count(*) FROM enterprise.company_mapping").fetchone()
    assert queued == [("乙公司",)] and cached == (0,)  # "#N/A" is neither a name nor an ID


# Cells longer than Excel's limit ----------------------------------------------------


def _long_cells_book(path: Path, header: list[str], rows: dict[int, list[Any]]) -> Path:
    """A workbook holding cells longer than Excel allows (as other writers may produce)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.xls_strmax = 10**6  # XlsxWriter would cut them itself
    sheet.write_row(1, 0, header)  # the header on row 2
    for row, cells in rows.items():
        for col, value in enumerate(cells):
            if value is not None:
                sheet.write(row - 1, col, value)
    book.close()
    return path


def test_a_cell_over_excels_limit_is_cut_with_a_warning_and_the_row_is_whole(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    long_text = "长" * 40_000
    emoji = "😀" * 20_000  # 40,000 UTF-16 units: over the limit though 20,000 characters
    header = ["客户名称", "备注", "金额", "其他"]
    path = _long_cells_book(
        tmp_path / "in.xlsx",
        header,
        {
            3: ["甲公司", long_text, 1, "after"],
            5: ["乙公司", None, 2, emoji],
            6: ["丙公司", "x", 3],
        },
    )
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    warnings = result.stderr.strip().splitlines()
    assert warnings == [
        f"warning: {path}: row 3, column '备注' (B): text longer than Excel's limit of "
        "32,767 characters, written cut to the limit",
        f"warning: {path}: row 5, column '其他' (D): text longer than Excel's limit of "
        "32,767 characters, written cut to the limit",
    ]
    assert "长长" not in result.stderr and "😀" not in result.stderr
    rows = CalamineWorkbook.from_path(str(tmp_path / "in.resolved.xlsx"))
    out = rows.get_sheet_by_index(0).to_python()
    assert out[0] == [*header, "company_id", "company_id_source"]
    assert out[1][1] == long_text[:32_767] and out[1][2:4] == [1, "after"]
    assert out[1][4:] == ["Y-NAME", "yaml:name"]
    assert len(out[2][3].encode("utf-16-le")) // 2 <= 32_767 and out[2][3].startswith("😀")
    assert out[2][4:][1] == "temp" and out[3][4:][1] == "temp"


def test_many_long_cells_are_warned_about_ten_then_counted(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    header = ["客户名称", "备注", "其他"]
    rows = {n: ["乙公司", "长" * 33_000, "宽" * 33_000] for n in range(3, 10)}
    path = _long_cells_book(tmp_path / "in.xlsx", header, rows)
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 11 and lines[-1] == f"warning: {path}: 4 more cells cut to Excel's limit"
    out = CalamineWorkbook.from_path(str(tmp_path / "in.resolved.xlsx"))
    assert all(r[-1] == "temp" for r in out.get_sheet_by_index(0).to_python()[1:])


def test_a_long_header_cell_is_cut_too(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _long_cells_book(tmp_path / "in.xlsx", ["客户名称", "题" * 33_000], {3: ["甲公司", "x"]})
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    assert f"{path}: row 2, column B: text longer" in result.stderr
    out = CalamineWorkbook.from_path(str(tmp_path / "in.resolved.xlsx")).get_sheet_by_index(0)
    assert out.to_python()[0][2:] == ["company_id", "company_id_source"]
