"""``PlanOptions``: every planner choice in one frozen object, one field per CLI flag, checked once when built.

Names are resolved to their canonical spelling on construction (``"AdamW"`` → ``"adamw"``, ``"h100"`` →
``"H100-80GB"``, ``"q4_k_m"`` → ``"Q4_K_M"``), so everything downstream reads clean values. A bad value
raises ``ArgumentError`` (``tp: must be a positive integer, got 0``) and an unknown name
``UnknownNameError`` with the closest known names.
"""

from __future__ import annotations

from paramcount._record import Record, field_values
from paramcount.analysis.planner.optimizers import EXCLUDED_OPTIMIZERS, OPTIMIZERS, OptimizerSpec
from paramcount.dtypes import FORMATS, StorageFormat, normalized_name, storage_format
from paramcount.errors import ArgumentError, UnknownNameError, did_you_mean

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Literal, TypeAlias

    from paramcount.analysis.planner.accelerators import Accelerator

__all__ = ["KV_DTYPES", "MIXED_PRECISION", "PlanOptions", "find_accelerator", "find_format", "find_optimizer"]

MAX_DEVICES: Final = 2**20
"""Largest tp, pp or gpus accepted (about a million devices)."""
MAX_TOKENS: Final = 2**31
"""Largest seq_len or batch accepted: each becomes a size of the input the shapes walk reads, whose cap is the
same (``analysis.shapes.propagate.MAX_INPUT_SIZE``), so a refusal names the option, not an input position."""
MAX_LORA_RANK: Final = 2**20

KV_DTYPES: Final = ("float32", "bfloat16", "float16", "float8_e4m3fn", "float8_e5m2", "int8")
"""What ``kv_dtype`` accepts (any spelling: ``fp8`` is float8_e4m3fn, vLLM's ``--kv-cache-dtype fp8``)."""

if TYPE_CHECKING:
    Attention: TypeAlias = Literal["eager", "sdpa", "flash"]

ATTENTION_IMPLEMENTATIONS: Final = ("eager", "sdpa", "flash")
"""transformers' ``attn_implementation`` values the activations follow (``flash``: ``flash_attention_2``);
``sdpa`` is transformers' default."""

MIXED_PRECISION: Final = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16"}
"""Accepted ``mixed_precision`` values → the 16-bit dtype of weights and gradients."""


def _unknown(option: str, what: str, name: str, known: list[str]) -> UnknownNameError:
    import difflib  # error path only

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if not close:
        close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=3, cutoff=0.5)
        close = [next(k for k in known if k.lower() == c) for c in close]
    listing = "" if close else f"; known: {', '.join(known)}"
    return UnknownNameError(f"{option}: unknown {what} {name!r:.40}{did_you_mean(close)}{listing}", name, tuple(close))


_OPTIMIZERS_BY_KEY: dict[str, OptimizerSpec] = {}
"""Every spelling of every optimizer's name and aliases → the optimizer, normalised and as written (the found
optimizer of its normalised key: a plan asks by canonical name, ``sgd-momentum``); filled on first use."""


def _index_optimizers() -> dict[str, OptimizerSpec]:
    found: dict[str, OptimizerSpec] = {}
    for spec in reversed(OPTIMIZERS):  # the first spec that names a key wins, as a search in order would
        for known in (spec.name, *spec.aliases):
            found[normalized_name(known)] = spec
    for spec in OPTIMIZERS:  # a key is its own normalised name: setdefault keeps what it finds
        for known in (spec.name, *spec.aliases):
            found.setdefault(known, found[normalized_name(known)])
    return found


def find_optimizer(name: str) -> OptimizerSpec:
    """The optimizer called ``name`` (case, ``-`` and ``_`` ignored)."""
    if not _OPTIMIZERS_BY_KEY:
        _OPTIMIZERS_BY_KEY.update(_index_optimizers())
    found = _OPTIMIZERS_BY_KEY.get(name)
    if found is not None:
        return found
    key = normalized_name(name)
    found = _OPTIMIZERS_BY_KEY.get(key)
    if found is not None:
        return found
    if key in EXCLUDED_OPTIMIZERS:
        raise ArgumentError("optimizer", f"{name!r} is not modelled: {EXCLUDED_OPTIMIZERS[key]}", "optimizer")
    raise _unknown("optimizer", "optimizer", name, [spec.name for spec in OPTIMIZERS])


def find_format(option: str, name: str) -> StorageFormat:
    """The storage format called ``name``; errors name ``option``."""
    found = storage_format(name)
    if found is None:
        raise _unknown(option, "storage format", name, [entry.name for entry in FORMATS])
    return found


def find_accelerator(option: str, name: str) -> Accelerator:
    """The accelerator called ``name``; errors name ``option``."""
    from paramcount.analysis.planner.accelerators import ACCELERATORS, accelerator  # only when one is named

    found = accelerator(name)
    if found is None:
        raise _unknown(option, "accelerator", name, [entry.name for entry in ACCELERATORS])
    return found


def _positive(option: str, value: object, limit: int) -> None:
    """``value`` (typed int, but built from user input) is None or an int in 1..limit; bool is not an int here."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(option, f"must be a positive integer, got {value!r:.40}", option)
    if value > limit:
        raise ArgumentError(option, f"must be at most {limit:,}, got {value:,}", option)


class PlanOptions(Record):
    """What to plan for. Leave ``optimizer`` unset for inference (weights + KV cache), set it for training.

    Args:
        dtype: storage dtype of weights (and of gradients, states, activations and KV cache in plain
            training/inference): a torch dtype name; default: the tensors' or config's dtype, else float32.
        optimizer: one of ``OPTIMIZERS`` (``adamw``, ``sgd-momentum``, ``adafactor``, ``lion``, ``adamw-8bit`` …).
        mixed_precision: ``bf16`` or ``fp16``: 16-bit weights and gradients with float32 master weights and
            states (Megatron-LM / DeepSpeed convention).
        lora_rank: LoRA rank r; base weights are frozen and only the adapters train.
        lora_targets: Linear module names to adapt (``("q_proj", "v_proj")``, a comma-separated string, or
            ``"all-linear"``: every Linear but the output head). Default: what peft's ``LoraConfig`` does without
            ``target_modules``: its targets for the config's model type (``q_proj, v_proj`` for Llama), else
            all-linear where peft has none (``weights.PEFT_DEFAULT_TARGETS``).
        quantization: weight storage format for inference or a frozen QLoRA base (``nf4``, ``gptq``, ``Q4_K_M`` …).
        gradient_checkpointing: full activation recomputation (keeps each layer's input only).
        attention: transformers' attention implementation the activations follow: ``eager``, ``sdpa`` (its
            default) or ``flash`` (``flash_attention_2``).
        sequence_parallel: Megatron sequence parallelism with ``tp``: norms, dropout masks and the inputs of the
            column-parallel projections are split over the tensor-parallel devices too.
        zero: ZeRO stage 0-3 over the data-parallel devices (FSDP full sharding is stage 3).
        tp: tensor-parallel degree. pp: pipeline-parallel degree.
        gpus: devices in all (tp · pp · data parallel); default tp · pp.
        seq_len: tokens per sequence (activations, KV cache). batch: sequences per device (micro-batch).
        gpu: an accelerator of ``ACCELERATORS`` to check the per-device figure against.
        kv_dtype: the KV cache's dtype for inference, one of ``KV_DTYPES`` (``fp8`` is float8_e4m3fn);
            default: the model's dtype (``dtype``), as transformers keeps it.
    """

    dtype: str | None = None
    optimizer: str | None = None
    mixed_precision: str | None = None
    lora_rank: int | None = None
    lora_targets: tuple[str, ...] | str | None = None
    quantization: str | None = None
    gradient_checkpointing: bool = False
    attention: Attention = "sdpa"
    sequence_parallel: bool = False
    zero: int = 0
    tp: int = 1
    pp: int = 1
    gpus: int | None = None
    seq_len: int | None = None
    batch: int = 1
    gpu: str | None = None
    kv_dtype: str | None = None

    def __post_init__(self) -> None:
        self._check_numbers()
        self._check_names()
        self._set("dtype", self._dtype_name())
        self._set("optimizer", find_optimizer(self.optimizer).name if self.optimizer is not None else None)
        self._set("mixed_precision", self._mixed_precision())
        self._set("quantization", self._quantization())
        self._set("lora_targets", self._targets())
        self._set("gpu", self._gpu())
        self._set("kv_dtype", self._kv_dtype())
        self._check_combinations()

    def changed(self) -> tuple[tuple[str, object], ...]:
        """The options that differ from ``PlanOptions()``, as (field name, value) pairs in field order."""
        defaults = field_values(PlanOptions())
        return tuple((name, value) for name, value in field_values(self).items() if value != defaults[name])

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _check_names(self) -> None:
        """The options spelled as names are strings (typed so, but a notebook passes whatever it holds)."""
        for option in ("dtype", "optimizer", "mixed_precision", "quantization", "gpu", "kv_dtype"):
            value: object = getattr(self, option)
            if value is not None and not isinstance(value, str):
                raise ArgumentError(option, f"must be a name (a string), got {value!r:.40}", option)

    def _check_numbers(self) -> None:
        _positive("lora_rank", self.lora_rank, MAX_LORA_RANK)
        _positive("tp", self.tp, MAX_DEVICES)
        _positive("pp", self.pp, MAX_DEVICES)
        _positive("gpus", self.gpus, MAX_DEVICES)
        _positive("seq_len", self.seq_len, MAX_TOKENS)
        _positive("batch", self.batch, MAX_TOKENS)
        zero: object = self.zero
        if isinstance(zero, bool) or zero not in (0, 1, 2, 3):
            raise ArgumentError(
                "zero", f"must be 0, 1, 2 or 3 (FSDP full sharding is 3), got {self.zero!r:.40}", "zero"
            )
        if self.attention not in ATTENTION_IMPLEMENTATIONS:
            raise ArgumentError(
                "attention",
                f"must be one of {', '.join(ATTENTION_IMPLEMENTATIONS)}, got {self.attention!r:.40}",
                "attention",
            )
        if not isinstance(self.sequence_parallel, bool):
            raise ArgumentError("sequence_parallel", f"must be True or False, got {self.sequence_parallel!r:.40}")
        if not isinstance(self.gradient_checkpointing, bool):
            raise ArgumentError(
                "gradient_checkpointing", f"must be True or False, got {self.gradient_checkpointing!r:.40}"
            )

    def _dtype_name(self) -> str | None:
        if self.dtype is None:
            return None
        found = find_format("dtype", self.dtype)
        if found.role != "dtype":
            raise ArgumentError(
                "dtype",
                f"{found.name!r} is a quantised storage format; pass it as quantization={found.name!r}",
                "dtype",
            )
        return found.name

    def _mixed_precision(self) -> str | None:
        if self.mixed_precision is None:
            return None
        key = normalized_name(self.mixed_precision)
        if key not in MIXED_PRECISION:
            raise _unknown("mixed_precision", "mixed precision", self.mixed_precision, ["bf16", "fp16"])
        return "bf16" if MIXED_PRECISION[key] == "bfloat16" else "fp16"

    def _quantization(self) -> str | None:
        if self.quantization is None:
            return None
        found = find_format("quantization", self.quantization)
        if found.role == "dtype":
            raise ArgumentError(
                "quantization", f"{found.name!r} is a plain dtype; pass it as dtype={found.name!r}", "quantization"
            )
        return found.name

    def _targets(self) -> tuple[str, ...] | None:
        targets = self.lora_targets
        if targets is None:
            return None
        names: tuple[object, ...] = ()
        if isinstance(targets, str):
            names = tuple(targets.split(","))
        elif hasattr(targets, "__iter__"):  # a tuple, a list: typed so, but built from whatever a caller holds
            names = tuple(targets)
        if not names or any(not isinstance(name, str) or not name.strip() for name in names):
            raise ArgumentError("lora_targets", f"must name Linear modules, got {targets!r:.40}", "lora_targets")
        return tuple(str(name).strip() for name in names)

    def _kv_dtype(self) -> str | None:
        if self.kv_dtype is None:
            return None
        found = storage_format(self.kv_dtype)
        if found is None:
            raise _unknown("kv_dtype", "KV cache dtype", self.kv_dtype, [*KV_DTYPES, "fp8"])
        name = "float8_e4m3fn" if found.name == "fp8" else found.name
        if name not in KV_DTYPES:
            raise ArgumentError(
                "kv_dtype", f"{found.name!r} is not a KV cache dtype; use one of {', '.join(KV_DTYPES)}", "kv_dtype"
            )
        return name

    def _gpu(self) -> str | None:
        return None if self.gpu is None else find_accelerator("gpu", self.gpu).name

    def _check_combinations(self) -> None:
        if self.gpus is not None and self.gpus % (self.tp * self.pp):
            raise ArgumentError(
                "gpus",
                f"must be a multiple of tp · pp = {self.tp * self.pp:,} (tp={self.tp}, pp={self.pp}), "
                f"got {self.gpus:,}",
                "gpus",
            )
        training = self.optimizer is not None
        for name, value in (("mixed_precision", self.mixed_precision), ("lora_rank", self.lora_rank)):
            if value is not None and not training:
                raise ArgumentError(name, "applies to training; set an optimizer too", name)
        if self.lora_targets is not None and self.lora_rank is None:
            raise ArgumentError("lora_targets", "needs lora_rank", "lora_targets")
        if self.kv_dtype is not None and training:
            raise ArgumentError("kv_dtype", "applies to inference (the KV cache); leave out the optimizer", "kv_dtype")
        if self.sequence_parallel and self.tp == 1:
            raise ArgumentError("sequence_parallel", "splits activations over tensor-parallel devices; set tp > 1")
        if (self.zero or self.gradient_checkpointing) and not training:
            name = "zero" if self.zero else "gradient_checkpointing"
            raise ArgumentError(name, "applies to training; set an optimizer too", name)
        if training and self.quantization is not None and self.lora_rank is None:
            raise ArgumentError(
                "quantization", "quantised weights are frozen; training them needs lora_rank (QLoRA)", "quantization"
            )
        if self.mixed_precision is not None and self.dtype not in (
            None,
            "float32",
            MIXED_PRECISION[self.mixed_precision],
        ):
            raise ArgumentError(
                "dtype",
                f"{self.dtype!r} conflicts with mixed_precision={self.mixed_precision!r} "
                "(16-bit weights with float32 master weights)",
                "dtype",
            )

    @property
    def training(self) -> bool:
        return self.optimizer is not None

    @property
    def data_parallel(self) -> int:
        """Data-parallel degree: ``gpus / (tp · pp)``."""
        return (self.gpus or self.tp * self.pp) // (self.tp * self.pp)
