"""What each route does, once FastAPI has parsed the request: build the question, ask the library within the
bounds, render the Report, answer with a page, a fragment, JSON, an error or a redirect.

Every answer goes through ``Handlers.outcome``: rendered answers come from a bounded cache when they can;
otherwise the library runs in a worker thread (``service.Answers``: one call at a time, within the time
budget) and the result is rendered there too; the lean report of a query whose cost is bounded
(``queries.one_layer``: one layer with at most two integer literals; no sections, plan or input shape) is
answered on the event loop. Input errors become
400 with the JSON error object (and an inline HTML version for pages); busy and slow become 503 and 504.

Imports Starlette's responses at module level, like ``app.py`` (only the web app imports this module).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from paramcount.analysis.planner import PlanOptions
from paramcount.errors import ParamcountError, QueryError
from paramcount.render.json import report_dict
from paramcount.report import SECTIONS, Report
from paramcount.web.curated import curated
from paramcount.web.pages import WEB_OPTIONS, Pages, error_body
from paramcount.web.planning import input_shape, option_fields, plan_options
from paramcount.web.queries import one_layer
from paramcount.web.service import Answers, Busy, Rendered, TooSlow
from paramcount.web.settings import Settings
from paramcount.web.targets import Target, slug_of, target_for

__all__ = ["Ask", "Handlers", "count_ask", "sections_of"]

NO_PAGE = "no answer page has this name"
SHOWN_BY_PLANS = ("explanation", "modules", "code")
"""The report's optional parts the planner and output views show (not the training recipes, zoo appearances,
variants and related questions)."""


@dataclass(frozen=True, slots=True)
class Ask:
    """One question for the library: the query, and what to add to its report."""

    query: str
    architecture: str | None = None
    plan: PlanOptions | None = None
    input_shape: tuple[int, ...] | None = None
    sections: tuple[str, ...] = SECTIONS
    """The report's optional parts to compute: all of them for what shows them (the counter, answer pages)."""

    def key(self, view: str) -> tuple[str, ...]:
        parts = (view, self.query, str(self.architecture), repr(self.plan), str(self.input_shape))
        return (*parts, ",".join(self.sections))


def sections_of(text: str | None) -> tuple[str, ...]:
    """The web parameter ``sections`` (comma-separated; blank: none) as ``Result.report``'s argument."""
    return tuple(name.strip() for name in (text or "").split(",") if name.strip())


def count_ask(parameters: Mapping[str, str]) -> Ask:
    """``GET /api/count``'s question from its query string (``schema.COUNT_QUERY``), read as FastAPI reads declared
    ``Query`` parameters: the last value of a repeated name; a missing ``q`` is the same 422."""
    if "q" not in parameters:
        missing = {"type": "missing", "loc": ("query", "q"), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    architecture = parameters.get("architecture") or None
    return Ask(parameters["q"], architecture, sections=sections_of(parameters.get("sections")))


def _check_flops_input(shape: tuple[int, ...] | None, plan: PlanOptions | None) -> None:
    """Shapes and FLOPs need an input: a shape, or a sequence length for a language model."""
    if shape is None and (plan is None or plan.seq_len is None):
        raise QueryError("flops: give input (a shape such as 1,3,224,224) or seq_len (tokens per sequence)")


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A rendered answer, or what to send instead: an error (status and JSON body) or a redirect."""

    value: str = ""
    status: int = 200
    error: dict[str, Any] | None = None
    error_html: str = ""
    moved_to: str | None = None
    """The canonical slug, when the answer lives at another address."""

    @property
    def message(self) -> str:
        return str(self.error["error"]["message"]) if self.error else ""


class _Moved(Exception):
    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.slug = slug


def _safe(text: str) -> str:
    """``text`` as valid UTF-8 (a JSON body may carry lone surrogates), for echoing back."""
    return text.encode("utf-8", "replace").decode("utf-8")


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False)
"""``JSONResponse``'s settings, made once rather than per answer as ``json.dumps`` with options does; a fresh
``report_dict`` never refers to itself, so the check for cycles is left out (~20 k instructions an answer)."""


def _json_text(report: Report) -> str:
    """What ``JSONResponse`` would send for ``report_dict(report)``, as text that can be cached."""
    return _ENCODER.encode(report_dict(report))


def _error_json(outcome: _Outcome) -> JSONResponse:
    return JSONResponse(outcome.error, status_code=outcome.status)


class Handlers:
    """The handlers, sharing one settings object, one answer cache, one render cache and one page renderer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.answers = Answers(settings)
        self.rendered = Rendered(settings.cache_size)
        self.pages = Pages(depth=settings.depth)

    def canonical(self, request: Request, path: str) -> str:
        base = self.settings.base_url or str(request.base_url)
        return base.rstrip("/") + path

    def failure(self, query: str, error: ParamcountError) -> _Outcome:
        body = {"query": _safe(query), "error": error.to_dict(WEB_OPTIONS)}
        return _Outcome(status=400, error=body, error_html=self.pages.error_fragment(_safe(query), error))

    async def guarded(self, query: str, work: Callable[[], str], *, bounded: bool = False) -> _Outcome:
        """``work()`` in a worker thread within the budget (on the event loop if ``bounded``: ``Answers.run``),
        its failures as outcomes (400, 503, 504)."""
        try:
            return _Outcome(await self.answers.run(work, bounded=bounded))
        except _Moved as moved:
            return _Outcome(moved_to=moved.slug)
        except ParamcountError as error:
            return self.failure(query, error)
        except Busy:
            message = "the server is busy; try again in a moment"
            return _Outcome(status=503, error=error_body(_safe(query), "Busy", message))
        except TooSlow:
            message = f"the answer took longer than {self.settings.timeout_seconds:g} s; the limit is that long"
            return _Outcome(status=504, error=error_body(_safe(query), "Timeout", message))

    async def outcome(self, ask: Ask, render: Callable[[Report], str], view: str) -> _Outcome:
        """The rendered answer: from the render cache, else the library and ``render`` in a worker thread
        within the budget. Pasted configs are never cached."""
        key = ask.key(view)
        cacheable = not ask.query.lstrip().startswith("{")
        if cacheable and (hit := self.rendered.get(key)) is not None:
            return _Outcome(hit)

        def work() -> str:
            text = render(self.answers.report(ask.query, ask.architecture, ask.plan, ask.input_shape, ask.sections))
            if cacheable:
                self.rendered.put(key, text)
            return text

        # On the event loop only a lean report (no optional sections, plan or shape) of a bounded query: a page's
        # milliseconds there serve fewer requests under load than in the thread, which overlaps them with I/O.
        bounded = not ask.sections and ask.plan is None and ask.input_shape is None and one_layer(ask.query)
        return await self.guarded(ask.query, work, bounded=bounded)

    # ---- the JSON API

    async def report_json(self, ask: Ask) -> Response:
        found = await self.outcome(ask, _json_text, "json")
        return _error_json(found) if found.error is not None else Response(found.value, media_type="application/json")

    async def memory_json(self, query: str, architecture: str | None, fields: Mapping[str, Any]) -> Response:
        try:
            plan = plan_options(fields) or PlanOptions()
            ask = Ask(query, architecture, plan=plan, sections=sections_of(fields.get("sections")))
        except ParamcountError as error:
            return _error_json(self.failure(query, error))
        return await self.report_json(ask)

    async def flops_json(self, query: str, architecture: str | None, fields: Mapping[str, Any]) -> Response:
        try:
            shape = input_shape(fields.get("input"))
            seq_len = fields.get("seq_len")
            plan = plan_options({"seq_len": seq_len, "batch": fields.get("batch")}) if seq_len is not None else None
            _check_flops_input(shape, plan)
        except ParamcountError as error:
            return _error_json(self.failure(query, error))
        sections = sections_of(fields.get("sections"))
        return await self.report_json(Ask(query, architecture, plan=plan, input_shape=shape, sections=sections))

    @staticmethod
    def _no_body(name: str) -> JSONResponse:
        message = "the request body is empty; send the file's first bytes (its header)"
        return JSONResponse(error_body(_safe(name), "BadRequest", message), status_code=400)

    async def file_json(self, data: bytes, name: str, sections: tuple[str, ...]) -> Response:
        """``report_dict`` of a checkpoint's first bytes (``name`` gives the format); never cached."""
        if not data:
            return self._no_body(name)
        found = await self.guarded(name, lambda: _json_text(self.answers.header_report(data, name, sections)))
        return _error_json(found) if found.error is not None else Response(found.value, media_type="application/json")

    async def file_fragment(self, data: bytes, name: str) -> Response:
        """The counter's answer block for a checkpoint's first bytes; input errors are shown inline (200), a
        missing body is a 400 (the counter always sends one)."""
        if not data:
            return self._no_body(name)

        def work() -> str:
            return self.pages.answer_fragment(self.answers.header_report(data, name, SECTIONS))

        found = await self.guarded(name, work)
        if found.status == 400:
            return HTMLResponse(found.error_html)
        return _error_json(found) if found.error is not None else HTMLResponse(found.value)

    # ---- pages and fragments

    def _fragment_render(self, view: str, ask: Ask) -> Callable[[Report], str]:
        json_path = {"memory": "/api/memory", "output": "/api/flops"}.get(view, "/api/count")
        if view == "parameters" and ask.plan is not None:  # the counter's memory controls: the JSON has the plan
            json_path = "/api/memory"

        def render(report: Report) -> str:
            from urllib.parse import urlencode

            fields = {"q": ask.query, "architecture": ask.architecture or "", **option_fields(ask.plan)}
            if ask.input_shape is not None:
                fields["input"] = ",".join(map(str, ask.input_shape))
            json_url = f"{json_path}?{urlencode({k: v for k, v in fields.items() if v})}"
            return self.pages.answer_fragment(report, kind=view, architecture=ask.architecture, json_url=json_url)

        return render

    def _ask_from_form(self, fields: Mapping[str, Any], view: str) -> Ask:
        """The question a form (counter, planner) asks; raises ``ParamcountError`` for bad options (and, for the
        output view, for neither an input shape nor a sequence length: ``/api/flops``'s rule)."""
        query = str(fields.get("q") or "")
        architecture = str(fields.get("architecture") or "") or None
        plan = plan_options(fields)
        if view == "memory" and plan is None:
            plan = PlanOptions()
        shape = input_shape(fields.get("input"))
        if view == "output":
            _check_flops_input(shape, plan)
        sections = SECTIONS if view == "parameters" else SHOWN_BY_PLANS
        return Ask(query, architecture, plan=plan, input_shape=shape, sections=sections)

    async def fragment(self, fields: Mapping[str, Any]) -> Response:
        view = str(fields.get("view") or "parameters")
        query = str(fields.get("q") or "")
        try:
            ask = self._ask_from_form(fields, view)
        except ParamcountError as error:
            return HTMLResponse(self.failure(query, error).error_html)
        found = await self.outcome(ask, self._fragment_render(view, ask), f"fragment-{view}")
        if found.status == 400:
            return HTMLResponse(found.error_html)  # an input error is an answer for the counter: shown inline
        return _error_json(found) if found.error is not None else HTMLResponse(found.value)

    async def counter(
        self, request: Request, query: str | None, architecture: str | None, values: Mapping[str, str]
    ) -> HTMLResponse:
        """The counter; ``values``: its memory controls (``pages.COUNTER_FIELDS``), shown as the plan reads them."""
        if not query or not query.strip():
            return HTMLResponse(self.pages.counter(values=values, canonical=self.canonical(request, "/")))
        try:
            ask = Ask(query, architecture, plan=plan_options(values))
        except ParamcountError as error:
            fragment = self.failure(query, error).error_html
            return HTMLResponse(self.pages.counter(query=query, values=values, fragment=fragment), status_code=400)
        fragment_render = self._fragment_render("parameters", ask)
        controls = {**values, **option_fields(ask.plan)}  # names as the plan spells them (bf16 → bfloat16)

        def render(report: Report) -> str:
            slug = slug_of(report, "parameters", architecture)
            canonical = self.canonical(request, f"/answers/{slug}" if slug else "/")
            fragment = fragment_render(report)
            return self.pages.counter(query=query, values=controls, fragment=fragment, canonical=canonical)

        found = await self.outcome(ask, render, f"counter-{request.base_url}-{sorted(controls.items())}")
        if found.error is None:
            return HTMLResponse(found.value)
        fragment = found.error_html or self.pages.message_fragment(found.error["error"]["type"], found.message)
        return HTMLResponse(self.pages.counter(query=query, values=values, fragment=fragment), status_code=found.status)

    async def planner(self, request: Request, values: Mapping[str, str]) -> HTMLResponse:
        canonical = self.canonical(request, "/planner")
        if not values.get("q", "").strip():
            return HTMLResponse(self.pages.planner(values=values, canonical=canonical))
        try:
            ask = self._ask_from_form(values, "memory")
        except ParamcountError as error:
            fragment = self.failure(values["q"], error).error_html
            return HTMLResponse(self.pages.planner(values=values, fragment=fragment), status_code=400)
        found = await self.outcome(ask, self._fragment_render("memory", ask), "planner")
        fragment = found.value if found.error is None else found.error_html
        if found.error is not None and not fragment:
            fragment = self.pages.message_fragment(found.error["error"]["type"], found.message)
        page = self.pages.planner(values=values, fragment=fragment, canonical=canonical)
        return HTMLResponse(page, status_code=found.status)

    # ---- answer pages

    async def answer(self, slug: str, render: Callable[[Target, Report], str], view: str) -> _Outcome | None:
        """The rendered answer a slug stands for (None: not a slug); a redirect when it is not canonical
        (slugs are lower case: ``Parameters-Conv2d-…`` moves to the canonical ``parameters-conv2d-…``)."""
        target = target_for(slug) or target_for(slug.lower())
        if target is None:
            return None

        def checked(report: Report) -> str:
            canonical = slug_of(report, target.kind) or slug
            if canonical != slug:
                raise _Moved(canonical)
            return render(target, report)

        ask = Ask(target.query, plan=target.plan, input_shape=target.input_shape)
        return await self.outcome(ask, checked, view)

    async def answer_page(self, request: Request, slug: str) -> Response:
        url = self.canonical(request, f"/answers/{slug}")

        def render(target: Target, report: Report) -> str:
            return self.pages.answer(report, kind=target.kind, slug=slug, canonical=url)

        found = await self.answer(slug, render, f"page-{url}")
        if found is not None and found.moved_to is not None:
            return RedirectResponse(f"/answers/{found.moved_to}", status_code=301)
        if found is not None and found.status not in (200, 400):
            return HTMLResponse(self.pages.problem("Try again", found.message), status_code=found.status)
        if found is None or found.error is not None:
            reason = found.message if found else NO_PAGE
            return HTMLResponse(self.pages.not_found(f"answers/{slug}: {reason}"), status_code=404)
        return HTMLResponse(found.value)

    async def answer_json(self, slug: str) -> Response:
        found = await self.answer(slug, lambda target, report: _json_text(report), "twin")
        if found is not None and found.moved_to is not None:
            return RedirectResponse(f"/answers/{found.moved_to}.json", status_code=301)
        if found is not None and found.status not in (200, 400):
            return _error_json(found)
        if found is None or found.error is not None:
            reason = found.message if found else NO_PAGE
            return JSONResponse(error_body(None, "NotFound", f"answers/{slug}: {reason}"), status_code=404)
        return Response(found.value, media_type="application/json")

    def sitemap(self, request: Request) -> Response:
        urls = [self.canonical(request, path) for path in ("/", "/planner", "/answers")]
        urls += [self.canonical(request, f"/answers/{question.slug}") for question in curated()]
        return Response(self.pages.sitemap(urls), media_type="application/xml")
