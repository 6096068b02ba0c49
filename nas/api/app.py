"""``create_app(settings) -> FastAPI``: the REST API (OpenAPI at ``/docs``) and the dashboard.

Nothing happens at import time: the engine and session factory are made here, from ``settings``,
and kept on ``app.state`` for the dependencies in :mod:`nas.api.deps`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

import nas
from nas.api.errors import install_error_handlers
from nas.api.guard import RequestGuard
from nas.api.routes import datasets, documents, meta, pages, studies, study_admin, trials
from nas.api.settings import Settings
from nas.study.tables import make_engine, make_sessionmaker

log = logging.getLogger(__name__)

DESCRIPTION = """Hardware-aware NAS for embedded audio classifiers.

Writes (`POST`) need `Authorization: Bearer <token>`: the server's `NAS_API_TOKEN` or a token made
with `nas token create NAME`. Reads are open unless the server sets `NAS_API_READ_REQUIRES_TOKEN=1`.
Errors are JSON: `{"detail": "<what was wrong>"}`.
"""


def operation_id(route: APIRoute) -> str:
    """OpenAPI operation ids are the route functions' names (``create_study``, ``get_trial``): unique, readable."""
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app on ``settings`` (default: from the ``NAS_*`` environment variables)."""
    settings = settings or Settings.from_env()
    engine = make_engine(settings.db_url)
    # docs_url/redoc_url off: their pages load Swagger UI / ReDoc from a CDN; /docs is served from the OpenAPI
    # document by nas.api.routes.pages instead.
    app = FastAPI(title="nas", version=nas.__version__, description=DESCRIPTION,
                  generate_unique_id_function=operation_id, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    install_error_handlers(app)
    app.add_middleware(RequestGuard, settings=settings, sessions=app.state.sessions)
    for module in (studies, study_admin, trials, meta, documents, datasets, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(packages=[("nas.api", "static")]), name="static")
    log.info("API on %s (reads %s)", engine.url.render_as_string(hide_password=True),
             "need a token" if settings.read_requires_token else "open")
    return app
