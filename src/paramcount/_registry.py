"""A table of named entries declared by decorators in builder modules: the layer catalog, the zoo and the
Hugging Face model types each keep one.

Registering a name twice is a programming error; the builder modules are imported on first use (so a table
costs nothing until asked); a lookup of an unknown name offers the closest known ones.
"""

from __future__ import annotations

from paramcount._record import Typed
from paramcount.errors import UnknownNameError, did_you_mean

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    _T = TypeVar("_T")
else:
    _T = None

__all__ = ["Registry"]


class Registry(Typed[_T]):
    """Entries by name; ``what`` names an entry in messages (``"layer"``: ``unknown layer 'Linar'``)."""

    __slots__ = ("_load", "_loaded", "entries", "what")

    def __init__(self, what: str, load: Callable[[], None]) -> None:
        self.what = what
        self.entries: dict[str, _T] = {}
        """What is registered so far (``load()`` has run or not)."""
        self._load = load
        self._loaded = False

    def add(self, name: str, entry: _T) -> None:
        """Register ``entry`` (a decorator's body); a second entry of the same name is a programming error."""
        if name in self.entries:
            raise RuntimeError(f"{self.what} {name!r} registered twice")
        self.entries[name] = entry

    def load(self) -> None:
        """Import every builder module once (marked done only once all imports succeeded)."""
        if not self._loaded:
            self._load()
            self._loaded = True

    def names(self) -> tuple[str, ...]:
        """Every registered name, sorted."""
        self.load()
        return tuple(sorted(self.entries))

    def find(self, name: str) -> _T | None:
        """The entry of ``name``, loading the builders if it is not registered yet; None if unknown."""
        entry = self.entries.get(name)
        if entry is None and not self._loaded:
            self.load()
            entry = self.entries.get(name)
        return entry

    def close_names(self, name: str) -> tuple[str, ...]:
        """Up to three known names close to ``name``; one that differs only in case comes first."""
        import difflib  # only on the error path: keeps the counting path's imports small

        self.load()
        close = difflib.get_close_matches(name, list(self.entries), n=3, cutoff=0.6)
        same = {known.lower(): known for known in self.entries}.get(name.lower())
        if same and same not in close:
            close.insert(0, same)
        return tuple(close[:3])

    def lookup(self, name: str) -> _T:
        """The entry of ``name``, or ``UnknownNameError`` with the closest names."""
        entry = self.find(name)
        if entry is None:
            close = self.close_names(name)
            raise UnknownNameError(f"unknown {self.what} {name!r}{did_you_mean(close)}", name, close)
        return entry
