"""The provider names: what settings, options and provider objects call each provider.

Imports nothing of wdh's, so that settings (`wdh_cli/config.py`, for
`WDH_PROVIDER`) and the registry that builds providers from settings
(`registry.py`) both read it without reading each other.
"""

from __future__ import annotations

from enum import StrEnum


class ProviderName(StrEnum):
    """Providers a command can be told to use."""

    eqc = "eqc"
    directory = "directory"
    none = "none"


class ProviderSetting(StrEnum):
    """Values of WDH_PROVIDER: a provider, or `auto` (eqc with a token, else directory)."""

    auto = "auto"
    eqc = "eqc"
    directory = "directory"
    none = "none"
