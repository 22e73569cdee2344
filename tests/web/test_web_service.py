"""Bounded processing: one library call at a time, 503 when busy, 504 when slow, errors not cached."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from paramcount.api import Result
from paramcount.web import service
from paramcount.web.app import create_app
from paramcount.web.queries import resolve
from paramcount.web.service import Answers
from paramcount.web.settings import Settings


def test_busy_library_is_503() -> None:
    app = create_app(Settings(timeout_seconds=0.2))
    answers: Answers = app.state.answers
    with TestClient(app) as client, answers.lock:
        response = client.get("/api/count", params={"q": "Linear(2, 3)"})
    assert response.status_code == 503
    assert response.json() == {
        "query": "Linear(2, 3)",
        "error": {"type": "Busy", "message": "the server is busy; try again in a moment", "column": None},
    }


@pytest.mark.parametrize("query", ["Linear(2, 3, bias=False)", "resnet50", "LSTM(2, 3, 4)", "Sequential(Linear(2, 3))"])
def test_slow_answer_is_504(monkeypatch: pytest.MonkeyPatch, query: str) -> None:
    """What ``queries.one_layer`` does not admit runs in a worker thread, so a slow answer is cut at the budget."""
    release = threading.Event()

    def slow(text: str, **options: object) -> Result:
        release.wait(5)
        raise AssertionError("not reached in time")

    monkeypatch.setattr(service, "resolve", slow)
    with TestClient(create_app(Settings(timeout_seconds=0.2))) as client:
        started = time.perf_counter()
        response = client.get("/api/count", params={"q": query})
        elapsed = time.perf_counter() - started
        release.set()
    assert response.status_code == 504
    assert response.json()["error"] == {
        "type": "Timeout",
        "message": "the answer took longer than 0.2 s; the limit is that long",
        "column": None,
    }
    assert elapsed < 4


@pytest.mark.parametrize(
    ("path", "query", "on_the_loop"),
    [
        ("/api/count", {"q": "Linear(2, 3)"}, True),
        ("/api/count", {"q": "Embedding(10, 4)", "sections": "variants"}, False),  # a page's work: the thread
        ("/answers/parameters-embedding-10-4", {}, False),
        ("/fragments/answer", {"q": "Embedding(10, 4)"}, False),
        ("/api/count", {"q": "Linear(2, 3, bias=False)"}, False),
        ("/api/memory", {"q": "Linear(2, 3)"}, False),  # a plan: only the query is judged by the rule
    ],
)
def test_bounded_queries_are_answered_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, path: str, query: dict[str, str], on_the_loop: bool
) -> None:
    threads = []

    def spy(text: str, **options: object) -> Result:
        threads.append(threading.current_thread())
        return resolve(text, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "resolve", spy)
    with TestClient(create_app(Settings())) as client:
        loop = client.portal.call(threading.current_thread)  # type: ignore[union-attr]
        assert client.get(path, params=query).status_code == 200
    assert (threads == [loop]) is on_the_loop


def test_pages_share_the_bounds() -> None:
    app = create_app(Settings(timeout_seconds=0.2))
    with TestClient(app) as client, app.state.answers.lock:
        assert client.get("/", params={"q": "Linear(2, 3)"}).status_code == 503
        assert client.get("/answers/parameters-linear-2-3").status_code == 503
        assert client.get("/fragments/answer", params={"q": "Linear(2, 3)"}).status_code == 503


def test_answers_are_cached_and_errors_are_not() -> None:
    answers = Answers(Settings())
    first = answers.report("Linear(2, 3)")
    assert answers.report("Linear(2, 3)") is first
    with pytest.raises(ValueError, match="column 7"):
        answers.report("Linear(2, 3")
    assert answers._cached.cache_info().currsize == 1


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"Settings\.timeout_seconds must be positive"):
        Settings(timeout_seconds=0)
    with pytest.raises(ValueError, match=r"Settings\.max_body_bytes must not be negative, got -1"):
        Settings(max_body_bytes=-1)
