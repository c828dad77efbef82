"""`wdh migrate up/down/status/verify/baseline/repair`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from wdh_cli.cli.context import app_context, err, out
from wdh_cli.cli.output import JsonOption, emit
from wdh_cli.errors import EXIT_CHECK, UsageError
from wdh_cli.migrate import DEFAULT_LOCK_TIMEOUT

if TYPE_CHECKING:
    from wdh_cli.migrate.history import LockHolder
    from wdh_cli.migrate.plan import StatusReport
    from wdh_cli.migrate.runner import (
        BaselineReport,
        RepairPlan,
        RepairReport,
        RunReport,
        StepResult,
    )
    from wdh_cli.migrate.verify import VerifyReport

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
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _confirm_or_refuse(question: str, refusal: str) -> None:
    """Ask on a terminal; off one, refuse (exit 2): the caller must say --yes."""
    if not sys.stdin.isatty():
        raise UsageError(refusal)
    typer.confirm(question, abort=True)


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
    lock_timeout: LockTimeoutOption = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Apply pending migrations in version order."""
    from wdh_cli.migrate import runner

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
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    lock_timeout: LockTimeoutOption = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Revert applied migrations, newest first (one by default)."""
    from wdh_cli.migrate import runner

    if to is not None and all_:
        raise UsageError("--to and --all cannot be used together")
    if all_ and not yes and not dry_run:
        _confirm_or_refuse(
            "Revert every migration, dropping wdh's tables and their data?",
            "--all drops every wdh table: add --yes to confirm",
        )
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
    from wdh_cli.migrate import runner
    from wdh_cli.migrate.plan import StatusReport

    report = StatusReport(runner.status(app_context(ctx).database("migrate status")))
    emit(report, as_json=json_, render=_render_status)
    if not report.current:
        raise typer.Exit(EXIT_CHECK)


def _render_status(report: StatusReport) -> None:
    table = Table("version", "description", "state", "applied at", "checksum")
    colors = {
        "applied": "green",
        "baseline": "cyan",
        "pending": "yellow",
        "changed": "red",
        "missing": "red",
    }
    for s in report.migrations:
        table.add_row(
            f"{s.version:04d}",
            s.description,
            Text(s.state, style=colors[s.state]),
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
    from wdh_cli.migrate.verify import VerifyReport
    from wdh_cli.migrate.verify import verify as verify_service

    report = VerifyReport(verify_service(app_context(ctx).database("migrate verify")))
    emit(report, as_json=json_, render=_render_verify)
    if not report.ok:
        raise typer.Exit(EXIT_CHECK)


def _render_verify(report: VerifyReport) -> None:
    for difference in report.differences:
        typer.echo(difference.describe())
    if report.ok:
        typer.echo("ok: the database matches the applied migrations")


@app.command()
def baseline(
    ctx: typer.Context,
    version: Annotated[
        int,
        typer.Option(
            "--version", metavar="VERSION", help="Record migrations up to this one as baseline."
        ),
    ],
    yes: YesOption = False,
    lock_timeout: LockTimeoutOption = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Record migrations 1..VERSION as applied without running them (an existing schema)."""
    from wdh_cli.migrate import runner

    if not yes:
        _confirm_or_refuse(
            f"Record migrations up to {version:04d} as applied without running them "
            "(their objects must already exist)?",
            "baseline records migrations as applied without running them: add --yes to confirm",
        )
    report = runner.baseline(
        app_context(ctx).database("migrate baseline"),
        version=version,
        lock_timeout=lock_timeout,
        on_wait=_on_wait,
    )
    _render_baseline(report)


def _render_baseline(report: BaselineReport) -> None:
    for file in report.recorded:
        err.print(f"baseline {file} (not run)")
    if report.missing_objects:
        missing = ", ".join(o.describe() for o in report.missing_objects)
        err.print(
            Text.assemble(
                ("warning:", "yellow"),
                " these migrations create objects that do not exist here: "
                f"{missing}; no migration will create them now (`wdh migrate verify` lists every "
                "difference)",
            )
        )
    err.print(
        f"done: {len(report.recorded)} migration(s) recorded as baseline; "
        "`wdh migrate verify` compares the schema with them, `wdh migrate up` applies the rest"
    )


@app.command()
def repair(
    ctx: typer.Context,
    yes: YesOption = False,
    lock_timeout: LockTimeoutOption = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Re-record checksums of edited applied files; remove failed attempts from the history."""
    from wdh_cli.migrate import runner

    def confirm(plan: RepairPlan) -> bool:
        _render_repair_plan(plan)
        if not yes:
            _confirm_or_refuse(
                "Record these changes in wdh.schema_history?",
                "repair rewrites wdh.schema_history: check the changes above, then add --yes",
            )
        return True

    report = runner.repair(
        app_context(ctx).database("migrate repair"),
        confirm=confirm,
        lock_timeout=lock_timeout,
        on_wait=_on_wait,
    )
    _render_repair(report)


def _render_repair_plan(plan: RepairPlan) -> None:
    for fix in plan.checksums:
        typer.echo(f"{fix.file}: checksum {fix.recorded} (recorded) -> {fix.current} (file)")
    for attempt in plan.failed:
        typer.echo(f"{attempt.file}: remove the failed attempt ({attempt.error})")


def _render_repair(report: RepairReport) -> None:
    plan = report.plan
    for file in plan.missing:
        err.print(
            f"left alone: sql/migrations/{file} was applied but the file is missing; restore it",
            markup=False,
        )
    if plan.empty:
        err.print("nothing to repair: every applied file matches its recorded checksum")
    elif report.repaired:
        err.print(
            f"done: {len(plan.checksums)} checksum(s) re-recorded, "
            f"{len(plan.failed)} failed attempt(s) removed"
        )
