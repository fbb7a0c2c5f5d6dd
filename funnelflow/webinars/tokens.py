"""The signed links of webinar emails: one-click registration (webinar and lead) and cancellation."""

from __future__ import annotations

from funnelflow.email import tokens


def invitation_token(slug: str, lead_id: int) -> str:
    return tokens.make_scoped_token("webinar_invite", slug, lead_id)


def read_invitation_token(token: str) -> tuple[str, int]:
    return tokens.read_scoped_token("webinar_invite", token)


def cancel_token(registration_id: int) -> str:
    return tokens.make_token("webinar_cancel", registration_id)


def read_cancel_token(token: str) -> int:
    return tokens.read_token("webinar_cancel", token)
