"""`wdh resolve` and `wdh explain` end to end through the CLI, on a real database."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tests.eqc_standin import EqcStandin
from tests.helpers import DIRECTORY, invoke_resolve
from wdh_cli.cli.app import app

HEADER = ["计划代码", "年金账户号", "客户名称", "年金账户名", "公司代码", "金额"]


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "company_id_overrides_plan.yml").write_text("P001: Y-PLAN\n12345: Y-NUM\n")
    (folder / "company_id_overrides_account.yml").write_text("'0012': Y-ACCT\n")
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


def _output(path: Path) -> list[dict[str, str]]:
    text = path.with_name(f"{path.stem}.resolved{path.suffix}").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _counts(db_url: str) -> dict[str, int]:
    tables = ["company_master", "company_mapping", "enrichment_requests", "temp_id_sequence"]
    with psycopg.connect(db_url) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM enterprise.{t}").fetchone()[0]  # type: ignore[index]
            for t in tables
        }


def test_each_layer_and_their_priority(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority) "
            "VALUES ('P002', 'D-PLAN', 'plan', 1), ('乙公司', 'D-NAME', 'name', 4), "
            "('P001', 'D-LOSES', 'plan', 1), ('账户名', 'D-ACCTNAME', 'account_name', 5)"
        )
    rows = [
        ["P001", "", "乙公司", "", "", "1"],  # yaml:plan beats db:name and db:plan
        ["", "0012", "", "", "", "2"],  # yaml:account
        ["P002", "", "甲公司", "", "", "3"],  # yaml:name (layer 1) beats db:plan (layer 2)
        ["P002", "", "丁公司", "", "X1", "4"],  # db:plan beats the existing column
        ["", "", "乙公司", "账户名", "", "5"],  # db:name beats db:account_name
        ["", "A-9", "丙公司", "", "X9", "6"],  # existing
        ["", "", "无名公司", "", "", "7"],  # temp
        ["", "", "", "", "", "8"],  # unresolved
    ]
    path = _csv(tmp_path / "in.csv", rows)
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    got = [(r["company_id"], r["company_id_source"]) for r in _output(path)]
    assert got[:6] == [
        ("Y-PLAN", "yaml:plan"),
        ("Y-ACCT", "yaml:account"),
        ("Y-NAME", "yaml:name"),
        ("D-PLAN", "db:plan"),
        ("D-NAME", "db:name"),
        ("X9", "existing"),
    ]
    assert got[6][1] == "temp" and got[6][0].startswith("IN") and len(got[6][0]) == 18
    assert got[7] == ("", "unresolved")
    assert stats["yaml_hits"] == {
        "plan": 1,
        "account": 1,
        "hardcode": 0,
        "name": 1,
        "account_name": 0,
    }
    assert (stats["db_cache_hits"], stats["existing_column_hits"], stats["unresolved"]) == (2, 1, 1)
    assert (stats["temp_ids_generated"], stats["async_queued"], stats["already_queued"]) == (
        1,
        1,
        0,
    )
    # The existing IDs teach the keys the cache does not hold: row 6 its account
    # and normalized name, row 4 (answered by its plan code) its name.
    assert stats["backflow"] == {"inserted": 3, "skipped": 0, "conflicts": 0}
    with psycopg.connect(db_url) as conn:
        flowed = conn.execute(
            "SELECT alias_name, canonical_id, match_type FROM enterprise.company_mapping "
            "WHERE source = 'backflow' ORDER BY match_type, alias_name"
        ).fetchall()
    assert flowed == [("A-9", "X9", "account"), ("丁公司", "X1", "name"), ("丙公司", "X9", "name")]
    # Input columns are kept in order, values unchanged.
    assert list(_output(path)[0]) == [*HEADER, "company_id", "company_id_source"]
    assert [r["金额"] for r in _output(path)] == [str(i) for i in range(1, 9)]


def test_backflow_counts_inserted_skipped_and_conflicts(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    rows = [
        ["", "A-1", "", "", "NEW", ""],
        ["", "A-1", "", "", "OTHER", ""],  # the same key, another company: a conflict
        ["", "A-2", "", "", "C2", ""],
        ["", "A-2", "", "", "C2", ""],  # the same mapping again: skipped
    ]
    path = _csv(tmp_path / "in.csv", rows)
    stats = json.loads(invoke_resolve(cli, db_url, path, _env(overrides)).stdout)
    assert stats["existing_column_hits"] == 4
    # A-1 was taught two companies: learned by nobody, not cached, both rows
    # counted as conflicts (whichever row comes first).
    assert stats["backflow"] == {"inserted": 1, "skipped": 1, "conflicts": 2}
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT alias_name, canonical_id FROM enterprise.company_mapping ORDER BY 1"
        ).fetchall()
    assert stored == [("A-2", "C2")]
    again = json.loads(invoke_resolve(cli, db_url, path, _env(overrides)).stdout)
    assert again["db_cache_hits"] == 2 and again["existing_column_hits"] == 2
    # The A-2 rows still say their company: the key the cache holds now, skipped.
    assert again["backflow"] == {"inserted": 0, "skipped": 2, "conflicts": 2}
    assert [r["company_id"] for r in _output(path)] == ["NEW", "OTHER", "C2", "C2"]


def test_no_backflow(cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", [["", "A-1", "", "", "NEW", ""]])
    stats = json.loads(invoke_resolve(cli, db_url, path, _env(overrides), "--no-backflow").stdout)
    assert stats["backflow"] == {"inserted": 0, "skipped": 0, "conflicts": 0}
    assert _counts(db_url)["company_mapping"] == 0


def test_three_spellings_get_one_temp_id_and_one_queue_entry(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    spellings = ["上海 某某 有限公司", "上海某某有限公司", "上海某某有限公司（已转出）"]
    path = _csv(tmp_path / "in.csv", [["", "", s, "", "", ""] for s in spellings])
    stats = json.loads(invoke_resolve(cli, db_url, path, _env(overrides)).stdout)
    ids = {r["company_id"] for r in _output(path)}
    assert len(ids) == 1 and stats["temp_ids_generated"] == 3 and stats["async_queued"] == 1
    with psycopg.connect(db_url) as conn:
        queued = conn.execute(
            "SELECT raw_name, normalized_name, temp_id FROM enterprise.enrichment_requests"
        ).fetchall()
    # One row each: the queue keeps the shortest spelling (never the first row's).
    assert queued == [("上海某某有限公司", "上海某某有限公司", ids.pop())]
    again = json.loads(invoke_resolve(cli, db_url, path, _env(overrides)).stdout)
    assert (again["async_queued"], again["already_queued"]) == (0, 1)


def _xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("数据")
    sheet.write_row(0, 0, HEADER)
    for index, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(index, col, value)
            elif value is not None:
                sheet.write_number(index, col, value)
    book.close()
    return path


def test_xlsx_numeric_cells_match_text_keys_and_leading_zeros_stay(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _xlsx(
        tmp_path / "in.xlsx",
        [
            [12345, None, "x", None, None, 1.5],
            [None, "0012", "y", None, None, 2],
            ["=1+1", None, "", None, None, None],
        ],
    )
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    book = CalamineWorkbook.from_path(str(tmp_path / "in.resolved.xlsx"))
    rows = book.get_sheet_by_index(0).to_python()
    assert rows[0] == [*HEADER, "company_id", "company_id_source"]
    assert rows[1][0] == 12345 and rows[1][5] == 1.5  # numbers stay numbers
    assert rows[1][6:] == ["Y-NUM", "yaml:plan"]
    assert rows[2][1] == "0012" and rows[2][6:] == ["Y-ACCT", "yaml:account"]
    assert rows[3][0] == "=1+1"  # text that looks like a formula stays text
    assert rows[3][6:] == ["", "unresolved"]


def test_budget_limits_provider_calls(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    names = [f"未知公司{i}" for i in range(5)]
    path = _csv(tmp_path / "in.csv", [["", "", n, "", "", ""] for n in names * 2])
    with EqcStandin({names[0]: ("600000001", "91X")}, token="tok") as eqc:
        env = _env(overrides, WDH_EQC_BASE_URL=eqc.url, WDH_EQC_TOKEN="tok")
        stats = json.loads(invoke_resolve(cli, db_url, path, env, "--budget", "2").stdout)
        assert len(eqc.calls) == 2
        assert (stats["budget_consumed"], stats["budget_remaining"], stats["eqc_sync_hits"]) == (
            2,
            0,
            2,
        )
        sources = [r["company_id_source"] for r in _output(path)]
        assert sources.count("eqc") == 2 and sources.count("temp") == 8

        env_budget = env | {"WDH_SYNC_LOOKUP_BUDGET": "4"}
        invoke_resolve(cli, db_url, path, env_budget, "--budget", "0")
        assert len(eqc.calls) == 2  # --budget 0 overrides the setting: no call
        stats = json.loads(invoke_resolve(cli, db_url, path, env_budget).stdout)
        # names[0] is now cached (db:name), names[1]'s "no match" is in the provider
        # ledger (no call, no budget): the setting's budget of 4 asks the other 3.
        assert len(eqc.calls) == 5
        assert (stats["budget_consumed"], stats["ledger_hits"]) == (3, 1)
    assert _output(path)[0]["company_id_source"] == "db:name"


def test_plan_only_writes_nothing_and_calls_no_provider(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "in.csv",
        [
            ["", "A1", "新公司", "", "C1", ""],
            ["", "", "另一家", "", "", ""],
            ["", "", "另一家", "", "", ""],
        ],
    )
    before = _counts(db_url)
    with EqcStandin(token="tok") as eqc:
        env = _env(overrides, WDH_EQC_BASE_URL=eqc.url, WDH_EQC_TOKEN="tok")
        result = invoke_resolve(cli, db_url, path, env, "--plan-only", "--budget", "5")
        assert eqc.calls == []
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert _counts(db_url) == before
    assert not path.with_name("in.resolved.csv").exists()
    assert (stats["existing_column_hits"], stats["temp_ids_generated"], stats["async_queued"]) == (
        1,
        2,
        1,
    )
    assert stats["output"] is None


def test_offline_opens_no_connection(cli: CliRunner, overrides: Path, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", [["P001", "", "甲", "", "", ""], ["", "", "乙", "", "", ""]])
    unreachable = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    result = invoke_resolve(cli, unreachable, path, _env(overrides), "--offline")
    assert result.exit_code == 0
    assert result.stderr == ""  # not even a warning: no connection was tried
    stats = json.loads(result.stdout)
    assert stats["db_available"] is False
    assert [r["company_id_source"] for r in _output(path)] == ["yaml:plan", "temp"]


def test_unreachable_database_degrades_unless_required(
    cli: CliRunner, overrides: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "in.csv", [["", "", "乙", "", "", ""]])
    unreachable = "postgresql://u:pw-9x@127.0.0.1:1/none?connect_timeout=1"
    result = invoke_resolve(cli, unreachable, path, _env(overrides))
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "going on offline" in result.stderr
    assert "pw-9x" not in result.stderr
    assert json.loads(result.stdout)["db_available"] is False
    assert _output(path)[0]["company_id_source"] == "temp"

    required = invoke_resolve(cli, unreachable, path, _env(overrides), "--require-db")
    assert required.exit_code == 1
    assert "cannot reach the database" in required.stderr


def test_run_drain_run_turns_temporary_ids_into_cached_ones(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "in.csv", [["", "", "浦发集团", "", "", ""], ["", "", "白云山", "", "", ""]]
    )
    env = _env(overrides, WDH_DIRECTORY_PATH=str(DIRECTORY))
    first = json.loads(invoke_resolve(cli, db_url, path, env).stdout)
    assert first["temp_ids_generated"] == 2 and first["async_queued"] == 2
    drained = cli.invoke(
        app, ["--db", db_url, "queue", "drain", "--provider", "directory"], env=env
    )
    assert drained.exit_code == 0, drained.stderr
    second = json.loads(invoke_resolve(cli, db_url, path, env).stdout)
    assert second["db_cache_hits"] == 2 and second["temp_ids_generated"] == 0
    assert [(r["company_id"], r["company_id_source"]) for r in _output(path)] == [
        ("614810477", "db:name"),
        ("600866980", "db:name"),
    ]


def test_same_input_gives_byte_identical_output(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "in.csv",
        [["P001", "", "甲", "", "", ""], ["", "", '新, "引号"\n公司', "", "", ""]],
    )
    invoke_resolve(cli, db_url, path, _env(overrides))
    first = path.with_name("in.resolved.csv").read_bytes()
    invoke_resolve(cli, db_url, path, _env(overrides))
    assert path.with_name("in.resolved.csv").read_bytes() == first


def test_export_unknown(cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "in.csv",
        [["", "", n, "", "", ""] for n in ["乙", "丙", "乙", "乙 ", "丙", "丁"]],
    )
    unknown = tmp_path / "unknown.csv"
    invoke_resolve(cli, db_url, path, _env(overrides), "--export-unknown", str(unknown))
    rows = list(csv.reader(unknown.open(encoding="utf-8", newline="")))
    assert rows[0] == ["company_name", "temporary_id", "occurrence_count"]
    assert [(r[0], r[2]) for r in rows[1:]] == [("乙", "3"), ("丙", "2"), ("丁", "1")]
    assert all(r[1].startswith("IN") for r in rows[1:])


def test_column_renames(cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", [["甲公司", "x"]], header=["Customer", "Other"])
    result = invoke_resolve(
        cli, db_url, path, _env(overrides), "--col-name", "Customer", "--col-output", "cid"
    )
    assert result.exit_code == 0, result.stderr
    [row] = _output(path)
    assert (row["cid"], row["cid_source"]) == ("Y-NAME", "yaml:name")


@pytest.fixture
def bad_inputs(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_bad_inputs_exit_2_with_clear_messages(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    env = _env(overrides)
    missing = invoke_resolve(cli, db_url, tmp_path / "nope.xlsx", env)
    assert missing.exit_code == 2 and "nope.xlsx: no such file" in missing.stderr

    fake = tmp_path / "fake.xlsx"
    fake.write_text("this is not a workbook")
    bad = invoke_resolve(cli, db_url, fake, env)
    assert bad.exit_code == 2 and "fake.xlsx: not a readable .xlsx workbook" in bad.stderr

    book = _xlsx(tmp_path / "ok.xlsx", [["P001", None, "甲", None, None, None]])
    sheet = invoke_resolve(cli, db_url, book, env, "--sheet", "Sheet9")
    assert sheet.exit_code == 2 and "no sheet named 'Sheet9' (sheets: 数据)" in sheet.stderr

    no_name = _csv(tmp_path / "cols.csv", [["1", "2"]], header=["计划代码", "金额"])
    cols = invoke_resolve(cli, db_url, no_name, env)
    assert cols.exit_code == 2
    assert "no column '客户名称'" in cols.stderr and "'计划代码', '金额'" in cols.stderr

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = invoke_resolve(cli, db_url, empty, env)
    assert result.exit_code == 2 and "empty file" in result.stderr
    for result in (missing, bad, sheet, cols):
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_gb18030_csv_and_a_huge_cell(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = tmp_path / "gb.csv"
    huge = "巨" * 100_000
    text = ",".join(HEADER) + "\n" + f",,甲公司,,,1\n,,{huge},,,2\n"
    path.write_bytes(text.encode("gb18030"))
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    output = path.with_name("gb.resolved.csv").read_bytes().decode("gb18030")
    rows = list(csv.reader(io.StringIO(output)))
    assert rows[1][-2:] == ["Y-NAME", "yaml:name"]
    assert rows[2][2] == huge and rows[2][-1] == "temp"
    stats = json.loads(result.stdout)
    assert stats["async_queued"] == 0  # longer than the queue's column: not queued


def test_missing_salt_exits_2(cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", [["", "", "乙", "", "", ""]])
    result = cli.invoke(
        app, ["--db", db_url, "resolve", str(path)], env={"WDH_MAPPINGS_DIR": str(overrides)}
    )
    assert result.exit_code == 2 and "WDH_ALIAS_SALT" in result.stderr


def test_explain_shows_every_layer(cli: CliRunner, db_url: str, overrides: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority) "
            "VALUES ('乙公司', 'D-NAME', 'name', 4)"
        )
    result = cli.invoke(
        app, ["--db", db_url, "explain", "乙 公司（已转出）", "--plan", "P9"], env=_env(overrides)
    )
    assert result.exit_code == 0, result.stderr
    assert "normalized name: 乙公司" in result.stdout
    assert "temporary ID:    IN" in result.stdout
    assert "D-NAME <- wins" in result.stdout
    assert "yaml:plan" in result.stdout and "db:name" in result.stdout


def test_enqueue_and_backflow_failures_are_counted_not_fatal(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION enterprise.refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by test'; END $$"
        )
        for table in ("enrichment_requests", "company_mapping"):
            conn.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT ON enterprise.{table} "
                "FOR EACH ROW EXECUTE FUNCTION enterprise.refuse()"
            )
    path = _csv(
        tmp_path / "in.csv", [["", "A-1", "", "", "C1", ""], ["", "", "新公司", "", "", ""]]
    )
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["errors"]["enqueue"] == 1 and stats["errors"]["backflow"] == 1
    assert "enqueue failed" in result.stderr and "backflow failed" in result.stderr
    assert [r["company_id_source"] for r in _output(path)] == ["existing", "temp"]


def test_a_failing_provider_uses_only_the_calls_made(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    from tests.eqc_standin import Reply

    names = ["甲甲", "乙乙", "丙丙"]
    path = _csv(tmp_path / "in.csv", [["", "", n, "", "", ""] for n in names])
    with EqcStandin(token="tok") as eqc:
        for name in names:
            eqc.script(name, *[Reply(status=503, body="busy")] * 3)
        env = _env(overrides, WDH_EQC_BASE_URL=eqc.url, WDH_EQC_TOKEN="tok", WDH_EQC_RETRIES="0")
        stats = json.loads(invoke_resolve(cli, db_url, path, env, "--budget", "2").stdout)
    assert len(eqc.calls) == 2
    assert (stats["budget_consumed"], stats["budget_remaining"]) == (2, 0)
    assert stats["errors"]["provider"] == 2 and stats["temp_ids_generated"] == 3


def test_a_401_disables_the_provider_for_the_run(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "in.csv", [["", "", n, "", "", ""] for n in ["甲甲", "乙乙", "丙丙"]])
    with EqcStandin(token="right") as eqc:
        env = _env(overrides, WDH_EQC_BASE_URL=eqc.url, WDH_EQC_TOKEN="wrong-secret")
        result = invoke_resolve(cli, db_url, path, env, "--budget", "3")
    assert result.exit_code == 0
    assert len(eqc.calls) == 1
    assert result.stderr.count("WDH_EQC_TOKEN") == 1 and "wrong-secret" not in result.stderr


def test_ragged_csv_rows_keep_the_added_columns_aligned(
    cli: CliRunner, db_url: str, overrides: Path, tmp_path: Path
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("客户名称,金额\n甲公司\n\n乙公司,2,extra\n", encoding="utf-8")
    result = invoke_resolve(cli, db_url, path, _env(overrides))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total_rows"] == 2  # the blank line is not a row
    text = path.with_name("ragged.resolved.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["客户名称", "金额", "company_id", "company_id_source"]
    assert rows[1] == ["甲公司", "", "Y-NAME", "yaml:name"]
    assert rows[2][:2] == ["乙公司", "2"] and rows[2][3] == "temp" and rows[2][4] == "extra"
