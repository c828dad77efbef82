"""`wdh review export | apply`: the requests no provider could answer, decided by a person.

Export writes the failed requests (most rows held back first) with the
ledger's best candidates. Apply reads the decisions, checks them in Python,
then records the whole file in one transaction with a few set-based
statements: the chosen companies (company_master), their names
(company_mapping, level `name`, source `review`) and the requests (done, or
still failed with "review: no company"). The next resolve then answers the
name from the cache (db:name), and `wdh queue resolved` lists its temporary
ID with the company, as after a provider's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from xlsxwriter.exceptions import XlsxWriterException

from wdh_cli.companies import repository as companies
from wdh_cli.companies.repository import Learned
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseError, OutputFileError, UsageError
from wdh_cli.ledger import repository as ledger
from wdh_cli.mappings import levels
from wdh_cli.mappings import repository as mappings
from wdh_cli.mappings.repository import NewMapping
from wdh_cli.namekeys.service import require_current_rules
from wdh_cli.progress import Progress
from wdh_cli.queue import repository as queue
from wdh_cli.reports import Rejected
from wdh_cli.review import repository
from wdh_cli.review.repository import Target
from wdh_cli.review.sheet import (
    CANDIDATES,
    SUFFIXES,
    Decision,
    ExportRow,
    read_review,
    write_review,
)

SOURCE = "review"  # company_mapping.source, company_master.source, resolved_source


@dataclass(frozen=True)
class ExportReport:
    exported: int
    output: Path


def export(
    db: Database,
    path: Path,
    *,
    limit: int | None,
    include_none: bool,
    progress: Progress | None = None,
) -> ExportReport:
    """Write the failed requests to decide, with the ledger's candidates, to `path`;
    `progress`: requests written of those exported."""
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"{path}: expected a .xlsx or .csv file")
    with db.connect() as conn:
        requests = repository.requests_to_review(conn, include_none=include_none, limit=limit)
        answers = ledger.latest(conn, [r.normalized_name for r in requests])
    rows = [
        ExportRow(r, answers[r.normalized_name].candidates[:CANDIDATES])
        if r.normalized_name in answers
        else ExportRow(r)
        for r in requests
    ]
    try:
        write_review(path, rows, progress)
    except (OSError, XlsxWriterException) as exc:
        raise OutputFileError(f"{path}: cannot write the file ({_why(exc)})") from exc
    return ExportReport(exported=len(rows), output=path)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(exc).__name__


@dataclass(frozen=True)
class ReviewConflict:
    """A decision for a name already mapped to another company (stored, or earlier in the file)."""

    file: str
    row: int
    request_id: int
    new_id: str
    current_id: str


@dataclass
class ApplyReport:
    """Every row read is counted once: read = applied + confirmed_none + skipped + stale
    + conflicts + rejected."""

    read: int = 0
    applied: int = 0
    confirmed_none: int = 0
    skipped: int = 0
    stale: int = 0
    conflicts: int = 0
    rejected: int = 0
    plan_only: bool = False
    conflict_list: list[ReviewConflict] = field(default_factory=list)
    rejected_list: list[Rejected] = field(default_factory=list)


@dataclass
class _Plan:
    """What the file's decisions do to the stored requests."""

    chosen: list[tuple[Decision, Target]] = field(default_factory=list)
    none: list[Decision] = field(default_factory=list)
    stale: int = 0
    conflicts: list[ReviewConflict] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def apply(db: Database, path: Path, *, plan_only: bool = False) -> ApplyReport:
    """Record a review file's decisions in one transaction (`plan_only`: write nothing)."""
    file = read_review(path)
    report = ApplyReport(read=file.read, skipped=file.skipped, plan_only=plan_only)
    name = levels.LEVELS[levels.NAME]
    with db.connect() as conn, conn.transaction():
        found = repository.targets(conn, [d.request_id for d in file.decisions], name.match_type)
        plan = _plan(str(path), file.decisions, found)
        if not plan_only:
            require_current_rules(conn)
            _record(conn, plan, name)
    report.applied = len(plan.chosen)
    report.confirmed_none = len(plan.none)
    report.stale = plan.stale
    report.conflict_list = plan.conflicts
    report.conflicts = len(plan.conflicts)
    report.rejected_list = sorted([*file.rejected, *plan.rejected], key=lambda r: r.number)
    report.rejected = len(report.rejected_list)
    return report


def _plan(file: str, decisions: list[Decision], found: dict[int, Target]) -> _Plan:
    """Sort the decisions against the stored requests, in file order (the first row of a name
    counts, as in every load)."""
    plan = _Plan()
    claimed: dict[str, str] = {}  # normalized name -> the company an earlier row chose
    for decision in sorted(decisions, key=lambda d: d.row):
        target = found[decision.request_id]
        if not target.found:
            if target.issued:  # it existed, and was purged after it was resolved
                plan.stale += 1
            else:
                reason = f"unknown request_id {decision.request_id}"
                plan.rejected.append(Rejected(file, decision.row, reason, unit="row"))
            continue
        if target.status != "failed":  # resolved or retried meanwhile
            plan.stale += 1
            continue
        if decision.company is None:
            if target.last_error == queue.REVIEW_NO_COMPANY:
                plan.stale += 1  # already decided so: nothing to change
            else:
                plan.none.append(decision)
            continue
        assert target.normalized_name is not None  # found
        company_id = decision.company.company_id
        current = target.mapped_to or claimed.get(target.normalized_name)
        if current is not None and current != company_id:
            plan.conflicts.append(
                ReviewConflict(file, decision.row, decision.request_id, company_id, current)
            )
            continue
        claimed.setdefault(target.normalized_name, company_id)
        plan.chosen.append((decision, target))
    return plan


def _record(conn: psycopg.Connection, plan: _Plan, name: levels.Level) -> None:
    """The writes of one file, each through its table's owner, in the caller's transaction."""
    learned = []
    for decision, target in plan.chosen:
        assert decision.company is not None and target.raw_name and target.normalized_name
        company = decision.company
        learned.append(
            Learned(
                raw_name=target.raw_name,
                normalized_name=target.normalized_name,
                company_id=company.company_id,
                # A typed ID names no company: a new company_master row takes
                # the request's raw name until someone knows better.
                official_name=company.official_name or target.raw_name,
                unified_credit_code=company.unified_credit_code,
            )
        )
    companies.upsert(conn, learned, SOURCE)
    outcome = mappings.insert_new_keys(
        conn,
        [
            NewMapping(i.normalized_name, i.company_id, name.match_type, name.priority)
            for i in learned
        ],
        SOURCE,
    )
    if outcome.conflicts or outcome.inserted + outcome.skipped != len(learned):
        # The requests are locked, the mappings are not: another session
        # mapped one of these names to another company since the check (or
        # in the instant before the insert, which then counts the row
        # nowhere). Roll the whole file back rather than record a request
        # done with a company its name is not mapped to.
        raise DatabaseError(
            "review not applied: name mappings changed while it ran; apply the file again"
        )
    decided = [(d.request_id, d.company.company_id if d.company else None) for d, _ in plan.chosen]
    decided += [(d.request_id, None) for d in plan.none]
    changed = queue.record_reviews(
        conn, [i for i, _ in decided], [c for _, c in decided], source=SOURCE
    )
    if changed != len(decided):  # locked and checked above: a difference is a bug
        raise DatabaseError(
            f"review not applied: {changed} requests changed, expected {len(decided)}"
        )
