"""Number formatting: thousands separators and byte sizes with correctly named units."""

from __future__ import annotations

__all__ = ["binary_size", "byte_sizes", "decimal_size", "integer", "sizes_equal"]

_DECIMAL = ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB"))
_BINARY = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def integer(value: int) -> str:
    return f"{value:,}"


def _scaled(value: int, units: tuple[tuple[int, str], ...]) -> str:
    for size, name in units:
        if value >= size:
            return f"{value / size:,.2f} {name}"
    return f"{value:,} B"


def decimal_size(value: int) -> str:
    """``4,720,640`` → ``4.72 MB`` (powers of 10^3)."""
    return _scaled(value, _DECIMAL)


def binary_size(value: int) -> str:
    """``4,720,640`` → ``4.50 MiB`` (powers of 2^10)."""
    return _scaled(value, _BINARY)


def byte_sizes(value: int) -> tuple[str, str, str]:
    """Exact bytes, decimal and binary: ``("4,720,640 B", "4.72 MB", "4.50 MiB")``."""
    return f"{value:,} B", decimal_size(value), binary_size(value)


def sizes_equal(value: int) -> str:
    """``4,720,640 B = 4.72 MB = 4.50 MiB``; a form that says nothing new is left out (``54 B``, not ``54 B = 54 B
    = 54 B``)."""
    return " = ".join(dict.fromkeys(byte_sizes(value)))
