"""The YAML override levels, loaded once per run."""

from __future__ import annotations

from pathlib import Path

from wdh_cli.mappings.levels import MATCH_TYPES
from wdh_cli.mappings.yaml_file import read_overrides

Overrides = dict[str, dict[str, str]]  # match_type -> key -> company_id


def load_overrides(directory: Path) -> Overrides:
    """Every `company_id_overrides_<match_type>.yml` of the directory; a missing one is empty.

    Any problem in a file is an error naming the file and line (exit 2).
    """
    levels: Overrides = {}
    for match_type in MATCH_TYPES:
        path = directory / f"company_id_overrides_{match_type}.yml"
        if not path.is_file():
            levels[match_type] = {}
            continue
        result = read_overrides(path, match_type)
        result.raise_if_invalid()
        levels[match_type] = {row.alias_name: row.canonical_id for row in result.rows}
    return levels
