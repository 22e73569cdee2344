"""The library entry points: text in, ``Result`` out; ``Result.report()`` for the whole explained answer.

``count`` accepts what people type: a layer or module expression (``Conv2d(256, 512, 3)``), a zoo model
(``resnet50``, ``vit_b_16(image_size=384)``), a Hugging Face hub id whose config ships with paramcount
(``meta-llama/Llama-3.1-8B``), a path to a ``config.json`` (or a folder holding one), or a checkpoint file
or folder (``model.safetensors``, ``model.gguf``, ``./Llama-3.1-8B/``), read header-only.
"""

from __future__ import annotations

import os

from paramcount._cache import per_tree
from paramcount._record import Record, replace
from paramcount._words import noun
from paramcount.analysis.context import layer_signature, occurrences
from paramcount.analysis.counts import Counts, Totals, count_tree, totals
from paramcount.analysis.explain import explain
from paramcount.analysis.memory import TrainingPlan, choose_dtype, dtype_totals, parameter_memory, stored_bytes
from paramcount.analysis.readings import reading
from paramcount.analysis.related import Candidate, related_candidates, variant_candidates
from paramcount.analysis.structure import active_parameters, blocks, embedding_parameters, module_table, raw_modules
from paramcount.calls import Call, Container, TorchProgram, TorchvisionProgram, TransformersProgram
from paramcount.errors import ArgumentError, ParamcountError, UnknownNameError, did_you_mean, expect_type, short_repr
from paramcount.expr import parse_model
from paramcount.layers._registry import rebuild
from paramcount.layers.construction import argument_of, call_of, construction_of
from paramcount.limits import MAX_EXPRESSION_CHARS
from paramcount.provenance import (
    FromConfig,
    FromExpression,
    FromFile,
    FromModule,
    FromZoo,
    Provenance,
    WeightDifference,
)
from paramcount.report import SECTIONS, Appearance, Comparison, Report
from paramcount.tree import Module, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from pathlib import Path
    from typing import Any

    from paramcount.analysis.flops import FlopsEstimate
    from paramcount.analysis.memory import Assumption, DtypeChoice, DtypeTotal, FormatMemory
    from paramcount.analysis.planner import MemoryPlan, PlanOptions
    from paramcount.analysis.shapes.types import ShapeReport
    from paramcount.analysis.structure import RawModule
    from paramcount.calls import Program
    from paramcount.sources.checkpoint import Checkpoint

__all__ = [
    "SECTIONS",
    "Result",
    "count",
    "from_config",
    "from_config_text",
    "from_file",
    "from_header",
    "from_module",
    "summary",
    "summary_of_file",
]

PARSE_CACHE_SIZE = 1024
"""Distinct expressions whose results are kept (each a small frozen tree)."""


class Result(Record):
    """What ``count()`` returns: the tree and its counts; ``report()`` adds the explained answer."""

    query: str
    tree: Module
    totals: Totals
    provenance: Provenance = FromExpression()
    """Where the tree came from: the door, and what the source said (a config's location, dtype …)."""

    @property
    def origin(self) -> str:
        """The door: ``expression``, ``zoo``, ``config``, ``module``, or a checkpoint's format (``safetensors``,
        ``gguf``, ``onnx``, ``pytorch``): ``provenance.origin``."""
        return self.provenance.origin

    @property
    def total(self) -> int:
        return self.totals.total

    @property
    def trainable(self) -> int:
        return self.totals.trainable

    @property
    def non_trainable(self) -> int:
        return self.totals.non_trainable

    @property
    def buffers(self) -> int:
        return self.totals.buffers

    @property
    def counts(self) -> Counts:
        """Totals and every tensor by torch's name (expands repeated blocks: computed on each access)."""
        return count_tree(self.tree)

    @property
    def active(self) -> int | None:
        """Parameters used per token for mixture-of-experts models; None for dense ones."""
        return active_parameters(self.tree)

    def report(
        self,
        plan: PlanOptions | None = None,
        input_shape: tuple[int, ...] | None = None,
        *,
        sections: Collection[str] = SECTIONS,
    ) -> Report:
        """The complete answer: formula, reading, memory, variants, related questions, code. ``plan`` adds a
        memory plan for those options (a config gets an inference plan in its own dtype by default) and, with
        a sequence length, the FLOPs per step; ``input_shape`` adds output shapes and MACs per module.
        ``sections`` names the optional parts to compute (any of ``SECTIONS``; ``()`` for the count, tensors and
        memory alone: what a caller that shows no more need not wait for).

        Raises:
            ArgumentError: a name in ``sections`` that is not one of ``SECTIONS``, ``sections`` that is not a
                collection of names, ``plan`` that is not a ``PlanOptions``.
            ShapeError, LimitError: ``input_shape`` that is not a tuple of integers, or one the tree refuses.
        """
        return build_report(self, plan, input_shape, sections)

    def to_dict(self) -> dict[str, object]:
        """The whole answer as the JSON schema's dict (``report().to_dict()``)."""
        return self.report().to_dict()


def _looks_like_path(text: str) -> bool:
    """A config file or a folder holding one (expressions never end in .json nor name a folder)."""
    return bool(text) and (text.endswith(".json") or os.path.isdir(text))


def _names_checkpoint(text: str) -> bool:
    """A checkpoint file (by its name) or a folder holding checkpoint files; a folder with a config.json and
    no weights stays a config."""
    if "." not in text and not os.path.isdir(text):
        return False  # a zoo name or an expression: nothing to import or look at
    from paramcount.sources.files import find_weights, is_checkpoint_path

    if is_checkpoint_path(text):
        return True
    from pathlib import Path

    return os.path.isdir(text) and find_weights(Path(text)) is not None


def count(
    text: str,
    *,
    architecture: str | None = None,
    via_transformers: bool = False,
    paths: bool = True,
    offline: bool = False,
) -> Result:
    """Count the parameters of whatever ``text`` names; e.g. ``count("Conv2d(256, 512, 3)").total``.

    ``architecture`` picks the class counted for a config (``"LlamaModel"`` for the base model);
    ``via_transformers`` counts a config with transformers itself on the meta device (when installed);
    ``paths=False`` never reads the filesystem nor the network (a server answering untrusted queries): configs
    then come only from shipped hub ids. Otherwise a hub id ``org/name[@revision]`` that is not shipped is read
    from the local Hugging Face cache, else (unless ``offline`` or ``HF_HUB_OFFLINE``, and with the ``[hub]``
    extra) its ``config.json`` is fetched into that cache, with its safetensors headers by range requests. A hub
    id's count is its config's; its weights, when at hand (the snapshot's files, headers fetched or kept), are
    compared with it as a folder's are (``provenance.weights``, ``provenance.differences``), unless
    ``architecture`` names another class. A checkpoint file or a folder holding one is
    read header-only (``from_file``). A hub model whose ``model_type`` has no formulas here is counted exactly
    from its weights' headers when they are at hand (the cached snapshot's files, else its safetensors headers
    by range requests), and the answer says formulas are unavailable; otherwise the error offers
    ``via_transformers``.
    Raises ``ParamcountError`` (one subclass per kind of problem) for anything the input gets wrong: an
    ``ArgumentError`` for ``architecture`` or ``via_transformers`` given with a text that is not a config, an
    ``UnknownNameError`` naming the closest zoo models and shipped hub ids for a bare name that is neither.
    """
    expect_type("text", text, str, "a string")
    bare = "(" not in text and len(text) <= MAX_EXPRESSION_CHARS  # a longer text is refused by parse, unstripped
    if bare:
        from paramcount.sources.hf.hub import hub_config_path

        stripped = text.strip()
        if paths and ".py:" in stripped:
            from paramcount.sources.live import file_target

            if file_target(stripped) is not None:  # the command line's FILE.py:CLASS, which runs the user's code
                message = "count() never imports your code: build the module and pass it to paramcount.summary()"
                raise ArgumentError(stripped, message)
        shipped = hub_config_path(stripped)
        if shipped is not None:
            return _count_config(text, shipped, stripped, architecture, via_transformers)
        if paths and _names_checkpoint(stripped):
            refuse_config_options(text, architecture, via_transformers)
            return from_file(stripped, query=text)
        if paths and _looks_like_path(stripped):
            return _count_config(text, stripped, stripped, architecture, via_transformers)
        from paramcount.sources.hf.hub import cached_config, hub_config, is_hub_id, split_revision

        if paths and is_hub_id(stripped):
            repo_id, revision = split_revision(stripped)
            cached = cached_config(repo_id, revision)
            try:
                config = cached or hub_config(stripped, offline=offline)
            except ParamcountError as error:
                raise _missing_path(stripped, error) or error from None
            try:
                result = _count_config(text, config, repo_id, architecture, via_transformers)
            except UnknownNameError as error:
                fallback = None
                if architecture is None and not via_transformers and _unsupported_facts(error):
                    fallback = _hub_weights(text, stripped, config, offline)
                if fallback is None:
                    raise
                return fallback
            if architecture is not None:
                return result  # the weights are the config's own class's: another class differs by design
            return _with_hub_weights(result, stripped, config, fetch=cached is None)
    try:
        result = _count_expression(text)
    except ParamcountError:
        if bare and _looks_like_a_model_name(text.strip()):
            raise _unknown_model(text.strip(), paths) from None
        raise
    refuse_config_options(text, architecture, via_transformers)
    return result


def _missing_path(text: str, error: ParamcountError) -> UnknownNameError | None:
    """For ``runs/last`` where a folder ``runs`` is here: a path that does not exist, said first, then why the
    hub id of that name was not counted either; None when no such folder is here (a hub id, then)."""
    folder, _, rest = text.partition("/")
    if not os.path.isdir(folder):
        return None
    missing = f"no such file or folder: {short_repr(text)} ({folder}/ holds no {rest}); as a hub id, "
    return UnknownNameError((missing, *error.parts), text)  # the hub's errors have no column


def refuse_config_options(text: str, architecture: str | None, via_transformers: bool) -> None:
    """An ``ArgumentError`` when ``architecture`` or ``via_transformers`` is given for ``text``, which is not a
    config (an expression, a zoo model, a checkpoint, a ``FILE.py:CLASS``): either would change nothing."""
    if architecture is not None or via_transformers:
        option = "architecture" if architecture is not None else "via_transformers"
        message = f"applies only to a model config (a shipped hub id or a config.json), not to {short_repr(text)}"
        raise ArgumentError(option, message, option)


def _looks_like_a_model_name(text: str) -> bool:
    """A bare word such as ``llama-3-8b``, ``mixtral`` or ``Qwen/Qwen2.5-7B``: letters, digits and ``-._/``,
    and not a Python name the expression reader explains better (a keyword, a layer class, ``torch.…``)."""
    import keyword  # error path only

    from paramcount.layers import known_layers

    return (
        any(char.isalpha() for char in text)
        and all(char.isascii() and (char.isalnum() or char in "-._/") for char in text)
        and not keyword.iskeyword(text)
        and not text.startswith(("nn.", "torch.", "F.", "collections."))
        and text not in (*known_layers(), "OrderedDict", "range")
    )


def _unknown_model(name: str, paths: bool) -> UnknownNameError:
    """The closest zoo models and shipped hub ids (``mixtral`` finds ``mistralai/Mixtral-8x7B-v0.1`` by its
    name without the organisation), and how to count any other model."""
    import difflib  # error path only

    from paramcount.sources.hf.hub import shipped_hub_ids
    from paramcount.zoo import known_models

    if paths and (name.startswith(("/", "./", "../", "~")) or name.endswith("/") or name.count("/") > 1):
        return UnknownNameError(f"no such file or folder: {short_repr(name)}", name)  # a path, not a model name
    by_key: dict[str, str] = {}
    for known in (*shipped_hub_ids(), *known_models()):
        by_key.setdefault(known.rsplit("/", 1)[-1].lower(), known)
    key = name.rsplit("/", 1)[-1].lower()
    containing = [known for known in by_key if len(key) >= 3 and key in known]
    containing.sort(key=lambda known: (not known.startswith(key), len(known)))
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.6)
    suggestions = tuple(by_key[known] for known in dict.fromkeys([*containing, *close]))[:3]
    where = "the path to its config.json (or its folder)" if paths else "its config.json"
    return UnknownNameError(
        f"unknown model {short_repr(name)}: not a zoo model nor a shipped hub id; for any model, give {where}"
        f"{did_you_mean(suggestions)}",
        name,
        suggestions,
    )


_answered: dict[str, Result] = {}
"""The parse cache: a dict, oldest entry evicted first (``functools.lru_cache`` would put ``functools`` and
``collections`` on the start-up path for one use)."""


def _count_expression(text: str) -> Result:
    """Parsing is a pure function of the text and the tree is immutable, so repeated questions (a batch,
    the web app) are answered from this cache; errors are not cached."""
    found = _answered.get(text)
    if found is None:
        tree, model = parse_model(text)
        found = Result(text, tree, totals(tree), FromExpression() if model is None else model)
        if len(_answered) >= PARSE_CACHE_SIZE:
            del _answered[next(iter(_answered))]
        _answered[text] = found
    return found


def from_config(source: str | Path, *, architecture: str | None = None, via_transformers: bool = False) -> Result:
    """Count the model a Hugging Face ``config.json`` describes (a path, a folder or a shipped hub id); never
    the local Hugging Face cache nor the network (``count()`` reads other hub ids from them)."""
    from paramcount.sources.hf.hub import hub_config_path, is_hub_id, similar

    expect_type("source", source, (str, os.PathLike), "a string or a path")
    shipped = hub_config_path(str(source))
    if shipped is None and is_hub_id(str(source)) and not os.path.exists(source):
        message = "not a shipped hub id nor a file or folder; count() reads other hub ids from the local cache "
        message += "or the hub"
        raise UnknownNameError(f"{source}: {message}{similar(str(source))}", str(source))
    return _count_config(str(source), shipped or source, str(source), architecture, via_transformers)


def from_config_text(text: str | bytes, *, architecture: str | None = None, name: str = "config.json") -> Result:
    """Count the model a ``config.json``'s text describes (pasted into a form, read from a socket), without
    touching the filesystem; ``name`` is what messages call it. Bounded as a config file is
    (``MAX_CONFIG_BYTES``, ``MAX_CONFIG_DEPTH``).

    Raises:
        ConfigError: the text is not a JSON object paramcount can build, with the key at fault.
        LimitError: the text is too long or nested too deep.
    """
    from paramcount.sources.hf import parse_config_text, read_model

    expect_type("text", text, (str, bytes), "a string or bytes")
    _check_architecture(architecture)
    tree, provenance = read_model(parse_config_text(text, name), architecture=architecture)
    query = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return Result(query=query, tree=tree, totals=totals(tree), provenance=provenance)


def from_file(path: str | Path, *, query: str | None = None) -> Result:
    """Count the tensors of a checkpoint without loading it: a ``.safetensors`` file, a sharded checkpoint's
    ``*.safetensors.index.json``, a ``.gguf`` or ``.onnx`` file, a PyTorch file (``.pt``, ``.pth``, ``.bin``,
    ``.ckpt``) or a ``pytorch_model.bin.index.json``, or a folder holding one. Only headers are read (a PyTorch
    file's pickle through a restricted reader that never unpickles); a PyTorch checkpoint's optimizer state and
    other entries are left out of the count and totalled in ``provenance.sections``.

    A folder's ``config.json``, when present, is counted too: the facts say whether the two counts agree, and
    ties the config declares but the files store once (a tied ``lm_head.weight``) are listed as ties.

    Raises:
        CheckpointError: a malformed or hostile file, or one that cannot be opened (one line: ``<file>: <what>``).
        LimitError: a count, length or size beyond its cap.
    """
    from pathlib import Path

    from paramcount.sources.files import read_checkpoint

    expect_type("path", path, (str, os.PathLike), "a string or a path")
    checkpoint, weights = read_checkpoint(path)
    config = Path(path) / "config.json"
    has_config = Path(path).is_dir() and config.is_file()
    return _weights_result(query or str(path), str(path), checkpoint, weights.name, config if has_config else None)


def from_header(data: bytes, name: str) -> Result:
    """Count the tensors of a ``.safetensors`` or ``.gguf`` checkpoint from its first bytes alone (what the web
    app's upload sends: a safetensors file's 8-byte length and JSON header, a GGUF's metadata and tensor infos),
    read from memory; the tensor data need not follow. ``name`` is the file's name: its ending gives the format.

    Raises:
        CheckpointError: not one of those formats, or a malformed or incomplete header (one line).
        LimitError: a count, length or size beyond its cap.
    """
    from paramcount.sources.files import read_header_bytes

    return _weights_result(name, name, read_header_bytes(data, name), name, None)


def _weights_result(query: str, location: str, checkpoint: Checkpoint, label: str, config: Path | None) -> Result:
    """The count of a checkpoint's tensors, with what its ``config.json`` (when there is one) says beside it: its
    count and whether the two agree, or that formulas are unavailable for its architecture."""
    from paramcount.sources.checkpoint import section_totals

    config_facts: tuple[tuple[str, str | int], ...] = ()
    config_tree = None
    if config is not None:
        try:
            config_tree = _count_config(str(config), config, str(config), None, False).tree
        except UnknownNameError as error:
            config_facts = _unsupported_facts(error) or (("config_json", f"not counted: {error}"),)
        except ParamcountError as error:
            config_facts = (("config_json", f"not counted: {error}"),)
    tree, differences = _weights_tree(checkpoint, label, config_tree)
    if config_tree is not None:
        count = parameter_count(config_tree)
        config_facts = (
            ("config_parameters", count),
            ("config_architecture", config_tree.kind),
            ("config_agrees", _agreement(parameter_count(tree) - count, differences)),
        )
    header = checkpoint.facts + config_facts
    provenance = FromFile(checkpoint.format, location, header, section_totals(checkpoint), differences)
    return Result(query, tree, totals(tree), provenance)


def _weights_tree(
    checkpoint: Checkpoint, label: str, config_tree: Module | None
) -> tuple[Module, tuple[WeightDifference, ...]]:
    """The tree of a checkpoint's tensors and, given the tree its ``config.json`` builds, every difference from
    it; the weights' tree then lists the ties the config declares that the files save once."""
    from paramcount.sources.checkpoint import tree_from_entries
    from paramcount.sources.files import compare_with_config, with_config_ties

    differences: tuple[WeightDifference, ...] = ()
    if config_tree is not None:
        differences = compare_with_config(checkpoint, config_tree)
        checkpoint = with_config_ties(checkpoint, config_tree)
    architecture = dict(checkpoint.facts).get("architecture")
    kind = architecture if isinstance(architecture, str) else None
    return tree_from_entries(checkpoint, label=label, kind=kind), differences


def _agreement(surplus: int, differences: tuple[WeightDifference, ...]) -> str:
    """``yes``, or ``no:`` with the parameters the weights hold beyond the config's and the differences by kind."""
    if not surplus and not differences:
        return "yes"
    parts = []
    if surplus:
        more = "more" if surplus > 0 else "fewer"
        parts.append(f"the weights hold {abs(surplus):,} {noun(abs(surplus), 'parameter')} {more} than config.json")
    if differences:
        kinds = [difference.difference for difference in differences]
        found = f"{len(differences):,} tensor {noun(len(differences), 'difference')}"
        parts.append(
            f"{found} ({kinds.count('missing'):,} missing, {kinds.count('extra'):,} extra, "
            f"{kinds.count('shape'):,} of another shape)"
        )
    return "no: " + "; ".join(parts)


def _unsupported_facts(error: UnknownNameError) -> tuple[tuple[str, str | int], ...]:
    """For a config whose ``model_type`` paramcount has no formulas for (the only name ``read_model`` looks up
    without an ``architecture``): the facts saying so; else nothing."""
    from paramcount.sources.hf import supported_model_types

    if error.name in supported_model_types():
        return ()
    return (
        ("config_model_type", error.name),
        ("formulas", f"unavailable for model_type {error.name!r}: counted exactly from the weights"),
    )


def _hub_checkpoint(hub_id: str, config: Path, *, fetch: bool) -> tuple[Checkpoint, str] | None:
    """A hub model's weights, header-only, and the name messages call them by: the cached snapshot's own weight
    files when it holds some, else its safetensors headers (from paramcount's cache, else, when ``fetch``, by
    range requests); None when none are at hand (no safetensors, nothing cached, or no ``[hub]`` extra).

    Raises:
        CheckpointError, LimitError: malformed or unreadable headers (the snapshot's, unless the safetensors
            headers answer).
    """
    from paramcount.errors import CheckpointError
    from paramcount.sources.files import find_weights, read_checkpoint

    problem = None
    if find_weights(config.parent) is not None:
        try:
            checkpoint, weights = read_checkpoint(config.parent)
        except CheckpointError as error:  # a partial snapshot (the index fetched for its headers, the shards not)?
            problem = error
        else:
            return checkpoint, weights.name
    from paramcount.sources.hf.hub import split_revision
    from paramcount.sources.hf.remote import header_store, safetensors_headers

    repo_id, revision = split_revision(hub_id)
    headers = None
    if fetch or header_store(repo_id, config.parent.name).is_dir():  # else nothing kept: answered at once
        import contextlib

        with contextlib.suppress(ParamcountError, ImportError):  # no safetensors, or offline with none kept
            headers = safetensors_headers(repo_id, revision, offline=not fetch)
    if headers is None:
        if problem is not None:
            raise problem
        return None
    from paramcount.sources.safetensors import read_safetensors_headers

    label = f"{hub_id}: model.safetensors.index.json"
    return read_safetensors_headers(headers.index, headers.headers, label), hub_id


def _hub_weights(query: str, hub_id: str, config: Path, offline: bool) -> Result | None:
    """A hub model whose architecture has no formulas, counted from its weights' headers (``_hub_checkpoint``,
    fetched unless offline); None when none are at hand: the caller raises the config's own error."""
    from paramcount.sources.hf.hub import offline_by_default

    found = _hub_checkpoint(hub_id, config, fetch=not (offline or offline_by_default()))
    return None if found is None else _weights_result(query, hub_id, found[0], found[1], config)


def _with_hub_weights(result: Result, hub_id: str, config: Path, *, fetch: bool) -> Result:
    """A hub id's count from its config, with its weights compared as a folder's are when they are at hand
    (``_hub_checkpoint``: fetched only with a config fetched by this call, so a cached hub id stays offline): their
    count, whether they agree, and every difference; a malformed header is said in the facts, never an error."""
    provenance = result.provenance
    if not isinstance(provenance, FromConfig):
        return result
    try:
        found = _hub_checkpoint(hub_id, config, fetch=fetch)
        if found is None:
            return result
        checkpoint, label = found
        tree, differences = _weights_tree(checkpoint, label, result.tree)
    except (ParamcountError, OSError) as error:
        said: tuple[tuple[str, str | int], ...] = (("weights", f"not compared: {error}"),)
        differences = ()
    else:
        weights = parameter_count(tree)
        said = (
            ("weights_format", checkpoint.format),
            ("weights_files", dict(checkpoint.facts).get("files", 1)),
            ("weights_parameters", weights),
            ("weights_agree", _agreement(weights - result.total, differences)),
        )
    return replace(result, provenance=replace(provenance, weights=said, differences=differences))


def from_module(module: object) -> Result:
    """Count a live ``torch.nn.Module`` (build it on the meta device to allocate nothing)."""
    from paramcount.sources.live import SOURCE_FACTS, unwrap
    from paramcount.sources.live import from_module as read_module

    tree = read_module(module)
    said = tuple((key, value) for key, value in tree.attributes if key in SOURCE_FACTS and isinstance(value, str | int))
    tree = replace(tree, attributes=tuple(item for item in tree.attributes if item[0] not in SOURCE_FACTS))
    name = type(unwrap(module)).__name__  # the model counted, not its torch.compile or DataParallel wrapper
    return Result(query=name, tree=tree, totals=totals(tree), provenance=FromModule(name, said))


def summary(
    model: Any,
    input_size: Sequence[int] | Sequence[Sequence[int]] | None = None,
    input_data: Any = None,
    depth: int = 3,
    dtypes: Sequence[Any] | None = None,
    device: str = "meta",
    **plan_options: Any,
) -> Report:
    """The whole answer for a live ``nn.Module``: per-module table, totals, ties, and with an input, the shapes,
    MACs and activation memory of one forward pass measured on the meta device (nothing is allocated).

    Args:
        model: an ``nn.Module`` (``torch.compile``, DataParallel, DDP and FSDP wrappers are unwrapped).
        input_size: one input's shape, or a shape per positional input, made as empty tensors of ``dtypes``
            (default float32; ``[torch.long]`` for token ids).
        input_data: the inputs themselves instead: a tensor, a tuple/list of positional inputs, or a dict of
            keyword inputs (only their shapes and dtypes are used on meta).
        depth: how deep the module tables go when the Report displays itself.
        device: ``"meta"``, or ``"cpu"`` to allow a real forward on the CPU when meta cannot run it (a forward
            that reads tensor values); the report says when that happened.
        **plan_options: ``PlanOptions`` fields for the memory plan; by default training with AdamW in the
            model's own dtypes and ``requires_grad`` flags (``optimizer=None`` plans inference).

    Raises:
        ArgumentError: bad options. ShapeError: the forward pass failed.
    """
    from paramcount.analysis.planner import PlanOptions

    try:
        options = PlanOptions(**{"optimizer": "adamw", **plan_options})
    except TypeError:
        import difflib  # error path only

        unknown = sorted(set(plan_options) - set(PlanOptions.__match_args__))
        known = ["input_size", "input_data", "depth", "dtypes", "device", *PlanOptions.__match_args__]
        close = difflib.get_close_matches(unknown[0], known, n=3, cutoff=0.6)
        message = f"unexpected keyword argument {unknown[0]!r}{did_you_mean(close)}"
        raise ArgumentError("summary", message, unknown[0]) from None
    given: object = depth  # typed int, but a notebook passes whatever it holds
    if isinstance(given, bool) or not isinstance(given, int) or given < 0:
        raise ArgumentError("depth", f"must be a non-negative integer, got {depth!r:.40}", "depth")
    from paramcount.sources.live import unwrap

    result = from_module(model)
    report = build_report(result, options)
    if input_size is None and input_data is None:
        return replace(report, depth=depth)
    from paramcount.analysis.measured import example_inputs, measure_forward, with_measured_activations

    args, kwargs = _forward_inputs(input_size, input_data, dtypes, example_inputs)
    measured = measure_forward(unwrap(model), result.tree, args, kwargs, device=device)
    plan = report.plan
    if plan is not None:
        plan = with_measured_activations(plan, measured.activations, measured.shapes.input_shape)
    return replace(
        report, shapes=measured.shapes, activations=measured.activations, plan=plan, notes=measured.notes, depth=depth
    )


def summary_of_file(
    path: str,
    name: str,
    arguments: str | None = None,
    input_size: tuple[int, ...] | None = None,
    options: PlanOptions | None = None,
    depth: int = 3,
) -> Report:
    """``summary()`` of the user's class ``name`` in ``path``, built on the meta device with ``arguments``: a JSON
    list (positional) or object (keywords), or a Python call's arguments (``64, depth=2``) read by the
    expression door's checked walker, never evaluated. Runs the user's file (the command line's
    ``paramcount FILE.py:Class``)."""
    from paramcount.sources.live import build_from_file

    positional, keywords = _constructor_arguments(arguments or "")
    model = build_from_file(path, name, positional, keywords)
    fields = {} if options is None else {key: getattr(options, key) for key in options.__match_args__}
    return summary(model, input_size=input_size, depth=depth, **fields)


def _constructor_arguments(text: str) -> tuple[tuple[object, ...], dict[str, object]]:
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        import json

        def refuse(constant: str) -> object:
            raise ArgumentError("--args", f"{constant} is not a JSON number", "args")

        try:
            value = json.loads(stripped, parse_constant=refuse)
        except (json.JSONDecodeError, RecursionError) as error:
            raise ArgumentError("--args", f"is not valid JSON ({error})", "args") from None
        return (tuple(value), {}) if isinstance(value, list) else ((), dict(value))
    from paramcount.expr import parse_arguments

    return parse_arguments(stripped) if stripped else ((), {})


def _forward_inputs(
    input_size: Any, input_data: Any, dtypes: Sequence[Any] | None, example_inputs: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword inputs from ``input_data`` (a tensor, a sequence, a dict) or ``input_size``."""
    if input_data is not None and input_size is not None:
        raise ArgumentError("input_data", "give input_size or input_data, not both", "input_data")
    if input_data is None:
        return example_inputs(input_size, dtypes, "meta"), {}
    if isinstance(input_data, dict):
        return (), dict(input_data)
    if isinstance(input_data, tuple | list):
        return tuple(input_data), {}
    return (input_data,), {}


def _check_architecture(architecture: str | None) -> None:
    if architecture is not None:
        expect_type("architecture", architecture, str, "a class name (a string)")


def _count_config(
    query: str, path: str | Path, location: str, architecture: str | None, via_transformers: bool
) -> Result:
    _check_architecture(architecture)
    if via_transformers:
        from paramcount.sources.hf.via_transformers import count_via_transformers

        tree, provenance = count_via_transformers(path, architecture=architecture, location=location)
    else:
        from paramcount.sources.hf import read_model

        tree, provenance = read_model(path, architecture=architecture, location=location)
    return Result(query=query, tree=tree, totals=totals(tree), provenance=provenance)


def _compare(tree: Module, total: int, candidates: tuple[Candidate, ...]) -> tuple[Comparison, ...]:
    found = []
    for candidate in candidates:
        try:
            other = rebuild(tree, candidate.overrides)
        except ParamcountError:
            continue  # a neighbour torch would reject is not worth showing
        other_total = parameter_count(other)
        found.append(Comparison(candidate.label, call_of(other), other_total, other_total - total, candidate.note))
    return tuple(found)


def _zoo_call(tree: Module, model: str) -> Call:
    from paramcount.zoo import lookup_model

    spec = lookup_model(model)
    changed = tuple((key, argument_of(value)) for key, value in tree.args if value != spec.signature.default(key))
    return Call(model, keywords=changed)


def _describe(result: Result, code: bool) -> tuple[Call | Container | str, Program | None, bool]:
    """The canonical expression, what the verification program builds (None unless ``code``), and whether
    variants apply."""
    tree, provenance = result.tree, result.provenance
    if isinstance(provenance, FromConfig):
        architecture = provenance.architecture
        return architecture, TransformersProgram(provenance.location or "", architecture) if code else None, False
    if isinstance(provenance, FromModule):
        return tree.kind, None, False
    if isinstance(provenance, FromFile):  # nothing to rebuild from a checkpoint's tensors
        return os.path.basename(provenance.path.rstrip("/\\")), None, False
    if isinstance(provenance, FromZoo):
        call = _zoo_call(tree, provenance.model)
        return call, TorchvisionProgram(call) if code else None, False
    is_container = tree.kind in ("Sequential", "ModuleList", "ModuleDict")
    return call_of(tree), TorchProgram(construction_of(tree)) if code else None, not is_container


def _appearances(tree: Module) -> tuple[Appearance, ...]:
    from paramcount.zoo_index import load_index

    return tuple(
        Appearance(o.entry.model, o.entry.path, o.entry.places, o.entry.expression, o.entry.total, o.exact)
        for o in occurrences(tree, load_index(tree.kind, layer_signature(tree)[1]))
    )


def _training(tree: Module, counts: Counts) -> tuple[TrainingPlan, ...]:
    from paramcount.analysis.planner import training_plans

    return training_plans(tree, counts)


def _plan(result: Result, counts: Counts, options: PlanOptions | None, shapes: ShapeReport | None) -> MemoryPlan | None:
    if options is None and not isinstance(result.provenance, FromConfig | FromFile):
        return None  # a model (a config, a checkpoint) gets an inference plan in its own dtype by default
    from paramcount.analysis.planner import PlanOptions, plan_memory

    return plan_memory(result.tree, counts, options or PlanOptions(), shapes)


def _optimizer_label(plan: MemoryPlan | None) -> str | None:
    if plan is None or not plan.options.optimizer:
        return None
    from paramcount.analysis.planner import find_optimizer

    return find_optimizer(plan.options.optimizer).label


def _shapes(tree: Module, input_shape: tuple[int, ...] | None, options: PlanOptions | None) -> ShapeReport | None:
    """Shapes and FLOPs for ``input_shape``; for a language model without one, for ``seq_len`` tokens."""
    if input_shape is None and (options is None or options.seq_len is None):
        return None
    from paramcount.analysis.shapes.propagate import propagate, token_input

    if input_shape is None and options is not None and options.seq_len is not None:
        input_shape = token_input(tree, options.batch, options.seq_len)
    return None if input_shape is None else propagate(tree, input_shape)


def _input_tokens(result: Result, options: PlanOptions | None, input_shape: tuple[int, ...]) -> PlanOptions | None:
    """``options`` with the sequence length and batch of an input of token ids, which plans as ``seq_len`` and
    ``batch`` do (the KV cache, the activations); one the options state otherwise is refused, since the shapes
    follow the input."""
    from paramcount.analysis.shapes.propagate import token_lengths

    tokens = token_lengths(result.tree, input_shape)
    if tokens is None or (options is None and not isinstance(result.provenance, FromConfig | FromFile)):
        return options
    from paramcount.analysis.planner import PlanOptions

    batch, seq_len = tokens
    options = options or PlanOptions()
    if options.seq_len not in (None, seq_len):
        message = f"is {options.seq_len}, but the input {input_shape} has sequences of {seq_len} tokens"
        raise ArgumentError("seq_len", f"{message}; give one of them", "seq_len")
    if options.batch not in (1, batch):
        message = f"is {options.batch}, but the input {input_shape} has a batch of {batch} {noun(batch, 'sequence')}"
        raise ArgumentError("batch", f"{message}; give one of them", "batch")
    return replace(options, seq_len=seq_len, batch=batch)


def _compute(
    result: Result, model: _Model, options: PlanOptions | None, plan: MemoryPlan | None, images: int | None
) -> tuple[tuple[FlopsEstimate, ...], Assumption | None]:
    """FLOPs per step for the tokens of one batch with N as Kaplan et al. define it, the non-embedding
    parameters (active ones for mixture-of-experts models), and the training figure with all of them beside;
    with what D counts where it is not the tokens asked for (a vision transformer's positions), or why there is
    no estimate (a model that reads no tokens). ``images``: the batch of an input shape given."""
    if options is None or options.seq_len is None:
        return (), None
    from paramcount.analysis.flops import estimated_tokens, forward_estimate, training_estimate

    reads = plan is not None and _estimates_activations(plan)
    tokens, basis = estimated_tokens(
        result.tree, options.seq_len, options.batch, images=images, plan_reads_sequence=reads
    )
    if not tokens:
        return (), basis
    used = model.active if model.active is not None else result.total
    active = "active " if model.active is not None else ""
    non_embedding = used - model.embedding_parameters
    which = f"{active}non-embedding parameters, as Kaplan et al."
    estimates = (
        forward_estimate(non_embedding, tokens, which=which),
        training_estimate(non_embedding, tokens, which=which),
        training_estimate(used, tokens, which=f"all {active}parameters, embeddings included", symbol="N_all"),
    )
    return estimates, basis


def _estimates_activations(plan: MemoryPlan) -> bool:
    """The plan's activations are an estimate from ``seq_len`` (Korthikanti et al.'s), not per operation of a
    modelled layout nor of an input shape."""
    by_operation = plan.activations is not None or plan.module_activations is not None
    return not by_operation and any(item.category == "activations" for item in plan.items)


class _Model(Record):
    """What a report says about the tree alone, whatever the plan, shape or sections asked for."""

    counts: Counts
    stored_dtype: DtypeChoice
    stored_bytes: tuple[int, int]
    parameter_memory: tuple[FormatMemory, ...]
    dtypes: tuple[str, ...]
    embedding_parameters: int
    active: int | None
    by_dtype: tuple[DtypeTotal, ...]
    raw_shapes: tuple[RawModule, ...]


def _stored_bytes(tree: Module, counts: Counts, choice: DtypeChoice) -> tuple[int, int]:
    """``(parameter bytes, buffer bytes)`` as stored: in the quantised layout the config names, if any (the
    planner's ``weights_in_format``, the other tensors in ``choice.dtype``), else ``stored_bytes``."""
    parameters, buffers = stored_bytes(counts, choice)
    if choice.quantization is None:
        return parameters, buffers
    from paramcount.analysis.planner import weights_in_format  # the planner, only for a quantised layout

    return weights_in_format(tree, choice.quantization, dtype=choice.dtype).bytes, buffers


@per_tree
def _model(tree: Module) -> _Model:
    """The tree's own facts, once per tree: the reports of one model (the planner's plans of it) share them."""
    counts = count_tree(tree)
    weights: dict[str, int] = {}
    for row in counts.parameters:
        weights[row.dtype] = weights.get(row.dtype, 0) + row.count
    stored_dtype = choose_dtype(tree, weights)
    return _Model(
        counts=counts,
        stored_dtype=stored_dtype,
        stored_bytes=_stored_bytes(tree, counts, stored_dtype),
        parameter_memory=parameter_memory(counts),
        dtypes=tuple(sorted({row.dtype for row in counts.parameters + counts.buffer_tensors})),
        embedding_parameters=embedding_parameters(tree),
        active=active_parameters(tree),
        by_dtype=dtype_totals(counts, tree),
        raw_shapes=raw_modules(tree),
    )


# The optional sections' facts about the tree alone, each once per tree (``sections`` asks for them).
_explanation = per_tree(explain)
_reading = per_tree(reading)
_module_table = per_tree(module_table)
_blocks = per_tree(blocks)


def _sections(names: Collection[str]) -> tuple[str, ...]:
    given: object = names  # typed a collection, but a notebook passes whatever it holds
    if isinstance(given, str) or not hasattr(given, "__iter__"):
        one = f"; for one, write ({given!r},)" if isinstance(given, str) and given in SECTIONS else ""
        raise ArgumentError("sections", f"must be a collection of section names, got {given!r:.40}{one}", "sections")
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        raise ArgumentError("sections", f"unknown section {unknown[0]!r:.40}; known: {', '.join(SECTIONS)}", "sections")
    return tuple(name for name in SECTIONS if name in names)


def _check_plan_options(options: object) -> None:
    """``report(plan=…)`` holds a ``PlanOptions`` (typed so, but a notebook passes whatever it holds: a dict)."""
    from paramcount.analysis.planner import PlanOptions

    if not isinstance(options, PlanOptions):
        example = "paramcount.PlanOptions(optimizer='adamw', seq_len=2048)"
        message = f"must be a paramcount.PlanOptions, got {type(options).__name__} {short_repr(options)}"
        raise ArgumentError("plan", f"{message}; build one: {example}", "plan")


def build_report(
    result: Result,
    options: PlanOptions | None = None,
    input_shape: tuple[int, ...] | None = None,
    sections: Collection[str] = SECTIONS,
) -> Report:
    wanted = _sections(sections)
    if options is not None:
        _check_plan_options(options)
    tree, model = result.tree, _model(result.tree)
    counts = model.counts
    shapes = _shapes(tree, input_shape, options)
    if shapes is not None and input_shape is not None:
        options = _input_tokens(result, options, input_shape)
    expression, program, with_variants = _describe(result, "code" in wanted)
    appears, variants, related = (with_variants and name in wanted for name in ("appears_in", "variants", "related"))
    explained, structure = "explanation" in wanted, "modules" in wanted
    plan = _plan(result, counts, options, shapes)
    images = input_shape[0] if input_shape else None
    compute, compute_basis = _compute(result, model, options, plan, images)
    return Report(
        query=result.query,
        provenance=result.provenance,
        kind=tree.kind,
        expression=expression,
        counts=counts,
        explanation=_explanation(tree) if explained else None,
        reading=_reading(tree) if explained else None,
        parameter_memory=model.parameter_memory,
        stored_parameter_bytes=model.stored_bytes[0],
        stored_buffer_bytes=model.stored_bytes[1],
        dtypes=model.dtypes,
        stored_dtype=model.stored_dtype,
        training=_training(tree, counts) if "training" in wanted else (),
        appears_in=_appearances(tree) if appears else (),
        plan=plan,
        optimizer=_optimizer_label(plan),
        shapes=shapes,
        compute=compute,
        compute_basis=compute_basis,
        variants=_compare(tree, counts.total, variant_candidates(tree)) if variants else (),
        related=_compare(tree, counts.total, related_candidates(tree)) if related else (),
        modules=_module_table(tree) if structure else (),
        program=program,
        embedding_parameters=model.embedding_parameters,
        active=model.active,
        blocks=_blocks(tree) if structure else (),
        by_dtype=model.by_dtype,
        raw_shapes=model.raw_shapes,
        sections=wanted,
    )
