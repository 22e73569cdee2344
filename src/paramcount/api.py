"""The library entry points: text in, ``Result`` out; ``Result.report()`` for the whole explained answer.

``count`` accepts what people type: a layer or module expression (``Conv2d(256, 512, 3)``), a zoo model
(``resnet50``, ``vit_b_16(image_size=384)``), a Hugging Face hub id whose config ships with paramcount
(``meta-llama/Llama-3.1-8B``), a path to a ``config.json`` (or a folder holding one), or a checkpoint file
or folder (``model.safetensors``, ``model.gguf``, ``./Llama-3.1-8B/``), read header-only.
"""

from __future__ import annotations

import os

from paramcount._record import Record, field_setters, replace
from paramcount.analysis.context import layer_signature, occurrences
from paramcount.analysis.counts import Counts, Totals, count_tree, totals
from paramcount.analysis.explain import explain
from paramcount.analysis.memory import TrainingPlan, dtype_totals, parameter_memory, stored_bytes
from paramcount.analysis.models import active_parameters, blocks, embedding_parameters, module_table
from paramcount.analysis.readings import reading
from paramcount.analysis.related import Candidate, related_candidates, variant_candidates
from paramcount.analysis.snippet import pytorch_snippet, torchvision_snippet, transformers_snippet
from paramcount.errors import ParamcountError
from paramcount.expr import parse
from paramcount.layers._registry import expression_of, rebuild
from paramcount.report import Appearance, Comparison, Report
from paramcount.tree import Module, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from paramcount.analysis.flops import FlopsEstimate
    from paramcount.analysis.planner import MemoryPlan, PlanOptions
    from paramcount.analysis.shape_types import ShapeReport

__all__ = ["Result", "count", "from_config", "from_file", "from_module"]

PARSE_CACHE_SIZE = 1024
"""Distinct expressions whose results are kept (each a small frozen tree)."""


class Result(Record):
    """What ``count()`` returns: the tree and its counts; ``report()`` adds the explained answer."""

    query: str
    tree: Module
    totals: Totals
    origin: str = "expression"
    """``expression``, ``zoo``, ``config``, ``module``, or a checkpoint's format (``safetensors``, ``gguf``,
    ``onnx``)."""
    location: str = ""
    """For configs: the hub id or the path the config was read from; for checkpoints, the path given."""

    def __init__(
        self, query: str, tree: Module, totals: Totals, origin: str = "expression", location: str = ""
    ) -> None:
        # Written out: every count makes one (see tree.Dim.__init__).
        _set_query(self, query)
        _set_tree(self, tree)
        _set_totals(self, totals)
        _set_origin(self, origin)
        _set_location(self, location)

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

    def report(self, plan: PlanOptions | None = None, input_shape: tuple[int, ...] | None = None) -> Report:
        """The complete answer: formula, reading, memory, variants, related questions, code. ``plan`` adds a
        memory plan for those options (a config gets an inference plan in its own dtype by default) and, with
        a sequence length, the FLOPs per step; ``input_shape`` adds output shapes and MACs per module."""
        return build_report(self, plan, input_shape)

    def to_dict(self) -> dict[str, object]:
        return self.report().to_dict()


_set_query, _set_tree, _set_totals, _set_origin, _set_location = field_setters(Result, *Result.__record_fields__)


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


def count(text: str, *, architecture: str | None = None, via_transformers: bool = False, paths: bool = True) -> Result:
    """Count the parameters of whatever ``text`` names; e.g. ``count("Conv2d(256, 512, 3)").total``.

    ``architecture`` picks the class counted for a config (``"LlamaModel"`` for the base model);
    ``via_transformers`` counts a config with transformers itself on the meta device (when installed);
    ``paths=False`` never reads the filesystem (a server answering untrusted queries): configs then come only
    from shipped hub ids. A checkpoint file or a folder holding one is read header-only (``from_file``).
    Raises ``ParamcountError`` (one subclass per kind of problem) for anything the input gets wrong.
    """
    stripped = text.strip()
    if "(" not in stripped:
        from paramcount.sources.hf.hub import hub_config_path

        shipped = hub_config_path(stripped)
        if shipped is not None:
            return _from_config(text, shipped, stripped, architecture, via_transformers)
        if paths and _names_checkpoint(stripped):
            return from_file(stripped, query=text)
        if paths and _looks_like_path(stripped):
            return _from_config(text, stripped, stripped, architecture, via_transformers)
    return _count_expression(text)


_answered: dict[str, Result] = {}
"""The parse cache: a dict, oldest entry evicted first (``functools.lru_cache`` would put ``functools`` and
``collections`` on the start-up path for one use)."""


def _count_expression(text: str) -> Result:
    """Parsing is a pure function of the text and the tree is immutable, so repeated questions (a batch,
    the web app) are answered from this cache; errors are not cached."""
    found = _answered.get(text)
    if found is None:
        tree = parse(text)
        origin = "zoo" if "zoo" in dict(tree.attributes) else "expression"
        found = Result(text, tree, totals(tree), origin)  # query, tree, totals, origin
        if len(_answered) >= PARSE_CACHE_SIZE:
            del _answered[next(iter(_answered))]
        _answered[text] = found
    return found


def from_config(source: str | Path, *, architecture: str | None = None, via_transformers: bool = False) -> Result:
    """Count the model a Hugging Face ``config.json`` describes (a path, a folder or a shipped hub id)."""
    from paramcount.sources.hf.hub import hub_config_path

    shipped = hub_config_path(str(source))
    return _from_config(str(source), shipped or source, str(source), architecture, via_transformers)


def from_file(path: str | Path, *, query: str | None = None) -> Result:
    """Count the tensors of a checkpoint without loading it: a ``.safetensors`` file, a sharded checkpoint's
    ``*.safetensors.index.json``, a ``.gguf`` or ``.onnx`` file, or a folder holding one. Only headers are read.

    A folder's ``config.json``, when present, is counted too: the facts say whether the two counts agree, and
    ties the config declares but the files store once (a tied ``lm_head.weight``) are listed as ties.

    Raises:
        CheckpointError: a malformed or hostile file (one line: ``<file>: <what>``).
        LimitError: a count, length or size beyond its cap.
        OSError: a file cannot be opened.
    """
    from pathlib import Path

    from paramcount.sources.checkpoint import tree_from_entries
    from paramcount.sources.files import read_checkpoint, with_config_ties

    checkpoint, weights = read_checkpoint(path)
    config_facts: tuple[tuple[str, str | int], ...] = ()
    config = Path(path) / "config.json"
    if Path(path).is_dir() and config.is_file():
        try:
            config_tree = _from_config(str(config), config, str(config), None, False).tree
        except ParamcountError as error:
            config_facts = (("config_json", f"not counted: {error}"),)
        else:
            checkpoint = with_config_ties(checkpoint, config_tree)
            config_facts = (
                ("config_parameters", parameter_count(config_tree)),
                ("config_architecture", config_tree.kind),
            )
    facts = dict(checkpoint.facts)
    architecture = facts.get("architecture")
    tree = tree_from_entries(
        checkpoint, label=weights.name, kind=architecture if isinstance(architecture, str) else None
    )
    if config_facts and config_facts[0][0] == "config_parameters":
        difference = parameter_count(tree) - int(config_facts[0][1])
        agrees = "yes" if difference == 0 else f"no: the weights hold {difference:+,} parameters more than config.json"
        config_facts += (("config_agrees", agrees),)
    tree = replace(tree, attributes=tree.attributes + config_facts)
    return Result(query or str(path), tree, totals(tree), origin=checkpoint.format, location=str(path))


def from_module(module: object) -> Result:
    """Count a live ``torch.nn.Module`` (build it on the meta device to allocate nothing)."""
    from paramcount.sources.live import from_module as read_module

    tree = read_module(module)
    return Result(query=type(module).__name__, tree=tree, totals=totals(tree), origin="module")


def _from_config(
    query: str, path: str | Path, location: str, architecture: str | None, via_transformers: bool
) -> Result:
    if via_transformers:
        from paramcount.sources.hf.via_transformers import count_via_transformers

        tree = count_via_transformers(path, architecture=architecture)
        return Result(query=query, tree=tree, totals=totals(tree), origin="config", location=location)
    from paramcount.sources.hf import from_config as read_config

    tree = read_config(path, architecture=architecture)
    return Result(query=query, tree=tree, totals=totals(tree), origin="config", location=location)


def _compare(tree: Module, total: int, candidates: tuple[Candidate, ...]) -> tuple[Comparison, ...]:
    found = []
    for candidate in candidates:
        try:
            other = rebuild(tree, candidate.overrides)
        except ParamcountError:
            continue  # a neighbour torch would reject is not worth showing
        other_total = parameter_count(other)
        found.append(
            Comparison(candidate.label, expression_of(other), other_total, other_total - total, candidate.note)
        )
    return tuple(found)


def _zoo_call(tree: Module) -> str:
    from paramcount.zoo import lookup_model

    name = str(dict(tree.attributes)["zoo"])
    spec = lookup_model(name)
    changed = [f"{key}={value!r}" for key, value in tree.args if value != spec.signature.default(key)]
    return f"{name}({', '.join(changed)})"


def _describe(result: Result, counts: Counts) -> tuple[str, str, bool]:
    """The canonical expression, the verification program, and whether variants apply."""
    tree = result.tree
    if result.origin == "config":
        architecture = str(dict(tree.attributes).get("architecture", tree.kind))
        location = result.location
        return architecture, transformers_snippet(location, architecture, counts), False
    if result.origin not in ("expression", "zoo"):  # a live module or a checkpoint: nothing to rebuild
        return (tree.kind if result.origin == "module" else os.path.basename(result.location.rstrip("/\\"))), "", False
    if result.origin == "zoo":
        call = _zoo_call(tree)
        return call, torchvision_snippet(call, counts), False
    is_container = tree.kind in ("Sequential", "ModuleList", "ModuleDict")
    return expression_of(tree), pytorch_snippet(expression_of(tree, prefix="nn."), counts), not is_container


def _appearances(tree: Module) -> tuple[Appearance, ...]:
    from paramcount.zoo.index import load_index

    return tuple(
        Appearance(o.entry.model, o.entry.path, o.entry.places, o.entry.expression, o.entry.total, o.exact)
        for o in occurrences(tree, load_index(tree.kind, layer_signature(tree)[1]))
    )


def _training(tree: Module, counts: Counts) -> tuple[TrainingPlan, ...]:
    from paramcount.analysis.planner import training_plans

    return training_plans(tree, counts)


def _plan(result: Result, counts: Counts, options: PlanOptions | None, shapes: ShapeReport | None) -> MemoryPlan | None:
    if options is None and result.origin in ("expression", "zoo", "module"):
        return None  # a model (a config, a checkpoint) gets an inference plan in its own dtype by default
    from paramcount.analysis.planner import PlanOptions, plan_memory

    return plan_memory(result.tree, counts, options or PlanOptions(), shapes)


def _shapes(tree: Module, input_shape: tuple[int, ...] | None) -> ShapeReport | None:
    if input_shape is None:
        return None
    from paramcount.analysis.shapes import propagate

    return propagate(tree, input_shape)


def _compute(result: Result, options: PlanOptions | None) -> tuple[FlopsEstimate, ...]:
    """FLOPs per step for the tokens of one batch, with active parameters for mixture-of-experts models."""
    if options is None or options.seq_len is None:
        return ()
    from paramcount.analysis.flops import forward_estimate, training_estimate

    parameters = result.active if result.active is not None else result.total
    tokens = options.seq_len * options.batch
    return forward_estimate(parameters, tokens), training_estimate(parameters, tokens)


def build_report(
    result: Result, options: PlanOptions | None = None, input_shape: tuple[int, ...] | None = None
) -> Report:
    tree, counts = result.tree, count_tree(result.tree)
    shapes = _shapes(tree, input_shape)
    parameter_bytes, buffer_bytes = stored_bytes(counts)
    expression, code, with_variants = _describe(result, counts)
    return Report(
        query=result.query,
        origin=result.origin,
        kind=tree.kind,
        expression=expression,
        counts=counts,
        explanation=explain(tree),
        reading=reading(tree),
        parameter_memory=parameter_memory(counts),
        stored_parameter_bytes=parameter_bytes,
        stored_buffer_bytes=buffer_bytes,
        dtypes=tuple(sorted({row.dtype for row in counts.parameters + counts.buffer_tensors})),
        training=_training(tree, counts),
        appears_in=_appearances(tree) if with_variants else (),
        plan=_plan(result, counts, options, shapes),
        shapes=shapes,
        compute=_compute(result, options),
        variants=_compare(tree, counts.total, variant_candidates(tree)) if with_variants else (),
        related=_compare(tree, counts.total, related_candidates(tree)) if with_variants else (),
        modules=module_table(tree),
        code=code,
        embedding_parameters=embedding_parameters(tree),
        active=active_parameters(tree),
        blocks=blocks(tree),
        facts=tuple((key, str(value)) for key, value in tree.attributes if isinstance(value, str | int)),
        by_dtype=dtype_totals(counts),
    )
