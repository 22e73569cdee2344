"""attention family of the catalog."""
