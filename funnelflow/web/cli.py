"""``serve``: run the public app on its own (production: the only internet-facing service)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the public app (forms, SendGrid events, unsubscribe) with uvicorn",
        description="Run the public app under /funnelflow with uvicorn, after checking the marketing "
        "database is reachable and migrated. No access log (paths carry tokens), no Server header.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for every interface (containers)"
    )
    p.add_argument("--port", type=int, default=8000, help="TCP port to listen on")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema
    from funnelflow.logmask import install_log_masking

    install_log_masking()  # each worker's create_app installs it again, for its own process
    engine = make_engine()
    check_reachable(engine)
    require_current_schema(engine)
    engine.dispose()
    # access_log off: paths carry unsubscribe/confirm tokens, which do not belong in logs.
    uvicorn.run(
        "funnelflow.web.app:create_standalone_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        server_header=False,  # says nothing about what we run
        proxy_headers=False,  # client addresses are resolved by our trusted-proxy rule, not uvicorn's
    )
    return 0
