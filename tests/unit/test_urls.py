"""Passwords never leave wdh_cli.db.urls: URLs are checked before use and masked for display."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wdh_cli.db.urls import INVALID_DISPLAY, check_url, display_url, mask_url
from wdh_cli.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("postgresql://u:pw@host:5432/db", "postgresql://u:***@host:5432/db"),
        ("postgres://u:p%40ss@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require"),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        ("postgresql://u:@/postgres?host=/tmp/x", "postgresql://u:@/postgres?host=/tmp/x"),
        ("postgresql://h/db?password=topsecret&user=u", "postgresql://h/db?password=***&user=u"),
        ("host=h user=u password=topsecret dbname=d", "host=h user=u password=*** dbname=d"),
        ("host=h password='top secret' dbname=d", "host=h password=*** dbname=d"),
    ],
)
def test_mask_url(raw: str, masked: str) -> None:
    assert mask_url(raw) == masked


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://etl:my/SECRET@h/x",  # libpq: host etl, port "my", dbname "SECRET@h/x"
        "postgresql://etl:my?SECRET@h/x",
        "postgresql://etl:my#SECRET@h/x",
        "postgresql://etl:my@SECRET@h/x",  # libpq: host "SECRET@h"
        "postgresql://etl:bad%zzSECRET@h/x",  # a bad percent escape
        "host=h password=my/SE CRET user=u",  # unquoted space
        "host=h password='SECRET",  # unterminated quote
        "postgresql://etl:SECRET@h:notaport/x",
        "mysql://etl:SECRET@h/x",
    ],
)
def test_a_url_libpq_would_misread_is_refused_without_quoting_it(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_url(url)
    assert caught.value.exit_code == 2
    for part in ("SECRET", "CRET", "my/", "my?", "my#", "my@", "%zz", "notaport", "etl"):
        assert part not in caught.value.message
    assert display_url(url) == INVALID_DISPLAY


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://etl:p%2Fs%3Fs%23w%40rd@h:5432/x",
        "postgresql://etl:se:cret@h/x",
        "postgresql://u@host/db",
        "host=h user=u password='a b' dbname=d",
        "postgresql://h/db?password=x&user=u",
        "postgresql://u:pw@h1:5432,h2:5433/db",
    ],
)
def test_valid_urls_pass(url: str) -> None:
    check_url(url)


@settings(max_examples=300, deadline=None)
@given(password=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_the_password_never_shows_in_a_displayed_url(password: str) -> None:
    marker = f"Z{password}Z"
    for url in (f"postgresql://etl:{marker}@db.example:5432/x", f"postgresql://etl:{marker}@h"):
        shown = display_url(url)
        assert marker not in shown
        assert shown in (INVALID_DISPLAY, "postgresql://etl:***@db.example:5432/x") or (
            shown == "postgresql://etl:***@h"
        )
