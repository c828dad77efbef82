"""The provider ledger end to end: one paid lookup per name, counted at the EQC stand-in."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from tests.eqc_standin import EqcStandin, Reply
from tests.helpers import invoke_wdh_json

KNOWN = {f"已知公司{i}": (f"60000000{i}", f"9131000000000000{i}X") for i in range(1, 5)}
UNKNOWN = ["无名公司1", "无名公司2"]
LOW = ["模糊公司1", "模糊公司2"]
NAMES = [*KNOWN, *UNKNOWN, *LOW]
PINYIN = json.dumps(
    {"list": [{"companyId": "700000001", "companyFullName": "近似公司", "type": "拼音"}]},
    ensure_ascii=False,
)


@pytest.fixture
def eqc() -> Any:
    with EqcStandin(KNOWN, token="tok") as standin:
        for name in LOW:
            standin.script(name, Reply(body=PINYIN))
        yield standin


@pytest.fixture
def wdh(cli: CliRunner, db_url: str, eqc: EqcStandin) -> Callable[..., dict[str, Any]]:
    """`wdh ARGS --json` on the test database, with the stand-in as the provider."""
    env = {"WDH_ALIAS_SALT": "pepper", "WDH_EQC_BASE_URL": eqc.url, "WDH_EQC_TOKEN": "tok"}
    env |= {"WDH_EQC_RATE_LIMIT": "100000", "WDH_PROVIDER": "eqc"}
    return functools.partial(invoke_wdh_json, cli, db_url, env=env)


def _input(tmp_path: Path, names: list[str], copies: int = 2) -> Path:
    path = tmp_path / "in.csv"
    path.write_text("客户名称\n" + "".join(f"{n}\n" for n in names * copies), encoding="utf-8")
    return path


def test_resolve_drain_resolve_drain_asks_each_name_once(
    wdh: Callable[..., dict[str, Any]], db_url: str, eqc: EqcStandin, tmp_path: Path
) -> None:
    # The budget goes to the names holding most rows: one name of each kind
    # holds three rows, the others two, so the first run's budget of 3 asks
    # about those three, wherever their rows stand.
    asked = ["已知公司1", "无名公司1", "模糊公司1"]
    others = ["已知公司2", "无名公司2", "已知公司3", "模糊公司2", "已知公司4"]
    source = tmp_path / "in.csv"
    source.write_text(
        "客户名称\n" + "".join(f"{n}\n" for n in [*others, *asked] * 2 + asked), encoding="utf-8"
    )
    first = wdh("resolve", str(source), "--budget", "3")
    assert (first["budget_consumed"], first["eqc_sync_hits"], first["ledger_hits"]) == (3, 3, 0)
    drained = wdh("queue", "drain")
    # 无名公司1 and 模糊公司1 were answered by the sync lookups: no second call.
    assert (drained["claimed"], drained["api_calls"], drained["ledger_hits"]) == (7, 5, 2)
    second = wdh("resolve", str(source), "--budget", "5")
    assert (second["budget_consumed"], second["ledger_hits"]) == (0, 4)
    assert second["db_cache_hits"] == 9 and second["temp_ids_generated"] == 10
    assert wdh("queue", "drain")["claimed"] == 0
    assert Counter(eqc.keys()) == dict.fromkeys(NAMES, 1)
    with psycopg.connect(db_url) as conn:
        outcomes = dict(
            conn.execute("SELECT normalized_name, outcome FROM enterprise.provider_answers")
        )
        reasons = dict(
            conn.execute(
                "SELECT normalized_name, last_error FROM enterprise.enrichment_requests "
                "WHERE status = 'failed'"
            )
        )
    assert outcomes == {n: "match" for n in KNOWN} | {
        "无名公司1": "no_match",
        "无名公司2": "no_match",
        "模糊公司1": "low_confidence",
        "模糊公司2": "low_confidence",
    }
    assert set(reasons) == {*UNKNOWN, *LOW}


def test_a_sync_answer_closes_the_open_request(
    wdh: Callable[..., dict[str, Any]], db_url: str, eqc: EqcStandin, tmp_path: Path
) -> None:
    assert wdh("queue", "enqueue", "已知公司1")["queued"] == 1
    wdh("resolve", str(_input(tmp_path, ["已知公司1"])), "--budget", "1")
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status, resolved_company_id, resolved_source "
            "FROM enterprise.enrichment_requests"
        ).fetchone()
    assert row == ("done", "600000001", "eqc")
    assert wdh("queue", "drain")["claimed"] == 0
    assert eqc.keys() == ["已知公司1"]


def test_retry_and_an_expired_answer_ask_again_and_a_500_is_never_remembered(
    wdh: Callable[..., dict[str, Any]], db_url: str, eqc: EqcStandin, tmp_path: Path
) -> None:
    wdh("queue", "enqueue", "无名公司1")
    wdh("queue", "drain")
    assert wdh("queue", "retry", "--failed")["retried"] == 1
    wdh("queue", "drain")
    assert eqc.keys() == ["无名公司1", "无名公司1"]  # the retry forgot the answer

    source = _input(tmp_path, ["无名公司1"])
    wdh("resolve", str(source), "--budget", "1")
    assert len(eqc.keys()) == 2  # fresh: no call
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE enterprise.provider_answers SET asked_at = now() - interval '91 days'")
    assert wdh("resolve", str(source), "--budget", "1")["budget_consumed"] == 1
    assert len(eqc.keys()) == 3  # expired (WDH_LOOKUP_TTL, 90 days): asked again

    eqc.script("已知公司2", *[Reply(status=500, body="{}")] * 3)
    broken = wdh("resolve", str(_input(tmp_path, ["已知公司2"])), "--budget", "1")
    assert broken["errors"]["provider"] == 1
    with psycopg.connect(db_url) as conn:
        remembered = conn.execute(
            "SELECT count(*) FROM enterprise.provider_answers WHERE normalized_name = '已知公司2'"
        ).fetchone()
    assert remembered == (0,)


def test_rows_seen_add_up_over_runs_and_not_under_plan_only(
    wdh: Callable[..., dict[str, Any]], db_url: str, eqc: EqcStandin, tmp_path: Path
) -> None:
    source = _input(tmp_path, ["无名公司1", "无名公司2", "无名公司1"], copies=1)
    wdh("resolve", str(source))
    wdh("resolve", str(source))
    wdh("resolve", str(source), "--plan-only")
    with psycopg.connect(db_url) as conn:
        seen = dict(
            conn.execute("SELECT normalized_name, rows_seen FROM enterprise.enrichment_requests")
        )
    assert seen == {"无名公司1": 4, "无名公司2": 2}
    assert wdh("queue", "status")["rows_waiting"] == 6
