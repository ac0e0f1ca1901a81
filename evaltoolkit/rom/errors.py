"""Exceptions raised by :mod:`evaltoolkit.rom`.

Both subclass :class:`evaltoolkit.errors.EvalToolkitError` (a ``ValueError``), so callers can catch every
toolkit input error at once.
"""

from __future__ import annotations

from evaltoolkit.errors import EvalToolkitError

__all__ = ["InstrumentDefinitionError", "RomInputError"]


class RomInputError(EvalToolkitError):
    """Responses or scores are unusable: missing columns, non-numeric or out-of-range values, bad options."""


class InstrumentDefinitionError(EvalToolkitError):
    """An instrument definition (YAML file or dictionary) is invalid or clashes with the registry."""
