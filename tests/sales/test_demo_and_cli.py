"""The sales demo step and the sales commands (route, queue, explain) against a test database."""

from __future__ import annotations

import pytest

from funnelflow.sales.demo import run_demo
from funnelflow.sales.routing import route
from funnelflow.sales.team import team_from_text
from tests.sales.factories import AS_OF, TEAM_YAML, add_sql_lead


@pytest.fixture
def team_env(tmp_path, monkeypatch, funnelflow_home):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "sales_team.yaml").write_text(TEAM_YAML)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(folder))
    return team_from_text(TEAM_YAML)


def test_demo_accepts_rejects_wins_and_looks_up(engine, team_env):
    leads = [add_sql_lead(engine, f"d{i}@x.example", country="US") for i in range(4)]
    route(engine, team_env, as_of=AS_OF)
    lines = run_demo(engine, team_env, AS_OF)
    text = "\n".join(lines)
    assert f"lead {leads[1]} is recycled" in text
    assert f"lead {leads[2]} is customer" in text
    assert f"CTI lookup: lead {leads[3]}, stage sql" in text and "'why': 'open_item'" in text
    assert "d0@x.example" not in text


def test_route_queue_and_explain_commands(engine, db_url, team_env, monkeypatch, capsys):
    from funnelflow.cli import main

    monkeypatch.setenv("AIRFLOW_CONN_MARKETING_DB", db_url)
    lead_id = add_sql_lead(engine, "e@x.example", country="AT")
    assert main(["sales", "route", "--as-of", AS_OF.isoformat()]) == 0
    assert '"assigned": 1' in capsys.readouterr().out
    assert main(["sales", "queue", "--rep", "jonas"]) == 0
    assert f"{lead_id:>8} handoff" in capsys.readouterr().out
    assert main(["sales", "explain", str(lead_id), "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "reason country" in out and "country: lena[eligible, 0/2 open], jonas[eligible, 1/3 open]" in out
    assert "(no account; the lead's own owner jonas)" in out
    assert "e@x.example" not in out
