"""decoders: Hugging Face model families."""
