"""Exceptions raised by :mod:`evaltoolkit.prepost`.

:class:`PrePostInputError` subclasses :class:`evaltoolkit.errors.EvalToolkitError` (itself a
``ValueError``), so callers can catch every toolkit input error at once.
"""

from __future__ import annotations

from evaltoolkit.errors import EvalToolkitError

__all__ = ["PrePostInputError"]


class PrePostInputError(EvalToolkitError):
    """Input to a before/after analysis is unusable (columns, duplicates, too few subjects, options)."""
