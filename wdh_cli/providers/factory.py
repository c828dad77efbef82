"""Build the provider a command asked for, from the settings."""

from __future__ import annotations

from wdh_cli.config import Settings
from wdh_cli.errors import ConfigError
from wdh_cli.providers.base import NoProvider, Provider
from wdh_cli.providers.directory import DirectoryProvider
from wdh_cli.providers.eqc import EqcProvider

CHOICES = ("eqc", "directory", "none")


def chosen(settings: Settings, requested: str | None) -> str:
    """The provider name: the option, else WDH_PROVIDER, where auto prefers eqc, then directory."""
    name = requested or settings.provider
    if name == "auto":
        if settings.eqc_token is not None:
            return "eqc"
        return "directory" if settings.directory_path is not None else "none"
    return name


def make_provider(settings: Settings, requested: str | None = None) -> Provider:
    name = chosen(settings, requested)
    if name == "eqc":
        if settings.eqc_token is None or not settings.eqc_token.get_secret_value():
            raise ConfigError("the eqc provider needs WDH_EQC_TOKEN")
        return EqcProvider(
            base_url=settings.eqc_base_url,
            token=settings.eqc_token.get_secret_value(),
            timeout=settings.eqc_timeout,
            rate_limit=settings.eqc_rate_limit,
            retries=settings.eqc_retries,
            confidence=settings.eqc_confidence,
        )
    if name == "directory":
        if settings.directory_path is None:
            raise ConfigError("the directory provider needs WDH_DIRECTORY_PATH")
        return DirectoryProvider(settings.directory_path)
    if name == "none":
        return NoProvider()
    raise ConfigError(f"unknown provider {name!r}: expected one of {', '.join(CHOICES)}")
