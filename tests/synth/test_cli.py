"""``python -m funnelflow synth``: the commands people run."""

from __future__ import annotations

import csv

import pytest
import sqlalchemy as sa

from funnelflow.cli import main
from funnelflow.db.schema import lead_landing, leads


def test_files_command(tmp_path, capsys):
    out = tmp_path / "export.csv"
    assert (
        main(
            [
                "synth",
                "files",
                "--rows",
                "500",
                "--out",
                str(out),
                "--header-style",
                "german",
                "--encoding",
                "cp1252",
                "--delimiter",
                ";",
                "--repeat-rate",
                "0.1",
                "--broken-rate",
                "0.05",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert "500 rows" in capsys.readouterr().out
    with out.open(encoding="cp1252", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert rows[0][:3] == ["Vorname", "Nachname", "E-Mail"] and len(rows) == 501


def test_files_xlsx_from_extension(tmp_path):
    out = tmp_path / "upload.xlsx"
    assert main(["synth", "files", "--rows", "50", "--out", str(out)]) == 0
    assert out.read_bytes()[:2] == b"PK"


@pytest.mark.parametrize(
    "bad", [["--repeat-rate", "1.5"], ["--until", "yesterday"], ["--encoding", "latin-9"]]
)
def test_files_rejects_bad_options(tmp_path, bad, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "files", "--rows", "5", "--out", str(tmp_path / "x.csv"), *bad])
    assert exc.value.code == 2


def test_reference_command(tmp_path):
    out = tmp_path / "companies.csv"
    assert main(["synth", "reference", "--out", str(out), "--companies", "100", "--seed", "1"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 101


def test_db_and_demo_commands(marketing_db_env, funnelflow_home, capsys):
    assert main(["synth", "db", "--leads", "40", "--touchpoints-per-lead", "3", "--seed", "2"]) == 0
    assert (
        main(["synth", "demo", "--seed", "42", "--until", "2026-11-23T12:00:00+00:00", "--people", "300"])
        == 0
    )
    out = capsys.readouterr().out
    assert "40 leads" in out and "web-form posts in lead_landing" in out
    assert len(list((funnelflow_home / "inbox" / "leads").iterdir())) == 5
    engine = sa.create_engine(marketing_db_env.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar_one() == 40
        assert conn.execute(sa.select(sa.func.count()).select_from(lead_landing)).scalar_one() > 10
    engine.dispose()


def test_files_are_byte_identical_for_a_seed(tmp_path):
    args = [
        "synth",
        "files",
        "--rows",
        "300",
        "--header-style",
        "hubspot",
        "--encoding",
        "utf-8-sig",
        "--until",
        "2026-11-23T12:00:00+00:00",
    ]
    for name, seed in (("a.csv", "4"), ("b.csv", "4"), ("c.csv", "5")):
        assert main([*args, "--out", str(tmp_path / name), "--seed", seed]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
