"""Parse time of each DAG file beyond Airflow's own import (goal: under 0.2 s each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import report

DAGS = Path(__file__).resolve().parent.parent / "dags"

# Airflow and the SDK are imported first, untimed: what we measure is our file's cost.
_PROBE = """
import importlib.util, sys, time
import airflow.sdk  # noqa
from airflow.sdk import dag, task, Asset  # noqa
import funnelflow_airflow.common, funnelflow_airflow.assets  # noqa
spec = importlib.util.spec_from_file_location("probe_dag", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
t0 = time.perf_counter()
spec.loader.exec_module(mod)
print(time.perf_counter() - t0)
"""


def main() -> None:
    for path in sorted(DAGS.glob("*.py")):
        runs = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, check=True
            )
            runs.append(float(out.stdout.strip().splitlines()[-1]))
        report(f"dag_parse[{path.stem}]", min(runs), "s", "<", 0.2)


if __name__ == "__main__":
    main()
