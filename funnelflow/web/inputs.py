"""What the public app accepts from the internet, checked before anything else sees it.

Every public form (the lead form now; campaign offers, webinar registrations and
sales pages later) reads its body with ``read_form``: the body is read only up to
its cap, parsed as JSON or a browser form post without recursion or non-standard
numbers, and validated by a ``PublicForm`` model whose text fields refuse
characters no person types into a form (NUL and other control characters, line
separators, lone surrogates). Each refusal is a 4xx that names the problem, never
a 500, and never echoes the value. The SendGrid webhook reads its body with
``read_capped`` and ``parse_json`` too; its items are checked one by one with
``json_problem`` so one bad event is set aside without failing the batch.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.responses import JSONResponse

# Deep enough for every shape we accept (a form is flat, a SendGrid event two levels).
MAX_JSON_DEPTH = 16
# C0 and C1 controls (NUL, CR, LF, tab, ESC...), DEL, and the Unicode line and paragraph separators.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A surrogate code point on its own: valid in a Python str, but not text
# (UTF-8, PostgreSQL and SQLite refuse it).
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class InputRefused(ValueError):
    """A request body we do not accept; ``status`` is the HTTP answer, the message says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def text_problem(value: str) -> str | None:
    """Why ``value`` is not single-line text a person could have typed, or None."""
    if _SURROGATE_RE.search(value):
        return "contains a character that is not valid Unicode"
    control = _CONTROL_RE.search(value)
    if control:
        return f"contains a control character (U+{ord(control.group()):04X})"
    return None


def has_lone_surrogate(value: str) -> bool:
    return _SURROGATE_RE.search(value) is not None


class NonFinite(str):
    """A ``NaN``/``Infinity`` literal: Python's json accepts them, JSON and PostgreSQL do not."""


def scalar_problem(value: Any, check_text: bool = True) -> str | None:
    """Why a parsed JSON scalar cannot be stored (NaN/Infinity, a lone surrogate), or None."""
    if isinstance(value, str):
        if isinstance(value, NonFinite):
            return f"holds the number {value}, which JSON does not allow"
        if check_text and not value.isascii() and has_lone_surrogate(value):
            return "holds text that is not valid Unicode (a lone surrogate)"
    elif isinstance(value, float) and not math.isfinite(value):  # 1e400 parses as inf
        return f"holds the number {value}, which JSON does not allow"
    return None


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH, check_text: bool = True) -> str | None:
    """Why parsed JSON ``value`` cannot be stored as it is, or None.

    Iterative, so a deeply nested value costs no stack: nested deeper than
    ``max_depth``, a NaN/Infinity, or (``check_text``) a key or string with a
    lone surrogate.
    """
    if not isinstance(value, dict | list):
        return scalar_problem(value, check_text)
    stack: list[tuple[dict | list, int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            return f"is nested deeper than {max_depth} levels"
        if isinstance(container, dict):
            if check_text:
                for key in container:
                    if not key.isascii() and has_lone_surrogate(key):
                        return "holds a key that is not valid Unicode (a lone surrogate)"
            children = container.values()
        else:
            children = container
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif child is not None and not isinstance(child, bool | int):
                problem = scalar_problem(child, check_text)
                if problem:
                    return problem
    return None


def parse_json(body: bytes) -> Any:
    """The JSON in ``body``; ``InputRefused(400)`` for anything the standard parser cannot read safely.

    NaN and Infinity come back as ``NonFinite`` strings (``json_problem`` names them);
    nesting deep enough to exhaust the parser's recursion is refused as a whole.
    """
    try:
        return json.loads(body, parse_constant=NonFinite)
    except RecursionError:
        raise InputRefused(400, "body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError, too many digits, bad UTF-8
        raise InputRefused(400, "body is not valid JSON") from None


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, reading no more than ``limit`` bytes of it; ``InputRefused(413)`` past that.

    A declared Content-Length over the limit is refused before reading; a chunked
    body is read chunk by chunk and abandoned as soon as it passes the limit.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InputRefused(413, f"request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise InputRefused(413, f"request body larger than {limit} bytes")
    return bytes(body)


class PublicForm(BaseModel):
    """Base of every public form: unknown fields refused, text fields single-line and valid Unicode."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise ValueError(problem)
        return value


def _form_fields(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        data = parse_json(body or b"null")
        if not isinstance(data, dict):
            raise InputRefused(400, "body must be a JSON object")
        # A form is flat (a list value is as deep as it gets); its values' text is the model's to judge,
        # so the 422 names the field. A field name is checked here: it is echoed in that 422.
        problem = json_problem(data, max_depth=2, check_text=False)
        if problem:
            raise InputRefused(400, f"body {problem}")
        if any(text_problem(key) for key in data):
            raise InputRefused(400, "body has a field name with a control character or invalid Unicode")
        return data
    if content_type.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qs

        try:
            pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise InputRefused(400, "form body is not UTF-8") from None
        data: dict[str, Any] = {k: v[-1] for k, v in pairs.items()}
        if "consent" in data:  # an HTML checkbox sends "on"/"true" when ticked
            data["consent"] = str(data["consent"]).strip().lower() in {"on", "true", "1", "yes"}
        return {k: (None if v == "" else v) for k, v in data.items()}
    raise InputRefused(415, "send application/json or application/x-www-form-urlencoded")


FormT = TypeVar("FormT", bound=PublicForm)


def problem_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    from fastapi.responses import JSONResponse

    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def read_form(request: Request, model: type[FormT], max_bytes: int) -> FormT | JSONResponse:
    """The posted form validated by ``model``, or the 4xx answer that says what is wrong with it."""
    try:
        body = await read_capped(request, max_bytes)
        data = _form_fields(body, request.headers.get("content-type", "").lower())
    except InputRefused as refused:
        return problem_response(refused.status, refused.reason)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return problem_response(
            422, [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        )
