"""activation family of the catalog."""
