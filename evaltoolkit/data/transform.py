"""Column-level fixes applied to a raw extract before it is checked: every change is counted.

Each function takes a DataFrame, returns ``(new_frame, findings)`` and never modifies its input. The
findings are :class:`~evaltoolkit.data.rules.Finding` records for the data-quality table (see
:mod:`evaltoolkit.data.quality`): no row is dropped or changed without being counted there.

* :func:`~evaltoolkit.data.join_date_time` (rule ``date_time_joined``): rows joined, rows with no
  time (set to midnight), and dates or times that could not be read (rule ``unparseable``);
* :func:`~evaltoolkit.data.map_values` (rule ``value_map``): rows whose value changed, and values
  not in the map (kept as they are, listed with their counts);
* :func:`~evaltoolkit.data.apply_site_aliases` (rule ``site_alias``): rows recoded, per local code;
* :func:`~evaltoolkit.data.filter_rows` (rule ``where_filter``): rows excluded (``n_excluded``).

Row numbers in findings are spreadsheet rows, from the ``source_row`` column when there is one (header
= row 1, first data row = row 2), as everywhere in :mod:`evaltoolkit.data`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.data._common import format_rows, row_numbers
from evaltoolkit.data.parse import _check_format, _check_timezone, _parse_datetime, date_problem
from evaltoolkit.data.rules import Finding
from evaltoolkit.errors import ColumnMappingError, EvalToolkitError

__all__ = ["apply_site_aliases", "filter_rows", "join_date_time", "map_values"]

_TIME_TEXT = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?$")
_HHMM = re.compile(r"^(\d{3,4})$")
_EXCEL_DAY_ZERO = (pd.Timestamp("1899-12-30"), pd.Timestamp("1899-12-31"), pd.Timestamp("1900-01-01"))


def _need_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise EvalToolkitError(f"{what} needs a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = ", ".join(str(c) for c in df.columns if c != "source_row")
        raise ColumnMappingError(
            f"{what}: column {', '.join(repr(c) for c in missing)} is not in the extract; "
            f"its columns are: {have}"
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cell_text(value: Any) -> str | None:
    """A cell as stripped text (whole floats without ``.0``); None when missing or blank."""
    if value is None or (not isinstance(value, str | bytes) and np.ndim(value) == 0 and pd.isna(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _texts(s: pd.Series) -> pd.Series:
    return s.astype(object).map(_cell_text).astype(object)


# ---------------------------------------------------------------------------------------------------------
# Date + time
# ---------------------------------------------------------------------------------------------------------


def _time_of_day(value: Any, time_format: str | None) -> pd.Timedelta | None:
    """One time cell → offset from midnight; None when it cannot be read (missing handled by the caller)."""
    if isinstance(value, pd.Timedelta | dt.timedelta | np.timedelta64):
        td = pd.Timedelta(value)
        return td if pd.Timedelta(0) <= td < pd.Timedelta(days=1) else None
    if isinstance(value, dt.time):
        return pd.Timedelta(
            hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
        )
    if isinstance(value, dt.datetime | pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(value)
        if ts.tzinfo is None and ts.normalize() in _EXCEL_DAY_ZERO:  # an Excel time-only cell
            return ts - ts.normalize()
        return None
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.number):
        x = float(value)
        if not np.isfinite(x):
            return None
        if time_format == "excel" or (0 < x < 1 and not x.is_integer()):
            if not 0 <= x < 1:
                return None
            return pd.Timedelta(seconds=round(x * 86400))
        if time_format is None and x.is_integer():
            return _hhmm(str(int(x)).zfill(4))
        return None
    text = str(value).strip()
    if time_format not in (None, "excel"):
        try:
            ts = pd.to_datetime(text, format=time_format)
        except (ValueError, TypeError, OverflowError):
            return None
        return ts - ts.normalize()
    if time_format == "excel":
        try:
            return _time_of_day(float(text), "excel")
        except ValueError:
            return None
    m = _TIME_TEXT.match(text)
    if m:
        hours, minutes = int(m.group(1)), int(m.group(2))
        seconds = int(m.group(3) or 0)
        micro = int((m.group(4) or "0").ljust(6, "0"))
        if hours < 24 and minutes < 60 and seconds < 60:
            return pd.Timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micro)
        return None
    if _HHMM.match(text):
        return _hhmm(text.zfill(4))
    try:
        x = float(text)
    except ValueError:
        return None
    return _time_of_day(x, None) if 0 < x < 1 else None


def _hhmm(text: str) -> pd.Timedelta | None:
    hours, minutes = int(text[:2]), int(text[2:])
    if len(text) == 4 and hours < 24 and minutes < 60:
        return pd.Timedelta(hours=hours, minutes=minutes)
    return None


def join_date_time(
    df: pd.DataFrame,
    target: str,
    date: str,
    time: str,
    *,
    date_format: str | None = None,
    time_format: str | None = None,
    timezone: str | None = None,
) -> tuple[pd.DataFrame, list[Finding]]:
    """Join a date column and a time-of-day column into one timestamp column ``target``.

    Dates follow the rules of :mod:`evaltoolkit.data.parse` (ISO 8601, a stated ``date_format`` or
    ``"excel"``; day/month order never guessed). Times may be ``HH:MM``, ``H:MM``, ``HH:MM:SS``,
    ``HHMM`` (text or a whole number such as 930 for 09:30), an Excel time fraction (a number between
    0 and 1: 0.5 is 12:00), a ``datetime.time``, or an Excel time-only cell (a date-time on
    30/31 December 1899 or 1 January 1900); ``time_format`` may instead state a ``strftime`` layout
    (e.g. ``"%H.%M"``) or ``"excel"`` (every number is a day fraction).

    * A row with a date and **no time** gets the date at 00:00 (midnight), so it stays in its day and
      month; these rows are counted (rule ``date_time_joined``).
    * A row whose date or time **cannot be read** gets a missing ``target`` and is reported (rule
      ``unparseable``, severity ``error``, with an example and the fix); the row is kept, so validation
      reports it again as a missing value.
    * A row with no date has a missing ``target`` (a time alone is not a timestamp); counted.

    Parameters
    ----------
    df : pandas.DataFrame
        The extract (not modified).
    target : str
        Name of the joined column (e.g. ``"arrival"``); replaced if it exists. The source columns are kept.
    date, time : str
        Columns holding the date and the time of day.
    date_format : str, optional
        Layout of the date text: a ``strftime`` layout such as ``"%d/%m/%Y"``, ``"ISO8601"`` (default)
        or ``"excel"``.
    time_format : str, optional
        Layout of the time text (``strftime``, e.g. ``"%H.%M"``) or ``"excel"``; default: the forms above.
    timezone : str, optional
        Zone to convert dates with an offset to (see :mod:`evaltoolkit.data.parse`).

    Returns
    -------
    tuple of (pandas.DataFrame, list of Finding)
        A copy with ``target`` added, and the findings (``date_time_joined``, plus ``unparseable`` for the
        date and the time column when some values could not be read).

    Raises
    ------
    ColumnMappingError
        If ``date`` or ``time`` is not in ``df`` (the message lists its columns).

    Examples
    --------
    >>> raw = pd.DataFrame({"arr_date": ["03/04/2023", "04/04/2023", "05/04/2023"],
    ...                     "arr_time": ["09:30", "1415", None]})
    >>> out, findings = join_date_time(raw, "arrival", "arr_date", "arr_time", date_format="%d/%m/%Y")
    >>> out["arrival"].tolist()
    [Timestamp('2023-04-03 09:30:00'), Timestamp('2023-04-04 14:15:00'), Timestamp('2023-04-05 00:00:00')]
    >>> [(f.rule, f.n_rows, f.rows, f.action) for f in findings]
    [('date_time_joined', 1, '4', 'time missing: set to 00:00 (midnight) on the date; row kept')]
    """
    _need_columns(df, [date, time], f"join_date_time({target!r})")
    fmt = _check_format(date_format, where=f"date_format for column {date!r}")
    tfmt = time_format
    if tfmt is not None:
        if not isinstance(tfmt, str) or not tfmt.strip():
            raise EvalToolkitError(
                f"time_format must be a strftime layout such as '%H:%M' or 'excel', got {tfmt!r}"
            )
        tfmt = "excel" if tfmt.strip().lower() == "excel" else tfmt.strip()
        if tfmt != "excel" and "%" not in tfmt:
            raise EvalToolkitError(
                f"time_format {time_format!r} is not a strftime layout (e.g. '%H:%M', '%H.%M') or 'excel'"
            )
    timezone = _check_timezone(timezone)
    rows = row_numbers(df)
    raw_date = df[date]
    raw_time = df[time]
    dates, _ = _parse_datetime(raw_date, fmt, timezone)
    dates = dates.dt.normalize()
    date_text = _texts(raw_date)
    time_text = _texts(raw_time)
    has_date = date_text.notna().to_numpy()
    has_time = time_text.notna().to_numpy()
    bad_date = has_date & dates.isna().to_numpy()

    cells = raw_time.astype(object)
    lookup: dict[Any, pd.Timedelta | None] = {}
    for value in pd.unique(cells[has_time]):
        lookup[value] = _time_of_day(value, tfmt)
    found = cells[has_time].map(lookup)
    bad_time = np.zeros(len(df), dtype=bool)
    bad_time[np.flatnonzero(has_time)] = found.isna().to_numpy()
    offsets = pd.Series(pd.NaT, index=df.index, dtype="timedelta64[us]")
    if len(found):
        offsets[has_time] = pd.to_timedelta(found.where(found.notna(), None)).to_numpy()
    no_time = has_date & ~bad_date & ~has_time
    joined = dates + offsets.where(~no_time, pd.Timedelta(0))
    joined = joined.where(~bad_time).astype("datetime64[us]")

    out = df.copy()
    out[target] = joined.to_numpy()
    n_joined = int((has_date & ~bad_date & ~bad_time).sum())
    n_no_date = int((~has_date).sum())
    detail = (
        f"{date} and {time} joined into {target}: {_plural(n_joined, 'row')} with a readable "
        f"date, {int(no_time.sum())} of them with no time (set to midnight)"
    )
    if n_no_date:
        detail += f"; {_plural(n_no_date, 'row')} with no date left missing"
    findings = [
        Finding(
            "date_time_joined",
            target,
            "fixable",
            int(no_time.sum()),
            0,
            format_rows(rows[no_time]) if no_time.any() else "",
            "time missing: set to 00:00 (midnight) on the date; row kept",
            detail,
            f"{_plural(int(no_time.sum()), 'row')} in {time!r} had no time: {target} set to midnight"
            if no_time.any()
            else "",
        )
    ]
    action = f"{target} left missing; row kept (validation reports it)"
    if bad_date.any():
        seen = list(pd.unique(date_text[bad_date]))[:3]
        text = date_problem(
            seen,
            column=date,
            date_format=fmt,
            timezone=timezone,
            example_row=f"row {rows[np.flatnonzero(bad_date)[0]]}",
        )
        n = int(bad_date.sum())
        findings.append(
            Finding(
                "unparseable",
                date,
                "error",
                n,
                0,
                format_rows(rows[bad_date]),
                action,
                f"dates readable for joining into {target}",
                f"{_plural(n, 'row')} in {date!r} {text}",
            )
        )
    if bad_time.any():
        seen = [repr(v) for v in pd.unique(time_text[bad_time])[:3]]
        n = int(bad_time.sum())
        first = rows[np.flatnonzero(bad_time)[0]]
        layout = f"the layout {tfmt!r}" if tfmt else "HH:MM, HH:MM:SS, HHMM or an Excel time fraction"
        findings.append(
            Finding(
                "unparseable",
                time,
                "error",
                n,
                0,
                format_rows(rows[bad_time]),
                action,
                f"times readable for joining into {target}",
                f"{_plural(n, 'row')} in {time!r} could not be read as times of day, e.g. "
                f"{', '.join(seen)} (first at row {first}); expected {layout}. To fix: correct the rows, or "
                f"state the layout with time_format= (protocol: the time format of the {target} join)",
            )
        )
    return out, findings


# ---------------------------------------------------------------------------------------------------------
# Value maps
# ---------------------------------------------------------------------------------------------------------


def _key(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


def map_values(
    df: pd.DataFrame,
    column: str,
    mapping: Mapping[Any, Any],
    *,
    ignore_case: bool = True,
    target: str | None = None,
) -> tuple[pd.DataFrame, list[Finding]]:
    """Recode the values of one column with a map, e.g. ``{"Y": True, "N": False}`` or local codes.

    Values are matched as text with surrounding spaces removed (``1`` and ``1.0`` are both ``"1"``), and
    ignoring case unless ``ignore_case=False`` (so ``"y"`` matches ``"Y"``). Values not in the map are
    **kept as they are** and listed with their counts (later validation reports any that are not
    allowed); missing values stay missing.

    Parameters
    ----------
    df : pandas.DataFrame
        The extract (not modified).
    column : str
        Column to recode.
    mapping : mapping
        ``{value in the file: new value}``.
    ignore_case : bool, default True
        Match ``"y"`` to a key ``"Y"``.
    target : str, optional
        Write the result to this column instead of replacing ``column``.

    Returns
    -------
    tuple of (pandas.DataFrame, list of Finding)
        A copy with the column recoded, and one ``value_map`` finding: ``n_rows`` = rows whose value
        changed; ``detail`` lists each mapping used and each value not in the map with its count.

    Raises
    ------
    ColumnMappingError
        If ``column`` is not in ``df``.
    EvalToolkitError
        If the map is empty or two keys are the same value (e.g. ``"Y"`` and ``"y"`` with different targets).

    Examples
    --------
    >>> raw = pd.DataFrame({"pd_flag": ["Y", "n", "y", "N ", "maybe", None]})
    >>> out, [f] = map_values(raw, "pd_flag", {"Y": True, "N": False})
    >>> out["pd_flag"].tolist()
    [True, False, True, False, 'maybe', nan]
    >>> f.rule, f.n_rows, f.rows
    ('value_map', 4, '6')
    >>> print(f.detail)
    pd_flag: 'Y' → True (2 rows), 'N' → False (2 rows); not in the map, kept as they are: 'maybe' (1 row)
    """
    _need_columns(df, [column], "map_values")
    if not isinstance(mapping, Mapping) or not mapping:
        raise EvalToolkitError(
            f"map_values({column!r}) needs a non-empty mapping {{value in the file: new value}}"
        )
    lookup: dict[str, tuple[Any, Any]] = {}
    for k, v in mapping.items():
        text = _cell_text(k)
        if text is None:
            raise EvalToolkitError(f"map for {column!r} has an empty key; map missing values another way")
        key = _key(text, ignore_case)
        if key in lookup and lookup[key][1] != v:
            raise EvalToolkitError(
                f"map for {column!r} has keys {lookup[key][0]!r} and {k!r}, which match the same values "
                f"(ignoring case) but map to different values ({lookup[key][1]!r}, {v!r})"
            )
        lookup[key] = (k, v)
    rows = row_numbers(df)
    texts = _texts(df[column])
    keys = texts.map(lambda t: _key(t, ignore_case), na_action="ignore")
    matched = keys.isin(list(lookup)).to_numpy()
    original = df[column].astype(object)
    new = original.copy()
    new_values = keys[matched].map(lambda k: lookup[k][1])
    new.loc[new_values.index] = new_values.to_numpy()
    differs: dict[tuple[str, str], bool] = {}  # keyed by type and text: 1 and True are different values
    changed = np.zeros(len(df), dtype=bool)
    cells = original.to_numpy()
    for pos in np.flatnonzero(matched):
        value = cells[pos]
        cache_key = (type(value).__name__, str(value))
        if cache_key not in differs:
            differs[cache_key] = not _same(value, lookup[_key(_cell_text(value) or "", ignore_case)][1])
        changed[pos] = differs[cache_key]
    unmapped = texts.notna().to_numpy() & ~matched
    if not unmapped.any() and new.notna().any() and all(isinstance(v, bool | np.bool_) for v in new.dropna()):
        new = new.astype("boolean")
    out = df.copy()
    out[target or column] = new.to_numpy() if not isinstance(new.dtype, pd.BooleanDtype) else new
    used = []
    for key, (k, v) in lookup.items():
        n = int((keys[matched] == key).sum())
        if n:
            used.append(f"{k!r} → {v!r} ({_plural(n, 'row')})")
    detail = f"{column}: " + (", ".join(used) if used else "no value matched the map")
    if unmapped.any():
        counts = texts[unmapped].value_counts(sort=True)
        listed = ", ".join(f"{v!r} ({_plural(int(n), 'row')})" for v, n in counts.head(8).items())
        more = f" and {len(counts) - 8} more" if len(counts) > 8 else ""
        detail += f"; not in the map, kept as they are: {listed}{more}"
    n_changed = int(changed.sum())
    action = (
        f"{_plural(n_changed, 'value')} recoded; {_plural(int(unmapped.sum()), 'row')} not in the map kept"
    )
    finding = Finding(
        "value_map",
        column if target is None else f"{column} -> {target}",
        "fixable",
        n_changed,
        0,
        format_rows(rows[unmapped]) if unmapped.any() else "",
        action,
        detail,
        f"{_plural(int(unmapped.sum()), 'row')} in {column!r} had values not in the map (kept): " + detail
        if unmapped.any()
        else "",
    )
    return out, [finding]


def _same(a: Any, b: Any) -> bool:
    if a is None or (np.ndim(a) == 0 and pd.isna(a)):
        return b is None or (np.ndim(b) == 0 and pd.isna(b))
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------------------
# Site aliases
# ---------------------------------------------------------------------------------------------------------


def apply_site_aliases(
    df: pd.DataFrame, aliases: Mapping[str, Iterable[Any]], *, column: str = "site"
) -> tuple[pd.DataFrame, list[Finding]]:
    """Recode local site codes to the protocol's site codes: ``{site: [local codes]}``.

    Codes are compared as text with surrounding spaces removed (case matters, as in the site list).
    Rows whose code is neither an alias nor anything else are left as they are (the ``unknown_site``
    rule reports codes that are not sites).

    Parameters
    ----------
    df : pandas.DataFrame
        The extract (not modified).
    aliases : mapping
        ``{canonical site code: [local codes]}``; a single code may be given as a string.
    column : str, default "site"
        The site column.

    Returns
    -------
    tuple of (pandas.DataFrame, list of Finding)
        A copy with the codes recoded, and one ``site_alias`` finding: ``n_rows`` = rows recoded,
        ``detail`` = rows per local code (and aliases that matched no row).

    Raises
    ------
    EvalToolkitError
        If a local code is claimed by two sites, or is itself another site's code.
    ColumnMappingError
        If ``column`` is not in ``df``.

    Examples
    --------
    >>> raw = pd.DataFrame({"site": ["RK9MH", "A", "RK9IP", "RK9MH", "B"]})
    >>> out, [f] = apply_site_aliases(raw, {"A": ["RK9MH", "RK9IP"], "B": ["RX1"]})
    >>> out["site"].tolist()
    ['A', 'A', 'A', 'A', 'B']
    >>> f.rule, f.n_rows
    ('site_alias', 3)
    >>> print(f.detail)
    site codes recoded: RK9MH → A (2 rows), RK9IP → A (1 row); aliases not found: RX1 (for B)
    """
    _need_columns(df, [column], "apply_site_aliases")
    if not isinstance(aliases, Mapping):
        raise EvalToolkitError(
            f"site aliases must be a mapping {{site: [local codes]}}, got {type(aliases).__name__}"
        )
    sites = {}
    for site in aliases:
        text = _cell_text(site)
        if text is None:
            raise EvalToolkitError("site aliases: a site code is empty")
        sites[text] = site
    owner: dict[str, str] = {}
    for site, codes in aliases.items():
        site_text = _cell_text(site) or ""
        if isinstance(codes, str | int | float) or codes is None:
            codes = [] if codes is None else [codes]
        for code in codes:
            text = _cell_text(code)
            if text is None:
                raise EvalToolkitError(f"site aliases for {site_text}: a local code is empty")
            if text == site_text:
                continue
            if text in owner and owner[text] != site_text:
                raise EvalToolkitError(
                    f"site aliases: local code {text!r} is listed for two sites, {owner[text]!r} and "
                    f"{site_text!r}; each local code must belong to one site"
                )
            if text in sites:
                raise EvalToolkitError(
                    f"site aliases: local code {text!r} (listed for {site_text!r}) is itself a site code; "
                    "a site cannot be an alias of another"
                )
            owner[text] = site_text
    rows = row_numbers(df)
    texts = _texts(df[column])
    hit = texts.isin(list(owner)).to_numpy()
    out = df.copy()
    new = df[column].astype(object).copy()
    new.loc[hit] = texts[hit].map(owner).to_numpy()
    out[column] = new.to_numpy()
    counts = texts[hit].value_counts(sort=True)
    parts = [f"{code} → {owner[code]} ({_plural(int(n), 'row')})" for code, n in counts.items()]
    detail = "site codes recoded: " + (", ".join(parts) if parts else "none found")
    absent = [f"{code} (for {site})" for code, site in owner.items() if code not in counts.index]
    if absent:
        detail += "; aliases not found: " + ", ".join(absent)
    n = int(hit.sum())
    finding = Finding(
        "site_alias",
        column,
        "fixable",
        n,
        0,
        format_rows(rows[hit]) if n else "",
        "local site codes recoded to site codes; rows kept",
        detail,
        f"{_plural(n, 'row')}: {detail}" if n else "",
    )
    return out, [finding]


# ---------------------------------------------------------------------------------------------------------
# Where filters
# ---------------------------------------------------------------------------------------------------------


def filter_rows(df: pd.DataFrame, where: Mapping[str, Any]) -> tuple[pd.DataFrame, list[Finding]]:
    """Keep the rows matching every condition of ``where = {column: value or [values]}``.

    Any column of the source may be used, including columns that are not part of the schema. Values
    are compared as text with surrounding spaces removed (``1`` matches ``"1"`` and ``1.0``), case
    included. Rows with no value in a filtered column never match (their count is in the detail).

    Parameters
    ----------
    df : pandas.DataFrame
        The extract (not modified).
    where : mapping
        ``{column: value}`` or ``{column: [values]}``; several columns must all match.

    Returns
    -------
    tuple of (pandas.DataFrame, list of Finding)
        The kept rows (index preserved), and one ``where_filter`` finding with ``n_excluded`` = rows
        removed, so ``n_input = n_output + n_excluded``.

    Raises
    ------
    ColumnMappingError
        If a column is not in ``df`` (the message lists its columns).
    EvalToolkitError
        If ``where`` is empty or a column has an empty list of values.

    Examples
    --------
    >>> raw = pd.DataFrame({"unit": ["ED", "ED", "MIU", None], "age": ["34", "17", "40", "52"]})
    >>> out, [f] = filter_rows(raw, {"unit": "ED"})
    >>> len(out), f.rule, f.n_excluded, f.rows
    (2, 'where_filter', 2, '4, 5')
    >>> print(f.detail)
    kept rows where unit is 'ED' (excluded: 1 row with another value, 1 row with no value)
    """
    if not isinstance(where, Mapping) or not where:
        raise EvalToolkitError("where needs at least one condition {column: value or [values]}")
    _need_columns(df, list(where), "where filter")
    keep = np.ones(len(df), dtype=bool)
    described = []
    other = 0
    blank = 0
    for col, wanted in where.items():
        if isinstance(wanted, Mapping):
            raise EvalToolkitError(
                f"where filter on {col!r}: give a value or a list of values to keep, not a mapping "
                f"({wanted!r})"
            )
        values = [wanted] if isinstance(wanted, str | int | float | bool) or wanted is None else list(wanted)
        if not values:
            raise EvalToolkitError(f"where filter on {col!r} has an empty list of values")
        targets = {_cell_text(v) for v in values}
        targets.discard(None)
        if not targets:
            raise EvalToolkitError(f"where filter on {col!r}: the values to keep are all empty")
        texts = _texts(df[col])
        match = texts.isin(list(targets)).to_numpy()
        missing = texts.isna().to_numpy()
        blank += int((keep & missing).sum())
        other += int((keep & ~missing & ~match).sum())
        keep &= match
        shown = sorted(targets)
        described.append(f"{col} is {shown[0]!r}" if len(shown) == 1 else f"{col} in {shown}")
    rows = row_numbers(df)
    dropped = ~keep
    n = int(dropped.sum())
    parts = []
    if other:
        parts.append(f"{_plural(other, 'row')} with another value")
    if blank:
        parts.append(f"{_plural(blank, 'row')} with no value")
    detail = "kept rows where " + " and ".join(described)
    if parts:
        detail += f" (excluded: {', '.join(parts)})"
    finding = Finding(
        "where_filter",
        ", ".join(str(c) for c in where),
        "fixable",
        n,
        n,
        format_rows(rows[dropped]) if n else "",
        "excluded (not selected by where)",
        detail,
        f"{_plural(n, 'row')} excluded: {detail}" if n else "",
    )
    return df.loc[keep].copy(), [finding]
