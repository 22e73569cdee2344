"""One module per architecture family; importing this package registers every zoo model."""

from paramcount.zoo.models import (  # noqa: F401
    classic,
    compact,
    densenets,
    inceptions,
    maxvit,
    mobile,
    regnets,
    resnets,
    vision_transformers,
)
