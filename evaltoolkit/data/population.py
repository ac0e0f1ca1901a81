"""Monthly population denominators from annual (e.g. mid-year) estimates.

Method
------
Each annual estimate is placed on its **reference date** in its year (default 30 June, the reference
date of ONS mid-year estimates and ABS estimated resident population). Between two reference dates the
population is taken to change linearly with time (in days). A month's population is the value of that
line at the **middle of the month** (day 1 plus half the month's length, e.g. 16 January 12:00), which
for a straight line equals its average over the month; with ``at="start"`` it is the value on day 1.

Before the first and after the last reference date there is nothing to interpolate between. By default
(``extrapolate="constant"``) the nearest estimate is carried (held flat); with
``extrapolate="linear"`` the line through the two nearest estimates is extended. Either way the months
concerned are **counted** (rule ``population_extrapolated`` in the findings, per site or area), so a
report can say how many months of denominators were not interpolated.

Periods are month starts; ``start`` and ``end`` give a half-open range ``[start, end)`` like a window
(default: the month of the first reference date up to and including the month of the last one).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from evaltoolkit.data._common import format_rows, row_numbers
from evaltoolkit.data.parse import parse_date
from evaltoolkit.data.rules import Finding
from evaltoolkit.errors import ColumnMappingError, EvalToolkitError

__all__ = ["monthly_population"]


def _reference(reference: Any) -> tuple[int, int]:
    """'06-30' / '30 June' style → (month, day); only MM-DD is accepted (no day/month guessing)."""
    if not isinstance(reference, str):
        raise EvalToolkitError(
            f"reference must be a month and day as 'MM-DD' (e.g. '06-30'), got {reference!r}"
        )
    text = reference.strip()
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise EvalToolkitError(
            f"reference {reference!r} must be a month and day as 'MM-DD' (e.g. '06-30' for 30 June)"
        )
    month, day = int(parts[0]), int(parts[1])
    try:
        pd.Timestamp(year=2001, month=month, day=day)  # not a leap year: 02-29 is refused
    except ValueError as exc:
        raise EvalToolkitError(f"reference {reference!r} is not a valid month and day ('MM-DD')") from exc
    return month, day


def monthly_population(
    annual: pd.DataFrame,
    *,
    year: str = "year",
    population: str = "population",
    by: str = "site",
    reference: str = "06-30",
    start: Any = None,
    end: Any = None,
    extrapolate: Literal["constant", "linear"] = "constant",
    at: Literal["middle", "start"] = "middle",
    with_findings: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, list[Finding]]:
    """Turn annual population estimates into monthly denominators by linear interpolation.

    See the module docstring for the method (reference dates, mid-month values, extrapolation).

    Parameters
    ----------
    annual : pandas.DataFrame
        One row per site (or area) and year. Not modified.
    year : str, default "year"
        Column holding the estimate's year (a whole number such as 2021).
    population : str, default "population"
        Column holding the estimate (a positive number).
    by : str, default "site"
        Column identifying the site or area; it is also the name of the output column.
    reference : str, default "06-30"
        Month and day (``MM-DD``) the estimates refer to: 30 June for mid-year estimates.
    start, end : date-like, optional
        Months wanted, half-open ``[start, end)`` (ISO 8601 text or dates; must be month starts).
        Default: from the month of the first reference date to the month of the last (over all sites),
        inclusive.
    extrapolate : {"constant", "linear"}, default "constant"
        Outside the reference dates: hold the nearest estimate, or extend the line through the two
        nearest estimates. Extrapolated months are counted in the findings.
    at : {"middle", "start"}, default "middle"
        Value at the middle of the month (its average under a straight line) or on day 1.
    with_findings : bool, default False
        Also return findings for the data-quality table (``population_interpolated`` and
        ``population_extrapolated``, with counts of months per site).

    Returns
    -------
    pandas.DataFrame or tuple
        ``by, period, population`` (period = month start, ``datetime64``; population = float), sorted;
        with ``with_findings=True``, ``(frame, findings)``.

    Raises
    ------
    ColumnMappingError
        If a named column is missing (the message lists the columns there are).
    EvalToolkitError
        If a year is not a whole number, an estimate is missing or not positive, a site has two
        estimates for one year, ``start``/``end`` are not month starts, or linear extrapolation would need
        two estimates where there is one (or gives a population of zero or less).

    Examples
    --------
    30 June 2021: 1000 and 30 June 2022: 1365, so the population grows by exactly 1 a day. The middle of
    January 2022 (16 January, 12:00) is 200.5 days after 30 June 2021:

    >>> annual = pd.DataFrame({"site": ["A", "A"], "year": [2021, 2022], "population": [1000, 1365]})
    >>> monthly = monthly_population(annual, start="2022-01-01", end="2022-03-01")
    >>> monthly
      site     period  population
    0    A 2022-01-01      1200.5
    1    A 2022-02-01      1230.0
    >>> _, findings = monthly_population(annual, start="2021-01-01", end="2023-01-01", with_findings=True)
    >>> [(f.rule, f.n_rows) for f in findings]
    [('population_interpolated', 12), ('population_extrapolated', 12)]
    """
    if not isinstance(annual, pd.DataFrame):
        raise EvalToolkitError(f"monthly_population needs a pandas DataFrame, got {type(annual).__name__}")
    missing = [c for c in (by, year, population) if c not in annual.columns]
    if missing:
        raise ColumnMappingError(
            f"population estimates: column {', '.join(repr(c) for c in missing)} is missing; its columns "
            f"are: {', '.join(str(c) for c in annual.columns)} (name them with by=, year=, population=)"
        )
    if annual.empty:
        raise EvalToolkitError("population estimates are empty: there is no row to interpolate between")
    if extrapolate not in ("constant", "linear"):
        raise EvalToolkitError(f"extrapolate must be 'constant' or 'linear', got {extrapolate!r}")
    if at not in ("middle", "start"):
        raise EvalToolkitError(f"at must be 'middle' or 'start', got {at!r}")
    ref_month, ref_day = _reference(reference)
    rows = row_numbers(annual)
    years = pd.to_numeric(annual[year].astype(object).map(_strip_text), errors="coerce")
    bad_year = years.isna() | (years.fillna(0) % 1 != 0)
    if bad_year.any():
        first = annual.loc[bad_year, year].iloc[0]
        raise EvalToolkitError(
            f"population estimates: column {year!r} must hold whole years such as 2021; "
            f"{int(bad_year.sum())} row(s) do not (rows {format_rows(rows[bad_year.to_numpy()])}, "
            f"e.g. {first!r})"
        )
    values = pd.to_numeric(annual[population].astype(object).map(_strip_text), errors="coerce")
    bad_value = values.isna() | ~(values > 0) | ~np.isfinite(values.fillna(0))
    if bad_value.any():
        first = annual.loc[bad_value, population].iloc[0]
        raise EvalToolkitError(
            f"population estimates: column {population!r} must be positive numbers; {int(bad_value.sum())} "
            f"row(s) are not (rows {format_rows(rows[bad_value.to_numpy()])}, e.g. {first!r})"
        )
    groups = annual[by].astype(object).map(_strip_text)
    if groups.isna().any():
        raise EvalToolkitError(
            f"population estimates: column {by!r} is empty in rows "
            f"{format_rows(rows[groups.isna().to_numpy()])}"
        )
    table = pd.DataFrame(
        {
            "group": groups.to_numpy(),
            "year": years.astype("int64").to_numpy(),
            "value": values.astype("float64").to_numpy(),
            "row": rows,
        }
    )
    dup = table.duplicated(["group", "year"], keep=False)
    if dup.any():
        first = table.loc[dup].iloc[0]
        raise EvalToolkitError(
            f"population estimates: {by} {first['group']!r} has more than one estimate for {first['year']} "
            f"(rows {format_rows(table.loc[dup, 'row'].to_numpy())}); keep one per {by} and year"
        )
    table["ref"] = [pd.Timestamp(year=int(y), month=ref_month, day=ref_day) for y in table["year"]]
    first_ref, last_ref = table["ref"].min(), table["ref"].max()
    start_ts = _month(start, "start", first_ref.to_period("M").start_time)
    end_ts = _month(end, "end", (last_ref.to_period("M") + 1).start_time)
    if not start_ts < end_ts:
        raise EvalToolkitError(f"start {start_ts.date()} must be before end {end_ts.date()}")
    periods = pd.date_range(start_ts, end_ts, freq="MS", inclusive="left")
    if at == "middle":
        days = periods.days_in_month.to_numpy()
        points = periods + pd.to_timedelta(days / 2.0, unit="D")
    else:
        points = periods
    out_frames = []
    n_inter: dict[str, int] = {}
    n_extra: dict[str, int] = {}
    for group, sub in table.sort_values(["group", "ref"]).groupby("group", sort=True):
        x = (sub["ref"] - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy() / 86400.0
        y = sub["value"].to_numpy()
        t = (points - pd.Timestamp("1970-01-01")).total_seconds().to_numpy() / 86400.0
        inside = (t >= x[0]) & (t <= x[-1])
        est = np.interp(t, x, y)  # constant beyond the ends
        if extrapolate == "linear" and not inside.all():
            if len(x) < 2:
                raise EvalToolkitError(
                    f"population estimates: {by} {group!r} has one estimate ({int(sub['year'].iloc[0])}); "
                    "linear extrapolation needs two. Use extrapolate='constant' or add an estimate"
                )
            before, after = t < x[0], t > x[-1]
            est[before] = y[0] + (y[1] - y[0]) / (x[1] - x[0]) * (t[before] - x[0])
            est[after] = y[-1] + (y[-1] - y[-2]) / (x[-1] - x[-2]) * (t[after] - x[-1])
            if (est <= 0).any():
                raise EvalToolkitError(
                    f"population estimates: linear extrapolation for {by} {group!r} reaches zero or less "
                    f"by {periods[np.flatnonzero(est <= 0)[0]].date()}; use extrapolate='constant'"
                )
        n_inter[str(group)] = int(inside.sum())
        n_extra[str(group)] = int((~inside).sum())
        out_frames.append(pd.DataFrame({by: group, "period": periods, "population": est}))
    out = pd.concat(out_frames, ignore_index=True)
    out["period"] = out["period"].astype("datetime64[us]")
    if not with_findings:
        return out
    ref_text = pd.Timestamp(year=2001, month=ref_month, day=ref_day).strftime("%d %B")
    point = "the middle of each month" if at == "middle" else "the first day of each month"
    findings = [
        Finding(
            "population_interpolated",
            population,
            "fixable",
            sum(n_inter.values()),
            0,
            "",
            "monthly population interpolated linearly between annual estimates",
            f"estimates on {ref_text} of each year, interpolated linearly to {point}; months per {by}: "
            + ", ".join(f"{g} {n}" for g, n in n_inter.items()),
        ),
        Finding(
            "population_extrapolated",
            population,
            "fixable",
            sum(n_extra.values()),
            0,
            "",
            "nearest estimate carried (held constant)"
            if extrapolate == "constant"
            else "line through the two nearest estimates extended",
            f"months before the first or after the last estimate ({ref_text}); months per {by}: "
            + ", ".join(f"{g} {n}" for g, n in n_extra.items()),
            f"{sum(n_extra.values())} month(s) of population extrapolated ({extrapolate})"
            if sum(n_extra.values())
            else "",
        ),
    ]
    return out, findings


def _strip_text(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return value


def _month(value: Any, what: str, default: pd.Timestamp) -> pd.Timestamp:
    if value is None:
        return default
    ts = parse_date(value, what=what)
    if ts != ts.to_period("M").start_time:
        raise EvalToolkitError(f"{what} {ts.date()} must be the first day of a month")
    return ts
