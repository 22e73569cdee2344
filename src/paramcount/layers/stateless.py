"""stateless family of the catalog."""
