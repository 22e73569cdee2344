"""transformer family of the catalog."""
