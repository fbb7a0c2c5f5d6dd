"""The SendGrid Event Webhook: valid, forged, replayed and repeated posts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from funnelflow.db.schema import email_events, ingest_rejects
from funnelflow.identity import email_hash
from tests.fakes.sendgrid_webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, event

URL = "/funnelflow/sendgrid/events"


def _count(engine, table=email_events) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_valid_batch_is_stored_once_per_event_without_the_address(client, engine, webhook_env):
    events = [
        event("delivered", 1, email="Jane.Doe+news@Example.com", send_id=7),
        event("open", 2, send_id=7, sg_machine_open=True),
        event(
            "bounce",
            3,
            reason="550 5.1.1 <jane.doe@example.com>: user unknown",
            type="bounce",
            status="5.1.1",
        ),
    ]
    resp = client.post(URL, **webhook_env.post_args(events))
    assert resp.status_code == 200
    assert resp.json() == {"received": 3, "stored": 3, "rejected": 0}
    with engine.connect() as conn:
        rows = {r.sg_event_id: r for r in conn.execute(sa.select(email_events))}
    delivered = rows["ev-delivered-1"]
    assert delivered.email_hash == email_hash("jane.doe+news@example.com")
    assert delivered.send_id == 7
    assert delivered.occurred_at == datetime.fromtimestamp(events[0]["timestamp"], UTC)
    assert rows["ev-open-2"].machine_open is True
    stored_text = json.dumps([dict(r._mapping["payload"]) for r in rows.values()]) + "".join(
        r.reason or "" for r in rows.values()
    )
    assert "@" not in stored_text.replace(
        "<msg", ""
    )  # no address anywhere: payload stripped, bounce text redacted
    assert "email" not in delivered.payload
    assert delivered.payload["campaign_id"] == "welcome"


def test_repeated_posts_and_repeats_inside_a_batch_store_nothing_twice(client, engine, webhook_env):
    batch = [event("delivered", i, send_id=i) for i in range(5)]
    assert client.post(URL, **webhook_env.post_args(batch + batch[:2])).json()["stored"] == 5
    again = client.post(URL, **webhook_env.post_args(batch))
    assert again.status_code == 200 and again.json()["stored"] == 0
    assert _count(engine) == 5


def test_forged_signature_is_refused_and_nothing_stored(client, engine, webhook_env, signer):
    from tests.fakes.sendgrid_webhook import WebhookSigner

    other = WebhookSigner()
    resp = client.post(URL, **other.post_args([event("open", 1)]))
    assert resp.status_code == 403
    # A genuine signature over a different body: tampering after signing.
    args = webhook_env.post_args([event("open", 1)])
    args["content"] = args["content"].replace(b'"open"', b'"click"')
    assert client.post(URL, **args).status_code == 403
    garbage = webhook_env.post_args([event("open", 1)])
    garbage["headers"][SIGNATURE_HEADER] = "not base64 !!"
    assert client.post(URL, **garbage).status_code == 403
    assert _count(engine) == 0


def test_missing_signature_is_401(client, engine):
    resp = client.post(
        URL, content=json.dumps([event("open", 1)]), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 401
    assert _count(engine) == 0


def test_replayed_post_with_old_timestamp_is_refused(client, engine, webhook_env, monkeypatch):
    old = int(time.time()) - 2 * 86400
    resp = client.post(URL, **webhook_env.post_args([event("open", 1)], timestamp=old))
    assert resp.status_code == 403
    assert _count(engine) == 0
    future = int(time.time()) + 2 * 86400
    assert client.post(URL, **webhook_env.post_args([event("open", 1)], timestamp=future)).status_code == 403
    monkeypatch.setenv("FUNNELFLOW_SENDGRID_WEBHOOK_MAX_AGE_S", "0")  # check off: the same post is accepted
    assert client.post(URL, **webhook_env.post_args([event("open", 1)], timestamp=old)).status_code == 200
    assert _count(engine) == 1


def test_without_a_configured_key_every_post_is_refused(client, engine, webhook_env, monkeypatch):
    monkeypatch.delenv("FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY")
    resp = client.post(URL, **webhook_env.post_args([event("open", 1)]))
    assert resp.status_code == 503
    assert _count(engine) == 0


def test_malformed_items_are_set_aside_and_good_ones_kept(client, engine, webhook_env):
    items = [event("open", 1), {"email": "x@example.com", "event": "open"}, "nonsense"]
    resp = client.post(URL, **webhook_env.post_args(items))
    assert resp.json() == {"received": 3, "stored": 1, "rejected": 2}
    with engine.connect() as conn:
        rejects = conn.execute(
            sa.select(ingest_rejects.c.source, ingest_rejects.c.reason, ingest_rejects.c.raw)
        ).all()
    assert sorted(r.reason for r in rejects) == [
        "event has no numeric 'timestamp'",
        "event is a str, not an object",
    ]
    assert all(r.source == "sendgrid-events" for r in rejects)
    assert "x@example.com" not in json.dumps([r.raw for r in rejects])


def test_signed_body_that_is_not_a_json_array_is_400(client, engine, webhook_env):
    body = b'{"event": "open"}'
    assert client.post(URL, content=body, headers=webhook_env.sign(body)).status_code == 400
    body = b"not json"
    assert client.post(URL, content=body, headers=webhook_env.sign(body)).status_code == 400
    assert _count(engine) == 0


def test_timestamp_header_is_part_of_what_is_signed(client, engine, webhook_env):
    args = webhook_env.post_args([event("open", 1)])
    args["headers"][TIMESTAMP_HEADER] = str(int(args["headers"][TIMESTAMP_HEADER]) + 1)
    assert client.post(URL, **args).status_code == 403


def test_nul_characters_do_not_sink_the_batch(client, engine, webhook_env):
    items = [event("click", 1, url="https://example.com/a\u0000b", useragent="x\u0000y"), event("open", 2)]
    resp = client.post(URL, **webhook_env.post_args(items))
    assert resp.status_code == 200 and resp.json()["stored"] == 2
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(email_events.c.url).where(email_events.c.event == "click")).scalar()
            == "https://example.com/ab"
        )
