"""Accelerator memory as the device reports it, in exact bytes, with where each figure comes from.

Vendors print device memory as "80GB"; what a program can see is what the driver reports, and that is
neither 80 × 10^9 nor 80 × 2^30 bytes: nvidia-smi's ``memory.total`` is 81,559 MiB on an H100 80GB HBM3,
15,360 MiB on a T4, 23,034 MiB on an L4. Each row keeps the vendor's label, the figure used (``basis``) and
its ``source``: a published nvidia-smi output where one was found. Where none was, the row says so and
uses the vendor's "GB" as 10^9 bytes, which is below the reported total on every device here that has one
(a conservative figure, never an invented report). The runtime keeps some of the total (CUDA/ROCm
context, allocator slack), so a plan that fits with less than a GiB or two to spare is marginal; the fit
check reports the headroom.
"""

from __future__ import annotations

from paramcount._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["ACCELERATORS", "Accelerator", "accelerator"]

MIB: Final = 2**20


class Accelerator(Record):
    name: str
    memory_bytes: int
    sold_as: str
    """The vendor's figure as printed ("80GB HBM3")."""
    basis: str
    """How ``memory_bytes`` was obtained ("81,559 MiB: nvidia-smi memory.total")."""
    source: str
    aliases: tuple[str, ...] = ()
    reported: bool = True
    """True when ``memory_bytes`` is the memory the device reports; False for the vendor's figure."""


def _reported(name: str, mib: int, sold_as: str, source: str, aliases: tuple[str, ...] = ()) -> Accelerator:
    return Accelerator(name, mib * MIB, sold_as, f"{mib:,} MiB: nvidia-smi memory.total", source, aliases)


def _sold(name: str, gigabytes: int, sold_as: str, source: str, aliases: tuple[str, ...] = ()) -> Accelerator:
    basis = (
        f"{gigabytes} × 10^9 bytes, the vendor's GB: no published report of the device's total found (a lower bound)"
    )
    return Accelerator(name, gigabytes * 10**9, sold_as, basis, source, aliases, reported=False)


_MODAL = (
    "nvidia-smi totals listed in github.com/modal-labs/modal-client/pull/2797 (H100 81559MiB, A100 80GB 81920MiB, "
    "A100 40GB 40960MiB, A10 23028MiB, L40S 46068MiB, L4 23034MiB, T4 15360MiB)"
)

ACCELERATORS: Final[tuple[Accelerator, ...]] = (
    _reported(
        "H100-80GB",
        81559,
        "80GB HBM3 (SXM)",
        _MODAL + "; the same 81559MiB in github.com/NVIDIA/nccl/issues/1264 (NVIDIA H100 80GB HBM3)",
        ("H100",),
    ),
    _sold("H200-141GB", 141, "141GB HBM3e", "NVIDIA H200 Tensor Core GPU datasheet", ("H200",)),
    _reported(
        "A100-40GB",
        40960,
        "40GB HBM2",
        _MODAL + "; an A100-SXM4-40GB under driver 470 reported 40536MiB (github.com/nanopool/phoenix-miner/issues/17)",
    ),
    _reported("A100-80GB", 81920, "80GB HBM2e", _MODAL),
    _reported("L40S-48GB", 46068, "48GB GDDR6 with ECC", _MODAL, ("L40S",)),
    _reported("L4-24GB", 23034, "24GB GDDR6", _MODAL, ("L4",)),
    _reported("A10-24GB", 23028, "24GB GDDR6", _MODAL, ("A10",)),
    _sold("A6000-48GB", 48, "48GB GDDR6", "NVIDIA RTX A6000 datasheet", ("RTX-A6000",)),
    _reported(
        "RTX5090-32GB",
        32607,
        "32GB GDDR7",
        "nvidia-smi output in github.com/noonghunna/club-3090/issues/617 (NVIDIA GeForce RTX 5090, 32607MiB)",
        ("RTX5090",),
    ),
    _reported(
        "RTX4090-24GB",
        24564,
        "24GB GDDR6X",
        "nvidia-smi output in github.com/RLinf/RLinf/issues/255 (NVIDIA GeForce RTX 4090, 24564MiB)",
        ("RTX4090",),
    ),
    _reported(
        "RTX3090-24GB",
        24576,
        "24GB GDDR6X",
        "nvidia-smi output in github.com/noonghunna/club-3090/issues/1128 (NVIDIA GeForce RTX 3090, 24576MiB)",
        ("RTX3090",),
    ),
    _reported("T4-16GB", 15360, "16GB GDDR6", _MODAL, ("T4",)),
    _sold("V100-16GB", 16, "16GB HBM2", "NVIDIA Tesla V100 datasheet"),
    _sold("V100-32GB", 32, "32GB HBM2", "NVIDIA Tesla V100 datasheet"),
    _sold("MI300X-192GB", 192, "192GB HBM3", "AMD Instinct MI300X data sheet", ("MI300X",)),
    _sold(
        "MI250X-128GB",
        128,
        "128GB HBM2e",
        "AMD Instinct MI250X data sheet (two 64 GB dies, which ROCm and torch show as two devices)",
        ("MI250X",),
    ),
    _sold("TPUv5e-16GB", 16, "16 GB HBM2 per chip", "Google Cloud TPU v5e documentation", ("TPU-v5e", "v5e")),
    _sold("TPUv4-32GB", 32, "32 GB HBM2 per chip", "Google Cloud TPU v4 documentation", ("TPU-v4", "v4")),
)
"""Common accelerators and their memory: as the device reports it where a published report was found."""


def _key(name: str) -> str:
    return "".join(character for character in name.lower() if character.isalnum())


_BY_KEY: Final = {_key(key): entry for entry in ACCELERATORS for key in (entry.name, *entry.aliases)}


def accelerator(name: str) -> Accelerator | None:
    """The accelerator called ``name`` (case, spaces and dashes ignored; ``H100`` is the 80 GB part), or None."""
    return _BY_KEY.get(_key(name))
