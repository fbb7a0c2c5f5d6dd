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
