"""`wdh review export | apply`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wdh_cli.cli.context import app_context
from wdh_cli.cli.output import JsonOption, emit, render_changes
from wdh_cli.cli.progress import progress_bar

if TYPE_CHECKING:
    from wdh_cli.review import service

app = typer.Typer(
    help="Export the requests that need a person; apply their decisions.", no_args_is_help=True
)


@app.command()
def export(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The file to write: .xlsx or .csv.")],
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many requests.")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Also the requests already decided `none`.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Write the failed requests, most rows held back first, with the provider's candidates."""
    from wdh_cli.review import service

    with progress_bar("exporting", unit="requests", quiet=json_) as progress:
        report = service.export(
            app_context(ctx).database("review export"),
            path,
            limit=limit,
            include_none=all_,
            progress=progress,
        )
    emit(
        report,
        as_json=json_,
        render=lambda r: typer.echo(f"exported {r.exported} request(s) to {r.output}"),
    )


@app.command()
def apply(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="A review file with decisions: .xlsx, .ods or .csv.")
    ],
    plan_only: Annotated[
        bool, typer.Option("--plan-only", help="Report the figures; write nothing.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Record the decisions of a review file in one transaction."""
    from wdh_cli.review import service

    report = service.apply(app_context(ctx).database("review apply"), path, plan_only=plan_only)
    emit(report, as_json=json_, render=_render_apply)


def _render_apply(report: service.ApplyReport) -> None:
    render_changes(
        report,
        title="review apply",
        figures=("read", "applied", "confirmed_none", "skipped", "stale", "conflicts", "rejected"),
        columns=("row", "request_id", "in file", "stored"),
        cells=lambda c: (f"{c.file}:{c.row}", str(c.request_id), c.new_id, c.current_id),
    )
