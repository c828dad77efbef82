"""How commands print figures: `emit` prints a report as a human view or as one JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from wdh_cli.reports import to_json

R = TypeVar("R")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def emit(report: R, *, as_json: bool, render: Callable[[R], None]) -> None:
    """Exactly one JSON object on stdout with --json; otherwise the command's human view."""
    if as_json:
        print_json(to_json(report))
    else:
        render(report)


def print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))
