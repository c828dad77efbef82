"""Hostile input files given to the installed `wdh resolve`: a one-line error naming the
place, the right exit code and no output, or a complete output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import one_line_error, run_wdh, wdh_env

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("final_break", [True, False], ids=["ends-with-break", "no-final-break"])
def test_an_unclosed_quote_names_the_line_it_opens_on_whatever_the_line_ends(
    tmp_path: Path, end: str, final_break: bool
) -> None:
    """Found by a hostile pass: with bare carriage returns the line named was one too far
    (the fed line feed after the file's last CR was counted with it as one CRLF)."""
    lines = ["计划代码,客户名称", "P1,甲公司", 'P2,"乙公司', "P3,丙公司", "P4,丁公司"]
    source = tmp_path / "in.csv"
    source.write_bytes((end.join(lines) + (end if final_break else "")).encode())
    env = wdh_env(WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    result = run_wdh("resolve", str(source), "--offline", env=env)
    one_line_error(result, 2, f"{source}: line 3: a quoted cell starts here and is never closed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no output
