"""docs/architecture.md's owners hold: who writes each table, who reads the salt.

Every statement in sql/queries/ that writes an enterprise table is in its
owner's file, or is one of the exceptions the architecture page names; the
temporary-ID settings are read by settings and the issuer alone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from wdh_cli.db.sqlfiles import Queries

ROOT = Path(__file__).resolve().parents[2]

OWNERS = {  # table -> the query file of its DAO module
    "company_mapping": "mappings.sql",
    "company_master": "companies.sql",
    "provider_answers": "ledger.sql",
    "enrichment_requests": "queue.sql",
    "temp_id_sequence": "temp_ids.sql",
    "name_rules": "names.sql",
    "name_rekey_audit": "names.sql",
}

# (file, query) -> the other owners' tables it writes; each is named in
# docs/architecture.md ("Each table has one owner") with why.
EXCEPTIONS = {
    ("queue.sql", "record_batch"): {"company_mapping", "company_master", "provider_answers"},
    ("names.sql", "remove_mappings"): {"company_mapping"},
    ("names.sql", "move_mappings"): {"company_mapping"},
    ("names.sql", "remove_ledger"): {"provider_answers"},
    ("names.sql", "move_ledger"): {"provider_answers"},
    ("names.sql", "merge_requests"): {"enrichment_requests"},
    ("names.sql", "move_requests"): {"enrichment_requests"},
}

_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?|COPY)"
    r"\s+(?:ONLY\s+)?enterprise\.(\w+)",
    re.IGNORECASE,
)


def _writes() -> dict[tuple[str, str], set[str]]:
    found = {}
    for path in sorted((ROOT / "sql" / "queries").glob("*.sql")):
        queries = Queries(path.name, path.read_text(encoding="utf-8"))
        for name in queries.names():
            statement = re.sub(r"--[^\n]*", "", queries[name])
            if statement.lstrip().upper().startswith("COPY ("):
                continue  # COPY (SELECT ...) TO STDOUT reads
            tables = {match[1] for match in _WRITE.finditer(statement)}
            if tables:
                found[(path.name, name)] = tables
    return found


def test_every_write_to_an_enterprise_table_is_its_owners_or_a_named_exception() -> None:
    foreign = {
        query: {table for table in tables if OWNERS.get(table) != query[0]}
        for query, tables in _writes().items()
    }
    foreign = {query: tables for query, tables in foreign.items() if tables}
    assert foreign == EXCEPTIONS


def test_the_architecture_page_names_each_exception() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    unnamed = [f"{file} {query}" for file, query in EXCEPTIONS if f"`{query}`" not in page]
    assert not unnamed, unnamed
    assert "`sql/queries/names.sql`" in page and "`sql/queries/queue.sql`" in page


def test_the_salt_and_the_id_style_are_read_by_settings_and_the_issuer_alone() -> None:
    allowed = {"wdh_cli/config.py", "wdh_cli/tempids/issuer.py"}
    readers = set()
    for path in (ROOT / "wdh_cli").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("alias_salt", "temp_id_style"):
                readers.add(str(path.relative_to(ROOT)))
    assert readers - allowed == set()
