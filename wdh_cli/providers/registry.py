"""The one place that builds a provider from settings.

The names of the providers live in `names.py` (`ProviderName`,
`ProviderSetting`), which settings read too. The rule for "no provider"
lives in `open_provider`: a command that can do without one gets None, a
command that cannot (a drain) gets a ConfigError naming the settings.
Provider modules are imported when a provider is built, so that `wdh --help`
does not pay for httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wdh_cli.errors import ConfigError
from wdh_cli.providers.names import ProviderName, ProviderSetting

if TYPE_CHECKING:
    from wdh_cli.config import Settings
    from wdh_cli.providers.base import Provider


def chosen(settings: Settings, requested: ProviderName | str | None) -> ProviderName:
    """The provider a command uses: its option, else WDH_PROVIDER, where auto picks one."""
    name = str(requested or settings.provider)
    if name == ProviderSetting.auto:
        if settings.eqc_token is not None and settings.eqc_token.get_secret_value():
            return ProviderName.eqc
        if settings.directory_path is not None:
            return ProviderName.directory
        return ProviderName.none
    try:
        return ProviderName(name)
    except ValueError:
        expected = ", ".join(p.value for p in ProviderName)
        raise ConfigError(f"unknown provider {name!r}: expected one of {expected}") from None


def open_provider(
    settings: Settings, requested: ProviderName | str | None, *, required_by: str | None = None
) -> Provider | None:
    """The provider to use, or None when there is none to ask.

    `required_by` names a command that cannot work without a provider: for it,
    "none" is a ConfigError (exit 2) naming the settings that would give one.
    """
    name = chosen(settings, requested)
    if name is ProviderName.none:
        if required_by is not None:
            raise ConfigError(
                f"no provider for {required_by}: set WDH_EQC_TOKEN (eqc) or "
                "WDH_DIRECTORY_PATH (directory), or pass --provider eqc|directory"
            )
        return None
    if name is ProviderName.eqc:
        if settings.eqc_token is None or not settings.eqc_token.get_secret_value():
            raise ConfigError("the eqc provider needs WDH_EQC_TOKEN")
        from wdh_cli.providers.eqc import EqcProvider

        return EqcProvider(
            base_url=settings.eqc_base_url,
            token=settings.eqc_token.get_secret_value(),
            timeout=settings.eqc_timeout,
            rate_limit=settings.eqc_rate_limit,
            retries=settings.eqc_retries,
            confidence=settings.eqc_confidence,
            min_confidence=settings.eqc_min_confidence,
        )
    if settings.directory_path is None:
        raise ConfigError("the directory provider needs WDH_DIRECTORY_PATH")
    from wdh_cli.providers.directory import DirectoryProvider

    return DirectoryProvider(settings.directory_path)
