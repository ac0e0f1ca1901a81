"""Checks on a series before it is modelled: gaps, empty stretches, partial periods, bed-day warm-up.

A series built from an extract can be wrong in ways no row-level rule sees: a month the extract
lost (1 event where the neighbours have 20), an extract date later than the last event (months of
zeros at the end), a window that starts or ends mid-month, a last month thinning out because recent
records had not yet been coded, or occupied bed-days that are too low in the first months because
spells admitted before the window are not in the extract. These functions find them; they never change
the series.

:func:`~evaltoolkit.series.check_series`
    One row per finding, columns :data:`~evaltoolkit.series.CHECK_COLUMNS`. ``severity`` is
    ``"error"`` when the series cannot be modelled as it stands (``all_zero``, ``mostly_missing``,
    ``before_data_start``, ``after_data_end``, ``no_data_gap``) and ``"warning"`` otherwise
    (``abnormal_count``, ``partial_period``).
:func:`~evaltoolkit.series.check_event_dates`
    Partial first and last periods seen in the event dates: events thinning out near the extract date
    or starting late in the first period (``partial_first_period``, ``partial_last_period``; warnings).
:func:`~evaltoolkit.series.bed_day_warmup`
    The share of each early period's occupied bed-days that is missing because spells admitted before
    the window are absent, estimated from the length-of-stay distribution; ``warm_up`` marks the
    periods whose share is at or above the threshold (default 5%).

The rules
---------
**abnormal_count** (counts only). Each period is compared with the *median of its neighbours*: the
six periods either side (fewer at the ends; at least two needed), the period itself left out, so a
gap does not hide itself. The spread is quasi-Poisson: variance = φ × mean, with φ estimated robustly
from the whole series as the squared scaled median absolute deviation (1.4826 × MAD) of the Pearson
residuals ``(y − m) / √m``, and at least 1. The tail probability of the observed count is taken from
a negative binomial with that mean and variance (Poisson when φ = 1). A period is flagged when the
tail probability is below ``p_threshold`` (default 10⁻⁴) **and** the count differs from the neighbours'
median by at least ``min_change`` (default 30%) of it. At these defaults a month with 1 event among
neighbours of 20 is flagged (p ≈ 4 × 10⁻⁸), a month of 12 among neighbours of 20 is not (p ≈ 0.04).
Measured false-positive rate: no flag in the bundled synthetic series (project_air: three monthly
series of 72 months and one quarterly at four sites), and 16 flags in 43,200 months (3.7 in 10,000)
of 600 simulated gap-free series of 72 months (means 3 to 1,000 a month; trend, seasonality, a 20%
level change, AR(1) shocks and gamma overdispersion as in :mod:`evaltoolkit.synth`). In the same
simulation a month of 1 among neighbours of 20 was flagged 98% of the time; a month losing half its
events (10 among 20) 2.5% of the time: the rule finds gaps, not shortfalls of that size
(``tests/test_series_checks.py`` repeats a smaller simulation and requires fewer than 1 flag in 1,000
months).

Occupied bed-days are sums of stays, correlated from month to month (a few long stays ending make a
month look low), so they are not quasi-Poisson counts: check the **admissions** behind a bed-day series
for gaps, and use :func:`~evaltoolkit.series.bed_day_warmup` for its first months.

**before_data_start / after_data_end** (counts only). A run of zero periods at the start or end of the
series whose probability under the level of the adjacent periods (median of up to 12 of them, same
negative binomial) is below ``p_threshold``: the window starts before the data or the extract date lies
after the last event. Errors: fitting those zeros would report a fall that is an artefact.

**no_data_gap** (counts only). A run of two or more zero periods inside the series, improbable under
the median of the six periods either side of it (same negative binomial, below ``p_threshold``): months the
extract lacks. Error.

**all_zero**: no events in any period. **mostly_missing**: more than ``max_missing_fraction`` (default
0.5) of the periods have no value (a mean with no events behind it) or, for counts, lie in the empty runs
above. Errors.

**partial_period**: the window's start or end is not the first day of a period, so the first or last
period covers only some of its days (its count is too low by construction). Warning.

**partial_first_period / partial_last_period** (:func:`~evaltoolkit.series.check_event_dates`):
within the first period of the window the events of its first half, within the last period those
of its second half, are too few for the halves' lengths: binomial tail probability below
``p_threshold``. This catches an extract whose last weeks are thin because
recent records are incomplete, or events that start late in the first period. Warnings.

**bed-day warm-up** (:func:`~evaltoolkit.series.bed_day_warmup`): with admissions arriving at a
steady rate and integer lengths of stay ``L`` (discharge date − admission date, the midnights
convention), the night ``d`` days after the start is occupied, in expectation, by
``Σ_{j≥0} P(L > j) = E[L]`` admissions' worth of spells, of which those admitted before the
extract's first admission day (``g`` days before the start) make
``Σ_{i>d+g} P(L > i)``. The missing share of a period is the mean of that ratio over its nights in the
window. ``P(L > i)`` is the Kaplan–Meier estimate from the spells admitted inside the window (open
spells censored at the extract date).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series._periods import coerce_date, parse_freq

__all__ = [
    "CHECK_COLUMNS",
    "WARMUP_COLUMNS",
    "bed_day_warmup",
    "check_event_dates",
    "check_series",
]

CHECK_COLUMNS: list[str] = [
    "series",
    "site",
    "period",
    "check",
    "severity",
    "observed",
    "expected",
    "p_value",
    "message",
]
"""Columns of a findings table: ``series``; ``site`` (the value of the ``by`` column, or ``None``);
``period`` (first day of the period concerned, ``NaT`` for the whole series); ``check`` (rule name);
``severity`` (``"error"`` or ``"warning"``); ``observed`` and ``expected`` (the figures compared, e.g.
the count and the neighbours' median); ``p_value`` (tail probability, where the rule has one);
``message`` (plain words, naming the series, site and period)."""

WARMUP_COLUMNS: list[str] = ["period", "missing_share", "warm_up"]
"""Columns of :func:`bed_day_warmup`: period start, expected share of its bed-days that is missing, and
whether that share is at or above the threshold."""

_NEIGHBOURS = 6
_LEVEL_SPAN = 12
_MAD_SCALE = 1.4826


def _plain_count(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _label(period: pd.Timestamp, freq: str) -> str:
    if pd.isna(period):
        return "all periods"
    if freq == "MS":
        return f"{period:%Y-%m}"
    if freq.startswith("QS"):
        return f"the period starting {period:%Y-%m-%d}"
    return f"{period:%Y-%m-%d}"


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame.from_records(rows, columns=CHECK_COLUMNS)
    out["period"] = pd.to_datetime(out["period"])
    for col in ("observed", "expected", "p_value"):
        out[col] = out[col].astype("float64")
    return out


def _cdf_low(y: np.ndarray, m: np.ndarray, phi: float) -> np.ndarray:
    """P(Y ≤ y) for mean m and variance φ·m (negative binomial; Poisson when φ = 1)."""
    from scipy import stats  # here, not at import: scipy.stats takes ~0.4 s to import

    if phi <= 1.0 + 1e-9:
        return stats.poisson.cdf(y, m)
    return stats.nbinom.cdf(y, m / (phi - 1.0), 1.0 / phi)


def _sf_high(y: np.ndarray, m: np.ndarray, phi: float) -> np.ndarray:
    """P(Y ≥ y) for mean m and variance φ·m."""
    from scipy import stats

    if phi <= 1.0 + 1e-9:
        return stats.poisson.sf(y - 1, m)
    return stats.nbinom.sf(y - 1, m / (phi - 1.0), 1.0 / phi)


def _neighbour_median(y: np.ndarray) -> np.ndarray:
    """Median of the up-to-3 periods either side of each period (itself excluded); NaN with < 2."""
    n = len(y)
    out = np.full(n, np.nan)
    for t in range(n):
        idx = [i for i in range(t - _NEIGHBOURS, t + _NEIGHBOURS + 1) if 0 <= i < n and i != t]
        vals = y[idx]
        vals = vals[np.isfinite(vals)]
        if len(vals) >= 2:
            out[t] = float(np.median(vals))
    return out


def _dispersion(y: np.ndarray, m: np.ndarray) -> float:
    ok = np.isfinite(y) & np.isfinite(m) & (m > 0)
    if ok.sum() < 5:
        return 1.0
    r = (y[ok] - m[ok]) / np.sqrt(m[ok])
    mad = float(np.median(np.abs(r - np.median(r))))
    return max(1.0, (_MAD_SCALE * mad) ** 2)


def _p_zero_run(level: float, k: int, phi: float) -> float:
    """Probability of k zero periods in a row at mean ``level`` (independent periods)."""
    p0 = float(_cdf_low(np.array([0.0]), np.array([level]), phi)[0])
    return p0**k


def _one_series(
    y: np.ndarray,
    periods: pd.DatetimeIndex,
    *,
    series: str,
    site: Any,
    freq: str,
    measure: str,
    p_threshold: float,
    min_change: float,
    max_missing_fraction: float,
    fmt: Callable[[float], str],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    where = f"series {series}" + (f" at {site}" if site is not None else "")
    n = len(y)

    def add(period: Any, check: str, severity: str, obs: float, exp: float, p: float, msg: str) -> None:
        rows.append(
            {
                "series": series,
                "site": site,
                "period": period,
                "check": check,
                "severity": severity,
                "observed": obs,
                "expected": exp,
                "p_value": p,
                "message": msg,
            }
        )

    missing = ~np.isfinite(y)
    if n and missing.mean() > max_missing_fraction:
        add(
            pd.NaT,
            "mostly_missing",
            "error",
            float(missing.sum()),
            float(n),
            math.nan,
            f"{where}: {int(missing.sum())} of {n} periods have no value (more than "
            f"{max_missing_fraction:.0%}); the series cannot be modelled",
        )
        return rows
    if measure != "count" or n == 0:
        return rows
    filled = np.where(missing, 0.0, y)
    if not (filled != 0).any():
        add(
            pd.NaT,
            "all_zero",
            "error",
            0.0,
            math.nan,
            math.nan,
            f"{where}: no events in any of the {n} periods ({_label(periods[0], freq)} to "
            f"{_label(periods[-1], freq)}); the series cannot be modelled",
        )
        return rows
    nz = np.flatnonzero(filled != 0)
    first, last = int(nz[0]), int(nz[-1])
    # neighbours and dispersion from the stretch between the first and last non-zero period, so that a
    # run of zeros at either end (checked next) does not distort them
    inner = np.where(missing, np.nan, y)[first : last + 1]
    m = np.full(n, np.nan)
    m[first : last + 1] = _neighbour_median(inner)
    phi = _dispersion(inner, m[first : last + 1])
    skip = np.zeros(n, dtype=bool)
    skip[:first] = True
    skip[last + 1 :] = True
    gap = np.zeros(n, dtype=bool)  # periods in runs of zeros judged to be missing data
    # runs of zeros at the ends
    for side, k in (("start", first), ("end", n - 1 - last)):
        if k == 0:
            continue
        ref = (
            filled[first : first + _LEVEL_SPAN]
            if side == "start"
            else filled[max(0, last + 1 - _LEVEL_SPAN) : last + 1]
        )
        level = float(np.median(ref))
        p = _p_zero_run(level, k, phi)
        if p >= p_threshold:
            continue
        span = slice(0, k) if side == "start" else slice(n - k, n)
        skip[span] = True
        gap[span] = True
        p0, p1 = periods[span][0], periods[span][-1]
        if side == "start":
            add(
                p0,
                "before_data_start",
                "error",
                0.0,
                level,
                p,
                f"{where}: no events in the first {k} periods ({_label(p0, freq)} to {_label(p1, freq)}) "
                f"although the next periods have a median of {fmt(level)} (probability {p:.1g}); the "
                "window starts before the data",
            )
        else:
            add(
                p0,
                "after_data_end",
                "error",
                0.0,
                level,
                p,
                f"{where}: no events in the last {k} periods ({_label(p0, freq)} to {_label(p1, freq)}) "
                f"although the periods before have a median of {fmt(level)} (probability {p:.1g}); the "
                "extract date is after the data end",
            )
    # runs of two or more zero periods inside the series: months the extract lacks
    t = first
    while t <= last:
        if filled[t] != 0:
            t += 1
            continue
        u = t
        while filled[u + 1] == 0:  # stops before `last`, which is non-zero
            u += 1
        k = u - t + 1
        if k >= 2:
            ref = np.concatenate(
                [filled[max(first, t - _NEIGHBOURS) : t], filled[u + 1 : u + 1 + _NEIGHBOURS]]
            )
            level = float(np.median(ref))
            p = _p_zero_run(level, k, phi)
            if p < p_threshold:
                skip[t : u + 1] = True
                gap[t : u + 1] = True
                add(
                    periods[t],
                    "no_data_gap",
                    "error",
                    0.0,
                    level,
                    p,
                    f"{where}: no events in {k} consecutive periods ({_label(periods[t], freq)} to "
                    f"{_label(periods[u], freq)}) although the periods around them have a median of "
                    f"{fmt(level)} (probability {p:.1g}); the extract appears to lack these periods",
                )
        t = u + 1
    if gap.sum() > max_missing_fraction * n:
        empty = int(gap.sum())
        add(
            pd.NaT,
            "mostly_missing",
            "error",
            float(empty),
            float(n),
            math.nan,
            f"{where}: {empty} of {n} periods have no data (more than {max_missing_fraction:.0%}); the "
            "series cannot be modelled",
        )
    # abnormal single periods
    ok = np.isfinite(m) & (m > 0) & ~skip & ~missing
    if ok.any():
        low = np.full(n, np.nan)
        high = np.full(n, np.nan)
        low[ok] = _cdf_low(filled[ok], m[ok], phi)
        high[ok] = _sf_high(filled[ok], m[ok], phi)
        for t in np.flatnonzero(ok):
            yt, mt = float(filled[t]), float(m[t])
            if low[t] < p_threshold and yt <= (1 - min_change) * mt:
                p, word = float(low[t]), "far below"
            elif high[t] < p_threshold and yt >= (1 + min_change) * mt:
                p, word = float(high[t]), "far above"
            else:
                continue
            hint = "a likely gap in the extract" if word == "far below" else "possibly duplicated records"
            add(
                periods[t],
                "abnormal_count",
                "warning",
                yt,
                mt,
                p,
                f"{where}, {_label(periods[t], freq)}: {fmt(yt)} is {word} the neighbouring periods' "
                f"median of {fmt(mt)} (probability {p:.1g}, dispersion {phi:.2f}): {hint}",
            )
    return rows


def _partial_rows(series: str, sites: Sequence[Any], freq: str, start: Any, end: Any) -> list[dict[str, Any]]:
    f = parse_freq(freq)
    rows = []
    for bound, which in ((start, "first"), (end, "last")):
        if bound is None:
            continue
        day = coerce_date(bound, "start" if which == "first" else "end")
        if which == "last":
            day_in = day - dt.timedelta(days=1)
            p_start = f.floor(day_in)
            p_end = f.start_of(f.index_of(day_in) + 1)
            if day == p_end:
                continue
            covered = (day - p_start).days
            what = f"the window ends on {day:%Y-%m-%d} (excluded)"
        else:
            p_start = f.floor(day)
            p_end = f.start_of(f.index_of(day) + 1)
            if day == p_start:
                continue
            covered = (p_end - day).days
            what = f"the window starts on {day:%Y-%m-%d}"
        total = (p_end - p_start).days
        period = pd.Timestamp(p_start)
        for site in sites:
            rows.append(
                {
                    "series": series,
                    "site": site,
                    "period": period,
                    "check": "partial_period",
                    "severity": "warning",
                    "observed": float(covered),
                    "expected": float(total),
                    "p_value": math.nan,
                    "message": f"series {series}"
                    + (f" at {site}" if site is not None else "")
                    + f": {what}, so the {which} period ({_label(period, f.code)}) covers {covered} of its "
                    f"{total} days and its count is low by construction",
                }
            )
    return rows


def check_series(
    series: pd.DataFrame,
    *,
    value: str = "value",
    period: str = "period",
    by: str | None = "site",
    name: str | None = None,
    freq: str = "MS",
    start: object | None = None,
    end: object | None = None,
    measure: Literal["count", "mean"] = "count",
    p_threshold: float = 1e-4,
    min_change: float = 0.3,
    max_missing_fraction: float = 0.5,
    count_format: Callable[[float], str] | None = None,
) -> pd.DataFrame:
    """Check a period series before modelling it; one row per finding.

    Parameters
    ----------
    series : pandas.DataFrame
        A zero-filled series, one row per period (and ``by`` group), e.g. from
        :func:`~evaltoolkit.series.count_events`. For bed-days check the admissions behind them (see the
        module notes) and :func:`bed_day_warmup`. A ``series``
        column, if present, is a further grouping (several series in one frame). Not modified.
    value : str, default "value"
        The column checked (e.g. ``count``).
    period : str, default "period"
        Period start column.
    by : str or None, default "site"
        Group column; each group is checked on its own (reported in the ``site`` column).
    name : str, optional
        Series name for the findings (default: the ``series`` column, else ``value``).
    freq : str, default "MS"
        The series' frequency (used for partial periods and labels).
    start, end : date-like, optional
        The half-open window the series was built on; a bound that is not the first day of a period
        gives a ``partial_period`` warning.
    measure : {"count", "mean"}, default "count"
        ``"count"`` (events: every check) or ``"mean"`` (e.g. mean length of stay: only
        ``mostly_missing`` and ``partial_period``).
    p_threshold : float, default 1e-4
        Tail probability below which a period (or run of zero periods) is flagged.
    min_change : float, default 0.3
        Least relative difference from the neighbours' median for ``abnormal_count``.
    max_missing_fraction : float, default 0.5
        Share of periods without a value above which the series is ``mostly_missing``.
    count_format : callable, optional
        Formats the counts quoted in messages (e.g. a small-number suppression rule); default plain.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHECK_COLUMNS`, errors first, then by series, site and period. Empty when
        nothing is found.

    Raises
    ------
    SeriesInputError
        ``value``, ``period`` or ``by`` is not a column, or ``p_threshold``/``min_change``/
        ``max_missing_fraction`` is out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({
    ...     "period": pd.date_range("2023-01-01", periods=9, freq="MS"),
    ...     "count": [20, 22, 19, 21, 1, 20, 18, 0, 0],
    ... })
    >>> found = check_series(s, value="count", by=None, end="2023-09-15")
    >>> found[["period", "check", "severity", "observed", "expected"]]
          period           check severity  observed  expected
    0 2023-08-01  after_data_end    error       0.0      20.0
    1 2023-05-01  abnormal_count  warning       1.0      20.0
    2 2023-09-01  partial_period  warning      14.0      30.0
    >>> print(found["message"][1])  # doctest: +NORMALIZE_WHITESPACE
    series count, 2023-05: 1 is far below the neighbouring periods' median of 20 (probability 4e-08,
    dispersion 1.00): a likely gap in the extract
    """
    if not 0 < p_threshold < 1 or not 0 <= min_change < 1 or not 0 <= max_missing_fraction < 1:
        raise SeriesInputError(
            f"p_threshold must be in (0, 1), min_change and max_missing_fraction in [0, 1) "
            f"(got p_threshold={p_threshold}, "
            f"min_change={min_change}, max_missing_fraction={max_missing_fraction})"
        )
    need = [c for c in (value, period, by) if c is not None]
    absent = [c for c in need if c not in series.columns]
    if absent:
        raise SeriesInputError(
            f"check_series: column(s) {absent} not in the series (columns: {list(series.columns)}); pass "
            "value=, period= or by= naming the columns"
        )
    fmt = count_format or _plain_count
    f = parse_freq(freq)
    keys = [c for c in ("series", by) if c is not None and c in series.columns]
    df = series.assign(_p=pd.to_datetime(series[period])).sort_values([*keys, "_p"])
    groups = df.groupby(keys, sort=True, dropna=False) if keys else [((), df)]
    rows: list[dict[str, Any]] = []
    partial_sites: dict[str, list[Any]] = {}
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        vals = dict(zip(keys, key, strict=True))
        label = name or (str(vals["series"]) if "series" in vals else value)
        site = vals.get(by) if by is not None else None
        partial_sites.setdefault(label, []).append(site)
        y = pd.to_numeric(g[value], errors="coerce").to_numpy(dtype="float64")
        rows += _one_series(
            y,
            pd.DatetimeIndex(g["_p"]),
            series=label,
            site=site,
            freq=f.code,
            measure=measure,
            p_threshold=p_threshold,
            min_change=min_change,
            max_missing_fraction=max_missing_fraction,
            fmt=fmt,
        )
    for label, sites in partial_sites.items():
        rows += _partial_rows(label, sites, f.code, start, end)
    out = _frame(rows)
    if len(out):
        order = out["severity"].map({"error": 0, "warning": 1})
        out = (
            out.assign(_o=order)
            .sort_values(["_o", "series", "site", "period"], kind="stable", na_position="first")
            .drop(columns="_o")
            .reset_index(drop=True)
        )
    return out


def check_event_dates(
    events: pd.DataFrame,
    *,
    date: str,
    start: object,
    end: object,
    by: str | None = None,
    freq: str = "MS",
    name: str = "events",
    p_threshold: float = 1e-4,
    count_format: Callable[[float], str] | None = None,
) -> pd.DataFrame:
    """Partial first and last periods seen in the event dates (thinning near the extract date).

    Within the first and the last period of the window ``[start, end)``, the events of each half are
    compared with the halves' lengths: the number in the later half of the last period (earlier half
    of the first) has a binomial distribution under a steady rate. A tail probability below ``p_threshold``
    is a ``partial_last_period`` (``partial_first_period``) warning: recent records are incomplete, or
    the data start after the window does.

    Parameters
    ----------
    events : pandas.DataFrame
        One row per event; not modified.
    date : str
        Event date(-time) column.
    start, end : date-like
        The half-open window.
    by : str, optional
        Group column (e.g. ``"site"``), checked group by group.
    freq : str, default "MS"
        Period frequency.
    name : str, default "events"
        Series name for the findings.
    p_threshold : float, default 1e-4
        Tail probability below which a period is flagged.
    count_format : callable, optional
        Formats the counts quoted in messages (e.g. a small-number suppression rule); default plain.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHECK_COLUMNS`; ``observed`` is the count in the thin half, ``expected`` its
        expectation from the whole period.

    Raises
    ------
    SeriesInputError
        ``date`` or ``by`` is not a column, or ``date`` has unparseable values.

    Examples
    --------
    >>> import pandas as pd
    >>> days = pd.date_range("2024-01-01", "2024-03-10", freq="8h")  # three a day, stopping on 10 March
    >>> found = check_event_dates(pd.DataFrame({"arrival": days}), date="arrival", start="2024-01-01",
    ...                           end="2024-04-01")
    >>> found[["period", "check", "observed", "expected"]].round({"expected": 1})
          period                check  observed  expected
    0 2024-03-01  partial_last_period       0.0      14.5
    """
    absent = [c for c in (date, by) if c is not None and c not in events.columns]
    if absent:
        raise SeriesInputError(f"check_event_dates: column(s) {absent} not in the events")
    try:
        when = pd.to_datetime(events[date])
    except (ValueError, TypeError) as exc:
        raise SeriesInputError(f"check_event_dates: column {date!r} has values that are not dates") from exc
    f = parse_freq(freq)
    fmt = count_format or _plain_count
    s, e = coerce_date(start, "start"), coerce_date(end, "end")
    day = when.dt.normalize()
    groups = events[by] if by is not None else pd.Series(None, index=events.index, dtype="object")
    sites = sorted(groups.dropna().unique()) if by is not None else [None]
    rows: list[dict[str, Any]] = []
    first_p0 = max(f.floor(s), s)
    first_p1 = min(f.start_of(f.index_of(s) + 1), e)
    last_p0 = max(f.floor(e - dt.timedelta(days=1)), s)
    last_p1 = e
    for site in sites:
        mask = (groups == site) if by is not None else pd.Series(True, index=events.index)
        d = day[mask.to_numpy(dtype=bool)]
        for which, (p0, p1) in (("first", (first_p0, first_p1)), ("last", (last_p0, last_p1))):
            n_days = (p1 - p0).days
            if n_days < 4:
                continue
            mid = p0 + dt.timedelta(days=n_days // 2)
            in_p = d[(d >= pd.Timestamp(p0)) & (d < pd.Timestamp(p1))]
            n = len(in_p)
            if n == 0:
                continue  # an empty period is a matter for check_series
            thin_days = (p1 - mid).days if which == "last" else (mid - p0).days
            share = thin_days / n_days
            thin = (in_p >= pd.Timestamp(mid)) if which == "last" else (in_p < pd.Timestamp(mid))
            k = int(thin.sum())
            from scipy import stats

            p = float(stats.binom.cdf(k, n, share))
            if p >= p_threshold:
                continue
            half = "second" if which == "last" else "first"
            period = pd.Timestamp(f.floor(p0))
            rows.append(
                {
                    "series": name,
                    "site": site,
                    "period": period,
                    "check": f"partial_{which}_period",
                    "severity": "warning",
                    "observed": float(k),
                    "expected": n * share,
                    "p_value": p,
                    "message": f"series {name}"
                    + (f" at {site}" if site is not None else "")
                    + f", {_label(period, f.code)}: only {fmt(k)} of the period's {fmt(n)} events fall in "
                    f"its {half} half ({thin_days} of {n_days} days; probability {p:.1g}): the {which} "
                    "period "
                    + (
                        "looks incomplete (records near the extract date missing?)"
                        if which == "last"
                        else "looks incomplete (the data start after the window does?)"
                    ),
                }
            )
    return _frame(rows)


def _los_survival(days: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Kaplan–Meier ``S[i] = P(L > i)`` for i = 0..max, integer durations; censored values are lower
    bounds (``L ≥ c``)."""
    top = int(days.max()) if len(days) else 0
    ends = np.bincount(days[observed], minlength=top + 1).astype(float)
    cens = np.bincount(days[~observed], minlength=top + 1).astype(float)
    at_risk = len(days) - np.concatenate([[0.0], np.cumsum(ends + cens)[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        hazard = np.where(at_risk > 0, ends / at_risk, 0.0)
    return np.cumprod(1.0 - hazard)


def bed_day_warmup(
    spells: pd.DataFrame,
    *,
    admitted: str,
    discharged: str,
    start: object,
    end: object | None = None,
    censor_at: object | None = None,
    freq: str = "MS",
    threshold: float = 0.05,
    admissions_from: object | None = None,
) -> pd.DataFrame:
    """Expected share of each early period's occupied bed-days that is missing because spells admitted
    before the extract's first admission day are absent (the bed-day warm-up).

    Parameters
    ----------
    spells : pandas.DataFrame
        One row per spell (cleaned); not modified. Missing ``discharged`` = open spell.
    admitted, discharged : str
        Admission and discharge date(-time) columns.
    start : date-like
        Window start (first night counted).
    end : date-like, optional
        Window end (excluded); default: the day after the latest admission or discharge.
    censor_at : date-like, optional
        Extract date, where open spells are censored (default ``end``).
    freq : str, default "MS"
        Period frequency of the bed-day series.
    threshold : float, default 0.05
        A period with a missing share at or above this is ``warm_up``.
    admissions_from : date-like, optional
        First day from which the extract holds every admission. Default: ``start`` (the usual cut:
        spells admitted in the window), unless the extract holds at least half as many spells in
        hospital on the night before ``start`` as the length-of-stay distribution predicts, in which
        case spells admitted before the window are present and no period is flagged.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`WARMUP_COLUMNS`: every period from the first until the first one below
        ``threshold`` (inclusive; all periods if none is), with ``missing_share`` (0–1) and ``warm_up``.
        ``int(result["warm_up"].sum())`` is the number of periods affected.

    Raises
    ------
    SeriesInputError
        A column is missing or unparseable, no spell is admitted inside the window, or ``threshold`` is
        not in (0, 1).

    Notes
    -----
    Assumes a steady admission rate around the start. Lengths of stay are whole days (discharge date −
    admission date); ``P(L > i)`` is the Kaplan–Meier estimate from spells admitted on or after
    ``admissions_from`` (open spells censored at ``censor_at``), so long stays still running at the
    extract date are not lost.

    Examples
    --------
    Every stay lasts 40 nights: on night ``d`` the spells admitted before the start make
    ``(39 − d) / 40`` of the beds, so January misses on average (39 + … + 9) / 31 / 40 = 60%,
    February (8 + … + 0) / 29 / 40 = 3.1%:

    >>> import pandas as pd
    >>> adm = pd.date_range("2024-01-01", "2024-12-31", freq="D")
    >>> sp = pd.DataFrame({"admitted": adm, "discharged": adm + pd.Timedelta(days=40)})
    >>> bed_day_warmup(sp, admitted="admitted", discharged="discharged", start="2024-01-01",
    ...                end="2025-01-01").round({"missing_share": 3})
          period  missing_share  warm_up
    0 2024-01-01          0.600     True
    1 2024-02-01          0.031    False
    """
    if not 0 < threshold < 1:
        raise SeriesInputError(f"threshold must be in (0, 1) (got {threshold})")
    absent = [c for c in (admitted, discharged) if c not in spells.columns]
    if absent:
        raise SeriesInputError(f"bed_day_warmup: column(s) {absent} not in the spells")
    try:
        a = pd.to_datetime(spells[admitted]).dt.normalize()
        d = pd.to_datetime(spells[discharged]).dt.normalize()
    except (ValueError, TypeError) as exc:
        raise SeriesInputError(
            f"bed_day_warmup: {admitted!r} or {discharged!r} has values that are not dates"
        ) from exc
    if a.isna().any():
        rows = np.flatnonzero(a.isna().to_numpy())[:5].tolist()
        raise SeriesInputError(f"bed_day_warmup: {admitted!r} is missing at 0-based positions {rows}")
    f = parse_freq(freq)
    s = pd.Timestamp(coerce_date(start, "start"))
    if end is None:
        e = pd.Timestamp(max(a.max(), d.max() if d.notna().any() else a.max())) + pd.Timedelta(days=1)
    else:
        e = pd.Timestamp(coerce_date(end, "end"))
    c = pd.Timestamp(coerce_date(censor_at, "censor_at")) if censor_at is not None else e
    inside = (a >= s) & (a < e)
    if not inside.any():
        raise SeriesInputError(
            f"bed_day_warmup: no spell is admitted inside the window {s:%Y-%m-%d} to {e:%Y-%m-%d}"
        )
    ai, di = a[inside], d[inside]
    observed = di.notna().to_numpy() & (di < c).to_numpy()
    stop = di.where(observed, c)
    los = ((stop - ai).dt.days.clip(lower=0)).to_numpy(dtype="int64")
    surv = _los_survival(los, observed)  # surv[i] = P(L > i)
    mean_los = float(surv.sum())
    tail = np.concatenate([np.cumsum(surv[::-1])[::-1], [0.0]])  # tail[x] = Σ_{i ≥ x} S(i)
    if admissions_from is None:
        rate = inside.sum() / max((min(e, c) - s).days, 1)
        expected = rate * float(tail[1]) if len(tail) > 1 else 0.0  # admitted before, in on night 0
        present = int(((a < s) & (d.isna() | (d > s))).sum())
        g = None if expected > 0 and present >= 0.5 * expected else 0
    else:
        g = (s - pd.Timestamp(coerce_date(admissions_from, "admissions_from"))).days
        if g < 0:
            raise SeriesInputError("admissions_from must not be after start")
    rows = []
    p_index = f.index_of(s.date())
    while True:
        p0 = pd.Timestamp(f.start_of(p_index))
        p1 = pd.Timestamp(f.start_of(p_index + 1))
        lo, hi = max(p0, s), min(p1, e)
        if lo >= hi:
            break
        if g is None or mean_los <= 0:
            share = 0.0
        else:
            nights = np.arange((lo - s).days, (hi - s).days) + g + 1
            share = float(np.mean(tail[np.minimum(nights, len(tail) - 1)])) / mean_los
        rows.append({"period": p0, "missing_share": share, "warm_up": share >= threshold})
        if share < threshold:
            break
        p_index += 1
    return pd.DataFrame(rows, columns=WARMUP_COLUMNS).astype({"warm_up": bool, "missing_share": float})
