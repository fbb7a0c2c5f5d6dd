"""The team file: the shipped one loads; mistakes name the file, the line and the fix."""

from __future__ import annotations

import pytest

from funnelflow.sales.team import SalesTeamError, load_team, team_from_text
from tests.sales.factories import TEAM_YAML


def test_the_shipped_team_file_is_valid():
    team = load_team()
    assert team.rep("lena").segments == ["enterprise"]
    assert team.segment_of("5001+") == "enterprise"
    assert team.segment_of("unknown band") is None


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    team: emea", "    team: emeaa", "reps.0.team: 'emeaa' is not a team; fix: use one of"),
        ("timezone: Europe/Berlin", "timezone: Europe/Berlinn", "unknown time zone 'Europe/Berlinn'"),
        (
            "capacity: 2\n",
            "capacity: -1\n",
            "reps.0.capacity: Input should be greater than or equal to 0; fix",
        ),
        ("calendar: DE", "calendar: FR", "no holidays are listed for calendar 'FR'; fix: use one of ['DE']"),
        ("manager: lena", "manager: nobody", "teams.0.manager: 'nobody' is not a rep id"),
        ("routing: [account_owner", "routing: [owner", "routing.0: Input should be"),
    ],
)
def test_a_mistake_names_file_line_and_fix(old, new, expected):
    text = TEAM_YAML.replace(old, new, 1)
    assert text != TEAM_YAML
    with pytest.raises(SalesTeamError) as err:
        team_from_text(text, "sales_team.yaml")
    message = str(err.value)
    assert expected in message
    assert f"sales_team.yaml, line {_line_of(text, new.strip().split(chr(10))[0])}:" in message
    assert "fix:" in message


def test_missing_grade_sla_and_unknown_key_are_named():
    text = (
        TEAM_YAML.replace("D: 48}", "}")
        .replace(", C: 24, }", ", C: 24}")
        .replace("recycle_cooldown_days", "recycle_cooldown_dayz")
    )
    with pytest.raises(SalesTeamError) as err:
        team_from_text(text, "sales_team.yaml")
    assert "no SLA for grade(s) ['D']" in str(err.value)
    assert "recycle_cooldown_dayz: Extra inputs are not permitted; fix: remove this key" in str(err.value)


def test_sales_check_command(tmp_path, capsys, monkeypatch):
    from funnelflow.cli import main

    assert main(["sales", "check"]) == 0
    assert "reps" in capsys.readouterr().out
    bad = tmp_path / "sales_team.yaml"
    bad.write_text(TEAM_YAML.replace("    team: emea", "    team: nowhere", 1))
    assert main(["sales", "check", "--file", str(bad)]) == 2
    assert f"{bad}, line" in capsys.readouterr().err
