"""Hub ids resolved to a ``config.json``: the configs shipped in ``configs/``, then the local Hugging Face cache.

A file ``configs/<org>--<name>.json`` answers hub id ``<org>/<name>``; ``configs/<name>.json`` answers an id
without an organisation (``gpt2``). Matching ignores case.

Any other ``<org>/<name>[@revision]`` is looked up in the Hugging Face cache, as ``huggingface_hub`` lays it out
(``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``; ``models--<org>--<name>/refs/<revision>``
names the commit, ``snapshots/<commit>/config.json`` is the file), offline; only when it is not there, and not
offline, ``remote.fetch_config`` downloads the ``config.json`` alone (the ``[hub]`` extra) into that cache.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from paramcount.errors import UnknownNameError

__all__ = [
    "CONFIGS",
    "cache_dir",
    "cached_config",
    "hub_config",
    "hub_config_path",
    "hub_id_of",
    "is_hub_id",
    "offline_by_default",
    "shipped_hub_ids",
    "similar",
    "split_revision",
]

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
    """The hub id a shipped config file or a cached snapshot answers (``meta-llama/Llama-3.1-8B``), or None for
    any other file."""
    if path.parent == CONFIGS:
        return path.stem.replace("--", "/")
    snapshots = path.parent.parent
    if snapshots.name == "snapshots" and snapshots.parent.name.startswith("models--"):
        return snapshots.parent.name.removeprefix("models--").replace("--", "/")
    return None


_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_MAX_PART = 96
"""The hub's limit on an organisation's or a repository's name."""


def _is_name(part: str) -> bool:
    return 0 < len(part) <= _MAX_PART and part[0].isalnum() and set(part) <= _NAME_CHARACTERS and ".." not in part


def split_revision(text: str) -> tuple[str, str | None]:
    """``("org/name", "v1.0")`` for ``org/name@v1.0``; the revision is None without ``@``."""
    repo_id, at, revision = text.partition("@")
    return repo_id, revision if at else None


def is_hub_id(text: str) -> bool:
    """``org/name`` or ``org/name@revision`` as the hub spells repository ids (letters, digits, ``-_.``)."""
    repo_id, revision = split_revision(text)
    org, slash, name = repo_id.partition("/")
    if not (slash and _is_name(org) and _is_name(name)) or name.endswith(".json"):
        return False
    return revision is None or (0 < len(revision) <= 256 and set(revision) <= _NAME_CHARACTERS | {"/"})


def offline_by_default() -> bool:
    """``HF_HUB_OFFLINE`` set to a true value, as ``huggingface_hub`` reads it."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def cache_dir() -> Path:
    """The Hugging Face hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``
    (``$XDG_CACHE_HOME/huggingface/hub`` when that is set), read at each call."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = Path(os.environ["XDG_CACHE_HOME"]) if os.environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base.expanduser() / "huggingface" / "hub"


def _repo_folder(root: Path, repo_id: str) -> Path | None:
    folder = root / f"models--{repo_id.replace('/', '--')}"
    if folder.is_dir():
        return folder
    wanted = folder.name.lower()  # the hub ignores case; the cache keeps the spelling it was fetched with
    try:
        return next((entry for entry in root.iterdir() if entry.name.lower() == wanted), None)
    except OSError:
        return None


def cached_config(repo_id: str, revision: str | None = None) -> Path | None:
    """``config.json`` of ``repo_id`` at ``revision`` (a branch, a tag or a commit; ``main`` when None) in the
    local cache, or None. Reads two small files; never touches the network."""
    folder = _repo_folder(cache_dir(), repo_id)
    if folder is None:
        return None
    wanted = revision or "main"
    commit = wanted
    ref = folder / "refs" / wanted
    if ref.is_file():
        try:
            commit = ref.read_text(encoding="utf-8").strip()
        except OSError:
            return None
    if not _is_name(commit):
        return None
    config = folder / "snapshots" / commit / "config.json"
    return config if config.is_file() else None


def hub_config(text: str, *, offline: bool = False) -> Path:
    """The ``config.json`` of hub id ``text`` (``org/name[@revision]``): from the local cache, else (not offline,
    with the ``[hub]`` extra) fetched from the hub into that cache. One-line errors for anything else."""
    repo_id, revision = split_revision(text)
    found = cached_config(repo_id, revision)
    if found is not None:
        return found
    where = "not a shipped hub id nor in the local Hugging Face cache"
    if offline or offline_by_default():
        raise UnknownNameError(f"{text}: {where}, and offline{similar(text)}", text)
    from importlib.util import find_spec

    if find_spec("huggingface_hub") is None:
        raise UnknownNameError(
            f"{text}: {where}; to fetch its config.json (never the weights), pip install 'paramcount[hub]'"
            f"{similar(text)}",
            text,
        )
    from paramcount.sources.hf.remote import fetch_config

    return fetch_config(repo_id, revision)


def similar(text: str) -> str:
    """``; did you mean …?`` naming the closest shipped hub ids, or nothing (for error messages)."""
    import difflib

    from paramcount.errors import did_you_mean

    shipped = {hub_id.lower(): hub_id for hub_id in shipped_hub_ids() if "/" in hub_id}
    close = difflib.get_close_matches(split_revision(text)[0].lower(), list(shipped), n=3, cutoff=0.8)
    return did_you_mean(tuple(shipped[key] for key in close))
