"""The time funnelflow stamps on what happened (``sent_at``, ``received_at``, ``created_at``, ...).

In production this is the wall clock, ``datetime.now(UTC)``, and nothing here changes that. Two
settings move it, for the demo and tests only; neither is ever set in a deployment:

- ``FUNNELFLOW_CLOCK_OFFSET`` (seconds, may be negative; default 0): every stamp is the real
  time plus this. ``make demo`` (``funnelflow_airflow.demo``) sets it for each step it starts,
  command or Airflow DAG run, so the demo's sends and events fall in the demo's weeks, not in
  the week it is run.
- ``pinned(at)``: inside the block every stamp is exactly ``at``, in this process (the
  ``synth history`` replay of past weeks; tests). Process-wide, not per thread: the sending
  layer records its outcomes in worker threads, and they must see the pin too.

Only *stamps* read this clock. A run's computations take their time from the run (its
``as_of``, the DAG's logical date), never from here.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

OFFSET_ENV = "FUNNELFLOW_CLOCK_OFFSET"

_pinned: datetime | None = None
_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _parse_offset(text: str) -> timedelta:
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(
            f"{OFFSET_ENV}={text!r} is not a number of seconds (demo and tests only; unset it in production)"
        ) from None
    if seconds != seconds or abs(seconds) > 400 * 365 * 86400:  # NaN, or beyond any datetime
        raise ValueError(f"{OFFSET_ENV}={text!r} is out of range")
    return timedelta(seconds=seconds)


def offset() -> timedelta:
    """The demo's offset from the real time (zero unless ``FUNNELFLOW_CLOCK_OFFSET`` is set)."""
    text = os.environ.get(OFFSET_ENV)
    return _parse_offset(text.strip()) if text and text.strip() else timedelta(0)


def now() -> datetime:
    """The time to stamp on what happens now: the wall clock (UTC), unless a demo or test moved it."""
    pinned = _pinned
    if pinned is not None:
        return pinned
    return datetime.now(UTC) + offset()


def offset_to(at: datetime, real_now: datetime | None = None) -> str:
    """The ``FUNNELFLOW_CLOCK_OFFSET`` value under which the clock reads ``at`` now."""
    if at.tzinfo is None:
        raise ValueError("the clock's time needs a time zone")
    return f"{(at - (real_now or datetime.now(UTC))).total_seconds():.6f}"


@contextmanager
def pinned(at: datetime) -> Iterator[datetime]:
    """Every stamp in this process is ``at`` inside the block (demo history and tests only)."""
    global _pinned
    if at.tzinfo is None:
        raise ValueError("the clock's time needs a time zone")
    with _lock:
        before, _pinned = _pinned, at.astimezone(UTC)
    try:
        yield at
    finally:
        with _lock:
            _pinned = before
