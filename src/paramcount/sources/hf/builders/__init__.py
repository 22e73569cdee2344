"""One module per model family; importing this package registers every builder."""

from paramcount.sources.hf.builders import (  # noqa: F401
    audio,
    decoders,
    deepseek,
    encoder_decoders,
    encoders,
    gemma3,
    gpt,
    hybrids,
    llama4,
    modern_encoders,
    multimodal,
    qwen_vl,
    siglip2,
    state_space,
    vision,
    vision_language,
)
