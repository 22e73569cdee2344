"""One module per architecture family; importing this package registers every zoo model."""

from paramcount.zoo.models import classic, densenets, mobile, resnets, vision_transformers  # noqa: F401
