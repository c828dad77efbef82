"""`wdh mappings load | export | check`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wdh_cli.cli.context import app_context, err
from wdh_cli.cli.output import JsonOption, emit, render_changes
from wdh_cli.cli.progress import BYTES, progress_bar
from wdh_cli.errors import EXIT_CHECK
from wdh_cli.mappings.levels import LEVELS
from wdh_cli.mappings.rows import DEFAULT_SOURCE

if TYPE_CHECKING:
    from wdh_cli.mappings import service

app = typer.Typer(help="Load, export and check company mappings.", no_args_is_help=True)

PathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(help="YAML override files, directories of them, or CSV files."),
]


class LoadMode(StrEnum):
    append = "append"
    delete_insert = "delete_insert"
    upsert = "upsert"


class ExportFormat(StrEnum):
    csv = "csv"
    yaml = "yaml"


def _levels(incomplete: str) -> list[str]:
    """Shell completion of --match-type: the levels (mappings/levels.py)."""
    return [name for name in LEVELS.match_types if name.startswith(incomplete)]


@app.command()
def load(
    ctx: typer.Context,
    paths: PathsArgument = None,
    mode: Annotated[LoadMode, typer.Option("--mode", help="How to merge.")] = LoadMode.append,
    source: Annotated[
        str, typer.Option("--source", help="Source of rows that name none (and the one replaced).")
    ] = DEFAULT_SOURCE,
    plan_only: Annotated[
        bool, typer.Option("--plan-only", help="Report the figures; write nothing.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Load mappings with exact figures: inserted, updated, unchanged, conflicts, rejected."""
    from wdh_cli.mappings import service

    context = app_context(ctx)
    with progress_bar("loading", unit=BYTES, quiet=json_) as progress:
        report = service.load(
            context.database("mappings load"),
            paths or [],
            mode=mode.value,
            source=source,
            plan_only=plan_only,
            default_dir=context.settings.mappings_dir,
            progress=progress,
        )
    emit(report, as_json=json_, render=_render_load)


def _render_load(report: service.LoadReport) -> None:
    render_changes(
        report,
        title=f"mappings load --mode {report.mode}",
        figures=("read", "inserted", "updated", "unchanged", "conflicts", "rejected", "deleted"),
        columns=("file", "line", "match_type", "key", "in file", "stored"),
        cells=lambda c: (c.file, str(c.line), c.match_type, c.key, c.new_id, c.current_id),
    )


@app.command()
def export(
    ctx: typer.Context,
    match_type: Annotated[
        str | None,
        typer.Option("--match-type", help="Only this level.", autocompletion=_levels),
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.csv,
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write stored mappings as CSV (loadable again) or as a YAML override file."""
    from wdh_cli.files import atomic_text_file
    from wdh_cli.mappings import service

    db = app_context(ctx).database("mappings export")
    if output is None:
        service.export(db, sys.stdout, match_type=match_type, fmt=fmt.value)
        return
    with atomic_text_file(output) as handle:
        count = service.export(db, handle, match_type=match_type, fmt=fmt.value)
    err.print(f"exported {count:,} mappings to {output}")


@app.command()
def check(
    ctx: typer.Context,
    paths: PathsArgument = None,
    json_: JsonOption = False,
) -> None:
    """Validate mapping files without a database; exit 3 when any entry is invalid."""
    from wdh_cli.mappings import service

    report = service.check(paths or [], default_dir=app_context(ctx).settings.mappings_dir)
    emit(report, as_json=json_, render=_render_check)
    if report.problems:
        raise typer.Exit(EXIT_CHECK)


def _render_check(report: service.CheckReport) -> None:
    for problem in report.problems:
        typer.echo(problem)
    err.print(
        f"{report.files} file(s), {report.entries:,} valid entries, "
        f"{len(report.problems)} problem(s)"
    )
