"""Occupied bed-days per period (midnights convention), split across period boundaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import pandas as pd

from evaltoolkit.series._engine import Engine, Input, engine_aware, literal_date, to_pandas
from evaltoolkit.series._periods import ONE_DAY, coerce_date, epoch_day_expr, parse_freq, resolve_window
from evaltoolkit.series._spells import load_spells
from evaltoolkit.series._spine import as_list, check_levels, combos, complete

__all__ = ["bed_days"]


@engine_aware("spells")
def bed_days(
    spells: Input,
    *,
    admitted: str,
    discharged: str,
    freq: str = "MS",
    by: str | Sequence[str] | None = None,
    start: object | None = None,
    end: object | None = None,
    censor_at: object | None = None,
    levels: Mapping[str, Sequence[object]] | None = None,
    split_open: bool = False,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Occupied bed-days per period, zero-filled, with spells split across period boundaries.

    Convention: **occupied bed-days are midnights occupied**, and the night of date *d* (the midnight that
    ends *d*) belongs to the period of *d*. A spell admitted on date *A* and discharged on date *D* occupies
    the nights of *A*, *A* + 1, …, *D* − 1: a spell from 30 Jan to 2 Feb gives 2 bed-days in January (30, 31)
    and 1 in February (1 Feb); a same-day spell gives 0. Times of day are ignored.

    Parameters
    ----------
    spells : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
        One row per spell (a path to ``.parquet``/``.csv`` is read by DuckDB).
    admitted, discharged : str
        Admission and discharge date(-time) columns. A missing discharge means the spell is open.
    freq : str, default "MS"
        ``"MS"``, ``"W-MON"``, ``"QS"``, ``"YS"`` or ``"QS-<MON>"``/``"YS-<MON>"``.
    by : str or list of str, optional
        Grouping columns (e.g. ``"site"``, ``"ward_type"``).
    start, end : date-like, optional
        The half-open window ``[start, end)``: only nights in it are counted, so spells admitted before
        ``start`` contribute their nights inside the window. Default start: the first day of the earliest
        admission's period; default end: the first day of the period after the one holding the latest
        admission or occupied night.
    censor_at : date-like, optional
        The extract date. Open spells count as discharged on this date (their last night counted is the
        night before). Required if there are open spells.
    levels : mapping of str to list, optional
        Force these by-values onto the spine (see :func:`count_events`).
    split_open : bool, default False
        Also return ``open_bed_days``, the part of ``bed_days`` contributed by open spells. Open spells can
        dominate bed-days (a missing discharge on an old admission runs to the extract date), so check it.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        ``period``, the by columns, ``bed_days`` (int64) and, with ``split_open``, ``open_bed_days``
        (int64); sorted by (by, period). Summed over periods, ``bed_days`` equals the spells' lengths of
        stay in nights, each clipped to the window.

    Raises
    ------
    SeriesInputError
        Missing columns; missing or unparseable admission dates; unparseable discharge dates; discharge
        before admission; open spells without ``censor_at``; open spells admitted after ``censor_at``.
        Messages name the column and the first row numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> spells = pd.DataFrame({
    ...     "admitted": pd.to_datetime(["2024-01-30 22:00", "2024-02-27 09:00", "2024-02-10 15:00"]),
    ...     "discharged": pd.to_datetime(["2024-02-02 11:00", "2024-03-02 10:00", None]),
    ... })
    >>> bed_days(spells, admitted="admitted", discharged="discharged", censor_at="2024-03-05",
    ...          split_open=True)
          period  bed_days  open_bed_days
    0 2024-01-01         2              0
    1 2024-02-01        24             20
    2 2024-03-01         5              4
    """
    f = parse_freq(freq)
    by_cols = as_list(by)
    check_levels(by_cols, levels, reserved=["bed_days", "open_bed_days"])
    censor = None if censor_at is None else coerce_date(censor_at, "censor_at")
    sp = load_spells(
        spells, admitted=admitted, discharged=discharged, by=by_cols, censor_at=censor, require_censor=True
    )
    first_admission = sp.first("_et_a_first")
    last_final = sp.last("_et_D_last")
    candidates = [d for d in (sp.last("_et_a_last"), last_final and last_final - ONE_DAY) if d is not None]
    window = resolve_window(
        f, start, end, data_first=first_admission, data_last=max(candidates) if candidates else None
    )

    u = sp.table()
    clipped = u.mutate(
        _et_lo=ibis.greatest(u._et_a, literal_date(window.start)),
        _et_hi=ibis.least(u._et_D, literal_date(window.end)),
    )
    clipped = clipped.filter(clipped._et_lo < clipped._et_hi)
    # Materialise start/stop of the period range as plain columns before ibis.range (see scale.md,
    # pitfall 6: a compound start expression inside ibis.range compiles wrongly on PySpark).
    bounds = clipped.select(
        *by_cols,
        _et_open=clipped._et_open,
        _et_lo_day=epoch_day_expr(clipped._et_lo),
        _et_hi_day=epoch_day_expr(clipped._et_hi),
        _et_p0=f.index_expr(clipped._et_lo),
        _et_p1=f.index_expr(clipped._et_hi - ibis.interval(days=1)) + 1,
    )
    expanded = bounds.mutate(_et_p=ibis.range(bounds._et_p0, bounds._et_p1, 1).unnest())
    joined = expanded.join(window.calendar(), "_et_p")
    nights = ibis.least(joined._et_hi_day, joined._et_pe) - ibis.greatest(joined._et_lo_day, joined._et_ps)
    agg = joined.group_by([*by_cols, "_et_p"]).aggregate(
        bed_days=nights.sum(),
        open_bed_days=ibis.ifelse(joined._et_open, nights, 0).sum(),
    )
    counts = ["bed_days", "open_bed_days"] if split_open else ["bed_days"]
    return complete(window, combos(sp.profile, by_cols, levels), by_cols, [to_pandas(agg)], counts=counts)
