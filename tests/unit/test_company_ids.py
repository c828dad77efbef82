"""The company-ID rule (wdh_cli/companies/ids.py): what is a company, what never is."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wdh_cli.companies.ids import (
    COMPANY_ID_PATTERN,
    NOT_A_COMPANY_PATTERN,
    TEMPORARY_ID_PATTERN,
    clean_company_id,
    company_id_problem,
    is_temporary_id,
)
from wdh_cli.tempids.generator import TEMP_ID_PATTERN, TempIdGenerator, sequence_id


@pytest.mark.parametrize("value", ["614810477", "000123", "C-N1", "a.b_c-D", "x" * 100])
def test_company_ids(value: str) -> None:
    assert company_id_problem(value) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("6148\n10477", "U+000A"),
        ("6148\u200b10477", "U+200B"),
        ("6148 10477", "U+0020"),
        ("公司123", "'公'"),
        ("x" * 101, "longer than 100"),
        ("INABCDEFGHIJKLMNOP", "temporary ID"),
        ("in2b3c4d5e6f7g2h3j", "temporary ID"),
        ("TEMP_000007", "temporary ID"),
        ("temp_7", "temporary ID"),
    ],
)
def test_what_is_never_a_company(raw: str, reason: str) -> None:
    problem = company_id_problem(raw)
    assert problem is not None and reason in problem


def test_only_the_ends_are_trimmed() -> None:
    assert clean_company_id("  614810477\t\u3000") == ("614810477", None)
    value, problem = clean_company_id(" 6148 10477 ")
    assert value == "6148 10477" and problem is not None


def test_every_temporary_id_is_recognised() -> None:
    generator = TempIdGenerator("salt")
    for name in ("上海某某有限公司", "a", "深圳某某科技有限公司"):
        made = generator.for_name(name)
        assert made is not None and is_temporary_id(made) and company_id_problem(made)
    assert is_temporary_id(sequence_id(12)) and is_temporary_id(" TEMP_1234567 ")
    # The pattern is the one rewrite counts as temporary (before case folding).
    assert TEMPORARY_ID_PATTERN == TEMP_ID_PATTERN


@given(st.text(max_size=120))
def test_the_patterns_agree_with_the_function(value: str) -> None:
    fits = re.fullmatch(COMPANY_ID_PATTERN.strip("^$"), value) is not None
    temporary = re.fullmatch(TEMPORARY_ID_PATTERN.strip("^$"), value, re.IGNORECASE) is not None
    assert (company_id_problem(value) is None) == (fits and not temporary)


# IDs and near misses: the characters of both temporary styles, the rest of
# the rule's alphabet, a space, a non-ASCII digit; lengths around the limit.
_ID_LIKE = st.text(alphabet="INTEMPinemp_27AZ09.-x \u0661", max_size=110)
_TEMPORARY_LIKE = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["IN", "in", "In", "TEMP_", "temp_", "Temp_", "I", "T"]),
    st.text(alphabet="ABCXYZ234567abc0189_", max_size=20),
)


_BOOLEAN_LIKE = st.sampled_from(["TRUE", "FALSE", "true", "False", "TRUE1", "FALS", "xtrue"])


@given(st.one_of(_ID_LIKE, _TEMPORARY_LIKE, _BOOLEAN_LIKE, st.text(max_size=120)))
def test_the_fast_path_gives_the_patterns_answer(value: str) -> None:
    """company_id_problem settles most IDs without the patterns: the same answers as the
    patterns the columnar engine and SQL apply to existing-ID cells."""
    fits = re.fullmatch(COMPANY_ID_PATTERN.strip("^$"), value) is not None
    never = re.fullmatch(NOT_A_COMPANY_PATTERN.strip("^$"), value, re.IGNORECASE) is not None
    temporary = re.fullmatch(TEMPORARY_ID_PATTERN.strip("^$"), value, re.IGNORECASE) is not None
    problem = company_id_problem(value)
    assert (problem is None) == (fits and not never)
    assert (problem is not None and "temporary ID" in problem) == (fits and temporary)
