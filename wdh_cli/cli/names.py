"""`wdh names rekey | check`: the rules version of stored name keys."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from wdh_cli.cli.context import app_context, out
from wdh_cli.cli.output import JsonOption, emit

if TYPE_CHECKING:
    from wdh_cli.namekeys import service

app = typer.Typer(
    help="Name keys and the version of the rules that made them.", no_args_is_help=True
)

SHOWN = 20  # conflicts and changed names listed on a terminal; --json lists all


@app.command()
def rekey(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Recompute every stored name key with this wdh's rules, in one transaction."""
    from wdh_cli.namekeys import service

    context = app_context(ctx)
    report = service.rekey(context.database("names rekey"), context.settings, dry_run=dry_run)
    emit(report, as_json=json_, render=_render_rekey)


def _render_rekey(report: service.RekeyReport) -> None:
    prefix = "dry run, nothing written: " if report.dry_run else ""
    typer.echo(
        f"{prefix}name rules version {report.from_version} -> {report.version}: "
        f"keys changed {report.keys_changed}, merged {report.merged}, "
        f"conflicts {report.conflicts}, emptied {report.emptied}"
    )
    if report.conflict_list:
        table = Table("table", "old key", "new key", "removed", "kept")
        for c in report.conflict_list[:SHOWN]:
            table.add_row(c.table_name, c.old_key, c.new_key, c.removed, c.kept)
        out.print(table)
        more = len(report.conflict_list) - SHOWN
        if more > 0:
            typer.echo(f"... and {more} more (--json lists all)")
        if not report.dry_run:
            typer.echo("removed rows are kept in enterprise.name_rekey_audit")


@app.command()
def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .csv, .xlsx or .ods file of names.")],
    col_name: Annotated[
        str, typer.Option("--col-name", help="The column of company names.")
    ] = "客户名称",
    from_version: Annotated[
        int | None,
        typer.Option(
            "--from-version", min=1, help="Compare with this version (default: the database's)."
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Which names of a column get another key under this wdh's rules than under the stored ones."""
    from wdh_cli.namekeys import service

    context = app_context(ctx)
    db = context.database("names check") if from_version is None else None
    report = service.check(db, file, col_name, from_version=from_version)
    emit(report, as_json=json_, render=_render_check)


def _render_check(report: service.CheckReport) -> None:
    typer.echo(
        f"name rules version {report.stored_version} -> {report.version}: "
        f"{report.keys_changed} of {report.names} name(s) get another key"
    )
    if report.changes:
        table = Table("name", f"key (v{report.stored_version})", f"key (v{report.version})")
        for change in report.changes[:SHOWN]:
            table.add_row(change.name, change.old_key, change.new_key)
        out.print(table)
        more = len(report.changes) - SHOWN
        if more > 0:
            typer.echo(f"... and {more} more (--json lists all)")
