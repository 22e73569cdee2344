"""One module per model family; importing this package registers every builder."""

from paramcount.sources.hf.builders import decoders, encoders, gpt, multimodal  # noqa: F401
