"""DAO: record companies learned from a provider, and cache their names."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from wdh_cli.db.sqlfiles import queries

Q = queries("companies")


@dataclass(frozen=True)
class Learned:
    """A provider's answer for one raw name."""

    raw_name: str
    normalized_name: str
    company_id: str
    official_name: str
    unified_credit_code: str | None


def record(conn: psycopg.Connection, learned: list[Learned], source: str) -> None:
    """Upsert the companies and cache their `name` mappings (two statements, no fetch).

    Nothing is read back, so a caller may send these in pipeline mode.
    """
    if not learned:
        return
    conn.execute(
        Q["upsert_companies"],
        {
            "company_ids": [item.company_id for item in learned],
            "official_names": [item.official_name for item in learned],
            "codes": [item.unified_credit_code for item in learned],
            "aliases": [item.raw_name for item in learned],
            "source": source,
        },
    )
    conn.execute(
        Q["cache_names"],
        {
            "names": [item.normalized_name for item in learned],
            "company_ids": [item.company_id for item in learned],
            "source": source,
        },
    )
