"""Safe display of connection strings: the password never leaves this module."""

from __future__ import annotations

import re

# postgresql://user:secret@host -> postgresql://user:***@host
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@?#]*:)(?P<pw>[^@/?#]*)(?P<tail>@)", re.I
)
# key=value forms: password=secret, ?password=secret&..., PGPASSWORD=secret
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s&;]*)", re.I)


def mask_url(conninfo: str) -> str:
    """Return `conninfo` with any password replaced by ***."""

    def _url(match: re.Match[str]) -> str:
        if not match.group("pw"):
            return match.group(0)
        return f"{match.group('head')}***{match.group('tail')}"

    masked = _URL_PASSWORD.sub(_url, conninfo)
    return _KV_PASSWORD.sub(lambda m: f"{m.group('head')}***", masked)
