"""Company names as keys: `normalize_name` and deterministic temporary IDs.

One normalizer serves every layer (temporary IDs, queue de-duplication, the
`name` level of overrides and of company_mapping, backflow, provider caching);
shared/spec/names.md is its specification.
"""

from __future__ import annotations

import hashlib
import re

# Status markers as the spec lists them; the affix tables below sort them longest first.
STATUS_MARKERS = (
    "已转出 待转出 已作废 转出 终止 保留 暂停 注销 清算 解散 吊销 撤销 停业 歇业 关闭 迁出 迁入 "
    "变更 合并 分立 破产 重整 托管 接管 整顿 清盘 退出 终结 结束 完结 作废 存量 原"
).split()

_WHITESPACE = re.compile(r"\s+")
# Step 2: U+FF01..U+FF5E -> U+0021..U+007E.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
_CHINESE_BRACKETS = str.maketrans({"(": "（", ")": "）"})
_SUBSIDIARIES = "及下属子企业"

# Decorations as literal affixes (on half-width brackets), longest first so
# that the longest match is removed. startswith/endswith with a tuple is far
# cheaper than an end-anchored regex, which would be tried at every position.
_FIXED_SUFFIXES = ("(团托)", "-养老", "-福利")
_CODE_SUFFIX = re.compile(r"-(?:[0-9]+|[a-z][a-z0-9]*)")  # -2, -a, -bj01 (already lower-case)
_LEADING_MARKERS = tuple(
    sorted(
        [f"({m})-" for m in STATUS_MARKERS]
        + [f"({m})" for m in STATUS_MARKERS]
        + [f"{m}-" for m in STATUS_MARKERS],
        key=len,
        reverse=True,
    )
)
_TRAILING_MARKERS = tuple(
    sorted(
        [f"-{m}" for m in STATUS_MARKERS] + [f"({m})" for m in STATUS_MARKERS],
        key=len,
        reverse=True,
    )
)
_TRAILING_PUNCTUATION = ("-", ".", "。", "()")


def normalize_name(raw: str | None) -> str:
    """The key form of a company name; "" for an empty or blank name.

    The steps of shared/spec/names.md, with two choices that make the result
    idempotent: the removals of steps 3, 4 and 6 repeat until nothing changes
    (removing one decoration can expose another, as in `某某-养老-已转出`),
    and lower-casing happens first, which is the same for every letter whose
    lower case stays on its side of ASCII (the Kelvin sign does not).
    """
    if not raw:
        return ""
    name = _WHITESPACE.sub("", raw)  # 1. whitespace, incl. U+3000 and NBSP
    name = name.lower()  # 7. (see above)
    if _FULL_WIDTH.search(name):  # 2. full-width ASCII -> half-width
        name = name.translate(_HALF_WIDTH)
    while True:
        before = name
        name = _strip_decorations(name.replace(_SUBSIDIARIES, ""))
        if name == before:
            break
    if "(" in name or ")" in name:  # 5. brackets -> （ ）
        name = name.translate(_CHINESE_BRACKETS)
    return name


def _strip_decorations(name: str) -> str:
    """One round of steps 3 (one trailing suffix), 4 (markers) and 6 (punctuation)."""
    if name.endswith(_FIXED_SUFFIXES):  # 3.
        name = name[: name.rfind("-") if name[-1] != ")" else name.rfind("(")]
    else:
        dash = name.rfind("-")
        if dash >= 0 and _CODE_SUFFIX.fullmatch(name, dash):
            name = name[:dash]
    if name.startswith(_LEADING_MARKERS):  # 4. at the start
        prefix = next(p for p in _LEADING_MARKERS if name.startswith(p))
        name = name[len(prefix) :]
    if name.endswith(_TRAILING_MARKERS):  # 4. at the end
        suffix = next(s for s in _TRAILING_MARKERS if name.endswith(s))
        name = name[: -len(suffix)]
    while name.endswith(_TRAILING_PUNCTUATION):  # 6.
        name = name[:-2] if name.endswith("()") else name[:-1]
    return name


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


def sequence_id(number: int) -> str:
    """The older sequential style: TEMP_000001."""
    return f"TEMP_{number:06d}"
