"""`wdh db check | backup | restore | grant | stop`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from wdh_cli.cli.context import app_context, err, out
from wdh_cli.cli.output import JsonOption, emit
from wdh_cli.errors import EXIT_CHECK

if TYPE_CHECKING:
    from wdh_cli.admin import health

app = typer.Typer(help="Check, back up and restore wdh's database.", no_args_is_help=True)


@app.command()
def check(
    ctx: typer.Context,
    json_: JsonOption = False,
) -> None:
    """Report which database is used and whether it is healthy; exit 3 if not."""
    from wdh_cli.admin import health

    report = health.check(app_context(ctx).database("db check"))
    emit(report, as_json=json_, render=_render_check)
    if not report.healthy:
        raise typer.Exit(EXIT_CHECK)


def _render_check(report: health.HealthReport) -> None:
    table = Table("check", "value", show_header=False)
    table.add_row("database", report.database)
    table.add_row("mode", report.mode)
    table.add_row("reachable", "yes" if report.reachable else Text("no", style="red"))
    if report.reachable:
        table.add_row("server version", report.server_version or "")
        table.add_row("round trip", f"{report.latency_ms:.2f} ms")
        summary = ", ".join(f"{count} {state}" for state, count in report.migrations.items())
        if report.baselined:
            summary += f" ({report.baselined} of the applied by baseline)"
        color = "green" if report.migrations_current else "yellow"
        table.add_row("migrations", Text(summary, style=color))
        if report.error is None:
            missing = ", ".join(report.missing_objects) or "none"
            color = "red" if report.missing_objects else "green"
            table.add_row("missing objects", Text(missing, style=color))
    table.add_row("pool size", str(report.pool_max))
    out.print(table)
    if report.error:
        err.print(Text.assemble(("unhealthy:", "red"), " ", report.error))
        return
    for advice in _advice(report):
        err.print(Text.assemble(("unhealthy:", "yellow"), " ", advice))


def _advice(report: health.HealthReport) -> list[str]:
    """One line per problem, each naming a command that leads on from it."""
    counts = report.migrations
    advice = []
    if counts.get("changed"):
        advice.append(
            f"{counts['changed']} applied migration file(s) were edited after they were applied "
            "(`wdh migrate status` shows which): restore them, or if the edit is intended, "
            "record it with `wdh migrate repair`"
        )
    if counts.get("missing"):
        advice.append(
            f"{counts['missing']} applied migration file(s) are missing "
            "(`wdh migrate status` shows which): restore them"
        )
    if counts.get("pending"):
        advice.append(f"{counts['pending']} migration(s) pending: run `wdh migrate up`")
    if report.missing_objects:
        rebuild = (
            ""
            if report.baselined
            else ", or on a database with nothing to keep, "
            "`wdh migrate down --all --yes && wdh migrate up`"
        )
        advice.append(
            "objects the applied migrations create are missing: `wdh migrate verify` lists "
            "every difference; restore them from a backup (`wdh db restore FILE`, from "
            f"`wdh db backup`){rebuild}"
        )
    return advice


@app.command()
def backup(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="Archive to write (default wdh-backup-<time>.dump).")
    ] = None,
) -> None:
    """Write a pg_dump custom-format archive of wdh's schemas and history."""
    from wdh_cli.admin import backup as backup_service

    target = path or backup_service.default_backup_path()
    written = backup_service.backup(app_context(ctx).database("db backup"), target)
    err.print(f"backup written to {written}")


@app.command()
def restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Archive written by `wdh db backup`.")],
) -> None:
    """Replace wdh's schemas with those of a backup, in one transaction."""
    from wdh_cli.admin import backup as backup_service

    backup_service.restore(app_context(ctx).database("db restore"), path)
    err.print(f"restored {path}")


@app.command()
def grant(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="An existing role for the daily commands.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the statements; change nothing.")
    ] = False,
) -> None:
    """Grant ROLE what resolve, queue and mappings need, and no DDL; run as the schema owner."""
    from wdh_cli.admin import grants

    report = grants.grant(app_context(ctx).database("db grant"), role, dry_run=dry_run)
    for statement in report.statements:
        typer.echo(statement)
    if report.dry_run:
        err.print(
            f"dry run: {len(report.statements)} statement(s) would run; nothing was changed",
        )
    else:
        err.print(f"granted {role!r} what wdh's daily commands need", markup=False)


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL server (it is otherwise left running for reuse)."""
    from wdh_cli.db import embedded

    home = app_context(ctx).settings.home
    if embedded.stop(home):
        err.print(f"stopped the embedded server in {embedded.pgdata_dir(home)}")
    else:
        err.print("the embedded server is not running")
