"""`wdh resolve` and `wdh explain`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from wdh_cli.cli.context import app_context, err, out, warn
from wdh_cli.cli.output import JsonOption, emit
from wdh_cli.cli.progress import progress_bar
from wdh_cli.interrupts import signals_as_errors
from wdh_cli.providers.names import ProviderName
from wdh_cli.resolution.options import Columns, ResolveOptions

if TYPE_CHECKING:
    from wdh_cli.resolution.explain import Explanation
    from wdh_cli.resolution.figures import ResolveStats


def resolve(
    ctx: typer.Context,
    input_path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[INPUT]", help=".xlsx or .csv file (or --table).", show_default=False
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            metavar="SCHEMA.TABLE",
            help="Resolve a table of the database in place instead of a file.",
        ),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            "--batch",
            min=1,
            help="--table: rows per committed batch (default 50,000). A file's answers never "
            "depend on it.",
        ),
    ] = None,
    add_columns: Annotated[
        bool,
        typer.Option("--add-columns", help="--table: add the output columns (text) if missing."),
    ] = False,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Sheet (default: the first).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Default: <stem>.resolved.<ext> beside INPUT.")
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option("--budget", min=0, help="Provider lookups allowed (WDH_SYNC_LOOKUP_BUDGET)."),
    ] = None,
    plan_only: Annotated[
        bool, typer.Option("--plan-only", help="Report what would happen; write nothing.")
    ] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Use no database.")] = False,
    require_db: Annotated[
        bool, typer.Option("--require-db", help="Fail (exit 1) if the database is unreachable.")
    ] = False,
    no_queue: Annotated[
        bool, typer.Option("--no-queue", help="Do not enqueue unknown names.")
    ] = False,
    no_backflow: Annotated[
        bool, typer.Option("--no-backflow", help="Do not write existing IDs to the cache.")
    ] = False,
    provider: Annotated[
        ProviderName | None, typer.Option("--provider", help="Default: WDH_PROVIDER.")
    ] = None,
    export_unknown: Annotated[
        Path | None, typer.Option("--export-unknown", help="CSV of names left with temporary IDs.")
    ] = None,
    col_plan: Annotated[str, typer.Option("--col-plan")] = Columns.plan,
    col_account: Annotated[str, typer.Option("--col-account")] = Columns.account,
    col_name: Annotated[str, typer.Option("--col-name")] = Columns.name,
    col_account_name: Annotated[str, typer.Option("--col-account-name")] = Columns.account_name,
    col_existing: Annotated[str, typer.Option("--col-existing")] = Columns.existing,
    col_output: Annotated[str, typer.Option("--col-output")] = Columns.output,
    json_: JsonOption = False,
) -> None:
    """Give every row a company ID: overrides, cache, existing IDs, provider, temporary IDs."""
    if (input_path is None) == (table is None):
        err.print("error: give either an INPUT file or --table SCHEMA.TABLE", highlight=False)
        raise typer.Exit(2)
    context = app_context(ctx)
    settings = context.settings
    options = ResolveOptions(
        columns=Columns(
            col_plan, col_account, col_name, col_account_name, col_existing, col_output
        ),
        budget=budget if budget is not None else settings.sync_lookup_budget,
        backflow=not no_backflow,
        queue=not no_queue,
        provider=provider,
        offline=offline,
        plan_only=plan_only,
        require_db=require_db,
    )
    if table is not None:
        _resolve_table(ctx, table, options, batch, add_columns, json_)
        return
    assert input_path is not None
    from wdh_cli.tabular.service import resolve_file

    stopping: list[threading.Event] = []

    def warn_unless_stopping(message: str) -> None:
        if stopping and stopping[0].is_set():
            return  # interrupted: the one-line error says it all
        warn(message)

    # A plan-only run writes no rows: nothing to count, no bar.
    with (
        progress_bar("resolving", quiet=json_ or plan_only) as progress,
        signals_as_errors() as interrupted,  # a signal discards the output, exit 130/143
    ):
        stopping.append(interrupted)
        stats = resolve_file(
            settings,
            context.database("resolve"),
            input_path,
            options,
            sheet=sheet,
            output=output,
            export_unknown=export_unknown,
            warn=warn_unless_stopping,
            progress=progress,
        )
    emit(stats, as_json=json_, render=lambda s: _render(s, plan_only))


def _resolve_table(
    ctx: typer.Context,
    table: str,
    options: ResolveOptions,
    batch: int | None,
    add_columns: bool,
    json_: bool,
) -> None:
    from wdh_cli.interrupts import graceful_stop
    from wdh_cli.warehouse.repository import TableRef
    from wdh_cli.warehouse.resolve import DEFAULT_BATCH, resolve_table

    context = app_context(ctx)

    # A plan-only run writes no rows: nothing to count, no bar.
    with (
        progress_bar("resolving", quiet=json_ or options.plan_only) as progress,
        graceful_stop() as stop,  # a signal: stop after the batch
    ):
        stats = resolve_table(
            context.settings,
            context.database("resolve"),
            TableRef.parse(table),
            options,
            batch=batch or DEFAULT_BATCH,
            add_columns=add_columns,
            stop=stop,
            warn=warn,
            progress=progress,
        )
    emit(stats, as_json=json_, render=lambda s: _render(s, options.plan_only))


def _render(stats: ResolveStats, plan_only: bool) -> None:
    table = Table("layer", "rows", title="wdh resolve" + (" (plan only)" if plan_only else ""))
    for match_type, count in stats.yaml_hits.items():
        table.add_row(f"yaml:{match_type}", f"{count:,}")
    table.add_row("database cache", f"{stats.db_cache_hits:,}")
    table.add_row("existing column", f"{stats.existing_column_hits:,}")
    table.add_row("provider (sync)", f"{stats.provider_hits:,}")
    table.add_row("temporary IDs", f"{stats.temp_ids_generated:,}")
    table.add_row("unresolved (no name)", f"{stats.unresolved:,}")
    table.add_row("total", f"{stats.total_rows:,}", end_section=True)
    out.print(table)
    out.print(
        f"budget: {stats.budget_consumed} used, {stats.budget_remaining} left; "
        f"queue: {stats.async_queued} new, {stats.already_queued} already queued; "
        f"backflow: {stats.backflow['inserted']} inserted, {stats.backflow['skipped']} skipped, "
        f"{stats.backflow['conflicts']} conflicts"
    )
    if not stats.db_available:
        err.print(Text("the database was not used", style="yellow"))
    if stats.output:
        err.print(f"wrote {stats.output}")


def explain(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Customer name (客户名称).")],
    plan: Annotated[str, typer.Option("--plan", help="Plan code (计划代码).")] = "",
    account: Annotated[str, typer.Option("--account", help="Account number (年金账户号).")] = "",
    account_name: Annotated[
        str, typer.Option("--account-name", help="Account name (年金账户名).")
    ] = "",
    json_: JsonOption = False,
) -> None:
    """Show what each layer answers for one row, and which answer wins."""
    from wdh_cli.resolution.explain import explain as explain_service

    context = app_context(ctx)
    result = explain_service(
        context.settings,
        context.database("explain"),
        name,
        plan=plan,
        account=account,
        account_name=account_name,
    )
    emit(result, as_json=json_, render=_render_explanation)


def _render_explanation(result: Explanation) -> None:
    out.print(f"normalized name: {result.normalized_name or '(empty)'}")
    out.print(f"temporary ID:    {result.temp_id or '(WDH_ALIAS_SALT not set)'}")
    table = Table("layer", "key", "answer", "note")
    marked = False
    for answer in result.layers:
        wins = not marked and answer.layer == result.winner
        marked = marked or wins
        mark = " <- wins" if wins else ""
        table.add_row(answer.layer, answer.key, (answer.answer or "-") + mark, answer.note)
    out.print(table)
    if result.request is not None:
        r = result.request
        out.print(
            f"queue: request {r.id} is {r.status} (attempts {r.attempts}"
            + (f", resolved to {r.resolved_company_id}" if r.resolved_company_id else "")
            + (f", last error: {r.last_error}" if r.last_error else "")
            + ")"
        )
    if result.winner is None:
        out.print(
            "no layer answers: a resolve would ask the provider (within the budget), "
            "else give the temporary ID and queue the name"
        )
