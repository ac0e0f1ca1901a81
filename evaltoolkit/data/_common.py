"""Shared helpers for :mod:`evaltoolkit.data`: row numbers, windows, site lists.

Row numbers
-----------
Every row number the data module reports is a *spreadsheet row number*: the
header is row 1, so the first data row is row 2. For CSV and Excel files this
is the line / row the user sees when opening the file (blank lines are
counted, so numbers stay aligned with the file). For a DataFrame or a Parquet
file, row 2 is the first row (position 0), as if the frame were saved to a
spreadsheet. :func:`~evaltoolkit.data.read_extract` stores the numbers in the
column :data:`ROW_COLUMN` (``source_row``) so they survive filtering and
cleaning.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.errors import ExtractValidationError

__all__ = [
    "FLAG_PREFIX",
    "ROW_COLUMN",
    "UNPARSEABLE_COLUMN",
    "format_rows",
    "parse_sites",
    "parse_window",
    "row_numbers",
]

ROW_COLUMN = "source_row"
"""Column holding spreadsheet row numbers (header = row 1, first data row = row 2)."""

UNPARSEABLE_COLUMN = "source_unparseable"
"""Column added by :func:`~evaltoolkit.data.read_extract` when some values could not be parsed: for
those rows, a JSON object ``{column: original text}``; missing elsewhere. Being a column, it survives
filtering and concatenation, so validation can still report the values (and cleaning drops it)."""

FLAG_PREFIX = "dq_"
"""Prefix of the boolean data-quality flag columns added by :func:`~evaltoolkit.data.clean_extract`."""

FIRST_DATA_ROW = 2
MAX_LISTED_ROWS = 5
ROWS_NOTE = (
    "row numbers are spreadsheet rows: the header is row 1, the first data row is row 2 (for a DataFrame, "
    "position 0)"
)


def row_numbers(df: pd.DataFrame) -> np.ndarray:
    """Return spreadsheet row numbers for ``df`` (from ``source_row`` if present).

    Examples
    --------
    >>> row_numbers(pd.DataFrame({"a": [10, 20, 30]})).tolist()
    [2, 3, 4]
    """
    if ROW_COLUMN in df.columns:
        rows = pd.to_numeric(df[ROW_COLUMN], errors="coerce")
        if rows.notna().all():
            return rows.to_numpy(dtype="int64")
    return np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(df), dtype="int64")


def format_rows(rows: Iterable[int] | np.ndarray, limit: int = MAX_LISTED_ROWS) -> str:
    """Format the first ``limit`` row numbers (ascending) as ``"2, 5, 9"``; ``" ..."`` marks more.

    Examples
    --------
    >>> format_rows([9, 2, 5])
    '2, 5, 9'
    >>> format_rows(range(2, 20))
    '2, 3, 4, 5, 6, ...'
    """
    arr = np.sort(np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype="int64"))
    text = ", ".join(str(int(r)) for r in arr[:limit])
    return text + (", ..." if len(arr) > limit else "")


def _timestamp(value: Any, what: str) -> pd.Timestamp:
    from evaltoolkit.data.parse import parse_date

    return parse_date(value, what=what, error=ExtractValidationError)


def parse_window(window: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Parse ``window=(start, extract_date)`` into two Timestamps (half-open: start <= t < extract_date).

    Dates given as text must be ISO 8601 (``"2024-01-01"``): text such as ``"01/04/2021"`` is refused
    with both readings, never guessed (see :func:`~evaltoolkit.data.parse_date`).

    Raises
    ------
    ExtractValidationError
        If ``window`` is not a pair, a date cannot be read, or start is not before the extract date.

    Examples
    --------
    >>> parse_window(("2020-01-01", "2024-01-01"))
    (Timestamp('2020-01-01 00:00:00'), Timestamp('2024-01-01 00:00:00'))
    >>> parse_window(None) is None
    True
    """
    if window is None:
        return None
    if isinstance(window, str) or not isinstance(window, Iterable):
        raise ExtractValidationError(f"window must be a pair (start, extract_date), got {window!r}")
    parts = list(window)
    if len(parts) != 2:
        raise ExtractValidationError(
            f"window must be a pair (start, extract_date), got {len(parts)} values: {window!r}"
        )
    start = _timestamp(parts[0], "window start")
    end = _timestamp(parts[1], "window end (extract date)")
    if not start < end:
        raise ExtractValidationError(
            f"window start {start.date()} must be before the extract date {end.date()}"
        )
    return start, end


def parse_sites(sites: Any) -> frozenset[str] | None:
    """Normalise ``sites`` (codes, or a DataFrame with a ``site`` column) to a set of strings.

    Examples
    --------
    >>> sorted(parse_sites(["A", " B ", 3]))
    ['3', 'A', 'B']
    """
    if sites is None:
        return None
    if isinstance(sites, pd.DataFrame):
        if "site" not in sites.columns:
            raise ExtractValidationError(f"sites table needs a 'site' column; it has {list(sites.columns)}")
        sites = sites["site"]
    if isinstance(sites, str):
        sites = [sites]
    values = pd.Series(list(sites), dtype=object).dropna()
    codes = frozenset(_code_text(v) for v in values)
    codes = frozenset(c for c in codes if c)
    if not codes:
        raise ExtractValidationError(
            "sites is empty; pass the site codes to keep, or sites=None to skip the check"
        )
    return codes


def _code_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
