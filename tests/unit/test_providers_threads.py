"""Providers shared by the worker threads of `wdh queue drain --concurrency N`.

The races these tests look for are rare under the GIL's default switch
interval (5 ms); `busy_switching` makes threads change every microsecond so
that an unguarded read-modify-write is interrupted often enough to show.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.helpers import DIRECTORY
from wdh_cli.providers.directory import DirectoryProvider
from wdh_cli.providers.eqc import WINDOW, RateLimiter

THREADS = 8


@pytest.fixture
def busy_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _in_threads(work: Callable[[], None], count: int = THREADS) -> None:
    """Run `work` in `count` threads started together; re-raise the first failure."""
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    if failures:
        raise failures[0]


class FakeTime:
    """A clock that moves only when someone sleeps, shared by every thread.

    `granted` is exact: the limiter stores the `now` it read last in the thread
    that acquired, so the value this clock handed that thread is the grant time.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.granted: list[float] = []
        self._lock = threading.Lock()
        self._last = threading.local()

    def clock(self) -> float:
        with self._lock:
            self._last.value = self.now
        return float(self._last.value)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def record_grant(self) -> None:
        with self._lock:
            self.granted.append(self._last.value)


def test_the_rate_limit_holds_across_threads(busy_switching: None) -> None:
    per_minute, each = 5, 250
    fake = FakeTime()
    limiter = RateLimiter(per_minute, clock=fake.clock, sleep=fake.sleep)

    def work() -> None:
        for _ in range(each):
            limiter.acquire()
            fake.record_grant()

    _in_threads(work)
    granted = sorted(fake.granted)
    assert len(granted) == THREADS * each
    # No per_minute + 1 grants inside one window: the (i + per_minute)-th grant
    # comes at least a whole window after the i-th.
    crowded = [
        (granted[i], granted[i + per_minute])
        for i in range(len(granted) - per_minute)
        if granted[i + per_minute] - granted[i] < WINDOW
    ]
    assert crowded == []


def test_directory_calls_add_up_across_threads(busy_switching: None) -> None:
    # CPython 3.11 seldom switches threads inside `calls += 1`; the lock is
    # for the interpreters that do, and this test holds the figure to it.
    provider = DirectoryProvider(DIRECTORY)

    def work() -> None:
        for _ in range(2000):
            provider.search("浦发集团")

    _in_threads(work)
    assert provider.calls == THREADS * 2000
