"""conv family of the catalog."""
