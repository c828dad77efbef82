"""An offline provider over a CSV of known companies (WDH_DIRECTORY_PATH).

Columns: company_id, official_name, unified_credit_code, aliases (separated
by `|`). A name matches when its normalized form equals the normalized
official name or an alias: confidence 1.0. Every company must be one wdh
can store (`companies.repository.unstorable`: the company-ID rule, the
columns' lengths): a row that is not is an input error naming the file and
line, so the provider never answers with one.
"""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path

from wdh_cli.companies.repository import unstorable
from wdh_cli.errors import InputFileError
from wdh_cli.files import read_text_file
from wdh_cli.names import normalize_name
from wdh_cli.providers.base import Candidate
from wdh_cli.providers.names import ProviderName

COLUMNS = ("company_id", "official_name", "unified_credit_code", "aliases")


class DirectoryProvider:
    name = ProviderName.directory

    def __init__(self, path: Path) -> None:
        self.calls = 0
        # Worker threads share the provider: `calls += 1` is a read-modify-write.
        # The index is only read after __init__, so it needs no lock.
        self._calls_lock = threading.Lock()
        self._index: dict[str, Candidate] = {}
        reader = csv.reader(io.StringIO(read_text_file(path), newline=""))
        header = [c.strip().lower() for c in next(reader, [])]
        if tuple(header[:4]) != COLUMNS:
            raise InputFileError(f"{path}:1: expected the header {','.join(COLUMNS)}")
        for fields in reader:
            line = reader.line_num
            if not fields or not any(f.strip() for f in fields):
                continue
            if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
                raise InputFileError(f"{path}:{line}: company_id and official_name are required")
            fields += [""] * (4 - len(fields))
            company_id, official, code, aliases = (f.strip() for f in fields[:4])
            candidate = Candidate(company_id, official, code or None, "directory", 1.0)
            problem = unstorable(candidate)
            if problem is not None:
                raise InputFileError(f"{path}:{line}: {problem}")
            for spelling in [official, *aliases.split("|")]:
                key = normalize_name(spelling)
                if key:
                    self._index.setdefault(key, candidate)

    def search(self, raw_name: str) -> list[Candidate]:
        with self._calls_lock:
            self.calls += 1
        found = self._index.get(normalize_name(raw_name))
        return [found] if found else []

    def close(self) -> None:
        pass
