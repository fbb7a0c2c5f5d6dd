"""The SendGrid Event Webhook: valid, forged, replayed and repeated posts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
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


def _signed(webhook_env, body: bytes) -> dict:
    return {"content": body, "headers": webhook_env.sign(body)}


def _rejects(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(ingest_rejects.c.line_number, ingest_rejects.c.reason, ingest_rejects.c.raw)
            .where(ingest_rejects.c.source == "sendgrid-events")
            .order_by(ingest_rejects.c.line_number)
        ).all()


def test_one_malformed_event_is_set_aside_and_the_rest_of_the_batch_stored(client, engine, webhook_env):
    good = [
        event("bounce", 1, send_id=7, type="bounce", status="5.1.1", reason="550 5.1.1 user unknown"),
        event("delivered", 2, send_id=8),
    ]
    bad = [
        json.dumps(event("open", 3, send_id=2**70)),  # past BIGINT: the whole batch failed before
        json.dumps(event("open", 4, send_id=-5)),
        json.dumps(event("open", 5, send_id="12abc")),
        json.dumps(event("click", 6, url="https://example.com/x"))[:-1] + ', "useragent": "a\\ud800b"}',
        json.dumps(event("open", 7))[:-1] + ', "ip": NaN}',
        json.dumps(event("open", 8))[:-1] + ', "score": 1e400}',
        json.dumps(event("open", 9))[:-1] + ', "deep": ' + "[" * 300 + "]" * 300 + "}",
        json.dumps(event("open", 10, email="jane\udc80@example.com")),  # hashing it would fail
    ]
    body = ("[" + ", ".join([json.dumps(good[0]), *bad, json.dumps(good[1])]) + "]").encode()
    resp = client.post(URL, **_signed(webhook_env, body))
    assert resp.status_code == 200
    assert resp.json() == {"received": 10, "stored": 2, "rejected": 8}
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(email_events.c.sg_event_id)).scalars())
    assert stored == {"ev-bounce-1", "ev-delivered-2"}
    rejects = _rejects(engine)
    assert [(r.line_number, r.reason) for r in rejects] == [
        (2, "event 'send_id' is out of range"),
        (3, "event 'send_id' is not an id (digits only)"),
        (4, "event 'send_id' is not an id (digits only)"),
        (5, "event holds text that is not valid Unicode (a lone surrogate)"),
        (6, "event holds the number NaN, which JSON does not allow"),
        (7, "event holds the number inf, which JSON does not allow"),
        (8, "event is nested deeper than 8 levels"),
        (9, "event holds text that is not valid Unicode (a lone surrogate)"),
    ]
    kept = json.dumps([r.raw for r in rejects])
    assert "person@example.com" not in kept  # set aside without the address
    assert (
        rejects[3].raw["item"]["useragent"] == "a?b" and rejects[0].raw["item"]["sg_event_id"] == "ev-open-3"
    )


def test_a_row_the_database_still_refuses_is_set_aside_alone(client, engine, webhook_env, monkeypatch):
    """Should a value get past the checks and the database refuse the batch, each row is tried alone."""
    from funnelflow.email import events as events_module

    real = events_module._send_id
    monkeypatch.setattr(events_module, "_send_id", lambda v: 2**70 if v == "666" else real(v))
    items = [event("delivered", 1, send_id=5), event("open", 2, send_id=666), event("bounce", 3, send_id=6)]
    resp = client.post(URL, **webhook_env.post_args(items))
    assert resp.status_code == 200
    assert resp.json() == {"received": 3, "stored": 2, "rejected": 1}
    [reject] = _rejects(engine)
    assert reject.line_number == 2 and reject.reason.startswith("event refused by the database (")
    assert _count(engine) == 2


@pytest.mark.parametrize(
    "body",
    [b"[" * 200_000 + b"]" * 200_000, b'[{"event": "open", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]"],
    ids=["nested-array", "nested-in-an-event"],
)
def test_a_signed_body_nested_past_what_the_parser_can_read_is_400(client, engine, webhook_env, body):
    resp = client.post(URL, **_signed(webhook_env, body))
    assert resp.status_code == 400 and resp.json() == {"error": "body is nested too deeply"}
    assert _count(engine) == 0


async def _post_chunked(
    app, path: str, headers: dict[str, str], chunk: bytes, chunks: int
) -> tuple[int, int]:
    """Post ``chunks`` chunks of ``chunk`` as a chunked body (no Content-Length), straight to the ASGI app.

    Returns (status, bytes the app consumed before answering): the test client would read the whole
    generator up front, hiding how much the app itself reads.
    """
    consumed = 0
    sent = 0
    status = 0

    async def receive():
        nonlocal consumed, sent
        if sent >= chunks:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent += 1
        consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"transfer-encoding", b"chunked")],
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return status, consumed


def test_a_chunked_body_is_read_no_further_than_the_limit(engine, webhook_env):
    import asyncio

    from funnelflow.web.app import create_standalone_app
    from funnelflow.web.sendgrid_events import MAX_BODY_BYTES

    app = create_standalone_app(engine)
    chunk = b"x" * 65_536
    chunks = 3 * MAX_BODY_BYTES // len(chunk)  # 48 MB offered
    signed = webhook_env.sign(b"[]")
    status, consumed = asyncio.run(_post_chunked(app, URL, signed, chunk, chunks))
    assert status == 413
    assert MAX_BODY_BYTES < consumed <= MAX_BODY_BYTES + len(chunk)
    # Without signature headers nothing of the body is read at all.
    status, consumed = asyncio.run(
        _post_chunked(app, URL, {"Content-Type": "application/json"}, chunk, chunks)
    )
    assert status == 401 and consumed == 0
    assert _count(engine) == 0


def test_every_webhook_answer_carries_the_security_headers(client, webhook_env):
    for resp in (
        client.post(URL, **webhook_env.post_args([event("open", 1)])),
        client.post(URL, content=b"[]"),
    ):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert "server" not in resp.headers
