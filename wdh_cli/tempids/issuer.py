"""Which temporary IDs a run gives: the configured style, the salt checked once.

This module is the one place that reads WDH_TEMP_ID_STYLE and WDH_ALIAS_SALT:
resolve and `wdh queue enqueue` issue through `TempIdIssuer.from_settings`;
`wdh explain` and `wdh names rekey`, which go on without a salt, get the
generator from `hmac_generator`.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from wdh_cli.config import Settings
from wdh_cli.errors import ConfigError
from wdh_cli.tempids import repository
from wdh_cli.tempids.generator import TempIdGenerator, sequence_id


def require_salt(settings: Settings) -> str:
    """The temporary-ID salt, or a ConfigError naming the setting (exit 2)."""
    if settings.alias_salt is None or not settings.alias_salt.get_secret_value():
        raise ConfigError(
            "WDH_ALIAS_SALT is not set: temporary IDs need a secret salt "
            "(set it in the environment or in .env; changing it changes every temporary ID)"
        )
    return settings.alias_salt.get_secret_value()


def hmac_generator(settings: Settings) -> TempIdGenerator | None:
    """The HMAC generator when the salt is set, else None; never raises.

    For what may go on without the salt: `wdh explain` shows no ID, and
    `wdh names rekey` leaves the HMAC IDs of moved requests as they are.
    """
    if settings.alias_salt is None or not settings.alias_salt.get_secret_value():
        return None
    return TempIdGenerator(settings.alias_salt.get_secret_value())


def preview(settings: Settings, key: str) -> str | None:
    """The HMAC ID a key would get, when the salt is set (for `wdh explain`); never raises."""
    generator = hmac_generator(settings)
    return generator.for_key(key) if generator is not None else None


class TempIdIssuer:
    """Gives distinct normalized names their temporary IDs.

    hmac: pure and deterministic, no database needed. sequence: names that
    already hold a TEMP_ ID in the queue keep it; the others share one block
    reserved in one statement (the caller's transaction owns it).
    """

    def __init__(self, style: str, generator: TempIdGenerator | None = None) -> None:
        if style not in ("hmac", "sequence"):
            raise ConfigError(f"WDH_TEMP_ID_STYLE={style}: expected hmac or sequence")
        if style == "hmac" and generator is None:
            raise ValueError("HMAC temporary IDs need a generator (a salt)")
        self.style = style
        self._generator = generator

    @classmethod
    def from_settings(cls, settings: Settings) -> TempIdIssuer:
        if settings.temp_id_style == "hmac":
            return cls("hmac", TempIdGenerator(require_salt(settings)))
        return cls(settings.temp_id_style)

    def ensure_usable(self, conn: psycopg.Connection | None) -> None:
        """Sequential IDs come from the database: refuse early when there is none."""
        if self.style == "sequence" and conn is None:
            raise ConfigError("WDH_TEMP_ID_STYLE=sequence needs the database, which is not in use")

    def issue(self, keys: Iterable[str], conn: psycopg.Connection | None = None) -> dict[str, str]:
        """Temporary IDs of the distinct, non-empty normalized names among `keys`."""
        distinct = sorted({key for key in keys if key})
        if self._generator is not None:
            generator = self._generator
            return {key: generator.for_key(key) or "" for key in distinct}
        self.ensure_usable(conn)
        assert conn is not None
        ids = repository.queued_ids(conn, distinct) if distinct else {}
        missing = [key for key in distinct if key not in ids]
        if missing:
            block = repository.reserve_block(conn, len(missing))
            ids.update(zip(missing, (sequence_id(n) for n in block), strict=True))
        return ids
