"""`wdh explain`: what each layer answers for one row, and which answer wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseError
from wdh_cli.mappings import levels
from wdh_cli.mappings import repository as mappings
from wdh_cli.queue import repository as queue
from wdh_cli.queue.repository import Request
from wdh_cli.resolution.overrides import load_overrides
from wdh_cli.tempids import issuer


@dataclass
class LayerAnswer:
    layer: str  # e.g. yaml:plan, db:name
    key: str
    answer: str | None  # company_id, or None for no answer
    note: str = ""


@dataclass
class Explanation:
    """The report of `wdh explain` (its --json keys are these fields and `company_id`)."""

    normalized_name: str
    temp_id: str | None
    layers: list[LayerAnswer] = field(default_factory=list)
    winner: str | None = None  # the winning layer
    company_id: str | None = None  # the winning answer
    db_available: bool = True
    request: Request | None = None


def explain(
    settings: Settings,
    db: Database,
    name: str,
    *,
    plan: str = "",
    account: str = "",
    account_name: str = "",
) -> Explanation:
    cells = {"plan": plan, "account": account, "name": name, "account_name": account_name}
    pairs = levels.LEVELS.keys_of(cells)
    name_key = levels.LEVELS[levels.NAME].key(name)
    result = Explanation(name_key, issuer.preview(settings, name_key))
    overrides = load_overrides(settings.mappings_dir)
    for match_type, key in pairs:
        result.layers.append(LayerAnswer(f"yaml:{match_type}", key, overrides[match_type].get(key)))
    winner = next((a for a in result.layers if a.answer is not None), None)
    try:
        with db.connect() as conn:
            hits = mappings.lookup(conn, pairs)
            for match_type, key in pairs:
                hit = hits.get((match_type, key))
                note = f"source {hit.source}, priority {hit.priority}" if hit else ""
                answer = hit.canonical_id if hit else None
                result.layers.append(LayerAnswer(f"db:{match_type}", key, answer, note))
            result.request = queue.request_of(conn, name_key) if name_key else None
    except DatabaseError as exc:
        result.db_available = False
        result.layers.append(LayerAnswer("db", "", None, f"database not available: {exc.message}"))
    else:
        # As in a resolve: the lowest stored priority wins among cache hits.
        found = [hit for pair in pairs if (hit := hits.get(pair)) is not None]
        if winner is None and found:
            best = min(found, key=lambda hit: hit.priority)
            winner = LayerAnswer(f"db:{best.match_type}", best.alias_name, best.canonical_id)
    if winner is not None:
        result.winner, result.company_id = winner.layer, winner.answer
    return result
