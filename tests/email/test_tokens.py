import pytest

from funnelflow.email import tokens
from funnelflow.email.tokens import InvalidToken, make_token, read_token


def test_token_round_trip_and_tamper(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "k1")
    token = make_token("unsubscribe", 41)
    assert read_token("unsubscribe", token) == 41
    forged = token.replace(".41.", ".42.")
    with pytest.raises(InvalidToken):
        read_token("unsubscribe", forged)
    with pytest.raises(InvalidToken):
        read_token("confirm", token)  # a token for one purpose never works for another
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "k2")
    with pytest.raises(InvalidToken):
        read_token("unsubscribe", token)
    assert "@" not in token


def test_a_token_maker_writes_what_make_token_writes_and_read_token_reads(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "k1")
    for purpose in tokens.PURPOSES:
        make = tokens.token_maker(purpose)
        for subject_id in (0, 7, 2**63 - 1):
            assert make(subject_id) == make_token(purpose, subject_id)
            assert read_token(purpose, make(subject_id)) == subject_id
    with pytest.raises(ValueError, match="unknown token purpose"):
        tokens.token_maker("nope")


def test_demo_key_is_kept_in_home(funnelflow_home, monkeypatch):
    monkeypatch.delenv("FUNNELFLOW_SECRET_KEY", raising=False)
    token = make_token("confirm", 7)
    assert (funnelflow_home / "secret_key").exists()
    assert read_token("confirm", token) == 7


def test_only_the_canonical_spelling_of_a_token_is_accepted(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "k1")
    token = make_token("unsubscribe", 8)
    kind, _, sig = token.split(".")
    assert read_token("unsubscribe", f"{kind}.8.{sig}") == 8
    for other_id in ("+08", "08", "+8", " 8", "8 ", "8_", "\uff18", "\u0668"):  # fullwidth and Arabic-Indic 8
        with pytest.raises(InvalidToken):
            read_token("unsubscribe", f"{kind}.{other_id}.{sig}")
    with pytest.raises(InvalidToken):
        read_token("unsubscribe", token + "\n")


@pytest.mark.parametrize(
    "signature",
    ["é" * 24, "ÿ" * 24, "\udc80" * 24, "a" * 23 + "é", "=" * 24],
    ids=["latin1", "latin1-high", "surrogate", "one-char", "padding"],
)
def test_a_signature_that_is_not_ascii_base64_is_invalid_not_an_error(monkeypatch, signature):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "k1")
    with pytest.raises(InvalidToken):
        read_token("confirm", f"1.7.{signature}")


def test_an_id_beyond_the_database_range_is_invalid(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "k1")
    assert read_token("confirm", make_token("confirm", 2**63 - 1)) == 2**63 - 1
    with pytest.raises(InvalidToken):
        read_token("confirm", make_token("confirm", 2**63))


def test_scoped_tokens_name_their_scope_and_purpose(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "k1")
    maker = tokens.scoped_token_maker("offer")
    token = maker("news-2026", 42)
    assert token == tokens.make_scoped_token("offer", "news-2026", 42)
    assert tokens.read_scoped_token("offer", token) == ("news-2026", 42)
    kind, scope, subject, signature = token.split(".")
    for forged in (
        f"{kind}.news-2027.{subject}.{signature}",  # another campaign
        f"{kind}.{scope}.43.{signature}",  # another lead
        tokens.make_scoped_token("webinar_invite", "news-2026", 42),  # another purpose, same scope
    ):
        with pytest.raises(tokens.InvalidToken):
            tokens.read_scoped_token("offer", forged)
    for scope, subject_id in (("Not A Slug", 1), ("news-2026", -1), ("news-2026", tokens.MAX_SUBJECT_ID + 1)):
        with pytest.raises(ValueError):
            maker(scope, subject_id)
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "k2")  # another key: the token no longer reads
    with pytest.raises(tokens.InvalidToken):
        tokens.read_scoped_token("offer", token)
