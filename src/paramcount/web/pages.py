"""Pages from Reports: the Jinja environment (autoescape on) and what each template receives.

Shared by the live app (``app.py``) and the static export (``site.py``), so a page reads the same whether
it is served or written to disk. Templates get pre-rendered, escaped fragments from
``paramcount.render.html`` and a few strings; they do no arithmetic and no formatting of numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from paramcount.errors import ParamcountError
from paramcount.render.html import (
    answer_html,
    answer_text,
    memory_answer_html,
    memory_answer_text,
    memory_chart,
    memory_question,
    output_answer_html,
    output_answer_text,
    output_question,
    plan_chart,
    question,
    render_html,
)
from paramcount.render.sections import WEB_HINTS
from paramcount.report import Report
from paramcount.web.curated import Question
from paramcount.web.planning import option_fields, planner_choices
from paramcount.web.slugs import slug_for, slugs_by_query
from paramcount.web.targets import slug_of

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

    from paramcount.render.html import Href

__all__ = ["COUNTER_FIELDS", "EXAMPLES", "WEB_OPTIONS", "Links", "Pages", "error_body", "planner_url"]

EXAMPLES = (
    "Conv2d(256, 512, 3)",
    "nn.LSTM(512, 1024, num_layers=2, bidirectional=True)",
    "nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))",
    "MultiheadAttention(768, 12)",
    "resnet50(num_classes=10)",
    "meta-llama/Llama-3.1-8B",
)
"""Queries offered on the counter page."""

COUNTER_FIELDS = ("dtype", "optimizer", "seq_len", "batch", "gpu")
"""The planner options the counter's memory controls set (``/?q=…&dtype=…``): ``PlanOptions`` fields, as on
``/api/memory`` and the planner."""

WEB_OPTIONS: Mapping[str, str] = {}
"""How the web names an error's remedy (``ParamcountError.worded``): it offers none of those options (it never
reaches the hub, so it has no ``offline``, and transformers never counts for it), so their parts are left out."""

MAX_DESCRIPTION_CHARS = 300
"""Longest meta description (search engines show about 160 characters; the rest is for link previews)."""


def _lead(report: Report, kind: str) -> str:
    """The answer paragraph (HTML, with the plan chart for memory); a count with a plan (a model's own, or the
    counter's memory controls') says what the plan is for above its chart."""
    if kind == "memory":
        return memory_answer_html(report) + plan_chart(report)
    if kind == "output":
        return output_answer_html(report)
    planned = memory_answer_html(report, element_id="memory-answer") if report.plan is not None else ""
    return answer_html(report) + planned + memory_chart(report)


def _description(report: Report, kind: str) -> str:
    """The answer as plain text (an answer page's meta description), at most ``MAX_DESCRIPTION_CHARS``."""
    text = {"memory": memory_answer_text, "output": output_answer_text}.get(kind, answer_text)(report)
    if len(text) > MAX_DESCRIPTION_CHARS:
        return text[: MAX_DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


def planner_url(report: Report, root: str = "/") -> str:
    """The planner page with this report's query and options filled in."""
    options = report.plan.options if report.plan is not None else None
    return f"{root}planner?{urlencode({'q': report.query, **option_fields(options)})}"


def error_body(query: str | None, error_type: str, message: str) -> dict[str, Any]:
    """The JSON error object of STYLE.md 2.8 for a condition of the server (busy, not found …), in the shape
    of ``ParamcountError.to_dict()``: ``{"query": …, "error": {"type": …, "message": …, "column": None}}``."""
    return {"query": query, "error": {"type": error_type, "message": message, "column": None}}


@dataclass(frozen=True, slots=True)
class Links:
    """Where pages point: every answer slug on the live site; only the published ones in a static export."""

    root: str = "/"
    published: frozenset[str] | None = None
    """The slugs that exist (a static export); None when any slug is served."""
    live: bool = True
    """Whether the interactive counter (``/?q=…``) and the API exist."""

    def answer(self, slug: str | None) -> str | None:
        if slug is None or (self.published is not None and slug not in self.published):
            return None
        return f"{self.root}answers/{slug}"

    def query(self, text: str, slug: str | None = None) -> str | None:
        """An answer page for ``text`` when there is one (``slug``, when the caller has found it), else the
        counter (live site only)."""
        url = self.answer(slug or slug_for(text))
        if url is None and self.live:
            return f"{self.root}?q={quote(text, safe='')}"
        return url

    def cell(self, section: str, text: str) -> str | None:
        if section == "appears":
            return self.answer(slug_for(f"{text}()"))
        return self.query(text)

    def cells(self, report: Report) -> Href:
        """``cell`` for the tables of ``report``: its variants' and related questions' slugs are encoded from
        their calls, not parsed back from the rows' text."""
        slugs = slugs_by_query(item.expression for item in (*report.variants, *report.related))

        def href(section: str, text: str) -> str | None:
            slug = slugs.get(text) if section != "appears" else None
            return self.cell(section, text) if slug is None else self.query(text, slug)

        return href


@dataclass(frozen=True, slots=True)
class _Caret:
    line: str
    marker: str


def _caret(query: str, column: int | None) -> _Caret | None:
    """The line of ``query`` holding ``column`` (1-based, counted over the whole text) and a caret under it."""
    if column is None or not 1 <= column <= len(query) + 1:
        return None
    start = query.rfind("\n", 0, column - 1) + 1
    end = query.find("\n", start)
    line = query[start : end if end >= 0 else len(query)]
    return _Caret(line, " " * (column - 1 - start) + "^")


@dataclass
class Pages:
    """Renders every page; ``links`` decides where answers point."""

    links: Links = field(default_factory=Links)
    depth: int = 3
    environment: Environment = field(init=False)
    _selects: dict[tuple[str, str], Markup] = field(init=False, default_factory=dict)
    """Each form select, rendered, by field and option chosen (lower case; "" for none): at most one entry per
    option of ``planner_choices``, which do not change while the package runs."""

    def __post_init__(self) -> None:
        from jinja2 import Environment, PackageLoader, StrictUndefined

        self.environment = Environment(
            loader=PackageLoader("paramcount.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # the package's templates do not change while it runs: no stat() per render
        )

    @cached_property
    def _choices(self) -> dict[str, tuple[tuple[str, str], ...]]:
        return planner_choices()

    @cached_property
    def _chosen(self) -> dict[str, frozenset[str]]:
        """The values each select can mark as chosen, lower-cased (what ``_fields.html`` compares)."""
        return {name: frozenset(value.lower() for value, _ in pairs) for name, pairs in self._choices.items()}

    def _select(self, name: str, given: str) -> Markup:
        """The form's select of option ``name`` with ``given`` chosen: the same for every page, rendered once for
        each value it can choose (a value it does not offer chooses none, as the empty one does)."""
        chosen = given.lower()
        if chosen not in self._chosen[name]:
            chosen = ""
        if (html := self._selects.get((name, chosen))) is None:
            fields = self.environment.get_template("_fields.html").make_module({"choices": self._choices})
            html = self._selects[name, chosen] = fields.select(name, chosen)  # type: ignore[attr-defined]  # a macro
        return html

    def _form(self, values: Mapping[str, str]) -> dict[str, Any]:
        """What ``_fields.html`` reads: every select rendered for ``values``, and ``values`` for the numbers."""
        return {"values": values, "selects": {name: self._select(name, values.get(name, "")) for name in self._choices}}

    def _render(self, template: str, **context: Any) -> str:
        defaults = {"root": self.links.root, "live": self.links.live, "canonical": None, "json_url": None}
        return self.environment.get_template(template).render({**defaults, **context})

    def _sections(self, report: Report) -> Markup:
        """Every section of the answer as HTML, its cells linked, its hints naming the JSON answer."""
        from markupsafe import Markup

        html = render_html(report, depth=self.depth, href=self.links.cells(report), hints=WEB_HINTS)
        return Markup(html)  # noqa: S704  (escaped by render.html)

    def answer_fragment(
        self, report: Report, *, kind: str = "parameters", architecture: str | None = None, json_url: str = ""
    ) -> str:
        """The answer block of the counter and the planner: sentence (and chart), links, every section."""
        from markupsafe import Markup

        return self._render(
            "_answer.html",
            answer=Markup(_lead(report, kind)),  # noqa: S704  (escaped by render.html)
            sections=self._sections(report),
            answer_url=self.links.answer(slug_of(report, kind, architecture)),
            json_url=json_url,
        )

    def error_fragment(self, query: str, error: ParamcountError) -> str:
        return self._render(
            "_error.html",
            error_type=type(error).__name__,
            message=error.worded(WEB_OPTIONS),
            column=error.column,
            caret=_caret(query, error.column),
        )

    def message_fragment(self, error_type: str, message: str) -> str:
        """An error with no position in the query (busy, too slow)."""
        return self._render("_error.html", error_type=error_type, message=message, column=None, caret=None)

    def counter(
        self,
        *,
        query: str = "",
        values: Mapping[str, str] | None = None,
        fragment: str = "",
        canonical: str | None = None,
        description: str = "",
    ) -> str:
        """The counter; ``values`` are its memory controls' (``COUNTER_FIELDS``), as text."""
        from markupsafe import Markup

        return self._render(
            "counter.html",
            title="Parameter Counter — paramcount",
            description=description
            or "Count the parameters of any torch.nn layer, zoo model or Hugging Face config exactly, "
            "with the formula, memory in correct units and training memory itemised.",
            query=query,
            **self._form(values or {}),
            output=Markup(fragment),  # noqa: S704  (rendered by this class with autoescape)
            examples=[(example, self.links.query(example)) for example in EXAMPLES],
            controls=COUNTER_FIELDS,
            canonical=canonical,
        )

    def answer(self, report: Report, *, kind: str, slug: str, canonical: str | None) -> str:
        """An answer page: the question, the answer (with the plan chart for memory), every section."""
        from markupsafe import Markup

        heading = {"memory": memory_question, "output": output_question}.get(kind, question)(report)
        counter_url = None
        if self.links.live:
            counter_url = (
                planner_url(report, self.links.root)
                if kind == "memory"
                else f"{self.links.root}?q={quote(report.query, safe='')}"
            )
        return self._render(
            "answer.html",
            title=f"{heading} — paramcount",
            heading=heading,
            description=_description(report, kind),
            canonical=canonical,
            json_url=f"{self.links.root}answers/{slug}.json",
            answer=Markup(_lead(report, kind)),  # noqa: S704  (escaped by render.html)
            sections=self._sections(report),
            counter_url=counter_url,
            counter_label="Change it in the planner" if kind == "memory" else "Change it in the counter",
        )

    def planner(self, *, values: Mapping[str, str], fragment: str = "", canonical: str | None = None) -> str:
        """The memory planner: a form over every planner option, and the answer for the values given."""
        from markupsafe import Markup

        return self._render(
            "planner.html",
            title="Memory planner — paramcount",
            description="How much GPU memory a model needs to run, train or fine-tune: weights, gradients, "
            "optimizer states, activations and KV cache, itemised, per device, against an accelerator.",
            **self._form(values),
            output=Markup(fragment),  # noqa: S704  (rendered by this class with autoescape)
            canonical=canonical,
        )

    def not_found(self, message: str) -> str:
        return self.problem("Not found", message)

    def problem(self, heading: str, message: str) -> str:
        """A page saying why there is no answer (not found, busy)."""
        return self._render(
            "problem.html", title=f"{heading} — paramcount", description=message, heading=heading, message=message
        )

    def answers_index(self, questions: tuple[Question, ...], *, canonical: str | None = None) -> str:
        groups: dict[str, list[tuple[str, str]]] = {}
        for item in questions:
            url = self.links.answer(item.slug)
            if url is not None:
                groups.setdefault(item.group, []).append((item.label or item.query.removesuffix("()"), url))
        return self._render(
            "answers.html",
            title="Answers — paramcount",
            description="Parameter counts, formulas and memory for common layers, zoo models and Hugging Face models.",
            groups=groups,
            canonical=canonical,
        )

    def sitemap(self, urls: list[str]) -> str:
        return self._render("sitemap.xml", urls=urls)
