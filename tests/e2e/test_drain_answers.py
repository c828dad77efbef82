"""What the installed `wdh queue drain` and `wdh resolve` do with provider answers that
cannot be stored, and with a database that refuses a batch's record.

The EQC stand-in answers garbage over real HTTP (a float companyId, an object as
the official name, a company ID of 130 characters, temporary IDs, NUL bytes,
lone surrogates); nothing of it may reach company_master, company_mapping, the
provider ledger or a resolved request, and no claimed row may be left
`processing` when a drain ends.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.eqc_standin import EqcStandin
from tests.helpers import WDH, run_wdh, wdh_env
from wdh_cli.companies.ids import COMPANY_ID_PATTERN, TEMPORARY_ID_PATTERN
from wdh_cli.queue import repository

pytestmark = pytest.mark.e2e
TOKEN = "tok-drain-answers"
BROKEN = "EQC answered 200 with"  # how every broken answer's last_error begins


def _env(db_url: str, eqc: EqcStandin, **extra: str) -> dict[str, str]:
    return wdh_env(
        WDH_DATABASE_URL=db_url,
        WDH_EQC_BASE_URL=eqc.url,
        WDH_EQC_TOKEN=TOKEN,
        WDH_EQC_RATE_LIMIT="1000000",
        WDH_PROVIDER="eqc",
        WDH_ALIAS_SALT="pepper",
        **extra,
    )


def _item(company_id: Any, name: Any, **fields: Any) -> dict[str, Any]:
    """One search result; `fields` override or add (`_drop=[...]` removes keys)."""
    item = {
        "companyId": company_id,
        "companyFullName": name,
        "unite_code": "91310000132200821H",
        "type": "全称精确匹配",
        "_score": 12.5,
    }
    for key in fields.pop("_drop", []):
        item.pop(key)
    return item | fields


def _one(company_id: Any, name: Any, **fields: Any) -> dict[str, Any]:
    return {"list": [_item(company_id, name, **fields)]}


def _enqueue(conn: psycopg.Connection, names: list[str]) -> None:
    repository.enqueue(conn, names, names, [None] * len(names))


def _requests(conn: psycopg.Connection) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT raw_name, status, attempts, last_error, resolved_company_id"
        " FROM enterprise.enrichment_requests"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def _statuses(conn: psycopg.Connection) -> Counter[str]:
    rows = conn.execute("SELECT status FROM enterprise.enrichment_requests").fetchall()
    return Counter(status for (status,) in rows)


def _stored_ids(conn: psycopg.Connection) -> list[str]:
    """Every company ID stored anywhere: companies, mappings, the ledger (with its
    candidates), resolved requests."""
    rows = conn.execute(
        """
        SELECT company_id FROM enterprise.company_master
        UNION ALL SELECT canonical_id FROM enterprise.company_mapping
        UNION ALL SELECT company_id FROM enterprise.provider_answers WHERE company_id IS NOT NULL
        UNION ALL SELECT c ->> 'company_id'
                  FROM enterprise.provider_answers, jsonb_array_elements(candidates) AS c
        UNION ALL SELECT resolved_company_id FROM enterprise.enrichment_requests
                  WHERE resolved_company_id IS NOT NULL
        """
    ).fetchall()
    return [value for (value,) in rows]


def _assert_nothing_malformed_is_stored(conn: psycopg.Connection) -> None:
    bad = conn.execute(
        """
        SELECT v FROM (
            SELECT company_id AS v FROM enterprise.company_master
            UNION ALL SELECT canonical_id FROM enterprise.company_mapping
            UNION ALL SELECT company_id FROM enterprise.provider_answers
            UNION ALL SELECT c ->> 'company_id'
                      FROM enterprise.provider_answers, jsonb_array_elements(candidates) AS c
            UNION ALL SELECT resolved_company_id FROM enterprise.enrichment_requests
        ) AS ids
        WHERE v IS NOT NULL AND (v !~ %(company)s OR v ~* %(temporary)s)
        """,
        {"company": COMPANY_ID_PATTERN, "temporary": TEMPORARY_ID_PATTERN},
    ).fetchall()
    assert bad == []
    # Python's text of a float, an object, a list or a bool is never stored either.
    texts = conn.execute(
        """
        SELECT concat_ws('|', company_id, official_name, unified_credit_code,
                         array_to_string(aliases, '|'))
        FROM enterprise.company_master
        UNION ALL SELECT candidates::text FROM enterprise.provider_answers
        """
    ).fetchall()
    for (text,) in texts:
        for python_text in ("{'", "['", "12345.5", "1000.0", "True", "None"):
            assert python_text not in text, text


def test_a_company_id_of_130_characters_fails_only_its_name_with_workers(
    db_url: str, conn: psycopg.Connection
) -> None:
    """Issue 19 item 3: the installed drain, two workers, one batch holding one answer
    whose company ID cannot be stored. The rest of the batch is recorded, the bad
    name is retried as a broken answer, nothing is left `processing`, and a second
    drain pays for none of the good answers again."""
    good = [f"公司{i:04d}" for i in range(10)]
    companies = {name: (f"6{i:08d}", f"91{i:016d}") for i, name in enumerate(good)}
    bad = "编号过长公司"
    with EqcStandin(companies, token=TOKEN) as eqc:
        eqc.answer(bad, _one("9" * 130, bad))
        _enqueue(conn, [*good[:5], bad, *good[5:]])
        env = _env(db_url, eqc)
        result = run_wdh("queue", "drain", "--json", "--concurrency", "2", env=env)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert (report["claimed"], report["resolved"], report["retried"]) == (11, 10, 1)
        assert (report["failed"], report["lost"], report["api_calls"]) == (0, 0, 11)

        requests = _requests(conn)
        for i, name in enumerate(good):
            assert requests[name] == ("done", 1, None, f"6{i:08d}")
        status, attempts, error, company = requests[bad]
        assert (status, attempts, company) == ("pending", 1, None)
        assert error.startswith(BROKEN)
        assert "longer than 100 characters (130)" in error
        assert _statuses(conn)["processing"] == 0
        mapped = conn.execute(
            "SELECT alias_name, canonical_id FROM enterprise.company_mapping"
        ).fetchall()
        assert sorted(mapped) == sorted((n, f"6{i:08d}") for i, n in enumerate(good))
        ledger = conn.execute("SELECT normalized_name FROM enterprise.provider_answers").fetchall()
        assert sorted(ledger) == sorted((name,) for name in good)  # a broken answer is not
        _assert_nothing_malformed_is_stored(conn)

        again = run_wdh("queue", "drain", "--json", "--concurrency", "2", env=env)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["claimed"] == 0  # the bad name waits for its backoff
        assert Counter(eqc.keys()) == dict.fromkeys([*good, bad], 1)


def test_a_broken_answer_is_asked_again_then_fails_with_its_reason(
    db_url: str, conn: psycopg.Connection
) -> None:
    with EqcStandin({"好公司": ("600000001", "91A")}, token=TOKEN) as eqc:
        eqc.answer("坏公司", _one("TEMP_000001", "坏公司"))
        _enqueue(conn, ["好公司", "坏公司"])
        # No backoff: the drain claims the broken name again at once, up to max attempts.
        env = _env(db_url, eqc, WDH_QUEUE_BACKOFF="0", WDH_QUEUE_MAX_ATTEMPTS="3")
        result = run_wdh("queue", "drain", "--json", "--concurrency", "3", env=env)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert (report["resolved"], report["retried"], report["failed"]) == (1, 2, 1)
        requests = _requests(conn)
        assert requests["好公司"] == ("done", 1, None, "600000001")
        status, attempts, error, company = requests["坏公司"]
        assert (status, attempts, company) == ("failed", 3, None)
        assert error.startswith(BROKEN) and error.endswith("(attempt 3)")
        assert "TEMP_000001 is a temporary ID, not a company" in error
        assert Counter(eqc.keys()) == {"好公司": 1, "坏公司": 3}

        status_report = run_wdh("queue", "status", "--json", env=env)
        errors = json.loads(status_report.stdout)["errors"]
        assert [e["rows"] for e in errors] == [1] and errors[0]["error"] == error
        _assert_nothing_malformed_is_stored(conn)


# Issue 19 item 4: a field of the wrong JSON type makes the answer broken; an
# integer companyId is taken as its digits. name -> (the EQC body, what the
# request becomes: "done <company ID>", "failed <last_error>", or "broken
# <a fragment of the broken answer's last_error>").
WRONG_TYPES: dict[str, tuple[Any, str]] = {
    "浮点编号公司": (_one(12345.5, "浮点编号公司"), "broken companyId"),
    "指数编号公司": (_one(1e3, "指数编号公司"), "broken companyId"),
    "布尔编号公司": (_one(True, "布尔编号公司"), "broken companyId"),
    "负数编号公司": (_one(-5, "负数编号公司"), "broken companyId"),
    "空编号公司": (_one(None, "空编号公司"), "broken companyId"),
    "无编号公司": (_one("1", "无编号公司", _drop=["companyId"]), "broken companyId"),
    "列表编号公司": (_one(["1"], "列表编号公司"), "broken companyId"),
    "对象全称公司": (_one("700000001", {"n": "x"}), "broken companyFullName"),
    "数字全称公司": (_one("700000002", 123), "broken companyFullName"),
    "空全称公司": (_one("700000003", None), "broken companyFullName"),
    "空白全称公司": (_one("700000004", "  "), "broken companyFullName"),
    "列表代码公司": (_one("700000005", "列表代码公司", unite_code=["a"]), "broken unite_code"),
    "数字代码公司": (_one("700000006", "数字代码公司", unite_code=91310000), "broken unite_code"),
    "对象类型公司": (_one("700000007", "对象类型公司", type={"t": 1}), "broken type"),
    "列表不是列表公司": ({"list": {"a": 1}}, "broken `list`"),
    "条目不是对象公司": ({"list": ["x"]}, "broken not an object"),
    "不是对象公司": (["x"], "broken not an object"),
    # A suggestion below the bar with a wrong type breaks the answer too.
    "低分错类型公司": (
        {"list": [_item("700000008", "低分错类型公司"), _item(1.5, "某公司", type="拼音")]},
        "broken companyId",
    ),
    # Taken: an integer companyId as its digits; null or missing optional fields.
    "整数编号公司": (_one(12345, "整数编号公司"), "done 12345"),
    "零编号公司": (_one(0, "零编号公司"), "done 0"),
    "空代码公司": (_one("700000009", "空代码公司", unite_code=None), "done 700000009"),
    "无代码公司": (_one("700000010", "无代码公司", _drop=["unite_code"]), "done 700000010"),
    "空类型公司": (_one("700000011", "空类型公司", type=None), "failed best confidence 0.70"),
    "空列表公司": ({"list": None}, "failed no match"),
    "无列表公司": ({"other": 1}, "failed no match"),
}


def _check(requests: dict[str, tuple[Any, ...]], cases: dict[str, tuple[Any, str]]) -> None:
    for name, (_, expected) in cases.items():
        status, attempts, error, company = requests[name]
        what, _, detail = expected.partition(" ")
        assert attempts == 1, name
        if what == "done":
            assert (status, error, company) == ("done", None, detail), name
        elif what == "failed":
            assert status == "failed" and error.startswith(detail), (name, error)
        else:
            assert status == "pending" and company is None, name
            assert error.startswith(BROKEN) and detail in error, (name, error)
            assert "某" not in error and name not in error  # no names in messages


def test_fields_of_the_wrong_json_type_make_the_answer_broken(
    db_url: str, conn: psycopg.Connection
) -> None:
    with EqcStandin(token=TOKEN) as eqc:
        for name, (body, _) in WRONG_TYPES.items():
            eqc.answer(name, body)
        _enqueue(conn, list(WRONG_TYPES))
        result = run_wdh("queue", "drain", "--json", "--concurrency", "4", env=_env(db_url, eqc))
        assert result.returncode == 0, result.stderr
        _check(_requests(conn), WRONG_TYPES)
        assert Counter(eqc.keys()) == dict.fromkeys(WRONG_TYPES, 1)
        assert _statuses(conn)["processing"] == 0
        stored = {"0", "12345", "700000009", "700000010", "700000011"}  # the last: a suggestion
        assert set(_stored_ids(conn)) == stored
        _assert_nothing_malformed_is_stored(conn)


# Issue 19 item 2: a candidate's company ID must pass the company-ID rule. The
# accepted candidate failing it makes the answer broken (never a fallback to a
# lower one); a suggestion below the bar failing it is dropped.
LONG_NAME = "长" * 300
ID_RULE: dict[str, tuple[Any, str]] = {
    "临时编号公司": (_one("TEMP_000001", "临时编号公司"), "broken temporary ID"),
    "哈希临时编号公司": (_one("INABCDEFGHIJKLMNOP", "哈希临时编号公司"), "broken temporary ID"),
    "小写临时编号公司": (_one("in234567abcdefghij", "小写临时编号公司"), "broken temporary ID"),
    "空格编号公司": (_one("6148 10477", "空格编号公司"), "broken U+0020"),
    "零宽编号公司": (_one("614810477\u200b", "零宽编号公司"), "broken U+200B"),
    "全角编号公司": (_one("６１４８１０４７７", "全角编号公司"), "broken U+FF16"),
    "NUL编号公司": (_one("6148\x0010477", "NUL编号公司"), "broken U+0000"),
    "换行编号公司": (_one("6148\n10477", "换行编号公司"), "broken U+000A"),
    "巨大编号公司": (_one(10**120, "巨大编号公司"), "broken longer than 100 characters (121)"),
    "空串编号公司": (_one("   ", "空串编号公司"), "broken companyId"),
    "NUL全称公司": (_one("700000011", "某\x00公司"), "broken official name"),
    "控制全称公司": (_one("700000012", "某\x1b公司"), "broken official name"),
    "代理对全称公司": (_one("700000013", "某\ud800公司"), "broken official name"),
    "超长全称公司": (_one("700000014", LONG_NAME), "broken official name"),
    "超长代码公司": (_one("700000015", "超长代码公司", unite_code="9" * 60), "broken credit code"),
    "NUL代码公司": (_one("700000016", "NUL代码公司", unite_code="91\x00"), "broken credit code"),
    # The first candidate over the bar is malformed: broken, not the next one.
    "坏编号在前公司": (
        {"list": [_item("X" * 101, "坏编号在前公司"), _item("700000017", "坏编号在前公司")]},
        "broken longer than 100 characters (101)",
    ),
    "低分在前坏编号公司": (
        {
            "list": [
                _item("700000018", "某公司", type="拼音"),
                _item("a b", "低分在前坏编号公司"),
            ]
        },
        "broken U+0020",
    ),
    # Accepted: the ID trimmed; malformed suggestions below the bar dropped.
    "两端空白编号公司": (_one("  700000019\t", "两端空白编号公司"), "done 700000019"),
    "低分坏编号公司": (
        {
            "list": [
                _item("700000020", "低分坏编号公司"),
                _item("TEMP_000002", "某公司", type="拼音"),
                _item("某\x00", "某公司", type="拼音"),
                _item("700000021", "某\x00公司", type="拼音"),
            ]
        },
        "done 700000020",
    ),
    "只有低分坏编号公司": (
        {"list": [_item("a b", "某公司", type="拼音"), _item("IN" + "A" * 16, "某", type="拼音")]},
        "failed no match",
    ),
}


def test_candidates_must_pass_the_company_id_rule(db_url: str, conn: psycopg.Connection) -> None:
    with EqcStandin(token=TOKEN) as eqc:
        for name, (body, _) in ID_RULE.items():
            eqc.answer(name, body)
        _enqueue(conn, list(ID_RULE))
        result = run_wdh("queue", "drain", "--json", "--concurrency", "4", env=_env(db_url, eqc))
        assert result.returncode == 0, result.stderr
        _check(_requests(conn), ID_RULE)
        assert _statuses(conn)["processing"] == 0
        ledger = dict(
            conn.execute(
                "SELECT normalized_name, candidates::text FROM enterprise.provider_answers"
            ).fetchall()
        )
        assert sorted(ledger) == sorted(
            ["两端空白编号公司", "低分坏编号公司", "只有低分坏编号公司"]
        )
        kept = json.loads(ledger["低分坏编号公司"])
        assert [c["company_id"] for c in kept] == ["700000020"]  # the suggestions were dropped
        assert json.loads(ledger["只有低分坏编号公司"]) == []
        _assert_nothing_malformed_is_stored(conn)


def test_resolve_sync_lookups_get_only_valid_candidates(
    db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """The other consumer of `search`: a resolve with a budget. Broken answers give
    temporary IDs and count as provider errors; nothing malformed is stored."""
    names = ["浮点编号公司", "临时编号公司", "编号过长公司", "好公司"]
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n" + "\n".join(names) + "\n", encoding="utf-8")
    with EqcStandin({"好公司": ("600000001", "91A")}, token=TOKEN) as eqc:
        eqc.answer("浮点编号公司", _one(12345.5, "浮点编号公司"))
        eqc.answer("临时编号公司", _one("TEMP_000001", "临时编号公司"))
        eqc.answer("编号过长公司", _one("9" * 130, "编号过长公司"))
        env = _env(db_url, eqc)
        result = run_wdh("resolve", str(source), "--json", "--budget", "10", env=env)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["errors"].get("provider") == 3 and stats["eqc_sync_hits"] == 1
    out = tmp_path / "in.resolved.csv"
    rows = {r["客户名称"]: r for r in csv.DictReader(io.StringIO(out.read_text("utf-8")))}
    assert rows["好公司"]["company_id"] == "600000001"
    for name in names[:3]:
        assert rows[name]["company_id_source"] == "temp"
    assert sorted(_stored_ids(conn)) == ["600000001"] * 4  # company, mapping, ledger x2
    _assert_nothing_malformed_is_stored(conn)


# A database that refuses a batch's record: what it means depends on the error.


def _drain(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [WDH, "queue", "drain", "--json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _companies(count: int) -> tuple[list[str], dict[str, tuple[str, str]]]:
    names = [f"公司{i:04d}" for i in range(count)]
    return names, {name: (f"6{i:08d}", f"91{i:016d}") for i, name in enumerate(names)}


def test_a_row_the_database_refuses_fails_alone_and_the_rest_is_recorded(
    db_url: str, conn: psycopg.Connection
) -> None:
    """A data error (here a CHECK the test adds) while recording a batch: the
    batch is recorded in parts until the refused row stands alone; it fails with
    the database's reason, everything else is recorded."""
    conn.execute(
        "ALTER TABLE enterprise.company_master ADD CONSTRAINT test_refused"
        " CHECK (company_id <> '600000003')"
    )
    names, companies = _companies(12)
    with EqcStandin(companies, token=TOKEN) as eqc:
        _enqueue(conn, names)
        env = _env(db_url, eqc)
        result = run_wdh("queue", "drain", "--json", "--concurrency", "2", env=env)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert (report["resolved"], report["failed"], report["lost"]) == (11, 1, 0)
        requests = _requests(conn)
        status, attempts, error, company = requests["公司0003"]
        assert (status, attempts, company) == ("failed", 1, None)
        assert error.startswith("its answer could not be recorded: database error [23514]")
        assert "test_refused" in error
        for i, name in enumerate(names):
            if i != 3:
                assert requests[name] == ("done", 1, None, f"6{i:08d}")
        assert _statuses(conn)["processing"] == 0
        ledger = conn.execute("SELECT count(*) FROM enterprise.provider_answers").fetchone()
        assert ledger == (11,)
        again = run_wdh("queue", "drain", "--json", env=env)
        assert json.loads(again.stdout)["claimed"] == 0
        assert Counter(eqc.keys()) == dict.fromkeys(names, 1)


def test_a_database_that_refuses_every_record_hands_the_rows_back_and_exits_1(
    db_url: str, conn: psycopg.Connection
) -> None:
    """An error that is not about a row's data (here a trigger raising
    insufficient_privilege): the drain stops with exit 1 and one line, the
    batch's rows are handed back (nothing `processing`), and nothing is failed."""
    conn.execute(
        """
        CREATE FUNCTION public.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'permission denied for table company_master'
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER test_refuse BEFORE INSERT ON enterprise.company_master
            FOR EACH ROW EXECUTE FUNCTION public.test_refuse();
        """
    )
    names, companies = _companies(8)
    with EqcStandin(companies, token=TOKEN) as eqc:
        _enqueue(conn, names)
        env = _env(db_url, eqc)
        result = run_wdh("queue", "drain", "--json", "--concurrency", "2", env=env)
        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "[42501]" in lines[0], result.stderr
        assert "公司" not in result.stderr
        assert _statuses(conn) == Counter({"pending": 8})
        attempts = conn.execute(
            "SELECT DISTINCT attempts FROM enterprise.enrichment_requests"
        ).fetchall()
        assert attempts == [(0,)]

        conn.execute("DROP TRIGGER test_refuse ON enterprise.company_master")
        again = run_wdh("queue", "drain", "--json", "--concurrency", "2", env=env)
        assert again.returncode == 0, again.stderr
        assert _statuses(conn) == Counter({"done": 8})


def test_a_connection_cut_while_recording_is_replaced_and_nothing_is_stranded(
    db_url: str, conn: psycopg.Connection
) -> None:
    """The worker's connection dies in the middle of recording a batch (a trigger
    holds the statement until the test cuts it): the batch is recorded on a new
    connection, the drain still exits 1 with one line (it lost a connection)."""
    conn.execute(
        """
        CREATE TABLE public.test_cut (done boolean);
        CREATE FUNCTION public.test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM public.test_cut) THEN
                PERFORM pg_sleep(30);
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_hold BEFORE INSERT ON enterprise.company_master
            FOR EACH ROW EXECUTE FUNCTION public.test_hold();
        """
    )
    names, companies = _companies(6)
    with EqcStandin(companies, token=TOKEN) as eqc:
        _enqueue(conn, names)
        worker = _drain(_env(db_url, eqc), "--concurrency", "2")
        deadline = time.monotonic() + 30
        while True:
            held = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name LIKE 'wdh queue drain%%' AND wait_event = 'PgSleep'"
            ).fetchall()
            if held:
                break
            assert time.monotonic() < deadline, "the drain should be recording"
            time.sleep(0.05)
        conn.execute("INSERT INTO public.test_cut VALUES (true)")
        conn.execute("SELECT pg_terminate_backend(%s)", held[0])
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == 1
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "connection" in lines[0], err
        assert _statuses(conn) == Counter({"done": 6})
        assert Counter(eqc.keys()) == dict.fromkeys(names, 1)


def test_a_directory_holding_a_temporary_id_is_refused_naming_its_line(
    db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """The directory provider's CSV could hold IDs that are no company: it is an
    input error (exit 2, file and line) for a drain and for a resolve alike,
    before anything is claimed or asked."""
    directory = tmp_path / "directory.csv"
    directory.write_text(
        "company_id,official_name,unified_credit_code,aliases\n"
        "614810477,甲公司,,\n"
        "TEMP_000001,乙公司,,\n",
        encoding="utf-8",
    )
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n甲公司\n乙公司\n", encoding="utf-8")
    _enqueue(conn, ["甲公司", "乙公司"])
    env = wdh_env(
        WDH_DATABASE_URL=db_url, WDH_DIRECTORY_PATH=str(directory), WDH_ALIAS_SALT="pepper"
    )
    for command in (
        ("queue", "drain", "--provider", "directory"),
        ("resolve", str(source), "--provider", "directory", "--budget", "5"),
    ):
        result = run_wdh(*command, env=env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (
            f"error: {directory}:3: TEMP_000001 is a temporary ID, not a company"
        )
    assert _statuses(conn) == Counter({"pending": 2})
    assert _stored_ids(conn) == []
