"""gpt: Hugging Face model families."""
