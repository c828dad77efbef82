"""What a company ID may hold: the one rule every place an ID enters wdh applies.

A company ID is 1 to 100 ASCII letters, digits, `-`, `_` or `.`, after the
whitespace at its ends is trimmed; nothing else, anywhere inside it (no
space, line break, control or invisible character). A temporary ID of either
style (`IN` + 16 Base32 characters, `TEMP_` + digits; in any letter case) is
never a company, though it fits the pattern; nor is `TRUE` or `FALSE` (in
any case), which is what a spreadsheet's boolean cell reads as. See
docs/mappings.md ("Company IDs").

Review decisions, mapping loads, YAML overrides, provider answers and the
existing-ID cells of a resolve all go through `company_id_problem` (or its
patterns, in SQL and in the columnar engine), so no other value is ever
recorded or passed on as a company.
"""

from __future__ import annotations

import re

from wdh_cli.tempids.generator import SEQUENCE_PREFIX, TEMP_ID_PREFIX

MAX_COMPANY_ID = 100  # company_master.company_id and company_mapping.canonical_id: VARCHAR(100)

# Anchored regular expressions that PostgreSQL (`~`), Rust's regex (polars)
# and Python's `re` read alike. The temporary pattern is matched without
# regard to case (`~*`, `(?i)`).
COMPANY_ID_PATTERN = f"^[A-Za-z0-9._-]{{1,{MAX_COMPANY_ID}}}$"
_TEMPORARY_FORMS = f"{TEMP_ID_PREFIX}[A-Z2-7]{{16}}|{SEQUENCE_PREFIX}[0-9]+"
TEMPORARY_ID_PATTERN = f"^({_TEMPORARY_FORMS})$"
_BOOLEANS = ("TRUE", "FALSE")  # what a spreadsheet's boolean cell reads as

# What fits COMPANY_ID_PATTERN and is still never a company (matched without
# regard to case): a temporary ID, or a boolean cell's text.
NOT_A_COMPANY_PATTERN = f"^({_TEMPORARY_FORMS}|{'|'.join(_BOOLEANS)})$"

_COMPANY_ID = re.compile(COMPANY_ID_PATTERN)
_TEMPORARY_ID = re.compile(TEMPORARY_ID_PATTERN, re.IGNORECASE)
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
# The first letters of temporary IDs, in either case: others need no second match.
_FIRSTS = TEMP_ID_PREFIX[0] + SEQUENCE_PREFIX[0]
_TEMPORARY_FIRST = frozenset(_FIRSTS.upper() + _FIRSTS.lower())


def is_temporary_id(value: str) -> bool:
    """Whether `value` (trimmed) is a temporary ID of either style, in any letter case."""
    return _TEMPORARY_ID.match(value.strip()) is not None


def company_id_problem(value: str) -> str | None:
    """Why `value` is not a company ID, in words for a message; None when it is one.

    `value` is taken as trimmed already (see `clean_company_id`).
    """
    if not value:
        return "the company ID is empty"
    # Mapping loads call this once per row: ASCII letters and digits only (most
    # IDs) are settled without the regular expression, and only an ID that
    # begins like a temporary one is matched against that pattern.
    if (
        len(value) <= MAX_COMPANY_ID
        and value.isascii()
        and (value.isalnum() or _COMPANY_ID.match(value) is not None)
    ):
        if value[0] in _TEMPORARY_FIRST and _TEMPORARY_ID.match(value) is not None:
            return f"{value} is a temporary ID, not a company"
        if value.upper() in _BOOLEANS:
            return f"{value} is a spreadsheet's TRUE/FALSE, not a company"
        return None
    if len(value) > MAX_COMPANY_ID:
        return f"the company ID is longer than {MAX_COMPANY_ID} characters ({len(value)})"
    bad = next(char for char in value if char not in _ALLOWED)
    return (
        f"the company ID holds {describe_character(bad)}; a company ID is ASCII letters, digits, "
        "'-', '_' and '.'"
    )


def clean_company_id(raw: str) -> tuple[str, str | None]:
    """(the ID with its ends trimmed, why it is not a company ID or None)."""
    value = raw.strip()
    return value, company_id_problem(value)


def describe_character(char: str) -> str:
    """A character as a message can show it, whatever it is (a control, an invisible one)."""
    if char.isprintable() and not char.isspace():
        return f"the character {char!r} (U+{ord(char):04X})"
    return f"an invisible or control character (U+{ord(char):04X})"
