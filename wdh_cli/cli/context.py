"""Per-invocation state shared by the commands: settings, verbosity, consoles.

Nothing heavy is imported at module level: `wdh --help` should not pay for
psycopg or pydantic (docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from wdh_cli.config import Settings
    from wdh_cli.db import Database

# Data goes to stdout; messages, warnings and progress to stderr.
# Off a terminal rich would assume 80 columns and truncate table cells.
# No markup: what is printed holds names, keys and paths as users wrote them
# ('[/]' in one crashed a print with a MarkupError); color is asked for
# with rich Text and styles, never with tags in a string.
out = Console(
    highlight=False, soft_wrap=True, markup=False, width=None if sys.stdout.isatty() else 200
)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def warn(message: str) -> None:
    """A warning on stderr: what services report through their `warn` callback."""
    err.print(Text.assemble(("warning:", "yellow"), " ", message))  # never read as markup


@dataclass
class AppContext:
    settings: Settings
    verbose: bool = False

    def database(self, purpose: str) -> Database:
        from wdh_cli.db import Database

        return Database(self.settings, purpose=purpose)


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext), "the root callback sets the context"
    return obj
