"""Absurd settings are refused up front, naming the setting and never echoing the value."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wdh_cli.cli.app import app


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WDH_QUEUE_BACKOFF", "99999999999999999999999"),
        ("WDH_QUEUE_BACKOFF", "60,-1"),
        ("WDH_QUEUE_BACKOFF", "60,abc"),
        ("WDH_QUEUE_STALE_AFTER", "99999999999999999999"),
        ("WDH_QUEUE_STALE_AFTER", "0"),
        ("WDH_QUEUE_POLL_INTERVAL", "1e9"),
        ("WDH_QUEUE_MAX_ATTEMPTS", "1000000"),
        ("WDH_EQC_TIMEOUT", "99999999"),
        ("WDH_EQC_RATE_LIMIT", "0"),
        ("WDH_EQC_RETRIES", "9999"),
        ("WDH_EQC_MIN_CONFIDENCE", "1.5"),
        ("WDH_EQC_CONFIDENCE", '{"模糊匹配": 7}'),
        ("WDH_CONNECT_TIMEOUT", "-3"),
        ("WDH_SYNC_LOOKUP_BUDGET", "99999999999999999999"),
        ("WDH_PROVIDER", "carrier-pigeon"),
        ("WDH_TEMP_ID_STYLE", "uuid"),
    ],
)
def test_an_absurd_setting_is_exit_2_naming_it(name: str, value: str) -> None:
    result = CliRunner().invoke(app, ["queue", "status"], env={name: value})
    assert result.exit_code == 2, result.output
    assert name in result.stderr
    assert value not in result.stderr and "Traceback" not in result.stderr
