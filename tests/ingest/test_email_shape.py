import pytest

from funnelflow.ingest.normalize import email_facts


@pytest.mark.parametrize(
    "raw",
    [
        "r..ebecca.price@bodensee.io",
        ".jane@acme.io",
        "jane.@acme.io",
        "jane@acme.com.",
        "jane@@acme.io",
        "jane doe@acme.io",
        "jane@acme",
    ],
)
def test_malformed_addresses_have_no_key(raw):
    assert email_facts(raw)[1] is None


@pytest.mark.parametrize(
    ("raw", "key"), [(" Jane.Doe+x@GMAIL.com ", "janedoe@gmail.com"), ("o'brien@acme.ie", "o'brien@acme.ie")]
)
def test_good_addresses_get_their_key(raw, key):
    assert email_facts(raw)[1] == key
