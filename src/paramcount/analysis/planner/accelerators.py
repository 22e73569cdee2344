"""Accelerator memory as sold, in exact bytes.

Vendors print device memory as "80GB". For these HBM and GDDR parts the figure counts binary gigabytes:
DRAM dies come in power-of-two densities (JEDEC), so an "80GB" H100 is five 16 GiB HBM3 stacks,
80 × 2^30 = 85,899,345,920 bytes, not 80 × 10^9. Each row keeps the vendor's label, the unit it means and
its source. The runtime keeps some of it (CUDA/ROCm context, ECC on GDDR parts, allocator slack), so a
plan that fits with less than a GiB or two to spare is marginal; the fit check reports the headroom.
"""

from __future__ import annotations

from paramcount._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["ACCELERATORS", "Accelerator", "accelerator"]

GIB: Final = 2**30


class Accelerator(Record):
    name: str
    memory_bytes: int
    sold_as: str
    """The vendor's figure as printed ("80GB HBM3")."""
    unit_note: str
    source: str
    aliases: tuple[str, ...] = ()


def _binary(name: str, gigabytes: int, sold_as: str, source: str, aliases: tuple[str, ...] = ()) -> Accelerator:
    return Accelerator(
        name,
        gigabytes * GIB,
        sold_as,
        f"the vendor's GB is binary here: {gigabytes} × 2^30 bytes",
        source,
        aliases,
    )


ACCELERATORS: Final[tuple[Accelerator, ...]] = (
    _binary("H100-80GB", 80, "80GB HBM3 (SXM) / HBM2e (PCIe)", "NVIDIA H100 Tensor Core GPU datasheet", ("H100",)),
    Accelerator(
        "H200-141GB",
        141 * GIB,
        "141GB HBM3e",
        "141 × 2^30 bytes: six 24 GiB HBM3e stacks (144 GiB) of which NVIDIA enables 141",
        "NVIDIA H200 Tensor Core GPU datasheet",
        ("H200",),
    ),
    _binary("A100-40GB", 40, "40GB HBM2", "NVIDIA A100 Tensor Core GPU datasheet"),
    _binary("A100-80GB", 80, "80GB HBM2e", "NVIDIA A100 Tensor Core GPU datasheet"),
    _binary("L40S-48GB", 48, "48GB GDDR6 with ECC", "NVIDIA L40S datasheet", ("L40S",)),
    _binary("L4-24GB", 24, "24GB GDDR6", "NVIDIA L4 Tensor Core GPU datasheet", ("L4",)),
    _binary("A10-24GB", 24, "24GB GDDR6", "NVIDIA A10 Tensor Core GPU datasheet", ("A10",)),
    _binary("A6000-48GB", 48, "48GB GDDR6", "NVIDIA RTX A6000 datasheet", ("RTX-A6000",)),
    _binary("RTX5090-32GB", 32, "32GB GDDR7", "NVIDIA GeForce RTX 5090 specifications", ("RTX5090",)),
    _binary("RTX4090-24GB", 24, "24GB GDDR6X", "NVIDIA GeForce RTX 4090 specifications", ("RTX4090",)),
    _binary("RTX3090-24GB", 24, "24GB GDDR6X", "NVIDIA GeForce RTX 3090 specifications", ("RTX3090",)),
    _binary("T4-16GB", 16, "16GB GDDR6", "NVIDIA T4 Tensor Core GPU datasheet", ("T4",)),
    _binary("V100-16GB", 16, "16GB HBM2", "NVIDIA Tesla V100 datasheet"),
    _binary("V100-32GB", 32, "32GB HBM2", "NVIDIA Tesla V100 datasheet"),
    _binary("MI300X-192GB", 192, "192GB HBM3", "AMD Instinct MI300X data sheet", ("MI300X",)),
    _binary("MI250X-128GB", 128, "128GB HBM2e", "AMD Instinct MI250X data sheet", ("MI250X",)),
    _binary("TPUv5e-16GB", 16, "16 GB HBM2 per chip", "Google Cloud TPU v5e documentation", ("TPU-v5e", "v5e")),
    _binary("TPUv4-32GB", 32, "32 GB HBM2 per chip", "Google Cloud TPU v4 documentation", ("TPU-v4", "v4")),
)
"""Common accelerators and their memory as sold."""


def _key(name: str) -> str:
    return "".join(character for character in name.lower() if character.isalnum())


_BY_KEY: Final = {_key(key): entry for entry in ACCELERATORS for key in (entry.name, *entry.aliases)}


def accelerator(name: str) -> Accelerator | None:
    """The accelerator called ``name`` (case, spaces and dashes ignored; ``H100`` is the 80 GB part), or None."""
    return _BY_KEY.get(_key(name))
