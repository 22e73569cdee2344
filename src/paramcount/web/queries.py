"""What the web accepts as a query, and how it reaches the library without ever touching the filesystem.

``paramcount.count`` also accepts a path to a ``config.json`` or a folder; a web user must not be able to
make the server read its own files, so this module refuses anything path-like *before* the library sees
it, and it never hands ``count`` a text that ``count`` would look up on disk:

- a pasted ``config.json`` (text starting with ``{``) goes to ``from_config_text``, the config door's
  bounded reader;
- anything else goes to ``count(text, paths=False)``, which never reads the disk: a shipped hub id
  (``meta-llama/Llama-3.1-8B``) resolves to a config shipped inside the package, an expression
  (``Conv2d(256, 512, 3)``) is parsed, a bare name (``resnet50``) is a zoo model, never a folder;
- a hub id that is not shipped (``org/name``, ``org/name@revision``) is refused with an ``UnknownNameError``
  naming the closest shipped ones: the web fetches nothing from the hub;
- an empty text, or one that looks like a path (``.json`` at the end, ``/`` or ``\\`` outside a hub id,
  a leading ``.`` or ``~``) is refused with a ``QueryError`` (400).
"""

from __future__ import annotations

import re

from paramcount.api import Result, count, from_config_text
from paramcount.errors import LimitError, QueryError, UnknownNameError
from paramcount.layers._registry import registered
from paramcount.sources.hf.hub import hub_config_path, is_hub_id, similar

__all__ = ["PASTED_CONFIG", "one_layer", "resolve"]

PASTED_CONFIG = "pasted config.json"
"""The name a pasted config goes by in messages and reports."""

EMPTY_MESSAGE = (
    "the query is empty; type a layer such as Conv2d(256, 512, 3), a zoo model such as resnet50, "
    "a hub id such as meta-llama/Llama-3.1-8B, or paste a config.json"
)
ARCHITECTURE_MESSAGE = "architecture: applies only to a hub id or a pasted config.json"
PATH_MESSAGE = (
    "query: file and folder paths are not read by the web app; paste the config.json text itself, "
    "or use a shipped hub id (paramcount --list configs)"
)

UNSHIPPED_MESSAGE = "not a shipped hub id, and the web app fetches nothing from the hub; paste its config.json text"
"""After ``<hub id>: ``; the closest shipped hub ids follow (``; did you mean …?``)."""

ONE_LAYER = re.compile(r"\s*([A-Z][A-Za-z0-9]*)\(\s*(?:[0-9]{1,9}\s*(?:,\s*[0-9]{1,9}\s*)?)?\)\s*")
"""A call with at most two integer literals (no keyword, no nesting, no repetition): ``Linear(4096, 512)``."""


def one_layer(text: str) -> bool:
    """Whether ``text`` is one catalog layer called with at most two integer literals of at most nine digits, the
    rule that lets the web answer a query on its event loop: such a layer's tree does not grow with its numbers
    (a property test builds every one with numbers up to nine digits), so its cost is bounded by the largest
    catalog layer's (``Transformer(64, 8)``, 184 tensors: its lean JSON answer in ~1.2 ms). Anything else may be
    costly (a zoo model, a repeated list, ``LSTM(9, 9, 9999)``) and goes to a worker thread within the budget."""
    match = ONE_LAYER.fullmatch(text)
    return match is not None and registered(match[1]) is not None


def resolve(text: str, *, architecture: str | None = None, max_query_chars: int, max_config_chars: int) -> Result:
    """Count what a web user typed, refusing paths; raises ``ParamcountError`` for any bad input."""
    stripped = text.strip()
    if not stripped:
        raise QueryError(EMPTY_MESSAGE)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise QueryError("the query is not valid Unicode (a lone surrogate)", column=error.start + 1) from None
    if stripped.startswith("{"):
        if len(text) > max_config_chars:
            raise LimitError(PASTED_CONFIG, max_config_chars, len(text), unit="characters")
        return from_config_text(text, architecture=architecture, name=PASTED_CONFIG)
    if len(text) > max_query_chars:
        raise LimitError("expression", max_query_chars, len(text), unit="characters")
    if stripped.lower().endswith(".json"):
        raise QueryError(PATH_MESSAGE)
    shipped = "(" not in stripped and hub_config_path(stripped) is not None
    if not shipped and "(" not in stripped and is_hub_id(stripped):
        raise UnknownNameError(f"{stripped}: {UNSHIPPED_MESSAGE}{similar(stripped)}", stripped)
    if architecture is not None and not shipped:
        raise QueryError(ARCHITECTURE_MESSAGE)
    if not shipped and "(" not in stripped and ("/" in stripped or "\\" in stripped or stripped.startswith((".", "~"))):
        raise QueryError(PATH_MESSAGE)
    return count(text, architecture=architecture, paths=False)  # paths=False: count never reads the disk
