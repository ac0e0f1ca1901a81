"""Periods (months, weeks, quarters, years) as integer indices, in Python and as Ibis expressions.

Every period has an integer index ``p``. Calendar arithmetic is done on these integers, never on float days,
so the same expression gives identical results on DuckDB and PySpark:

* month-based frequencies use the month index ``m = 12 * year + (month - 1)``; a period of ``step`` months
  anchored at month offset ``anchor`` has index ``p = (m - anchor) // step`` and starts at month index
  ``p * step + anchor``;
* ``W-MON`` uses ``p = (date - 1970-01-05) // 7`` in days (1970-01-05 was a Monday).

A window is half-open, ``[start, end)``; its periods are those whose start lies in
``[period_floor(start), end)``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from evaltoolkit.data.parse import OFFSET_PATTERN, parse_date
from evaltoolkit.errors import SeriesInputError

__all__ = [
    "Freq",
    "Window",
    "coerce_date",
    "epoch_day_expr",
    "month_index_expr",
    "month_start",
    "parse_freq",
    "resolve_window",
]

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_EPOCH = dt.date(1970, 1, 1)
_MONDAY = dt.date(1970, 1, 5)
ONE_DAY = dt.timedelta(days=1)

SUPPORTED_FREQS = (
    "'MS' (calendar months), 'W-MON' (weeks starting Monday), 'QS' (calendar quarters), 'YS' (calendar "
    "years), or 'QS-<MON>' / 'YS-<MON>' for quarters or years starting in another month (e.g. 'YS-APR' for "
    "UK financial years, 'YS-JUL' for Australian ones)"
)


@dataclass(frozen=True)
class Freq:
    """A supported period frequency.

    Attributes
    ----------
    code : str
        The pandas-style code, e.g. ``"MS"``.
    step : int
        Months per period (1, 3 or 12); 0 for weeks.
    anchor : int
        Month offset (0–11, modulo ``step``) at which periods start; 0 for calendar periods.
    """

    code: str
    step: int
    anchor: int = 0

    @property
    def weekly(self) -> bool:
        """True for ``W-MON``."""
        return self.step == 0

    # -- Python side ---------------------------------------------------------------------------------
    def index_of(self, day: dt.date) -> int:
        """Index of the period containing ``day``."""
        if self.weekly:
            return (day - _MONDAY).days // 7
        return (12 * day.year + day.month - 1 - self.anchor) // self.step

    def start_of(self, index: int) -> dt.date:
        """First day of period ``index``."""
        if self.weekly:
            return _MONDAY + dt.timedelta(days=7 * index)
        return month_start(index * self.step + self.anchor)

    def floor(self, day: dt.date) -> dt.date:
        """First day of the period containing ``day``."""
        return self.start_of(self.index_of(day))

    # -- Ibis side -----------------------------------------------------------------------------------
    def index_expr(self, day: ir.DateValue) -> ir.IntegerValue:
        """Ibis expression for the index of the period containing the date expression ``day``."""
        if self.weekly:
            return (day.delta(ibis.literal(_MONDAY, type="date"), unit="day") // 7).cast("int64")
        return self.index_of_month_expr(month_index_expr(day))

    def index_of_month_expr(self, month: ir.IntegerValue) -> ir.IntegerValue:
        """Ibis expression: index of the period containing month index ``month`` (month-based only)."""
        if self.step == 1 and self.anchor == 0:
            return month
        return ((month - self.anchor) // self.step).cast("int64")

    def last_month_of(self, index: int) -> int:
        """Month index of the last month of period ``index`` (month-based only)."""
        return (index + 1) * self.step + self.anchor - 1


def month_index_expr(day: ir.DateValue) -> ir.IntegerValue:
    """Ibis expression: month index ``12 * year + month - 1`` of a date expression."""
    return day.year().cast("int64") * 12 + day.month().cast("int64") - 1


def month_start(month: int) -> dt.date:
    """First day of month index ``month``."""
    return dt.date(month // 12, month % 12 + 1, 1)


def parse_freq(freq: str) -> Freq:
    """Return the :class:`Freq` for a pandas-style code, or raise ``ValueError`` listing the supported ones.

    Examples
    --------
    >>> parse_freq("YS-APR")
    Freq(code='YS-APR', step=12, anchor=3)
    """
    if not isinstance(freq, str):
        raise SeriesInputError(f"freq must be a string; supported: {SUPPORTED_FREQS}")
    code = freq.strip().upper()
    if code == "MS":
        return Freq("MS", 1)
    if code == "W-MON":
        return Freq("W-MON", 0)
    head, _, month = code.partition("-")
    if head in ("QS", "YS") and (not month or month in _MONTHS):
        step = 3 if head == "QS" else 12
        anchor = (_MONTHS.index(month) if month else 0) % step
        return Freq(code, step, anchor)
    raise SeriesInputError(f"freq {freq!r} is not supported; use {SUPPORTED_FREQS}")


def coerce_date(value: object, name: str) -> dt.date:
    """Convert a date-like argument (str, date, datetime, Timestamp, numpy datetime64) to ``datetime.date``.

    Raises :class:`~evaltoolkit.errors.SeriesInputError` (a ``ValueError``) for missing values,
    time-zone-aware values and values with a time of day other than midnight (windows are whole days).
    Text must be ISO 8601 (``"2024-04-01"``): text such as ``"01/04/2024"`` is refused with its two
    readings, never guessed (:func:`evaltoolkit.data.parse_date`), as are numbers and text with a
    time-zone offset.
    """
    if isinstance(value, str | int | float | np.number) and not isinstance(value, bool | np.bool_):
        if isinstance(value, str) and re.search(OFFSET_PATTERN, value.strip()):
            raise SeriesInputError(f"{name}={value!r} has a time-zone offset; give a local calendar date")
        value = parse_date(value, what=name, error=SeriesInputError)
    if value is None or (not isinstance(value, str | dt.date) and pd.isna(value)):  # type: ignore[arg-type]
        raise SeriesInputError(f"{name} must be a date, not {value!r}")
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise SeriesInputError(f"{name}={value!r} is not a date (use ISO 8601, e.g. '2024-04-01')") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise SeriesInputError(f"{name} must be a date, not {value!r}")
    if ts.tzinfo is not None:
        raise SeriesInputError(f"{name}={value!r} is time-zone aware; give a local calendar date")
    if ts != ts.normalize():
        raise SeriesInputError(f"{name}={value!r} has a time of day; windows are whole days, give a date")
    return ts.date()


def epoch_day(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


def epoch_day_expr(day: ir.DateValue) -> ir.IntegerValue:
    """Ibis expression: days since 1970-01-01 of a date expression."""
    return day.delta(ibis.literal(_EPOCH, type="date"), unit="day").cast("int64")


@dataclass(frozen=True)
class Window:
    """A half-open window ``[start, end)`` and its periods ``first <= p < stop``."""

    freq: Freq
    start: dt.date
    end: dt.date
    first: int
    stop: int

    @property
    def indices(self) -> range:
        """Period indices in the window."""
        return range(self.first, self.stop)

    def period_starts(self) -> pd.Series:
        """Start of every period in the window, as ``datetime64[us]`` Timestamps."""
        days = [self.freq.start_of(p) for p in self.indices]
        return pd.Series(np.array(days, dtype="datetime64[D]").astype("datetime64[us]"))

    def calendar(self) -> ir.Table:
        """Memtable of the periods: ``_et_p``, ``_et_ps`` (start), ``_et_pe`` (next start); epoch days."""
        starts = [epoch_day(self.freq.start_of(p)) for p in range(self.first, self.stop + 1)]
        return ibis.memtable(
            pa.table(
                {
                    "_et_p": pa.array(list(self.indices), pa.int64()),
                    "_et_ps": pa.array(starts[:-1], pa.int64()),
                    "_et_pe": pa.array(starts[1:], pa.int64()),
                }
            )
        )


def resolve_window(
    freq: Freq,
    start: object | None,
    end: object | None,
    *,
    data_first: dt.date | None,
    data_last: dt.date | None,
) -> Window:
    """Build the window from the caller's ``start``/``end`` or, where missing, from the data.

    Defaults: ``start`` = first day of the period of ``data_first``; ``end`` = first day of the period
    after the one containing ``data_last``.
    """
    if start is None:
        if data_first is None:
            raise SeriesInputError("there are no dates to infer the window from; pass start= and end=")
        start_d = freq.floor(data_first)
    else:
        start_d = coerce_date(start, "start")
    if end is None:
        if data_last is None:
            raise SeriesInputError("there are no dates to infer the window from; pass start= and end=")
        end_d = freq.start_of(freq.index_of(max(data_last, start_d)) + 1)
    else:
        end_d = coerce_date(end, "end")
    if end_d <= start_d:
        raise SeriesInputError(f"the window is empty: end ({end_d}) must be after start ({start_d})")
    first = freq.index_of(start_d)
    stop = freq.index_of(end_d - ONE_DAY) + 1
    return Window(freq, start_d, end_d, first, stop)
