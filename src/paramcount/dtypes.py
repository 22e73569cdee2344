"""Storage formats as data: what one stored element costs, including the scales real formats add.

Two tables. ``BITS`` holds torch's dtypes (bits per element of a tensor as it is built). ``FORMATS`` holds the
formats weights are stored in for training and deployment — torch's floating dtypes, raw ``int8``/``int4``,
and the quantised formats people ship (GPTQ, AWQ, bitsandbytes NF4 and LLM.int8, fine-grained FP8, MXFP4,
GGUF) — each with its
per-group overheads written out as data (the scale, zero point or block header each group of weights
carries), its citation, and whether the figure is exact.

Bytes are exact ints: every component of a format (packed values, scales, zeros, indices) is a separate
array in the real format and is rounded up to whole bytes once, on its own. Bits per weight are
``Fraction``s (4.5, not 4.499999) and products stay ints, so nothing is lost before the final rounding.
Names are spelled the way their sources spell them (``bfloat16``, ``Q4_K_M``, ``nf4``); lookups ignore
case, ``-``, ``_``, ``.`` and spaces.
"""

from __future__ import annotations

from paramcount._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fractions import Fraction
    from typing import Final, Literal, TypeAlias

__all__ = [
    "BITS",
    "FORMATS",
    "GGML_TORCH_NAMES",
    "GGML_TYPES",
    "RATE_UNITS",
    "GgmlType",
    "Overhead",
    "StorageFormat",
    "bytes_for",
    "normalized_name",
    "storage_format",
    "tensor_bytes",
]

BITS: Final = {
    "float64": 64,
    "float32": 32,
    "float16": 16,
    "bfloat16": 16,
    "float8_e4m3fn": 8,
    "float8_e5m2": 8,
    "int64": 64,
    "int32": 32,
    "int8": 8,
    "uint8": 8,
    "int4": 4,
    "bool": 8,
    # Dtypes checkpoint files store (safetensors, GGUF, ONNX), spelled as torch spells them.
    "int16": 16,
    "uint16": 16,
    "uint32": 32,
    "uint64": 64,
    "complex64": 64,
    "complex128": 128,
    "float8_e4m3fnuz": 8,
    "float8_e5m2fnuz": 8,
    "float8_e8m0fnu": 8,
    # Sub-byte floats as safetensors and ONNX store them: one element each, packed (OCP MX formats; torch
    # itself has only float4_e2m1fn_x2, two elements per byte). Names as ml_dtypes spells them.
    "float4_e2m1fn": 4,
    "float6_e2m3fn": 6,
    "float6_e3m2fn": 6,
    "uint4": 4,
    "int2": 2,
    "uint2": 2,
}
"""Bits per element of torch's dtypes (and int4, the packed 4-bit size before any per-group scales), and of the
other element types checkpoint files store."""


class GgmlType(Record):
    """One ggml tensor type: ``block`` elements are stored in ``block_bytes`` bytes (a block's packed values and
    its scales), so a tensor of ``n`` elements (``n`` a multiple of ``block``) takes ``n / block · block_bytes``."""

    name: str
    block: int
    block_bytes: int


GGML_TYPES: Final[dict[int, GgmlType]] = {
    type_id: GgmlType(name, block, block_bytes)
    for type_id, name, block, block_bytes in (
        # (id in enum ggml_type, name, elements per block, bytes per block): ggml/include/ggml.h (the ids) and
        # ggml/src/ggml-common.h (sizeof(block_…), QK_K = 256); ids 4, 5 and 31-33, 36-38 were removed.
        (0, "F32", 1, 4),
        (1, "F16", 1, 2),
        (2, "Q4_0", 32, 18),
        (3, "Q4_1", 32, 20),
        (6, "Q5_0", 32, 22),
        (7, "Q5_1", 32, 24),
        (8, "Q8_0", 32, 34),
        (9, "Q8_1", 32, 40),
        (10, "Q2_K", 256, 84),
        (11, "Q3_K", 256, 110),
        (12, "Q4_K", 256, 144),
        (13, "Q5_K", 256, 176),
        (14, "Q6_K", 256, 210),
        (15, "Q8_K", 256, 292),
        (16, "IQ2_XXS", 256, 66),
        (17, "IQ2_XS", 256, 74),
        (18, "IQ3_XXS", 256, 98),
        (19, "IQ1_S", 256, 50),
        (20, "IQ4_NL", 32, 18),
        (21, "IQ3_S", 256, 110),
        (22, "IQ2_S", 256, 82),
        (23, "IQ4_XS", 256, 136),
        (24, "I8", 1, 1),
        (25, "I16", 1, 2),
        (26, "I32", 1, 4),
        (27, "I64", 1, 8),
        (28, "F64", 1, 8),
        (29, "IQ1_M", 256, 56),
        (30, "BF16", 1, 2),
        (34, "TQ1_0", 256, 54),
        (35, "TQ2_0", 256, 66),
        (39, "MXFP4", 32, 17),
        (40, "NVFP4", 64, 36),
        (41, "Q1_0", 128, 18),
    )
}
"""Every ggml tensor type a GGUF file may hold, by its id. Unquantised types are spelled as torch spells them
in a tree (``GGML_TORCH_NAMES``); quantised ones keep ggml's name (``Q4_K``)."""

GGML_TORCH_NAMES: Final = {
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F64": "float64",
    "I8": "int8",
    "I16": "int16",
    "I32": "int32",
    "I64": "int64",
}
"""ggml's unquantised types, as torch spells them."""

_GGML_BY_NAME: Final = {entry.name: entry for entry in GGML_TYPES.values() if entry.name not in GGML_TORCH_NAMES}


def tensor_bytes(dtype: str, count: int) -> int:
    """Exact bytes a tensor of ``count`` elements of ``dtype`` takes in storage: a torch dtype (``BITS``), or a
    quantised ggml type (``Q4_K``: whole blocks of 256 elements, 144 bytes each).

    Raises:
        KeyError: ``dtype`` is neither.
    """
    bits = BITS.get(dtype)
    if bits is not None:
        return bytes_for(count, bits)
    ggml = _GGML_BY_NAME[dtype]
    return -(-count // ggml.block) * ggml.block_bytes


def bytes_for(count: int, bits: int) -> int:
    """Exact bytes to store ``count`` elements of ``bits`` each (packed sub-byte formats round up)."""
    return -(-count * bits // 8)


if TYPE_CHECKING:
    Unit: TypeAlias = Literal["block", "group", "tile", "row", "column", "block_of_blocks", "tensor"]
"""What an overhead is counted per, for a weight of ``rows × columns`` (torch's Linear layout: out × in):

- ``block``: per ``block`` consecutive elements of the flattened tensor (ggml blocks, bitsandbytes blocks);
- ``group``: per ``block`` input features of each output row (GPTQ/AWQ ``group_size``): rows · ⌈columns/g⌉;
- ``tile``: per ``block × block`` tile of the matrix (fine-grained FP8's 128 × 128): ⌈rows/b⌉ · ⌈columns/b⌉;
- ``row``: per output row; ``column``: per input feature; ``tensor``: once per tensor;
- ``block_of_blocks``: per ``second_block`` blocks (bitsandbytes' second-level absmax under double quant).
"""

if TYPE_CHECKING:
    Applies: TypeAlias = Literal["all", "matrices", "linear", "block_linear", "gpt_oss_experts"]
"""Which parameters a deployed format stores quantised (the others keep the model's dtype):

- ``all``: every parameter (torch dtypes; whole-model average estimates);
- ``matrices``: tensors with 2 or more dimensions; 1-d tensors (norms, biases) stay float32 (llama.cpp);
- ``linear``: weights of Linear layers except the output head (bitsandbytes skips the head, transformers'
  ``get_keys_to_not_convert``; torchao-style weight-only int8/int4 replaces Linear weights);
- ``block_linear``: Linear weights inside the repeated blocks only (GPTQ/AWQ quantise the decoder layers);
- ``gpt_oss_experts``: gpt-oss's fused expert weights only (transformers' MXFP4 replaces ``GptOssMLP``'s experts).
"""


RATE_UNITS: Final = frozenset({"block", "group", "tile", "block_of_blocks"})
"""Overhead units whose cost is a fixed share of each weight, so they belong in bits per weight; the others
(per row, per column, per tensor) depend on the shape and are itemised on their own lines."""


class Overhead(Record):
    """One extra array a format stores next to the packed values, e.g. GPTQ's fp16 ``scales``."""

    label: str
    bits: int
    """Bits of each entry."""
    unit: Unit


class StorageFormat(Record):
    """How a format stores ``n`` weights. Either value bits plus overheads, or (for mixes of types whose
    choice depends on the model) an ``estimate`` of the average bits per weight."""

    name: str
    family: str
    """``torch``, ``raw``, ``gptq``, ``awq``, ``bitsandbytes``, ``transformers`` (its fine-grained FP8 and MXFP4
    checkpoints), ``gguf`` or ``gguf-mix``."""
    value_bits: int
    block: int = 1
    """Elements per block / group (ggml block size, bitsandbytes blocksize, GPTQ group_size)."""
    overheads: tuple[Overhead, ...] = ()
    second_block: int = 1
    """Blocks per second-level block (bitsandbytes double quantisation: 256)."""
    estimate: tuple[int, int] | None = None
    """Average bits per weight over a whole model as ``(bits, weights)``, for formats that mix types per tensor
    (``(484, 100)``: 4.84 bits per weight)."""
    applies_to: Applies = "all"
    note: str = ""
    source: str = ""
    aliases: tuple[str, ...] = ()
    """Other spellings people use (``gptq-4bit-g128``, ``bnb-4bit``); lookups also ignore case, ``-``, ``_``,
    ``.`` and spaces."""
    role: Literal["dtype", "quantization"] = "quantization"
    """``dtype``: a torch dtype tensors can be built in (weights, gradients, states, activations, KV cache);
    ``quantization``: a weight storage format for inference or frozen QLoRA bases."""
    language_model_note: str = ""
    """What the format does to the tensors of a transformer language model only (llama.cpp's ``output.weight``,
    ``attn_v``, ``ffn_down``): said only for a model that has them."""
    checkpoint_dtype: str = ""
    """The dtype the format's checkpoints keep their other tensors in, for a config that states none (gpt-oss's
    MXFP4 checkpoints: bfloat16, what ``from_pretrained(dtype="auto")`` reads from their weights)."""

    @property
    def exact(self) -> bool:
        return self.estimate is None

    @property
    def bits_per_weight(self) -> Fraction:
        """Bits per weight from the per-block terms (row, column and tensor terms depend on the shape)."""
        from fractions import Fraction  # imported when asked: it pulls in decimal, which counting never needs

        if self.estimate is not None:
            return Fraction(*self.estimate)
        bits = Fraction(self.value_bits)
        for overhead in self.overheads:
            if overhead.unit in ("block", "group"):
                bits += Fraction(overhead.bits, self.block)
            elif overhead.unit == "tile":
                bits += Fraction(overhead.bits, self.block * self.block)
            elif overhead.unit == "block_of_blocks":
                bits += Fraction(overhead.bits, self.block * self.second_block)
        return bits

    @property
    def shaped_overheads(self) -> tuple[Overhead, ...]:
        """The overheads outside ``bits_per_weight`` (per row, column or tensor), itemised separately."""
        return tuple(overhead for overhead in self.overheads if overhead.unit not in RATE_UNITS)

    def entries(self, overhead: Overhead, count: int, rows: int, columns: int) -> int:
        """How many entries of ``overhead`` a tensor of ``count`` elements (``rows × columns``) holds."""
        blocks = -(-count // self.block)
        per_unit = {
            "block": blocks,
            "group": rows * -(-columns // self.block),
            "tile": -(-rows // self.block) * -(-columns // self.block),
            "row": rows,
            "column": columns,
            "block_of_blocks": -(-blocks // self.second_block),
            "tensor": 1,
        }
        return per_unit[overhead.unit]

    def tensor_bytes(self, count: int, rows: int = 1, columns: int = 0) -> int:
        """Exact bytes of one tensor of ``count`` elements laid out ``rows × columns`` (out × in).

        ``columns`` defaults to ``count`` (a flat tensor). Each component is its own array, rounded up to
        whole bytes once; estimates round the whole tensor up once."""
        if self.estimate is not None:
            bits, weights = self.estimate
            return -(-count * bits // (8 * weights))
        columns = columns or count
        total = bytes_for(count, self.value_bits)
        for overhead in self.overheads:
            total += self.overhead_bytes(overhead, count, rows, columns)
        return total

    def overhead_bytes(self, overhead: Overhead, count: int, rows: int = 1, columns: int = 0) -> int:
        """Exact bytes of one ``overhead`` array of a tensor (``columns`` defaults to ``count``)."""
        return bytes_for(self.entries(overhead, count, rows, columns or count), overhead.bits)


def _dtype(name: str, bits: int, aliases: tuple[str, ...], note: str = "") -> StorageFormat:
    return StorageFormat(
        name, "torch", bits, aliases=aliases, role="dtype", note=note, source="torch dtype (torch.finfo(...).bits)"
    )


def _fp16(label: str) -> Overhead:
    return Overhead(label, 16, "block")


_GGML = "ggml-common.h block structs (llama.cpp/ggml, static_assert(sizeof(block_…)))"
_GGUF_NOTE = (
    "ggml type applied to every ≥2-d tensor, 1-d tensors in float32 (llama.cpp quantises only ≥2-d tensors); "
    "rows must be a multiple of the block size, as ggml requires"
)
_GGUF_OUTPUT_NOTE = (
    "llama.cpp's file types also keep output.weight at Q6_K unless --pure, which this figure does not model"
)


def _ggml(
    name: str, value_bits: int, block: int, overheads: tuple[Overhead, ...], layout: str, aliases: tuple[str, ...] = ()
) -> StorageFormat:
    return StorageFormat(
        name,
        "gguf",
        value_bits,
        block,
        overheads,
        applies_to="matrices",
        note=f"{layout}; {_GGUF_NOTE}",
        source=_GGML,
        aliases=aliases,
        language_model_note=_GGUF_OUTPUT_NOTE,
    )


_QUANT_README = "llama.cpp examples/quantize/README.md, bits per weight measured on Llama 2 7B"


def _mix(name: str, hundredths: int, mix: str) -> StorageFormat:
    return StorageFormat(
        name,
        "gguf-mix",
        0,
        estimate=(hundredths, 100),
        note=(
            f"estimate: the whole-model average llama.cpp measured on Llama 2 7B ({hundredths / 100} bits per weight, "
            "all tensors included), applied to every parameter"
        ),
        source=_QUANT_README,
        language_model_note=f"llama.cpp picks a type per tensor: {mix}; the mix depends on the model",
    )


def _bnb_4bit(name: str, note: str, aliases: tuple[str, ...]) -> StorageFormat:
    """bitsandbytes' 4-bit layout (NF4 and FP4 alike): 4-bit values and a float32 absmax per block of 64."""
    return StorageFormat(
        name,
        "bitsandbytes",
        4,
        64,
        (Overhead("absmax (float32)", 32, "block"),),
        applies_to="linear",
        note=note,
        source=_BNB,
        aliases=aliases,
    )


def _gptq(group: int, aliases: tuple[str, ...] = ()) -> StorageFormat:
    """``gptq-g128`` and the spellings of model cards and quantisers: ``gptq-4bit-g128``, ``gptq-4bit-128g``."""
    # AutoGPTQ QuantLinear (bits=4): qweight int32 (in·4/32, out), qzeros int32 (⌈in/g⌉, out·4/32),
    # scales float16 (⌈in/g⌉, out), g_idx int32 (in,): 4 + (16 + 4)/g bits per weight + 32 bits per input row.
    return StorageFormat(
        f"gptq-g{group}",
        "gptq",
        4,
        group,
        (
            Overhead("scales (float16)", 16, "group"),
            Overhead("qzeros (4-bit)", 4, "group"),
            Overhead("g_idx", 32, "column"),
        ),
        applies_to="block_linear",
        note=f"4-bit values + per group of {group} inputs a float16 scale and a 4-bit zero (4 + 20/{group} bits per "
        "weight) + an int32 g_idx per input feature; Linear layers inside the repeated blocks only",
        source="AutoGPTQ qlinear QuantLinear buffers qweight/qzeros/scales/g_idx",
        aliases=(f"gptq-4bit-g{group}", f"gptq-4bit-{group}g", f"gptq-int4-g{group}", *aliases),
    )


def _awq(group: int, aliases: tuple[str, ...] = ()) -> StorageFormat:
    # AutoAWQ WQLinear_GEMM: qweight int32 (in, out/8), qzeros int32 (in/g, out/8), scales float16 (in/g, out).
    return StorageFormat(
        f"awq-g{group}",
        "awq",
        4,
        group,
        (Overhead("scales (float16)", 16, "group"), Overhead("qzeros (4-bit)", 4, "group")),
        applies_to="block_linear",
        note=f"4-bit values + per group of {group} inputs a float16 scale and a 4-bit zero: 4 + 20/{group} bits "
        "per weight; Linear layers inside the repeated blocks only",
        source="AutoAWQ WQLinear_GEMM buffers qweight/qzeros/scales",
        aliases=(f"awq-4bit-g{group}", f"awq-4bit-{group}g", f"awq-int4-g{group}", *aliases),
    )


_TRANSFORMERS_SHAPES: Final = {"fp8-block128": (8, 128), "mxfp4": (4, 32)}
"""Value bits and block (tile side, scale group) of transformers' own checkpoint formats."""


def _transformers(
    name: str,
    scale: Overhead,
    applies_to: Applies,
    note: str,
    source: str,
    aliases: tuple[str, ...],
    checkpoint_dtype: str = "",
) -> StorageFormat:
    """A format transformers' quantizers load as written (``source``: under transformers/integrations)."""
    bits, block = _TRANSFORMERS_SHAPES[name]
    return StorageFormat(
        name,
        "transformers",
        bits,
        block,
        (scale,),
        applies_to=applies_to,
        note=note,
        source=f"transformers integrations/{source}",
        aliases=aliases,
        checkpoint_dtype=checkpoint_dtype,
    )


_BNB = "bitsandbytes functional.quantize_4bit (blocksize=64; compress_statistics → blocksize=256 on the absmax)"

FORMATS: Final[tuple[StorageFormat, ...]] = (
    _dtype("float64", 64, ("fp64", "double", "f64")),
    _dtype("float32", 32, ("fp32", "float", "f32")),
    _dtype("float16", 16, ("fp16", "half", "f16")),
    _dtype("bfloat16", 16, ("bf16",)),
    _dtype("float8_e4m3fn", 8, ("float8_e4m3", "e4m3", "fp8_e4m3"), "1 byte per element, no scales"),
    _dtype("float8_e5m2", 8, ("e5m2", "fp8_e5m2"), "1 byte per element, no scales"),
    StorageFormat(
        "fp8",
        "raw",
        8,
        overheads=(Overhead("weight_scale (float32)", 32, "tensor"),),
        applies_to="linear",
        note="float8_e4m3fn values and one float32 scale per tensor (per-tensor FP8 checkpoints)",
        source="float8_e4m3fn (OCP FP8 formats); per-tensor scale as in compressed-tensors/vLLM FP8 checkpoints",
    ),
    StorageFormat(
        "int8",
        "raw",
        8,
        applies_to="linear",
        note="raw 8-bit values with no scales (a lower bound: real 8-bit formats add scales, see llm.int8, Q8_0)",
        source="1 byte per element",
    ),
    StorageFormat(
        "int4",
        "raw",
        4,
        applies_to="linear",
        note="raw 4-bit values with no scales (a lower bound: real 4-bit formats add scales, see gptq, awq, nf4, Q4_0)",
        source="two values per byte",
    ),
    _transformers(
        "fp8-block128",
        Overhead("weight_scale_inv (float32)", 32, "tile"),
        "linear",
        "float8_e4m3fn values + a float32 weight_scale_inv per 128 × 128 tile (8 + 32/16384 bits per weight); "
        "every Linear but the output head, and each expert of fused MoE experts as its Linear layers",
        "finegrained_fp8.py FP8Linear and FP8Experts (weight_block_size [128, 128]); DeepSeek-V3's checkpoint",
        ("fp8-b128", "fp8-block", "fp8-blockwise", "fine-grained-fp8", "fp8-128x128"),
    ),
    _transformers(
        "mxfp4",
        Overhead("scales (e8m0, uint8)", 8, "group"),
        "gpt_oss_experts",
        "4-bit e2m1 values, two per uint8 (*_blocks), + a uint8 e8m0 scale per 32 inputs (*_scales): 4.25 bits "
        "per weight; gpt-oss's expert weights only, inputs a multiple of 32 as the format requires, the other "
        "tensors in the model's dtype",
        "mxfp4.py replace_with_mxfp4_linear, Mxfp4GptOssExperts, and quantizer_mxfp4.py serialized_names "
        "(gate_up_proj_blocks/_scales …); OCP Microscaling Formats v1.0",
        ("mxfp4-e2m1", "fp4-mx"),
        checkpoint_dtype="bfloat16",
    ),
    _gptq(32),
    _gptq(64),
    _gptq(128, ("gptq", "gptq-4bit", "gptq-int4")),
    _awq(64),
    _awq(128, ("awq", "awq-4bit", "awq-int4")),
    _bnb_4bit(
        "nf4",
        "bitsandbytes NF4: 4-bit values + a float32 absmax per block of 64 = 4.5 bits per weight; "
        "Linear layers except the output head",
        ("bnb-nf4", "bnb-4bit", "nf4-4bit"),
    ),
    StorageFormat(
        "nf4-dq",
        "bitsandbytes",
        4,
        64,
        (Overhead("absmax (8-bit)", 8, "block"), Overhead("second-level absmax (float32)", 32, "block_of_blocks")),
        second_block=256,
        applies_to="linear",
        note="bitsandbytes NF4 with double quantisation (bnb_4bit_use_double_quant): the absmax of each block of "
        "64 quantised to 8 bits, with a float32 absmax per 256 blocks: 4 + 8/64 + 32/(64·256) ≈ 4.127 bits per "
        "weight (QLoRA paper §3); the per-tensor offset is a Python float and the code tables are shared",
        source=_BNB + "; Dettmers et al. 2023, QLoRA, §3 Double Quantization",
        aliases=("nf4-double-quant", "nf4-dq-4bit", "bnb-nf4-double-quant", "qlora"),
    ),
    _bnb_4bit("fp4", "bitsandbytes FP4: same layout as NF4 (4 bits + float32 absmax per 64)", ("bnb-fp4",)),
    StorageFormat(
        "llm.int8",
        "bitsandbytes",
        8,
        overheads=(Overhead("SCB row scales (float32)", 32, "row"),),
        applies_to="linear",
        note="bitsandbytes LLM.int8(): int8 weight (CB) + a float32 scale per output row (SCB); "
        "Linear layers except the output head",
        source="bitsandbytes nn.Int8Params (CB int8, SCB float32 per row); Dettmers et al. 2022, LLM.int8()",
        aliases=("int8-bnb", "bnb-int8", "bnb-8bit", "bitsandbytes-8bit"),
    ),
    # ggml types: value bits + the block header fields of each struct (QK_K = 256).
    _ggml("Q4_0", 4, 32, (_fp16("d (fp16)"),), "block_q4_0: fp16 d + 16 bytes of nibbles = 18 bytes / 32"),
    _ggml("Q4_1", 4, 32, (_fp16("d (fp16)"), _fp16("m (fp16)")), "block_q4_1: fp16 d, m + 16 bytes = 20 bytes / 32"),
    _ggml("Q5_0", 5, 32, (_fp16("d (fp16)"),), "block_q5_0: fp16 d + qh[4] + qs[16] = 22 bytes / 32"),
    _ggml(
        "Q5_1", 5, 32, (_fp16("d (fp16)"), _fp16("m (fp16)")), "block_q5_1: fp16 d, m + qh[4] + qs[16] = 24 bytes / 32"
    ),
    _ggml("Q8_0", 8, 32, (_fp16("d (fp16)"),), "block_q8_0: fp16 d + 32 int8 = 34 bytes / 32"),
    _ggml(
        "Q2_K",
        2,
        256,
        (Overhead("scales[16] (4-bit scale + 4-bit min)", 128, "block"), _fp16("d (fp16)"), _fp16("dmin (fp16)")),
        "block_q2_K: scales[16] + qs[64] + fp16 d, dmin = 84 bytes / 256 (the ggml type; llama.cpp's Q2_K file "
        "type also mixes in Q3_K/Q4_K tensors)",
    ),
    _ggml(
        "Q3_K",
        3,
        256,
        (Overhead("scales[12] (6-bit)", 96, "block"), _fp16("d (fp16)")),
        "block_q3_K: hmask[32] + qs[64] + scales[12] + fp16 d = 110 bytes / 256",
    ),
    _ggml(
        "Q4_K",
        4,
        256,
        (Overhead("scales[12] (6-bit scales and mins)", 96, "block"), _fp16("d (fp16)"), _fp16("dmin (fp16)")),
        "block_q4_K: fp16 d, dmin + scales[12] + qs[128] = 144 bytes / 256",
    ),
    _ggml(
        "Q5_K",
        5,
        256,
        (Overhead("scales[12] (6-bit scales and mins)", 96, "block"), _fp16("d (fp16)"), _fp16("dmin (fp16)")),
        "block_q5_K: fp16 d, dmin + scales[12] + qh[32] + qs[128] = 176 bytes / 256",
    ),
    _ggml(
        "Q6_K",
        6,
        256,
        (Overhead("scales[16] (int8)", 128, "block"), _fp16("d (fp16)")),
        "block_q6_K: ql[128] + qh[64] + scales[16] + fp16 d = 210 bytes / 256",
    ),
    _ggml("IQ4_NL", 4, 32, (_fp16("d (fp16)"),), "block_iq4_nl: fp16 d + qs[16] = 18 bytes / 32"),
    _ggml(
        "IQ4_XS",
        4,
        256,
        (_fp16("d (fp16)"), Overhead("scales_h (uint16)", 16, "block"), Overhead("scales_l[4]", 32, "block")),
        "block_iq4_xs: fp16 d + scales_h + scales_l[4] + qs[128] = 136 bytes / 256",
    ),
    _ggml(
        "IQ3_S",
        3,
        256,
        (_fp16("d (fp16)"), Overhead("qh[8]", 64, "block"), Overhead("scales[4]", 32, "block")),
        "block_iq3_s: fp16 d + qs[64] + qh[8] + signs[32] + scales[4] = 110 bytes / 256 (qs and signs: 3 bits/weight)",
    ),
    _ggml(
        "IQ3_XXS",
        3,
        256,
        (_fp16("d (fp16)"),),
        "block_iq3_xxs: fp16 d + qs[96] (grid indices, signs and scales packed) = 98 bytes / 256",
    ),
    _ggml(
        "IQ2_XXS",
        2,
        256,
        (_fp16("d (fp16)"),),
        "block_iq2_xxs: fp16 d + qs[32] uint16 = 66 bytes / 256 (2.0625 bits per weight)",
    ),
    _ggml(
        "IQ2_XS",
        2,
        256,
        (_fp16("d (fp16)"), Overhead("scales[8]", 64, "block")),
        "block_iq2_xs: fp16 d + qs[32] uint16 + scales[8] = 74 bytes / 256",
    ),
    _ggml(
        "IQ2_S",
        2,
        256,
        (_fp16("d (fp16)"), Overhead("qh[8]", 64, "block"), Overhead("scales[8]", 64, "block")),
        "block_iq2_s: fp16 d + qs[64] + qh[8] + scales[8] = 82 bytes / 256",
    ),
    _ggml(
        "IQ1_S",
        1,
        256,
        (_fp16("d (fp16)"), Overhead("qh[8] (uint16)", 128, "block")),
        "block_iq1_s: fp16 d + qs[32] + qh[8] uint16 = 50 bytes / 256",
    ),
    # llama.cpp file types that pick a ggml type per tensor (llama_tensor_get_type): estimates.
    _mix("Q3_K_S", 350, "Q3_K for all tensors but the output"),
    _mix("Q3_K_M", 391, "Q3_K with Q4_K for attn_v, attn_output and ffn_down"),
    _mix("Q3_K_L", 427, "Q3_K with Q5_K for attn_v, attn_output and ffn_down"),
    _mix("Q4_K_S", 458, "Q4_K with some Q5_K tensors"),
    _mix("Q4_K_M", 484, "Q4_K with Q6_K for half of attn_v and ffn_down"),
    _mix("Q5_K_S", 552, "Q5_K throughout, output in Q6_K"),
    _mix("Q5_K_M", 568, "Q5_K with Q6_K for half of attn_v and ffn_down"),
)
"""Every storage format, torch dtypes first. Citations in ``source``; assumptions in ``note``."""


def normalized_name(name: str) -> str:
    """The lookup key of a name: lower case without ``-``, ``_``, ``.``, spaces and a ``torch.`` prefix."""
    lowered = name.strip().lower().removeprefix("torch.")
    if lowered.isalnum():  # most names (float32, bfloat16, q4_k_m aside): a plan asks once per tensor
        return lowered
    return "".join(character for character in lowered if character.isalnum())


def _index() -> dict[str, StorageFormat]:
    found: dict[str, StorageFormat] = {}
    for entry in FORMATS:
        for key in (entry.name, *entry.aliases):
            found[normalized_name(key)] = entry
    return found


_BY_KEY: Final[dict[str, StorageFormat]] = {}
"""Every spelling of every format's name and aliases → the format; filled on first use."""


def storage_format(name: str) -> StorageFormat | None:
    """The format called ``name`` (any spelling of its name or aliases), or None."""
    if not _BY_KEY:
        _BY_KEY.update(_index())
    found = _BY_KEY.get(name)  # a canonical name (``float32``, as plans ask) is its own key
    return found if found is not None else _BY_KEY.get(normalized_name(name))
