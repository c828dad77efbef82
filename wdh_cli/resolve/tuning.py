"""Interpreter settings for a bulk run, set for its duration and restored after.

Measured on a 1M-row CSV (bench/bench_csv.py): a resolve makes millions of
short-lived row lists and keeps about 100,000 long-lived answers, so the
cyclic garbage collector, at its default thresholds, walks the answers again
and again (about a tenth of the run); and the resolving thread, back from
each database round trip, waits up to the 5 ms switch interval for the
writing thread to let go of the interpreter.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

GC_THRESHOLDS = (50_000, 20, 100)  # default (700, 10, 10)
SWITCH_INTERVAL = 0.0005  # seconds; default 0.005


@contextmanager
def bulk_run() -> Iterator[None]:
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
