"""SIGINT and SIGTERM, the two ways a command is asked to stop.

- `signals_as_errors`, for a run whose output only counts whole (a resolved
  file): by default SIGTERM ends the process where it stands, so a temporary
  output file would be left behind; raised as an `Interrupted` error in the
  main thread, it unwinds every context manager (the output is discarded)
  and reaches the one error boundary as a one-line message and exit 130 or
  143.
- `graceful_stop`, for work that commits as it goes (drains, tables in
  place): the first signal sets a flag the work checks between batches; the
  second ends the process at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from wdh_cli.errors import Interrupted

_WATCHED = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _handling(handle: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """`handle` catches SIGINT and SIGTERM within the block; the previous handlers return after."""
    previous = {sig: signal.getsignal(sig) for sig in _WATCHED}
    for sig in _WATCHED:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def signals_as_errors() -> Iterator[threading.Event]:
    """Within the block, SIGINT and SIGTERM raise Interrupted; previous handlers return after.

    The event it yields is set by the signal: work still finishing in other
    threads can check it and stay quiet, so the error stays one line.
    """
    interrupted = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        for sig in _WATCHED:  # a second signal ends the process at once
            signal.signal(sig, signal.SIG_DFL)
        interrupted.set()
        raise Interrupted(signal.Signals(signum).name, signum)

    with _handling(handle):
        yield interrupted


class StopFlag:
    """Set when the work should stop at its next safe point (and hand back what is unasked)."""

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
    """The first SIGINT/SIGTERM within the block asks to stop; the second one ends at once."""
    flag = StopFlag()
    default_int = signal.getsignal(signal.SIGINT)

    def handle(signum: int, frame: FrameType | None) -> None:
        # Second signal: the default action (SIGTERM ends the process,
        # SIGINT raises KeyboardInterrupt) instead of waiting.
        for sig in _WATCHED:
            signal.signal(sig, default_int if sig == signal.SIGINT else signal.SIG_DFL)
        flag.request(signal.Signals(signum).name)

    with _handling(handle):
        yield flag
