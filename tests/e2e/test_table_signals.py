"""The installed `wdh resolve --table` under SIGTERM: it stops after a batch, exit 0."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from tests.helpers import WDH, run_wdh, wdh_env

pytestmark = pytest.mark.e2e

ROWS = 200_000


def _table(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            'CREATE TABLE "明细" ("客户名称" text, company_id text, company_id_source text)'
        )
        conn.execute(
            """INSERT INTO "明细" ("客户名称")
               SELECT '客户' || (n %% 3000) || '有限公司' FROM generate_series(1, %s) AS n""",
            [ROWS],
        )


def _count(db_url: str, where: str) -> int:
    with psycopg.connect(db_url) as conn:
        found = conn.execute(f'SELECT count(*) FROM "明细" WHERE {where}').fetchone()
    assert found is not None
    return int(found[0])


def test_sigterm_stops_after_a_batch_and_a_rerun_finishes(db_url: str, tmp_path: Path) -> None:
    _table(db_url)
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    args = [WDH, "resolve", "--table", "public.明细", "--batch", "2000", "--json"]
    child = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while _count(db_url, "company_id IS NOT NULL") == 0:  # a batch has been committed
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.02)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    figures = json.loads(out)
    assert 0 < figures["batches"] < ROWS // 2000
    assert figures["total_rows"] == ROWS  # the whole table is worked out before any batch
    assert "stopped by SIGTERM after" in err and "Traceback" not in err
    # Every committed batch is whole: the rows written are the batches' rows.
    assert _count(db_url, "company_id IS NOT NULL") == figures["batches"] * 2000

    rerun = run_wdh(*args[1:], env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["batches"] == ROWS // 2000
    assert _count(db_url, "company_id IS NULL OR company_id_source IS NULL") == 0
