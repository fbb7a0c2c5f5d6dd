"""Replay after a mapping fix; config errors name file, line and fix; the accounting check."""

from __future__ import annotations

from pathlib import Path

import pytest

from funnelflow.ingest.config import ConfigError, load_header_mapping, load_sources
from funnelflow.ingest.replay import replay_rejects
from funnelflow.ingest.store import AccountingError, Counts
from tests.factories import AS_OF, count, rows
from tests.ingest.factories import run_inbox


def test_rejects_from_an_unknown_language_are_replayed_after_a_mapping_fix(
    engine, inbox: Path, config_dir: Path
):
    (inbox / "lista.csv").write_text(
        "Correo electrónico,Nombre,Empresa\nana@example.es,Ana,Hola SL\nluis@example.es,Luis,Adios SA\n",
        encoding="utf-8",
    )
    [report] = run_inbox(engine, inbox, config_dir)
    assert report.counts.rejected == 2 and count(engine, "leads") == 0
    assert "config/header_mapping.yaml" in rows(engine, "select reason from ingest_rejects")[0]["reason"]

    (config_dir / "header_mapping.yaml").write_text(
        'aliases:\n  email: ["Correo electrónico"]\n  first_name: ["Nombre"]\n  company: ["Empresa"]\n',
        encoding="utf-8",
    )
    counts = replay_rejects(engine, load_sources(config_dir), load_header_mapping(config_dir), AS_OF)
    assert counts.as_dict() == {"rows_in": 2, "inserted": 2, "updated": 0, "rejected": 0, "duplicates": 0}
    assert {r["first_name"] for r in rows(engine, "select first_name from leads")} == {"Ana", "Luis"}
    assert {r["replay_outcome"] for r in rows(engine, "select replay_outcome from ingest_rejects")} == {
        "inserted"
    }
    touch = rows(engine, "select source, channel from touchpoints")
    assert touch == [{"source": "list-upload", "channel": "file_import"}] * 2
    again = replay_rejects(engine, load_sources(config_dir), load_header_mapping(config_dir), AS_OF)
    assert again.rows_in == 0 and count(engine, "touchpoints") == 2


def test_a_reject_that_fails_again_keeps_a_current_reason(engine, inbox: Path, config_dir: Path):
    (inbox / "list.csv").write_text("email\nnot-an-address\n", encoding="utf-8")
    run_inbox(engine, inbox, config_dir)
    counts = replay_rejects(engine, load_sources(config_dir), load_header_mapping(config_dir), AS_OF)
    assert counts.rejected == 1
    got = rows(engine, "select reason, replay_outcome from ingest_rejects order by id")
    assert got == [
        {"reason": "malformed email", "replay_outcome": "rejected"},
        {"reason": "malformed email", "replay_outcome": None},
    ]


def test_a_wrong_sources_file_names_file_line_and_fix(tmp_path: Path):
    (tmp_path / "sources.yaml").write_text(
        "web_form:\n  consent_wording_version: v1\nfiles:\n  - name: tradeshow\n    match: '*'\n"
        "    consent: {status: granted, legal_basis: because}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_sources(tmp_path)
    message = str(err.value)
    assert "sources.yaml, line 6" in message and "legal_basis" in message and "allowed values" in message


def test_a_source_campaign_must_be_a_campaign_slug(tmp_path: Path):
    (tmp_path / "sources.yaml").write_text(
        "web_form:\n  consent_wording_version: v1\nfiles:\n  - name: fair\n    match: '*'\n"
        "    campaign: Trade Show 2026\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_sources(tmp_path)
    assert "sources.yaml, line 6" in str(err.value) and "campaign" in str(err.value)
    (tmp_path / "sources.yaml").write_text(
        "web_form:\n  consent_wording_version: v1\nfiles:\n  - name: fair\n    match: '*'\n"
        "    campaign: trade-show-2026\n",
        encoding="utf-8",
    )
    assert load_sources(tmp_path).files[0].campaign == "trade-show-2026"


def test_an_unknown_field_in_the_header_mapping_is_named(tmp_path: Path):
    (tmp_path / "header_mapping.yaml").write_text("aliases:\n  emial: [Mail]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"header_mapping.yaml, line 2: aliases: .*emial"):
        load_header_mapping(tmp_path)


def test_counts_that_do_not_add_up_fail_loudly():
    with pytest.raises(AccountingError, match="5 rows in"):
        Counts(rows_in=5, inserted=2, updated=1, rejected=1, duplicates=0).check("file 'x.csv'")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_rejects_commands_list_and_replay_by_file_and_line(
    engine, marketing_db_env, inbox: Path, config_dir: Path, monkeypatch, capsys
):
    from funnelflow.cli import main

    (inbox / "tradeshow.csv").write_text("Correo electrónico,Nombre\nana@example.es,Ana\n", encoding="utf-8")
    run_inbox(engine, inbox, config_dir)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(config_dir))
    assert main(["rejects", "list"]) == 0
    listed = capsys.readouterr().out
    assert "tradeshow.csv:2" in listed and "no email and no phone" in listed and "ana@" not in listed
    (config_dir / "header_mapping.yaml").write_text(
        'aliases:\n  email: ["Correo electrónico"]\n', encoding="utf-8"
    )
    assert main(["rejects", "replay", "--source", "tradeshow"]) == 0
    assert '"inserted": 1' in capsys.readouterr().out
    assert count(engine, "leads") == 1
