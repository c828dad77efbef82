"""Signals as errors: SIGINT and SIGTERM end a command through its `with` blocks.

By default SIGTERM ends the process where it stands, so a temporary output
file would be left behind; raised as an `Interrupted` error in the main
thread, it unwinds every context manager (the output is discarded) and
reaches the one error boundary as a one-line message and exit 130 or 143.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from wdh_cli.errors import Interrupted

_WATCHED = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def signals_as_errors() -> Iterator[threading.Event]:
    """Within the block, SIGINT and SIGTERM raise Interrupted; previous handlers return after.

    The event it yields is set by the signal: work still finishing in other
    threads can check it and stay quiet, so the error stays one line.
    """
    previous = {sig: signal.getsignal(sig) for sig in _WATCHED}
    interrupted = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        for sig in _WATCHED:  # a second signal ends the process at once
            signal.signal(sig, signal.SIG_DFL)
        interrupted.set()
        raise Interrupted(signal.Signals(signum).name, signum)

    for sig in _WATCHED:
        signal.signal(sig, handle)
    try:
        yield interrupted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
