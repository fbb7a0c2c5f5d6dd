"""The log filter masks email addresses in a record's message, arguments and exception text."""

from __future__ import annotations

import io
import logging

import pytest

from funnelflow.logmask import (
    MASK,
    EmailMaskingFilter,
    MaskedTraceback,
    install_log_masking,
    mask_emails,
    mask_structlog_event,
)

ADDRESS = "Jane.O'Doe+news@mail.example.co.uk"


@pytest.fixture
def captured():
    """A logger writing through the filter to a string, as a handler in a dictConfig would."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(EmailMaskingFilter())
    logger = logging.getLogger("tests.logmask")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"to {ADDRESS}.", f"to {MASK}."),
        ("a@b.io, c.d@e-f.example", f"{MASK}, {MASK}"),
        ("/unsubscribe?email=jane%40example.com&x=1", f"/unsubscribe?email={MASK}&x=1"),
        ("josé@bücher.de", MASK),
        ("no address @ all, version 1.2@", "no address @ all, version 1.2@"),
    ],
)
def test_mask_emails(text, expected):
    assert mask_emails(text) == expected


def test_message_and_args_are_masked(captured):
    logger, stream = captured
    logger.info(f"literal {ADDRESS}")
    logger.info("arg %s and %r", ADDRESS, ADDRESS)
    logger.info("mapping %(who)s", {"who": ADDRESS})
    logger.info("split %s@%s", "jane", "example.com")  # only an address once joined
    logger.info("object %s", ValueError(f"bad row {ADDRESS}"))
    logger.info("count %d, rate %.1f", 3, 0.5)
    lines = stream.getvalue().splitlines()
    assert lines == [
        f"literal {MASK}",
        f"arg {MASK} and '{MASK}'",
        f"mapping {MASK}",
        f"split {MASK}",
        f"object bad row {MASK}",
        "count 3, rate 0.5",
    ]


def test_exception_text_is_masked_with_its_cause(captured):
    logger, stream = captured
    try:
        try:
            raise KeyError(ADDRESS)
        except KeyError as exc:
            raise RuntimeError(f"insert failed [parameters: ('{ADDRESS}',)]") from exc
    except RuntimeError:
        logger.exception("write failed")
    text = stream.getvalue()
    assert ADDRESS not in text
    assert "write failed" in text and "RuntimeError: insert failed [parameters: ('<email>',)]" in text
    assert "KeyError" in text and "direct cause" in text


def test_exception_without_address_is_left_as_it_was():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", None, None)
    try:
        raise ValueError("no personal data")
    except ValueError as exc:
        record.exc_info = (ValueError, exc, exc.__traceback__)
    EmailMaskingFilter().filter(record)
    assert record.exc_info[0] is ValueError


def test_database_error_quoting_an_address_is_masked(captured, tmp_path):
    import sqlalchemy as sa

    logger, stream = captured
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("create table t (email text unique)")
        conn.execute(sa.text("insert into t values (:e)"), {"e": ADDRESS})
        with pytest.raises(sa.exc.IntegrityError) as raised:
            conn.execute(sa.text("insert into t values (:e)"), {"e": ADDRESS})
    assert ADDRESS in str(raised.value)  # the error itself quotes it ...
    logger.error("failed", exc_info=raised.value)
    logger.error("failed: %s", raised.value)
    text = stream.getvalue()
    assert "IntegrityError" in text and ADDRESS not in text  # ... the log does not


def test_stack_info_is_masked(captured):
    logger, stream = captured
    _ = ADDRESS  # the source line below shows the address in the stack
    logger.info("here", stack_info=True)  # jane@example.com
    assert "jane@example.com" not in stream.getvalue() and "here" in stream.getvalue()


def test_structlog_event_is_masked_including_rendered_exceptions():
    try:
        raise ValueError(f"dup {ADDRESS}")
    except ValueError:
        event = mask_structlog_event(
            None,
            "error",
            {
                "event": f"failed for {ADDRESS}",
                "exc_info": True,
                "detail": {"to": [ADDRESS], "n": 2},
                "exception": [{"exc_value": ADDRESS}],
            },
        )
    assert event["event"] == f"failed for {MASK}" and event["detail"] == {"to": [MASK], "n": 2}
    assert event["exception"] == [{"exc_value": MASK}]
    exc_type, exc, _ = event["exc_info"]
    assert exc_type is MaskedTraceback and ADDRESS not in str(exc) and "ValueError: dup <email>" in str(exc)


def test_install_masks_records_for_handlers_added_later():
    before = logging.getLogRecordFactory()
    try:
        install_log_masking()
        install_log_masking()  # idempotent: one wrapper, not two
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)  # no filter on it: the records arrive masked
        logger = logging.getLogger("tests.logmask.installed")
        logger.addHandler(handler)
        logger.propagate = False
        logger.warning("to %s", ADDRESS)
        logger.removeHandler(handler)
        assert stream.getvalue().strip() == f"to {MASK}"
    finally:
        logging.setLogRecordFactory(before)


def test_public_app_startup_installs_the_masking(caplog):
    from funnelflow.web.app import create_standalone_app

    before = logging.getLogRecordFactory()
    try:
        create_standalone_app()
        with caplog.at_level(logging.ERROR, logger="funnelflow.web"):
            logging.getLogger("funnelflow.web.leads").error("refused %s", ADDRESS)
        assert caplog.messages == [f"refused {MASK}"]
    finally:
        logging.setLogRecordFactory(before)
