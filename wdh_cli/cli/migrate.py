"""`wdh migrate up/down/status/verify`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from wdh_cli.cli.context import app_context, err, out
from wdh_cli.cli.output import JsonOption, emit
from wdh_cli.errors import EXIT_CHECK, UsageError
from wdh_cli.migrate import runner
from wdh_cli.migrate.history import LockHolder
from wdh_cli.migrate.plan import StatusReport
from wdh_cli.migrate.runner import RunReport, StepResult
from wdh_cli.migrate.verify import VerifyReport
from wdh_cli.migrate.verify import verify as verify_service

app = typer.Typer(
    help="Apply, revert and check the versioned SQL migrations.", no_args_is_help=True
)

LockTimeoutOption = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        metavar="SECONDS",
        min=0,
        help="How long to wait for another migration run to finish.",
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the SQL that would run; change nothing.")
]


def _on_wait(holder: LockHolder | None) -> None:
    who = holder.describe() if holder else "another session"
    err.print(f"waiting for the migration lock held by {who} ...")


def _on_step(result: StepResult) -> None:
    verb = "applied" if result.direction == "up" else "reverted"
    err.print(f"{verb} {result.file} in {result.execution_ms} ms")


def _render(report: RunReport) -> None:
    if report.dry_run:
        for step in report.planned:
            typer.echo(f"-- {step.file}\n{step.sql.rstrip()}\n")
        err.print(f"dry run: {len(report.planned)} migration(s) would run; nothing was changed")
    elif not report.done:
        err.print("nothing to do: the database is up to date")
    else:
        err.print(f"done: {len(report.done)} migration(s)")


@app.command()
def up(
    ctx: typer.Context,
    to: Annotated[
        int | None, typer.Option("--to", metavar="VERSION", help="Stop after this version.")
    ] = None,
    dry_run: DryRunOption = False,
    lock_timeout: LockTimeoutOption = runner.DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Apply pending migrations in version order."""
    db = app_context(ctx).database("migrate up")
    report = runner.up(
        db, to=to, dry_run=dry_run, lock_timeout=lock_timeout, on_wait=_on_wait, on_step=_on_step
    )
    _render(report)


@app.command()
def down(
    ctx: typer.Context,
    steps: Annotated[int, typer.Argument(min=1, help="How many migrations to revert.")] = 1,
    to: Annotated[
        int | None,
        typer.Option("--to", metavar="VERSION", help="Revert everything after this version."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Revert every migration.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: DryRunOption = False,
    lock_timeout: LockTimeoutOption = runner.DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Revert applied migrations, newest first (one by default)."""
    if to is not None and all_:
        raise UsageError("--to and --all cannot be used together")
    if all_ and not yes and not dry_run:
        if not sys.stdin.isatty():
            raise UsageError("--all drops every wdh table: add --yes to confirm")
        typer.confirm("Revert every migration, dropping wdh's tables and their data?", abort=True)
    db = app_context(ctx).database("migrate down")
    report = runner.down(
        db,
        steps=steps,
        to=to,
        all_=all_,
        dry_run=dry_run,
        lock_timeout=lock_timeout,
        on_wait=_on_wait,
        on_step=_on_step,
    )
    _render(report)


@app.command()
def status(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Show every migration's state; exit 3 unless all are applied."""
    report = StatusReport(runner.status(app_context(ctx).database("migrate status")))
    emit(report, as_json=json_, render=_render_status)
    if not report.current:
        raise typer.Exit(EXIT_CHECK)


def _render_status(report: StatusReport) -> None:
    table = Table("version", "description", "state", "applied at", "checksum")
    colors = {"applied": "green", "pending": "yellow", "changed": "red", "missing": "red"}
    for s in report.migrations:
        table.add_row(
            f"{s.version:04d}",
            s.description,
            f"[{colors[s.state]}]{s.state}[/]",
            f"{s.applied_at:%Y-%m-%d %H:%M:%S}" if s.applied_at else "",
            s.checksum[:12],
        )
    out.print(table)
    for s in report.migrations:
        if s.last_error:
            err.print(f"last attempt of {s.file} failed: {s.last_error}", markup=False)


@app.command()
def verify(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Compare the live schema with what the applied migrations define; exit 3 on drift."""
    report = VerifyReport(verify_service(app_context(ctx).database("migrate verify")))
    emit(report, as_json=json_, render=_render_verify)
    if not report.ok:
        raise typer.Exit(EXIT_CHECK)


def _render_verify(report: VerifyReport) -> None:
    for difference in report.differences:
        typer.echo(difference.describe())
    if report.ok:
        typer.echo("ok: the database matches the applied migrations")
