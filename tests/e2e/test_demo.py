"""`make demo`, the README's first command, step by step as the Makefile lists it.

The steps are read from the Makefile's `demo` recipe, so the test follows it:
each recipe line is an `@echo` or a `$(BIN)/...` step (anything else fails
here, so no step is skipped unseen), `$(BIN)` is the installed venv's bin
directory and the variables the Makefile exports (`WDH_HOME`, and the demo's
`WDH_ALIAS_SALT`, `WDH_DIRECTORY_PATH`) are set as make sets them, with
`$(CURDIR)` a temporary copy of `examples/` and `mappings/`, so the checkout
is never written. The database is a scratch one (`WDH_DATABASE_URL`) instead
of the embedded server. Then the figures and the end state the README
describes: 77 rows with temporary IDs, then 26, then 0; the reviewed name
answered from the cache; the table `demo.annuity` with 26 rows left with
temporary IDs, then none once rewritten.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from python_calamine import CalamineWorkbook

from tests.helpers import wdh_env
from wdh_cli.companies.ids import is_temporary_id

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the installed venv's: wdh and python
REVIEWED = "611208836"  # the company the demo's scripted reviewer gives (Makefile)


def _recipe(makefile: str, target: str) -> list[str]:
    """The recipe lines of `target`, a continued line joined into one, tabs stripped."""
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{target}:(?!.*=)", line))
    recipe: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        text = line.strip()
        if recipe and recipe[-1].endswith("\\"):
            recipe[-1] = recipe[-1][:-1].rstrip() + " " + text
        else:
            recipe.append(text)
    return recipe


def _exports(makefile: str, target: str) -> dict[str, str]:
    """`export NAME ?= VALUE`, global or the target's own, as make sets them (unset before)."""
    pattern = rf"^(?:{target}:\s*)?export\s+(\w+)\s*\?=\s*(.*)$"
    return {m[1]: m[2].strip() for m in re.finditer(pattern, makefile, re.M)}


def _substitute(text: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        text = text.replace(f"$({name})", value)
    assert "$(" not in text, f"a make variable this test does not know: {text}"
    return text


def _demo_steps(workdir: Path) -> tuple[list[list[str]], dict[str, str]]:
    """The demo's steps as argument lists, and the variables make exports for them."""
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    variables = {"BIN": str(BIN), "CURDIR": str(workdir)}
    steps = []
    for line in _recipe(makefile, "demo"):
        if line.startswith("@echo"):
            continue
        assert line.startswith("$(BIN)/"), f"a demo step this test cannot run: {line}"
        steps.append(shlex.split(_substitute(line, variables)))
    exports = {k: _substitute(v, variables) for k, v in _exports(makefile, "demo").items()}
    return steps, exports


def _temporary_ids_in(stdout: str) -> int:
    """The `temporary IDs` figure of resolve's human view."""
    found = re.search(r"temporary IDs\s*│\s*([\d,]+)", stdout)
    assert found, stdout
    return int(found[1].replace(",", ""))


def _sheet(path: Path) -> list[dict[str, str]]:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    header = [str(cell) for cell in rows[0]]
    return [dict(zip(header, (str(cell) for cell in row), strict=True)) for row in rows[1:]]


def test_make_demo_runs_step_by_step_to_the_readmes_end_state(
    empty_db_url: str, tmp_path: Path
) -> None:
    workdir = tmp_path / "demo"
    for folder in ("examples", "mappings"):
        shutil.copytree(REPOSITORY / folder, workdir / folder)
    checkout = sorted(p.name for p in (REPOSITORY / "examples").iterdir())
    steps, exports = _demo_steps(workdir)
    assert set(exports) == {"WDH_HOME", "WDH_ALIAS_SALT", "WDH_DIRECTORY_PATH"}, exports
    env = wdh_env(**exports, WDH_DATABASE_URL=empty_db_url)

    temporary, in_table, rewritten = [], [], []
    for step in steps:
        result = subprocess.run(
            step, cwd=workdir, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, (step, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (step, result.stderr)
        if step[1:2] == ["resolve"]:
            (in_table if "--table" in step else temporary).append(_temporary_ids_in(result.stdout))
        if step[1:2] == ["rewrite"]:
            rewritten.append(result.stdout.strip())

    # Three runs of the file: the drain answers all but one name, the review that one.
    assert temporary == [77, 26, 0]
    # The table, resolved after the first run (the ledger answers what that run asked):
    # 51 rows keep temporary IDs, and the rewrite replaces them all.
    assert in_table == [51]
    assert rewritten == [
        "would rewrite 51 row(s); 0 row(s) still hold a temporary ID with no real company yet",
        "rewrote 51 row(s) in 1 batch(es); 0 row(s) still hold a temporary ID with no real "
        "company yet",
    ]
    rows = _sheet(workdir / "examples" / "annuity.resolved.xlsx")
    assert len(rows) == 300
    assert not any(is_temporary_id(r["company_id"]) for r in rows)
    reviewed = [r for r in rows if r["company_id"] == REVIEWED]
    assert len(reviewed) == 26 and {r["company_id_source"] for r in reviewed} == {"db:name"}

    # The table: rewritten after the drain and the review, no temporary ID left, and
    # every company the file's rows have.
    with psycopg.connect(empty_db_url) as conn:
        table = conn.execute("SELECT company_id, company_id_source FROM demo.annuity").fetchall()
    assert not any(company and is_temporary_id(company) for company, _ in table)
    assert Counter(company or "" for company, _ in table) == Counter(r["company_id"] for r in rows)
    assert Counter(source for company, source in table if company == REVIEWED) == {"review": 26}

    # The checkout's examples/ was not written to.
    assert sorted(p.name for p in (REPOSITORY / "examples").iterdir()) == checkout
