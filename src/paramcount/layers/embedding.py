"""embedding family of the catalog."""
