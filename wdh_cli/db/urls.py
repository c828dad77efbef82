"""Database URLs: checked before use, shown without the password. Nothing here echoes one.

libpq reads an unescaped `/`, `?`, `#` or `@` in a URL's password as the end
of the password, and puts the rest into the port, the database name or the
host; an error message about those would then print part of the password. So
a URL is checked up front with libpq's own parser plus the rules below, and
refused (a ConfigError, exit 2) with a message that quotes nothing of it.
"""

from __future__ import annotations

import re

from wdh_cli.errors import ConfigError

_SCHEME = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<rest>.*)", re.I | re.S)
# key=value forms: password=secret, ?password=secret&..., PGPASSWORD=secret
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s&;]*)", re.I)
_WHAT = "the database URL (WDH_DATABASE_URL or --db)"
INVALID_DISPLAY = "(an invalid database URL, not shown)"


def check_url(conninfo: str) -> None:
    """Refuse a URL or conninfo that libpq would misread; the message quotes none of it."""
    match = _SCHEME.match(conninfo)
    if match is not None:
        if match["scheme"].lower() not in ("postgresql://", "postgres://"):
            raise ConfigError(f"{_WHAT} must start with postgresql:// or postgres://")
        rest = match["rest"]
        authority_end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
        if "@" in rest[authority_end:] or rest.count("@", 0, authority_end) > 1:
            raise ConfigError(
                f"{_WHAT} is not valid: a user name or password holding / ? # or @ must be "
                "percent-encoded (%2F %3F %23 %40)"
            )
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(conninfo)
    except ProgrammingError:
        raise ConfigError(
            f"{_WHAT} cannot be parsed: check its quoting and percent-encoding "
            "(e.g. %25 for a % in a password)"
        ) from None
    port = str(params.get("port") or "")
    if port and not all(part.strip().isdigit() for part in port.split(",")):
        raise ConfigError(f"{_WHAT} is not valid: its port is not a number")


def mask_url(conninfo: str) -> str:
    """`conninfo` with the password replaced by ***, for display.

    In a URL everything between `scheme://user:` and the last `@` counts as
    the password, so a password holding `@`, `/`, `?` or `#` is hidden whole
    (a URL that libpq would misread is refused by `check_url` anyway).
    """
    match = _SCHEME.match(conninfo)
    if match is not None:
        rest = match["rest"]
        at = rest.rfind("@")
        if at >= 0:
            user, colon, password = rest[:at].partition(":")
            rest = f"{user}{':***' if password else colon}@{rest[at + 1 :]}"
        conninfo = match["scheme"] + rest
    return _KV_PASSWORD.sub(lambda m: f"{m.group('head')}***", conninfo)


def display_url(conninfo: str) -> str:
    """What messages show of a URL: masked, or nothing at all when it is invalid."""
    try:
        check_url(conninfo)
    except ConfigError:
        return INVALID_DISPLAY
    return mask_url(conninfo)
