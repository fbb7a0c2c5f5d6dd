"""SendGrid's side of the Event Webhook, for tests and the bench: a key pair, signed posts, events.

SendGrid signs ``timestamp + raw body`` with ECDSA P-256/SHA-256 and shows the
public key (base64 DER) in its mail settings; ``WebhookSigner`` does the same
with a key made on the spot, so the app is tested with the real verification.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


class WebhookSigner:
    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode(
            "ascii"
        )  # what FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY holds

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: ts,
            "Content-Type": "application/json",
        }

    def post_args(self, events: list[dict[str, Any]], timestamp: int | None = None) -> dict[str, Any]:
        body = json.dumps(events).encode()
        return {"content": body, "headers": self.sign(body, timestamp)}


def event(
    kind: str,
    n: int,
    email: str = "person@example.com",
    send_id: int | None = None,
    at: int = 1_795_000_000,
    **extra: Any,
) -> dict[str, Any]:
    """One event as SendGrid posts it (custom_args at the top level)."""
    item: dict[str, Any] = {
        "email": email,
        "timestamp": at,
        "event": kind,
        "sg_event_id": f"ev-{kind}-{n}",
        "sg_message_id": f"msg{n}.filter0001.1234.5678",
        "campaign_id": "welcome",
        "smtp-id": f"<msg{n}@example.net>",
    }
    if send_id is not None:
        item["send_id"] = str(send_id)
    item.update(extra)
    return item
