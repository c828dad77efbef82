"""Review figure: exporting 10,000 failed requests vs XlsxWriter writing the same cells bare."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import psycopg
import xlsxwriter
from psycopg.types.json import Jsonb

from bench.common import Figure, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.ledger import repository as ledger
from wdh_cli.migrate import runner
from wdh_cli.review import repository, service
from wdh_cli.review.sheet import COLUMNS, ExportRow

REQUESTS = 10_000


def _seed(url: str) -> None:
    """10,000 failed requests, each with three candidates in the provider ledger."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY enterprise.enrichment_requests "
            "(raw_name, normalized_name, temp_id, status, last_error, rows_seen) FROM STDIN"
        ) as copy:
            for n in range(REQUESTS):
                name = f"待定公司{n}有限公司"
                copy.write_row((name, name, f"IN{n:016d}", "failed", "no match", n % 97))
        with cur.copy(
            "COPY enterprise.provider_answers (provider, normalized_name, outcome, candidates) "
            "FROM STDIN"
        ) as copy:
            for n in range(REQUESTS):
                candidates = [
                    {
                        "company_id": f"6{n:08d}{k}",
                        "official_name": f"候选公司{n}-{k}有限公司",
                        "unified_credit_code": f"91310000{n:09d}{k}",
                        "confidence": 0.6,
                    }
                    for k in range(3)
                ]
                copy.write_row(("eqc", f"待定公司{n}有限公司", "low_confidence", Jsonb(candidates)))


def _cells(db: Database) -> list[list[object]]:
    """The cells the export writes, computed as the export does."""
    with db.connect() as conn:
        requests = repository.requests_to_review(conn, include_none=False, limit=None)
        answers = ledger.latest(conn, [r.normalized_name for r in requests])
    return [list(ExportRow(r, answers[r.normalized_name].candidates[:3]).cells()) for r in requests]


def _bare(target: Path, rows: list[list[object]]) -> None:
    """The floor: the same cells, written with XlsxWriter and nothing else."""
    book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, COLUMNS)
    for number, row in enumerate(rows, start=1):
        sheet.write_row(number, 0, row)
    book.close()


def run(base_url: str) -> list[Figure]:
    with (
        scratch_database(base_url, "wdh_bench_review") as url,
        tempfile.TemporaryDirectory(prefix="wdh-bench-") as tmp,
    ):
        db = Database(load_settings(database_url=url))
        runner.up(db)
        _seed(url)
        ours, floor = [], []
        for attempt in range(3):
            target = Path(tmp) / f"review{attempt}.xlsx"
            start = time.perf_counter()
            report = service.export(db, target, limit=None, include_none=False)
            ours.append(time.perf_counter() - start)
            assert report.exported == REQUESTS
            rows = _cells(db)
            start = time.perf_counter()
            _bare(Path(tmp) / f"bare{attempt}.xlsx", rows)
            floor.append(time.perf_counter() - start)
    return [
        Figure(
            "review",
            "review export of 10,000 failed requests, xlsx (median of 3)",
            statistics.median(ours),
            "s",
            "XlsxWriter writing the same number of cells bare",
            statistics.median(floor),
            note="aim: ratio <= 1.5",
        )
    ]
