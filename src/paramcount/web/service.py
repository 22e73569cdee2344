"""The bounded path from a request to the library: one library call at a time, cached, and timed.

Concurrency: the expression parser calls ``ast.parse`` inside ``warnings.catch_warnings()``, which swaps
process-wide state and is not thread-safe on Python 3.11. Requests therefore run the library in a worker
thread (so the event loop keeps serving and a timeout can be enforced) but **serialised by one lock**:
only one thread is ever inside ``paramcount``. Every input is capped by the library before work, so a
call is short (milliseconds); throughput beyond one core comes from running several worker processes
(``paramcount serve --workers N``), each with its own lock and cache.

One kind of answer is computed on the event loop instead, when the lock is free: the lean report (no optional
sections, plan or shape: ``/api/count``'s default) of one catalog layer with at most two integer literals
(``queries.one_layer``), whose cost is bounded by the largest such layer's. The thread hop costs more than
such an answer (~270 k instructions, and far more wall time in thread wake-ups under load); anything else,
pages included (milliseconds on the loop serve fewer requests under load than in the thread), keeps the
thread and its time budget.

Timeouts: waiting for the lock longer than half the budget answers 503 (busy); the whole call taking
longer than the budget answers 504. A call that overran keeps its thread until it finishes (Python
cannot kill a thread) and holds the lock meanwhile — which the caps keep short.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from paramcount.analysis.planner import PlanOptions
from paramcount.api import Result
from paramcount.report import SECTIONS, Report
from paramcount.web.queries import resolve
from paramcount.web.settings import Settings

__all__ = ["Answers", "Busy", "Rendered", "TooSlow"]

T = TypeVar("T")
Shape = tuple[int, ...]


class Busy(Exception):
    """The library was busy for longer than the wait allowed (503)."""


class TooSlow(Exception):
    """The answer took longer than the request budget (504)."""


class Answers:
    """Reports for queries, computed under one lock and kept in a bounded LRU cache (errors are not kept)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        """The library's lock; re-entrant, so ``run`` can hold it around a bounded answer that takes it again."""
        self._cached = lru_cache(maxsize=settings.cache_size)(self._compute)
        self._resolved = lru_cache(maxsize=settings.cache_size)(self._resolve)

    def _resolve(self, query: str, architecture: str | None) -> Result:
        return resolve(
            query,
            architecture=architecture,
            max_query_chars=self.settings.max_query_chars,
            max_config_chars=self.settings.max_config_chars,
        )

    def _compute(
        self,
        query: str,
        architecture: str | None,
        plan: PlanOptions | None,
        shape: Shape | None,
        sections: tuple[str, ...],
    ) -> Report:
        """A report; the counted model is kept apart, so a new plan for a known model (the planner) is counted
        once; pasted configs are neither."""
        pasted = query.lstrip().startswith("{")
        result = self._resolve(query, architecture) if pasted else self._resolved(query, architecture)
        return result.report(plan, shape, sections=sections)

    def report(
        self,
        query: str,
        architecture: str | None = None,
        plan: PlanOptions | None = None,
        input_shape: Shape | None = None,
        sections: tuple[str, ...] = SECTIONS,
    ) -> Report:
        """The Report for ``query`` (blocking; call it from a worker thread through ``run``); ``plan`` adds a
        memory plan, ``input_shape`` output shapes and FLOPs, ``sections`` the optional parts to compute."""
        if not self.lock.acquire(timeout=self.settings.timeout_seconds / 2):
            raise Busy
        try:
            if query.lstrip().startswith("{"):  # pasted configs are large and rarely repeated
                return self._compute(query, architecture, plan, input_shape, sections)
            return self._cached(query, architecture, plan, input_shape, sections)
        finally:
            self.lock.release()

    def header_report(self, data: bytes, name: str, sections: tuple[str, ...]) -> Report:
        """The Report for a checkpoint's first bytes (``paramcount.api.from_header``), under the lock, never cached
        (blocking; call it through ``run``)."""
        from paramcount.api import from_header

        if not self.lock.acquire(timeout=self.settings.timeout_seconds / 2):
            raise Busy
        try:
            return from_header(data, name).report(None, None, sections=sections)
        finally:
            self.lock.release()

    async def run(self, function: Callable[[], T], *, bounded: bool = False) -> T:
        """``function()`` in a worker thread within the request budget; on the event loop when its cost is
        ``bounded`` (``queries.one_layer``) and the library's lock is free (never waiting for it there)."""
        if bounded and self.lock.acquire(blocking=False):
            try:
                return function()
            finally:
                self.lock.release()
        try:
            return await asyncio.wait_for(asyncio.to_thread(function), self.settings.timeout_seconds)
        except TimeoutError:
            raise TooSlow from None


class Rendered:
    """Rendered answers (JSON text, HTML pages) by key, least recently used first out; thread-safe.

    Rendering a report costs more than computing it for small layers (a page is a few milliseconds); a
    popular page is rendered once per worker process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, ...], value: str) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
