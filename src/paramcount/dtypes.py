"""Storage formats as data: name → bits per element. Bytes are exact ints (``ceil(count·bits/8)``)."""

from __future__ import annotations

from typing import Final

__all__ = ["BITS", "bytes_for"]

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
}
"""Bits per element of torch's dtypes (and int4, the packed 4-bit size before any per-group scales)."""


def bytes_for(count: int, bits: int) -> int:
    """Exact bytes to store ``count`` elements of ``bits`` each (packed sub-byte formats round up)."""
    return -(-count * bits // 8)
