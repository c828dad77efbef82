"""`wdh queue enqueue | drain | status | retry | resolved | purge`."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.table import Table

from wdh_cli.cli.context import app_context, err, out
from wdh_cli.cli.output import JsonOption, emit
from wdh_cli.cli.progress import progress_bar
from wdh_cli.errors import UsageError
from wdh_cli.providers.names import ProviderName

if TYPE_CHECKING:
    from wdh_cli.queue import drain as drain_service
    from wdh_cli.queue import service

app = typer.Typer(help="The enrichment queue of names to look up.", no_args_is_help=True)


@app.command()
def enqueue(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Company names.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A .csv, .xlsx or .ods file of names.")
    ] = None,
    column: Annotated[str, typer.Option("--column", help="Column of --file.")] = "客户名称",
    json_: JsonOption = False,
) -> None:
    """Queue names for a later drain; names already pending or processing are skipped."""
    from wdh_cli.queue import service

    context = app_context(ctx)
    if not names and file is None:
        raise UsageError("give NAMEs or --file")
    report = service.enqueue(
        context.database("queue enqueue"), context.settings, names or [], file=file, column=column
    )
    emit(report, as_json=json_, render=_render_enqueue)


def _render_enqueue(report: service.EnqueueReport) -> None:
    typer.echo(f"queued {report.queued}, skipped {report.skipped}")


@app.command()
def drain(
    ctx: typer.Context,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows claimed at a time.")] = 50,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Stop after this many rows.")
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep waiting for work.")] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            help="Names asked at once: worker threads, each with its own connection "
            "(the pool holds one more, for the heartbeat, whatever WDH_POOL_MAX says).",
        ),
    ] = 1,
    provider: Annotated[
        ProviderName | None, typer.Option("--provider", help="Default: WDH_PROVIDER.")
    ] = None,
    plan_only: Annotated[
        bool, typer.Option("--plan-only", help="Report what is ready; claim nothing.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Resolve queued names with the provider; any number of drains may run at once."""
    from wdh_cli.interrupts import graceful_stop
    from wdh_cli.queue import drain as drain_service

    context = app_context(ctx)
    settings = context.settings
    options = drain_service.DrainOptions.from_settings(
        settings, batch=batch, limit=limit, follow=follow, concurrency=concurrency
    )
    db = context.database("queue drain")
    if plan_only:
        report = drain_service.plan(db, options)
    else:
        with (
            progress_bar("draining", unit="names", quiet=json_) as progress,
            graceful_stop() as stop,
        ):
            report = drain_service.run(
                settings, db, provider, options, stop=stop, progress=progress
            )
    emit(report, as_json=json_, render=_render_drain)
    # Messages go to stderr with or without --json.
    if report.stopped_by:
        err.print(
            f"stopped by {report.stopped_by}: {report.handed_back} unasked row(s) handed back"
        )
    if report.lost:
        err.print(f"{report.lost} row(s) had been taken back as stale; their results were dropped")


def _render_drain(report: drain_service.DrainReport) -> None:
    typer.echo(
        f"claimed {report.claimed}, resolved {report.resolved}, no_match {report.no_match}, "
        f"retried {report.retried}, failed {report.failed}, reclaimed {report.reclaimed}, "
        f"api_calls {report.api_calls}"
        + (f" ({report.concurrency} workers)" if report.concurrency > 1 else "")
    )


@app.command()
def status(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Rows per status, ready now, age of the oldest pending row, common errors."""
    from wdh_cli.queue import service

    context = app_context(ctx)
    report = service.status(context.database("queue status"), context.settings)
    emit(report, as_json=json_, render=_render_status)


def _render_status(report: service.StatusReport) -> None:
    table = Table("status", "rows")
    for label, value in (
        ("pending", report.pending),
        ("  ready now", report.ready),
        ("processing", report.processing),
        ("  stale", report.stale),
        ("done", report.done),
        ("failed", report.failed),
    ):
        table.add_row(label, f"{value:,}")
    out.print(table)
    if report.oldest_pending_seconds is not None:
        out.print(f"oldest pending row: {report.oldest_pending_seconds:,.0f} s")
    if report.errors:
        errors = Table("most common errors", "rows")
        for e in report.errors:
            errors.add_row(e.error, str(e.rows))
        out.print(errors)


@app.command()
def retry(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed row.")] = False,
    ids: Annotated[list[int] | None, typer.Option("--id", help="These rows (repeatable).")] = None,
    json_: JsonOption = False,
) -> None:
    """Put failed rows back to pending with fresh attempts."""
    from wdh_cli.queue import service

    if failed == bool(ids):
        raise UsageError("give either --failed or --id N")
    report = service.retry(app_context(ctx).database("queue retry"), None if failed else ids)
    emit(report, as_json=json_, render=lambda r: typer.echo(f"retrying {r.retried} row(s)"))


@app.command()
def resolved(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Only rows resolved since this time.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="CSV file (default: stdout).")
    ] = None,
) -> None:
    """CSV of temp_id, raw_name, resolved_company_id, resolved_at, to rewrite temporary IDs."""
    from wdh_cli.files import atomic_text_file, people_csv_writer
    from wdh_cli.queue import service

    rows = service.resolved(app_context(ctx).database("queue resolved"), since)

    def write(handle: TextIO) -> None:
        writer = people_csv_writer(handle)  # opened by people: no cell runs as a formula
        writer.writerow(("temp_id", "raw_name", "resolved_company_id", "resolved_at"))
        for row in rows:
            writer.writerow(
                (
                    row.temp_id or "",
                    row.raw_name,
                    row.resolved_company_id,
                    row.resolved_at.isoformat(),
                )
            )

    if output is None:
        write(sys.stdout)
    else:
        with atomic_text_file(output) as handle:
            write(handle)
        err.print(f"wrote {len(rows)} row(s) to {output}")


@app.command()
def purge(
    ctx: typer.Context,
    done: Annotated[bool, typer.Option("--done", help="Purge done rows (required).")] = False,
    older_than: Annotated[
        int, typer.Option("--older-than", metavar="DAYS", min=0, help="Age in days.")
    ] = 30,
    json_: JsonOption = False,
) -> None:
    """Delete done rows older than DAYS."""
    from wdh_cli.queue import service

    if not done:
        raise UsageError("only done rows can be purged: add --done")
    report = service.purge_done(app_context(ctx).database("queue purge"), older_than)
    emit(report, as_json=json_, render=lambda r: typer.echo(f"purged {r.purged} done row(s)"))
