"""The library entry points: text in, ``Result`` out; ``Result.report()`` for the whole explained answer.

``count`` accepts what people type: a layer or module expression (``Conv2d(256, 512, 3)``), a zoo model
(``resnet50``, ``vit_b_16(image_size=384)``), a Hugging Face hub id whose config ships with paramcount
(``meta-llama/Llama-3.1-8B``), a path to a ``config.json`` (or a folder holding one), or a checkpoint file
or folder (``model.safetensors``, ``model.gguf``, ``./Llama-3.1-8B/``), read header-only.
"""

from __future__ import annotations

import os

from paramcount._record import Record
from paramcount.analysis.context import layer_signature, occurrences
from paramcount.analysis.counts import Counts, Totals, count_tree, totals
from paramcount.analysis.explain import explain
from paramcount.analysis.memory import TrainingPlan, choose_dtype, dtype_totals, parameter_memory, stored_bytes
from paramcount.analysis.readings import reading
from paramcount.analysis.related import Candidate, related_candidates, variant_candidates
from paramcount.analysis.snippet import pytorch_snippet, torchvision_snippet, transformers_snippet
from paramcount.analysis.structure import active_parameters, blocks, embedding_parameters, module_table
from paramcount.errors import ArgumentError, ParamcountError, UnknownNameError, did_you_mean, short_repr
from paramcount.expr import parse_model
from paramcount.layers._registry import expression_of, rebuild
from paramcount.layers.containers import construction_of
from paramcount.limits import MAX_EXPRESSION_CHARS
from paramcount.provenance import FromConfig, FromExpression, FromFile, FromModule, FromZoo, Provenance
from paramcount.report import Appearance, Comparison, Report
from paramcount.tree import Module, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from paramcount.analysis.flops import FlopsEstimate
    from paramcount.analysis.planner import MemoryPlan, PlanOptions
    from paramcount.analysis.shape_types import ShapeReport

__all__ = ["Result", "count", "from_config", "from_config_text", "from_file", "from_module"]

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

    def report(self, plan: PlanOptions | None = None, input_shape: tuple[int, ...] | None = None) -> Report:
        """The complete answer: formula, reading, memory, variants, related questions, code. ``plan`` adds a
        memory plan for those options (a config gets an inference plan in its own dtype by default) and, with
        a sequence length, the FLOPs per step; ``input_shape`` adds output shapes and MACs per module."""
        return build_report(self, plan, input_shape)

    def to_dict(self) -> dict[str, object]:
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
    extra) its ``config.json`` alone is fetched into that cache. A checkpoint file or a folder holding one is
    read header-only (``from_file``).
    Raises ``ParamcountError`` (one subclass per kind of problem) for anything the input gets wrong: an
    ``ArgumentError`` for ``architecture`` or ``via_transformers`` given with a text that is not a config, an
    ``UnknownNameError`` naming the closest zoo models and shipped hub ids for a bare name that is neither.
    """
    bare = "(" not in text and len(text) <= MAX_EXPRESSION_CHARS  # a longer text is refused by parse, unstripped
    if bare:
        from paramcount.sources.hf.hub import hub_config_path

        stripped = text.strip()
        shipped = hub_config_path(stripped)
        if shipped is not None:
            return _count_config(text, shipped, stripped, architecture, via_transformers)
        if paths and _names_checkpoint(stripped):
            return from_file(stripped, query=text)
        if paths and _looks_like_path(stripped):
            return _count_config(text, stripped, stripped, architecture, via_transformers)
        from paramcount.sources.hf.hub import hub_config, is_hub_id

        if paths and is_hub_id(stripped):
            config = hub_config(stripped, offline=offline)
            return _count_config(text, config, stripped.partition("@")[0], architecture, via_transformers)
    try:
        result = _count_expression(text)
    except ParamcountError:
        if bare and _looks_like_a_model_name(text.strip()):
            raise _unknown_model(text.strip(), paths) from None
        raise
    if architecture is not None or via_transformers:
        option = "architecture" if architecture is not None else "via_transformers"
        message = f"applies only to a model config (a shipped hub id or a config.json), not to {short_repr(text)}"
        raise ArgumentError(option, message, option)
    return result


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
    """Count the model a Hugging Face ``config.json`` describes (a path, a folder or a shipped hub id)."""
    from paramcount.sources.hf.hub import hub_config_path

    shipped = hub_config_path(str(source))
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

    tree, provenance = read_model(parse_config_text(text, name), architecture=architecture)
    query = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return Result(query=query, tree=tree, totals=totals(tree), provenance=provenance)


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
            config_tree = _count_config(str(config), config, str(config), None, False).tree
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
    header = checkpoint.facts + config_facts
    return Result(query or str(path), tree, totals(tree), FromFile(checkpoint.format, str(path), header))


def from_module(module: object) -> Result:
    """Count a live ``torch.nn.Module`` (build it on the meta device to allocate nothing)."""
    from paramcount.sources.live import from_module as read_module

    tree = read_module(module)
    name = type(module).__name__
    return Result(query=name, tree=tree, totals=totals(tree), provenance=FromModule(name))


def _count_config(
    query: str, path: str | Path, location: str, architecture: str | None, via_transformers: bool
) -> Result:
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
        found.append(
            Comparison(candidate.label, expression_of(other), other_total, other_total - total, candidate.note)
        )
    return tuple(found)


def _zoo_call(tree: Module, model: str) -> str:
    from paramcount.zoo import lookup_model

    spec = lookup_model(model)
    changed = [f"{key}={value!r}" for key, value in tree.args if value != spec.signature.default(key)]
    return f"{model}({', '.join(changed)})"


def _describe(result: Result, counts: Counts) -> tuple[str, str, bool]:
    """The canonical expression, the verification program, and whether variants apply."""
    tree, provenance = result.tree, result.provenance
    if isinstance(provenance, FromConfig):
        architecture = provenance.architecture
        return architecture, transformers_snippet(provenance.location or "", architecture, counts), False
    if isinstance(provenance, FromModule):
        return tree.kind, "", False
    if isinstance(provenance, FromFile):  # nothing to rebuild from a checkpoint's tensors
        return os.path.basename(provenance.path.rstrip("/\\")), "", False
    if isinstance(provenance, FromZoo):
        call = _zoo_call(tree, provenance.model)
        return call, torchvision_snippet(call, counts), False
    is_container = tree.kind in ("Sequential", "ModuleList", "ModuleDict")
    assignments, call = construction_of(tree, prefix="nn.")
    return expression_of(tree), pytorch_snippet(call, counts, assignments), not is_container


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


def _shapes(tree: Module, input_shape: tuple[int, ...] | None) -> ShapeReport | None:
    if input_shape is None:
        return None
    from paramcount.analysis.shapes import propagate

    return propagate(tree, input_shape)


def _compute(result: Result, options: PlanOptions | None) -> tuple[FlopsEstimate, ...]:
    """FLOPs per step for the tokens of one batch with N as Kaplan et al. define it, the non-embedding
    parameters (active ones for mixture-of-experts models), and the training figure with all of them beside."""
    if options is None or options.seq_len is None:
        return ()
    from paramcount.analysis.flops import forward_estimate, training_estimate

    used = result.active if result.active is not None else result.total
    active = "active " if result.active is not None else ""
    non_embedding = used - embedding_parameters(result.tree)
    tokens = options.seq_len * options.batch
    which = f"{active}non-embedding parameters, as Kaplan et al."
    return (
        forward_estimate(non_embedding, tokens, which=which),
        training_estimate(non_embedding, tokens, which=which),
        training_estimate(used, tokens, which=f"all {active}parameters, embeddings included", symbol="N_all"),
    )


def build_report(
    result: Result, options: PlanOptions | None = None, input_shape: tuple[int, ...] | None = None
) -> Report:
    tree, counts = result.tree, count_tree(result.tree)
    shapes = _shapes(tree, input_shape)
    weights: dict[str, int] = {}
    for row in counts.parameters:
        weights[row.dtype] = weights.get(row.dtype, 0) + row.count
    stored_dtype = choose_dtype(tree, weights)
    parameter_bytes, buffer_bytes = stored_bytes(counts, stored_dtype)
    expression, code, with_variants = _describe(result, counts)
    plan = _plan(result, counts, options, shapes)
    return Report(
        query=result.query,
        provenance=result.provenance,
        kind=tree.kind,
        expression=expression,
        counts=counts,
        explanation=explain(tree),
        reading=reading(tree),
        parameter_memory=parameter_memory(counts),
        stored_parameter_bytes=parameter_bytes,
        stored_buffer_bytes=buffer_bytes,
        dtypes=tuple(sorted({row.dtype for row in counts.parameters + counts.buffer_tensors})),
        stored_dtype=stored_dtype,
        training=_training(tree, counts),
        appears_in=_appearances(tree) if with_variants else (),
        plan=plan,
        optimizer=_optimizer_label(plan),
        shapes=shapes,
        compute=_compute(result, options),
        variants=_compare(tree, counts.total, variant_candidates(tree)) if with_variants else (),
        related=_compare(tree, counts.total, related_candidates(tree)) if with_variants else (),
        modules=module_table(tree),
        code=code,
        embedding_parameters=embedding_parameters(tree),
        active=active_parameters(tree),
        blocks=blocks(tree),
        by_dtype=dtype_totals(counts),
    )
