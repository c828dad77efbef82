"""Loads the SQL shipped with wdh: migrations and named queries.

The files live in the repository's top-level `sql/` directory; the wheel
carries them as `wdh_cli/sql`. Named query files hold blocks introduced by a
`-- name: <query_name>` line, as in procrastinate and aiosql.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_NAME_LINE = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$", re.M)
# The comment block that opens a query: for readers, not sent. Its words may
# name the query's {parts}, which composing must not fill in.
_LEADING_COMMENT = re.compile(r"\A(?:--[^\n]*\n\s*)+")


def sql_root() -> Traversable:
    """The `sql/` directory: inside the installed package, or the source checkout's."""
    packaged = resources.files("wdh_cli") / "sql"
    if packaged.is_dir():
        return packaged
    # Editable install: the package is imported from the checkout, whose
    # sql/ sits beside wdh_cli/.
    return Path(__file__).resolve().parents[2] / "sql"


def read_sql(*parts: str) -> str:
    """Text of a file under sql/. SQL files ship with wdh and are trusted code."""
    node = sql_root()
    for part in parts:
        node = node / part
    return node.read_text(encoding="utf-8")


class Queries:
    """Named queries of one file under sql/queries/."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self._queries: dict[str, str] = {}
        matches = list(_NAME_LINE.finditer(text))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            name = match.group("name")
            if name in self._queries:
                raise ValueError(f"{source}: query {name!r} defined twice")
            body = text[match.end() : end].strip()
            self._queries[name] = _LEADING_COMMENT.sub("", body)

    def __getitem__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise KeyError(f"{self.source} has no query named {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._queries)


@cache
def queries(module: str) -> Queries:
    """The named queries of `sql/queries/<module>.sql`, parsed once."""
    return Queries(f"sql/queries/{module}.sql", read_sql("queries", f"{module}.sql"))
