"""Renderers: pure functions of a Report. They format only: no tree walking, no arithmetic."""
