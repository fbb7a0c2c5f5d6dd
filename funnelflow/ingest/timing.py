"""Wall-clock time per database-side ingestion step, summed over chunks (the benchmark prints it).

Reading and validating run in the file worker process; ``wait_for_worker`` is
the time the database side waited for its next chunk. The worker reports its
own CPU seconds (``FileReport.worker``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

STEPS = ("wait_for_worker", "stage", "upsert_leads", "touchpoints", "consents", "rejects")
step_seconds: dict[str, float] = defaultdict(float)


@contextmanager
def timed(step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        step_seconds[step] += time.perf_counter() - started


def reset() -> None:
    step_seconds.clear()
