"""normalize_name and temporary IDs: the documented examples (docs/names.md) and properties."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wdh_cli.names import normalize_name
from wdh_cli.tempids.generator import TempIdGenerator, sequence_id, temp_id

SPEC_EXAMPLES = [
    ("上海 某某 有限公司", "上海某某有限公司"),
    ("上海某某有限公司（已转出）", "上海某某有限公司"),
    ("上海某某有限公司-已转出", "上海某某有限公司"),
    ("(原)上海某某有限公司", "上海某某有限公司"),
    ("ＡＢＣ科技（北京）有限公司", "abc科技（北京）有限公司"),
    ("上海某某有限公司(团托)", "上海某某有限公司"),
    ("上海某某有限公司及下属子企业", "上海某某有限公司"),
]


@pytest.mark.parametrize(("raw", "expected"), SPEC_EXAMPLES)
def test_spec_examples(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("   \u3000\u00a0", ""),
        (None, ""),
        ("上海\u3000某某\u00a0有限公司", "上海某某有限公司"),
        ("原-上海某某有限公司", "上海某某有限公司"),
        ("(原)-上海某某有限公司", "上海某某有限公司"),
        ("（已作废）上海某某有限公司", "上海某某有限公司"),
        ("原野科技有限公司", "原野科技有限公司"),  # a bare marker at the start is the name
        ("上海原野有限公司", "上海原野有限公司"),
        ("终止符科技有限公司", "终止符科技有限公司"),
        ("上海某某有限公司-养老", "上海某某有限公司"),
        ("上海某某有限公司-福利", "上海某某有限公司"),
        ("上海某某有限公司-2", "上海某某有限公司"),
        ("上海某某有限公司-BJ01", "上海某某有限公司"),
        ("上海某某有限公司-A", "上海某某有限公司"),
        ("上海某某有限公司。", "上海某某有限公司"),
        ("上海某某有限公司（）", "上海某某有限公司"),
        ("上海某某有限公司--", "上海某某有限公司"),
        ("上海某某有限公司(北京)", "上海某某有限公司（北京）"),
        # Removing one decoration exposes another: still one key.
        ("上海某某有限公司-养老-已转出", "上海某某有限公司"),
        ("上海某某有限公司-已转出-", "上海某某有限公司"),
        ("(原)上海某某有限公司（已转出）", "上海某某有限公司"),
    ],
)
def test_rules(raw: str | None, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_three_spellings_share_one_key() -> None:
    spellings = ["上海 某某 有限公司", "上海某某有限公司（已转出）", "上海某某有限公司(已转出)"]
    assert len({normalize_name(s) for s in spellings}) == 1


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_idempotent_and_never_raises(raw: str) -> None:
    once = normalize_name(raw)
    assert normalize_name(once) == once


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), st.data())
def test_insensitive_to_whitespace_width_and_brackets(raw: str, data: st.DataObject) -> None:
    spaced = "".join(c + data.draw(st.sampled_from(["", " ", "\u3000", "\u00a0"])) for c in raw)
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in raw)
    chinese = raw.replace("(", "（").replace(")", "）")
    expected = normalize_name(raw)
    assert normalize_name(spaced) == expected
    assert normalize_name(full_width) == expected
    assert normalize_name(chinese) == expected


def test_odd_input_never_raises() -> None:
    for raw in ["\ud800\udfff", "\x00\x01\x7f", "😀" * 1000, "-" * 100_000, "(原)" * 5000]:
        assert isinstance(normalize_name(raw), str)


def test_temp_id_matches_the_spec_formula() -> None:
    salt = "pepper"
    key = normalize_name("上海 某某 有限公司")
    digest = hmac.new(salt.encode(), key.encode(), hashlib.sha1).digest()
    expected = "IN" + base64.b32encode(digest[:10]).decode()
    assert temp_id("上海 某某 有限公司", salt) == expected
    assert len(expected) == 18 and expected.isupper() and "=" not in expected


def test_temp_id_is_stable_across_spellings_and_salts_differ() -> None:
    gen = TempIdGenerator("s1")
    ids = {gen.for_name(s) for s in ["上海 某某 有限公司", "上海某某有限公司（已转出）"]}
    assert len(ids) == 1
    assert TempIdGenerator("s2").for_name("上海某某有限公司") not in ids
    assert gen.for_name("   ") is None
    assert gen.for_name("") is None


def test_empty_salt_is_refused() -> None:
    with pytest.raises(ValueError):
        TempIdGenerator("")


def test_sequence_ids() -> None:
    assert sequence_id(1) == "TEMP_000001"
    assert sequence_id(123456) == "TEMP_123456"
    assert sequence_id(1234567) == "TEMP_1234567"


@settings(max_examples=200, deadline=None)
@given(salt=st.text(min_size=1, max_size=200), key=st.text(min_size=1, max_size=50))
def test_pre_keyed_hmac_equals_the_hmac_module(salt: str, key: str) -> None:
    digest = hmac.new(salt.encode(), key.encode(), hashlib.sha1).digest()
    assert TempIdGenerator(salt).for_key(key) == "IN" + base64.b32encode(digest[:10]).decode()


def test_missing_salt_is_a_config_error_naming_the_setting() -> None:
    from wdh_cli.config import load_settings
    from wdh_cli.errors import EXIT_USAGE, ConfigError
    from wdh_cli.tempids.issuer import TempIdIssuer, require_salt

    with pytest.raises(ConfigError, match="WDH_ALIAS_SALT") as caught:
        require_salt(load_settings())
    assert caught.value.exit_code == EXIT_USAGE
    with pytest.raises(ConfigError, match="WDH_ALIAS_SALT"):
        TempIdIssuer.from_settings(load_settings())
    assert require_salt(load_settings(alias_salt="pepper")) == "pepper"
