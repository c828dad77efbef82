"""The EQC client against a real HTTP server on 127.0.0.1 (the stand-in)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from tests.eqc_standin import EqcStandin, Reply
from wdh_cli.providers.base import (
    BadResponseError,
    ProviderAuthError,
    TransientProviderError,
    best_accepted,
)
from wdh_cli.providers.eqc import EqcProvider, RateLimiter

NAME = "上海某某有限公司"
CONFIDENCE = {"全称精确匹配": 1.0, "模糊匹配": 0.8, "拼音": 0.6}


@pytest.fixture
def eqc() -> Iterator[EqcStandin]:
    with EqcStandin({NAME: ("614810477", "91310000XXXXXXXXXX")}) as server:
        yield server


def _client(eqc: EqcStandin, token: str = "good-token", **options: object) -> EqcProvider:
    sleeps: list[float] = []
    settings: dict[str, object] = {
        "base_url": eqc.url,
        "token": token,
        "timeout": 2,
        "rate_limit": 1000,
        "retries": 2,
        "confidence": CONFIDENCE,
        "sleep": sleeps.append,
    }
    settings.update(options)
    client = EqcProvider(**settings)  # type: ignore[arg-type]
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


def test_success_sends_token_and_referer(eqc: EqcStandin) -> None:
    client = _client(eqc)
    [candidate] = client.search(NAME)
    assert (candidate.company_id, candidate.official_name) == ("614810477", NAME)
    assert candidate.unified_credit_code == "91310000XXXXXXXXXX"
    assert candidate.confidence == 1.0
    [call] = eqc.calls
    assert (call.key, call.token, call.referer) == (NAME, "good-token", f"{eqc.url}/")
    assert client.calls == 1


def test_no_match_and_404(eqc: EqcStandin) -> None:
    client = _client(eqc)
    assert client.search("无此公司") == []
    eqc.script("gone", Reply(status=404, body="{}"))
    assert client.search("gone") == []
    eqc.script("empty", Reply(body="{}"))
    assert client.search("empty") == []


def test_401_disables_the_provider_without_retrying(eqc: EqcStandin) -> None:
    client = _client(eqc, token="expired-secret-token")
    with pytest.raises(ProviderAuthError, match="WDH_EQC_TOKEN") as caught:
        client.search(NAME)
    assert "expired-secret-token" not in str(caught.value)
    with pytest.raises(ProviderAuthError):
        client.search("另一家公司")
    assert len(eqc.calls) == 1  # disabled: the second lookup sent nothing


def test_429_then_success_honours_retry_after(eqc: EqcStandin) -> None:
    eqc.script(NAME, Reply(status=429, body="{}", headers={"Retry-After": "3"}))
    client = _client(eqc)
    [candidate] = client.search(NAME)
    assert candidate.company_id == "614810477"
    assert client.sleeps == [3.0]  # type: ignore[attr-defined]
    assert len(eqc.calls) == 2 and client.calls == 1  # retries of one lookup count once


def test_500_three_times_is_transient_after_backing_off(eqc: EqcStandin) -> None:
    eqc.script(NAME, *[Reply(status=500, body="oops")] * 3)
    client = _client(eqc, backoff_base=1.0)
    with pytest.raises(TransientProviderError, match="HTTP 500 after 3 attempt"):
        client.search(NAME)
    sleeps = client.sleeps  # type: ignore[attr-defined]
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # exponential, jittered


def test_a_hang_past_the_timeout_is_transient(eqc: EqcStandin) -> None:
    eqc.script(NAME, Reply(delay=2.5), Reply(delay=2.5))
    client = _client(eqc, timeout=1, retries=1)
    with pytest.raises(TransientProviderError, match="timed out after 2 attempt"):
        client.search(NAME)


def test_a_slow_answer_within_the_timeout_succeeds(eqc: EqcStandin) -> None:
    eqc.script(NAME, Reply(delay=0.5))
    assert _client(eqc, timeout=2).search(NAME)[0].company_id == "614810477"


@pytest.mark.parametrize("body", ["<html>oops</html>", "[1, 2]", json.dumps({"list": [{"x": 1}]})])
def test_a_broken_200_is_an_error_for_that_name(eqc: EqcStandin, body: str) -> None:
    eqc.script(NAME, Reply(body=body))
    client = _client(eqc)
    with pytest.raises(BadResponseError):
        client.search(NAME)
    assert client.search(NAME)[0].company_id == "614810477"  # the next lookup is fine


def test_confidence_from_the_match_type_and_the_threshold(eqc: EqcStandin) -> None:
    items = [
        {"companyId": "1", "companyFullName": "拼音公司", "type": "拼音"},
        {"companyId": "2", "companyFullName": "模糊公司", "type": "模糊匹配"},
        {"companyId": "3", "companyFullName": "其他公司", "type": "别的"},
    ]
    eqc.script("某", Reply(body=json.dumps({"list": items}, ensure_ascii=False)))
    candidates = _client(eqc).search("某")
    assert [c.confidence for c in candidates] == [0.6, 0.8, 0.7]
    accepted = best_accepted(candidates, 0.8)
    assert accepted is not None and accepted.company_id == "2"
    assert best_accepted(candidates, 0.9) is None


def test_configured_confidence_overrides_only_the_types_it_names(eqc: EqcStandin) -> None:
    items = [
        {"companyId": "1", "companyFullName": "精确公司", "type": "全称精确匹配"},
        {"companyId": "2", "companyFullName": "模糊公司", "type": "模糊匹配"},
    ]
    eqc.script("某", Reply(body=json.dumps({"list": items}, ensure_ascii=False)))
    client = EqcProvider(
        base_url=eqc.url, token="good-token", rate_limit=1000, confidence={"模糊匹配": 0.9}
    )
    assert [c.confidence for c in client.search("某")] == [1.0, 0.9]


def test_rate_limiter_keeps_a_sliding_minute() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2, clock=lambda: now[0], sleep=sleep)
    limiter.acquire()
    now[0] = 10.0
    limiter.acquire()
    limiter.acquire()  # third in the window: waits until the first is 60 s old
    assert slept == [50.0]
    assert now[0] == 60.0
    now[0] = 71.0
    limiter.acquire()  # t=10 has left the window; t=60 is alone in it
    assert slept == [50.0]
    limiter.acquire()  # t=60 and t=71 fill it: wait until t=60 is 60 s old
    assert slept == [50.0, 49.0]


def test_threads_sharing_one_client_count_every_lookup(eqc: EqcStandin) -> None:
    client = _client(eqc)
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(20):
            assert client.search(NAME)[0].company_id == "614810477"

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert client.calls == 160 == len(eqc.calls)
