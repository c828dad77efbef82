"""Names figures: `wdh names rekey` of 1M stored name keys.

1M `name` mappings written with the version-1 rules (a quarter change key
alone, a quarter collapse into another key, half of them disagreeing), the
database marked as version 1, then re-keyed to the current version. The
baseline, measured in the same run, is recomputing the same 1M keys in
Python alone (the normalizer over the keys, nothing read or written): the
ratio says what the database side (reading the keys, COPY back, planning,
merging, auditing, updating) costs on top of the unavoidable Python work.
"""

from __future__ import annotations

import time

import psycopg

from bench.common import Figure, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.migrate import runner
from wdh_cli.namekeys import service
from wdh_cli.names import normalizer

ROWS = 1_000_000


def _raw_names() -> list[tuple[str, str, int]]:
    """(raw name, company, priority): plain, quoted (changes alone), a marker after ——
    (collides with the plain name two rows back: same company or not), and (集团)."""
    rows = []
    for i in range(ROWS):
        kind = i % 4
        if kind == 0:
            rows.append((f"上海{i}某某科技有限公司", f"C{i}", 4))
        elif kind == 1:
            rows.append((f"「北京{i}某某」有限公司", f"C{i}", 4))
        elif kind == 2:
            company = f"C{i - 2}" if i % 8 == 2 else f"C{i}"
            rows.append((f"上海{i - 2}某某科技有限公司——已转出", company, 4))
        else:
            rows.append((f"重庆{i}集团有限公司(集团)", f"C{i}", 4))
    return rows


def run(base_url: str) -> list[Figure]:
    v1, v2 = normalizer(1), normalizer(2)
    rows = _raw_names()
    keys = [v1(raw) for raw, _, _ in rows]
    with scratch_database(base_url, "wdh_bench_names") as url:
        db = Database(load_settings(database_url=url))
        runner.up(db)
        with psycopg.connect(url) as conn:
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY enterprise.company_mapping "
                    "(alias_name, canonical_id, match_type, priority) FROM STDIN"
                ) as copy,
            ):
                for key, (_, company, priority) in zip(keys, rows, strict=True):
                    copy.write_row((key, company, "name", priority))
            conn.execute("UPDATE enterprise.name_rules SET version = 1")
            conn.commit()
        start = time.perf_counter()
        report = service.rekey(db, load_settings(database_url=url))
        rekey_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for key in keys:
        v2(key)
    python_seconds = time.perf_counter() - start
    return [
        Figure(
            "names",
            f"names rekey, {ROWS:,} stored name keys",
            rekey_seconds,
            "s",
            "the new keys in Python alone",
            python_seconds,
            note=(
                f"keys_changed {report.keys_changed:,}, merged {report.merged:,}, "
                f"conflicts {report.conflicts:,}"
            ),
        )
    ]
