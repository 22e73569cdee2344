"""The static export: the published answer pages, their JSON twins, an index and a sitemap, as files.

``build_site(Path("public"), base_url="https://example.org")`` writes::

    public/index.html                      the list of answers (the static site has no live counter)
    public/answers/index.html              the same list
    public/answers/<slug>/index.html       one answer page per curated question
    public/answers/<slug>.json             its JSON twin (render.json.report_dict)
    public/404.html, public/sitemap.xml, public/robots.txt, public/static/…

Pages link only to pages that exist in the export. Serve the folder at the root of a host (links are
absolute paths: ``/answers/<slug>``; most static hosts serve ``<slug>/index.html`` for it).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from paramcount.errors import ParamcountError
from paramcount.limits import MAX_EXPRESSION_CHARS
from paramcount.render.json import report_dict
from paramcount.web.curated import Question, curated
from paramcount.web.pages import Links, Pages
from paramcount.web.queries import resolve
from paramcount.web.targets import slug_of, target_for

__all__ = ["SiteSummary", "build_site"]

STATIC_FILES = ("style.css", "favicon.svg", "fragments.js")
"""What a static page needs: fragments.js adds the copy buttons (counter.js belongs to the live counter only)."""


@dataclass(frozen=True, slots=True)
class SiteSummary:
    pages: int
    """Answer pages written (each with its JSON twin)."""
    files: int
    """Every file written."""
    seconds: float
    skipped: tuple[str, ...]
    """Curated queries that could not be answered, with the reason (should be empty)."""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _answers(
    directory: Path, pages: Pages, questions: tuple[Question, ...], base_url: str
) -> tuple[tuple[Question, ...], tuple[str, ...]]:
    written: list[Question] = []
    skipped: list[str] = []
    for question in questions:
        target = target_for(question.slug)
        if target is None:
            skipped.append(f"{question.slug}: not an answer slug")
            continue
        try:
            result = resolve(target.query, max_query_chars=MAX_EXPRESSION_CHARS, max_config_chars=MAX_EXPRESSION_CHARS)
            report = result.report(target.plan, target.input_shape)
        except ParamcountError as error:
            skipped.append(f"{question.query}: {error}")
            continue
        canonical = slug_of(report, target.kind)
        if canonical != question.slug:
            skipped.append(f"{question.query}: its canonical page is {canonical}, not {question.slug}")
            continue
        url = f"{base_url}/answers/{question.slug}"
        page = pages.answer(report, kind=target.kind, slug=question.slug, canonical=url)
        _write(directory / "answers" / question.slug / "index.html", page)
        _write(directory / "answers" / f"{question.slug}.json", json.dumps(report_dict(report), ensure_ascii=False))
        written.append(question)
    return tuple(written), tuple(skipped)


def build_site(directory: Path, *, base_url: str, questions: tuple[Question, ...] | None = None) -> SiteSummary:
    """Write the static site for ``questions`` (the curated list by default) into ``directory``."""
    started = time.perf_counter()
    questions = curated() if questions is None else questions
    base_url = base_url.rstrip("/")
    pages = Pages(links=Links(published=frozenset(question.slug for question in questions), live=False))
    written, skipped = _answers(directory, pages, questions, base_url)
    index = pages.answers_index(written, canonical=f"{base_url}/answers")
    _write(directory / "index.html", index)
    _write(directory / "answers" / "index.html", index)
    _write(directory / "404.html", pages.not_found("no answer page has this name"))
    urls = [f"{base_url}/", f"{base_url}/answers"] + [f"{base_url}/answers/{q.slug}" for q in written]
    _write(directory / "sitemap.xml", pages.sitemap(urls))
    _write(directory / "robots.txt", f"User-agent: *\nAllow: /\nSitemap: {base_url}/sitemap.xml\n")
    static = directory / "static"
    static.mkdir(parents=True, exist_ok=True)
    for name in STATIC_FILES:
        with (
            files("paramcount.web").joinpath("static", name).open("rb") as source,
            (static / name).open("wb") as target,
        ):
            shutil.copyfileobj(source, target)
    extra_files = 5 + len(STATIC_FILES)
    return SiteSummary(len(written), 2 * len(written) + extra_files, time.perf_counter() - started, skipped)
