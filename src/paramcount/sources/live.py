"""The live-module door: a real ``torch.nn.Module`` → the same tree every other door produces.

A module whose class is a catalog class (``nn.Linear``, ``nn.Conv2d``, ``nn.TransformerEncoderLayer`` …) is
built by the catalog from its real constructor arguments, read from the module's attributes (torch stores
``in_features``, ``kernel_size`` …; a few composites are read from their children, see ``_READERS``), so it
carries its arguments and every analysis (formulas, shapes, variants) works on it. The built tensors must
equal the module's (names and shapes, buffers included) or the module keeps its raw shapes. A Hugging Face
``PreTrainedModel`` whose ``model_type`` has a builder is built from ``model.config`` when that tree's tensors
equal the module's. Anything else keeps its raw shapes, and the module says why in its ``raw_shapes``
attribute; its kind is the class name, qualified (``peft.tuners.lora.layer.Linear``) when a catalog kind has
the same name, so analyses never mistake it for the catalog class. Such a module that holds fused experts
(transformers' ``MixtralExperts`` …) is marked as the config door marks them, so formats quantise each expert.

dtypes, ``requires_grad`` and ties always come from the live tensors: a tensor met a second time (tied
weights, a module used twice) is a ``Param`` with ``tied_to`` the first owner's path, as torch counts it
once. Consecutive identical members of a container (``blocks.0`` … ``blocks.11``) become one repeated child.
``torch.compile``, ``DataParallel``, ``DistributedDataParallel`` and FSDP wrappers are unwrapped. torch is
imported only by callers that hold a module, so it is already loaded.
"""

from __future__ import annotations

import sys

from paramcount._record import replace
from paramcount.errors import ArgumentError, ParamcountError, short_repr
from paramcount.layers._registry import build, registered
from paramcount.layers._signature import REQUIRED
from paramcount.tree import (
    DTYPES_STATED,
    EXPERTS_TRANSPOSED,
    RAW_SHAPES,
    Buffer,
    Dim,
    Module,
    Param,
    iter_buffers,
    iter_params,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final

    from paramcount.tree import Value

__all__ = ["build_from_file", "file_target", "from_module", "unwrap"]

_CONTAINERS: Final = frozenset({"Sequential", "ModuleList", "ModuleDict"})
"""Catalog kinds whose members the walk converts one by one (their arguments are their members)."""

_MISSING: Final = object()


class _Mismatch(Exception):
    """A built tree differs from the live module (reported as the reason for raw shapes)."""


def unwrap(module: Any) -> Any:
    """The user's model inside ``torch.compile`` (``_orig_mod``), ``DataParallel``, DDP and FSDP (``module``).

    FSDP's ``fully_shard`` (FSDP2) wraps nothing (see ``_class``). ``FullyShardedDataParallel`` (FSDP1) without
    ``use_orig_params=True`` replaces the model's parameters by one flat ``_flat_param``, so its model has no
    parameters to count: an ``ArgumentError``, never a count of 0."""
    import torch

    wrappers: tuple[Any, ...] = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
    fsdp = sys.modules.get("torch.distributed.fsdp")  # loaded by anyone who wrapped a model in it
    if fsdp is not None:
        wrappers += (fsdp.FullyShardedDataParallel,)
    compiled = sys.modules.get("torch._dynamo.eval_frame")  # loaded by torch.compile
    while True:
        if compiled is not None and isinstance(module, compiled.OptimizedModule):
            module = module._orig_mod
        elif fsdp is not None and isinstance(module, fsdp.FullyShardedDataParallel) and not module._use_orig_params:
            raise ArgumentError(
                "FullyShardedDataParallel",
                "without use_orig_params=True it flattens the model's parameters into one _flat_param; "
                "pass the model before wrapping it, or wrap it with use_orig_params=True",
                "use_orig_params",
            )
        elif isinstance(module, wrappers):
            module = module.module
        else:
            return module


def from_module(root: Any) -> Module:
    """The tree of ``root`` (an ``nn.Module``, unwrapped first); tensors shared between modules counted once."""
    model = unwrap(root)
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ArgumentError(
            "model",
            f"must be a torch.nn.Module, got {type(root).__name__} {short_repr(root)}; paramcount.count() reads "
            "text (a layer, a zoo model, a hub id, a config or a checkpoint)",
            "model",
        )
    tree = _Walk().convert("", "", model)
    return replace(tree, attributes=(*tree.attributes, (DTYPES_STATED, True), *_peft_facts(model, tree)))


def _shape(tensor: Any) -> tuple[Dim, ...]:
    return tuple(Dim.of(int(size), f"dim{index}") for index, size in enumerate(tensor.shape))


def _dtype(tensor: Any) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def _class(module: Any) -> type:
    """``type(module)``, less the subclass FSDP2's ``fully_shard`` swaps in (a ``Linear`` becomes an
    ``FSDPLinear``, a subclass of ``FSDPModule`` and ``Linear``), so a sharded module keeps its kind."""
    cls: type = type(module)
    fsdp = sys.modules.get("torch.distributed.fsdp")
    if fsdp is not None and issubclass(cls, fsdp.FSDPModule):
        return next(base for base in cls.__mro__ if not issubclass(base, fsdp.FSDPModule))
    return cls


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class _Walk:
    """One conversion: the owners of the tensors met so far (their first dotted path)."""

    def __init__(self) -> None:
        self.owners: dict[int, str] = {}

    def tie(self, tensor: Any, dotted: str) -> str | None:
        first = self.owners.setdefault(id(tensor), dotted)
        return None if first == dotted else first

    def convert(self, name: str, path: str, module: Any) -> Module:
        built, reason = _built(module, self.convert_value)
        if built is not None:
            known = len(self.owners)
            try:
                return replace(self.overlay(built, path, module), name=name)
            except _Mismatch as mismatch:
                reason = str(mismatch)
                for key in list(self.owners)[known:]:  # the owners the failed overlay recorded
                    del self.owners[key]
        return self.raw(name, path, module, reason)

    def convert_value(self, module: Any) -> Module:
        """A module-valued constructor argument (``TransformerEncoder``'s ``encoder_layer``), converted on its
        own: its ties are not recorded (the members it builds are converted by the walk)."""
        return _Walk().convert("", "", module)

    def raw(self, name: str, path: str, module: Any, reason: str) -> Module:
        params = []
        for local, tensor in module.named_parameters(recurse=False, remove_duplicate=False):
            tied = self.tie(tensor, _join(path, local))
            params.append(Param(local, _shape(tensor), _dtype(tensor), tied, bool(tensor.requires_grad)))
        buffers = []
        for local, tensor in module.named_buffers(recurse=False, remove_duplicate=False):
            tied = self.tie(tensor, _join(path, local))
            persistent = local not in module._non_persistent_buffers_set
            buffers.append(Buffer(local, _shape(tensor), _dtype(tensor), tied, persistent))
        children = [self.convert(child, _join(path, child), member) for child, member in _members(module)]
        cls = _class(module)
        kind = cls.__name__
        if kind in _CONTAINERS and cls.__module__.startswith("torch.nn."):
            return Module(name, kind, children=_collapse(children))
        if registered(kind) is not None:
            kind = _qualified(cls)  # not the catalog class, or not built as one: never mistaken for it
        attributes = ((RAW_SHAPES, reason), *_fused_experts(module, params)) if params or buffers else ()
        return Module(name, kind, (), tuple(params), tuple(buffers), _collapse(children), attributes=attributes)

    def overlay(self, built: Module, path: str, module: Any) -> Module:
        """``built`` with the live tensors' dtypes, ``requires_grad`` and ties; ``_Mismatch`` where its names or
        shapes differ from the module's."""
        live_params = dict(module.named_parameters(recurse=False, remove_duplicate=False))
        live_buffers = dict(module.named_buffers(recurse=False, remove_duplicate=False))
        if [p.name for p in built.params] != list(live_params) or [b.name for b in built.buffers] != list(live_buffers):
            raise _Mismatch(f"{built.kind} built from its arguments has other tensors than the module")
        params = []
        for param in built.params:
            tensor = live_params[param.name]
            _same_shape(param, tensor)
            tied = self.tie(tensor, _join(path, param.name))
            params.append(replace(param, dtype=_dtype(tensor), tied_to=tied, trainable=bool(tensor.requires_grad)))
        buffers = []
        for buffer in built.buffers:
            tensor = live_buffers[buffer.name]
            _same_shape(buffer, tensor)
            buffers.append(replace(buffer, dtype=_dtype(tensor), tied_to=self.tie(tensor, _join(path, buffer.name))))
        expected: dict[str, Module] = {}
        for child in built.children:
            names = (
                [str(int(child.name) + offset) for offset in range(child.repeat)] if child.repeat > 1 else [child.name]
            )
            expected.update((member_name, replace(child, name=member_name, repeat=1)) for member_name in names)
        children: list[Module] = []
        for member_name, member in _members(module):
            single = expected.pop(member_name, None)
            if single is not None:
                children.append(self.overlay(single, _join(path, member_name), member))
            elif next(member.parameters(), None) is None and next(member.buffers(), None) is None:
                children.append(self.convert(member_name, _join(path, member_name), member))  # a dropout, an act
            else:
                raise _Mismatch(f"the module has a member {member_name!r} with tensors its {built.kind} build lacks")
        if expected:
            raise _Mismatch(
                f"{built.kind} built from its arguments has members the module lacks: {', '.join(expected)}"
            )
        return replace(built, params=tuple(params), buffers=tuple(buffers), children=_collapse(children))


def _fused_experts(module: Any, params: list[Param]) -> tuple[tuple[str, Value], ...]:
    """The config door's marks of fused experts (``num_experts``, ``experts_per_token``), read from the module,
    and their layout: transformers 5's experts modules (``MixtralExperts``, ``Qwen3MoeExperts`` …) keep
    ``num_experts`` and stack one weight per expert in each 3-d parameter of that many rows; its
    ``use_experts_implementation`` keeps the ``config`` (whose ``num_experts_per_tok`` experts run per token)
    and ``is_transposed`` (weights stored (experts, in, out), ``EXPERTS_TRANSPOSED``). Nothing for a module
    without such parameters; no per-token count where the module's config names none (Aria's ``moe_topk``)."""
    count = getattr(module, "num_experts", None)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return ()
    if not any(len(param.sizes) == 3 and param.sizes[0] == count for param in params):
        return ()
    marks: list[tuple[str, Value]] = [("num_experts", count)]
    per_token = getattr(getattr(module, "config", None), "num_experts_per_tok", None)
    if isinstance(per_token, int) and not isinstance(per_token, bool):
        marks.append(("experts_per_token", per_token))
    if getattr(module, "is_transposed", None) is True:
        marks.append((EXPERTS_TRANSPOSED, True))
    return tuple(marks)


def _members(module: Any) -> list[tuple[str, Any]]:
    """Every member under every name it is registered by: ``named_children()`` lists a module used twice
    (``nn.Sequential(shared, nn.ReLU(), shared)``) once, but torch calls it in both places."""
    return [(name, member) for name, member in module._modules.items() if member is not None]


def _same_shape(tensor: Param | Buffer, live: Any) -> None:
    if tensor.sizes != tuple(int(size) for size in live.shape):
        raise _Mismatch(f"{tensor.name} is {tuple(live.shape)} on the module, {tensor.sizes} from its arguments")


def _collapse(children: list[Module]) -> tuple[Module, ...]:
    """Consecutive members named by consecutive integers that are identical but for the name become one
    repeated child (ties make copies differ, so shared tensors are never folded away)."""
    merged: list[Module] = []
    for child in children:
        last = merged[-1] if merged else None
        if (
            last is not None
            and child.name.isdigit()
            and last.name.isdigit()
            and int(child.name) == int(last.name) + last.repeat
            and replace(child, name=last.name) == replace(last, repeat=1)
        ):
            merged[-1] = replace(last, repeat=last.repeat + 1)
        else:
            merged.append(child)
    return tuple(merged)


def _built(module: Any, convert: Callable[[Any], Module]) -> tuple[Module | None, str]:
    """The catalog's or the config door's tree for ``module``, or None and why not."""
    config_tree = _from_hf_config(module)
    if config_tree is not None:
        return config_tree, ""
    import torch

    cls = _class(module)
    kind = cls.__name__
    if getattr(torch.nn, kind, None) is not cls or kind in _CONTAINERS:
        return None, "not a torch.nn catalog class: shapes as the module holds them"
    spec = registered(kind)
    if spec is None:
        return None, f"torch.nn.{kind} is not in paramcount's catalog: shapes as the module holds them"
    reader = _READERS.get(kind)
    values = reader(module) if reader is not None else {}
    keywords: list[tuple[str, Value]] = []
    for name, default in spec.signature.parameters:
        if name in ("device", "dtype"):
            continue  # the live tensors give the device and every dtype
        value = _argument(values[name] if name in values else getattr(module, name, _MISSING), default)
        if value is _MISSING and default is REQUIRED:
            return None, f"its constructor argument {name!r} is not readable from the module"
        if value is _MISSING:
            continue  # not stored and not needed: torch's default
        if isinstance(value, torch.nn.Module):
            value = convert(value)
        keywords.append((name, value))
    try:
        return build(kind, (), keywords), ""
    except ParamcountError as error:
        return None, f"its arguments read from the module are refused by the catalog ({error})"


def _argument(value: object, default: object) -> Any:
    """An attribute as a constructor argument: a tensor-or-None attribute of a flag (``bias``) is whether the
    tensor exists; ints, floats, strings, tuples and modules are kept; anything else is not readable."""
    import torch

    if isinstance(default, bool) and (value is None or isinstance(value, torch.Tensor)):
        return value is not None
    if isinstance(value, list):
        value = tuple(value)
    if value is None or isinstance(value, bool | int | float | str | torch.nn.Module):
        return value
    if isinstance(value, tuple) and all(isinstance(item, bool | int | float | str) for item in value):
        return value
    return _MISSING


def _transformer_layer(module: Any) -> dict[str, object]:
    """``TransformerEncoderLayer`` / ``TransformerDecoderLayer`` keep their arguments in their members; the
    activation is named as the encoder layer's ``activation_relu_or_gelu`` names it (the decoder layer keeps
    only the function)."""
    import torch

    relu, gelu = torch.nn.functional.relu, torch.nn.functional.gelu
    function = module.activation
    activation: object = _MISSING
    if function is relu or isinstance(function, torch.nn.ReLU):
        activation = "relu"
    elif function is gelu or isinstance(function, torch.nn.GELU):
        activation = "gelu"
    return {
        "d_model": module.self_attn.embed_dim,
        "nhead": module.self_attn.num_heads,
        "dim_feedforward": module.linear1.out_features,
        "dropout": module.dropout.p,
        "activation": activation,
        "layer_norm_eps": module.norm1.eps,
        "batch_first": module.self_attn.batch_first,
        "norm_first": module.norm_first,
        "bias": module.linear1.bias is not None,
    }


def _transformer_stack(module: Any) -> dict[str, object]:
    """``TransformerEncoder`` / ``TransformerDecoder``: the first layer, how many, the final norm."""
    return {"encoder_layer": module.layers[0], "decoder_layer": module.layers[0], "num_layers": len(module.layers)}


def _multihead_attention(module: Any) -> dict[str, object]:
    return {"bias": module.out_proj.bias is not None, "add_bias_kv": module.bias_k is not None}


_READERS: Final[dict[str, Callable[[Any], dict[str, object]]]] = {
    "TransformerEncoderLayer": _transformer_layer,
    "TransformerDecoderLayer": _transformer_layer,
    "TransformerEncoder": _transformer_stack,
    "TransformerDecoder": _transformer_stack,
    "MultiheadAttention": _multihead_attention,
}
"""Catalog classes that do not store every constructor argument under its own name."""


def _from_hf_config(module: Any) -> Module | None:
    """The config door's tree for a Hugging Face ``PreTrainedModel`` whose model type has a builder, or None
    (transformers not loaded, another class, an unsupported model type or a config the builder refuses)."""
    transformers = sys.modules.get("transformers")
    if transformers is None or not isinstance(module, transformers.PreTrainedModel):
        return None
    from paramcount.sources.hf import build_config_tree, supported_model_types

    settings = module.config.to_dict()
    if settings.get("model_type") not in supported_model_types():
        return None
    try:
        tree = build_config_tree(settings, architecture=_class(module).__name__)
    except ParamcountError:
        return None
    expected = [(name, p.sizes) for name, p in iter_params(tree, include_tied=True)]
    if expected != [(name, tuple(p.shape)) for name, p in module.named_parameters(remove_duplicate=False)]:
        return None
    buffers = [(name, b.sizes) for name, b in iter_buffers(tree, include_tied=True)]
    if buffers != [(name, tuple(b.shape)) for name, b in module.named_buffers(remove_duplicate=False)]:
        return None
    return replace(tree, attributes=(*tree.attributes, ("counted_by", "config")))


SOURCE_FACTS = frozenset({"peft_type", "adapter_parameters", "base_parameters", "counted_by"})
"""Root attributes that tell about the live object, not the model: the api moves them to its ``FromModule``."""


def _peft_facts(model: Any, tree: Module) -> tuple[tuple[str, Value], ...]:
    """For a peft model: its method and how many parameters its adapters hold (the rest is the base model),
    found through peft's own ``BaseTunerLayer.adapter_layer_names``."""
    peft = sys.modules.get("peft")
    if peft is None or not isinstance(model, peft.PeftModel):
        return ()
    from peft.tuners.tuners_utils import BaseTunerLayer

    adapters: dict[int, int] = {}
    for layer in model.modules():
        if isinstance(layer, BaseTunerLayer):
            for attribute in layer.adapter_layer_names:
                for tensor in getattr(layer, attribute).parameters():
                    adapters[id(tensor)] = tensor.numel()
    adapter_count = sum(adapters.values())
    from paramcount.tree import parameter_count

    method = str(model.peft_config[model.active_adapter].peft_type.value)
    return (
        ("peft_type", method),
        ("adapter_parameters", adapter_count),
        ("base_parameters", parameter_count(tree) - adapter_count),
    )


def file_target(text: str) -> tuple[str, str] | None:
    """``("models/unet.py", "UNet")`` for a query ``models/unet.py:UNet``, else None; an ``ArgumentError`` for a
    ``.py`` file named without its class (``unet.py``, ``unet.py:``), which no other door reads."""
    stripped = text.strip()
    path, colon, name = stripped.rpartition(":")
    if colon and path.endswith(".py") and name.isidentifier() and "(" not in path:
        return path, name
    if stripped.endswith((".py", ".py:")) and "(" not in stripped:
        file = stripped.removesuffix(":")
        raise ArgumentError(file, f"name the nn.Module class to count after a colon: {file}:CLASS")
    return None


def build_from_file(path: str, name: str, positional: tuple[object, ...], keywords: dict[str, object]) -> Any:
    """Import the user's ``path`` and build ``name(*positional, **keywords)`` on the meta device.

    This runs the user's own code, on their own machine, as ``python path`` would: only the command line offers
    it (the web never does). Whatever the file or the constructor raises is reported as an ``ArgumentError``."""
    import importlib.util
    import os

    where = f"{path}:{name}"
    if not os.path.isfile(path):
        raise ArgumentError(where, f"no such file {path!r}")
    try:
        import torch
    except ImportError:
        raise ArgumentError(where, "building it needs torch, which is not installed: pip install torch") from None
    spec = importlib.util.spec_from_file_location(f"paramcount_user_{abs(hash(os.path.abspath(path)))}", path)
    if spec is None or spec.loader is None:
        raise ArgumentError(where, f"{path!r} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)  # the user's file, run as the user asked
    except Exception as error:
        raise ArgumentError(where, f"importing {path!r} raised {type(error).__name__}: {error}") from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ArgumentError(where, f"{path!r} defines no nn.Module subclass {name!r}")
    try:
        with torch.device("meta"):
            return cls(*positional, **keywords)
    except Exception as error:
        raise ArgumentError(where, f"{name}(...) raised {type(error).__name__}: {error}") from None
