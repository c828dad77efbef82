"""Text from files and the database in the human views prints literally, rich markup and all.

Names, keys and paths are data: a `[bold]x[/bold]` in one must print as it is,
and a `[/]` must not stop the command (rich would read both as markup).
Through the installed wdh.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.helpers import one_line_error, request, run_wdh, wdh_env

KEYS = ["[bold]x[/bold]", "甲[/]公司", "[red]乙[/red]"]


def _mapping_csv(path: Path, company_id: str, *extra: str) -> Path:
    path.parent.mkdir(exist_ok=True)
    levels = ["account_name", "name", "name"]
    rows = [f"{key},{company_id},{level}" for key, level in zip(KEYS, levels, strict=True)]
    lines = ["alias_name,canonical_id,match_type", *rows, *extra]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_mapping_conflicts_and_rejected_rows_print_markup_literally(
    db_url: str, tmp_path: Path
) -> None:
    env = wdh_env(WDH_DATABASE_URL=db_url)
    stored = run_wdh("mappings", "load", str(_mapping_csv(tmp_path / "a.csv", "C1")), env=env)
    assert stored.returncode == 0, stored.stderr
    # The file's path holds markup too (an opening tag: a name holds no "/"); its
    # last row is rejected (no company).
    path = _mapping_csv(tmp_path / "[bold]in" / "b.csv", "C2", "[i]丙[/i],,name")
    result = run_wdh("mappings", "load", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = [line for line in result.stdout.splitlines() if "C2" in line]
    assert len(rows) == 3, result.stdout
    for key, row in zip(KEYS, rows, strict=True):
        assert f"{path}" in row and key in row and "C1" in row, row
    assert result.stderr == f"rejected {path}:5: empty canonical_id\n"


def test_review_conflicts_and_rejected_rows_print_markup_literally(
    db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        mapped = request(conn, "甲公司")
        conn.execute(
            "INSERT INTO enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority, source) "
            "VALUES ('甲公司', 'C-STORED', 'name', 4, 'crm')"
        )
    folder = tmp_path / "[red]审阅"  # a path holds no closing tag (no "/")
    folder.mkdir()
    path = folder / "d.csv"
    path.write_text(
        f"request_id,decision,company_id\n{mapped},id,C-NEW\n{mapped},[/],\n", encoding="utf-8"
    )
    result = run_wdh("review", "apply", str(path), env=wdh_env(WDH_DATABASE_URL=db_url))
    assert result.returncode == 0, result.stderr
    conflict = next(line for line in result.stdout.splitlines() if "C-NEW" in line)
    assert f"{path}:2" in conflict and "C-STORED" in conflict, conflict
    assert result.stderr == (
        f"rejected {path}:3: unknown decision '[/]' (expected 1, 2, 3, id, none)\n"
    )


def test_an_error_or_a_warning_holding_markup_is_one_literal_line(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n甲公司\n", encoding="utf-8")
    env = wdh_env(WDH_ALIAS_SALT="pepper")
    for column in ("[/]", "[bold]x"):
        result = run_wdh("resolve", str(source), "--offline", "--col-name", column, env=env)
        one_line_error(result, 2, f"no column '{column}' (the customer name")
    for database in ("[/]", "[bold]x"):
        unreachable = f"postgresql://root@127.0.0.1:1/{database}"
        result = run_wdh("--db", unreachable, "resolve", str(source), "--json", env=env)
        assert result.returncode == 0, result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith("warning: cannot reach the database ") and database in line, line


def test_explain_prints_a_name_holding_markup_literally(db_url: str) -> None:
    # Found by a hostile pass: the normalized name went through rich markup,
    # and '[/]' ended `wdh explain` with a MarkupError traceback.
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="pepper")
    for name in ("甲[/]公司", "[bold]乙[/bold]公司"):
        result = run_wdh("explain", name, env=env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        [line] = [line for line in result.stdout.splitlines() if line.startswith("normalized")]
        assert ("[/]" if "[/]" in name else "[bold]") in line, line


def test_a_written_file_s_path_holding_markup_prints_literally(db_url: str, tmp_path: Path) -> None:
    # `queue resolved --output` (as every "wrote PATH" message) printed its
    # path as markup: '[/]' in it was a traceback after the file was written.
    folder = tmp_path / "a["
    folder.mkdir()
    output = Path(f"{folder}/]b.csv")  # the path reads a[/]b.csv
    result = run_wdh(
        "queue", "resolved", "--output", str(output), env=wdh_env(WDH_DATABASE_URL=db_url)
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"wrote 0 row(s) to {output}\n"
    assert output.exists()


def test_db_check_colors_nothing_into_its_text(db_url: str) -> None:
    # Its colors are rich styles, not tags: off a terminal no tag is printed.
    result = run_wdh("db", "check", env=wdh_env(WDH_DATABASE_URL=db_url))
    assert "[" not in result.stdout + result.stderr, result.stdout + result.stderr
