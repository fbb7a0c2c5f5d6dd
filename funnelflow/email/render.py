"""Render emails from ``templates/email/``: subject, HTML (CSS inlined) and plain text.

Every message is three templates: ``<name>.subject.txt``, ``<name>.html`` and
``<name>.txt`` (the last two extend the shared ``base`` layout, whose footer
carries the sender's postal address and, for marketing, the unsubscribe link).
Autoescaping is on for HTML and ``StrictUndefined`` makes a missing variable an
error at render time rather than a blank in someone's inbox.

For batched sends the per-recipient values are not known to Jinja2: the
template is rendered once with placeholder tags (``-ff_first_name_h-`` in HTML,
``-ff_first_name_t-`` in text and subject) and SendGrid substitutes each
recipient's value. Substitutions bypass Jinja2's escaping, so the HTML value
is escaped here (``substitutions_for``) and the text value is kept plain.

Headers: ``header_safe`` is the one function that makes a value fit for a mail
header (subject, display names, any header a transport sets): line and
paragraph breaks and other control characters become one space. A personal
value reaches a subject only through it: rendering passes the subject
template header-safe values, a batched recipient whose subject value is not
header-safe gets their own header-safe subject (``send``), and every transport
runs the headers it writes through it again. ``personal_text`` also caps a value
that is echoed into an email (a first name) at a sane length.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
import jinja2
from markupsafe import escape

from funnelflow import settings

TEMPLATES_DIR = settings.REPO_ROOT / "templates" / "email"

_TAG = re.compile(r"^[a-z][a-z0-9_]*$")
# Everything that may end or break a header line, or that has no business in one: C0 controls
# (CR, LF, tab, VT, FF, NUL, the FS/GS/RS separators ...), DEL, C1 controls (NEL U+0085 ...),
# and Unicode's line and paragraph separators (U+2028, U+2029). With the blanks around them.
_UNSAFE_CHARS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"
_HEADER_UNSAFE = re.compile(f"\\s*[{_UNSAFE_CHARS}]+\\s*")
_HEADER_UNSAFE_CHAR = re.compile(f"[{_UNSAFE_CHARS}]")  # finding one is all a check needs (fast)
_BLANKS = re.compile(r"\s+")
NAME_MAX_CHARS = 40  # a first name echoed into an email: enough for real names, too short for a pitch


def header_safe(value: object) -> str:
    """``value`` as one header line: each run of line breaks or control characters becomes one space."""
    text = "" if value is None else str(value)
    if not has_unsafe_header_chars(text):
        return text
    return _HEADER_UNSAFE.sub(" ", text).strip()


def has_unsafe_header_chars(value: str) -> bool:
    # isprintable() is a fast C loop and true for nearly every value; the regex decides the rest
    # (no-break and zero-width spaces are not printable, yet harmless in a header).
    return not value.isprintable() and _HEADER_UNSAFE_CHAR.search(value) is not None


def personal_text(value: object, max_chars: int = NAME_MAX_CHARS) -> str:
    """A personal value typed by anyone (a first name) as it may be echoed into an email.

    One line, blanks collapsed, at most ``max_chars`` characters (cut with "…"): a
    confirmation email that goes to whatever address a form was given must not
    repeat arbitrary text at length.
    """
    text = "" if value is None else str(value)
    if not (text.isprintable() and "  " not in text and text == text.strip()):  # else it is as it should be
        text = _BLANKS.sub(" ", header_safe(text)).strip()
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


class TemplateError(ValueError):
    """A template is missing, broken or was given the wrong variables."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def _autoescape(name: str | None) -> bool:
    return bool(name) and name.endswith(".html")


@functools.lru_cache(maxsize=4)
def environment(templates_dir: Path = TEMPLATES_DIR) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=False,
    )


@functools.lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # keep_style_tags: media queries and client fallbacks survive for clients that read <style>.
    return css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def sender_context() -> dict[str, str]:
    """What every template may use: the sender's name and postal address (CAN-SPAM footer)."""
    return {
        "sender_name": settings.env("FUNNELFLOW_FROM_NAME", "funnelflow") or "funnelflow",
        "postal_address": settings.env(
            "FUNNELFLOW_POSTAL_ADDRESS", "funnelflow demo, 1 Example Street, Springfield, USA"
        )
        or "",
    }


def render(template: str, context: dict[str, Any], templates_dir: Path = TEMPLATES_DIR) -> Rendered:
    """Render ``template``'s subject, HTML and text parts with ``context`` (plus the sender context)."""
    env = environment(templates_dir)
    ctx = {**sender_context(), **context}
    # The subject is a header: every value it may show is made header-safe first.
    subject_ctx = {k: header_safe(v) if isinstance(v, str) else v for k, v in ctx.items()}
    try:
        subject = env.get_template(f"{template}.subject.txt").render(subject_ctx).strip()
        html = env.get_template(f"{template}.html").render({**ctx, "subject": subject})
        text = env.get_template(f"{template}.txt").render(ctx).strip() + "\n"
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"email template {exc.name!r} not found in {templates_dir}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"email template {template!r}: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"email template {exc.name or template!r} line {exc.lineno}: {exc.message}"
        ) from None
    if has_unsafe_header_chars(subject):  # the values are safe: the template itself breaks the line
        raise TemplateError(f"email template {template!r}: the subject renders to more than one line")
    if not subject:
        raise TemplateError(f"email template {template!r}: the subject renders empty")
    return Rendered(subject=subject, html=_inliner().inline(html), text=text)


def html_tag(name: str) -> str:
    return f"-ff_{name}_h-"


def text_tag(name: str) -> str:
    return f"-ff_{name}_t-"


def render_with_tags(
    template: str,
    context: dict[str, Any],
    per_recipient: tuple[str, ...],
    templates_dir: Path = TEMPLATES_DIR,
) -> Rendered:
    """Render once for a whole batch, leaving a substitution tag where each per-recipient value goes.

    The tags contain nothing HTML or CSS would change, so they survive escaping and inlining.
    The subject uses the text tags (a subject is plain text).
    """
    for name in per_recipient:
        if not _TAG.match(name):
            raise TemplateError(f"per-recipient variable {name!r} must be lower_snake_case")
    html_ctx = {**context, **{n: html_tag(n) for n in per_recipient}}
    text_ctx = {**context, **{n: text_tag(n) for n in per_recipient}}
    as_html = render(template, html_ctx, templates_dir)
    as_text = render(template, text_ctx, templates_dir)
    return Rendered(subject=as_text.subject, html=as_html.html, text=as_text.text)


def subject_names(tagged: Rendered, per_recipient: tuple[str, ...]) -> tuple[str, ...]:
    """The per-recipient values a tagged subject shows (only those need a subject substitution)."""
    return tuple(n for n in per_recipient if text_tag(n) in tagged.subject)


@functools.lru_cache(maxsize=256)
def _tags(name: str) -> tuple[str, str]:
    return html_tag(name), text_tag(name)


def substitutions_for(values: dict[str, str]) -> dict[str, str]:
    """SendGrid substitutions for one recipient: escaped for the HTML part, plain for text and subject.

    Called per recipient (a million per campaign): the tags come from a cache, and a value without any
    of the five characters HTML escaping replaces is its own escaped form (no Markup object made).
    """
    subs: dict[str, str] = {}
    for name, value in values.items():
        plain = "" if value is None else str(value)
        html, text = _tags(name)
        if "&" in plain or "<" in plain or ">" in plain or '"' in plain or "'" in plain:
            subs[html] = str(escape(plain))
        else:
            subs[html] = plain
        subs[text] = plain
    return subs


def own_subject(tagged_subject: str, substitutions: dict[str, str]) -> str:
    """One recipient's subject, substituted here and made header-safe (for a value that is not)."""
    return header_safe(apply_substitutions(tagged_subject, substitutions))


def apply_substitutions(text: str, substitutions: dict[str, str]) -> str:
    """What SendGrid does with substitutions, for transports that deliver themselves (outbox, SMTP)."""
    if not substitutions:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(substitutions, key=len, reverse=True)))
    return pattern.sub(lambda m: substitutions[m.group(0)], text)
