"""Synthetic data at benchmark scale: 1,000,000 leads into PostgreSQL and a 1,000,000-row CSV.

Each measure runs in its own process so its peak memory is its own:
- ``synth_db_1m_leads``: accounts, 1,000,000 leads and their consents into a scratch
  PostgreSQL database through COPY (goal under 60 s), and the peak memory;
- ``synth_db_touchpoints``: 100,000 leads with 10 touchpoints each (1,000,000
  touchpoints), as touchpoints per second; 1,000,000 leads with 10,000,000
  touchpoints (the qualification benchmark's data) is ``python -m bench.synth db-full``;
- ``synth_csv_1m_rows``: a 1,000,000-row messy export (5% repeats, 2% broken addresses).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import peak_rss_mb, report, scratch_postgres

UNTIL = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _db(leads: int, per_lead: int, name: str) -> None:
    from funnelflow.db.engine import make_engine
    from funnelflow.synth.db import load_database

    with scratch_postgres() as url:
        engine = make_engine(url)
        started = time.perf_counter()
        result = load_database(engine, leads, seed=42, until=UNTIL, touchpoints_per_lead=per_lead)
        elapsed = time.perf_counter() - started
        engine.dispose()
    if per_lead == 0:
        report(f"{name}_time", elapsed, "s", "<", 60)
    else:
        report(f"{name}_time", elapsed, "s", "<", 600 if leads >= 1_000_000 else 60)
        report(f"{name}_rate", result.touchpoints / elapsed, "touchpoints/s", ">=", 40_000)
    report(f"{name}_peak_memory", peak_rss_mb(), "MB", "<", 1024)


def _csv() -> None:
    from funnelflow.synth.arrivals import make_arrivals
    from funnelflow.synth.files import write_export

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        frame = make_arrivals(1_000_000, seed=42, repeat_rate=0.05, broken_rate=0.02, until=UNTIL)
        path = write_export(frame, Path(tmp) / "leads.csv")
        elapsed = time.perf_counter() - started
        size = path.stat().st_size
    report("synth_csv_1m_rows_time", elapsed, "s", "<", 60)
    report("synth_csv_1m_rows_size", size / 1e6, "MB", ">", 0)
    report("synth_csv_1m_rows_peak_memory", peak_rss_mb(), "MB", "<", 1024)


STEPS = {
    "db": lambda: _db(1_000_000, 0, "synth_db_1m_leads"),
    "db-touchpoints": lambda: _db(100_000, 10, "synth_db_100k_leads_1m_touchpoints"),
    "db-full": lambda: _db(1_000_000, 10, "synth_db_1m_leads_10m_touchpoints"),
    "csv": _csv,
}
DEFAULT_STEPS = ("db", "db-touchpoints", "csv")


def main(argv: list[str]) -> int:
    if argv:
        for step in argv:
            STEPS[step]()
        return 0
    failed = 0
    for step in DEFAULT_STEPS:
        failed |= subprocess.run([sys.executable, "-m", "bench.synth", step], check=False).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
