"""Which files a mappings command reads, and the rows they hold, in file order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from wdh_cli.errors import InputFileError
from wdh_cli.mappings import levels
from wdh_cli.mappings.csv_file import read_csv
from wdh_cli.mappings.rows import MappingRow
from wdh_cli.mappings.yaml_file import OVERRIDE_FILE, match_type_of, read_overrides
from wdh_cli.progress import Progress
from wdh_cli.reports import Rejected


@dataclass(frozen=True)
class InputFile:
    path: Path
    match_type: str | None  # YAML: the level its name gives; CSV: None (per row)


def collect(paths: list[Path], default_dir: Path) -> list[InputFile]:
    """Expand PATHs (YAML files, directories of them, CSV files) into input files."""
    chosen = paths or [default_dir]
    files: list[InputFile] = []
    for path in chosen:
        if not path.exists():
            raise InputFileError(f"{path}: no such file or directory")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if OVERRIDE_FILE.match(p.name))
            files += [InputFile(p, _yaml_level(p)) for p in found]
        elif path.suffix.lower() == ".csv":
            files.append(InputFile(path, None))
        elif path.suffix.lower() in (".yml", ".yaml"):
            files.append(InputFile(path, _yaml_level(path)))
        else:
            raise InputFileError(f"{path}: not a .csv, .yml or .yaml file")
    return files


def _yaml_level(path: Path) -> str:
    level = match_type_of(path)
    if level is None:
        expected = "|".join(levels.LEVELS.match_types)
        raise InputFileError(
            f"{path}: cannot tell the match_type from the name "
            f"(expected company_id_overrides_<{expected}>.yml)"
        )
    return level


def contradiction(first_file: str, first_line: int, first_id: str) -> str:
    """Why a row is rejected when an earlier row of the input gives its key another company."""
    return f"key also on {first_file}:{first_line} with another company_id ({first_id})"


class Deduplicator:
    """Within one command's input, the first row of a key wins: `wdh mappings check` only.

    It keeps every key in memory (hundreds of bytes each), which is fine for a
    validator of files of human size. Loads, which must stream any size, find
    repeats in SQL on the staging table instead, with the same rule and the
    same message (`contradiction`).
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[str, str, int]] = {}

    def admit(self, row: MappingRow) -> MappingRow | Rejected | None:
        """The row when its key is new; None for a harmless repeat (same company);
        a rejection when it contradicts the first row of its key."""
        key = (row.alias_name, row.match_type)
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = (row.canonical_id, row.file, row.line)
            return row
        if first[0] == row.canonical_id:
            return None
        return Rejected(row.file, row.line, contradiction(first[1], first[2], first[0]))


def iter_rows(
    files: list[InputFile], *, yaml_problems_fatal: bool, progress: Progress | None = None
) -> Iterator[tuple[int, MappingRow | Rejected]]:
    """(file number, row or rejection) for every entry, in file order.

    YAML files are all-or-nothing (a bad override file is an error naming
    file and line); CSV rows are judged one by one. `progress` counts the
    bytes of the files read, of their sizes: a CSV file's as it is read, a
    YAML file's once its rows are given.
    """
    sizes = [_size(item.path) for item in files] if progress is not None else []
    total = sum(sizes)
    done = 0
    if progress is not None:
        progress(done, total)

    def read(size: int) -> Callable[[int], None] | None:
        if progress is None:
            return None
        return lambda count: progress(done + min(count, size), total)

    for file_no, item in enumerate(files):
        if item.match_type is not None:
            overrides = read_overrides(item.path, item.match_type)
            if yaml_problems_fatal:
                overrides.raise_if_invalid()
            for problem in overrides.problems:
                yield file_no, problem
            for row in overrides.rows:
                yield file_no, row
        else:
            for entry in read_csv(item.path, read(sizes[file_no] if sizes else 0)):
                yield file_no, entry
        if progress is not None:
            done += sizes[file_no]
            progress(done, total)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
