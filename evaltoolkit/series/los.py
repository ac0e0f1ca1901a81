"""Length of stay: per spell, and summarised per period (by discharge and by admission)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from evaltoolkit.series._engine import Engine, Input, engine_aware, literal_date, per_row_output, to_pandas
from evaltoolkit.series._periods import coerce_date, parse_freq, resolve_window
from evaltoolkit.series._spells import load_spells
from evaltoolkit.series._spine import as_list, check_levels, combos, complete

__all__ = ["length_of_stay", "los_by_period"]

_LOS_COLUMNS = [
    "admissions",
    "discharges",
    "mean_los_discharged",
    "median_los_discharged",
    "mean_los_admitted",
    "median_los_admitted",
    "open_admitted",
]


@engine_aware("spells")
def length_of_stay(
    spells: Input,
    *,
    admitted: str,
    discharged: str,
    censor_at: object | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Length of stay of each spell, in days (= midnights).

    Parameters
    ----------
    spells : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
        One row per spell.
    admitted, discharged : str
        Admission and discharge date(-time) columns; a missing discharge means the spell is open.
    censor_at : date-like, optional
        The extract date. If given, open spells get ``los_days`` up to this date (a censored, lower-bound
        length); if not, their ``los_days`` is missing (``<NA>``).
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        The input rows in input order (all columns; a DataFrame input is copied, never modified) with a
        RangeIndex, plus ``los_days`` (``Int64``: discharge date − admission date in days, times of day
        ignored; a same-day spell has 0) and ``open`` (bool: discharge missing).

    Raises
    ------
    SeriesInputError
        Missing columns, missing/unparseable admission dates, unparseable discharge dates, discharge before
        admission, open spells admitted after ``censor_at``.

    Examples
    --------
    >>> import pandas as pd
    >>> spells = pd.DataFrame({
    ...     "spell_id": ["s1", "s2", "s3"],
    ...     "admitted": pd.to_datetime(["2024-01-30", "2024-02-27", "2024-03-10"]),
    ...     "discharged": pd.to_datetime(["2024-02-02", "2024-02-27", None]),
    ... })
    >>> length_of_stay(spells, admitted="admitted", discharged="discharged")
      spell_id   admitted discharged  los_days   open
    0       s1 2024-01-30 2024-02-02         3  False
    1       s2 2024-02-27 2024-02-27         0  False
    2       s3 2024-03-10        NaT      <NA>   True
    """
    censor = None if censor_at is None else coerce_date(censor_at, "censor_at")
    sp = load_spells(spells, admitted=admitted, discharged=discharged, censor_at=censor, keep_all=True)
    u = sp.prepare(sp.source.numbered())
    result = u.mutate(los_days=u._et_D.delta(u._et_a, unit="day").cast("int64"), open=u._et_open)
    return per_row_output(sp.source, result, {"los_days": "Int64", "open": "bool"})


@engine_aware("spells")
def los_by_period(
    spells: Input,
    *,
    admitted: str,
    discharged: str,
    freq: str = "MS",
    by: str | Sequence[str] | None = None,
    start: object | None = None,
    end: object | None = None,
    levels: Mapping[str, Sequence[object]] | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Admissions, discharges and length of stay per period, zero-filled.

    Two views of LOS are reported, because they answer different questions:

    * **by discharge** (``*_los_discharged``): completed spells discharged in the period, whenever they
      were admitted. This is the standard published measure (NHS, AIHW count separations), but a fall in
      long stays shows up late, when those spells finally end.
    * **by admission** (``*_los_admitted``): spells admitted in the period that have been discharged by the
      end of the extract. Recent periods are biased low (only the short stays have ended yet); see
      ``open_admitted`` for how many are still open.

    LOS is in days (= midnights): discharge date − admission date.

    Parameters
    ----------
    spells : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
        One row per spell.
    admitted, discharged : str
        Admission and discharge date(-time) columns; a missing discharge means the spell is open. Open
        spells count as admissions (and in ``open_admitted``) but never in LOS statistics, so no
        ``censor_at`` is needed.
    freq, by, start, end, levels
        As in :func:`count_events`. A spell counts as an admission in the period of its admission date and
        as a discharge in the period of its discharge date, each only if that date is in ``[start, end)``.
        Default window: from the earliest admission's period to the period after the latest admission or
        discharge.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        ``period``, the by columns and:

        * ``admissions`` (int64): spells admitted in the period;
        * ``discharges`` (int64): spells discharged in the period;
        * ``mean_los_discharged``, ``median_los_discharged`` (float): LOS of the spells discharged in the
          period;
        * ``mean_los_admitted``, ``median_los_admitted`` (float): LOS of the spells admitted in the period
          and already discharged;
        * ``open_admitted`` (int64): spells admitted in the period and still open.

        Means and medians are NaN (not 0) where there are no spells. Sorted by (by, period).

    Raises
    ------
    SeriesInputError
        As :func:`length_of_stay`.

    Examples
    --------
    >>> import pandas as pd
    >>> spells = pd.DataFrame({
    ...     "admitted": pd.to_datetime(["2024-01-05", "2024-01-20", "2024-01-25", "2024-02-10"]),
    ...     "discharged": pd.to_datetime(["2024-01-09", "2024-02-03", None, "2024-02-11"]),
    ... })
    >>> out = los_by_period(spells, admitted="admitted", discharged="discharged")
    >>> cols = ["admissions", "discharges", "mean_los_discharged", "mean_los_admitted", "open_admitted"]
    >>> print(out[["period", *cols]].to_string())
          period  admissions  discharges  mean_los_discharged  mean_los_admitted  open_admitted
    0 2024-01-01           3           1                  4.0                9.0              1
    1 2024-02-01           1           2                  7.5                1.0              0
    """
    f = parse_freq(freq)
    by_cols = as_list(by)
    check_levels(by_cols, levels, reserved=_LOS_COLUMNS)
    sp = load_spells(spells, admitted=admitted, discharged=discharged, by=by_cols)
    lasts = [d for d in (sp.last("_et_a_last"), sp.last("_et_dis_last")) if d is not None]
    window = resolve_window(
        f, start, end, data_first=sp.first("_et_a_first"), data_last=max(lasts) if lasts else None
    )
    lo, hi = literal_date(window.start), literal_date(window.end)
    u = sp.table()
    u = u.mutate(_et_los=u._et_dis.delta(u._et_a, unit="day").cast("int64"))

    adm = u.filter((u._et_a >= lo) & (u._et_a < hi))
    adm = adm.mutate(_et_p=f.index_expr(adm._et_a))
    by_admission = adm.group_by([*by_cols, "_et_p"]).aggregate(
        admissions=adm.count(),
        mean_los_admitted=adm._et_los.mean(),
        median_los_admitted=adm._et_los.median(),
        open_admitted=adm._et_open.sum(),
    )
    dis = u.filter(u._et_dis.notnull() & (u._et_dis >= lo) & (u._et_dis < hi))
    dis = dis.mutate(_et_p=f.index_expr(dis._et_dis))
    by_discharge = dis.group_by([*by_cols, "_et_p"]).aggregate(
        discharges=dis.count(),
        mean_los_discharged=dis._et_los.mean(),
        median_los_discharged=dis._et_los.median(),
    )
    return complete(
        window,
        combos(sp.profile, by_cols, levels),
        by_cols,
        [to_pandas(by_admission), to_pandas(by_discharge)],
        counts=["admissions", "discharges", "open_admitted"],
        values=["mean_los_discharged", "median_los_discharged", "mean_los_admitted", "median_los_admitted"],
    )[["period", *by_cols, *_LOS_COLUMNS]]
