"""The table of mapping levels: every fact about a match type lives in one row here.

A *level* is a kind of key that can name a company: a plan code, an account
number, a normalized customer name... Each row says which `match_type` it is
stored as in `enterprise.company_mapping`, its priority (lower wins), which
field of an input row it keys on, how a cell becomes a key, and whether an
existing company ID teaches the cache that key (backflow).

Everything else reads this table: the YAML override files and their names,
mapping-file validation, the resolver's lookups, backflow, `wdh explain`,
the figures of a resolve run, and the priority the SQL writes. Adding a level
is one row here, plus a migration that widens the CHECK constraints of
`company_mapping` (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from wdh_cli.names import normalize_name


def trimmed(raw: str) -> str:
    """The key form of codes and numbers: the text without surrounding whitespace."""
    return raw.strip()


@dataclass(frozen=True)
class Level:
    """One level: a match type, its priority, the row field it keys on, its key form."""

    match_type: str
    priority: int
    field: str  # a field of an input row: plan, account, name, account_name
    key_form: Callable[[str], str]
    backflows: bool  # an existing company ID in the row is cached under this key

    def key(self, raw: str) -> str:
        return self.key_form(raw)


class LevelTable:
    """The levels in priority order, with the lookups every consumer needs."""

    def __init__(self, levels: Sequence[Level]) -> None:
        ordered = tuple(sorted(levels, key=lambda level: level.priority))
        types = [level.match_type for level in ordered]
        priorities = [level.priority for level in ordered]
        if len(set(types)) != len(types) or len(set(priorities)) != len(priorities):
            raise ValueError("every level needs its own match_type and priority")
        self.levels = ordered
        self.match_types = tuple(types)
        self._by_type = {level.match_type: level for level in ordered}
        # The distinct (field, key form) pairs: a row's keys are computed once
        # per pair, then shared by the levels that use it (plan and hardcode).
        self.key_columns: tuple[tuple[str, Callable[[str], str]], ...] = tuple(
            dict.fromkeys((level.field, level.key_form) for level in ordered)
        )
        self.fields = tuple(dict.fromkeys(field for field, _ in self.key_columns))
        self.column_of = tuple(
            self.key_columns.index((level.field, level.key_form)) for level in ordered
        )

    def __iter__(self) -> Iterator[Level]:
        return iter(self.levels)

    def __contains__(self, match_type: object) -> bool:
        return match_type in self._by_type

    def __getitem__(self, match_type: str) -> Level:
        return self._by_type[match_type]

    @property
    def lowest_priority(self) -> int:
        return self.levels[0].priority

    @property
    def highest_priority(self) -> int:
        return self.levels[-1].priority

    def describe(self) -> str:
        """The match types as a message lists them: `plan, account, ...`."""
        return ", ".join(self.match_types)

    def keys_of(self, cells: Mapping[str, str]) -> list[tuple[str, str]]:
        """(match_type, key) of each level whose key is not empty, in priority order.

        `cells` maps a row field to its raw text (missing fields are empty).
        """
        pairs = []
        for level in self.levels:
            key = level.key(cells.get(level.field, ""))
            if key:
                pairs.append((level.match_type, key))
        return pairs


NAME = "name"  # the level of normalized company names: provider answers, queue, reviews

LEVELS = LevelTable(
    (
        Level("plan", 1, "plan", trimmed, backflows=False),
        Level("account", 2, "account", trimmed, backflows=True),
        Level("hardcode", 3, "plan", trimmed, backflows=False),
        Level(NAME, 4, "name", normalize_name, backflows=True),
        Level("account_name", 5, "account_name", trimmed, backflows=True),
    )
)
