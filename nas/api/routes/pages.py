"""Server-rendered dashboard pages (Jinja2 + Plotly). Each page embeds its first data as JSON and
polls the REST API while a study runs; plotly.js is served by the app itself (no CDN)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from nas import service
from nas.api.deps import TOKEN_COOKIE, SessionDep, SettingsDep, StudyName, TrialId, owner_of, token_owner
from nas.api.schemas import ParetoOut
from nas.errors import AuthError

router = APIRouter(include_in_schema=False)
# Package data, found through importlib like the search spaces (an installed wheel works as a checkout does).
templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.PackageLoader("nas.api", "templates"),
                                                   autoescape=jinja2.select_autoescape()))

AXES = ("accuracy", "test_accuracy", "latency_ms", "ram_kb", "flash_kb", "energy_uj", "power_mw", "params", "macs",
        "bits", "prune_ratio")
TRIAL_COLUMNS = (("number", "#"), ("status", "status"), ("arch", "architecture"), ("bits", "bits"),
                 ("prune_ratio", "prune"), ("accuracy", "acc"), ("test_accuracy", "test"),
                 ("latency_ms", "latency ms"), ("ram_kb", "RAM KB"), ("flash_kb", "flash KB"),
                 ("params", "params"), ("macs", "MACs"), ("finished_at", "finished"))


def fmt(v: object, spec: str) -> str:
    return "-" if v is None else format(v, spec)


templates.env.globals["fmt"] = fmt


def plotly_path() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def _render(request: Request, name: str, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


def _login_needed(request: Request, settings: SettingsDep, session: SessionDep) -> Response | None:
    if not settings.read_requires_token:
        return None
    try:
        token_owner(request, settings, session)
    except AuthError:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return None


@router.get("/vendor/plotly.min.js", name="plotly_js")
def plotly_js() -> FileResponse:
    return FileResponse(plotly_path(), media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site, else ``/`` (``//evil``, ``/\\evil`` and
    ``https://evil`` would leave it: browsers read a backslash as a slash)."""
    parts = urlsplit(target)
    if (not target.startswith("/") or "\\" in target or target.startswith("//") or parts.scheme or parts.netloc
            or any(ord(c) < 0x20 for c in target)):
        return "/"
    return target


@router.get("/login")
def login(request: Request, next: str = "/") -> HTMLResponse:
    return _render(request, "login.html", next=safe_next(next))


@router.post("/login")
async def sign_in(request: Request, settings: SettingsDep) -> Response:
    """The form's token becomes an HttpOnly, SameSite=Strict cookie (Secure over HTTPS); a wrong one is a 401."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token, target = form.get("token", [""])[0].strip(), safe_next(form.get("next", ["/"])[0])
    with request.app.state.sessions() as session:
        owner = await run_in_threadpool(owner_of, token, settings, session) if token else None
    if owner is None:
        return templates.TemplateResponse(request, "login.html", {"next": target, "error": "invalid token"},
                                          status_code=401)
    response = RedirectResponse(target, status_code=303)
    https = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(TOKEN_COOKIE, quote(token), httponly=True, samesite="strict", secure=https, path="/")
    return response


@router.get("/docs", name="api_docs")
def api_docs(request: Request) -> HTMLResponse:
    """The OpenAPI document as a page (FastAPI's Swagger page loads its assets from a CDN; this one works offline)."""
    return _render(request, "api_docs.html", api=request.app.openapi())


@router.get("/", name="studies_page")
def studies_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    if (r := _login_needed(request, settings, session)) is not None:
        return r
    studies = service.list_studies(session)
    return _render(request, "studies.html", studies=studies, poll_ms=int(settings.poll_seconds * 1000))


@router.get("/studies/{name}", name="study_page")
def study_page(name: StudyName, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    if (r := _login_needed(request, settings, session)) is not None:
        return r
    study = service.study_info(session, name)
    device = study.config["devices"][0]
    pareto = ParetoOut(study=name, device=device, devices=study.config["devices"],
                       objectives=study.config["objectives"], feasible_only=True,
                       points=service.pareto(session, name, device=device))
    trials = service.list_trials(session, name, per_page=50)
    history = service.hypervolume_history(session, name)
    initial = {"study": jsonable_encoder(study), "pareto": pareto.model_dump(mode="json"),
               "trials": jsonable_encoder(trials),
               "history": [{"n_trials": h.n_trials, "hypervolume": h.hypervolume, "front_size": h.front_size}
                           for h in history],
               "poll_ms": int(settings.poll_seconds * 1000), "columns": [k for k, _ in TRIAL_COLUMNS]}
    objectives = [o for o in study.config["objectives"] if o != "accuracy"]
    return _render(request, "study.html", study=study, initial=initial, axes=AXES,
                   default_x=objectives[0] if objectives else "latency_ms", trial_columns=TRIAL_COLUMNS)


@router.get("/trials/{trial_id}", name="trial_page")
def trial_page(trial_id: TrialId, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    if (r := _login_needed(request, settings, session)) is not None:
        return r
    t = service.trial_detail(session, trial_id)
    return _render(request, "trial.html", t=t, initial=jsonable_encoder(t))
