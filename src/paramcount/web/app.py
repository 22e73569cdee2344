"""The web app: ``create_app(settings) -> FastAPI``. Routes are thin: query → library → Report → page or JSON.

Pages
    ``/``                        the Parameter Counter (``?q=`` renders the answer on the server)
    ``/answers``                 every published question
    ``/answers/<slug>``          one answer page; ``/answers/<slug>.json`` is its JSON twin (``report_dict(report)``)
    ``/sitemap.xml``, ``/robots.txt``
    ``/planner``                 the memory planner (a form over ``PlanOptions``; the plan renders on the server)
API (documented at ``/openapi.json``)
    ``GET|POST /api/count``      ``report_dict(report)`` for a query (``sections``: the optional parts to add)
    ``GET|POST /api/memory``     the same with a memory plan (``plan``) for the planner's options
    ``GET|POST /api/flops``      the same with output shapes and FLOPs (``shapes``, ``compute``)
    ``POST /api/file?name=``     ``report_dict(report)`` for a ``.safetensors``/``.gguf`` file's first bytes (the
                                 raw body, capped at ``Settings.max_upload_bytes``; read from memory)
Each computes only what it returns: the optional parts of a report (``paramcount.report.SECTIONS``: formula and
reading, module table, verification code, training recipes, zoo appearances, variants, related questions) only
when ``sections`` names them; answer pages, their JSON twins and the counter's answer hold them all, the planner
and output views all but the last four.
    ``GET|POST /fragments/answer``  an answer block as HTML (what the pages' ``fragments.js`` fetches)
    ``POST /fragments/file?name=``  the same for a checkpoint's first bytes (the counter's file input)

``HEAD`` is answered wherever ``GET`` is (``middleware.HeadAsGet``). Input errors are 400 with
``{"query": …, "error": {"type": …, "message": …, "column": …}}``; 413 for a body over the limit, 404 for an
unknown page, 422 for a malformed request, 503 when the library is busy, 504 when an answer takes too long.
Nothing a request carries is evaluated, and no path reaches the disk.

The handlers' logic is in ``handlers.py``, the request and response schema in ``schema.py``. This module
imports FastAPI at module level (FastAPI reads route annotations from the module's globals); it is imported only by
``paramcount serve`` and the tests — never by the counting path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from paramcount import __version__
from paramcount.web.curated import curated
from paramcount.web.handlers import Ask, Handlers, count_ask, sections_of
from paramcount.web.middleware import BoundedBody, HeadAsGet, SecurityHeaders
from paramcount.web.pages import COUNTER_FIELDS, error_body
from paramcount.web.planning import PLAN_FIELDS
from paramcount.web.schema import (
    ARCHITECTURE_HELP,
    BOUNDS,
    COUNT_QUERY,
    FILE_BODY,
    FILE_NAME_HELP,
    HTML,
    HTML_BUSY,
    HTML_MISSING,
    HTML_REJECTED,
    INVALID,
    JSON_MISSING,
    MOVED,
    QUERY_HELP,
    REJECTED,
    REPORT,
    SECTIONS_HELP,
    UNREADABLE,
    CountBody,
    FlopsBody,
    FlopsRequest,
    FragmentBody,
    FragmentRequest,
    MemoryBody,
    MemoryRequest,
)
from paramcount.web.settings import Settings

__all__ = ["create_app"]

STATIC = ("paramcount.web", "static")
API_RESPONSES = {**REPORT, **REJECTED, **BOUNDS}


def _register_api(app: FastAPI, handlers: Handlers) -> None:
    @app.get(
        "/api/count",
        responses={**API_RESPONSES, **INVALID},
        tags=["api"],
        summary="Count a query",
        openapi_extra=COUNT_QUERY,
    )
    async def count_get(request: Request) -> Response:
        """The answer for ``q`` as JSON: ``report_dict(report)``, with the optional ``sections`` asked for."""
        return await handlers.report_json(count_ask(request.query_params))

    @app.post("/api/count", responses=API_RESPONSES, tags=["api"], summary="Count a query (JSON body)")
    async def count_post(request: Annotated[CountBody, Body()]) -> Response:
        """The same as ``GET /api/count``, for long queries such as a pasted config.json."""
        ask = Ask(request.q, request.architecture or None, sections=sections_of(request.sections))
        return await handlers.report_json(ask)

    @app.get("/api/memory", responses=API_RESPONSES, tags=["api"], summary="Plan the memory of a query")
    async def memory_get(request: Annotated[MemoryRequest, Query()]) -> Response:
        """``report_dict(report)`` with ``plan``: weights, gradients, optimizer states, activations, KV cache."""
        return await handlers.memory_json(request.q, request.architecture or None, request.model_dump())

    @app.post("/api/memory", responses=API_RESPONSES, tags=["api"], summary="Plan the memory (JSON body)")
    async def memory_post(request: Annotated[MemoryBody, Body()]) -> Response:
        """The same as ``GET /api/memory``."""
        return await handlers.memory_json(request.q, request.architecture or None, request.model_dump())

    @app.get("/api/flops", responses=API_RESPONSES, tags=["api"], summary="Shapes and FLOPs of a query")
    async def flops_get(request: Annotated[FlopsRequest, Query()]) -> Response:
        """``report_dict(report)`` with ``shapes`` (for ``input``) and ``compute`` (for ``seq_len``)."""
        return await handlers.flops_json(request.q, request.architecture or None, request.model_dump())

    @app.post("/api/flops", responses=API_RESPONSES, tags=["api"], summary="Shapes and FLOPs (JSON body)")
    async def flops_post(request: Annotated[FlopsBody, Body()]) -> Response:
        """The same as ``GET /api/flops``."""
        return await handlers.flops_json(request.q, request.architecture or None, request.model_dump())

    @app.post(
        "/api/file",
        responses=API_RESPONSES,
        tags=["api"],
        summary="Count a checkpoint's header",
        openapi_extra=FILE_BODY,
    )
    async def file_post(
        request: Request,
        name: Annotated[str, Query(description=FILE_NAME_HELP, max_length=1_000)],
        sections: Annotated[str | None, Query(description=SECTIONS_HELP)] = None,
    ) -> Response:
        """``report_dict(report)`` for the first bytes of a ``.safetensors`` or ``.gguf`` file, sent as the raw
        body: only the header is needed, never the weights; nothing is written to disk."""
        return await handlers.file_json(await request.body(), name, sections_of(sections))

    fragment_responses = {**HTML, **UNREADABLE, **BOUNDS}

    @app.post("/fragments/file", responses=fragment_responses, tags=["pages"], openapi_extra=FILE_BODY)
    async def fragment_file(
        request: Request, name: Annotated[str, Query(description=FILE_NAME_HELP, max_length=1_000)]
    ) -> Response:
        """The counter's answer block for a checkpoint's first bytes; input errors are shown inline (200)."""
        return await handlers.file_fragment(await request.body(), name)

    @app.get("/fragments/answer", responses=fragment_responses, tags=["pages"])
    async def fragment_get(request: Annotated[FragmentRequest, Query()]) -> Response:
        """An answer block as HTML (``view``: parameters, memory, output); input errors are shown inline (200)."""
        return await handlers.fragment(request.model_dump())

    @app.post("/fragments/answer", responses=fragment_responses, tags=["pages"])
    async def fragment_post(request: Annotated[FragmentBody, Body()]) -> Response:
        """The same as ``GET /fragments/answer``, for long queries."""
        return await handlers.fragment(request.model_dump())


def _register_pages(app: FastAPI, handlers: Handlers) -> None:
    @app.get("/", response_class=HTMLResponse, responses={**HTML, **HTML_REJECTED, **HTML_BUSY}, tags=["pages"])
    async def home(
        request: Request,
        q: Annotated[str | None, Query(description=QUERY_HELP)] = None,
        architecture: Annotated[str | None, Query(description=ARCHITECTURE_HELP)] = None,
    ) -> HTMLResponse:
        """The Parameter Counter; with ``q`` the answer is rendered on the server (works without JavaScript). Its
        memory controls are ``/api/memory``'s ``dtype``, ``optimizer``, ``seq_len``, ``batch`` and ``gpu``."""
        values = {name: request.query_params[name] for name in COUNTER_FIELDS if name in request.query_params}
        return await handlers.counter(request, q, architecture or None, values)

    @app.get("/planner", response_class=HTMLResponse, responses={**HTML, **HTML_REJECTED, **HTML_BUSY}, tags=["pages"])
    async def planner(request: Request) -> HTMLResponse:
        """The memory planner; its form fields are ``/api/memory``'s parameters (blank: not given)."""
        names = ("q", "architecture", *PLAN_FIELDS)
        values = {name: request.query_params[name] for name in names if name in request.query_params}
        return await handlers.planner(request, values)

    @app.get("/answers", response_class=HTMLResponse, responses=HTML, tags=["pages"])
    async def answers(request: Request) -> HTMLResponse:
        """Every published question."""
        canonical = handlers.canonical(request, "/answers")
        return HTMLResponse(handlers.pages.answers_index(curated(), canonical=canonical))

    # The .json route first: the page route's {slug} would match "x.json" too.
    @app.get("/answers/{slug}.json", responses={**REPORT, **MOVED, **JSON_MISSING, **BOUNDS}, tags=["pages"])
    async def answer_json(slug: str) -> Response:
        """The JSON twin of an answer page: ``report_dict(report)`` of the same report."""
        return await handlers.answer_json(slug)

    @app.get(
        "/answers/{slug}",
        response_class=HTMLResponse,
        responses={**HTML, **MOVED, **HTML_MISSING, **HTML_BUSY},
        tags=["pages"],
    )
    async def answer_page(request: Request, slug: str) -> Response:
        """One answer page, e.g. ``/answers/parameters-conv2d-256-512-kernel-3``."""
        return await handlers.answer_page(request, slug)

    @app.get("/sitemap.xml", tags=["pages"], responses={200: {"content": {"application/xml": {}}}})
    async def sitemap(request: Request) -> Response:
        return handlers.sitemap(request)

    @app.get("/robots.txt", response_class=PlainTextResponse, include_in_schema=False)
    async def robots(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"User-agent: *\nAllow: /\nSitemap: {handlers.canonical(request, '/sitemap.xml')}\n")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        from importlib.resources import files

        path = files("paramcount.web").joinpath("static", "favicon.svg")
        return FileResponse(str(path), media_type="image/svg+xml")


def _register_errors(app: FastAPI, handlers: Handlers) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        path = request.url.path
        message = f"{path}: {error.detail}" if error.status_code != 404 else f"{path}: no page here"
        if error.status_code == 404 and not path.startswith("/api/") and not path.endswith(".json"):
            return HTMLResponse(handlers.pages.not_found(message), status_code=404)
        kind = "NotFound" if error.status_code == 404 else "HTTPError"
        headers = dict(error.headers or {})
        if error.status_code == 405:  # every method of the path, not only those of the first route matched
            headers["Allow"] = ", ".join(_allowed_methods(app, path))
        return JSONResponse(error_body(None, kind, message), status_code=error.status_code, headers=headers)


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")  # see middleware.HeadAsGet
    return sorted(methods)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app with its own settings, cache and lock (no module-level state)."""
    settings = settings or Settings()
    handlers = Handlers(settings)
    app = FastAPI(
        title="paramcount",
        version=__version__,
        summary="Exact parameter counts, memory and the arithmetic behind them, for torch.nn layers and models.",
        docs_url=None,  # the interactive docs load scripts from a CDN; the OpenAPI document is at /openapi.json
        redoc_url=None,
    )
    app.state.answers = handlers.answers
    app.state.settings = settings
    app.mount("/static", StaticFiles(packages=[STATIC]), name="static")
    _register_api(app, handlers)
    _register_pages(app, handlers)
    _register_errors(app, handlers)
    uploads = dict.fromkeys(("/api/file", "/fragments/file"), settings.max_upload_bytes)
    app.add_middleware(BoundedBody, max_bytes=settings.max_body_bytes, paths=uploads)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders)
    return app
