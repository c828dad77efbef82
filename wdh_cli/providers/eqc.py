"""The EQC company-information API over HTTP (docs/eqc.md).

Rate-limited (sliding minute window), retried with exponential backoff and
jitter on 429, 5xx, timeouts and connection errors (honouring Retry-After),
and disabled for the run by a 401. Neither the token nor a URL (which holds
the company name) is ever logged or put in an error message.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from wdh_cli.providers.base import (
    BadResponseError,
    Candidate,
    ProviderAuthError,
    RefusedLookupError,
    TransientProviderError,
)
from wdh_cli.providers.names import ProviderName

SEARCH_PATH = "/kg-api-hfd/api/search/"
# Confidence of a match by its `type` (docs/eqc.md); others get 0.70.
CONFIDENCE_BY_TYPE = {"全称精确匹配": 1.00, "模糊匹配": 0.80, "拼音": 0.60}
DEFAULT_CONFIDENCE = 0.70
MAX_RETRY_AFTER = 30.0  # seconds we are willing to wait inside one lookup
WINDOW = 60.0


class RateLimiter:
    """At most `per_minute` requests in any 60-second window, across all threads."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self._sent: deque[float] = deque()
        self._clock = clock
        self._sleep = sleep
        # The drain's worker threads share one limiter, so the limit holds for
        # the process. Reading the clock, looking at the window and taking a
        # slot must be one step: two threads that both see the last free slot
        # would otherwise both take it, and a thread holding an older `now`
        # would append out of order and break the sliding window. The sleep is
        # outside the lock: a waiting thread holds up nobody's bookkeeping.
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= WINDOW:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                wait = WINDOW - (now - self._sent[0])
            self._sleep(wait)


class EqcProvider:
    name = ProviderName.eqc

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: float = 5,
        rate_limit: int = 10,
        retries: int = 2,
        confidence: dict[str, float] | None = None,
        backoff_base: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=base,
            timeout=timeout,
            headers={"token": token, "Referer": f"{base}/"},
            transport=transport,
            follow_redirects=False,
        )
        self._limiter = RateLimiter(rate_limit, sleep=sleep)
        self._retries = retries
        # WDH_EQC_CONFIDENCE overrides the types it names; the others keep the default.
        self._confidence = {**CONFIDENCE_BY_TYPE, **(confidence or {})}
        self._backoff_base = backoff_base
        self._sleep = sleep
        self.calls = 0
        # Worker threads share the provider: `calls += 1` is a read-modify-write.
        self._calls_lock = threading.Lock()
        # Set once by the thread that sees a 401, read by all: a plain flag is
        # enough (a thread that misses it sends one more request and gets its
        # own 401).
        self.disabled = False

    def search(self, raw_name: str) -> list[Candidate]:
        if self.disabled:
            raise self._auth_error()
        with self._calls_lock:
            self.calls += 1  # one lookup costs one, whatever its retries
        last_problem = ""
        for attempt in range(self._retries + 1):
            self._limiter.acquire()
            try:
                response = self._client.get(SEARCH_PATH, params={"key": raw_name})
            except httpx.TimeoutException:
                last_problem = "timed out"
                wait = self._backoff(attempt)
            except httpx.TransportError as exc:
                last_problem = f"connection error ({type(exc).__name__})"
                wait = self._backoff(attempt)
            else:
                status = response.status_code
                if status == 200:
                    return self._parse(response)
                if status == 404:
                    return []
                if status == 401:
                    self.disabled = True
                    raise self._auth_error()
                if status == 429 or status >= 500:
                    last_problem = f"HTTP {status}"
                    wait = self._retry_after(response) or self._backoff(attempt)
                else:
                    raise RefusedLookupError(f"EQC answered HTTP {status}")
            if attempt < self._retries and wait <= MAX_RETRY_AFTER:
                self._sleep(wait)
            else:
                break
        raise TransientProviderError(f"EQC {last_problem} after {attempt + 1} attempt(s)")

    def _backoff(self, attempt: int) -> float:
        # Exponential with "equal jitter": never zero, never in lockstep.
        ceiling: float = self._backoff_base * 2**attempt
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After", "").strip()
        return float(value) if value.isdigit() else None

    def _parse(self, response: httpx.Response) -> list[Candidate]:
        try:
            body: Any = response.json()
        except ValueError:
            raise BadResponseError("EQC answered 200 with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise BadResponseError("EQC answered 200 with JSON that is not an object")
        items = body.get("list") or []
        if not isinstance(items, list):
            raise BadResponseError("EQC answered 200 with a `list` that is not a list")
        candidates = []
        for item in items:
            if (
                not isinstance(item, dict)
                or not item.get("companyId")
                or not item.get("companyFullName")
            ):
                raise BadResponseError("EQC answered 200 with a result lacking companyId or name")
            match_type = str(item.get("type") or "")
            candidates.append(
                Candidate(
                    company_id=str(item["companyId"]),
                    official_name=str(item["companyFullName"]),
                    unified_credit_code=str(item["unite_code"]) if item.get("unite_code") else None,
                    match_type=match_type,
                    confidence=self._confidence.get(match_type, DEFAULT_CONFIDENCE),
                )
            )
        return candidates

    @staticmethod
    def _auth_error() -> ProviderAuthError:
        return ProviderAuthError(
            "EQC refused the token (HTTP 401): set a valid WDH_EQC_TOKEN; "
            "no more EQC lookups in this run"
        )

    def close(self) -> None:
        self._client.close()
