"""Exceptions shared by the torch conversion modules (kept apart so that neither imports
the other for them)."""

from __future__ import annotations

__all__ = ["UnsupportedOperation"]


class UnsupportedOperation(TypeError):
    """A traced module or function that has no prpkit equivalent."""
