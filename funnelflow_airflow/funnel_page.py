"""The Funnel page in the Airflow UI: a plugin app behind Airflow's own login.

Airflow does not protect plugin FastAPI apps, so every route here requires the
user Airflow's UI is logged in as (``get_user``: the ``Authorization`` bearer token,
else the ``_token`` cookie the UI sets at login) and answers 401 otherwise. The app
lives here, beside Airflow, and not in ``funnelflow.web``: the standalone public app
(``python -m funnelflow serve``) faces the internet and never serves it.

- ``GET /``: the funnel now (``funnelflow.overview``): the latest weekly report, the
  campaigns with their last results, upcoming webinars, the sales queue's SLA, leads by
  stage and emails by status. The page only renders; the numbers come from the domain package.
- ``GET /reports/<YYYY-Www>/<file>``: the saved weekly report (``report.html``, its charts
  and CSVs) from ``FUNNELFLOW_HOME/reports``, so "open the report" works in the browser
  that is logged in to Airflow. Only names of that shape, only files directly in that folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

MOUNT_PATH = "/funnelflow-ui"
REPORT_FILE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}\.(html|png|csv)$")
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "funnel_page"


def _render(name: str, **context) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template(name).render(**context)


def _now() -> datetime:
    return datetime.now(UTC)


def create_funnel_page_app(clock: Callable[[], datetime] = _now) -> FastAPI:
    """The page app; ``clock`` gives the time the page judges "now" by (tests pass a fixed one)."""
    app = FastAPI(title="funnelflow Funnel page", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> HTMLResponse:
        # Whatever the token's fault (missing, expired, forged), the answer names no reason beyond it.
        if exc.status_code in (401, 403):
            html = _render("refused.html", status=exc.status_code)
        else:
            html = _render("not_found.html", status=exc.status_code)
        return HTMLResponse(html, status_code=exc.status_code, headers=NO_STORE)

    @app.get("/", response_class=HTMLResponse)
    def funnel(user=Depends(get_user)) -> HTMLResponse:  # noqa: B008 - FastAPI's dependency idiom
        from funnelflow.overview import funnel_overview
        from funnelflow_airflow.db import marketing_engine

        engine = marketing_engine()
        try:
            overview = funnel_overview(engine, clock())
        finally:
            engine.dispose()  # a page view now and then: no pool kept open in the api-server
        html = _render("funnel.html", o=overview, user=user.get_name())
        return HTMLResponse(html, headers=NO_STORE)

    @app.get("/reports/{week}/{name}")
    def report_file(week: str, name: str, user=Depends(get_user)) -> FileResponse:  # noqa: B008
        from funnelflow.overview import REPORT_WEEK, reports_dir

        if not (REPORT_WEEK.match(week) and REPORT_FILE.match(name)):
            raise HTTPException(status_code=404)
        path = reports_dir() / week / name
        if not path.is_file():
            raise HTTPException(status_code=404)
        return FileResponse(path, headers=NO_STORE)

    return app
