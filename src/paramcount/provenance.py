"""Where a tree came from: which door built it, and what the source itself said.

The tree holds the model (its modules, arguments, tensors); a ``Provenance`` holds what belongs to the
source instead: the hub id or path a config was read from, the config's ``model_type`` and stored dtype, the
other classes it can build, the zoo model's name. Doors return one beside the tree; ``Result`` and ``Report``
carry it, and renderers choose their words by its type, never by looking for keys in the tree.

    Provenance          .kind: the door's name, the JSON ``origin``; .location: the hub id or path
                        read (or None), the JSON ``location``; .facts(): the JSON ``facts``
    ├── FromExpression  an expression of catalog layers
    ├── FromZoo         a zoo model: .model
    ├── FromConfig      a Hugging Face config.json: .model_type, .architecture, .torch_dtype …
    ├── FromFile        a checkpoint file or folder read header-only: .format, .path, what its header said
    └── FromModule      a live torch.nn.Module: .class_name
"""

from __future__ import annotations

from paramcount._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar

__all__ = [
    "FromConfig",
    "FromExpression",
    "FromFile",
    "FromModule",
    "FromZoo",
    "Provenance",
    "SectionTotal",
    "WeightDifference",
]


class Provenance(Record):
    """Base of the provenance records: ``kind`` is the door (``expression``, ``zoo``, ``config`` …)."""

    kind: ClassVar[str] = ""

    @property
    def origin(self) -> str:
        """The JSON ``origin``: the door's ``kind``, or a checkpoint's format (``safetensors``, ``gguf`` …)."""
        return self.kind

    @property
    def location(self) -> str | None:
        """The hub id or path the source was read from (the JSON ``location``); None when it was not read."""
        return None

    def facts(self) -> tuple[tuple[str, str], ...]:
        """What the source said about the model, by the source's own names (the JSON ``facts`` object)."""
        return ()


class FromExpression(Provenance):
    """An expression of catalog layers (``nn.Conv2d(256, 512, 3)``)."""

    kind: ClassVar[str] = "expression"


class FromZoo(Provenance):
    """A zoo model called by name (``resnet50(num_classes=10)``): its builder's name, and torchvision's
    pretrained weights when the call named them (as ``"ResNet50_Weights.IMAGENET1K_V2"``)."""

    kind: ClassVar[str] = "zoo"
    model: str
    weights: str | None = None

    def facts(self) -> tuple[tuple[str, str], ...]:
        return (("zoo", self.model),) + ((("weights", self.weights),) if self.weights is not None else ())


class FromConfig(Provenance):
    """A Hugging Face ``config.json``: where it was read and what it said."""

    kind: ClassVar[str] = "config"
    location: str | None
    """The hub id or path it was read from; None for a config given as text (pasted into the web app)."""
    model_type: str
    architecture: str
    """The class counted (the config's first ``architectures`` entry unless another was asked for)."""
    other_classes: tuple[str, ...] = ()
    """The other classes the config can build (``--architecture``)."""
    torch_dtype: str | None = None
    """The dtype the config stores (``torch_dtype``, or ``dtype`` in newer configs), as written."""
    quantization: str | None = None
    """The storage format the config's ``quantization_config`` names (``fp8-block128``, ``mxfp4``), when it is one
    paramcount reads."""
    counted_by: str | None = None
    """``transformers`` when transformers itself built the model (``--via-transformers``)."""
    weights: tuple[tuple[str, str | int], ...] = ()
    """What a hub id's weights at hand (its cached snapshot's files, or its safetensors headers) said beside the
    config: ``weights_format``, ``weights_files``, ``weights_parameters``, ``weights_agree`` (or ``weights``:
    ``not compared: …`` when they could not be read); empty when none were at hand."""
    differences: tuple[WeightDifference, ...] = ()
    """Every difference between the config's tree and those weights (empty when they agree or were not read)."""

    def facts(self) -> tuple[tuple[str, str], ...]:
        facts = [("model_type", self.model_type), ("architecture", self.architecture)]
        if self.counted_by is None:
            facts.append(("other_classes", ", ".join(self.other_classes)))
        if self.torch_dtype is not None:
            facts.append(("torch_dtype", self.torch_dtype))
        if self.quantization is not None:
            facts.append(("quantization", self.quantization))
        if self.counted_by is not None:
            facts.append(("counted_by", self.counted_by))
        facts.extend((key, str(value)) for key, value in self.weights)
        return tuple(facts)


class SectionTotal(Record):
    """Tensors a checkpoint holds beside the model's state, which the count leaves out: one state of an
    optimizer (Adam's ``exp_avg``), or one other top-level entry (an EMA copy, a callback's state)."""

    section: str
    """``optimizer`` or ``other``."""
    group: str
    """For the optimizer, the state's name (the last part of the tensor's name: ``exp_avg``, ``exp_avg_sq``,
    ``step``, ``momentum_buffer``); otherwise the checkpoint's top-level key."""
    tensors: int
    count: int
    """Elements."""
    bytes: int
    """Bytes of their data (numel × itemsize each)."""


class WeightDifference(Record):
    """One way a checkpoint's tensors (a folder's, or a hub id's) differ from the tree its ``config.json`` builds
    (names compared after aligning a ``model.``-style prefix, and a tied tensor saved once counted as present, as
    transformers loads)."""

    name: str
    """The tensor's name as the config's tree has it (``missing``, ``shape``), or as the file has it (``extra``)."""
    difference: str
    """``missing`` (the config has it, the weights do not), ``extra`` (the other way) or ``shape``."""
    config_shape: tuple[int, ...] | None
    weights_shape: tuple[int, ...] | None
    weights_dtype: str | None


class FromFile(Provenance):
    """A checkpoint file, a sharded checkpoint's index or a folder holding one, read header-only: its format,
    the path given, and what the header (and a folder's config.json) said: the architecture a GGUF names, how
    the config's count compares with the weights'."""

    kind: ClassVar[str] = "file"
    format: str
    """``safetensors``, ``gguf``, ``onnx`` or ``pytorch``."""
    path: str
    header: tuple[tuple[str, str | int], ...] = ()
    """The file's own facts (``architecture``, ``block_count``, ``config_parameters``, ``config_agrees`` …)."""
    sections: tuple[SectionTotal, ...] = ()
    """What a nested PyTorch checkpoint holds besides the model (optimizer state, other entries), not counted."""
    differences: tuple[WeightDifference, ...] = ()
    """Every difference between a folder's ``config.json`` tree and its weights (empty when they agree)."""

    @property
    def origin(self) -> str:
        return self.format

    @property
    def location(self) -> str | None:
        return self.path

    def facts(self) -> tuple[tuple[str, str], ...]:
        return tuple((key, str(value)) for key, value in self.header)


class FromModule(Provenance):
    """A live ``torch.nn.Module`` (``paramcount.from_module``): its class name."""

    kind: ClassVar[str] = "module"
    class_name: str
    said: tuple[tuple[str, str | int], ...] = ()
    """What the module itself told (a peft model's method and adapter parameters; ``counted_by`` when the tree
    came from its Hugging Face config)."""

    def facts(self) -> tuple[tuple[str, str], ...]:
        return tuple((key, str(value)) for key, value in self.said)
