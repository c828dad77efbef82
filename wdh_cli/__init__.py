"""wdh: stable company IDs for annuity business data, backed by PostgreSQL.

The library (docs/api.md): `resolve_frame` resolves a DataFrame in process,
`WdhError` is what it raises. They are imported on first use, so that
`wdh --help` pays for neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ResolveResult", "WdhError", "__version__", "resolve_frame"]

if TYPE_CHECKING:
    from wdh_cli.api import ResolveResult, resolve_frame
    from wdh_cli.errors import WdhError


def __getattr__(name: str) -> Any:
    if name in ("resolve_frame", "ResolveResult"):
        from wdh_cli import api

        return getattr(api, name)
    if name == "WdhError":
        from wdh_cli.errors import WdhError

        return WdhError
    raise AttributeError(f"module 'wdh_cli' has no attribute {name!r}")
