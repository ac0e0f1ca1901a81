"""Validate an extract: every problem at once, in one table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from evaltoolkit.data._common import ROWS_NOTE, parse_sites, parse_window
from evaltoolkit.data.parse import DateFormat
from evaltoolkit.data.quality import problem_table
from evaltoolkit.data.rules import Context, PipelineResult, run_pipeline
from evaltoolkit.errors import ExtractValidationError

__all__ = ["check_extract", "validate_extract"]


class _FrameTypeError(ExtractValidationError, TypeError):
    """Not a DataFrame (a toolkit error that is also a TypeError, as before)."""


def _context(
    sites: Any,
    window: Any,
    max_open_days: float | None,
    on_invalid: str,
    *,
    date_format: DateFormat = None,
    timezone: str | None = None,
) -> Context:
    if on_invalid not in ("raise", "exclude"):
        raise ExtractValidationError(f"on_invalid must be 'raise' or 'exclude', got {on_invalid!r}")
    if max_open_days is not None:
        if (
            isinstance(max_open_days, bool)
            or not isinstance(max_open_days, int | float)
            or not max_open_days > 0
        ):
            raise ExtractValidationError(
                f"max_open_days must be a positive number of days or None, got {max_open_days!r}"
            )
        max_open_days = float(max_open_days)
    return Context(
        sites=parse_sites(sites),
        window=parse_window(window),
        max_open_days=max_open_days,
        on_invalid=on_invalid,  # type: ignore[arg-type]
        date_format=date_format,
        timezone=timezone,
    )


def _run(df: pd.DataFrame, kind: str, ctx: Context) -> PipelineResult:
    if not isinstance(df, pd.DataFrame):
        raise _FrameTypeError(
            f"expected a pandas DataFrame, got {type(df).__name__}; use read_extract for files"
        )
    return run_pipeline(df, kind, ctx)


def error_message(kind: str, result: PipelineResult, problems: pd.DataFrame) -> str:
    """Readable message listing every error-severity problem (rule, column, count, first rows)."""
    errors = result.errors
    lines = [
        f"{kind} extract has {len(errors)} problem(s) to fix before it can be cleaned ({ROWS_NOTE}):",
    ]
    for f in errors:
        where = f"column {f.column!r}"
        if f.rule != "missing_column":
            where += f", rows {f.rows}"
        lines.append(f"  - {f.rule} ({where}): {f.message}")
    fixable = problems[problems["severity"] == "fixable"]
    if len(fixable):
        listed = ", ".join(f"{r.rule} ({r.n_rows})" for r in fixable.itertuples())
        lines.append(f"Fixable defects, handled by clean_extract: {listed}.")
    row_level = [f for f in errors if f.rule != "missing_column"]
    advice = "Fix the source data or the column mapping"
    if row_level:
        advice += (
            ", or pass on_invalid='exclude' to clean_extract to exclude the invalid rows and count them in "
            "the data-quality table"
        )
    lines.append(advice + ". The full problem table is in the exception's .problems attribute.")
    return "\n".join(lines)


def validate_extract(
    df: pd.DataFrame,
    kind: str,
    *,
    sites: Iterable[Any] | pd.DataFrame | None = None,
    window: tuple[Any, Any] | None = None,
    max_open_days: float | None = None,
    raise_on_error: bool = False,
    date_format: DateFormat = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """List every problem in an extract: errors and fixable defects, all at once.

    Parameters
    ----------
    df : pandas.DataFrame
        An extract with canonical column names: the output of :func:`~evaltoolkit.data.read_extract`,
        or a frame of raw values (parsed here). Not modified.
    kind : str
        Extract kind (see :mod:`evaltoolkit.schemas`).
    sites : iterable of str or pandas.DataFrame, optional
        Known site codes (or a sites table with a ``site`` column); enables ``unknown_site``.
    window : tuple, optional
        ``(start, extract_date)``, a half-open window; enables ``outside_window`` and
        ``discharge_after_extract`` (and, with ``max_open_days``, ``stale_open_spell``).
    max_open_days : float, optional
        Enables ``stale_open_spell`` for spells.
    raise_on_error : bool, default False
        Raise :class:`~evaltoolkit.errors.ExtractValidationError` if there is any error-severity problem.
    date_format : str or mapping, optional
        Layout of date text in a frame of raw values (one for every date column, or ``{column: layout}``;
        ``"excel"`` for serial day numbers); default ISO 8601. Day/month order is never guessed: see
        :mod:`evaltoolkit.data.parse`.
    timezone : str, optional
        Zone that values with a time-zone offset are converted to (e.g. ``"Europe/London"``); without
        it they are reported as unparseable.

    Returns
    -------
    pandas.DataFrame
        One row per problem found, errors first: ``rule``, ``column``, ``severity`` (``"error"`` or
        ``"fixable"``), ``n_rows``, ``rows`` (first five spreadsheet row numbers: header = row 1, first
        data row = row 2), ``message``. Empty if nothing was found. Fixable counts are those
        :func:`~evaltoolkit.data.clean_extract` would report with ``on_invalid="exclude"``.

    Examples
    --------
    >>> raw = pd.DataFrame({"site": ["A", "A", "B"], "period": ["2023-01-01", "2023-01-15", "2023-01-01"],
    ...                     "population": ["1000", "1000", "-5"]})
    >>> validate_extract(raw, "population")[["rule", "column", "n_rows", "rows"]]
                          rule      column  n_rows rows
    0  non_positive_population  population       1    4
    1   period_not_month_start      period       1    3
    """
    ctx = _context(sites, window, max_open_days, "exclude", date_format=date_format, timezone=timezone)
    result = _run(df, kind, ctx)
    problems = problem_table(result.findings)
    if raise_on_error and result.errors:
        raise ExtractValidationError(error_message(kind, result, problems), problems)
    return problems


def check_extract(
    df: pd.DataFrame,
    kind: str,
    *,
    sites: Iterable[Any] | pd.DataFrame | None = None,
    window: tuple[Any, Any] | None = None,
    max_open_days: float | None = None,
    date_format: DateFormat = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """Like :func:`validate_extract` with ``raise_on_error=True``: raise on errors, else return the table.

    Raises
    ------
    ExtractValidationError
        Listing every error-severity problem (rule, column, count, first rows); ``.problems`` holds
        the full problem table.

    Examples
    --------
    >>> raw = pd.DataFrame({"site": ["A", None], "period": ["2023-01-01", "2023-01-01"],
    ...                     "population": ["many", "20"]})
    >>> try:
    ...     check_extract(raw, "population")
    ... except ValueError as err:
    ...     print(err.problems[["rule", "column", "n_rows", "rows"]])
                rule      column  n_rows rows
    0    unparseable  population       1    2
    1  missing_value        site       1    3
    """
    return validate_extract(
        df,
        kind,
        sites=sites,
        window=window,
        max_open_days=max_open_days,
        raise_on_error=True,
        date_format=date_format,
        timezone=timezone,
    )
