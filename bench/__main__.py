"""`make bench`: run every benchmark against one server and report ratios."""

from __future__ import annotations

import sys

from bench import (
    bench_csv,
    bench_db,
    bench_mappings,
    bench_queue,
    bench_resolve,
    bench_review,
    bench_startup,
)
from bench.common import report, server_url


def main(selected: list[str]) -> None:
    suites = {
        "csv": bench_csv.run,
        "db": bench_db.run,
        "mappings": bench_mappings.run,
        "queue": bench_queue.run,
        "resolve": bench_resolve.run,
        "review": bench_review.run,
        "startup": bench_startup.run,
    }
    names = selected or list(suites)
    figures = []
    with server_url() as url:
        for name in names:
            figures += suites[name](url)
    report(figures)


if __name__ == "__main__":
    main(sys.argv[1:])
