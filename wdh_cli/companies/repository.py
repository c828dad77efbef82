"""DAO for enterprise.company_master, its owner: companies learned from providers.

The drain's `record_batch` also writes it, in its one statement per batch
(docs/architecture.md).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from wdh_cli.companies.ids import company_id_problem, describe_character
from wdh_cli.db.sqlfiles import queries
from wdh_cli.providers.base import Candidate

Q = queries("companies")

# Two-key advisory locks (class, object) of company_master writes (see
# lock_companies). 0x77646801 spells "wdh\1": the migration lock is class "wdh\0".
COMPANY_LOCK_CLASS_ID = 0x77646801


@dataclass(frozen=True)
class Learned:
    """A provider's accepted answer for one raw name."""

    raw_name: str
    normalized_name: str
    company_id: str
    official_name: str
    unified_credit_code: str | None


# company_master's column lengths (VARCHAR, in characters); company_id's
# (MAX_COMPANY_ID) is part of the company-ID rule, companies/ids.py.
MAX_OFFICIAL_NAME = 255
MAX_CREDIT_CODE = 50
# Unicode categories never part of a name or a code: control characters (NUL
# among them) and surrogates (a lone one cannot even be encoded).
_UNSTORABLE = frozenset(("Cc", "Cs"))


def unstorable(candidate: Candidate) -> str | None:
    """Why a provider's company cannot be stored (a provider can send anything), or None.

    The company ID must pass the company-ID rule (`ids.company_id_problem`);
    the official name and the credit code must fit their columns and hold no
    control character or lone surrogate (PostgreSQL can store neither NUL nor
    a lone surrogate, in a column or in the ledger's JSON). Values are taken
    as trimmed already.
    """
    problem = company_id_problem(candidate.company_id)
    if problem is not None:
        return problem
    for what, value, limit in (
        ("official name", candidate.official_name, MAX_OFFICIAL_NAME),
        ("credit code", candidate.unified_credit_code or "", MAX_CREDIT_CODE),
    ):
        if len(value) > limit:
            return f"the {what} is longer than {limit} characters ({len(value)})"
        bad = next((char for char in value if unicodedata.category(char) in _UNSTORABLE), None)
        if bad is not None:
            return f"the {what} holds {describe_character(bad)}"
    return None


def lock(conn: psycopg.Connection, learned: Sequence[Learned]) -> None:
    """Take the advisory locks of these companies and credit codes (see lock_companies).

    Held to the end of the caller's transaction. A write of these companies
    must come in a later statement of that transaction (its snapshot must be
    taken once the locks are granted): `upsert`, or the drain's record_batch.
    """
    if not learned:
        return
    keys = {f"id:{item.company_id}" for item in learned} | {
        f"code:{item.unified_credit_code}" for item in learned if item.unified_credit_code
    }
    conn.execute(Q["lock_companies"], {"class_id": COMPANY_LOCK_CLASS_ID, "keys": sorted(keys)})


def upsert(conn: psycopg.Connection, learned: Sequence[Learned], source: str) -> None:
    """Insert new companies; known ones gain the raw names among their aliases.

    First takes the advisory locks of these companies and credit codes, held
    to the end of the caller's transaction, so that concurrent sessions
    learning the same company take turns instead of failing. Nothing is read
    back, so a caller may send this in pipeline mode.
    """
    if not learned:
        return
    lock(conn, learned)
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
