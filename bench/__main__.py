"""``python -m bench [name ...]``: run the benchmarks, each in its own process."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa

from bench import BENCH_MODULES, PG_URL


def main(argv: list[str]) -> int:
    wanted = [m for m in BENCH_MODULES if not argv or any(a in m for a in argv)]
    print(f"cores: {os.cpu_count()}")
    print(f"database: {sa.make_url(PG_URL).render_as_string(hide_password=True)} (FUNNELFLOW_TEST_PG)")
    failed = []
    for module in wanted:
        proc = subprocess.run([sys.executable, "-m", module], check=False)
        if proc.returncode != 0:
            failed.append(module)
            print(f"bench {module}: ERROR exit {proc.returncode}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
