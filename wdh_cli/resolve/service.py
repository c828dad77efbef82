"""`wdh resolve`: a spreadsheet in, the same spreadsheet with company IDs out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import psycopg

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseUnavailable, InputFileError, UsageError
from wdh_cli.files import atomic_text_file, csv_writer
from wdh_cli.mappings import levels
from wdh_cli.namekeys.service import require_current_rules
from wdh_cli.providers.base import Provider
from wdh_cli.providers.registry import open_provider
from wdh_cli.resolve.options import ResolveOptions
from wdh_cli.resolve.overrides import load_overrides
from wdh_cli.resolve.resolver import Resolution, Resolver, RowKeys
from wdh_cli.resolve.stats import ResolveStats
from wdh_cli.resolve.table import OutputLayout, OutputTable, output_paths
from wdh_cli.sheets import InputTable, cell_text, open_input
from wdh_cli.tempids.issuer import TempIdIssuer

Progress = Callable[[int, int | None], None]
Row = tuple[int, list[Any]]  # (row number in the file or sheet, cells)


def resolve_file(
    settings: Settings,
    db: Database,
    input_path: Path,
    options: ResolveOptions,
    *,
    sheet: str | None = None,
    output: Path | None = None,
    export_unknown: Path | None = None,
    warn: Callable[[str], None] = lambda message: None,
    progress: Progress | None = None,
) -> ResolveStats:
    """Resolve every row of the input and write the output (not under plan-only)."""
    table = open_input(input_path, sheet=sheet)
    target = output_paths(
        input_path, table.format, output, export_unknown, plan_only=options.plan_only
    )
    picks = _columns(table, options)
    layout = OutputLayout(table, options.columns.output, options.columns.output_source)
    overrides = load_overrides(settings.mappings_dir)
    # Plan-only makes no temporary IDs, so it needs no salt.
    issuer = None if options.plan_only else TempIdIssuer.from_settings(settings)
    stats = ResolveStats()
    with ExitStack() as stack:
        conn = _connect(db, options, stack, warn)
        stats.db_available = conn is not None
        if conn is not None and not options.plan_only:
            require_current_rules(conn)  # backflow, the ledger and the queue write name keys
        if issuer is not None:
            issuer.ensure_usable(conn)
        provider = _provider(settings, options, stack)
        resolver = Resolver(
            options=options,
            overrides=overrides,
            conn=conn,
            provider=provider,
            temp_ids=issuer,
            min_confidence=settings.eqc_min_confidence,
            lookup_ttl=settings.lookup_ttl,
            stats=stats,
            warn=warn,
        )
        # Both outputs are opened (as temporary files) before any work, so a
        # path that cannot be written fails first, and neither appears unless
        # the whole run succeeds.
        writer: OutputTable | None = None
        if target is not None:
            writer = stack.enter_context(OutputTable(target, table, layout.header, warn=warn))
        unknown = (
            None
            if export_unknown is None
            else stack.enter_context(atomic_text_file(export_unknown))
        )
        done = 0

        def finish(batch: list[Row], resolved: Future[list[Resolution]]) -> None:
            nonlocal done
            results = resolved.result()
            if writer is not None:
                for (number, row), result in zip(batch, results, strict=True):
                    writer.write(layout.row(row, result.company_id or "", result.source), number)
            done += len(batch)
            if progress is not None:
                progress(done, table.total)

        # One batch is resolved (mostly waiting on the database) in a worker
        # thread while the previous one is written here: the two overlap.
        # The resolver and its connection are only ever used by that thread.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wdh-resolve") as worker:
            previous: tuple[list[Row], Future[list[Resolution]]] | None = None
            rows = _data_rows(table.numbered_rows(), len(table.header))
            for batch in _batches(rows, options.batch_size):
                keys = [_row_keys(row, picks) for _, row in batch]
                current = (batch, worker.submit(resolver.resolve_batch, keys))
                if previous is not None:
                    finish(*previous)
                previous = current
            if previous is not None:
                finish(*previous)
        if unknown is not None:
            _export_unknown(unknown, resolver)
        if writer is not None:
            writer.commit()
            stats.output = str(writer.target)
    return stats


def _columns(table: InputTable, options: ResolveOptions) -> list[int | None]:
    """Where each RowKeys field is in the input (None: no such column).

    The fields are the level table's, plus the existing company ID.
    """
    columns = options.columns
    read = [getattr(columns, field) for field in (*levels.LEVELS.fields, "existing")]
    for name in (columns.output, columns.output_source):
        if name in read:
            raise UsageError(
                f"--col-output {columns.output}: the output column {name!r} is also a column "
                "resolve reads; choose another output name"
            )
    picks = {field: table.column(getattr(columns, field)) for field in levels.LEVELS.fields}
    picks["existing"] = table.column(columns.existing)
    if picks["name"] is None:
        found = ", ".join(repr(h) for h in table.header)
        raise InputFileError(
            f"{table.path}: no column {columns.name!r} (the customer name; --col-name renames it); "
            f"columns found: {found}"
        )
    return [picks.get(field) for field in RowKeys._fields]


def _row_keys(row: list[Any], picks: list[int | None]) -> RowKeys:
    width = len(row)
    return RowKeys._make(
        [cell_text(row[index]) if index is not None and index < width else "" for index in picks]
    )


def _data_rows(rows: Iterator[Row], width: int) -> Iterator[Row]:
    """Rows padded to the header's width (so the added columns line up); blank rows dropped.

    Cells beyond the header are kept, after the added columns' places. Each
    row keeps its number in the file or sheet, for messages.
    """
    for number, row in rows:
        if not any(cell not in ("", None) for cell in row):
            continue
        if len(row) < width:
            row = [*row, *[""] * (width - len(row))]
        yield number, row


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while batch := list(islice(rows, size)):
        yield batch


def _connect(
    db: Database, options: ResolveOptions, stack: ExitStack, warn: Callable[[str], None]
) -> psycopg.Connection | None:
    """The run's connection, or None (offline) when asked or when the server is down."""
    if options.offline:
        return None
    try:
        return stack.enter_context(db.connect(autocommit=True))
    except DatabaseUnavailable as exc:
        if options.require_db:
            raise
        warn(f"{exc.message}; going on offline (YAML, existing IDs, temporary IDs; nothing queued)")
        return None


def _provider(settings: Settings, options: ResolveOptions, stack: ExitStack) -> Provider | None:
    """The provider of layer 4, or None: plan-only asks nobody, and no budget asks nobody."""
    if options.plan_only or options.budget <= 0:
        return None
    provider = open_provider(settings, options.provider)
    if provider is not None:
        stack.callback(provider.close)
    return provider


def _export_unknown(handle: TextIO, resolver: Resolver) -> None:
    """company_name, temporary_id, occurrence_count: most frequent first."""
    writer = csv_writer(handle)
    writer.writerow(("company_name", "temporary_id", "occurrence_count"))
    ranked = sorted(resolver.unknown.items(), key=lambda item: (-item[1], item[0]))
    for key, count in ranked:
        writer.writerow((resolver.first_spelling[key], resolver.temp_ids.get(key, ""), count))
