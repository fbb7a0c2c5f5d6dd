import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_with_airflow_rules_passes():
    cfg = (REPO / "ruff.toml").read_text()
    assert '"AIR"' in cfg  # Airflow's rules are part of the check
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", str(REPO)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout[-3000:]
