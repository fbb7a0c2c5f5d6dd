"""Messy arrivals: the configured rates are honoured and every kind of mess is really there."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from funnelflow.identity import email_key
from funnelflow.synth import vocab
from funnelflow.synth.arrivals import EXPORT_COLUMNS, MessRates, make_arrivals

UNTIL = datetime(2026, 11, 23, 12, tzinfo=UTC)
# Strict enough that none of the broken shapes pass, loose enough for every clean address.
VALID = re.compile(r"^[a-z0-9_'+-]+(\.[a-z0-9_'+-]+)*@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")


@pytest.fixture(scope="module")
def arrivals():
    return make_arrivals(10_000, seed=5, until=UNTIL)


def test_deterministic_for_a_seed(arrivals):
    assert arrivals.equals(make_arrivals(10_000, seed=5, until=UNTIL))
    other = make_arrivals(10_000, seed=6, until=UNTIL)
    assert not arrivals["email"].equals(other["email"])


def test_columns(arrivals):
    assert tuple(c for c in arrivals.columns if not c.startswith("_")) == EXPORT_COLUMNS
    assert len(arrivals) == 10_000


@pytest.mark.parametrize(("repeat_rate", "broken_rate"), [(0.05, 0.02), (0.2, 0.1), (0.0, 0.0)])
def test_rates_are_honoured(repeat_rate, broken_rate):
    frame = make_arrivals(10_000, seed=9, repeat_rate=repeat_rate, broken_rate=broken_rate, until=UNTIL)
    mess = frame["_mess"]
    assert abs((mess == "repeat").mean() - repeat_rate) < 0.005
    assert abs((mess == "broken").mean() - broken_rate) < 0.005
    # Independently of the labels: count addresses no validator would accept.
    emails = frame["email"].dropna().str.strip().str.lower()
    invalid = (~emails.map(lambda e: bool(VALID.match(e)))).sum()
    assert abs(invalid / len(frame) - broken_rate) < 0.005


def test_broken_addresses_are_all_invalid(arrivals):
    broken = arrivals.loc[arrivals["_mess"] == "broken", "email"]
    assert len(broken) == 200
    assert not broken.map(lambda e: bool(VALID.match(e.strip().lower()))).any()
    shapes = " ".join(broken)
    assert "@@" in shapes and " " in shapes
    assert broken.str.endswith(".").any() and (~broken.str.contains("@")).any()


def test_repeats_share_the_email_key_of_their_original(arrivals):
    repeats = arrivals[arrivals["_mess"] == "repeat"]
    originals = arrivals[arrivals["_mess"] != "repeat"].drop_duplicates("_person").set_index("_person")
    assert len(repeats) == 500
    kinds = set()
    for person, email in zip(repeats["_person"], repeats["email"], strict=True):
        original = originals.loc[person, "email"]
        if originals.loc[person, "_mess"] != "":
            continue  # the original's address was made unusable on purpose
        assert email_key(email) == email_key(original)
        if email != original:
            kinds.add(
                "upper"
                if email == original.upper()
                else "plus"
                if "+" in email
                else "padded"
                if email != email.strip()
                else "dots"
                if "gmail" in email
                else "case"
            )
    assert {"upper", "plus", "padded"} <= kinds


def test_other_mess_is_present(arrivals):
    emails = arrivals["email"].dropna()
    domains = emails.str.split("@").str[-1]
    assert domains.isin(vocab.DISPOSABLE_DOMAINS).sum() == 50
    assert emails.str.split("@").str[0].isin(vocab.ROLE_LOCAL_PARTS).sum() >= 50
    assert domains.isin({d for d, _ in vocab.FREE_MAIL_DOMAINS}).mean() > 0.1
    no_email = arrivals[arrivals["email"].isna()]
    assert (no_email["_mess"] == "missing_email").sum() == 40
    assert no_email.loc[no_email["_mess"] == "missing_email", "phone"].notna().all()
    assert no_email.loc[no_email["_mess"] == "no_contact", "phone"].isna().all()
    text = arrivals[["first_name", "last_name", "company"]].fillna("").astype(str)
    joined = text.apply(" ".join, axis=1)
    assert joined.str.contains("<script>|<b>|<img", regex=True).any()
    assert text.apply(lambda col: col.str.match(r"^[=+@-]")).any().any()
    assert arrivals["company"].dropna().str.contains("\n").any()
    assert arrivals["first_name"].dropna().str.match(r"^\s|.*\s$").any()
    assert arrivals["first_name"].isna().any() and arrivals["company"].isna().any()


def test_custom_mess_rates_and_bad_rates():
    quiet = make_arrivals(
        2000,
        seed=1,
        until=UNTIL,
        rates=MessRates(
            disposable=0,
            role=0,
            missing_email=0,
            no_contact=0,
            missing_field=0,
            whitespace=0,
            html=0,
            formula=0,
            newline=0,
        ),
        repeat_rate=0,
        broken_rate=0,
    )
    assert (quiet["_mess"] == "").all()
    assert quiet["email"].map(lambda e: bool(VALID.match(e))).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        make_arrivals(10, repeat_rate=1.5)


def test_timestamps_before_until(arrivals):
    assert (arrivals["registered_at"] < UNTIL).all()
    joined = arrivals["joined_at"].dropna()
    assert (joined < UNTIL).all() and len(joined) > 1000
