"""`wdh rewrite --table`: resolved temporary IDs in a warehouse table become real company IDs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from wdh_cli.cli.context import app_context, out, warn
from wdh_cli.cli.output import JsonOption, emit
from wdh_cli.cli.progress import progress_bar

if TYPE_CHECKING:
    from wdh_cli.warehouse.rewrite import RewriteReport


def rewrite(
    ctx: typer.Context,
    table: Annotated[
        str,
        typer.Option("--table", metavar="SCHEMA.TABLE", help="The table to correct in place."),
    ],
    column: Annotated[
        str, typer.Option("--column", help="The column holding company IDs.")
    ] = "company_id",
    source_column: Annotated[
        str | None,
        typer.Option(
            "--source-column",
            help="Set to how each ID was resolved (default: company_id_source, if present).",
        ),
    ] = None,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="About this many rows per committed batch.")
    ] = 50_000,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be rewritten; write nothing.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Replace temporary IDs that the queue or a review has resolved with the real company IDs."""
    from wdh_cli.interrupts import graceful_stop
    from wdh_cli.warehouse.repository import TableRef
    from wdh_cli.warehouse.rewrite import rewrite_table

    context = app_context(ctx)

    # A dry run is one count: no bar.
    with (
        progress_bar("rewriting", quiet=json_ or dry_run) as progress,
        graceful_stop() as stop,  # a signal: stop after the current batch, exit 0
    ):
        report = rewrite_table(
            context.database("rewrite"),
            TableRef.parse(table),
            column=column,
            source_column=source_column,
            batch=batch,
            dry_run=dry_run,
            stop=stop,
            warn=warn,
            progress=progress,
        )
    emit(report, as_json=json_, render=lambda r: _render(r, dry_run))


def _render(report: RewriteReport, dry_run: bool) -> None:
    verb = "would rewrite" if dry_run else "rewrote"
    batches = "" if dry_run else f" in {report.batches} batch(es)"
    out.print(
        f"{verb} {report.rewritten:,} row(s){batches}; "
        f"{report.still_temporary:,} row(s) still hold a temporary ID with no real company yet"
    )
