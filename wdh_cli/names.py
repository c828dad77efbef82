"""Company names as keys: `normalize_name`, and the versions of its rules.

One normalizer serves every place that turns a name into a key (temporary
IDs, queue de-duplication, the `name` level of overrides and of
company_mapping, backflow, provider caching); docs/names.md describes its
rules and the tests that hold them.

The rules are data: one `Rules` value per version (`RULES`), read by one
piece of code (`normalizer`). Version 1 stays reachable (`normalizer(1)`)
for `wdh names rekey`, `wdh names check` and the tests that pin it;
`normalize_name` is the current version.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache

Normalizer = Callable[[str | None], str]


@dataclass(frozen=True)
class Rules:
    """What one version of the rules removes; `normalizer` applies it (docs/names.md)."""

    version: int
    # Status markers: removed where they are decoration (at the start in
    # brackets or before `-`, at the end after `-` or in brackets).
    markers: tuple[str, ...]
    # Markers only in brackets at either end, or after a trailing `-`.
    bracket_markers: tuple[str, ...] = ()
    quotes: str = ""  # removed anywhere
    dash: str = ""  # a run of it becomes one `-`
    placeholders: frozenset[str] = field(default_factory=frozenset)
    # A name made only of markers, dashes and punctuation is empty.
    marker_only_is_empty: bool = False
    # A trailing bracket whose parts (split on `,` and `、`) each begin with a marker goes.
    status_brackets: bool = False
    # A trailing `(集团)` goes when `集团` appears earlier.
    redundant_group: bool = False


V1 = Rules(
    version=1,
    markers=tuple(
        "已转出 待转出 已作废 转出 终止 保留 暂停 注销 清算 解散 吊销 撤销 停业 歇业 关闭 "
        "迁出 迁入 变更 合并 分立 破产 重整 托管 接管 整顿 清盘 退出 终结 结束 完结 作废 "
        "存量 原".split()
    ),
)
V2 = replace(
    V1,
    version=2,
    markers=(*V1.markers, "待转移", "转移"),
    bracket_markers=("核心", "非核心"),
    quotes='「」『』"“”‘’',
    dash="—",
    placeholders=frozenset("null none nan n/a na 空白 无 不详".split()),
    marker_only_is_empty=True,
    status_brackets=True,
    redundant_group=True,
)
RULES = {rules.version: rules for rules in (V1, V2)}
CURRENT_VERSION = max(RULES)
# Status markers of the current rules (docs/names.md).
STATUS_MARKERS = RULES[CURRENT_VERSION].markers

_SUBSIDIARIES = "及下属子企业"
_FIXED_SUFFIXES = ("(团托)", "-养老", "-福利")
_CODE_SUFFIX = re.compile(r"-(?:[0-9]+|[a-z][a-z0-9]*)")  # -2, -a, -bj01 (already lower-case)
_CODE_LAST = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")
_TRAILING_PUNCTUATION = ("-", ".", "。", "()")
_PUNCTUATION_LAST = frozenset("-.。)")
_GROUP = "(集团)"
_PART_SEPARATORS = re.compile("[,、]")


def _longest_first(items: list[str]) -> tuple[str, ...]:
    return tuple(sorted(dict.fromkeys(items), key=len, reverse=True))


def normalizer(version: int = CURRENT_VERSION) -> Normalizer:
    """The normalize function of one rules version (a KeyError for an unknown one)."""
    return _compiled(version)


@cache
def _compiled(version: int) -> Normalizer:
    return _compile(RULES[version])


def _compile(rules: Rules) -> Normalizer:
    """One function for any Rules: the tables are built here, once per version.

    The steps are those of docs/names.md. Each round of the removal loop
    looks at a name's last (and first) character before trying the affix
    tables: a name that ends in none of the characters a decoration can end
    in skips them, which is most names in most rounds. The tables and the
    order of the checks are those of the plain reading, so the result is the
    same (tests/unit/test_names_v2.py compares version 1 with a frozen copy
    of the first implementation).

    Two choices make the result idempotent: the removals of step 4 repeat
    until nothing changes (removing one decoration can expose another, as in
    `某某-养老-已转出`), and lower-casing happens first, which is the same for
    every letter whose lower case stays on its side of ASCII (the Kelvin
    sign does not).
    """
    markers = rules.markers
    both = (*markers, *rules.bracket_markers)
    leading = _longest_first(
        [f"({m})-" for m in both] + [f"({m})" for m in both] + [f"{m}-" for m in markers]
    )
    trailing = _longest_first([f"-{m}" for m in both] + [f"({m})" for m in both])
    leading_first = frozenset(p[0] for p in leading)
    trailing_last = frozenset(s[-1] for s in trailing)
    # A round can change the name only if it ends in one of these, or starts with a leading marker.
    round_last = trailing_last | _CODE_LAST | frozenset(")老利-.。")
    part_markers = _longest_first(list(markers))
    # Step 2 (full-width to half-width) and the quotes: what each such character becomes.
    # A replace per distinct character found is cheaper than str.translate,
    # which looks every character of the name up in a dict.
    replacement = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
    for char, target in list(replacement.items()):
        if target in rules.quotes:
            replacement[char] = ""
    replacement.update(dict.fromkeys(rules.quotes, ""))
    special = re.compile(
        "[\uff01-\uff5e" + re.escape(rules.quotes + rules.dash) + "]"
        if rules.quotes or rules.dash
        else "[\uff01-\uff5e]"
    )
    dash = rules.dash
    dashes = re.compile(re.escape(dash) + "+") if dash else None
    placeholders = rules.placeholders
    marker_only = rules.marker_only_is_empty
    only_first = leading_first | frozenset(m[0] for m in markers) | frozenset("-.。()")
    marker_run = re.compile("|".join(re.escape(m) for m in part_markers))
    status_brackets = rules.status_brackets
    redundant_group = rules.redundant_group

    def one_round(name: str) -> str:
        """Steps 4b (one suffix), 4c, 4d and the version-2 brackets, 4e: one round."""
        last = name[-1]
        if last in ")老利" and name.endswith(_FIXED_SUFFIXES):  # 4b.
            name = name[: name.rfind("-") if last != ")" else name.rfind("(")]
        elif last in _CODE_LAST:
            dash_at = name.rfind("-")
            if dash_at >= 0 and _CODE_SUFFIX.fullmatch(name, dash_at):
                name = name[:dash_at]
        if name and name[0] in leading_first and name.startswith(leading):  # 4c.
            prefix = next(p for p in leading if name.startswith(p))
            name = name[len(prefix) :]
        if not name:
            return name
        if name[-1] in trailing_last and name.endswith(trailing):  # 4d.
            suffix = next(s for s in trailing if name.endswith(s))
            name = name[: -len(suffix)]
        if name and name[-1] == ")":
            if status_brackets:
                name = _strip_status_bracket(name, part_markers)
            if redundant_group and name.endswith(_GROUP) and "集团" in name[: -len(_GROUP)]:
                name = name[: -len(_GROUP)]
        while name and name[-1] in _PUNCTUATION_LAST and name.endswith(_TRAILING_PUNCTUATION):
            name = name[:-2] if name.endswith("()") else name[:-1]  # 4e.
        return name

    def normalize(raw: str | None) -> str:
        if not raw:
            return ""
        name = "".join(raw.split())  # 1. whitespace (str.isspace, as regex \s)
        name = name.lower()  # lower-case first (docs/names.md)
        found = special.findall(name)
        if found:  # 2. full-width ASCII -> half-width; quotes; dashes
            for char in set(found):
                if char != dash:
                    name = name.replace(char, replacement[char])
            if dashes is not None and dash in name:
                # 4a first: its removal must not split a run of dashes into two
                # (`——及下属子企业——` is one run, as version 1's key keeps it).
                name = dashes.sub("-", name.replace(_SUBSIDIARIES, ""))
        while name:  # 4. removals until nothing changes
            before = name
            if _SUBSIDIARIES in name:
                name = name.replace(_SUBSIDIARIES, "")
                if not name:
                    break
            if name[-1] in round_last or (name[0] in leading_first and name.startswith(leading)):
                name = one_round(name)
            if name == before:
                break
        if placeholders and (
            name in placeholders
            or (name[:1] == "(" and name.strip("()") in placeholders)
            or (marker_only and name and name[0] in only_first and _only(name, marker_run))
        ):
            return ""
        if "(" in name or ")" in name:  # 5. brackets -> （ ）
            name = name.replace("(", "（").replace(")", "）")
        return name

    normalize.__doc__ = f"The key form of a company name under rules version {rules.version}."
    return normalize


def _strip_status_bracket(name: str, markers: tuple[str, ...]) -> str:
    """Remove a trailing `(…)` whose parts (split on `,` and `、`) each begin with a marker."""
    opening = name.rfind("(")
    content = name[opening + 1 : -1]
    if opening < 0 or not content or ")" in content:
        return name
    if all(part.startswith(markers) for part in _PART_SEPARATORS.split(content)):
        return name[:opening]
    return name


def _only(name: str, marker_run: re.Pattern[str]) -> bool:
    """Made only of status markers, dashes and punctuation."""
    rest = marker_run.sub("", name)
    return all(unicodedata.category(c).startswith("P") for c in rest)


# The key form of a company name under the current rules; "" for an empty or
# blank name. Bound to the compiled function itself: a wrapper would cost a
# call per name.
normalize_name: Normalizer = normalizer(CURRENT_VERSION)
