"""The YAML override levels, loaded once per run."""

from __future__ import annotations

from pathlib import Path

from wdh_cli.mappings import levels
from wdh_cli.mappings.yaml_file import override_file_name, read_overrides

Overrides = dict[str, dict[str, str]]  # match_type -> key -> company_id


def load_overrides(directory: Path) -> Overrides:
    """Every `company_id_overrides_<match_type>.yml` of the directory; a missing one is empty.

    Any problem in a file is an error naming the file and line (exit 2).
    """
    found: Overrides = {}
    for match_type in levels.LEVELS.match_types:
        path = directory / override_file_name(match_type)
        if not path.is_file():
            found[match_type] = {}
            continue
        result = read_overrides(path, match_type)
        result.raise_if_invalid()
        found[match_type] = {row.alias_name: row.canonical_id for row in result.rows}
    return found
