"""Well-known hub ids resolved to the configs shipped in ``configs/`` (nothing is ever downloaded).

A file ``configs/<org>--<name>.json`` answers hub id ``<org>/<name>``; ``configs/<name>.json`` answers an id
without an organisation (``gpt2``). Matching ignores case.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["CONFIGS", "hub_config_path", "hub_id_of", "shipped_hub_ids"]

CONFIGS = Path(__file__).parent / "configs"


@cache
def _index() -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in sorted(CONFIGS.glob("*.json")):
        hub_id = path.stem.replace("--", "/")
        index.setdefault(hub_id.split("/")[-1].lower(), path)  # "llama-3.1-8b" without the organisation
    for path in sorted(CONFIGS.glob("*.json")):
        index[path.stem.replace("--", "/").lower()] = path
    return index


def shipped_hub_ids() -> tuple[str, ...]:
    """Every shipped hub id once (with its organisation where it has one)."""
    return tuple(sorted({path.stem.replace("--", "/") for path in CONFIGS.glob("*.json")}))


def hub_config_path(hub_id: str) -> Path | None:
    """The shipped config for ``hub_id`` (``meta-llama/Llama-3.1-8B``, or ``llama-3.1-8b`` without the
    organisation), or None."""
    return _index().get(hub_id.strip().lower())


def hub_id_of(path: Path) -> str | None:
    """The hub id a shipped config file answers (``meta-llama/Llama-3.1-8B``), or None for any other file."""
    return path.stem.replace("--", "/") if path.parent == CONFIGS else None
