"""wdh as a library (docs/api.md): resolve_frame gives a frame's rows what `wdh resolve` gives
a file's, on real PostgreSQL; the pipeline examples of the page run as written."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import psycopg
import pyarrow as pa
import pytest

import wdh_cli
from tests.conftest import Server, _fresh_database
from tests.helpers import run_wdh, wdh_env
from tests.integration.test_resolve_golden import (
    HEADER,
    _directory,
    _overrides,
    _rows,
    _seed,
    _state,
)

DOCS = Path(__file__).parents[2] / "docs" / "api.md"


@pytest.fixture
def other_db_url(pg_server: Server, migrated_template: str) -> Iterator[str]:
    yield from _fresh_database(pg_server, migrated_template)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The settings of both runs: the golden overrides and directory, a salt."""
    env = {
        "WDH_ALIAS_SALT": "golden-salt",
        "WDH_MAPPINGS_DIR": str(_overrides(tmp_path / "overrides")),
        "WDH_DIRECTORY_PATH": str(_directory(tmp_path / "directory.csv")),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_a_frame_gets_what_a_file_of_the_same_rows_gets(
    db_url: str, other_db_url: str, tmp_path: Path, settings_env: dict[str, str]
) -> None:
    rows = [row + [""] * (len(HEADER) - len(row)) for row in _rows(ragged=False) if any(row)]
    # The file, through the installed wdh, in one database.
    with psycopg.connect(other_db_url, autocommit=True) as conn:
        _seed(conn)
    source = tmp_path / "rows.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    env = wdh_env(WDH_DATABASE_URL=other_db_url, **settings_env)
    ran = run_wdh("resolve", str(source), "--budget", "15", "--provider", "directory", "--json",
                  env=env)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    with (tmp_path / "rows.resolved.csv").open(encoding="utf-8", newline="") as handle:
        file_answers = [(r[-2] or None, r[-1]) for r in list(csv.reader(handle))[1:]]
    file_figures = pl.read_json(ran.stdout.encode()).to_dicts()[0]
    file_figures.pop("output")

    # The frame, in process, in another database seeded alike.
    with psycopg.connect(db_url, autocommit=True) as conn:
        _seed(conn)
    frame = pl.DataFrame(rows, schema=HEADER, orient="row").with_columns(pl.all().replace("", None))
    result = wdh_cli.resolve_frame(frame, database_url=db_url, budget=15, provider="directory")
    answers = list(result.frame.select("company_id", "company_id_source").iter_rows())
    assert answers == file_answers
    assert result.frame.drop("company_id", "company_id_source").equals(frame)
    assert result.figures == file_figures
    with psycopg.connect(db_url) as conn, psycopg.connect(other_db_url) as other:
        assert _state(conn) == _state(other)


def test_every_kind_of_frame_comes_back_as_it_was_given(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WDH_ALIAS_SALT", "pepper")
    monkeypatch.setenv("WDH_MAPPINGS_DIR", str(tmp_path))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, "
            "priority) VALUES ('12004567', 'C-ACCT', 'account', 2), "
            "('2026-11-24', 'C-PLAN', 'plan', 1)"
        )
    typed = pd.DataFrame(
        {
            "计划代码": [dt.date(2026, 11, 24), None, None, None],
            "年金账户号": [None, 12004567.0, None, None],  # a float, as pandas reads numbers
            "客户名称": ["甲公司", "乙公司", "丙公司", None],
            "规模": [1.5, 2.5, None, None],
        },
        index=[7, 8, 9, 10],
    )
    result = wdh_cli.resolve_frame(typed, database_url=db_url)
    assert isinstance(result.frame, pd.DataFrame)
    assert list(result.frame.index) == [7, 8, 9, 10]
    assert result.frame["规模"].dtype == typed["规模"].dtype  # the frame's own columns stay
    sources = list(result.frame["company_id_source"])
    assert sources[:3] == ["db:plan", "db:account", "temp"]
    assert pd.isna(sources[3])  # a blank row: no answer, not counted
    assert result.figures["total_rows"] == 3

    table = pa.table({"客户名称": ["丙公司"], "company_id": ["stale"]})
    arrow = wdh_cli.resolve_frame(table, database_url=db_url).frame
    assert isinstance(arrow, pa.Table)
    assert arrow.column_names == ["客户名称", "company_id", "company_id_source"]  # replaced
    assert arrow.column("company_id_source").to_pylist() == ["temp"]


def test_failures_are_the_errors_the_cli_prints(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WDH_MAPPINGS_DIR", str(tmp_path))
    frame = pl.DataFrame({"客户名称": ["甲公司"]})
    with pytest.raises(wdh_cli.WdhError, match="WDH_ALIAS_SALT is not set"):
        wdh_cli.resolve_frame(frame, database_url=db_url)
    with pytest.raises(wdh_cli.WdhError, match="no column '客户名称'"):
        wdh_cli.resolve_frame(frame.rename({"客户名称": "name"}), plan_only=True)
    with pytest.raises(wdh_cli.WdhError, match="provider='paid': expected one of"):
        wdh_cli.resolve_frame(frame, provider="paid", plan_only=True)
    with pytest.raises(wdh_cli.WdhError, match="no such column role 'nmae'"):
        wdh_cli.resolve_frame(frame, columns={"nmae": "客户名称"}, plan_only=True)
    with pytest.raises(wdh_cli.WdhError, match="takes a polars or pandas DataFrame"):
        wdh_cli.resolve_frame([["甲公司"]], plan_only=True)
    renamed = wdh_cli.resolve_frame(
        frame.rename({"客户名称": "name"}), columns={"name": "name"}, offline=True, plan_only=True
    )
    assert renamed.figures["temp_ids_generated"] == 1 and not renamed.figures["db_available"]


def test_frames_of_every_shape_resolve_or_fail_as_wdh_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a hostile pass: each of these raised polars' or pyarrow's own error (or
    ValueError), not a WdhError with a message, or failed on a frame it could resolve."""
    monkeypatch.setenv("WDH_ALIAS_SALT", "pepper")
    monkeypatch.setenv("WDH_MAPPINGS_DIR", str(tmp_path))

    def resolve(frame: Any) -> Any:
        return wdh_cli.resolve_frame(frame, offline=True)

    # A name column polars types Null (every name empty): literals made one row of answers.
    nameless = resolve(pl.DataFrame({"客户名称": [None, None], "规模": [1, 2]}))
    assert nameless.frame["company_id_source"].to_list() == ["unresolved", "unresolved"]
    assert nameless.figures["total_rows"] == 2
    # A list column beside the keys: the blank-row test cast it to text.
    tagged = resolve(pl.DataFrame({"客户名称": ["甲公司", None], "标签": [["a"], None]}))
    assert tagged.frame["company_id_source"].to_list() == ["temp", None]
    # pandas reads a spreadsheet's column of numbers and text as objects pyarrow refuses.
    mixed = pd.DataFrame({"客户名称": ["甲公司", 5, None], "年金账户号": [12004567.0, "A-1", None]})
    answered = resolve(mixed).frame
    assert list(answered["年金账户号"]) == [12004567.0, "A-1", None]  # the frame's own cells
    assert list(answered["company_id_source"])[:2] == ["temp", "temp"]
    assert pd.isna(answered["company_id_source"][2])  # a blank row
    assert (
        answered["company_id"][1]
        == resolve(pl.DataFrame({"客户名称": ["5"]})).frame["company_id"].item()
    )  # the number 5 is the name "5", as a cell of a sheet reads
    twice = pd.DataFrame([["甲公司", 1, 2]], columns=["客户名称", "a", "a"])
    with pytest.raises(wdh_cli.WdhError, match="more than one column named 'a'"):
        resolve(twice)
    with pytest.raises(wdh_cli.WdhError, match="column '客户名称' holds List"):
        resolve(pl.DataFrame({"客户名称": [["甲公司"]]}))


def _example(name: str) -> Any:
    """The function `name` of a python block of docs/api.md, defined as the page shows it."""
    for block in re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S):
        if f"def {name}(" in block:
            namespace: dict[str, Any] = {}
            exec(compile(block, str(DOCS), "exec"), namespace)
            return namespace[name]
    raise AssertionError(f"docs/api.md has no {name}")


@pytest.mark.parametrize("step", ["resolve_month", "resolve_month_pandas"])
def test_the_pipeline_step_of_the_docs_runs(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    for key, value in {
        "WDH_DATABASE_URL": db_url,
        "WDH_ALIAS_SALT": "pepper",
        "WDH_MAPPINGS_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, "
            "priority) VALUES ('甲公司', 'C-JIA', 'name', 4)"
        )
    source = tmp_path / "month.csv"
    source.write_text("客户名称,规模\n甲公司,0012\n乙公司,7\n", encoding="utf-8")
    target = tmp_path / "month.resolved.csv"
    figures = _example(step)(source, target)
    assert (figures["db_cache_hits"], figures["temp_ids_generated"]) == (1, 1)
    written = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [(r["规模"], r["company_id"], r["company_id_source"]) for r in written[:1]] == [
        ("0012", "C-JIA", "db:name")
    ]
    assert written[1]["company_id_source"] == "temp"
