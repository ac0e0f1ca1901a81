"""Parse extract columns to their schema types without raising.

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
datetime     ``datetime64[us]``; ISO 8601 text (``2023-01-31 14:05``,
             ``2023-01-31T14:05:00``) or native date-times; time zones dropped
             (local wall time kept). Other layouts need ``date_format=``.
date         ``datetime64[us]`` at midnight (time of day dropped)
integer      ``Int64``; whole numbers only
number       ``float64``
boolean      ``boolean``; Y/N, yes/no, true/false, t/f, 1/0 (any case)
category     ``str``; matched to the allowed values ignoring case and spaces
             (``f`` becomes ``F``). Values outside the allowed set are kept as
             text and reported by validation.
===========  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from evaltoolkit.schemas import Column, ExtractSchema

__all__ = ["ParsedColumn", "column_types", "parse_column", "parse_frame"]

TYPE_WORDS: dict[str, str] = {
    "string": "text",
    "datetime": "date-times (ISO 8601, e.g. 2023-01-31 14:05)",
    "date": "dates (ISO 8601, e.g. 2023-01-31)",
    "integer": "whole numbers",
    "number": "numbers",
    "boolean": "yes/no values (Y/N, yes/no, true/false, 1/0)",
    "category": "text",
}

_TRUE = ("y", "yes", "true", "t", "1", "1.0")
_FALSE = ("n", "no", "false", "f", "0", "0.0")
_BOOL_MAP = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


@dataclass(frozen=True)
class ParsedColumn:
    """A parsed column: ``values`` (typed) and ``bad`` (True where a present value could not be parsed)."""

    values: pd.Series
    bad: pd.Series


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


def _parse_datetime(s: pd.Series, date_format: str | None) -> pd.Series:
    if ptypes.is_datetime64_any_dtype(s.dtype):
        out = s
    else:
        if ptypes.is_numeric_dtype(s.dtype) or ptypes.is_bool_dtype(s.dtype):
            # Numbers are not dates (an Excel serial number would be a silent guess).
            return pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
        raw = _strip(s)
        fmt = date_format or "ISO8601"
        try:
            out = pd.to_datetime(raw, format=fmt, errors="coerce")
        except (ValueError, TypeError, OverflowError):
            # Mixed time-zone offsets or odd objects: parse distinct values one by one.
            out = _parse_datetime_slow(raw, date_format)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out.astype("datetime64[us]")


def _parse_datetime_slow(s: pd.Series, date_format: str | None) -> pd.Series:
    uniques = pd.unique(s.dropna())
    parsed: dict[object, object] = {}
    for value in uniques:
        try:
            if isinstance(value, str) and date_format:
                ts = pd.to_datetime(value, format=date_format)
            elif isinstance(value, str):
                ts = pd.to_datetime(value, format="ISO8601")
            elif isinstance(value, int | float | np.number):
                ts = pd.NaT
            else:
                ts = pd.Timestamp(value)
            if ts is not pd.NaT and ts.tzinfo is not None:
                ts = ts.tz_localize(None)
        except (ValueError, TypeError, OverflowError):
            ts = pd.NaT
        parsed[value] = ts
    return pd.to_datetime(s.map(parsed), errors="coerce")


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


def parse_column(s: pd.Series, column: Column, *, date_format: str | None = None) -> ParsedColumn:
    """Parse one raw column to its schema type; never raises on bad values.

    Parameters
    ----------
    s : pandas.Series
        Raw values (text, numbers, native date-times, or already parsed values).
    column : evaltoolkit.schemas.Column
        The schema column, giving the type and allowed values.
    date_format : str, optional
        ``strftime`` layout for date-time text (e.g. ``"%d/%m/%Y %H:%M"``). Default: ISO 8601.

    Returns
    -------
    ParsedColumn
        ``values`` (typed Series, same index) and ``bad`` (True where a present value could not be parsed).

    Examples
    --------
    >>> from evaltoolkit.schemas import Column
    >>> p = parse_column(pd.Series(["Y", "n", "maybe", None]), Column("pd_flag", "boolean"))
    >>> p.values.tolist(), p.bad.tolist()
    ([True, False, <NA>, <NA>], [False, False, True, False])
    """
    present = _present(s)
    kind = column.type
    if kind in ("datetime", "date"):
        values = _parse_datetime(s, date_format)
        if kind == "date":
            values = values.dt.normalize()
    elif kind == "integer":
        num = _parse_number(s)
        whole = num.notna() & (np.mod(num.fillna(0.0), 1) == 0)
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
    return ParsedColumn(values=values, bad=bad)


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


def parse_frame(
    df: pd.DataFrame, schema: ExtractSchema, *, date_format: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """Parse every schema column of ``df`` (a copy); other columns are left as they are.

    Returns
    -------
    parsed : pandas.DataFrame
        Copy of ``df`` with schema and item columns typed.
    bad : pandas.DataFrame
        Boolean frame (same index), one column per parsed column: True where a value could not be parsed.
    examples : dict
        Up to three distinct unparseable raw values per column (as text), for messages.

    Examples
    --------
    >>> from evaltoolkit.schemas import get_schema
    >>> raw = pd.DataFrame({"site": ["A", "A"], "period": ["2023-01-01", "Jan 23"],
    ...                     "population": ["10", "x"]})
    >>> parsed, bad, examples = parse_frame(raw, get_schema("population"))
    >>> bad.sum().to_dict(), examples
    ({'site': 0, 'period': 1, 'population': 1}, {'period': ['Jan 23'], 'population': ['x']})
    """
    parsed = df.copy()
    bad_cols: dict[str, pd.Series] = {}
    examples: dict[str, list[str]] = {}
    for name, column in column_types(df, schema).items():
        result = parse_column(df[name], column, date_format=date_format)
        parsed[name] = result.values
        bad_cols[name] = result.bad
        if result.bad.any():
            raw = df.loc[result.bad.to_numpy(), name]
            examples[name] = [str(v).strip() for v in pd.unique(raw.astype("object"))[:3]]
    bad = pd.DataFrame(bad_cols, index=df.index, dtype=bool)
    return parsed, bad, examples
