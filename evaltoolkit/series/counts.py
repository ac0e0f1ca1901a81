"""Counts of events (attendances, admissions, contacts) per period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from evaltoolkit.series._engine import Engine, Input, engine_aware, literal_date, to_pandas
from evaltoolkit.series._events import load_events
from evaltoolkit.series._periods import parse_freq, resolve_window
from evaltoolkit.series._spine import as_list, check_levels, combos, complete

__all__ = ["count_events"]


@engine_aware("events")
def count_events(
    events: Input,
    *,
    date: str,
    freq: str = "MS",
    by: str | Sequence[str] | None = None,
    start: object | None = None,
    end: object | None = None,
    levels: Mapping[str, Sequence[object]] | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Count events per period, zero-filled.

    Parameters
    ----------
    events : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
        One row per event. A path to a ``.parquet`` or ``.csv`` file is read by DuckDB (no pandas), so files
        of 10^7–10^8 rows work.
    date : str
        Column with the event date or date-time (date-times count on their calendar date; strings must be
        ISO 8601).
    freq : str, default "MS"
        ``"MS"`` calendar months, ``"W-MON"`` weeks starting Monday, ``"QS"`` quarters, ``"YS"`` years, or
        ``"QS-<MON>"``/``"YS-<MON>"`` (e.g. ``"YS-APR"`` for UK financial years).
    by : str or list of str, optional
        Grouping columns (e.g. ``"site"``). Missing group values form their own group.
    start, end : date-like, optional
        The half-open window ``[start, end)``. Periods are those whose start lies in
        ``[period_floor(start), end)``. Default start: the first day of the earliest event's period;
        default end: the first day of the period after the latest event's.
    levels : mapping of str to list, optional
        Force these values of by columns onto the spine (e.g. ``{"site": ["A", "B", "C"]}`` gives site C
        zero rows even with no events). Without it the spine has every by-combination seen in the input
        (anywhere in the input, also outside the window).
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        ``period`` (datetime64, period start), the by columns, ``count`` (int64), one row per by-group and
        period, sorted by (by, period), with zero counts for periods without events.

    Raises
    ------
    SeriesInputError
        A column is missing, or ``date`` has missing or unparseable values (the message names the column
        and the first row numbers). Clean the extract first (see :mod:`evaltoolkit.data`).
    ValueError
        Unsupported ``freq``, empty window, or ``levels`` for a column that is not in ``by``.

    Notes
    -----
    Events outside ``[start, end)`` are not counted. That is the point of a window, so it is not an error;
    pass a wider window (or none) to count everything.

    Examples
    --------
    >>> import pandas as pd
    >>> att = pd.DataFrame({
    ...     "site": ["A", "A", "B"],
    ...     "arrival": pd.to_datetime(["2024-01-05 10:00", "2024-03-02 23:10", "2024-01-20 08:00"]),
    ... })
    >>> count_events(att, date="arrival", by="site")
          period site  count
    0 2024-01-01    A      1
    1 2024-02-01    A      0
    2 2024-03-01    A      1
    3 2024-01-01    B      1
    4 2024-02-01    B      0
    5 2024-03-01    B      0
    """
    f = parse_freq(freq)
    by_cols = as_list(by)
    check_levels(by_cols, levels, reserved=["count"])
    ev = load_events(events, date=date, by=by_cols)
    window = resolve_window(
        f,
        start,
        end,
        data_first=ev.first,
        data_last=ev.last,
    )
    u = ev.table()
    inside = u.filter((u._et_d >= literal_date(window.start)) & (u._et_d < literal_date(window.end)))
    keyed = inside.mutate(_et_p=f.index_expr(inside._et_d))
    agg = keyed.group_by([*by_cols, "_et_p"]).aggregate(count=keyed.count())
    return complete(window, combos(ev.profile, by_cols, levels), by_cols, [to_pandas(agg)], counts=["count"])
