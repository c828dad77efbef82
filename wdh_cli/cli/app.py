"""The `wdh` application: global options and the single error boundary."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from wdh_cli import __version__
from wdh_cli.cli import db as db_cli
from wdh_cli.cli import mappings as mappings_cli
from wdh_cli.cli import migrate as migrate_cli
from wdh_cli.cli import names as names_cli
from wdh_cli.cli import queue as queue_cli
from wdh_cli.cli import resolve as resolve_cli
from wdh_cli.cli import review as review_cli
from wdh_cli.cli import rewrite as rewrite_cli
from wdh_cli.cli.completion import name_the_shell, run_named_shell
from wdh_cli.cli.context import AppContext, err
from wdh_cli.errors import WdhError


class WdhGroup(TyperGroup):
    """Root group: the one place where WdhError becomes a message and an exit code."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        name_the_shell(params)
        return params

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:  # not while completing a word
            run_named_shell(self, ctx, args)  # `--show-completion bash`: prints it and exits
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:  # a typer Context; Any matches the base signature
        try:
            return super().invoke(ctx)
        except WdhError as exc:
            verbose = isinstance(ctx.obj, AppContext) and ctx.obj.verbose
            err.print(Text.assemble(("error:", "bold red"), " ", exc.message))  # never markup
            if verbose and exc.detail:
                err.print(exc.detail, markup=False)
            if verbose:
                logging.getLogger("wdh").debug("failure", exc_info=exc)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=WdhGroup,
    help="Give every row of annuity business data a stable, correct company_id.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion, --show-completion (cli/completion.py)
)
app.add_typer(migrate_cli.app, name="migrate")
app.add_typer(db_cli.app, name="db")
app.add_typer(mappings_cli.app, name="mappings")
app.add_typer(queue_cli.app, name="queue")
app.add_typer(review_cli.app, name="review")
app.add_typer(names_cli.app, name="names")
app.command("resolve")(resolve_cli.resolve)
app.command("explain")(resolve_cli.explain)
app.command("rewrite")(rewrite_cli.rewrite)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wdh {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", metavar="URL", help="PostgreSQL URL; overrides WDH_DATABASE_URL."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show details and debug logs on stderr.")
    ] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """wdh: migrations, company-ID resolution and mapping management for PostgreSQL."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and EQC URLs carry company names.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # psycopg (and its pool) log at WARNING the errors they ignore while
    # cleaning up a lost connection; the one-line error that follows says it
    # already, so they show only with -v.
    logging.getLogger("psycopg").setLevel(logging.NOTSET if verbose else logging.ERROR)
    from wdh_cli.config import load_settings  # here, not at start-up: --help needs no settings

    ctx.obj = AppContext(settings=load_settings(database_url=db), verbose=verbose)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="wdh")
