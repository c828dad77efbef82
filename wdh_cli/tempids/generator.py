"""The two styles of temporary ID: HMAC (`IN` + 16 Base32 characters) and sequential.

Pure functions of a normalized name (and the salt): no database, no
settings. Which style is used, and the salt check, live in `issuer.py`.
"""

from __future__ import annotations

import hashlib

from wdh_cli.names import normalize_name

TEMP_ID_PREFIX = "IN"


class TempIdGenerator:
    """HMAC-SHA1 temporary IDs: "IN" + 16 Base32 characters of the first 10 digest bytes.

    HMAC (RFC 2104) is computed from two SHA-1 states pre-keyed once with the
    salt's inner and outer pads and copied per name: about 1.4x the speed of
    copying an `hmac` object, with the same digest (tested against `hmac`).
    """

    _BLOCK = 64  # SHA-1 block size in bytes

    def __init__(self, salt: str) -> None:
        if not salt:
            raise ValueError("the temporary-ID salt must not be empty")
        key = salt.encode("utf-8")
        if len(key) > self._BLOCK:
            key = hashlib.sha1(key).digest()
        key = key.ljust(self._BLOCK, b"\0")
        self._inner = hashlib.sha1(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha1(bytes(b ^ 0x5C for b in key))

    def for_key(self, key: str) -> str | None:
        """ID of an already normalized name; None for the empty name."""
        if not key:
            return None
        inner = self._inner.copy()
        inner.update(key.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return TEMP_ID_PREFIX + _base32_80(outer.digest())

    def for_name(self, raw: str | None) -> str | None:
        return self.for_key(normalize_name(raw))


_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# Pairs of Base32 characters for every 10-bit value: 8 lookups encode 80 bits.
_BASE32_PAIRS = [a + b for a in _BASE32 for b in _BASE32]


def _base32_80(digest: bytes) -> str:
    """RFC 4648 Base32 of the first 10 bytes (no padding needed: 80 bits = 16 chars).

    Same output as base64.b32encode(digest[:10]), which is pure Python on
    3.11 and the dearest step of a temporary ID.
    """
    bits = int.from_bytes(digest[:10], "big")
    return "".join([_BASE32_PAIRS[(bits >> shift) & 0x3FF] for shift in range(70, -1, -10)])


def temp_id(raw: str | None, salt: str) -> str | None:
    """Temporary ID of a raw name (convenience for one-off use)."""
    return TempIdGenerator(salt).for_name(raw)


SEQUENCE_PREFIX = "TEMP_"


def sequence_id(number: int) -> str:
    """The older sequential style: TEMP_000001."""
    return f"{SEQUENCE_PREFIX}{number:06d}"


# A temporary ID of either style, as a POSIX regular expression (PostgreSQL's
# `~` and Python's `re` read it alike): what `wdh rewrite` counts as still
# temporary.
TEMP_ID_LENGTH = len(TEMP_ID_PREFIX) + 16  # the longer style: what a column must hold
TEMP_ID_PATTERN = f"^({TEMP_ID_PREFIX}[A-Z2-7]{{16}}|{SEQUENCE_PREFIX}[0-9]+)$"
