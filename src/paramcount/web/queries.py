"""What the web accepts as a query, and how it reaches the library without ever touching the filesystem.

``paramcount.count`` also accepts a path to a ``config.json`` or a folder; a web user must not be able to
make the server read its own files, so this module refuses anything path-like *before* the library sees
it, and it never hands ``count`` a text that ``count`` would look up on disk:

- a shipped hub id (``meta-llama/Llama-3.1-8B``, ``gpt2``) goes to ``count``, which resolves it to a
  config shipped inside the package;
- a text with a call in it (``Conv2d(256, 512, 3)``, ``resnet50(num_classes=10)``) goes to ``count``,
  which parses it as an expression without looking at the disk;
- a bare name (``resnet50``, ``ReLU``) goes to ``count(text, paths=False)``, which never looks for a folder
  of that name;
- a pasted ``config.json`` (text starting with ``{``) is parsed by the config door's bounded reader and
  counted from the dict;
- an empty text, or one that looks like a path (``.json`` at the end, ``/`` or ``\\`` outside a hub id,
  a leading ``.`` or ``~``) is refused with a ``QueryError`` (400).
"""

from __future__ import annotations

from paramcount.analysis.counts import totals
from paramcount.api import Result, count
from paramcount.errors import LimitError, QueryError
from paramcount.sources.hf import from_config
from paramcount.sources.hf._config import parse_config_text
from paramcount.sources.hf.hub import hub_config_path

__all__ = ["PASTED_CONFIG", "resolve"]

PASTED_CONFIG = "pasted config.json"
"""The name a pasted config goes by in messages and reports."""

EMPTY_MESSAGE = (
    "the query is empty; type a layer such as Conv2d(256, 512, 3), a zoo model such as resnet50, "
    "a hub id such as meta-llama/Llama-3.1-8B, or paste a config.json"
)
PATH_MESSAGE = (
    "query: file and folder paths are not read by the web app; paste the config.json text itself, "
    "or use a shipped hub id (paramcount --list configs)"
)


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
        tree = from_config(parse_config_text(text, PASTED_CONFIG), architecture=architecture)
        return Result(query=text, tree=tree, totals=totals(tree), origin="config", location=PASTED_CONFIG)
    if len(text) > max_query_chars:
        raise LimitError("expression", max_query_chars, len(text), unit="characters")
    if stripped.lower().endswith(".json"):
        raise QueryError(PATH_MESSAGE)
    if "(" not in stripped and hub_config_path(stripped) is not None:
        return count(text, architecture=architecture)
    if architecture is not None:
        raise QueryError("architecture: applies only to a hub id or a pasted config.json")
    if "(" in stripped:
        return count(text)  # an expression: count parses it and never looks at the disk
    if "/" in stripped or "\\" in stripped or stripped.startswith((".", "~")):
        raise QueryError(PATH_MESSAGE)
    return count(text, paths=False)  # a bare name: paths=False skips count's check for a folder of that name
