"""The Funnel page in the Airflow UI: a plugin app behind Airflow's own login.

Airflow does not protect plugin FastAPI apps, so every route here requires the
user Airflow's UI is logged in as (``get_user``: the ``Authorization`` bearer token,
else the ``_token`` cookie the UI sets at login) and answers 401 otherwise. The app
lives here, beside Airflow, and not in ``funnelflow.web``: the standalone public app
(``python -m funnelflow serve``) faces the internet and never serves it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

MOUNT_PATH = "/funnelflow-ui"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "funnel_page"


def _render(name: str, **context) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template(name).render(**context)


def create_funnel_page_app() -> FastAPI:
    app = FastAPI(title="funnelflow Funnel page", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> HTMLResponse:
        # Whatever the token's fault (missing, expired, forged), the answer names no reason beyond it.
        html = _render("refused.html", status=exc.status_code)
        return HTMLResponse(html, status_code=exc.status_code, headers={"Cache-Control": "no-store"})

    @app.get("/", response_class=HTMLResponse)
    def funnel(user=Depends(get_user)) -> HTMLResponse:  # noqa: B008 - FastAPI's dependency idiom
        from funnelflow.overview import funnel_overview
        from funnelflow_airflow.db import marketing_engine

        overview = funnel_overview(marketing_engine(), datetime.now(UTC))
        html = _render("funnel.html", o=overview, user=user.get_name())
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    return app
