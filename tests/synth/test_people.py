"""True identities: unique keys, names and phones as people in each country write them."""

from __future__ import annotations

import phonenumbers
import pytest

from funnelflow.identity import email_key
from funnelflow.synth import vocab
from funnelflow.synth.people import PEOPLE_COLUMNS, email_key_fast, generate_people, iter_people
from funnelflow.synth.reference import load_companies


@pytest.fixture(scope="module")
def people():
    return generate_people(6000, seed=11)


def test_columns_and_determinism(people):
    assert tuple(people.columns) == PEOPLE_COLUMNS
    again = generate_people(6000, seed=11)
    assert people.equals(again)
    assert not people.equals(generate_people(6000, seed=12))


def test_email_keys_unique_and_match_identity(people):
    keys = [email_key(e) for e in people["email"]]
    assert None not in keys
    assert len(set(keys)) == len(keys)
    assert keys == [email_key_fast(*e.split("@")) for e in people["email"]]
    assert (people["email"] == people["email"].str.lower()).all()


def test_keys_unique_across_blocks_and_taken_keys_avoided():
    first = generate_people(300, seed=1, block_size=100)
    taken = {email_key(e) for e in first["email"]}
    again = next(iter_people(300, seed=1, block_size=100, taken=set(taken)))
    assert not {email_key(e) for e in again["email"]} & taken


def test_people_work_at_universe_companies_with_some_free_mail(people):
    companies = load_companies()
    assert people["company_domain"].isin(companies["domain"]).all()
    business = people[~people["free_mail"]]
    assert (business["email_domain"] == business["company_domain"]).all()
    free_share = people["free_mail"].mean()
    assert 0.1 < free_share < 0.2
    assert set(people.loc[people["free_mail"], "email_domain"]) <= {d for d, _ in vocab.FREE_MAIL_DOMAINS}


def test_names_are_multilingual_with_accents(people):
    names = set(people["first_name"]) | set(people["last_name"])
    assert any(ch in "".join(names) for ch in "üöäéèçñøå")
    assert any("'" in n for n in names)  # O'Brien, d'Arcy
    assert vocab.ascii_slug("Müller") == "mueller" and vocab.ascii_slug("O'Brien") == "obrien"
    assert vocab.ascii_slug("Zoë") == "zoe" and vocab.ascii_slug("François") == "francois"
    assert people["job_title"].str.contains("Student|Intern|Werkstudent").any()


def test_phones_parse_to_their_e164_in_the_persons_country(people):
    with_phone = people[people["phone"].notna()].head(2000)
    assert len(with_phone) > 1000
    agree = 0
    for phone, e164, country in zip(
        with_phone["phone"], with_phone["phone_e164"], with_phone["country"], strict=True
    ):
        parsed = phonenumbers.parse(phone, country)
        agree += (
            phonenumbers.is_valid_number(parsed)
            and phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == e164
        )
    # Nearly all are valid numbers whose E.164 is what phonenumbers computes; a few are not, as in life.
    assert agree / len(with_phone) > 0.93
    assert people["phone_e164"].dropna().str.fullmatch(r"\+\d{8,15}").all()
