"""``funnelflow.suppressions``: add, check (scope honoured by the send policy), list, remove."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from funnelflow import suppressions
from funnelflow.email import policy
from funnelflow.identity import email_hash

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _row(address: str, reason: str, scope: str = "all", source: str = "test") -> dict:
    return {
        "email_hash": email_hash(address),
        "reason": reason,
        "scope": scope,
        "source": source,
        "detail": None,
        "created_at": AT,
    }


def test_add_keeps_the_first_word_and_check_honours_the_scope(engine):
    bounced, marketing_only = email_hash("a@example.com"), email_hash("b@example.com")
    with engine.begin() as conn:
        assert suppressions.add(conn, [_row("a@example.com", "bounce"), _row("a@example.com", "bounce")]) == 1
        assert suppressions.add_new(conn, [_row("b@example.com", "bounce", scope="marketing")]) == {
            (marketing_only, "bounce")
        }
        assert suppressions.add(conn, [_row("a@example.com", "bounce", source="again")]) == 0
        assert suppressions.check(conn, [bounced, marketing_only], "marketing") == {
            bounced: {"bounce"},
            marketing_only: {"bounce"},
        }
        assert suppressions.check(conn, [bounced, marketing_only], "transactional") == {bounced: {"bounce"}}
        assert suppressions.having_reason(conn, [bounced, marketing_only], "bounce") == {
            bounced,
            marketing_only,
        }
        assert suppressions.counts_by_reason(conn) == {"bounce": 2}
        assert [r.source for r in suppressions.listing(conn, reason="bounce")] == ["test", "test"]

        # The send policy asks with the message's kind: a marketing-scoped bounce lets a confirmation through.
        candidates = [policy.Candidate(bounced), policy.Candidate(marketing_only)]
        assert policy.check_recipients(conn, candidates, policy.TRANSACTIONAL, AT) == [
            "suppressed:bounce",
            None,
        ]
        assert policy.check_recipients(conn, candidates, policy.MARKETING, AT) == [
            "suppressed:bounce",
            "suppressed:bounce",
        ]

        assert suppressions.remove(conn, bounced, "bounce", "test") == 1
        assert suppressions.check(conn, [bounced]) == {}


def test_an_unknown_reason_or_scope_is_refused(engine):
    with engine.begin() as conn, pytest.raises(ValueError, match="scope"):
        suppressions.add(conn, [_row("a@example.com", "bounce", scope="sms")])
    with engine.begin() as conn, pytest.raises(ValueError, match="reason"):
        suppressions.add(conn, [_row("a@example.com", "tired")])


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_policy_check_runs_without_jit_for_the_rest_of_its_transaction(engine):
    # Compiling the recipient-facts statement cost more than running it once the ledger had grown
    # (0.9 s against 0.2 s per 5,000 candidates): the check turns JIT off in its transaction only.
    with engine.begin() as conn:
        server_default = conn.exec_driver_sql("show jit").scalar()
        policy.check_recipients(
            conn, [policy.Candidate(email_hash("a@example.com"), None)], policy.MARKETING, AT
        )
        assert conn.exec_driver_sql("show jit").scalar() == "off"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("show jit").scalar() == server_default  # the next transaction: its own
