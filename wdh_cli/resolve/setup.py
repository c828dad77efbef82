"""What a resolve run needs before its first row: one set-up for a file and for a table."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

import psycopg

from wdh_cli.config import Settings
from wdh_cli.namekeys.service import require_current_rules
from wdh_cli.providers.base import Provider
from wdh_cli.providers.registry import open_provider
from wdh_cli.resolve.options import ResolveOptions
from wdh_cli.resolve.overrides import load_overrides
from wdh_cli.resolve.resolver import Resolver
from wdh_cli.resolve.stats import ResolveStats
from wdh_cli.tempids.issuer import TempIdIssuer


class ResolverSetup:
    """The overrides and the salt, checked before connecting; the resolver, once connected."""

    def __init__(self, settings: Settings, options: ResolveOptions) -> None:
        self.settings = settings
        self.options = options
        self.overrides = load_overrides(settings.mappings_dir)
        # Plan-only makes no temporary IDs, so it needs no salt.
        self.issuer = None if options.plan_only else TempIdIssuer.from_settings(settings)

    def start(
        self,
        conn: psycopg.Connection | None,
        stack: ExitStack,
        stats: ResolveStats,
        warn: Callable[[str], None],
    ) -> Resolver:
        """The run's resolver on `conn` (None: offline); its provider is closed with `stack`."""
        settings, options = self.settings, self.options
        if conn is not None and not options.plan_only:
            require_current_rules(conn)  # backflow, the ledger and the queue write name keys
        if self.issuer is not None:
            self.issuer.ensure_usable(conn)
        return Resolver(
            options=options,
            overrides=self.overrides,
            conn=conn,
            provider=self._provider(stack),
            temp_ids=self.issuer,
            min_confidence=settings.eqc_min_confidence,
            lookup_ttl=settings.lookup_ttl,
            stats=stats,
            warn=warn,
        )

    def _provider(self, stack: ExitStack) -> Provider | None:
        """The provider of layer 4, or None: plan-only asks nobody, and no budget asks nobody."""
        if self.options.plan_only or self.options.budget <= 0:
            return None
        provider = open_provider(self.settings, self.options.provider)
        if provider is not None:
            stack.callback(provider.close)
        return provider
