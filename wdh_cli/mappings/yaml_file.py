"""YAML override files: flat `key: company_id` maps where every scalar is text.

PyYAML's implicit resolvers would turn `012345` into 12345 and `0x1F` into
31; a loader without them reads every plain scalar as the text it shows.
Files are composed into nodes (not constructed) so each problem can name its
line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wdh_cli.errors import InputFileError
from wdh_cli.mappings import levels
from wdh_cli.mappings.rows import MappingRow, RowChecker
from wdh_cli.reports import Rejected

OVERRIDE_FILE = re.compile(r"^company_id_overrides_(?P<match_type>[a-z_]+)\.ya?ml$")
_NULLS = {"~", "null", "Null", "NULL"}


class _TextLoader(yaml.SafeLoader):
    """SafeLoader with no implicit resolvers: plain scalars are strings."""


_TextLoader.yaml_implicit_resolvers = {}


@dataclass
class YamlOverrides:
    """What one override file holds: valid rows and problems, each with its line."""

    path: Path
    match_type: str
    rows: list[MappingRow] = field(default_factory=list)
    problems: list[Rejected] = field(default_factory=list)

    def raise_if_invalid(self, shown: int = 5) -> None:
        """A bad override file is an error naming file and line (exit 2)."""
        if not self.problems:
            return
        more = len(self.problems) - shown
        raise InputFileError(
            "; ".join(problem.describe() for problem in self.problems[:shown])
            + (f" (and {more} more)" if more > 0 else "")
        )


def override_file_name(match_type: str) -> str:
    """The override file of a level: `company_id_overrides_<match_type>.yml`."""
    return f"company_id_overrides_{match_type}.yml"


def match_type_of(path: Path) -> str | None:
    """`company_id_overrides_plan.yml` -> "plan"; None when the name says nothing."""
    match = OVERRIDE_FILE.match(path.name)
    if match is None or match["match_type"] not in levels.LEVELS:
        return None
    return match["match_type"]


def read_overrides(path: Path, match_type: str) -> YamlOverrides:
    """Read one override file; never raises for its content, only collects problems."""
    result = YamlOverrides(path, match_type)
    name = str(path)

    def problem(line: int, reason: str) -> None:
        result.problems.append(Rejected(name, line, reason))

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return result
    try:
        root = yaml.compose(text, Loader=_TextLoader)  # nodes only: no constructors run
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem(mark.line + 1 if mark else 1, f"invalid YAML: {exc.problem or exc.context}")
        return result
    except yaml.YAMLError as exc:
        problem(1, f"invalid YAML: {exc}")
        return result
    except RecursionError:
        # PyYAML composes nested nodes recursively; a hostile file nested
        # thousands deep exhausts the stack. An override file is flat anyway.
        line = next(
            (n for n, text in enumerate(text.splitlines(), 1) if "[" in text or "{" in text), 1
        )
        problem(line, "nested too deeply (expected a flat map of key: company_id)")
        return result
    if root is None:
        return result  # an empty file is an empty level
    if not isinstance(root, yaml.MappingNode):
        problem(root.start_mark.line + 1, "not a map of key: company_id")
        return result

    check = RowChecker().check
    first_line: dict[str, int] = {}
    by_key: dict[str, MappingRow] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            problem(line, "a key must be plain text, not a list or map")
            continue
        raw_key = key_node.value
        if not isinstance(value_node, yaml.ScalarNode):
            problem(value_node.start_mark.line + 1, f"nested value under key on line {line}")
            continue
        if raw_key in first_line:
            problem(line, f"duplicate key (first on line {first_line[raw_key]})")
            continue
        first_line[raw_key] = line
        value = "" if value_node.style is None and value_node.value in _NULLS else value_node.value
        if key_node.style is None and raw_key in _NULLS:
            raw_key = ""
        if not raw_key.strip():
            problem(line, "empty key")
            continue
        if not value.strip():
            problem(line, "empty value (expected a company_id)")
            continue
        checked = check(raw_key, value, match_type, None, None, name, line)
        if isinstance(checked, Rejected):
            result.problems.append(checked)
            continue
        earlier = by_key.get(checked.alias_name)
        if earlier is not None:
            # Two spellings of one name: harmless if they agree.
            if earlier.canonical_id != checked.canonical_id:
                problem(
                    line,
                    f"key normalizes to the same name as line {earlier.line} "
                    "but maps to another company_id",
                )
            continue
        by_key[checked.alias_name] = checked
        result.rows.append(checked)
    return result
