"""Fixtures for the web tests: an app built by the factory with test settings, and its TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paramcount.web.app import create_app
from paramcount.web.settings import Settings


@pytest.fixture
def web_settings() -> Settings:
    return Settings(base_url="https://params.example.org", timeout_seconds=10.0)


@pytest.fixture
def web_app(web_settings: Settings) -> FastAPI:
    return create_app(web_settings)


@pytest.fixture
def client(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app) as test_client:
        yield test_client


class _ElementText(HTMLParser):
    """Collects the text inside the element with a given id (nested elements included)."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0
        self.found: list[str] = []
        self.seen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag not in VOID_ELEMENTS
        elif dict(attrs).get("id") == self.element_id:
            self.seen = True
            self.depth = 1 if tag not in VOID_ELEMENTS else 0

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.found.append(data)


VOID_ELEMENTS = frozenset({"br", "img", "input", "link", "meta", "hr"})


def text_of(html: str, element_id: str) -> str:
    """The text of the element ``id=element_id`` in ``html``; fails the test when there is none."""
    parser = _ElementText(element_id)
    parser.feed(html)
    assert parser.seen, f"no element with id {element_id!r}"
    return "".join(parser.found)


@pytest.fixture
def element_text() -> Callable[[str, str], str]:
    return text_of
