"""The README matches the code: the two commands first, every setting in the table."""

from pathlib import Path

from funnelflow.settings import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    head = README[: README.find("\n## ", README.find("\n## ") + 1)]
    assert "make demo" in head and "make test" in head
    assert README.find("make demo") < README.find("make airflow") < README.find("docker compose")


def test_every_setting_is_in_the_configuration_table():
    rows = {line.split("|")[1].strip().strip("`") for line in README.splitlines() if line.startswith("| `")}
    missing = [s.name for s in SETTINGS if s.name not in rows]
    assert missing == []
