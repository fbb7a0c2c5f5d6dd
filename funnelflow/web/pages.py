"""HTML pages of the public app: one Jinja2 environment over ``templates/web``, autoescaped, strict."""

from __future__ import annotations

import functools

from fastapi.responses import HTMLResponse

from funnelflow import settings

TEMPLATES = settings.REPO_ROOT / "templates" / "web"


@functools.lru_cache(maxsize=1)
def _jinja():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
    )


def page(template: str, status: int = 200, **context) -> HTMLResponse:
    html = _jinja().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)  # security headers: funnelflow.web.middleware


def message(status: int, title: str, text: str) -> HTMLResponse:
    return page("message.html", status, title=title, message=text)
