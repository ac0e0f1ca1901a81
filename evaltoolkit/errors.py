"""Exceptions raised by evaltoolkit. All are ``ValueError`` subclasses so callers can catch broadly."""

from __future__ import annotations

__all__ = ["EvalToolkitError", "ExtractValidationError", "SeriesInputError"]


class EvalToolkitError(ValueError):
    """Base class for evaltoolkit input errors."""


class ExtractValidationError(EvalToolkitError):
    """An extract failed validation.

    ``problems`` holds the full problem table (columns ``rule``, ``column``,
    ``n_rows``, ``rows``, ``message``) so callers can inspect every problem,
    not only the first.
    """

    def __init__(self, message: str, problems: object = None) -> None:
        super().__init__(message)
        self.problems = problems


class SeriesInputError(EvalToolkitError):
    """Input to a series builder is unusable (missing column, unparseable or missing dates)."""


class ColumnMappingError(EvalToolkitError):
    """A column mapping (user name → canonical name) names missing columns, unknown targets or clashes."""


__all__ += ["ColumnMappingError"]
