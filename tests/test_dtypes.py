"""Storage formats: every byte figure derived by hand from the format's layout, written next to the test."""

from __future__ import annotations

from fractions import Fraction

import pytest

from paramcount.dtypes import BITS, FORMATS, bytes_for, normalized_name, storage_format


def _format(name: str) -> Fraction:
    found = storage_format(name)
    assert found is not None
    return found.bits_per_weight


# ggml-common.h: sizeof(block_…) bytes per block of QK elements (QK_K = 256), static_asserted there.
GGML_BLOCKS = {
    "Q4_0": (18, 32),  # fp16 d + 16 bytes of nibbles
    "Q4_1": (20, 32),  # fp16 d, m + 16 bytes
    "Q5_0": (22, 32),  # fp16 d + qh[4] + qs[16]
    "Q5_1": (24, 32),
    "Q8_0": (34, 32),  # fp16 d + 32 int8
    "Q2_K": (84, 256),  # scales[16] + qs[64] + d + dmin
    "Q3_K": (110, 256),  # hmask[32] + qs[64] + scales[12] + d
    "Q4_K": (144, 256),  # d + dmin + scales[12] + qs[128]
    "Q5_K": (176, 256),  # d + dmin + scales[12] + qh[32] + qs[128]
    "Q6_K": (210, 256),  # ql[128] + qh[64] + scales[16] + d
    "IQ4_NL": (18, 32),
    "IQ4_XS": (136, 256),  # d + scales_h + scales_l[4] + qs[128]
    "IQ3_S": (110, 256),
    "IQ3_XXS": (98, 256),  # d + qs[96]
    "IQ2_XXS": (66, 256),  # d + qs[32] uint16
    "IQ2_XS": (74, 256),
    "IQ2_S": (82, 256),
    "IQ1_S": (50, 256),
}


@pytest.mark.parametrize(("name", "block"), GGML_BLOCKS.items())
def test_ggml_block_sizes_match_the_structs(name: str, block: tuple[int, int]) -> None:
    block_bytes, elements = block
    assert _format(name) == Fraction(8 * block_bytes, elements)
    found = storage_format(name)
    assert found is not None
    assert found.exact
    assert found.tensor_bytes(elements * 3) == 3 * block_bytes


def test_q4_0_seven_billion_weights() -> None:
    # Q4_0: 18 bytes per 32 weights = 4.5 bits per weight → 7·10^9 · 4.5 / 8 = 3,937,500,000 bytes.
    found = storage_format("q4_0")
    assert found is not None
    assert found.tensor_bytes(7_000_000_000) == 7_000_000_000 * 9 // 16 == 3_937_500_000


def test_nf4_with_and_without_double_quantisation() -> None:
    # A 4096 × 4096 weight: 16,777,216 elements, 262,144 blocks of 64.
    # NF4: 16,777,216/2 packed bytes + 4 bytes of float32 absmax per block = 8,388,608 + 1,048,576.
    nf4 = storage_format("nf4")
    assert nf4 is not None
    assert nf4.tensor_bytes(4096 * 4096) == 8_388_608 + 262_144 * 4
    # Double quant: 1-byte absmax per block + float32 per 256 blocks (1,024 of them): QLoRA's 4.127 bits.
    double = storage_format("nf4-dq")
    assert double is not None
    assert double.tensor_bytes(4096 * 4096) == 8_388_608 + 262_144 + 1_024 * 4
    assert double.bits_per_weight == 4 + Fraction(8, 64) + Fraction(32, 64 * 256)


def test_gptq_and_awq_groups() -> None:
    # GPTQ 4-bit, group 128, Linear(in=4096, out=11008): qweight in·out/2, qzeros ⌈in/128⌉·out/2 (4-bit),
    # scales ⌈in/128⌉·out·2 (float16), g_idx 4·in (int32): 22,544,384 + 176,128 + 704,512 + 16,384 bytes.
    gptq = storage_format("gptq")
    assert gptq is not None
    assert gptq.name == "gptq-g128"
    rows, columns = 11008, 4096
    assert gptq.tensor_bytes(rows * columns, rows, columns) == 22_544_384 + 176_128 + 704_512 + 16_384
    assert gptq.bits_per_weight == 4 + Fraction(16 + 4, 128)
    awq = storage_format("awq")
    assert awq is not None
    assert awq.tensor_bytes(rows * columns, rows, columns) == 22_544_384 + 176_128 + 704_512


def test_llm_int8_keeps_a_float32_scale_per_row() -> None:
    # LLM.int8(): 1 byte per weight + 4 bytes per output row (SCB): 4096·11008 + 4·11008.
    found = storage_format("LLM.int8")
    assert found is not None
    assert found.tensor_bytes(11008 * 4096, 11008, 4096) == 11008 * 4096 + 4 * 11008


def test_mixed_gguf_types_are_labelled_estimates() -> None:
    # llama.cpp's README: Q4_K_M measured at 4.84 bits per weight on Llama 2 7B.
    found = storage_format("Q4_K_M")
    assert found is not None
    assert not found.exact
    assert found.bits_per_weight == Fraction(484, 100)
    assert "estimate" in found.note
    assert found.tensor_bytes(100) == 61  # ⌈100 · 4.84 / 8⌉ = ⌈60.5⌉


def test_every_format_has_a_source_and_a_unique_name() -> None:
    names = [normalized_name(entry.name) for entry in FORMATS]
    aliases = [normalized_name(alias) for entry in FORMATS for alias in entry.aliases]
    assert len(set(names + aliases)) == len(names) + len(aliases)
    assert all(entry.source for entry in FORMATS)


def test_lookups_ignore_spelling() -> None:
    assert storage_format("torch.bfloat16") == storage_format("BF16") == storage_format("bfloat16")
    assert storage_format("q4-k-m") == storage_format("Q4_K_M")
    assert storage_format("nf5") is None


def test_bytes_for_rounds_packed_sub_byte_values_up() -> None:
    assert bytes_for(3, BITS["int4"]) == 2
    assert bytes_for(1_180_160, BITS["float32"]) == 4_720_640
