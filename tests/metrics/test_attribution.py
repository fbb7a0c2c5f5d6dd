"""Attribution: every model and key-touch edge case by hand, then random funnels against a reference."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest

from funnelflow.db.schema import ATTRIBUTION_MODELS, attribution_weekly, opportunities
from tests.metrics.helpers import add_lead, add_stage, add_touch, at, compute, rows


def credits(engine, conversion="sql") -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows(engine, attribution_weekly, conversion=conversion):
        out[r["model"]][r["channel"]] = round(r["credit"], 9)
    return dict(out)


def test_four_touches_with_distinct_key_touches(engine):
    with engine.begin() as conn:
        add_lead(conn, 1)
        for i, day in enumerate((2, 5, 9, 17), start=1):
            add_touch(conn, 1, at(day), f"t{i}")
        add_stage(conn, 1, "mql", at(6))  # M = t2
        add_stage(conn, 1, "sql", at(18))  # the conversion; O = the last touch before it, t4
    compute(engine)
    assert credits(engine) == {
        "first_touch": {"t1": 1.0},
        "last_touch": {"t4": 1.0},
        "linear": {"t1": 0.25, "t2": 0.25, "t3": 0.25, "t4": 0.25},
        "u_shaped": {"t1": 0.4, "t2": 0.4, "t3": 0.1, "t4": 0.1},
        "w_shaped": {"t1": 0.3, "t2": 0.3, "t3": 0.1, "t4": 0.3},
    }
    assert {r["revenue_credit"] for r in rows(engine, attribution_weekly)} == {Decimal("0")}


def test_without_an_mql_entry_m_is_the_first_touch_and_holds_both_weights(engine):
    with engine.begin() as conn:
        add_lead(conn, 1)
        for i, day in enumerate((2, 5, 9), start=1):
            add_touch(conn, 1, at(day), f"t{i}")
        add_stage(conn, 1, "sql", at(17))  # a demo request straight to SQL
    compute(engine)
    got = credits(engine)
    assert got["u_shaped"] == {"t1": 0.8, "t2": 0.1, "t3": 0.1}
    assert got["w_shaped"] == {"t1": 0.6, "t2": 0.1, "t3": 0.3}


def test_mql_before_every_touch_falls_back_to_the_first_touch(engine):
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_stage(conn, 1, "mql", at(1))
        add_touch(conn, 1, at(2), "t1")
        add_touch(conn, 1, at(3), "t2")
        add_stage(conn, 1, "sql", at(17))
    compute(engine)
    got = credits(engine)
    # F = M = t1, O = t2; no other touches: the 0.2 / 0.1 share is split among the distinct keys.
    assert got["u_shaped"] == {"t1": 0.8, "t2": 0.2}  # t2 is the only other touch
    assert got["w_shaped"] == {"t1": 0.65, "t2": 0.35}  # F = M = t1, O = t2: 0.1 split between them


def test_one_touch_takes_everything_in_every_model(engine):
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_touch(conn, 1, at(16), "only")
        add_stage(conn, 1, "mql", at(16, 13))
        add_stage(conn, 1, "sql", at(17))
    compute(engine)
    assert credits(engine) == {m: {"only": 1.0} for m in ATTRIBUTION_MODELS}


def test_ineligible_touches_are_left_out_and_nothing_left_is_unattributed(engine):
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_touch(conn, 1, at(2), "email", touch_type="email_open")
        add_touch(conn, 1, at(3), "sales", touch_type="sales_activity")
        add_touch(conn, 1, at(4), "email", touch_type="email_click", scored=False)  # a link scanner
        add_touch(conn, 1, at(20), "web_form")  # after the conversion
        add_stage(conn, 1, "sql", at(17))
    compute(engine)
    got = rows(engine, attribution_weekly)
    assert {(r["model"], r["channel"], r["campaign"], r["credit"]) for r in got} == {
        (m, "unattributed", "(none)", 1.0) for m in ATTRIBUTION_MODELS
    }


def test_ties_go_by_id_and_merged_leads_touches_count(engine):
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_lead(conn, 2, merged_into=1)
        add_touch(conn, 1, at(5), "later_id", touch_id=51)
        add_touch(
            conn, 2, at(5), "earlier_id", touch_id=50, campaign="spring"
        )  # the merged lead's, same instant
        add_touch(conn, 1, at(8), "last")
        add_stage(conn, 2, "sql", at(17))  # the merged lead's stage row is lead 1's
    compute(engine)
    got = rows(engine, attribution_weekly, model="first_touch")
    assert [(r["channel"], r["campaign"]) for r in got] == [("earlier_id", "spring")]
    assert credits(engine)["linear"] == pytest.approx({"earlier_id": 1 / 3, "later_id": 1 / 3, "last": 1 / 3})


@pytest.mark.parametrize(
    ("stages", "expected_w"),
    [
        # O: the last touch at or before the first opportunity entry (t3); F = M = t1 (no MQL entry).
        ({"sql": 4, "opportunity": 7}, {"t1": 0.6, "t2": 0.05, "t3": 0.3, "t4": 0.05}),
        # No opportunity: the first SQL entry (t2).
        ({"sql": 4}, {"t1": 0.6, "t2": 0.3, "t3": 0.05, "t4": 0.05}),
        # Neither: O = M = F = t1.
        ({}, {"t1": 0.9, "t2": 0.1 / 3, "t3": 0.1 / 3, "t4": 0.1 / 3}),
    ],
)
def test_customer_conversions_measure_o_against_opportunity_then_sql(engine, stages, expected_w):
    with engine.begin() as conn:
        add_lead(conn, 1)
        for i, day in enumerate((1, 3, 6, 10), start=1):
            add_touch(conn, 1, at(day), f"t{i}")
        for stage, day in stages.items():
            add_stage(conn, 1, stage, at(day))
        add_stage(conn, 1, "customer", at(18))
    compute(engine)
    assert credits(engine, "customer")["w_shaped"] == pytest.approx(expected_w)
    # Revenue is credit x won amount: no won opportunity here, so 0.
    assert {r["revenue_credit"] for r in rows(engine, attribution_weekly, conversion="customer")} == {0}


def test_revenue_credit_is_credit_times_the_amounts_won_by_the_conversion(engine):
    amounts = {"before": Decimal("1000.00"), "merged": Decimal("500.00"), "after": Decimal("70.00")}
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_lead(conn, 2, merged_into=1)
        add_touch(conn, 1, at(2), "t1", campaign="spring")
        add_touch(conn, 1, at(5), "t2")
        add_stage(conn, 1, "sql", at(17))
        add_stage(conn, 1, "customer", at(18))
        # (lead, stage, amount, closed): won at or before the customer entry count, merged lead's too
        for i, (lead_id, stage, key, day) in enumerate(
            [
                (1, "won", "before", 18),
                (2, "won", "merged", 10),
                (1, "won", "after", 19),
                (1, "lost", "after", 9),
            ]
        ):
            conn.execute(
                opportunities.insert().values(
                    external_id=f"o{i}",
                    lead_id=lead_id,
                    kind="new",
                    stage=stage,
                    amount=amounts[key],
                    created_at=at(1),
                    closed_at=at(day),
                    synced_at=at(1),
                )
            )
    compute(engine)
    won = amounts["before"] + amounts["merged"]  # 1500.00
    for model, credit in credits(engine, "customer").items():
        got = {
            r["channel"]: r["revenue_credit"]
            for r in rows(engine, attribution_weekly, model=model)
            if r["conversion"] == "customer"
        }
        assert got == {
            ch: pytest.approx(Decimal(str(c)) * won, abs=Decimal("0.01")) for ch, c in credit.items()
        }
    linear = {
        r["channel"]: r["revenue_credit"]
        for r in rows(engine, attribution_weekly, model="linear")
        if r["conversion"] == "customer"
    }
    assert linear == {"t1": Decimal("750.00"), "t2": Decimal("750.00")}
    assert {r["revenue_credit"] for r in rows(engine, attribution_weekly, conversion="sql")} == {0}


# --- random funnels against an independent reference ------------------------------------------


def reference(touches, stages, conversion_at, conversion):
    """The README's definitions, written plainly: credit per channel for one conversion."""
    eligible = sorted(
        (t for t in touches if t["at"] <= conversion_at and t["eligible"]), key=lambda t: (t["at"], t["id"])
    )
    if not eligible:
        return {m: {"unattributed": 1.0} for m in ATTRIBUTION_MODELS}

    def last_before(moment):
        before = [i for i, t in enumerate(eligible) if moment is not None and t["at"] <= moment]
        return before[-1] if before else None

    f = 0
    m = last_before(stages.get("mql"))
    m = f if m is None else m
    if conversion == "sql":
        o_at = stages["sql"]
    else:
        o_at = stages.get("opportunity") or stages.get("sql")
    o = last_before(o_at)
    o = m if o is None else o
    n = len(eligible)
    out = {model: defaultdict(float) for model in ATTRIBUTION_MODELS}

    def share(weights, rest):
        keys = set(weights)
        credit = [0.0] * n
        for k, w in weights.items():
            credit[k] += w
        others = [i for i in range(n) if i not in keys]
        for i in others or sorted(keys):
            credit[i] += rest / len(others or keys)
        return credit

    for i, c in enumerate(share({f: 0.4, m: 0.4} if m != f else {f: 0.8}, 0.2)):
        out["u_shaped"][eligible[i]["channel"]] += c
    w = defaultdict(float)
    for k in (f, m, o):
        w[k] += 0.3
    for i, c in enumerate(share(dict(w), 0.1)):
        out["w_shaped"][eligible[i]["channel"]] += c
    for t in eligible:
        out["linear"][t["channel"]] += 1 / n
    out["first_touch"][eligible[0]["channel"]] += 1
    out["last_touch"][eligible[-1]["channel"]] += 1
    return out


def test_random_funnels_match_the_reference_and_sum_to_one(engine):
    rng = random.Random(14)
    channels = ["web_form", "ad_form", "email", "webinar", "file_import"]
    expected: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    conversions = defaultdict(int)
    next_id = 1000
    with engine.begin() as conn:
        for lead_id in range(1, 41):
            add_lead(conn, lead_id)
            touches = []
            for _ in range(rng.randint(0, 6)):
                next_id += 1
                kind = rng.choice(["form_fill", "form_fill", "email_click", "email_open", "page_view"])
                scored = rng.random() > 0.15
                t = {
                    "id": next_id,
                    "at": at(1) + timedelta(hours=rng.randint(0, 24 * 25)),
                    "channel": rng.choice(channels),
                    "eligible": scored and kind != "email_open",
                }
                add_touch(
                    conn, lead_id, t["at"], t["channel"], touch_type=kind, scored=scored, touch_id=next_id
                )
                touches.append(t)
            stages = {}
            clock = at(1) + timedelta(hours=rng.randint(0, 24 * 10))
            for stage in ("mql", "sql", "opportunity", "customer"):
                if rng.random() < 0.25 and stage != "mql":
                    continue  # some skip a stage
                clock += timedelta(hours=rng.randint(1, 24 * 5))
                stages[stage] = clock
                add_stage(conn, lead_id, stage, clock)
            for conversion in ("sql", "customer"):
                when = stages.get(conversion)
                if when is not None and at(16) <= when < at(23):
                    conversions[conversion] += 1
                    for model, by_channel in reference(touches, stages, when, conversion).items():
                        for channel, c in by_channel.items():
                            expected[(model, conversion)][channel] += c
    assert conversions["sql"] and conversions["customer"], "the seed should convert some leads both ways"
    compute(engine)
    got: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for r in rows(engine, attribution_weekly):
        got[(r["model"], r["conversion"])][r["channel"]] = r["credit"]
    assert set(got) == set(expected)
    for key, by_channel in expected.items():
        want = {ch: c for ch, c in by_channel.items() if c > 1e-12}
        assert got[key] == pytest.approx(want, abs=1e-9), key
        assert sum(got[key].values()) == pytest.approx(conversions[key[1]], abs=1e-9)


def test_touches_only_on_a_merged_lead_ties_at_the_mql_entry_and_a_conversion_without_touches(engine):
    # The survivor has no touch of its own: its merged lead's touches are all it has (the ordered
    # pass must not take the survivor's missing touches for a conversion without any). Two touches
    # share the MQL entry's instant: both count as at or before it, and by id the later one is M.
    # Lead 3 converts the same week without any touch: unattributed in every model.
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_lead(conn, 2, merged_into=1)
        add_lead(conn, 3)
        add_touch(conn, 2, at(2), "t_a", touch_id=10)
        add_touch(conn, 2, at(5), "t_b", touch_id=12)
        add_touch(conn, 2, at(5), "t_c", touch_id=11)  # same instant, lower id: before t_b
        add_touch(conn, 2, at(9), "t_d", touch_id=13)
        add_stage(conn, 1, "mql", at(5))  # at the instant of t_c and t_b: M = t_b
        add_stage(conn, 2, "sql", at(17))  # the merged lead's entry is lead 1's conversion; O = t_d
        add_stage(conn, 3, "sql", at(18))
    compute(engine)
    assert credits(engine) == {
        "first_touch": {"t_a": 1.0, "unattributed": 1.0},
        "last_touch": {"t_d": 1.0, "unattributed": 1.0},
        "linear": {"t_a": 0.25, "t_b": 0.25, "t_c": 0.25, "t_d": 0.25, "unattributed": 1.0},
        "u_shaped": {"t_a": 0.4, "t_b": 0.4, "t_c": 0.1, "t_d": 0.1, "unattributed": 1.0},
        "w_shaped": {"t_a": 0.3, "t_b": 0.3, "t_c": 0.1, "t_d": 0.3, "unattributed": 1.0},
    }
