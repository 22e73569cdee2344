"""Doors that read models from files: Hugging Face configs (and later checkpoint headers)."""
