"""The resolver's layers on a real database, called directly."""

from __future__ import annotations

import psycopg

from wdh_cli.resolve.options import ResolveOptions
from wdh_cli.resolve.resolver import Resolver, RowKeys
from wdh_cli.resolve.stats import ResolveStats
from wdh_cli.tempids.generator import TempIdGenerator
from wdh_cli.tempids.issuer import TempIdIssuer

EMPTY = {t: {} for t in ("plan", "account", "hardcode", "name", "account_name")}


def _resolver(conn: psycopg.Connection | None, **overrides: dict[str, str]) -> Resolver:
    return Resolver(
        options=ResolveOptions(),
        overrides=EMPTY | overrides,
        conn=conn,
        provider=None,
        temp_ids=TempIdIssuer("hmac", TempIdGenerator("pepper")),
        min_confidence=0.8,
        stats=ResolveStats(),
        warn=lambda message: None,
    )


def test_database_levels_follow_the_priority_order(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES ('P1', 'D-PLAN', 'plan', 1), ('A1', 'D-ACCT', 'account', 2), "
        "('P2', 'D-HARD', 'hardcode', 3), ('戊公司', 'D-NAME', 'name', 4), "
        "('年金户', 'D-ACNAME', 'account_name', 5)"
    )
    rows = [
        RowKeys(plan="P1", account="A1", name="戊公司", account_name="年金户"),
        RowKeys(plan="P2", account="A1", name="戊公司"),
        RowKeys(plan="P2", name="戊公司"),
        RowKeys(name="戊 公司（已转出）", account_name="年金户"),
        RowKeys(name="无", account_name="年金户"),
    ]
    results = _resolver(conn).resolve_batch(rows)
    assert [(r.company_id, r.source) for r in results] == [
        ("D-PLAN", "db:plan"),
        ("D-ACCT", "db:account"),
        ("D-HARD", "db:hardcode"),
        ("D-NAME", "db:name"),
        ("D-ACNAME", "db:account_name"),
    ]


def test_yaml_levels_follow_the_priority_order() -> None:
    resolver = _resolver(
        None,
        plan={"P1": "Y-PLAN"},
        account={"A1": "Y-ACCT"},
        hardcode={"P2": "Y-HARD"},
        name={"戊公司": "Y-NAME"},
    )
    rows = [
        RowKeys(plan="P1", account="A1", name="戊公司"),
        RowKeys(plan="P2", account="A1"),
        RowKeys(plan="P2", name="戊公司"),
        RowKeys(name=" 戊公司 "),
        RowKeys(),
    ]
    results = resolver.resolve_batch(rows)
    assert [r.source for r in results] == [
        "yaml:plan",
        "yaml:account",
        "yaml:hardcode",
        "yaml:name",
        "unresolved",
    ]
    assert resolver.stats.yaml_hits == {
        "plan": 1,
        "account": 1,
        "hardcode": 1,
        "name": 1,
        "account_name": 0,
    }
