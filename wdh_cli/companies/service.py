"""What wdh keeps of a provider's accepted answers: the company, and its name in the cache."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from wdh_cli.companies import repository
from wdh_cli.companies.repository import Learned
from wdh_cli.mappings import levels
from wdh_cli.mappings import repository as mappings
from wdh_cli.mappings.repository import NewMapping


def remember(conn: psycopg.Connection, learned: Sequence[Learned], source: str) -> None:
    """Record accepted answers in the caller's transaction, so the next resolve hits the cache.

    company_master gets the company (company_master's owner), and the
    normalized name becomes a `name` mapping with the provider as its source
    (company_mapping's owner); a name already mapped keeps its mapping.
    Nothing is read back, so a drain can pipeline this with its other writes.
    """
    if not learned:
        return
    repository.upsert(conn, learned, source)
    name = levels.LEVELS[levels.NAME]
    mappings.cache_new_keys(
        conn,
        [
            NewMapping(i.normalized_name, i.company_id, name.match_type, name.priority)
            for i in learned
        ],
        source,
    )
