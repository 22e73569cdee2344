"""One module per model family; importing this package registers every builder."""

from paramcount.sources.hf.builders import (  # noqa: F401
    decoders,
    deepseek,
    encoder_decoders,
    encoders,
    gemma3,
    gpt,
    llama4,
    multimodal,
    qwen_vl,
    state_space,
    vision,
    vision_language,
)
