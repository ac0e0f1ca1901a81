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


class ProtocolError(EvalToolkitError):
    """An evaluation protocol (YAML) is invalid.

    ``problems`` lists every problem found as ``(path, message)`` pairs, e.g.
    ``("design.transition", "must be ≥ 0 (got -1)")``; ``source`` is the protocol file, if any.
    The message lists them all, one per line.
    """

    def __init__(
        self, message: str, problems: list[tuple[str, str]] | None = None, source: object = None
    ) -> None:
        super().__init__(message)
        self.problems = list(problems or [])
        self.source = source


__all__ += ["ProtocolError"]


class MissingInputError(EvalToolkitError, FileNotFoundError):
    """A file or folder the toolkit was asked to read does not exist, or holds no file it recognises.

    Both an :class:`EvalToolkitError` and a ``FileNotFoundError``, so code catching either keeps working.
    """


__all__ += ["MissingInputError"]


class SPCInputError(EvalToolkitError):
    """Input to an SPC chart (:mod:`evaltoolkit.spc`) is unusable: a missing column, missing or duplicated
    periods, non-numeric values, an impossible denominator, or rebase dates outside the series."""


__all__ += ["SPCInputError"]


class EconomicsInputError(EvalToolkitError):
    """A cost input is unusable: an unknown unit-cost key or price year, an unverified figure used without
    ``allow_unverified=True``, a price year outside the inflation index, or draws that cannot be costed."""


__all__ += ["EconomicsInputError"]
