"""`wdh queue ...` through the CLI, with the offline directory provider."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import psycopg
import xlsxwriter
from typer.testing import CliRunner

from tests.eqc_standin import EqcStandin
from tests.helpers import CLI_ENV, invoke_wdh
from wdh_cli.cli.app import app


def test_enqueue_drain_status_resolved(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    result = invoke_wdh(
        cli, db_url, "queue", "enqueue", "浦发集团", "浦发集团", "无此公司", "", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"queued": 2, "skipped": 2}

    planned = invoke_wdh(cli, db_url, "queue", "drain", "--plan-only", "--json")
    assert json.loads(planned.stdout)["claimed"] == 2

    drained = invoke_wdh(cli, db_url, "queue", "drain", "--json")
    assert drained.exit_code == 0, drained.stderr
    report = json.loads(drained.stdout)
    assert {
        k: report[k]
        for k in ("claimed", "resolved", "no_match", "retried", "failed", "reclaimed", "api_calls")
    } == {
        "claimed": 2,
        "resolved": 1,
        "no_match": 1,
        "retried": 0,
        "failed": 0,
        "reclaimed": 0,
        "api_calls": 2,
    }

    status = invoke_wdh(cli, db_url, "queue", "status", "--json")
    data = json.loads(status.stdout)
    assert {k: data[k] for k in ("pending", "processing", "done", "failed", "ready")} == {
        "pending": 0,
        "processing": 0,
        "done": 1,
        "failed": 1,
        "ready": 0,
    }
    assert data["oldest_pending_seconds"] is None
    assert data["errors"] == [{"error": "no match", "rows": 1}]

    resolved = invoke_wdh(cli, db_url, "queue", "resolved")
    rows = list(csv.reader(io.StringIO(resolved.stdout)))
    assert rows[0] == ["temp_id", "raw_name", "resolved_company_id", "resolved_at"]
    assert [r[1:3] for r in rows[1:]] == [["浦发集团", "614810477"]]
    assert rows[1][0].startswith("IN") and len(rows[1][0]) == 18

    retried = invoke_wdh(cli, db_url, "queue", "retry", "--failed")
    assert "retrying 1 row(s)" in retried.stdout
    purge = invoke_wdh(cli, db_url, "queue", "purge", "--done", "--older-than", "0")
    assert "purged 1 done row(s)" in purge.stdout


def test_enqueue_from_a_spreadsheet_column(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "names.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["计划代码", "客户名称"])
    sheet.write_row(1, 0, [12345, "甲公司"])
    sheet.write_row(2, 0, [67890, "乙公司"])
    book.close()
    result = invoke_wdh(cli, db_url, "queue", "enqueue", "--file", str(path), "--json")
    assert json.loads(result.stdout) == {"queued": 2, "skipped": 0}
    missing = invoke_wdh(cli, db_url, "queue", "enqueue", "--file", str(path), "--column", "名称")
    assert missing.exit_code == 2
    assert "no column '名称' (columns: '计划代码', '客户名称')" in missing.stderr


def test_enqueue_needs_the_salt(cli: CliRunner, db_url: str) -> None:
    result = cli.invoke(app, ["--db", db_url, "queue", "enqueue", "甲公司"])
    assert result.exit_code == 2
    assert "WDH_ALIAS_SALT" in result.stderr


def test_drain_needs_a_provider(cli: CliRunner, db_url: str) -> None:
    result = cli.invoke(app, ["--db", db_url, "queue", "drain"], env={"WDH_ALIAS_SALT": "x"})
    assert result.exit_code == 2
    assert "WDH_EQC_TOKEN" in result.stderr and "WDH_DIRECTORY_PATH" in result.stderr


def test_drain_with_workers_reports_them(cli: CliRunner, db_url: str) -> None:
    names = ["浦发集团", "无此公司", "甲公司", "乙公司", "丙公司"]
    invoke_wdh(cli, db_url, "queue", "enqueue", *names)
    planned = invoke_wdh(
        cli, db_url, "queue", "drain", "--plan-only", "--json", "--concurrency", "3"
    )
    assert {k: json.loads(planned.stdout)[k] for k in ("claimed", "concurrency")} == {
        "claimed": 5,
        "concurrency": 3,
    }
    drained = invoke_wdh(
        cli, db_url, "queue", "drain", "--concurrency", "3", "--batch", "1", "--json"
    )
    assert drained.exit_code == 0, drained.stderr
    report = json.loads(drained.stdout)
    figures = ("claimed", "resolved", "no_match", "api_calls", "concurrency")
    assert {k: report[k] for k in figures} == {
        "claimed": 5,
        "resolved": 1,
        "no_match": 4,
        "api_calls": 5,
        "concurrency": 3,
    }
    for bad in ("0", "101"):
        refused = invoke_wdh(cli, db_url, "queue", "drain", "--concurrency", bad)
        assert refused.exit_code == 2 and "--concurrency" in refused.stderr


def test_four_workers_keep_four_names_in_flight_asking_each_name_once(
    cli: CliRunner, db_url: str
) -> None:
    # Parallelism as behaviour, not time (the speed-up is a benchmark: bench
    # queue): the EQC stand-in counts the requests it answers at once. One
    # worker never has two in flight; four have four (a worker that claimed
    # a whole batch and asked it name by name left others idle: 2 of 4 busy
    # on 200 names). A ratio of the two drains' times failed on a loaded
    # machine; this does not depend on its speed.
    names = [f"公司{i:04d}" for i in range(400)]
    companies = {name: (f"6{i:08d}", f"91{i:016d}") for i, name in enumerate(names)}
    with EqcStandin(companies, token="tok", delay=0.1) as eqc:
        env = {
            "WDH_EQC_BASE_URL": eqc.url,
            "WDH_EQC_TOKEN": "tok",
            "WDH_EQC_RATE_LIMIT": "1000000",
            "WDH_PROVIDER": "eqc",
        }
        reports, most_in_flight = [], []
        for part, workers in ((names[:200], "1"), (names[200:], "4")):
            assert invoke_wdh(cli, db_url, "queue", "enqueue", *part).exit_code == 0
            eqc.most_in_flight = 0
            result = invoke_wdh(
                cli, db_url, "queue", "drain", "--json", "--concurrency", workers, env=CLI_ENV | env
            )
            assert result.exit_code == 0, result.stderr
            reports.append(json.loads(result.stdout))
            most_in_flight.append(eqc.most_in_flight)
        asked = Counter(eqc.keys())

    assert most_in_flight == [1, 4]
    for report, workers in zip(reports, (1, 4), strict=True):
        assert (report["claimed"], report["resolved"], report["api_calls"]) == (200, 200, 200)
        assert (report["handed_back"], report["lost"], report["concurrency"]) == (0, 0, workers)
    assert set(asked) == set(names) and max(asked.values()) == 1  # each name asked once
    with psycopg.connect(db_url) as conn:
        statuses = conn.execute(
            "SELECT status, count(*) FROM enterprise.enrichment_requests GROUP BY status"
        ).fetchall()
    assert statuses == [("done", 400)]


def test_retry_and_purge_need_their_options(cli: CliRunner, db_url: str) -> None:
    assert cli.invoke(app, ["--db", db_url, "queue", "retry"]).exit_code == 2
    assert cli.invoke(app, ["--db", db_url, "queue", "purge", "--older-than", "3"]).exit_code == 2


def test_resolved_to_a_file_since_a_time(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, temp_id, "
            "status, resolved_company_id, updated_at) VALUES "
            "('旧', '旧', 'IN1', 'done', 'C1', '2020-01-01'), "
            "('新', '新', 'IN2', 'done', 'C2', now())"
        )
    target = tmp_path / "resolved.csv"
    result = invoke_wdh(
        cli, db_url, "queue", "resolved", "--since", "2025-01-01", "--output", str(target)
    )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(target.open(encoding="utf-8", newline="")))
    assert [r[:3] for r in rows[1:]] == [["IN2", "新", "C2"]]
