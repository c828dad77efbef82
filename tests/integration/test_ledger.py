"""The ledger's DAO on a real database: fresh answers, refresh, forget, latest per name."""

from __future__ import annotations

import psycopg

from wdh_cli.ledger import repository as ledger
from wdh_cli.ledger.answers import answer_of
from wdh_cli.providers.base import Candidate

HIT = Candidate("C1", "甲有限公司", "91310000X", "全称精确匹配", 1.0)


def test_fresh_answers_are_read_back_by_provider_and_age(conn: psycopg.Connection) -> None:
    ledger.remember(
        conn, "eqc", [answer_of("eqc", "甲", [HIT], 0.8), answer_of("eqc", "乙", [], 0.8)]
    )
    found = ledger.fresh(conn, "eqc", ["甲", "乙", "丙"], ttl=60)
    assert {k: (a.outcome, a.company_id) for k, a in found.items()} == {
        "甲": ("match", "C1"),
        "乙": ("no_match", None),
    }
    accepted = found["甲"].accepted()
    assert accepted is not None and accepted.unified_credit_code == "91310000X"
    assert ledger.fresh(conn, "directory", ["甲"], ttl=60) == {}  # per provider
    conn.execute("UPDATE enterprise.provider_answers SET asked_at = now() - interval '2 hours'")
    assert ledger.fresh(conn, "eqc", ["甲"], ttl=3600) == {}  # expired
    assert ledger.fresh(conn, "eqc", ["甲"], ttl=0) == {}  # a TTL of 0 never reuses


def test_latest_prefers_an_answer_with_candidates(conn: psycopg.Connection) -> None:
    low = Candidate("C9", "近似公司", None, "拼音", 0.6)
    ledger.remember(conn, "eqc", [answer_of("eqc", "甲", [low], 0.8)])
    ledger.remember(conn, "directory", [answer_of("directory", "甲", [], 0.8)])  # newer, empty
    latest = ledger.latest(conn, ["甲"])["甲"]
    assert (latest.provider, latest.candidates[0]["company_id"]) == ("eqc", "C9")


def test_a_newer_answer_replaces_the_older_and_forget_drops_every_provider(
    conn: psycopg.Connection,
) -> None:
    ledger.remember(conn, "eqc", [answer_of("eqc", "甲", [], 0.8)])
    ledger.remember(conn, "directory", [answer_of("directory", "甲", [HIT], 0.8)])
    ledger.remember(
        conn, "eqc", [answer_of("eqc", "甲", [HIT], 0.8), answer_of("eqc", "甲", [], 0.8)]
    )
    assert ledger.fresh(conn, "eqc", ["甲"], ttl=60)["甲"].outcome == "no_match"  # the last one
    assert ledger.latest(conn, ["甲"])["甲"].provider == "directory"  # it has candidates
    assert ledger.forget(conn, ["甲"]) == 2
    assert ledger.latest(conn, ["甲"]) == {}
