"""encoders: Hugging Face model families."""
