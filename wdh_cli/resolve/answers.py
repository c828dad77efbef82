"""The answers of one resolve run, kept per distinct key tuple, so rows cost a lookup.

A row's answer depends only on its key cells and on what the cache held when
its batch was worked out. So each distinct tuple of key cells is worked out
once, by the resolver's five layers, and every later row with the same cells
takes that answer, until this run writes a cache key the answer depends on
(backflow, a provider's answer): then the answer is retired at the end of the
batch, and the tuple is worked out again when it next appears, exactly as a
row-by-row run would have found it. Answers and figures are therefore those
of resolving each row on its own, in batches (tests/integration/
test_resolve_golden.py holds them to that).

Per row, everything runs in C (Counter, map, dict lookups); Python work is
per tuple that needs answering. The figures are counted per answer when it
is retired: its rows are the tuple's rows since it was made. Memory grows
with the distinct tuples answered (at most MAX_ANSWERS), never with rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from itertools import compress, repeat
from operator import add, not_
from typing import Generic, TypeVar

from wdh_cli.resolve.resolver import Known, Pair, Resolver, RowKeys

H = TypeVar("H", bound=Hashable)  # a row's key cells, as the caller holds them
MAX_ANSWERS = 1 << 17  # answers kept at most (about 1 KB each); past it all are retired


class AnswerBook(Generic[H]):
    """The answer of every distinct key tuple of a run (`row_keys` makes a tuple's RowKeys)."""

    def __init__(self, resolver: Resolver, row_keys: Callable[[H], RowKeys]) -> None:
        self.resolver = resolver
        self._row_keys = row_keys
        self._known: dict[H, Known] = {}
        # Rows per tuple since its current answer was made (a retired answer
        # takes its rows into the figures, and the count starts again).
        self._rows: Counter[H] = Counter()
        # Cache key -> tuples whose answer used it; built when the run first
        # writes a cache key (most runs never do: no memory, no time spent).
        self._by_pair: dict[Pair, list[H]] | None = None
        self._retire_later = False

    def resolve_rows(self, cells: list[H]) -> list[Known]:
        """One answer per row of a batch (each row given by its key cells)."""
        counts = Counter(cells)  # distinct tuples, in first-row order
        distinct = list(counts)
        self._answer(distinct, list(counts.values()))
        found = list(map(self._known.__getitem__, cells))
        self._add_rows(distinct, counts.values())
        self._retire_stale()
        return found

    def resolve_distinct(self, distinct: list[H], counts: list[int]) -> list[Known]:
        """The answer of each distinct tuple of a batch (first-row order); counts: its rows.

        Everything per tuple here runs in C: a batch of 5,000 tuples costs
        a few milliseconds besides working out the new ones.
        """
        self._answer(distinct, counts)
        found = list(map(self._known.__getitem__, distinct))
        self._add_rows(distinct, counts)
        self._retire_stale()
        return found

    def resolve_counts(self, counts: Mapping[H, int]) -> dict[H, Known]:
        """`resolve_distinct` for tuples given as a mapping to their rows."""
        distinct = list(counts)
        found = self.resolve_distinct(distinct, list(counts.values()))
        return dict(zip(distinct, found, strict=True))

    def _add_rows(self, distinct: list[H], counts: Iterable[int]) -> None:
        """Each tuple's rows in this batch added to its count, in C.

        (Counter.update with a mapping loops in Python: a tenth of a run.)
        """
        rows = self._rows
        before = map(rows.get, distinct, repeat(0))
        dict.update(rows, zip(distinct, map(add, before, counts), strict=True))

    def close(self) -> None:
        """The run is over: every answer's rows go into the figures."""
        for cells in list(self._known):
            self._retire(cells)
        if self._by_pair is not None:
            self._by_pair.clear()

    def _answer(self, distinct: list[H], counts: list[int]) -> None:
        """Work out the tuples of the batch that have no current answer."""
        known = self._known
        new = list(map(not_, map(known.__contains__, distinct)))
        if not any(new):
            return
        fresh = list(compress(distinct, new))
        answers = self.resolver.work_out(
            list(map(self._row_keys, fresh)), list(compress(counts, new))
        )
        known.update(zip(fresh, answers, strict=True))
        if self._by_pair is not None:
            self._index(zip(fresh, answers, strict=True))
        if len(known) > MAX_ANSWERS:
            # Rows repeat less than their tuples are many (an account number
            # per row, say): keeping every answer costs memory and saves
            # nothing. Retiring is always safe: a tuple met again is worked
            # out again, as a row-by-row run would.
            self._retire_later = True

    def _retire_stale(self) -> None:
        """Answers that rely on a cache key this batch wrote are worked out again next time."""
        stale = self.resolver.take_stale()
        if stale is None or self._retire_later:
            self._retire_later = False
            self.close()
            return
        if not stale:
            return
        if self._by_pair is None:
            self._by_pair = {}
            self._index(self._known.items())
        for pair in stale:
            for cells in self._by_pair.pop(pair, ()):
                answer = self._known.get(cells)
                # Pairs hold for the tuple's every answer (they come from its
                # cells), so an answer still there relies on the key.
                if answer is not None:
                    self._retire(cells)

    def _index(self, answers: Iterable[tuple[H, Known]]) -> None:
        """Note which tuples each cache key's answer relies on (keys this run may write)."""
        by_pair = self._by_pair
        assert by_pair is not None
        for cells, answer in answers:
            for pair in answer.pairs:
                by_pair.setdefault(pair, []).append(cells)

    def _retire(self, cells: H) -> None:
        answer = self._known.pop(cells)
        self.resolver.count(answer, self._rows.pop(cells, 0))
