"""A frozen copy of normalize_name as it was before rules version 2 (do not edit).

tests/unit/test_names_v2.py holds `normalizer(1)` to it: the faster code and
the rules-as-data must give version 1 exactly as before.
"""

# ruff: noqa
from __future__ import annotations

import re

# Status markers of version 1; the affix tables below sort them longest first.
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


def frozen_normalize_name(raw: str | None) -> str:
    """The key form of a company name; "" for an empty or blank name.

    The steps of docs/names.md, with two choices that make the result
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
