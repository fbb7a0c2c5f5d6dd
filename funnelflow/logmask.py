"""No email address in any log line: a logging filter that masks them in message, arguments and exceptions.

Addresses reach logs by accident, mostly through errors: a database error
quotes the row it refused (``[parameters: ('jane@example.com', ...)]``), a
provider echoes what it was sent. ``EmailMaskingFilter`` replaces every
address in a record (its message, its arguments, its exception and stack
text) with ``<email>``. ``install_log_masking()`` applies it to every record
the process creates, whatever handler later writes it; the public app and
``python -m funnelflow serve`` call it at startup, and every Airflow task calls
it before it runs (``funnelflow_airflow.task_logs``), which adds
``mask_structlog_event`` for the events Airflow's own task runner logs.

The domain package never imports Airflow or structlog: a structlog processor
is a plain function over a dict.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Mapping
from typing import Any

MASK = "<email>"
# Local part, "@" (or its URL encoding, as in a logged query string), a domain with at least one dot.
# "/", "=", "?" and "&" are legal in a local part but almost never used, and they delimit URLs and
# key=value pairs in log lines, so they end the match rather than swallow the text before an address;
# a quote may be inside a local part (o'neil) but does not start one, so quoting survives masking.
EMAIL_ADDRESS = re.compile(
    r"[\w!#$%*+^`{|}~-][\w.!#$%'*+^`{|}~-]*(?:@|%40)[\w](?:[\w-]*[\w])?(?:\.[\w](?:[\w-]*[\w])?)+",
    re.IGNORECASE,
)
_SCALARS = (int, float, bool, type(None))


def mask_emails(text: str) -> str:
    """``text`` with every email address replaced by ``<email>``."""
    return EMAIL_ADDRESS.sub(MASK, text)


def has_email(text: str) -> bool:
    return EMAIL_ADDRESS.search(text) is not None


class MaskedTraceback(Exception):
    """Stands in for an exception whose text quoted an address: its message is the masked traceback."""


def masked_exc_info(exc_info: Any) -> Any:
    """``exc_info`` (a tuple, an exception or True); a ``MaskedTraceback`` when its text has an address.

    The traceback is formatted once, with chained causes, then masked; an
    exception whose text has no address is returned as it was.
    """
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or len(exc_info) != 3 or exc_info[1] is None:
        return exc_info
    text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    if not has_email(text):
        return exc_info
    stand_in = MaskedTraceback(mask_emails(text))
    return (MaskedTraceback, stand_in, None)


def _mask_value(value: Any) -> Any:
    """A logged value with addresses masked; containers recursively, other objects by their text."""
    if isinstance(value, str):
        return mask_emails(value)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset) and not hasattr(value, "_fields"):
        return type(value)(_mask_value(v) for v in value)  # a named tuple falls through to its text
    try:
        text = str(value)
    except Exception:
        return value
    return mask_emails(text) if has_email(text) else value


class EmailMaskingFilter(logging.Filter):
    """Masks email addresses in a record's message, arguments, exception and stack text; never drops one.

    Usable anywhere a logging filter is (``logger.addFilter``, a handler, or a
    dictConfig ``filters`` entry ``{"()": "funnelflow.logmask.EmailMaskingFilter"}``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    if isinstance(record.msg, str):
        record.msg = mask_emails(record.msg)
    elif not isinstance(record.msg, _SCALARS):
        record.msg = _mask_value(record.msg)
    if record.args:
        if isinstance(record.args, Mapping):
            record.args = {k: _mask_value(v) for k, v in record.args.items()}
        else:
            record.args = tuple(_mask_value(a) for a in record.args)
        # An address split over the format and its arguments ("%s@%s") only shows once joined.
        try:
            message = record.getMessage()
        except Exception:
            message = ""
        if has_email(message):
            record.msg, record.args = mask_emails(message), ()
    if record.exc_info:
        record.exc_info = masked_exc_info(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_emails(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_emails(record.stack_info)
    return record


def mask_structlog_event(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the same masking for events logged through structlog (Airflow's task runner).

    Place it before the renderer. ``exc_info`` that quotes an address becomes a
    ``MaskedTraceback``; an exception already rendered to text or dicts is masked
    like every other value.
    """
    if event_dict.get("exc_info"):
        event_dict["exc_info"] = masked_exc_info(event_dict["exc_info"])
    for key, value in event_dict.items():
        if key != "exc_info":
            event_dict[key] = _mask_value(value)
    return event_dict


_FILTER = EmailMaskingFilter()


def install_log_masking() -> None:
    """Mask every log record this process creates from now on, whichever handler writes it. Idempotent.

    Done at record creation (the stdlib's record factory), not on one handler,
    so handlers configured later (uvicorn's, Airflow's) are covered too.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_emails", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(current(*args, **kwargs))

    masking_factory.masks_emails = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)
