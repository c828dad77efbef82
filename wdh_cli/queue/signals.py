"""Graceful stop for workers: the first SIGINT/SIGTERM asks, the second one ends at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopFlag:
    """Set when the worker should stop claiming and hand back unasked rows."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, reason: str = "requested") -> None:
        self.signal_name = reason
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early on a stop; True if stopped."""
        return self._event.wait(seconds)


@contextmanager
def graceful_stop() -> Iterator[StopFlag]:
    """Install handlers for the block; restores the previous ones on exit."""
    flag = StopFlag()
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in watched}

    def handle(signum: int, frame: FrameType | None) -> None:
        # Second signal: the default action (SIGTERM ends the process,
        # SIGINT raises KeyboardInterrupt) instead of waiting.
        for sig in watched:
            signal.signal(sig, previous[sig] if sig == signal.SIGINT else signal.SIG_DFL)
        flag.request(signal.Signals(signum).name)

    for sig in watched:
        signal.signal(sig, handle)
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
