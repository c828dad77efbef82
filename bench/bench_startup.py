"""Start-up figure: `wdh --help` vs a two-command Typer app in the same venv."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figure

WDH = str(Path(sys.executable).parent / "wdh")
FLOOR_APP = '''
import typer

app = typer.Typer()


@app.command()
def one(x: int = 1) -> None:
    """One."""


@app.command()
def two(y: str = "") -> None:
    """Two."""


app()
'''


def _median_seconds(command: list[str], runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(base_url: str) -> list[Figure]:
    del base_url  # no database: --help must not need one
    with tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp:
        floor_app = Path(tmp) / "two_commands.py"
        floor_app.write_text(FLOOR_APP, encoding="utf-8")
        floor = _median_seconds([sys.executable, str(floor_app), "--help"])
        ours = _median_seconds([WDH, "--help"])
    return [
        Figure(
            "startup",
            "wdh --help (median of 7)",
            ours,
            "s",
            "a two-command Typer app's --help in the same venv",
            floor,
            note="aim: ratio <= 1.5",
        )
    ]
