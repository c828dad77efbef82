"""How commands print figures: `emit` prints a report as a human view or as one JSON object.

`render_changes` is the human view of a command that writes rows of a file
(`wdh mappings load`, `wdh review apply`): its figures, its conflicts and
rejected rows. Their cells are data (names, keys, paths) and print literally,
never read as rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Protocol, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from wdh_cli.cli.context import err, out
from wdh_cli.reports import Rejected, to_json

R = TypeVar("R")
C = TypeVar("C")
C_co = TypeVar("C_co", covariant=True)

SHOWN = 20  # conflicts and rejected rows listed by render_changes; --json lists all

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def emit(report: R, *, as_json: bool, render: Callable[[R], None]) -> None:
    """Exactly one JSON object on stdout with --json; otherwise the command's human view."""
    if as_json:
        print_json(to_json(report))
    else:
        render(report)


def print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


class ChangeReport(Protocol[C_co]):
    """What `render_changes` reads of a report besides its figures."""

    @property
    def conflict_list(self) -> Sequence[C_co]: ...

    @property
    def rejected_list(self) -> Sequence[Rejected]: ...

    @property
    def plan_only(self) -> bool: ...


def render_changes(
    report: ChangeReport[C],
    *,
    title: str,
    figures: Sequence[str],
    columns: Sequence[str],
    cells: Callable[[C], Sequence[str]],
) -> None:
    """The figures (the report's attributes `figures`) and the first SHOWN conflicts, one row
    of `cells` each under `columns`, on stdout; the first SHOWN rejected rows on stderr."""
    table = Table("figure", "rows", title=Text(title))
    for key in figures:
        table.add_row(key, f"{getattr(report, key):,}")
    out.print(table)
    if report.conflict_list:
        conflicts = Table(*columns, title="conflicts")
        for conflict in report.conflict_list[:SHOWN]:
            conflicts.add_row(*(Text(cell) for cell in cells(conflict)))
        out.print(conflicts)
        if len(report.conflict_list) > SHOWN:
            err.print(f"... and {len(report.conflict_list) - SHOWN} more conflicts (see --json)")
    for rejected in report.rejected_list[:SHOWN]:
        err.print(Text.assemble(("rejected", "yellow"), " ", rejected.describe()))
    if len(report.rejected_list) > SHOWN:
        err.print(f"... and {len(report.rejected_list) - SHOWN} more rejected rows (see --json)")
    if report.plan_only:
        err.print("plan only: nothing was written")
