"""Time spent per ingestion step, summed over chunks (the benchmark prints it).

Read and validate run in the prefetch thread while the database steps run in
the caller's, so the steps can add up to more than the wall-clock time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

STEPS = ("read", "validate", "stage", "upsert_leads", "touchpoints")
step_seconds: dict[str, float] = defaultdict(float)


@contextmanager
def timed(step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        step_seconds[step] += time.perf_counter() - started


def timed_iter(step: str, items: Iterator) -> Iterator:
    """Yield from ``items``, counting the time spent producing each one under ``step``."""
    while True:
        with timed(step):
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def reset() -> None:
    step_seconds.clear()
