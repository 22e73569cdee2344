"""containers family of the catalog."""
