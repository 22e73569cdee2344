"""recurrent family of the catalog."""
