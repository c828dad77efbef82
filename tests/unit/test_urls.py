"""Passwords never leave mask_url."""

from __future__ import annotations

import pytest

from wdh_cli.db.urls import mask_url


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
