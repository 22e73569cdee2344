"""Analyses: pure functions of a tree that return plain data. Nothing here formats text."""
