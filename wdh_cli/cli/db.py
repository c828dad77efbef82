"""`wdh db check | backup | restore | stop`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wdh_cli.admin import backup as backup_service
from wdh_cli.admin import health
from wdh_cli.cli.context import app_context, err, out
from wdh_cli.cli.output import JsonOption, emit
from wdh_cli.db import embedded
from wdh_cli.errors import EXIT_CHECK

app = typer.Typer(help="Check, back up and restore wdh's database.", no_args_is_help=True)


@app.command()
def check(
    ctx: typer.Context,
    json_: JsonOption = False,
) -> None:
    """Report which database is used and whether it is healthy; exit 3 if not."""
    report = health.check(app_context(ctx).database("db check"))
    emit(report, as_json=json_, render=_render_check)
    if not report.healthy:
        raise typer.Exit(EXIT_CHECK)


def _render_check(report: health.HealthReport) -> None:
    table = Table("check", "value", show_header=False)
    table.add_row("database", report.database)
    table.add_row("mode", report.mode)
    table.add_row("reachable", "yes" if report.reachable else "[red]no[/]")
    if report.reachable:
        table.add_row("server version", report.server_version or "")
        table.add_row("round trip", f"{report.latency_ms:.2f} ms")
        summary = ", ".join(f"{count} {state}" for state, count in report.migrations.items())
        color = "green" if report.migrations_current else "yellow"
        table.add_row("migrations", f"[{color}]{summary}[/]")
    table.add_row("pool size", str(report.pool_max))
    out.print(table)
    if report.error:
        err.print(f"[red]unhealthy:[/] {report.error}")
    elif not report.migrations_current:
        err.print("[yellow]unhealthy:[/] migrations are not current: run `wdh migrate up`")


@app.command()
def backup(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="Archive to write (default wdh-backup-<time>.dump).")
    ] = None,
) -> None:
    """Write a pg_dump custom-format archive of wdh's schemas and history."""
    target = path or backup_service.default_backup_path()
    written = backup_service.backup(app_context(ctx).database("db backup"), target)
    err.print(f"backup written to {written}")


@app.command()
def restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Archive written by `wdh db backup`.")],
) -> None:
    """Replace wdh's schemas with those of a backup, in one transaction."""
    backup_service.restore(app_context(ctx).database("db restore"), path)
    err.print(f"restored {path}")


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL server (it is otherwise left running for reuse)."""
    home = app_context(ctx).settings.home
    if embedded.stop(home):
        err.print(f"stopped the embedded server in {embedded.pgdata_dir(home)}")
    else:
        err.print("the embedded server is not running")
