import pytest

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


def test_demo_key_is_kept_in_home(funnelflow_home, monkeypatch):
    monkeypatch.delenv("FUNNELFLOW_SECRET_KEY", raising=False)
    token = make_token("confirm", 7)
    assert (funnelflow_home / "secret_key").exists()
    assert read_token("confirm", token) == 7
