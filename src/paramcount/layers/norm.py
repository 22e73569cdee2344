"""norm family of the catalog."""
