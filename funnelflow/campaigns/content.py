"""A campaign's Markdown as the newsletter template's body: HTML and text, links tagged with UTM.

Rendered once per campaign with markdown-it-py (CommonMark: headings, lists,
images, links; raw HTML in the Markdown is not passed through). A link whose
title is ``"button"`` becomes a button. Every http(s) link gets
``utm_source=newsletter``, ``utm_medium=email`` and ``utm_campaign=<slug>``
unless it carries a ``utm_`` parameter of its own. A link to ``offer:`` is the
campaign's limited-time offer: each person gets their own signed link there,
so the body comes back split at those places (the template puts the person's
``offer_url`` between the parts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from markupsafe import Markup

OFFER_HREF = "offer:"
_SPLIT = "\x00ff-offer\x00"  # never in rendered Markdown: NUL is not allowed there
_MD_LINK = re.compile(r'(!?)\[([^\]]*)\]\(\s*<?([^\s)>]+)>?(?:\s+"([^"]*)")?\s*\)')


@dataclass(frozen=True)
class Body:
    """The rendered Markdown, split where the personal offer link goes (one part when there is none)."""

    html: tuple[Markup, ...]
    text: tuple[str, ...]

    @property
    def has_offer_link(self) -> bool:
        return len(self.html) > 1


def with_utm(url: str, slug: str) -> str:
    """``url`` with the campaign's UTM parameters, unless it is not http(s) or already has its own."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k.lower().startswith("utm_") for k, _ in query):
        return url
    query += [("utm_source", "newsletter"), ("utm_medium", "email"), ("utm_campaign", slug)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render_markdown(source: str, slug: str) -> Body:
    md = _markdown()
    tokens = md.parse(source)
    for token in tokens:
        for child in token.children or ():
            if child.type == "link_open":
                href = str(child.attrGet("href") or "")
                child.attrSet("href", _SPLIT if href == OFFER_HREF else with_utm(href, slug))
                if child.attrGet("title") == "button":
                    child.attrs.pop("title", None)
                    child.attrSet("class", "button")
            elif child.type == "image":
                child.attrSet("style", "max-width: 100%; height: auto;")
    html = md.renderer.render(tokens, md.options, {})
    return Body(
        html=tuple(Markup(part) for part in html.split(_SPLIT)),
        text=tuple(_markdown_as_text(source, slug).split(_SPLIT)),
    )


def _markdown_as_text(source: str, slug: str) -> str:
    """The plain-text part: the Markdown itself is readable; links become "label: url", images their alt
    text."""

    def link(m: re.Match) -> str:
        bang, label, href, _title = m.groups()
        if bang:
            return label
        url = _SPLIT if href == OFFER_HREF else with_utm(href, slug)
        return f"{label}: {url}"

    return _MD_LINK.sub(link, source).strip()
