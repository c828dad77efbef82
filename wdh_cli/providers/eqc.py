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

from wdh_cli.companies.repository import unstorable
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
        min_confidence: float = 0.80,
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
        # The bar (WDH_EQC_MIN_CONFIDENCE) tells which candidate a consumer will
        # accept: that one must be storable, others are dropped when they are not.
        self._min_confidence = min_confidence
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
        """A 200's candidates, each a company that can be stored (docs/eqc.md, "Response").

        A body that is not what the API promises, or any field of the wrong
        JSON type, is a broken answer (BadResponseError). So is an answer whose
        accepted candidate (the first to reach the bar) cannot be stored; any
        other candidate that cannot be stored is dropped (it could only have
        been a suggestion for a person).
        """
        try:
            body: Any = response.json()
        except ValueError:
            raise _broken("a body that is not JSON") from None
        if not isinstance(body, dict):
            raise _broken("JSON that is not an object")
        items = body.get("list")
        if items is None:  # a missing or null list: no match
            return []
        if not isinstance(items, list):
            raise _broken("a `list` that is not a list")
        candidates = [self._candidate(item) for item in items]
        kept: list[Candidate] = []
        accepted_seen = False
        for candidate in candidates:
            problem = unstorable(candidate)
            accepted = not accepted_seen and candidate.confidence >= self._min_confidence
            accepted_seen = accepted_seen or accepted
            if problem is None:
                kept.append(candidate)
            elif accepted:
                raise _broken(f"a company that cannot be stored: {problem}")
        return kept

    def _candidate(self, item: object) -> Candidate:
        """One result as a candidate, its fields trimmed; a field of the wrong type is broken."""
        if not isinstance(item, dict):
            raise _broken("a result that is not an object")
        company_id = item.get("companyId")
        if isinstance(company_id, int) and not isinstance(company_id, bool) and company_id >= 0:
            company_id = str(company_id)  # a whole number is taken as its digits
        elif company_id is not None and not isinstance(company_id, str):
            raise _broken("a companyId that is neither text nor a non-negative whole number")
        name = _text(item, "companyFullName")
        if not company_id or not company_id.strip() or not name:
            raise _broken("a result lacking companyId or companyFullName")
        match_type = _text(item, "type") or ""
        return Candidate(
            company_id=company_id.strip(),
            official_name=name,
            unified_credit_code=_text(item, "unite_code"),
            match_type=match_type,
            confidence=self._confidence.get(match_type, DEFAULT_CONFIDENCE),
        )

    @staticmethod
    def _auth_error() -> ProviderAuthError:
        return ProviderAuthError(
            "EQC refused the token (HTTP 401): set a valid WDH_EQC_TOKEN; "
            "no more EQC lookups in this run"
        )

    def close(self) -> None:
        self._client.close()


def _text(item: dict[str, Any], key: str) -> str | None:
    """A text field of a result, trimmed; None when missing, null or blank."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _broken(f"a {key} that is not text")
    return value.strip() or None


def _broken(what: str) -> BadResponseError:
    return BadResponseError(f"EQC answered 200 with {what}")
