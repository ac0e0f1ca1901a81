"""Frequent attenders: patients with at least ``threshold`` attendances in ``window_months`` months."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series._engine import Engine, Input, engine_aware, literal_date, to_pandas
from evaltoolkit.series._events import Events, load_events
from evaltoolkit.series._periods import (
    coerce_date,
    month_index_expr,
    month_start,
    parse_freq,
    resolve_window,
)
from evaltoolkit.series._spine import as_list, check_levels, combos, complete

__all__ = ["frequent_attender_series", "frequent_attenders"]


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SeriesInputError(f"{name} must be a whole number >= 1, not {value!r}")
    return value


def _with_ids(ev: Events, subject: str, stacklevel: int = 3) -> ir.Table:
    """Prepared events with a patient id; warn about (and leave out) rows without one."""
    n = ev.n_no_id
    if n:
        warnings.warn(
            f"{n} events row(s) have no {subject!r} and cannot be attributed to a patient; they are left out "
            "of the frequent-attender counts",
            UserWarning,
            stacklevel=stacklevel,
        )
    t = ev.table()
    return t.filter(t[subject].notnull())


def _rolling_month_totals(t: ir.Table, keys: list[str], window_months: int) -> ir.Table:
    """Per key and target month ``_et_t``: attendances in the ``window_months`` months ending with ``_et_t``.

    Integer month-index formulation: attendances are counted per month ``m``, and each monthly count is
    spread over the windows that contain it, i.e. target months ``m .. m + window_months - 1``.
    """
    monthly = (
        t.mutate(_et_m=month_index_expr(t._et_d)).group_by([*keys, "_et_m"]).aggregate(_et_n=ibis._.count())
    )
    bounds = monthly.mutate(_et_t0=monthly._et_m, _et_t1=monthly._et_m + window_months)
    spread = bounds.mutate(_et_t=ibis.range(bounds._et_t0, bounds._et_t1, 1).unnest())
    return spread.group_by([*keys, "_et_t"]).aggregate(_et_s=spread._et_n.sum())


@renamed_kwargs(patient="subject")
@engine_aware("events")
def frequent_attenders(
    events: Input,
    *,
    subject: str,
    date: str,
    threshold: int = 5,
    window_months: int = 12,
    at: object | None = None,
    by: str | Sequence[str] | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Attendances per patient in a ``window_months``-month window, and whether they are a frequent attender.

    Parameters
    ----------
    events : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
        One row per attendance.
    subject : str
        The person-id column (formerly ``patient=``, deprecated). Rows without an id are left out, with a
        ``UserWarning`` saying how many.
    date : str
        Attendance date(-time) column.
    threshold : int, default 5
        A patient is frequent with at least this many attendances in the window.
    window_months : int, default 12
        Window length in calendar months.
    at : date-like, optional
        If given, the window is the ``window_months`` months ending at (and excluding) ``at``:
        ``[at − window_months months, at)`` (month arithmetic clamps to month ends, e.g. 31 Mar − 1 month =
        29 Feb). If not given, each patient's count is the **maximum over every run of window_months
        consecutive calendar months** (e.g. Feb 2023–Jan 2024), and the window columns show the earliest
        such run reaching it. This matches :func:`frequent_attender_series` with ``freq="MS"``: a patient
        is frequent here exactly when they are counted as frequent in some month of that series.
    by : str or list of str, optional
        Count per patient within each by-group (e.g. per site) instead of per patient overall.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        One row per patient (and by-group) seen in the data: the by columns, the patient column,
        ``window_start``, ``window_end`` (datetime64; the window is ``[window_start, window_end)``),
        ``attendances`` (int64; 0 if none in the window) and ``frequent`` (bool); sorted by (by, subject).

    Examples
    --------
    >>> import pandas as pd
    >>> att = pd.DataFrame({
    ...     "patient_id": ["p1"] * 5 + ["p2"] * 2,
    ...     "arrival": pd.to_datetime(["2023-02-10", "2023-05-01", "2023-08-20", "2023-11-30", "2024-01-31",
    ...                                "2023-06-01", "2024-03-01"]),
    ... })
    >>> print(frequent_attenders(att, subject="patient_id", date="arrival").to_string())
      patient_id window_start window_end  attendances  frequent
    0         p1   2023-02-01 2024-02-01            5      True
    1         p2   2023-04-01 2024-04-01            2     False
    >>> print(frequent_attenders(att, subject="patient_id", date="arrival", at="2024-02-10").to_string())
      patient_id window_start window_end  attendances  frequent
    0         p1   2023-02-10 2024-02-10            5      True
    1         p2   2023-02-10 2024-02-10            1     False
    """
    threshold = _check_positive("threshold", threshold)
    window_months = _check_positive("window_months", window_months)
    by_cols = as_list(by)
    keys = [*by_cols, subject]
    ev = load_events(events, date=date, by=by_cols, subject=subject)
    t = _with_ids(ev, subject)
    if at is not None:
        end = coerce_date(at, "at")
        begin = (pd.Timestamp(end) - pd.DateOffset(months=window_months)).date()
        inside = (t._et_d >= literal_date(begin)) & (t._et_d < literal_date(end))
        agg = t.group_by(keys).aggregate(attendances=ibis.ifelse(inside, 1, 0).sum())
        out = to_pandas(agg)
        out["window_start"] = pd.Timestamp(begin)
        out["window_end"] = pd.Timestamp(end)
    else:
        totals = _rolling_month_totals(t, keys, window_months)
        best = totals.mutate(_et_max=totals._et_s.max().over(ibis.window(group_by=keys)))
        best = best.filter(best._et_s == best._et_max)
        agg = best.group_by(keys).aggregate(attendances=best._et_s.max(), _et_t=best._et_t.min())
        out = to_pandas(agg)
        last = out["_et_t"].astype("int64").to_numpy()
        out["window_start"] = _month_starts(last - window_months + 1)
        out["window_end"] = _month_starts(last + 1)
    out["attendances"] = out["attendances"].astype("int64")
    out["frequent"] = out["attendances"] >= threshold
    for c in ("window_start", "window_end"):
        out[c] = out[c].astype("datetime64[us]")
    cols = [*keys, "window_start", "window_end", "attendances", "frequent"]
    return out[cols].sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def _month_starts(months: np.ndarray) -> np.ndarray:
    return np.array([month_start(int(m)) for m in months], dtype="datetime64[D]").astype("datetime64[us]")


@renamed_kwargs(patient="subject")
@engine_aware("events")
def frequent_attender_series(
    events: Input,
    *,
    subject: str,
    date: str,
    threshold: int = 5,
    window_months: int = 12,
    freq: str = "MS",
    by: str | Sequence[str] | None = None,
    start: object | None = None,
    end: object | None = None,
    levels: Mapping[str, Sequence[object]] | None = None,
    data_start: object | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Number of frequent attenders per period, counted over the ``window_months`` months ending with it.

    For each period, the window is the ``window_months`` calendar months ending at the period's end, e.g.
    for January 2024 with 12 months: February 2023 – January 2024. Attendances before ``start`` are used
    for that look-back; attendances on or after ``end`` are not counted.

    Parameters
    ----------
    events, subject, date, threshold, window_months, by
        As in :func:`frequent_attenders`.
    freq : str, default "MS"
        A month-based frequency (``"MS"``, ``"QS"``, ``"YS"``, ``"QS-<MON>"``, ``"YS-<MON>"``); weekly
        periods do not end on month boundaries and are rejected.
    start, end, levels
        As in :func:`count_events`: they choose the periods reported.
    data_start : date-like, optional
        First day covered by the extract; windows starting before it are flagged incomplete. Default: the
        first day of the month of the earliest attendance.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        ``period``, the by columns, ``attenders`` (patients with at least one attendance in the window),
        ``frequent_attenders`` (patients with at least ``threshold``) and ``window_complete`` (bool: the
        window lies within ``[data_start, end)``, so early periods read low until a full look-back exists);
        sorted by (by, period).

    Examples
    --------
    >>> import pandas as pd
    >>> att = pd.DataFrame({
    ...     "patient_id": ["p1", "p1", "p1", "p2"],
    ...     "arrival": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-03-15", "2024-02-01"]),
    ... })
    >>> out = frequent_attender_series(att, subject="patient_id", date="arrival", threshold=3,
    ...                                window_months=2)
    >>> print(out.to_string())
          period  attenders  frequent_attenders  window_complete
    0 2024-01-01          1                   0            False
    1 2024-02-01          2                   0             True
    2 2024-03-01          2                   0             True
    """
    threshold = _check_positive("threshold", threshold)
    window_months = _check_positive("window_months", window_months)
    f = parse_freq(freq)
    if f.weekly:
        raise SeriesInputError(
            "frequent_attender_series needs a month-based freq (MS, QS, YS, ...), not W-MON"
        )
    by_cols = as_list(by)
    check_levels(by_cols, levels, reserved=["attenders", "frequent_attenders", "window_complete"])
    ev = load_events(events, date=date, by=by_cols, subject=subject)
    window = resolve_window(f, start, end, data_first=ev.first, data_last=ev.last)
    first = ev.first
    covered_from: dt.date | None = (
        coerce_date(data_start, "data_start")
        if data_start is not None
        else (first.replace(day=1) if first is not None else None)
    )
    t = _with_ids(ev, subject)
    t = t.filter(t._et_d < literal_date(window.end))
    totals = _rolling_month_totals(t, [*by_cols, subject], window_months)
    keyed = totals.mutate(_et_p=f.index_of_month_expr(totals._et_t))
    last_month = (keyed._et_p + 1) * f.step + f.anchor - 1
    keyed = keyed.filter(
        (keyed._et_t == last_month) & (keyed._et_p >= window.first) & (keyed._et_p < window.stop)
    )
    agg = keyed.group_by([*by_cols, "_et_p"]).aggregate(
        attenders=keyed.count(),
        frequent_attenders=(keyed._et_s >= threshold).sum(),
    )
    out = complete(
        window,
        combos(ev.profile, by_cols, levels),
        by_cols,
        [to_pandas(agg)],
        counts=["attenders", "frequent_attenders"],
    )
    periods = np.asarray(window.indices)
    last_months = np.array([f.last_month_of(int(p)) for p in periods])
    starts = np.array([month_start(int(m)) for m in last_months - window_months + 1])
    ends = np.array([month_start(int(m) + 1) for m in last_months])
    ok = (ends <= window.end) & (starts >= covered_from if covered_from is not None else True)
    complete_by_period = dict(zip(window.period_starts().to_numpy(), ok, strict=True))
    out["window_complete"] = out["period"].map(complete_by_period).astype(bool)
    return out
