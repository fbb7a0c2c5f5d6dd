"""Rendering: strict variables, escaping, inlined CSS, text part, footer, and batch-equivalence."""

from __future__ import annotations

import pytest

from funnelflow.email import render

NASTY = "<script>alert('x')</script> & \"Bob\""
CONTEXT = {
    "first_name": NASTY,
    "start_url": "https://example.com/guide",
    "unsubscribe_url": "https://u.example/1",
}


def test_missing_variable_is_an_error_not_a_blank():
    with pytest.raises(render.TemplateError, match="start_url"):
        render.render("welcome", {"first_name": "Ada", "unsubscribe_url": "https://u.example/1"})


def test_missing_template_names_itself():
    with pytest.raises(render.TemplateError, match="nope.subject.txt"):
        render.render("nope", {})


def test_html_escapes_text_stays_plain_css_inlined_footer_has_address():
    out = render.render("welcome", CONTEXT)
    assert "<script>" not in out.html
    # The inliner re-serializes HTML: quotes in text need no entity, < > & always do.
    assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"Bob\"" in out.html
    assert NASTY in out.text  # the text part is not HTML: no entities there
    assert out.subject == f"Welcome to funnelflow, {NASTY}"
    assert 'style="' in out.html and "<p style=" in out.html  # CSS inlined onto elements
    assert (
        "Acme Inc, 500 Test Road, Testville" in out.html and "Acme Inc, 500 Test Road, Testville" in out.text
    )
    assert "https://u.example/1" in out.html and "Unsubscribe: https://u.example/1" in out.text


def test_transactional_footer_has_no_unsubscribe_but_keeps_the_address():
    out = render.render("confirm", {"first_name": "Ada", "confirm_url": "https://c.example/1"})
    assert "nsubscribe" not in out.html and "nsubscribe" not in out.text
    assert "Acme Inc" in out.html and "https://c.example/1" in out.text


def test_batched_rendering_with_substitutions_equals_rendering_per_person():
    per_person = ("first_name", "unsubscribe_url")
    context = {**CONTEXT, "first_name": "<b>Ann</b> & Co"}
    tagged = render.render_with_tags("welcome", {"start_url": CONTEXT["start_url"]}, per_person)
    assert NASTY not in tagged.html and render.html_tag("first_name") in tagged.html
    nasty = render.substitutions_for({"first_name": NASTY})
    assert (
        nasty[render.html_tag("first_name")]
        == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;Bob&#34;"
    )
    assert nasty[render.text_tag("first_name")] == NASTY
    subs = render.substitutions_for({k: context[k] for k in per_person})
    direct = render.render("welcome", context)
    assert render.apply_substitutions(tagged.html, subs) == direct.html
    assert render.apply_substitutions(tagged.text, subs) == direct.text
    assert render.apply_substitutions(tagged.subject, subs) == direct.subject
    assert render.subject_names(tagged, per_person) == ("first_name",)
    # A recipient whose subject value breaks the line gets a subject of their own, header-safe.
    broken = render.substitutions_for({"first_name": "Ann\nBcc: x@example.com", "unsubscribe_url": "u"})
    assert render.own_subject(tagged.subject, broken) == "Welcome to funnelflow, Ann Bcc: x@example.com"
    assert broken[render.text_tag("first_name")] == "Ann\nBcc: x@example.com"  # the text part keeps it


@pytest.mark.parametrize(
    "value", ["Ann", "", "Zoë", "a&b", "<b>", "x>y", 'say "hi"', "O'Neil", "https://x/?a=1&b=2"]
)
def test_substitutions_escape_exactly_as_markupsafe_does(value):
    from markupsafe import escape

    subs = render.substitutions_for({"first_name": value, "offer_url": value})
    for name in ("first_name", "offer_url"):
        assert subs[render.html_tag(name)] == str(escape(value))
        assert subs[render.text_tag(name)] == value
    assert list(subs) == [
        render.html_tag("first_name"),
        render.text_tag("first_name"),
        render.html_tag("offer_url"),
        render.text_tag("offer_url"),
    ]


@pytest.mark.parametrize(
    "brk", ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1e", "\x00"]
)
def test_a_value_with_a_line_break_renders_a_one_line_subject(brk):
    # Before: "more than one line" (and a batch of thousands stuck claimed); a value never breaks a header.
    out = render.render("ops_alert", {"alert_subject": f"a{brk}Bcc: x@example.com", "alert_body": f"b{brk}c"})
    assert out.subject == "a Bcc: x@example.com"
    assert f"b{brk}c" in out.text  # the body keeps what it was given


def test_a_template_that_breaks_its_own_subject_is_an_error(tmp_path):
    (tmp_path / "x.subject.txt").write_text("Hello\n{{ name }}")
    (tmp_path / "x.html").write_text("<p>{{ name }}</p>")
    (tmp_path / "x.txt").write_text("{{ name }}")
    with pytest.raises(render.TemplateError, match="more than one line"):
        render.render("x", {"name": "Ada"}, tmp_path)


def test_header_safe_and_personal_text():
    assert render.header_safe("Ada\r\n\tBcc:\u2028x") == "Ada Bcc: x"
    assert render.header_safe("Plain name") == "Plain name"
    long = "Click https://evil.example/win " * 20
    short = render.personal_text(long)
    assert len(short) <= render.NAME_MAX_CHARS and short.endswith("…")
    assert render.personal_text("  Jo\n\n  Ann  ") == "Jo Ann"
