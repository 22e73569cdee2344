"""Fetching from the Hugging Face hub, with the optional ``[hub]`` extra (``huggingface_hub``): a model's
``config.json`` and its safetensors headers, never the weights.

- ``config.json`` and ``model.safetensors.index.json`` come through ``hf_hub_download`` into the Hugging Face
  cache (``hub.cache_dir()``), where the next question finds them offline; ``HF_ENDPOINT`` and ``HF_TOKEN``
  (gated and private models) are read at each call.
- A safetensors header is fetched with HTTP range requests as ``huggingface_hub``'s
  ``parse_safetensors_file_metadata`` does: the first 100,000 bytes, then the rest of the header when it is
  longer; the bytes (8-byte length and JSON header, without any tensor data) are kept under
  ``<cache>/paramcount/models--<org>--<name>/<commit>/<file>.header``: the hub's own cache has no place for a part
  of a file, and a commit's files never change.

Every failure is one line: not found (404, or 401 for a private repository), gated or forbidden (403),
unreachable (at once: ``huggingface_hub``'s retries are for a hub that answered).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from paramcount._record import Record
from paramcount.errors import ConfigError, LimitError, Remedy, UnknownNameError
from paramcount.limits import MAX_HEADER_BYTES
from paramcount.sources.hf.hub import cache_dir, similar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["FIRST_RANGE", "SafetensorsHeaders", "fetch_config", "header_store", "safetensors_headers"]

FIRST_RANGE = 100_000
"""Bytes asked for first, as huggingface_hub does (97% of the hub's top 1,000 models' headers are shorter)."""
INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"


class SafetensorsHeaders(Record):
    """The safetensors headers of one commit of a hub model: the index (None for a single file) and, per file, its
    header bytes as they begin the file (8-byte little-endian length, then the JSON header)."""

    repo_id: str
    commit: str
    index: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def _settings() -> dict[str, Any]:
    return {
        "cache_dir": cache_dir(),
        "endpoint": os.environ.get("HF_ENDPOINT") or None,
        "token": os.environ.get("HF_TOKEN") or None,
    }


def _failure(text: str, error: Exception) -> ConfigError | UnknownNameError:
    """One line for what ``huggingface_hub`` raised."""
    from huggingface_hub import errors

    if isinstance(error, errors.GatedRepoError):
        return ConfigError(
            f"{text}: a gated model; accept its terms on the hub and set HF_TOKEN to a token with access"
        )
    if isinstance(error, errors.RevisionNotFoundError):
        return UnknownNameError(f"{text}: no such revision on the hub", text)
    if isinstance(error, errors.RepositoryNotFoundError):  # also 401: the hub answers so for private repositories
        return UnknownNameError(
            f"{text}: no such model on the hub (or a private one: set HF_TOKEN){similar(text)}", text
        )
    if isinstance(error, errors.RemoteEntryNotFoundError):
        return ConfigError(f"{text}: the hub has no {Path(str(error.response.url)).name} for this model")
    if isinstance(error, errors.HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        if status in (401, 403):
            return ConfigError(f"{text}: the hub refused access ({status}); set HF_TOKEN to a token with access")
        return ConfigError(f"{text}: the hub answered {status}")
    unreachable = f"{text}: cannot reach the hub ({type(error).__name__})"
    return ConfigError((unreachable, Remedy("offline", "; use a cached model or {}")))


def _download(repo_id: str, filename: str, revision: str | None) -> Path:
    """The file through ``hf_hub_download``, after one request for its metadata that is not retried.

    Where it cannot reach the hub, ``hf_hub_download`` retries five times over about 23 seconds (a minute
    per try when the network does not answer) and logs each retry; the one request first makes an
    unreachable hub one line at once, for one more round trip on a file's first download."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    settings = _settings()
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=settings["endpoint"])
    get_hf_file_metadata(url, token=settings["token"], endpoint=settings["endpoint"])
    return Path(hf_hub_download(repo_id, filename, revision=revision, **settings))


def fetch_config(repo_id: str, revision: str | None = None) -> Path:
    """Download ``config.json`` alone into the Hugging Face cache and return its path there."""
    try:
        return _download(repo_id, "config.json", revision)
    except Exception as error:  # every failure of the network or the hub is one line
        raise _failure(repo_id if revision is None else f"{repo_id}@{revision}", error) from None


def _header_of(url: str, headers: dict[str, str], label: str) -> bytes:
    """The header bytes of the safetensors file at ``url``: one range request, two when the header is longer."""
    from huggingface_hub import get_session, hf_raise_for_status

    session = get_session()
    response = session.get(url, headers={**headers, "range": f"bytes=0-{FIRST_RANGE}"})
    hf_raise_for_status(response)
    first = response.content
    if len(first) < 8:
        raise ConfigError(f"{label}: not a safetensors file (shorter than its 8-byte header length)")
    length = int.from_bytes(first[:8], "little")
    if length > MAX_HEADER_BYTES:
        raise LimitError(f"{label}: header length", MAX_HEADER_BYTES, length, unit="bytes")
    if length + 8 > len(first):
        response = session.get(url, headers={**headers, "range": f"bytes={len(first)}-{length + 7}"})
        hf_raise_for_status(response)
        first += response.content
    return first[: length + 8]


def safetensors_headers(repo_id: str, revision: str | None = None, *, offline: bool = False) -> SafetensorsHeaders:
    """The index and every file's header of ``repo_id`` at ``revision``: from the caches, else (not ``offline``)
    from the hub with range requests, never the tensor data; kept in the caches for the next call."""
    text = repo_id if revision is None else f"{repo_id}@{revision}"
    try:
        return _headers(repo_id, revision, text, offline)
    except (ConfigError, UnknownNameError, LimitError):
        raise
    except Exception as error:  # every failure of the network or the hub is one line
        raise _failure(text, error) from None


def header_store(repo_id: str, commit: str) -> Path:
    """Where the headers of ``repo_id`` at ``commit`` are kept (``<cache>/paramcount/models--<org>--<name>/<commit>``;
    absent until one was fetched)."""
    return cache_dir() / "paramcount" / f"models--{repo_id.replace('/', '--')}" / commit


def _headers(repo_id: str, revision: str | None, text: str, offline: bool) -> SafetensorsHeaders:
    from paramcount.sources.hf._config import parse_config_text
    from paramcount.sources.hf.hub import hub_config

    config = hub_config(text, offline=offline)  # resolves the commit, from the cache when it can
    commit, snapshot = config.parent.name, config.parent
    store = header_store(repo_id, commit)
    index_path = snapshot / INDEX
    if not index_path.is_file() and not (store / f"{SINGLE}.header").is_file() and not offline:
        from huggingface_hub import errors

        with contextlib.suppress(errors.RemoteEntryNotFoundError):  # a single model.safetensors
            index_path = _download(repo_id, INDEX, commit)
    index = index_path.read_bytes() if index_path.is_file() else None
    files = [SINGLE]
    if index is not None:
        weight_map = parse_config_text(index, f"{text}: {INDEX}").get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(name, str) for name in weight_map.values()):
            raise ConfigError(f"{text}: {INDEX} has no weight_map of file names")
        files = sorted(set(weight_map.values()))
    found: list[tuple[str, bytes]] = []
    for name in files:
        if Path(name).name != name or not name.endswith(".safetensors"):
            raise ConfigError(f"{text}: {INDEX} names {name!r}, not a safetensors file beside it")
        kept = store / f"{name}.header"
        if not kept.is_file():
            if offline:
                raise ConfigError(f"{text}: the header of {name} is not cached, and offline")
            from huggingface_hub import hf_hub_url
            from huggingface_hub.utils._headers import build_hf_headers

            settings = _settings()
            url = hf_hub_url(repo_id, name, revision=commit, endpoint=settings["endpoint"])
            header = _header_of(url, build_hf_headers(token=settings["token"]), f"{text}: {name}")
            store.mkdir(parents=True, exist_ok=True)
            partial = kept.with_suffix(".partial")
            partial.write_bytes(header)
            partial.replace(kept)
        found.append((name, kept.read_bytes()))
    return SafetensorsHeaders(repo_id, commit, index, tuple(found))
