"""The services behind `wdh mappings load | export | check`."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from wdh_cli.db import Database
from wdh_cli.errors import DatabaseError, InputFileError, UsageError
from wdh_cli.files import people_csv_writer
from wdh_cli.mappings import levels, repository
from wdh_cli.mappings.inputs import Deduplicator, InputFile, collect, contradiction, iter_rows
from wdh_cli.mappings.rows import MappingRow
from wdh_cli.mappings.yaml_file import override_file_name
from wdh_cli.namekeys.service import require_current_rules
from wdh_cli.progress import Progress
from wdh_cli.reports import Rejected

MODES = ("append", "delete_insert", "upsert")


@dataclass(frozen=True)
class Conflict:
    """A key that already maps to another company."""

    file: str
    line: int
    key: str
    match_type: str
    new_id: str
    current_id: str


@dataclass
class LoadReport:
    """Exact figures of a load: read = inserted + updated + unchanged + conflicts + rejected,
    except under upsert, where conflicts are updated and so also counted in updated."""

    mode: str
    source: str
    plan_only: bool
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    rejected: int = 0
    deleted: int = 0
    conflict_list: list[Conflict] = field(default_factory=list)
    rejected_list: list[Rejected] = field(default_factory=list)


class _PlanOnly(Exception):
    """Raised inside the load transaction to roll it back after counting."""


def load(
    db: Database,
    paths: list[Path],
    *,
    mode: str,
    source: str,
    plan_only: bool = False,
    default_dir: Path,
    progress: Progress | None = None,
) -> LoadReport:
    """Load mapping files in one transaction: stage with COPY, keep the first row of
    each key, classify, merge. `progress`: bytes of the files read and staged, of their
    sizes (inputs.iter_rows); the statements after staging are not counted.

    Rows stream from the files into the staging table as they are read and
    validated: nothing is kept per row but the rejected ones, so memory does
    not grow with the input. Repeats and contradictions inside the input are
    found in SQL (repository.keep_first_rows, list_contradictions).
    """
    if mode not in MODES:
        raise UsageError(f"--mode {mode}: expected one of {', '.join(MODES)}")
    files = collect(paths, default_dir)
    report = LoadReport(mode, source, plan_only)
    invalid: list[tuple[int, Rejected]] = []  # (file number, row) in file order
    name_type = levels.LEVELS[levels.NAME].match_type
    has_names = False  # name keys among the rows: the rules version must match

    def valid_rows() -> Iterator[tuple[int, MappingRow]]:
        nonlocal has_names
        for file_no, entry in iter_rows(files, yaml_problems_fatal=True, progress=progress):
            report.read += 1
            if isinstance(entry, Rejected):
                invalid.append((file_no, entry))
            else:
                if not has_names and entry.match_type == name_type:
                    has_names = True
                yield file_no, entry

    replace = source if mode == "delete_insert" else None
    try:
        with db.connect() as conn, conn.transaction():
            repository.prepare_load(conn)
            repository.create_staging(conn)
            staged = repository.stage(conn, valid_rows(), source)
            keys = repository.keep_first_rows(conn)
            contradictions = repository.list_contradictions(conn) if keys < staged else []
            report.rejected_list = _in_file_order(files, invalid, contradictions)
            repeats = staged - keys - len(contradictions)
            repository.lock_for_load(conn)
            if not plan_only and has_names:
                require_current_rules(conn)  # name keys must be made with the stored rules
            if replace is not None:
                report.deleted = repository.count_source(conn, replace)
            found = repository.classify(conn, replace)
            stored = repository.list_conflicts(conn, replace) if found.conflicts else []
            if plan_only:
                _fill(report, found, stored, files, repeats)
                raise _PlanOnly
            if replace is not None:
                _expect("deleted", repository.delete_source(conn, replace), report.deleted)
            if mode == "upsert":
                written = found.new + found.priority_changed + found.conflicts
                _expect("written", repository.upsert(conn), written)
            else:
                _expect("inserted", repository.insert_new(conn), found.new)
            _fill(report, found, stored, files, repeats)
    except _PlanOnly:
        pass  # plan-only: the transaction rolled back; the figures stay
    return report


def _in_file_order(
    files: list[InputFile],
    invalid: list[tuple[int, Rejected]],
    contradictions: list[repository.Contradiction],
) -> list[Rejected]:
    """Rows rejected in Python (invalid) and in SQL (contradictions), merged in file order."""

    def named(c: repository.Contradiction) -> tuple[int, Rejected]:
        first_file = str(files[c.first_file_no].path)
        reason = contradiction(first_file, c.first_line, c.first_id)
        return c.file_no, Rejected(str(files[c.file_no].path), c.line, reason)

    merged = heapq.merge(invalid, map(named, contradictions), key=lambda r: (r[0], r[1].number))
    return [rejected for _, rejected in merged]


def _expect(what: str, actual: int, planned: int) -> None:
    # The table is locked against writers, so a difference is a bug, not a race.
    if actual != planned:
        raise DatabaseError(f"load rolled back: {what} {actual} rows, expected {planned}")


def _fill(
    report: LoadReport,
    found: repository.Classification,
    stored: list[repository.StoredConflict],
    files: list[InputFile],
    repeats: int,
) -> None:
    report.inserted = found.new
    report.conflicts = found.conflicts
    report.rejected = len(report.rejected_list)
    if report.mode == "upsert":
        report.updated = found.priority_changed + found.conflicts
        report.unchanged = found.same + repeats
    else:
        report.unchanged = found.same + found.priority_changed + repeats
    report.conflict_list = [
        Conflict(
            str(files[c.file_no].path), c.line, c.alias_name, c.match_type, c.new_id, c.current_id
        )
        for c in stored
    ]


@dataclass
class CheckReport:
    files: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)


def check(paths: list[Path], *, default_dir: Path) -> CheckReport:
    """Validate mapping files without a database, listing every problem.

    Repeats inside the input are found in memory (inputs.Deduplicator): check
    is a validator for files of human size; loads find them in SQL.
    """
    files = collect(paths, default_dir)
    report = CheckReport(files=len(files))
    dedup = Deduplicator()
    for item in files:
        try:
            for _, entry in iter_rows([item], yaml_problems_fatal=False):
                if isinstance(entry, MappingRow):
                    admitted = dedup.admit(entry)
                    if admitted is None:
                        continue
                    entry = admitted
                if isinstance(entry, Rejected):
                    report.problems.append(entry.describe())
                else:
                    report.entries += 1
        except InputFileError as exc:
            report.problems.append(exc.message)
    return report


FORMATS = ("csv", "yaml")
EXPORT_COLUMNS = ("alias_name", "canonical_id", "match_type", "priority", "source")


def export(db: Database, out: TextIO, *, match_type: str | None, fmt: str) -> int:
    """Write stored mappings as CSV (loadable by `load`) or as a YAML override file.

    The CSV is made for people too: a cell that would run as a formula in a
    spreadsheet program has an apostrophe in front, which `load` takes off.
    """
    if match_type is not None and match_type not in levels.LEVELS:
        raise UsageError(f"--match-type {match_type}: expected one of {levels.LEVELS.describe()}")
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: expected csv or yaml")
    if fmt == "yaml" and match_type is None:
        raise UsageError("--format yaml writes one override file: add --match-type")
    count = 0
    with db.connect() as conn:
        rows = repository.iter_mappings(conn, match_type)
        if fmt == "csv":
            writer = people_csv_writer(out)
            writer.writerow(EXPORT_COLUMNS)
            for row in rows:
                writer.writerow(
                    (row.alias_name, row.canonical_id, row.match_type, row.priority, row.source)
                )
                count += 1
        else:
            out.write(f"# {override_file_name(match_type or '')}, exported by wdh\n")
            for row in rows:
                # A JSON string is a valid YAML double-quoted scalar, escapes included.
                key = json.dumps(row.alias_name, ensure_ascii=False)
                value = json.dumps(row.canonical_id, ensure_ascii=False)
                out.write(f"{key}: {value}\n")
                count += 1
    return count
