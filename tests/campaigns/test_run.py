"""A campaign run through the sending layer (SendGrid stand-in), on SQLite and PostgreSQL:
stored audience and cells, the test cells, the winner, the remainder; reruns, crashes and stops send
nobody twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.campaigns import run
from funnelflow.db.schema import campaign_audiences, campaign_runs, email_sends, touchpoints
from funnelflow.identity import email_hash
from tests.factories import AS_OF, add_person


def _people(engine, n: int, stage: str = "lead", prefix: str = "p", consent: bool = True) -> list[int]:
    with engine.begin() as conn:
        ids = []
        for i in range(n):
            lead_id = add_person(
                conn, f"{prefix}{i}@example.com", f"Name{i}", consent=None if consent else []
            )
            conn.execute(
                sa.text("update leads set lifecycle_stage = :s where id = :i"), {"s": stage, "i": lead_id}
            )
            ids.append(lead_id)
    return ids


def _ledger(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(
                email_sends.c.recipient_hash,
                email_sends.c.status,
                email_sends.c.variant,
                email_sends.c.lead_id,
            )
        ).all()


def _cells(engine, run_id: int) -> dict[int, str | None]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                sa.select(campaign_audiences.c.lead_id, campaign_audiences.c.cell).where(
                    campaign_audiences.c.run_id == run_id
                )
            ).all()
        )


def _subjects(standin) -> dict[str, str]:
    out = {}
    for req in standin.sent:
        for p in req.body["personalizations"]:
            subject = req.body["subject"]
            for tag, value in p.get("substitutions", {}).items():
                subject = subject.replace(tag, value)
            out[p["to"][0]["email"]] = subject
    return out


def test_resolve_stores_the_audience_and_cells_once(engine, newsletter):
    ids = _people(engine, 40)
    no_consent = _people(engine, 3, prefix="nc", consent=False)
    _people(engine, 2, stage="customer", prefix="c")
    info = run.resolve_audience(engine, newsletter, AS_OF)
    assert (info.audience, info.sendable) == (43, 40)
    cells = _cells(engine, info.id)
    assert set(cells) == set(ids) | set(no_consent)
    assert all(cells[i] is None for i in no_consent)  # cells come from the sendable audience only
    expected = [i for i in ids if run.cell_fraction(newsletter.slug, i) < 0.5]
    assert sorted(i for i, c in cells.items() if c) == expected
    count = Counter(c for c in cells.values() if c)
    assert abs(count["a"] - count["b"]) <= 1  # an even split
    # A retry (or a lead who changed meanwhile) does not change who the run sends to.
    _people(engine, 5, prefix="late")
    again = run.resolve_audience(engine, newsletter, AS_OF)
    assert again.id == info.id and _cells(engine, info.id) == cells


def test_ab_run_cells_winner_and_remainder_send_each_person_once(
    engine, standin, sendgrid, options, newsletter
):
    ids = _people(engine, 30)
    info = run.resolve_audience(engine, newsletter, AS_OF)
    cells = _cells(engine, info.id)
    test = run.send_phase(engine, newsletter, AS_OF, "test", sendgrid, options)
    in_test = {i: c for i, c in cells.items() if c}
    assert sum(v["sent"] for v in test["variants"].values()) == len(in_test)
    rows = {lead: (status, variant) for _, status, variant, lead in _ledger(engine)}
    assert {lead: v for lead, (_, v) in rows.items()} == in_test  # the ledger records each cell's variant
    subjects = _subjects(standin)
    assert set(subjects) == {f"p{k}@example.com" for k, lead in enumerate(ids) if cells[lead]}
    for k, lead in enumerate(ids):
        if cells[lead] == "b":
            assert subjects[f"p{k}@example.com"] == f"Name{k}, a personal subject"
        elif cells[lead] == "a":
            assert subjects[f"p{k}@example.com"] == "Plain subject"

    # A crash after the cells: the test phase runs again and sends nothing.
    again = run.send_phase(engine, newsletter, AS_OF, "test", sendgrid, options)
    assert sum(v["sent"] for v in again["variants"].values()) == 0
    # Deliveries and human clicks on b make b win; machine (unscored) clicks on a do not count.
    _inject(engine, newsletter.slug, delivered="all", clicks={"b": 2}, machine_clicks={"a": 5})
    decision = run.decide_winner(engine, newsletter, AS_OF)
    assert decision["winner"] == "b" and "higher clicks rate" in decision["reason"]
    rest = run.send_phase(engine, newsletter, AS_OF, "rest", sendgrid, options)
    assert rest["variants"]["b"]["sent"] == len(ids) - len(in_test)
    ledger = _ledger(engine)
    assert len(ledger) == len(ids) and len({h for h, *_ in ledger}) == len(ids)
    assert Counter(standin.recipients()) == Counter(f"p{k}@example.com" for k in range(len(ids)))
    assert {v for _, _, v, lead in ledger if not cells[lead]} == {"b"}
    # And a rerun of everything sends nobody anything.
    before = len(standin.recipients())
    run.send_phase(engine, newsletter, AS_OF, "test", sendgrid, options)
    run.send_phase(engine, newsletter, AS_OF, "rest", sendgrid, options)
    assert len(standin.recipients()) == before
    with engine.connect() as conn:
        assert conn.execute(sa.select(campaign_runs.c.status)).scalar_one() == "done"


def _inject(
    engine,
    slug: str,
    delivered: str,
    clicks: dict[str, int],
    machine_clicks: dict[str, int] | None = None,
    opens: dict[str, int] | None = None,
) -> None:
    """Settle the ledger as SendGrid's events would, and add the touches the engagement DAG would write."""
    with engine.begin() as conn:
        if delivered == "all":
            conn.execute(
                sa.update(email_sends).where(email_sends.c.status == "sent").values(status="delivered")
            )
        sends = conn.execute(
            sa.select(email_sends.c.id, email_sends.c.lead_id, email_sends.c.variant).order_by(
                email_sends.c.id
            )
        ).all()
        for kind, per_variant, scored in (
            ("email_click", clicks, True),
            ("email_click", machine_clicks or {}, False),
            ("email_open", opens or {}, True),
        ):
            for variant, n in per_variant.items():
                for s in [s for s in sends if s.variant == variant][:n]:
                    for _ in range(2):  # two touches of one send still count once
                        conn.execute(
                            sa.insert(touchpoints).values(
                                lead_id=s.lead_id,
                                occurred_at=AS_OF + timedelta(hours=1),
                                channel="email",
                                touch_type=kind,
                                campaign=slug,
                                detail={"send_id": s.id},
                                scored=scored,
                            )
                        )


def test_winner_rule_small_samples_ties_and_machine_opens(engine, standin, sendgrid, options, newsletter):
    _people(engine, 30)
    run.resolve_audience(engine, newsletter, AS_OF)
    run.send_phase(engine, newsletter, AS_OF, "test", sendgrid, options)
    # Machine opens only: nobody opened by hand, so the rates tie at zero.
    _inject(engine, newsletter.slug, delivered="all", clicks={}, machine_clicks={"b": 4})
    decision = run.decide_winner(engine, newsletter, AS_OF)
    assert decision["winner"] == "a" and decision["reason"].startswith("tie on clicks")
    # Stored: more events later do not change a decision already acted on.
    _inject(engine, newsletter.slug, delivered="none", clicks={"b": 3})
    assert run.decide_winner(engine, newsletter, AS_OF)["winner"] == "a"


@pytest.mark.parametrize(
    ("stats", "winner", "reason"),
    [
        (
            {"a": {"delivered": 10, "clicks": 1}, "b": {"delivered": 10, "clicks": 2}},
            "b",
            "higher clicks rate",
        ),
        (
            {"a": {"delivered": 10, "clicks": 3}, "b": {"delivered": 20, "clicks": 2}},
            "a",
            "higher clicks rate",
        ),
        ({"a": {"delivered": 10, "clicks": 1}, "b": {"delivered": 20, "clicks": 2}}, "a", "tie on clicks"),
        (
            {"a": {"delivered": 4, "clicks": 0}, "b": {"delivered": 10, "clicks": 9}},
            "a",
            "too few deliveries",
        ),
        ({"a": {"delivered": 10, "clicks": 0}}, "a", "too few deliveries"),
    ],
)
def test_pick_winner(stats, winner, reason):
    full = {v: {**run._zero(), **s} for v, s in stats.items()}
    got, decision = run.pick_winner(full, "clicks", 5)
    assert got == winner and decision["reason"].startswith(reason)


def test_a_crash_mid_send_then_the_rerun_sends_nobody_twice(engine, standin, sendgrid, options, newsletter):
    _people(engine, 30)
    run.resolve_audience(engine, newsletter, AS_OF)
    options.chunk_size = 4
    calls = []

    def crash(point: str) -> None:
        calls.append(point)
        if point == "marked" and len([c for c in calls if c == "marked"]) == 2:
            raise RuntimeError("worker killed")

    options.checkpoint = crash
    with pytest.raises(RuntimeError, match="worker killed"):
        run.send_phase(engine, newsletter, AS_OF, "test", sendgrid, options)
    options.checkpoint = None
    run.send_phase(engine, newsletter, AS_OF, "test", sendgrid, options)
    sent = standin.recipients()
    assert len(sent) == len(set(sent))
    with engine.connect() as conn:
        cells = conn.execute(
            sa.select(sa.func.count())
            .select_from(campaign_audiences)
            .where(campaign_audiences.c.cell.is_not(None))
        ).scalar_one()
    assert len(_ledger(engine)) == cells


def test_stop_between_chunks_and_the_next_run_continues(engine, standin, sendgrid, options, newsletter):
    _people(engine, 30)
    single = newsletter.spec.model_copy(update={"ab_test": None, "subject": "One subject"})
    campaign = type(newsletter)(newsletter.slug, newsletter.path, single)
    run.resolve_audience(engine, campaign, AS_OF)
    options.chunk_size = 5

    def stop_after_first(point: str) -> None:
        # Someone runs `campaigns stop` while the first chunk is being sent.
        if point == "claimed":
            run.request_stop(engine, campaign.slug, AS_OF)

    options.checkpoint = stop_after_first
    first = run.send_phase(engine, campaign, AS_OF, "all", sendgrid, options)
    assert first["stopped"] is True
    sent_first = len(standin.recipients())
    assert 0 < sent_first <= 10  # the chunk being sent, and on PostgreSQL the one claimed beside it
    assert run.get_run(engine, campaign.slug, AS_OF).status == "stopped"
    options.checkpoint = None
    second = run.send_phase(engine, campaign, AS_OF, "all", sendgrid, options)
    assert second["stopped"] is False
    sent = standin.recipients()
    assert len(sent) == 30 == len(set(sent))
    assert {email_hash(e) for e in sent} == {h for h, *_ in _ledger(engine)}


@pytest.mark.parametrize(
    ("subject", "name", "expected"),
    [
        ("{{ first_name }}, a personal subject", "Zoë <b>", "Zoë <b>, a personal subject"),
        ("{{ first_name }}, a personal subject", None, "there, a personal subject"),
        ("Hi {{ first_name | upper }}!", "ada", "Hi ADA!"),  # a filter: rendered by Jinja2 for each person
        ("{% if first_name == 'there' %}Hello{% else %}Hi {{ first_name }}{% endif %}", None, "Hello"),
    ],
)
def test_subject_lines_render_as_jinja_would(newsletter, subject, name, expected):
    spec = newsletter.spec.model_copy(update={"ab_test": None, "subject": subject})
    campaign = type(newsletter)(newsletter.slug, newsletter.path, spec)
    assert run.subject_for(campaign, "a", name) == expected


def test_cli_audience_results_and_stop(
    engine, marketing_db_env, newsletter, monkeypatch, capsys, standin, sendgrid, options
):
    from funnelflow.cli import main

    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(newsletter.path.parent.parent))
    ids = _people(engine, 4)
    no_consent = _people(engine, 2, prefix="nc", consent=False)
    as_of = ["--as-of", AS_OF.isoformat()]
    assert main(["campaigns", "audience", "test-news", *as_of, "--count"]) == 0
    assert capsys.readouterr().out.split() == ["in", "the", "segment:", "6", "sendable:", "4"]
    assert main(["campaigns", "audience", "test-news", *as_of, "--ids"]) == 0
    assert [int(x) for x in capsys.readouterr().out.split()] == sorted(ids + no_consent)
    assert main(["campaigns", "audience", "test-news", *as_of, "--ids", "--sendable"]) == 0
    assert [int(x) for x in capsys.readouterr().out.split()] == ids
    assert main(["campaigns", "audience", "test-news", *as_of, "--sql"]) == 0
    sql, params = capsys.readouterr().out.split("-- parameters: ")
    assert sql.lower().startswith("select leads.id") and "lead'" not in sql and "POSTCOMPILE" not in sql
    assert '"lead"' in params and '"mql"' in params
    assert main(["campaigns", "stop", "test-news"]) == 0
    assert "nothing to stop" in capsys.readouterr().out
    run.resolve_audience(engine, newsletter, AS_OF)
    run.send_phase(engine, newsletter, AS_OF, "test", sendgrid, options)
    assert main(["campaigns", "results", "test-news"]) == 0
    out = capsys.readouterr().out
    assert "run 20261123T120000Z (tested): 6 in the segment, 4 sendable" in out
    assert main(["campaigns", "stop", "test-news"]) == 0
    assert "stop requested for 1 unfinished run" in capsys.readouterr().out
