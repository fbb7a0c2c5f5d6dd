"""The public FastAPI app: form capture, SendGrid events, unsubscribe, confirmation.

One application. Airflow's api-server mounts it under ``/funnelflow`` (see
``plugins/funnelflow_public.py``) for a one-machine setup; ``python -m
funnelflow serve`` runs it alone under the same prefix for production, where
Airflow's own API stays private. Each area adds its routes as an APIRouter
listed in ``ROUTER_MODULES``. Every answer carries the same security headers,
and an unexpected error is a bare 500 whose log line holds no request data
(``funnelflow.web.middleware``); what a form or webhook accepts is checked in
``funnelflow.web.inputs``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request

if TYPE_CHECKING:
    from sqlalchemy import Engine

MOUNT_PATH = "/funnelflow"

# Modules exposing ``router`` (an APIRouter); their paths are relative to MOUNT_PATH.
ROUTER_MODULES: tuple[str, ...] = (
    "funnelflow.web.leads",
    "funnelflow.web.sendgrid_events",
    "funnelflow.web.preferences",
    "funnelflow.web.offers",
    "funnelflow.web.sales_links",
    "funnelflow.web.cti",
    "funnelflow.web.webinars",
)


def create_app(engine: Engine | None = None) -> FastAPI:
    """The app with its routes relative to its mount point; ``engine`` defaults to the marketing DB."""
    from funnelflow.logmask import install_log_masking

    install_log_masking()  # no address in any log line of the app's process, request errors included
    app = FastAPI(title="funnelflow public app", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for name in ROUTER_MODULES:
        module = importlib.import_module(name)
        app.include_router(module.router)
        if hasattr(module, "configure_app"):  # middleware a router cannot carry (CORS for the lead form)
            module.configure_app(app)
    _harden(app)
    return app


def _harden(app: FastAPI) -> None:
    """Errors contained (innermost of the two), then the security headers on every answer, 500s included."""
    from funnelflow.web.middleware import ContainErrors, SecurityHeaders

    app.add_middleware(ContainErrors)
    app.add_middleware(SecurityHeaders)


def engine_of(request: Request) -> Engine:
    """The marketing database engine, created on first use so importing the app opens nothing."""
    app = request.app
    if app.state.engine is None:
        from funnelflow.db.engine import make_engine

        app.state.engine = make_engine()
    return app.state.engine


def lookup_engine_of(request: Request) -> Engine:
    """A second pool on the same database for short read-only lookups (CTI): no pre-ping round trip
    per checkout, which was a fifth of a lookup's time. Its users retry once on a connection the
    server dropped (``funnelflow.sales.cti.lookup``) instead of pinging before every use."""
    app = request.app
    if getattr(app.state, "lookup_engine", None) is None:
        from funnelflow.db.engine import make_engine

        app.state.lookup_engine = make_engine(engine_of(request).url, pool_pre_ping=False)
    return app.state.lookup_engine


def create_standalone_app(engine: Engine | None = None) -> FastAPI:
    """The app mounted under MOUNT_PATH, as ``python -m funnelflow serve`` runs it."""
    outer = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    outer.mount(MOUNT_PATH, create_app(engine))
    _harden(outer)  # the 404s outside the mount path too
    return outer
