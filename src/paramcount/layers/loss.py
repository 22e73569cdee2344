"""loss family of the catalog."""
