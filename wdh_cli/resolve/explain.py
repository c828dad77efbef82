"""`wdh explain`: what each layer answers for one row, and which answer wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseError
from wdh_cli.mappings import repository as mappings
from wdh_cli.mappings.levels import key_for
from wdh_cli.names import TempIdGenerator
from wdh_cli.queue import repository as queue
from wdh_cli.queue.repository import Request
from wdh_cli.resolve.options import LEVELS
from wdh_cli.resolve.overrides import load_overrides


@dataclass
class LayerAnswer:
    layer: str  # e.g. yaml:plan, db:name, queue
    key: str
    answer: str | None  # company_id, or None for no answer
    note: str = ""


@dataclass
class Explanation:
    raw_name: str
    normalized_name: str
    temp_id: str | None
    answers: list[LayerAnswer] = field(default_factory=list)
    winner: LayerAnswer | None = None
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
    keys = {
        "plan": key_for("plan", plan),
        "account": key_for("account", account),
        "name": key_for("name", name),
        "account_name": key_for("account_name", account_name),
    }
    salt = settings.alias_salt.get_secret_value() if settings.alias_salt else None
    temp_id = TempIdGenerator(salt).for_key(keys["name"]) if salt else None
    result = Explanation(name, keys["name"], temp_id)
    overrides = load_overrides(settings.mappings_dir)
    for match_type, field_name in LEVELS:
        key = keys[field_name]
        if key:
            result.answers.append(
                LayerAnswer(f"yaml:{match_type}", key, overrides[match_type].get(key))
            )
    try:
        with db.connect() as conn:
            pairs = [(t, keys[f]) for t, f in LEVELS if keys[f]]
            hits = mappings.lookup(conn, pairs)
            for match_type, key in pairs:
                hit = hits.get((match_type, key))
                note = f"source {hit.source}" if hit else ""
                answer = hit.canonical_id if hit else None
                result.answers.append(LayerAnswer(f"db:{match_type}", key, answer, note))
            result.request = queue.request_of(conn, keys["name"]) if keys["name"] else None
    except DatabaseError as exc:
        result.db_available = False
        result.answers.append(LayerAnswer("db", "", None, f"database not available: {exc.message}"))
    result.winner = next((a for a in result.answers if a.answer is not None), None)
    return result
