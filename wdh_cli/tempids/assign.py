"""Give a batch of normalized names their temporary IDs, in either style."""

from __future__ import annotations

import psycopg

from wdh_cli.errors import ConfigError
from wdh_cli.names import TempIdGenerator, sequence_id
from wdh_cli.tempids import repository


def assign(
    keys: list[str],
    *,
    style: str,
    salt: str | None = None,
    conn: psycopg.Connection | None = None,
) -> dict[str, str]:
    """Temporary IDs of distinct, non-empty normalized names.

    hmac: pure and deterministic, no database needed. sequence: names that
    already hold a TEMP_ ID in the queue keep it; the others share one block
    reserved in one statement (the caller's transaction owns it).
    """
    distinct = sorted({key for key in keys if key})
    if style == "hmac":
        if not salt:
            raise ConfigError("WDH_ALIAS_SALT is not set: HMAC temporary IDs need a secret salt")
        generator = TempIdGenerator(salt)
        return {key: generator.for_key(key) or "" for key in distinct}
    if style != "sequence":
        raise ConfigError(f"WDH_TEMP_ID_STYLE={style}: expected hmac or sequence")
    if conn is None:
        raise ConfigError("WDH_TEMP_ID_STYLE=sequence needs the database (not available here)")
    ids = repository.queued_ids(conn, distinct) if distinct else {}
    missing = [key for key in distinct if key not in ids]
    if missing:
        block = repository.reserve_block(conn, len(missing))
        ids.update(zip(missing, (sequence_id(n) for n in block), strict=True))
    return ids
