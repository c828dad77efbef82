"""`wdh mappings load | export | check` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from wdh_cli.cli.app import app

JSON_KEYS = {"read", "inserted", "updated", "unchanged", "conflicts", "rejected", "deleted"}


def _csv(path: Path, body: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(("alias_name,canonical_id,match_type\n" + body).encode(encoding))
    return path


def test_load_reports_figures_on_stdout_and_rejections_on_stderr(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "m.csv", "P1,C1,plan\nP2,,plan\n上海 某某,C3,name\n")
    result = cli.invoke(app, ["--db", db_url, "mappings", "load", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "inserted" in result.stdout and "rejected" in result.stdout
    assert f"rejected {path}:3: empty canonical_id" in result.stderr

    again = cli.invoke(app, ["--db", db_url, "mappings", "load", str(path), "--json"])
    assert again.exit_code == 0
    data = json.loads(again.stdout)
    assert set(data) >= JSON_KEYS
    assert {k: data[k] for k in JSON_KEYS} == {
        "read": 3,
        "inserted": 0,
        "updated": 0,
        "unchanged": 2,
        "conflicts": 0,
        "rejected": 1,
        "deleted": 0,
    }
    assert data["rejected_list"] == [{"file": str(path), "line": 3, "reason": "empty canonical_id"}]


def test_load_lists_conflicts_and_plan_only_writes_nothing(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    cli.invoke(
        app, ["--db", db_url, "mappings", "load", str(_csv(tmp_path / "a.csv", "P1,C1,plan\n"))]
    )
    other = _csv(tmp_path / "b.csv", "P1,C2,plan\nP5,C5,plan\n")
    planned = cli.invoke(
        app,
        [
            "--db",
            db_url,
            "mappings",
            "load",
            str(other),
            "--mode",
            "upsert",
            "--plan-only",
            "--json",
        ],
    )
    assert planned.exit_code == 0, planned.stderr
    data = json.loads(planned.stdout)
    assert (data["inserted"], data["updated"], data["conflicts"], data["plan_only"]) == (
        1,
        1,
        1,
        True,
    )
    assert data["conflict_list"] == [
        {
            "file": str(other),
            "line": 2,
            "key": "P1",
            "match_type": "plan",
            "new_id": "C2",
            "current_id": "C1",
        }
    ]
    exported = cli.invoke(app, ["--db", db_url, "mappings", "export"])
    assert exported.stdout.splitlines()[1:] == ["P1,C1,plan,1,internal"]


def test_load_of_a_missing_path_exits_2(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    result = cli.invoke(app, ["--db", db_url, "mappings", "load", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.csv'}: no such file or directory" in result.stderr


def test_load_of_invalid_yaml_exits_2_naming_file_and_line(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "company_id_overrides_account.yml"
    bad.write_text("A1: C1\nA2: [C2\n", encoding="utf-8")
    result = cli.invoke(app, ["--db", db_url, "mappings", "load", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3: invalid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_load_of_a_csv_without_header_exits_2(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("P1,C1,plan\n", encoding="utf-8")
    result = cli.invoke(app, ["--db", db_url, "mappings", "load", str(path)])
    assert result.exit_code == 2
    assert f"{path}:1: the header must name" in result.stderr


def test_gb18030_csv_loads(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    path = _csv(tmp_path / "gb.csv", "深圳市腾达科技有限公司,C7,name\n", encoding="gb18030")
    result = cli.invoke(app, ["--db", db_url, "mappings", "load", str(path), "--json"])
    assert json.loads(result.stdout)["inserted"] == 1
    exported = cli.invoke(app, ["--db", db_url, "mappings", "export", "--match-type", "name"])
    assert "深圳市腾达科技有限公司,C7,name,4,internal" in exported.stdout


def test_default_paths_come_from_wdh_mappings_dir(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "overrides"
    folder.mkdir()
    (folder / "company_id_overrides_plan.yml").write_text("012345: '614810477'\n", encoding="utf-8")
    result = cli.invoke(
        app, ["--db", db_url, "mappings", "load", "--json"], env={"WDH_MAPPINGS_DIR": str(folder)}
    )
    assert json.loads(result.stdout)["inserted"] == 1
    exported = cli.invoke(
        app, ["--db", db_url, "mappings", "export", "--format", "yaml", "--match-type", "plan"]
    )
    assert '"012345": "614810477"' in exported.stdout


def test_export_to_a_file(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    cli.invoke(
        app, ["--db", db_url, "mappings", "load", str(_csv(tmp_path / "a.csv", "P1,C1,plan\n"))]
    )
    target = tmp_path / "out" / "all.csv"
    result = cli.invoke(app, ["--db", db_url, "mappings", "export", "--output", str(target)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8").splitlines() == [
        "alias_name,canonical_id,match_type,priority,source",
        "P1,C1,plan,1,internal",
    ]
    assert [p.name for p in target.parent.iterdir()] == ["all.csv"]  # no temporary left


def test_export_yaml_needs_a_match_type(cli: CliRunner, db_url: str) -> None:
    result = cli.invoke(app, ["--db", db_url, "mappings", "export", "--format", "yaml"])
    assert result.exit_code == 2
    assert "--match-type" in result.stderr


def test_check_needs_no_database_and_exits_3_on_problems(cli: CliRunner, tmp_path: Path) -> None:
    offline = {"WDH_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    shipped = Path(__file__).parents[2] / "mappings"
    good = cli.invoke(app, ["mappings", "check", str(shipped)], env=offline)
    assert good.exit_code == 0, good.stderr
    assert "0 problem(s)" in good.stderr

    bad = tmp_path / "company_id_overrides_name.yml"
    bad.write_text("甲公司: C1\n甲公司: C2\n乙公司:\n", encoding="utf-8")
    csv_file = _csv(tmp_path / "m.csv", "P1,C1,plan\nP1,C2,plan\n")
    result = cli.invoke(app, ["mappings", "check", str(bad), str(csv_file)], env=offline)
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        f"{bad}:2: duplicate key (first on line 1)",
        f"{bad}:3: empty value (expected a company_id)",
        f"{csv_file}:3: key also on {csv_file}:2 with another company_id (C1)",
    ]


def test_check_of_a_missing_or_unknown_path_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    missing = cli.invoke(app, ["mappings", "check", "nope.yml"])
    assert missing.exit_code == 2
    assert "nope.yml: no such file or directory" in missing.stderr
    (tmp_path / "notes.txt").write_text("P1: C1\n")
    unknown = cli.invoke(app, ["mappings", "check", str(tmp_path / "notes.txt")])
    assert unknown.exit_code == 2
    assert "not a .csv, .yml or .yaml file" in unknown.stderr
    odd = tmp_path / "overrides.yml"
    odd.write_text("P1: C1\n")
    unnamed = cli.invoke(app, ["mappings", "check", str(odd)])
    assert unnamed.exit_code == 2
    assert "cannot tell the match_type" in unnamed.stderr
