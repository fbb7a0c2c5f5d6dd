import pytest

from funnelflow.identity import email_hash, email_key, normalize_email


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("Jane.Doe+ads@gmail.com", "janedoe@gmail.com"),
        ("j.a.n.e.doe@googlemail.com", "janedoe@gmail.com"),
        ("jane+newsletter@acme.io", "jane@acme.io"),
        ("<jane@acme.io>", "jane@acme.io"),
        ("not-an-email", None),
        ("a@b@c.io", None),
        ("+tag@acme.io", None),
        ("", None),
        (None, None),
    ],
)
def test_email_key(raw, key):
    assert email_key(raw) == key


def test_hash_is_of_the_key_so_variants_share_it():
    assert email_hash("Jane.Doe+x@gmail.com") == email_hash("janedoe@gmail.com")
    assert len(email_hash("a@b.io")) == 64
    assert normalize_email(" A@B.io ") == "a@b.io"


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+49 (0)30 1234567", None, "+49301234567"),
        ("0049 89 123456", "DE", "+4989123456"),
        ("49 30 1234567", "DE", "+49301234567"),  # the calling code typed without + or 00
        ("(415) 555-2671 x12", "US", "+14155552671"),
        ("1 415 555 2671", "US", "+14155552671"),
        ("06 6982 1234", "IT", "+390669821234"),  # Italy keeps its leading zero
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("555-2671", "US", None),  # a local-only number is not E.164
        ("030 1234567", None, None),  # national form without a country
        ("12", "US", None),
        ("", "DE", None),
        (None, "DE", None),
    ],
)
def test_phone_e164_is_one_rule_for_ingestion_and_qualification(raw, country, e164):
    import phonenumbers

    from funnelflow.identity import phone_e164

    assert phone_e164(raw, country) == e164
    if e164 is not None:  # agrees with phonenumbers' full parse
        full = phonenumbers.parse(raw, country)
        assert phonenumbers.format_number(full, phonenumbers.PhoneNumberFormat.E164) == e164
