"""multimodal: Hugging Face model families."""
