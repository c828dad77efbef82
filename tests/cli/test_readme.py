"""The README's command examples name real commands and options (docs checked by tests)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wdh_cli.cli.app import app

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
EXAMPLES = [
    line.split("#")[0].split(">")[0].strip()
    for block in BLOCKS
    for line in block.splitlines()
    if line.strip().startswith("wdh ")
]


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) > 20


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_names_a_real_command_and_its_options(cli: CliRunner, example: str) -> None:
    words = shlex.split(example)[1:]
    while words and words[0].startswith("--"):  # global options such as --db URL
        words = words[2:]
    command = [w for w in words[:2] if not w.startswith("-")]
    result = cli.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, f"{example}: {result.output}"
    for option in (w.split("=")[0] for w in words if w.startswith("--")):
        assert option in result.stdout, f"{example}: {option} is not an option of {command}"
