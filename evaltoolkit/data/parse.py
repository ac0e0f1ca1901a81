"""Parse extract columns to their schema types without raising; dates are never guessed.

Unparseable values become missing in the parsed column and are reported back
as a boolean mask, so validation can list them (column, rows, examples)
instead of pandas raising a traceback half-way through.

Parsed types
------------
===========  =====================================================================
schema type  pandas dtype and accepted input
===========  =====================================================================
string       ``str``; surrounding spaces stripped, empty text is missing;
             whole numbers (e.g. ids stored as numbers) written without ``.0``
datetime     ``datetime64[us]``; see *Dates* below
date         ``datetime64[us]`` at midnight (time of day dropped)
integer      ``Int64``; whole numbers only, at most 10^12 in size
number       ``float64``
boolean      ``boolean``; Y/N, yes/no, true/false, t/f, 1/0 (any case)
category     ``str``; matched to the allowed values ignoring case and spaces
             (``f`` becomes ``F``). Values outside the allowed set are kept as
             text and reported by validation.
===========  =====================================================================

Dates
-----
Dates are read by one rule for the whole column, never guessed row by row:

* **Layout.** ``date_format`` is ISO 8601 by default (``2023-01-31``,
  ``2023-01-31 14:05``, ``2023-01-31T14:05:00``; year first, so never
  ambiguous). Any other layout must be stated as a ``strftime`` layout, e.g.
  ``"%d/%m/%Y"`` or ``"%d/%m/%Y %H:%M"`` (protocol key
  ``data.sources.<kind>.date_format``, CLI option ``--date-format`` of
  ``evaltoolkit validate`` and ``series``, Python keyword ``date_format=``;
  per column as a mapping such as
  ``{"arrival": "%d/%m/%Y %H:%M"}``). ``"excel"`` reads Excel serial day
  numbers (1900 date system: 44927 is 2023-01-01, the fraction of a day is the
  time, so 44927.5 is 12:00; serials below 61, i.e. before 1 March 1900, are
  refused because of Excel's phantom 29 February 1900).
* **No day/month guessing.** Text such as ``03/04/2023`` with no stated
  layout is not parsed: it could be 3 April 2023 or 4 March 2023. Validation
  reports the column, an example row, both readings and how to state the
  layout.
* **One layout per column.** Rows that do not match the column's layout (e.g.
  120 ISO dates in a dd/mm/yyyy column) are not read by a second rule; they
  are reported as unparseable with their count and an example.
* **Native date-times** (Excel cells, Parquet columns, ``datetime`` objects)
  are used as they are, whatever the layout. Numbers are never dates unless the
  layout is ``"excel"``.
* **Time zones.** Values with an offset (``2023-03-26T01:30:00+01:00``,
  ``...Z``) and time-zone-aware columns are converted to the one zone stated
  with ``timezone=`` (protocol key ``data.sources.<kind>.timezone``, CLI option
  ``--timezone``, e.g. ``"Europe/London"``) and the zone is then dropped, so
  periods are assigned on that zone's wall clock; values without an offset are
  taken to be in that zone already. With no ``timezone`` they are refused
  (reported as unparseable, with the fix), never silently stripped.

Single dates given as text (windows, go-live dates, the CLI's ``--start``)
follow the same rules: see :func:`~evaltoolkit.data.parse_date`.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from evaltoolkit.errors import ColumnMappingError, EvalToolkitError, ExtractValidationError
from evaltoolkit.schemas import Column, ExtractSchema

__all__ = [
    "DATE_FORMAT_KEY",
    "DATE_FORMAT_OPTION",
    "TIMEZONE_KEY",
    "TIMEZONE_OPTION",
    "ParsedColumn",
    "check_date_text",
    "column_date_formats",
    "column_types",
    "date_problem",
    "describe_date_text",
    "parse_column",
    "parse_date",
    "parse_frame",
    "strict_dates",
]

DATE_FORMAT_OPTION = "--date-format"
"""CLI option (``evaltoolkit validate``, ``series``) stating the layout of date text (named in messages)."""
TIMEZONE_OPTION = "--timezone"
"""CLI option stating the zone that time-zone offsets are converted to (named in messages)."""
DATE_FORMAT_KEY = "data.sources.{kind}.date_format"
"""Protocol key stating the layout of date text (named in messages)."""
TIMEZONE_KEY = "data.sources.{kind}.timezone"
"""Protocol key stating the zone that offsets are converted to (named in messages)."""

TYPE_WORDS: dict[str, str] = {
    "string": "text",
    "datetime": "date-times (ISO 8601, e.g. 2023-01-31 14:05)",
    "date": "dates (ISO 8601, e.g. 2023-01-31)",
    "integer": "whole numbers",
    "number": "numbers",
    "boolean": "yes/no values (Y/N, yes/no, true/false, 1/0)",
    "category": "text",
}

INTEGER_LIMIT = 10**12
"""Largest size of a whole number read into an integer column; larger values are reported unparseable."""

_TRUE = ("y", "yes", "true", "t", "1", "1.0")
_FALSE = ("n", "no", "false", "f", "0", "0.0")
_BOOL_MAP = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


@dataclass(frozen=True)
class ParsedColumn:
    """A parsed column: ``values`` (typed) and ``bad`` (True where a present value could not be parsed)."""

    values: pd.Series
    bad: pd.Series
    n_tz_converted: int = 0
    """Values whose time-zone offset was converted to the stated ``timezone`` (then dropped)."""


def _is_text(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.StringDtype)


def _strip(s: pd.Series) -> pd.Series:
    """Strip surrounding spaces from text values (other values unchanged); blank text becomes missing."""
    if _is_text(s):
        out = s.str.strip()
        return out.where(out.ne("") & out.notna())
    if s.dtype == object:
        out = s.map(lambda v: v.strip() if isinstance(v, str) else v, na_action="ignore")
        return out.where(out.ne("") & out.notna())
    return s


def _present(s: pd.Series) -> pd.Series:
    """True where the raw value is not missing and not blank text."""
    return _strip(s).notna().astype(bool)


def _as_text(s: pd.Series) -> pd.Series:
    """Raw values as stripped text (missing stays missing); whole floats lose their ``.0``."""
    if ptypes.is_bool_dtype(s.dtype):
        out = (
            s.astype("object").where(s.notna()).map(lambda v: str(v) if isinstance(v, bool | np.bool_) else v)
        )
        return out.astype("str")
    if ptypes.is_float_dtype(s.dtype):
        finite = s.dropna()
        if len(finite) and np.all(np.isfinite(finite)) and np.all(np.mod(finite, 1) == 0):
            return s.astype("Int64").astype("str")
        return s.astype("str")
    if ptypes.is_numeric_dtype(s.dtype) or ptypes.is_datetime64_any_dtype(s.dtype):
        return s.astype("str").where(s.notna())
    if s.dtype == object:
        # Mixed cells (Excel): render whole floats as integers before converting to text.
        def _one(v: object) -> object:
            if isinstance(v, float) and np.isfinite(v) and v.is_integer():
                return str(int(v))
            return v

        s = s.map(_one, na_action="ignore")
    return _strip(s.astype("str"))


# ---------------------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------------------

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
"""Day 0 of Excel's 1900 date system as used from serial 61 (1 March 1900) on."""
EXCEL_FIRST_SERIAL = 61
EXCEL_LAST_SERIAL = 2958465  # 9999-12-31

OFFSET_PATTERN = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
"""Text ending in a time and a time-zone offset (``10:00+01:00``, ``10:00Z``)."""
_OFFSET = re.compile(OFFSET_PATTERN)
_DAY_MONTH = re.compile(
    r"^\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _check_format(date_format: Any, where: str = "date_format") -> str | None:
    """Validate a layout: None/"ISO8601", "excel" or a strftime layout containing ``%``."""
    if date_format is None:
        return None
    if not isinstance(date_format, str) or not date_format.strip():
        raise EvalToolkitError(
            f"{where} must be a strftime layout such as '%d/%m/%Y', 'ISO8601' or 'excel', got {date_format!r}"
        )
    text = date_format.strip()
    if text.upper() in ("ISO8601", "ISO 8601", "ISO"):
        return None
    if text.lower() == "excel":
        return "excel"
    if "%" not in text:
        suggestion = _layout_from_words(text)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        raise ExtractValidationError(
            f"{where} {date_format!r} is not a strftime layout (they use % codes: %d day, %m month, "
            f"%Y year, %H:%M time){hint} Other accepted values: 'ISO8601', 'excel'."
        )
    codes = re.findall(r"%(.?)", text)
    unknown = [f"%{c}" if c else "a lone % at the end" for c in codes if c not in _STRFTIME_CODES]
    if unknown:
        raise ExtractValidationError(
            f"{where} {date_format!r} is not a valid strftime layout: {', '.join(dict.fromkeys(unknown))} "
            "is not a date or time code (codes: %d day, %m month, %Y year, %y two-digit year, %b/%B month "
            "name, %H:%M:%S time, %I and %p 12-hour time, %z offset); e.g. '%d/%m/%Y' or '%d/%m/%Y %H:%M'. "
            "Other accepted values: 'ISO8601', 'excel'."
        )
    if not set(codes) & set(_DATE_CODES):
        raise ExtractValidationError(
            f"{where} {date_format!r} has no day, month or year code (%d, %m, %Y...), so it cannot read a "
            "date; e.g. '%d/%m/%Y' or '%d/%m/%Y %H:%M'"
        )
    return text


_STRFTIME_CODES = frozenset("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")
"""The ``strftime``/``strptime`` codes pandas reads (after ``%``)."""
_DATE_CODES = "bBcdjmxyYGuUVwW"
"""Codes that carry a date (not only a time of day)."""


def _layout_from_words(text: str) -> str | None:
    """'dd/mm/yyyy HH:MM' → '%d/%m/%Y %H:%M' (None when the words are not recognised)."""
    out = text
    for word, code in (
        ("yyyy", "%Y"),
        ("YYYY", "%Y"),
        ("yy", "%y"),
        ("YY", "%y"),
        ("dd", "%d"),
        ("DD", "%d"),
        ("hh", "%H"),
        ("HH", "%H"),
        ("ss", "%S"),
        ("SS", "%S"),
    ):
        out = out.replace(word, code)
    out = re.sub(r"(%H)([:.]?)(mm|MM)", r"\1\2%M", out)
    out = out.replace("mm", "%m").replace("MM", "%m")
    return out if out != text and "%" in out and not re.search(r"[A-Za-z](?<!%[dmyYHMS])", out) else None


def _check_timezone(timezone: Any, where: str = "timezone") -> str | None:
    if timezone is None:
        return None
    if not isinstance(timezone, str) or not timezone.strip():
        raise EvalToolkitError(f"{where} must be a time-zone name such as 'Europe/London', got {timezone!r}")
    name = timezone.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise EvalToolkitError(
            f"{where} {timezone!r} is not a known time-zone name; use an IANA name such as "
            "'Europe/London', 'Australia/Sydney' or 'UTC'"
        ) from exc
    return name


def _excel_serials(x: pd.Series) -> pd.Series:
    """Excel serial day numbers (floats) → naive timestamps, to the nearest second; out of range → NaT."""
    num = pd.to_numeric(x, errors="coerce").astype("float64")
    ok = (
        num.notna()
        & np.isfinite(num.fillna(0.0))
        & (num >= EXCEL_FIRST_SERIAL)
        & (num < EXCEL_LAST_SERIAL + 1)
    )
    seconds = (num.where(ok, 0.0) * 86400.0).round()
    out = EXCEL_EPOCH + pd.to_timedelta(seconds, unit="s")
    return out.where(ok).astype("datetime64[us]")


def _to_naive(values: pd.Series, timezone: str | None) -> tuple[pd.Series, pd.Series]:
    """Aware → naive in ``timezone`` (converted mask returned); with no zone every aware value is NaT."""
    if getattr(values.dt, "tz", None) is None:
        return values, pd.Series(False, index=values.index)
    present = values.notna()
    if timezone is None:
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]"), present.astype(bool)
    return values.dt.tz_convert(timezone).dt.tz_localize(None), present.astype(bool)


def _parse_text(text: pd.Series, fmt: str | None, timezone: str | None) -> tuple[pd.Series, int]:
    """Parse stripped text by one layout; returns naive values and the number of offsets converted."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    text = text.dropna().astype(str)
    if text.empty:
        return out, 0
    if fmt == "excel":
        numeric = text.str.fullmatch(r"[+-]?\d+(?:\.\d+)?")
        out.loc[text.index[numeric.to_numpy()]] = _excel_serials(text[numeric]).to_numpy()
        return out, 0
    layout = fmt or "ISO8601"
    aware = text.str.contains(_OFFSET) if layout == "ISO8601" or "%z" in layout else text.str.endswith("Z")
    naive_text = text[~aware]
    converted = 0
    if len(naive_text):
        values = _strict(naive_text, layout, utc=False)
        if getattr(values.dt, "tz", None) is not None:  # an offset the pattern missed
            values, mask = _to_naive(values, timezone)
            converted += int(mask.sum()) if timezone else 0
        out.loc[naive_text.index] = values.astype("datetime64[us]").to_numpy()
    aware_text = text[aware]
    if len(aware_text):
        values = _strict(aware_text, layout, utc=True)
        values, mask = _to_naive(values, timezone)
        converted += int((mask & values.notna()).sum()) if timezone else 0
        out.loc[aware_text.index] = values.astype("datetime64[us]").to_numpy()
    return out, converted


def _strict(text: pd.Series, layout: str, *, utc: bool) -> pd.Series:
    """``pd.to_datetime`` with one layout; values it cannot read are NaT (never another layout)."""
    try:
        return pd.to_datetime(text, format=layout, errors="coerce", utc=utc)
    except (ValueError, TypeError, OverflowError):
        # e.g. mixed offsets without utc=True: read distinct values one by one
        parsed: dict[str, Any] = {}
        for value in pd.unique(text):
            try:
                parsed[value] = pd.to_datetime(value, format=layout, utc=utc)
            except (ValueError, TypeError, OverflowError):
                parsed[value] = pd.NaT
        return pd.to_datetime(text.map(parsed), errors="coerce", utc=True if utc else None)


def _native(value: Any) -> bool:
    return isinstance(value, dt.date | pd.Timestamp | np.datetime64)


def _parse_native(values: pd.Series, timezone: str | None) -> tuple[pd.Series, int]:
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    converted = 0
    for label, value in values.items():
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            continue
        if ts is pd.NaT:
            continue
        if ts.tzinfo is not None:
            if timezone is None:
                continue
            ts = ts.tz_convert(timezone).tz_localize(None)
            converted += 1
        out.at[label] = ts
    return out, converted


def _parse_datetime(
    s: pd.Series, date_format: str | None, timezone: str | None = None
) -> tuple[pd.Series, int]:
    """Parse one column of date-times by one rule (see the module docstring); bad values become NaT."""
    empty = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    if ptypes.is_datetime64_any_dtype(s.dtype):
        values, mask = _to_naive(s, timezone)
        return values.astype("datetime64[us]"), int(mask.sum()) if timezone else 0
    if ptypes.is_bool_dtype(s.dtype):
        return empty, 0
    if ptypes.is_numeric_dtype(s.dtype):
        # Numbers are not dates unless the layout says Excel serials (anything else would be a guess).
        return (_excel_serials(s), 0) if date_format == "excel" else (empty, 0)
    raw = _strip(s)
    if _is_text(raw):
        return _parse_text(raw, date_format, timezone)
    present = raw.notna()
    cells = raw.astype(object)
    is_text = cells.map(lambda v: isinstance(v, str)).astype(bool) & present
    is_native = cells.map(_native).astype(bool) & present
    is_number = (
        cells.map(
            lambda v: isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        ).astype(bool)
        & present
    )
    out = empty.copy()
    converted = 0
    if is_text.any():
        values, n = _parse_text(raw[is_text], date_format, timezone)
        out.loc[values.index] = values.to_numpy()
        converted += n
    if is_native.any():
        values, n = _parse_native(raw[is_native], timezone)
        out.loc[values.index] = values.to_numpy()
        converted += n
    if is_number.any() and date_format == "excel":
        out.loc[is_number] = _excel_serials(raw[is_number].astype("float64")).to_numpy()
    return out, converted


def _day_month(text: str) -> tuple[int, int, int, str] | None:
    """For text like 03/04/2023 (optionally with HH:MM[:SS]): (first, second, year, layout tail)."""
    m = _DAY_MONTH.match(text)
    if m is None:
        return None
    first, sep, second, year = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
    y = int(year) if len(year) == 4 else (2000 + int(year) if int(year) < 69 else 1900 + int(year))
    ycode = "%Y" if len(year) == 4 else "%y"
    tail = ""
    if m.group(5) is not None:
        tail = " %H:%M" + (":%S" if m.group(7) is not None else "")
    return first, second, y, f"{sep}{{}}{sep}{ycode}{tail}"


def _spell(day: int, month: int, year: int) -> str | None:
    try:
        dt.date(year, month, day)
    except ValueError:
        return None
    return f"{day} {_MONTHS[month - 1]} {year}"


def readings(text: str) -> tuple[str | None, str | None] | None:
    """The day-first and month-first readings of text like ``03/04/2023`` (None if it is not like that).

    Examples
    --------
    >>> readings("03/04/2023")
    ('3 April 2023', '4 March 2023')
    >>> readings("25/12/23")
    ('25 December 2023', None)
    >>> readings("2023-04-03") is None
    True
    """
    parts = _day_month(str(text))
    if parts is None:
        return None
    first, second, year, _ = parts
    return _spell(first, second, year), _spell(second, first, year)


def suggest_layout(values: list[str]) -> str | None:
    """A strftime layout for dd/mm-style text: day first unless only month first fits.

    Examples
    --------
    >>> suggest_layout(["03/04/2023 10:05"])
    '%d/%m/%Y %H:%M'
    >>> suggest_layout(["12/25/2023"])
    '%m/%d/%Y'
    """
    layout = None
    month_first = False
    for text in values:
        parts = _day_month(str(text))
        if parts is None:
            continue
        first, second, _, pattern = parts
        layout = layout or pattern
        if first <= 12 < second:
            month_first = True
        if second <= 12 < first:
            return _fill(pattern, "%d", "%m")
    if layout is None:
        return None
    return _fill(layout, "%m", "%d") if month_first else _fill(layout, "%d", "%m")


def _fill(pattern: str, first: str, second: str) -> str:
    return first + pattern.replace("{}", second, 1)


def describe_date_text(
    text: str, *, date_format: str | None = None, timezone: str | None = None
) -> tuple[str, str]:
    """Why one date value could not be read, and what kind of fix it needs.

    Returns ``(reason, fix)`` where ``fix`` is ``"date_format"``, ``"timezone"`` or ``"source"`` (the value
    itself must be corrected).

    Examples
    --------
    >>> print(describe_date_text("03/04/2023")[0])  # doctest: +NORMALIZE_WHITESPACE
    '03/04/2023' is not ISO 8601 (YYYY-MM-DD) and could be 3 April 2023 or 4 March 2023;
    day/month order is never guessed
    >>> describe_date_text("2023-03-26T01:30:00+01:00")[1]
    'timezone'
    """
    text = str(text).strip()
    fmt = _check_format(date_format)
    shown = repr(text)
    if fmt is None and timezone is not None and _OFFSET.search(text):
        return f"{shown} has a time-zone offset but is not a valid ISO 8601 date-time", "source"
    if fmt not in (None, "excel") and "%z" not in fmt and _OFFSET.search(text) and timezone is None:
        return f"{shown} has a time-zone offset, but no timezone was stated to convert it to", "timezone"
    if (
        fmt is None
        and _OFFSET.search(text)
        and timezone is None
        and pd.notna(_strict(pd.Series([text]), "ISO8601", utc=True).iloc[0])
    ):
        return (
            f"{shown} has a time-zone offset; offsets are converted to one stated time zone or refused, "
            "never dropped",
            "timezone",
        )
    if fmt == "excel":
        if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", text):
            return (
                f"{shown} is outside the Excel serial day numbers accepted "
                f"({EXCEL_FIRST_SERIAL} = 1 March 1900 to {EXCEL_LAST_SERIAL} = 31 December 9999)",
                "source",
            )
        return f"{shown} is not an Excel serial day number, but the column's date format is 'excel'", "source"
    if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", text) and fmt is None:
        return (
            f"{shown} is a number, not a date; if the column holds Excel serial day numbers, its date format "
            "is 'excel'",
            "date_format",
        )
    two = readings(text)
    iso_ok = pd.notna(_strict(pd.Series([text]), "ISO8601", utc=True).iloc[0])
    if fmt is not None:
        reason = f"{shown} does not match the column's date format {fmt!r}"
        has_time = bool(re.search(r"\d{1,2}:\d{2}", text))
        wants_time = "%H" in fmt or "%I" in fmt
        if iso_ok:
            reason += " (it is ISO 8601: rows in another layout are not read by a second rule)"
        elif has_time and not wants_time:
            reason += " (it has a time of day, which the layout does not)"
        elif wants_time and not has_time:
            reason += " (it has no time of day, which the layout expects)"
        elif two is not None and (two[0] or two[1]):
            day_first, month_first = two
            if day_first and month_first and day_first != month_first:
                reason += f" (it could be {day_first} or {month_first})"
            else:
                order = "day" if day_first else "month"
                reason += f" (it can only be {day_first or month_first}, read {order} first)"
        return reason, "source"
    if two is not None:
        return f"{shown} is not ISO 8601 (YYYY-MM-DD) and {_both(two, could=True)}", "date_format"
    if iso_ok:
        # Only possible when the column was read with another layout that is not known here.
        return (
            f"{shown} is ISO 8601, but the column was read with another date layout (rows in another layout "
            "are not read by a second rule)",
            "source",
        )
    return f"{shown} is not a date in ISO 8601 (e.g. 2023-01-31 or 2023-01-31 14:05)", "date_format"


def _both(two: tuple[str | None, str | None], *, could: bool = False) -> str:
    day_first, month_first = two
    if day_first and month_first and day_first != month_first:
        lead = "could be" if could else "either"
        return f"{lead} {day_first} or {month_first}; day/month order is never guessed"
    only = day_first or month_first
    if only is None:
        return "is not a valid date read day first or month first"
    order = "day first" if day_first else "month first"
    return f"can only be {only} ({order}), but day/month order is never guessed from the values"


def _fix_advice(fix: str, *, kind: str | None, column: str | None, layout: str | None) -> str:
    """Advice naming what the user can set where they are: the protocol key (read by every command
    given a protocol), the CLI option of ``evaltoolkit validate``/``series`` on a folder, and the Python
    keyword."""
    if fix == "timezone":
        if kind is None:
            return "state the zone to convert offsets to with timezone= (e.g. 'Europe/London')"
        key = TIMEZONE_KEY.format(kind=kind)
        return (
            f"state the zone to convert offsets to: protocol key {key}: 'Europe/London', CLI option "
            f"{TIMEZONE_OPTION} Europe/London, or Python keyword timezone='Europe/London'"
        )
    if fix == "date_format":
        example = repr(layout) if layout else "'%d/%m/%Y'"
        if kind is None:
            return (
                f"state the layout with date_format={example}; or re-save the dates as ISO 8601 (YYYY-MM-DD)"
            )
        key = DATE_FORMAT_KEY.format(kind=kind)
        per_column = f" (or per column: {{{column}: {example}}})" if column else ""
        cli_column = f" (or per column: {DATE_FORMAT_OPTION} '{column}={example[1:-1]}')" if column else ""
        return (
            f"state the layout: protocol key {key}: {example}{per_column}, CLI option {DATE_FORMAT_OPTION} "
            f"{example}{cli_column}, or Python keyword date_format={example}; "
            "or re-save the dates as ISO 8601 (YYYY-MM-DD)"
        )
    return "correct these rows in the source so that the whole column has one layout"


def date_problem(
    examples: list[str],
    *,
    column: str,
    kind: str | None = None,
    date_format: str | None = None,
    timezone: str | None = None,
    example_row: str | None = None,
    n_ok: int | None = None,
    n_bad: int | None = None,
) -> str:
    """The explanation and fix for unparseable values in a date column (validation messages use it).

    Parameters
    ----------
    examples : list of str
        Unreadable raw values, the most telling first.
    column, kind : str
        Column and extract kind (for the protocol key in the advice).
    date_format, timezone : str, optional
        The layout and zone the column was read with.
    example_row : str, optional
        Where the first example is, e.g. ``"row 5"`` (spreadsheet row) or ``"position 3"``.
    n_ok : int, optional
        Rows of the column that were read; when some were, the message says the layouts are mixed.
    n_bad : int, optional
        Rows that could not be read; when no more than ``n_ok`` and the column is ISO 8601, the advice
        is to correct them (stating their layout would leave the ISO rows unread).

    Examples
    --------
    >>> import textwrap
    >>> msg = date_problem(["03/04/2023"], column="arrival", kind="attendances", example_row="row 2")
    >>> print(textwrap.fill(msg, 100, break_on_hyphens=False))
    could not be read as dates, e.g. '03/04/2023'. Row 2: '03/04/2023' is not ISO 8601 (YYYY-MM-DD) and
    could be 3 April 2023 or 4 March 2023; day/month order is never guessed. To fix: state the layout:
    protocol key data.sources.attendances.date_format: '%d/%m/%Y' (or per column: {arrival:
    '%d/%m/%Y'}), CLI option --date-format '%d/%m/%Y' (or per column: --date-format 'arrival=%d/%m/%Y'),
    or Python keyword date_format='%d/%m/%Y'; or re-save the dates as ISO 8601 (YYYY-MM-DD)
    """
    if not examples:
        return "could not be read as dates"
    reason, fix = describe_date_text(examples[0], date_format=date_format, timezone=timezone)
    listed = ", ".join(repr(v) for v in examples)
    where = f"{example_row[0].upper()}{example_row[1:]}: " if example_row else ""
    text = f"could not be read as dates, e.g. {listed}. {where}{reason}"
    swapped = None
    if fix == "source" and date_format not in (None, "excel") and date_format is not None:
        other = date_format.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        swapped = other if other != date_format and suggest_layout(examples) == other else None
    if swapped is not None:
        # The values can only be read the other way round: the stated day/month order is wrong, and
        # rows it did read (days up to 12) have day and month swapped.
        some = "the 1 other row it did read" if n_ok == 1 else f"the {n_ok} other rows it did read"
        read = f"; {some} may have day and month swapped" if n_ok else ""
        return (
            f"{text}. The stated layout {date_format!r} puts the {_order(date_format)} first, but these "
            f"values can only be read the other way round{read}. To fix: "
            f"{_fix_advice('date_format', kind=kind, column=column, layout=swapped)}"
        )
    if n_ok:
        rows = "1 other row of the column was" if n_ok == 1 else f"{n_ok} other rows of the column were"
        text += (
            f", while {rows} read in the column's layout: these rows are in a different layout (the column "
            "mixes layouts)"
        )
    layout = suggest_layout(examples)
    if fix == "date_format" and n_ok and date_format is None and (n_bad is None or n_ok >= n_bad):
        # Most of the column is ISO 8601: stating the other layout would make those rows unreadable.
        shown = repr(layout) if layout else "another layout"
        return (
            f"{text}. To fix: re-save these rows as ISO 8601 (YYYY-MM-DD) like the rest of the column; a "
            f"column is read with one layout, so stating {shown} would leave the ISO rows unread"
        )
    if fix == "source" and n_ok == 0 and date_format not in (None, "excel"):
        # No row matches the stated layout: the layout is wrong, not the rows.
        iso = pd.notna(_strict(pd.Series([str(examples[0])]), "ISO8601", utc=True).iloc[0])
        text += f"; no row of the column matches {date_format!r}"
        if iso:
            key = DATE_FORMAT_KEY.format(kind=kind or "<kind>")
            return (
                f"{text}. To fix: the dates are ISO 8601, the default: remove the layout (protocol key "
                f"{key}, Python keyword date_format=) or set it to 'ISO8601'. On the command line, "
                f"{DATE_FORMAT_OPTION} {date_format!r} applies to every date column of every extract in the "
                f"folder: give the layout per column instead, for the columns written in it only, e.g. "
                f"{DATE_FORMAT_OPTION} 'arrival={date_format},departure={date_format}'"
            )
        fix = "date_format"
    return f"{text}. To fix: {_fix_advice(fix, kind=kind, column=column, layout=layout)}"


def _order(layout: str) -> str:
    return "day" if layout.find("%d") < layout.find("%m") else "month"


def rank_date_examples(values: list[str]) -> list[str]:
    """Put the most telling example first: an offset, then a two-reading day/month text."""

    def score(text: str) -> int:
        if _OFFSET.search(text):
            return 0
        two = readings(text)
        if two is not None and two[0] and two[1] and two[0] != two[1]:
            return 1
        return 2

    return sorted(values, key=score)


def strict_dates(
    values: pd.Series, *, date_format: str | None = None, timezone: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Parse a column of dates by the rules of this module: ``(parsed, bad)``, never raising on values.

    Examples
    --------
    >>> parsed, bad = strict_dates(pd.Series(["2023-04-03", "03/04/2023", None]))
    >>> parsed.tolist(), bad.tolist()
    ([Timestamp('2023-04-03 00:00:00'), NaT, NaT], [False, True, False])
    """
    fmt = _check_format(date_format)
    zone = _check_timezone(timezone)
    parsed, _ = _parse_datetime(values, fmt, zone)
    bad = (_present(values) & parsed.isna()).astype(bool)
    return parsed, bad


def check_date_text(
    values: pd.Series,
    *,
    column: str,
    where: str,
    error: type[EvalToolkitError] = EvalToolkitError,
    fix: str | None = None,
    kind: str | None = None,
) -> None:
    """Refuse text dates that would otherwise be guessed: day/month text (``03/04/2023``) and offsets.

    For columns that arrive as text in a DataFrame (cohort index dates, an ITS time column), so that a
    later, laxer parser never sees them. Other unreadable text is left to the caller's own checks.

    Raises
    ------
    EvalToolkitError
        (or ``error``) naming ``where``, the column, the count, the first 0-based row position, the value
        and its two readings, and the fix.

    Examples
    --------
    >>> import textwrap
    >>> check_date_text(pd.Series(["2023-01-31", "2023-02-28"]), column="index_date", where="cohort")
    >>> try:
    ...     check_date_text(pd.Series(["2023-01-31", "03/04/2023"]), column="index_date", where="cohort",
    ...                     kind="cohort")
    ... except EvalToolkitError as err:
    ...     print(textwrap.fill(str(err), 100))
    cohort: column 'index_date' has 1 date(s) written day/month or month/day, first at row 1 (0-based
    row position): '03/04/2023' is not ISO 8601 (YYYY-MM-DD) and could be 3 April 2023 or 4 March 2023;
    day/month order is never guessed. Write the dates as YYYY-MM-DD, or read the file with
    evaltoolkit.data.read_extract(..., date_format='%d/%m/%Y') (protocol key
    data.sources.cohort.date_format).
    """
    if ptypes.is_datetime64_any_dtype(values.dtype) or ptypes.is_numeric_dtype(values.dtype):
        return
    text = values.astype(object).map(lambda v: v.strip() if isinstance(v, str) else None)
    known = text.dropna().astype(str)
    if known.empty:
        return
    day_month = known.str.match(_DAY_MONTH.pattern)
    offset = known.str.contains(OFFSET_PATTERN)
    for mask, what in (
        (day_month, "date(s) written day/month or month/day"),
        (offset, "time-zone offset(s)"),
    ):
        if not mask.any():
            continue
        labels = known.index[mask.to_numpy()]
        position = int(np.flatnonzero(values.index.isin([labels[0]]))[0])
        example = str(known.loc[labels[0]])
        reason, kind_of_fix = describe_date_text(example)
        layout = suggest_layout(list(known[mask].iloc[:50])) or "%d/%m/%Y"
        if kind_of_fix == "timezone":
            advice = (
                "Convert them to local time without an offset, or read the file with "
                "evaltoolkit.data.read_extract(..., timezone='Europe/London')"
            )
            key = TIMEZONE_KEY
        else:
            advice = (
                "Write the dates as YYYY-MM-DD, or read the file with evaltoolkit.data.read_extract(..., "
                f"date_format={layout!r})"
            )
            key = DATE_FORMAT_KEY
        advice = fix or (advice + (f" (protocol key {key.format(kind=kind)})." if kind else "."))
        raise error(
            f"{where}: column {column!r} has {int(mask.sum())} {what}, first at row {position} (0-based row "
            f"position): {reason}. {advice}"
        )


def parse_date(
    value: Any,
    *,
    what: str,
    date_format: str | None = None,
    timezone: str | None = None,
    error: type[EvalToolkitError] = EvalToolkitError,
    fix: str | None = None,
) -> pd.Timestamp:
    """Read one date given as text, a date/datetime object or (with ``date_format="excel"``) a serial.

    Text must be ISO 8601 (``2021-04-01``, ``2021-04-01 09:30``) or match ``date_format``; day/month order
    is never guessed (see the module docstring).

    Parameters
    ----------
    value : str, datetime.date, datetime.datetime, pandas.Timestamp or numpy.datetime64
        The date.
    what : str
        What the date is, for messages (e.g. ``"window start"``, ``"--start"``, ``"sites.A.go_live"``).
    date_format : str, optional
        ``strftime`` layout of the text, ``"ISO8601"`` (default) or ``"excel"``.
    timezone : str, optional
        Zone to convert a value with an offset to (then dropped); without it such values are refused.
    error : type, default EvalToolkitError
        Exception class to raise (a subclass of :class:`~evaltoolkit.errors.EvalToolkitError`).
    fix : str, optional
        Advice appended to the message instead of the default ("write it as YYYY-MM-DD").

    Returns
    -------
    pandas.Timestamp
        Naive timestamp.

    Raises
    ------
    EvalToolkitError
        (or ``error``) naming ``what``, the value and, for text like ``03/04/2021``, its two readings.

    Examples
    --------
    >>> import textwrap
    >>> parse_date("2021-04-01", what="window start")
    Timestamp('2021-04-01 00:00:00')
    >>> parse_date("01/04/2021", what="--start", date_format="%d/%m/%Y")
    Timestamp('2021-04-01 00:00:00')
    >>> try:
    ...     parse_date("01/04/2021", what="--start")
    ... except EvalToolkitError as err:
    ...     print(textwrap.fill(str(err), 100))
    --start '01/04/2021' is not ISO 8601 (YYYY-MM-DD) and could be 1 April 2021 or 4 January 2021;
    day/month order is never guessed. Write it as YYYY-MM-DD, e.g. 2021-04-01 or 2021-01-04.
    """
    fmt = _check_format(date_format, where=f"date format for {what}")
    zone = _check_timezone(timezone, where=f"timezone for {what}")
    if not isinstance(value, str) and np.ndim(value) != 0:  # a list, array or mapping
        raise error(f"{what} must be one date such as 2021-04-01, got {type(value).__name__} {value!r}")
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        raise error(f"{what} is missing; give a date such as 2021-04-01")
    if isinstance(value, bool | np.bool_):
        raise error(f"{what} must be a date such as 2021-04-01, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise error(f"{what} is empty; give a date such as 2021-04-01")
    if isinstance(value, int | float | np.number) and fmt != "excel":
        raise error(
            f"{what} must be a date such as 2021-04-01, got the number {value!r} (numbers are not read as "
            "dates; write the date as YYYY-MM-DD)"
        )
    if not isinstance(value, str | int | float | np.number) and not _native(value):
        raise error(f"{what} must be a date such as 2021-04-01, got {type(value).__name__} {value!r}")
    values, _ = _parse_datetime(pd.Series([value], dtype=object), fmt, zone)
    ts = values.iloc[0]
    if pd.notna(ts):
        return pd.Timestamp(ts)
    if _native(value):
        raise error(
            f"{what} {value!r} has a time zone; convert it to one zone and drop the zone, or pass timezone="
        )
    reason, kind_of_fix = describe_date_text(str(value), date_format=fmt, timezone=zone)
    if fix is None:
        if kind_of_fix == "timezone":
            fix = "Write it without the offset, in local time (YYYY-MM-DD HH:MM)."
        else:
            two = readings(str(value))
            fix = "Write it as YYYY-MM-DD"
            if two is not None:
                iso = [
                    pd.Timestamp(pd.to_datetime(r, format="%d %B %Y")).strftime("%Y-%m-%d") for r in two if r
                ]
                fix += ", e.g. " + " or ".join(dict.fromkeys(iso))
            fix += "."
    message = reason.replace(repr(str(value).strip()), f"{what} {str(value).strip()!r}", 1)
    raise error(f"{message}. {fix}")


def _parse_number(s: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index, dtype="float64")
    if ptypes.is_numeric_dtype(s.dtype):
        out = pd.to_numeric(s, errors="coerce").astype("float64")
    else:
        text = _as_text(s)
        out = pd.to_numeric(text, errors="coerce").astype("float64")
    return out.where(np.isfinite(out.fillna(0.0)))


def _parse_boolean(s: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    text = _as_text(s).str.lower()
    return text.map(_BOOL_MAP).astype("boolean")


def _parse_category(s: pd.Series, allowed: tuple[str, ...] | None) -> pd.Series:
    text = _as_text(s)
    if not allowed:
        return text
    lookup = {a.strip().lower(): a for a in allowed}
    matched = text.str.lower().map(lookup)
    return matched.where(matched.notna(), text).astype("str")


def parse_column(
    s: pd.Series,
    column: Column,
    *,
    date_format: str | None = None,
    timezone: str | None = None,
) -> ParsedColumn:
    """Parse one raw column to its schema type; never raises on bad values.

    Parameters
    ----------
    s : pandas.Series
        Raw values (text, numbers, native date-times, or already parsed values).
    column : evaltoolkit.schemas.Column
        The schema column, giving the type and allowed values.
    date_format : str, optional
        Layout of date text: a ``strftime`` layout (e.g. ``"%d/%m/%Y %H:%M"``), ``"ISO8601"`` (the
        default) or ``"excel"`` (serial day numbers). Day/month order is never guessed (module docstring).
    timezone : str, optional
        Zone that values with a time-zone offset are converted to before the zone is dropped, e.g.
        ``"Europe/London"``. Without it, such values are refused (marked bad).

    Returns
    -------
    ParsedColumn
        ``values`` (typed Series, same index), ``bad`` (True where a present value could not be parsed)
        and ``n_tz_converted``.

    Raises
    ------
    EvalToolkitError
        If ``date_format`` or ``timezone`` is not a valid setting (bad values never raise).

    Examples
    --------
    >>> from evaltoolkit.schemas import Column
    >>> p = parse_column(pd.Series(["Y", "n", "maybe", None]), Column("pd_flag", "boolean"))
    >>> p.values.tolist(), p.bad.tolist()
    ([True, False, <NA>, <NA>], [False, False, True, False])
    >>> arrival = Column("arrival", "datetime")
    >>> raw = pd.Series(["03/04/2023 10:05", "2023-04-03 11:00"])
    >>> parse_column(raw, arrival).values.tolist()  # no layout: dd/mm text is not guessed
    [NaT, Timestamp('2023-04-03 11:00:00')]
    >>> parse_column(raw, arrival, date_format="%d/%m/%Y %H:%M").values.tolist()  # one layout per column
    [Timestamp('2023-04-03 10:05:00'), NaT]
    >>> parse_column(pd.Series([44927.5]), arrival, date_format="excel").values.tolist()
    [Timestamp('2023-01-01 12:00:00')]
    >>> offset = pd.Series(["2023-03-26T01:30:00+01:00"])
    >>> parse_column(offset, arrival).bad.tolist()  # refused without a stated zone
    [True]
    >>> parse_column(offset, arrival, timezone="Europe/London").values.tolist()
    [Timestamp('2023-03-26 00:30:00')]
    """
    present = _present(s)
    kind = column.type
    converted = 0
    if kind in ("datetime", "date"):
        fmt = _check_format(date_format, where=f"date_format for column {column.name!r}")
        zone = _check_timezone(timezone)
        values, converted = _parse_datetime(s, fmt, zone)
        if kind == "date":
            values = values.dt.normalize()
    elif kind == "integer":
        num = _parse_number(s)
        # Whole numbers within INTEGER_LIMIT: larger values (e.g. 1e300) are absurd counts, and beyond
        # 2**63 they cannot be held as integers at all, so they are unparseable, not silently wrapped.
        whole = num.notna() & (np.mod(num.fillna(0.0), 1) == 0) & (num.abs().fillna(0.0) <= INTEGER_LIMIT)
        values = num.where(whole).astype("Int64")
    elif kind == "number":
        values = _parse_number(s)
    elif kind == "boolean":
        values = _parse_boolean(s)
    elif kind == "category":
        values = _parse_category(s, column.allowed)
    else:
        values = _as_text(s)
    bad = (present & values.isna()).astype(bool)
    return ParsedColumn(values=values, bad=bad, n_tz_converted=converted)


def column_types(df: pd.DataFrame, schema: ExtractSchema) -> dict[str, Column]:
    """Schema columns present in ``df``, plus item columns (``<prefix>_<n>``, parsed as numbers).

    Examples
    --------
    >>> from evaltoolkit.schemas import get_schema
    >>> frame = pd.DataFrame(columns=["patient_id", "phq9_1", "notes"])
    >>> {k: c.type for k, c in column_types(frame, get_schema("rom_responses")).items()}
    {'patient_id': 'string', 'phq9_1': 'number'}
    """
    out: dict[str, Column] = {c.name: c for c in schema.columns if c.name in df.columns}
    prefixes = tuple(f"{p}_" for p in schema.item_prefixes)
    if prefixes:
        for name in df.columns:
            if isinstance(name, str) and name.startswith(prefixes) and name not in out:
                out[name] = Column(
                    name, "number", required=False, nullable=True, description="Item response."
                )
    return out


DateFormat = str | Mapping[str, str | None] | None


def column_date_formats(date_format: DateFormat, schema: ExtractSchema) -> dict[str, str | None]:
    """One layout per date column of ``schema``: a single layout for all, or a ``{column: layout}`` map.

    Raises
    ------
    ColumnMappingError
        If a mapping names a column that is not a date column of the schema.

    Examples
    --------
    >>> from evaltoolkit.schemas import get_schema
    >>> column_date_formats({"arrival": "%d/%m/%Y %H:%M"}, get_schema("attendances"))
    {'arrival': '%d/%m/%Y %H:%M', 'departure': None}
    """
    date_cols = [c.name for c in schema.columns if c.type in ("datetime", "date")]
    if date_format is None or isinstance(date_format, str):
        fmt = _check_format(date_format)
        return dict.fromkeys(date_cols, fmt)
    if not isinstance(date_format, Mapping):
        raise EvalToolkitError(
            f"date_format must be a layout such as '%d/%m/%Y' or a mapping {{column: layout}}, "
            f"got {type(date_format).__name__}"
        )
    unknown = [str(k) for k in date_format if k not in date_cols]
    if unknown:
        raise ColumnMappingError(
            f"date_format names {unknown}, which are not date columns of the {schema.kind} extract "
            f"(its date columns: {', '.join(date_cols) or 'none'}); key the layouts by canonical column name"
        )
    return {c: _check_format(date_format.get(c), where=f"date_format for column {c!r}") for c in date_cols}


def parse_frame(
    df: pd.DataFrame,
    schema: ExtractSchema,
    *,
    date_format: DateFormat = None,
    timezone: str | None = None,
    tz_converted: dict[str, int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """Parse every schema column of ``df`` (a copy); other columns are left as they are.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw extract with canonical column names. Not modified.
    schema : evaltoolkit.schemas.ExtractSchema
        The extract's schema.
    date_format : str or mapping, optional
        Layout of date text for every date column, or ``{canonical column: layout}`` (columns not named
        are ISO 8601). See :func:`parse_column`.
    timezone : str, optional
        Zone to convert time-zone offsets to (see :func:`parse_column`).
    tz_converted : dict, optional
        If given, receives ``{date column: number of values whose offset was converted}`` (for the
        data-quality table).

    Returns
    -------
    parsed : pandas.DataFrame
        Copy of ``df`` with schema and item columns typed.
    bad : pandas.DataFrame
        Boolean frame (same index), one column per parsed column: True where a value could not be parsed.
    examples : dict
        Up to three distinct unparseable raw values per column (as text), for messages; for date
        columns the most telling one (an offset, or text with two readings) comes first.

    Examples
    --------
    >>> from evaltoolkit.schemas import get_schema
    >>> raw = pd.DataFrame({"site": ["A", "A"], "period": ["2023-01-01", "Jan 23"],
    ...                     "population": ["10", "x"]})
    >>> parsed, bad, examples = parse_frame(raw, get_schema("population"))
    >>> bad.sum().to_dict(), examples
    ({'site': 0, 'period': 1, 'population': 1}, {'period': ['Jan 23'], 'population': ['x']})
    >>> raw = pd.DataFrame({"site": ["A"], "period": ["01/02/2023"], "population": [10]})
    >>> parse_frame(raw, get_schema("population"), date_format={"period": "%d/%m/%Y"})[0]["period"].tolist()
    [Timestamp('2023-02-01 00:00:00')]
    """
    formats = column_date_formats(date_format, schema)
    zone = _check_timezone(timezone)
    parsed = df.copy()
    bad_cols: dict[str, pd.Series] = {}
    examples: dict[str, list[str]] = {}
    for name, column in column_types(df, schema).items():
        result = parse_column(df[name], column, date_format=formats.get(name), timezone=zone)
        parsed[name] = result.values
        bad_cols[name] = result.bad
        if tz_converted is not None and column.type in ("datetime", "date"):
            tz_converted[name] = result.n_tz_converted
        if result.bad.any():
            raw = df.loc[result.bad.to_numpy(), name]
            distinct = [str(v).strip() for v in pd.unique(raw.astype("object"))]
            if column.type in ("datetime", "date"):
                ranked = rank_date_examples(distinct[:200])
                distinct = ranked[:1] + [v for v in distinct if v != ranked[0]]
            examples[name] = distinct[:3]
    bad = pd.DataFrame(bad_cols, index=df.index, dtype=bool)
    return parsed, bad, examples
