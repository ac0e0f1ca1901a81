"""Repeat use: re-attendance after an attendance, readmission after a discharge (per event and per period).

Both follow the same rules:

* The *next* event is the same patient's next one in time order (ties broken by input row order).
* Gaps are whole calendar days: ``within=28`` means the next attendance/admission is on or before day 28
  after the index date (day 0 = same day).
* Follow-up is **censored** when the extract ends before it is complete: the index date plus ``within``
  days is on or after ``censor_at`` (the extract date; default: the day after the latest date in the
  data). Such rows are flagged ``censored`` and the series forms leave them out of the proportion, even if
  a repeat was seen, so the last ``within`` days do not bias the proportion.
* Rows with a missing patient id cannot be linked. They are kept, flagged ``patient_missing`` (never
  counted as repeats), left out of the proportion, and a ``UserWarning`` says how many there are.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series._engine import (
    ROW,
    Engine,
    Input,
    engine_aware,
    literal_date,
    per_row_output,
    to_pandas,
)
from evaltoolkit.series._events import Events, load_events
from evaltoolkit.series._periods import ONE_DAY, coerce_date, parse_freq, resolve_window
from evaltoolkit.series._spells import Spells, load_spells
from evaltoolkit.series._spine import as_list, check_levels, combos, complete

__all__ = ["readmission_series", "readmissions", "reattendance_series", "reattendances"]


def _check_within(within: int) -> int:
    if isinstance(within, bool) or not isinstance(within, int) or within < 0:
        raise SeriesInputError(f"within must be a whole number of days >= 0, not {within!r}")
    return within


def _warn_missing(n: int, label: str, subject: str, stacklevel: int = 3) -> None:
    if n:
        warnings.warn(
            f"{n} {label} row(s) have no {subject!r}; they cannot be linked to other rows, so they are kept "
            "and flagged patient_missing=True (never counted as repeats, left out of proportions)",
            UserWarning,
            stacklevel=stacklevel,
        )


def _flag_attendances(
    events: Input,
    *,
    subject: str,
    date: str,
    within: int,
    censor_at: object | None,
    by: Sequence[str] = (),
    keep_all: bool = False,
) -> tuple[Events, ir.Table]:
    """Return the checked events and the per-event flagged table (with ROW and ``_et_d``)."""
    within = _check_within(within)
    ev = load_events(events, date=date, by=by, subject=subject, keep_all=keep_all)
    censor = _censor_date(censor_at, ev.last)
    t = ev.prepare(ev.source.numbered())
    has_id = t[subject].notnull()
    w = ibis.window(group_by=t[subject], order_by=[t._et_ts, t[ROW]])
    gap = t._et_d.lead().over(w).delta(t._et_d, unit="day").cast("int64")
    gap = ibis.ifelse(has_id, gap, ibis.null("int64"))
    flagged = t.mutate(
        days_to_next=gap,
        reattended_within=has_id & (gap <= within).fill_null(False),
        censored=literal_date(censor).delta(t._et_d, unit="day") <= within,
        patient_missing=~has_id,
    )
    return ev, flagged


def _censor_date(censor_at: object | None, last: dt.date | None) -> dt.date:
    if censor_at is not None:
        return coerce_date(censor_at, "censor_at")
    return (last or dt.date(1970, 1, 1)) + ONE_DAY


@renamed_kwargs(patient="subject")
@engine_aware("events")
def reattendances(
    events: Input,
    *,
    subject: str,
    date: str,
    within: int = 28,
    censor_at: object | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Flag attendances followed by another attendance of the same patient within ``within`` days.

    Parameters
    ----------
    events : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
        One row per attendance.
    subject : str
        The person-id column (formerly ``patient=``, deprecated). Missing ids are flagged, not dropped (with a
        ``UserWarning``).
    date : str
        Attendance date(-time) column; date-times order same-day attendances.
    within : int, default 28
        Window in days after the attendance (0 = same day).
    censor_at : date-like, optional
        The extract date (first day not covered). Default: the day after the latest attendance.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        The input rows in input order (all columns) with a RangeIndex, plus

        * ``days_to_next`` (Int64): days from this attendance to the patient's next one (``<NA>`` if none
          or no patient id);
        * ``reattended_within`` (bool): ``days_to_next <= within``;
        * ``censored`` (bool): date + ``within`` is on or after ``censor_at``, so follow-up is incomplete
          (whatever the outcome);
        * ``patient_missing`` (bool).

    Raises
    ------
    SeriesInputError
        Missing columns, missing or unparseable dates.

    Examples
    --------
    >>> import pandas as pd
    >>> att = pd.DataFrame({
    ...     "patient_id": ["p1", "p1", "p1", "p2"],
    ...     "arrival": pd.to_datetime(["2024-01-01", "2024-01-29", "2024-03-15", "2024-01-10"]),
    ... })
    >>> out = reattendances(att, subject="patient_id", date="arrival", censor_at="2024-04-01")
    >>> print(out.to_string())
      patient_id    arrival  days_to_next  reattended_within  censored  patient_missing
    0         p1 2024-01-01            28               True     False            False
    1         p1 2024-01-29            46              False     False            False
    2         p1 2024-03-15          <NA>              False      True            False
    3         p2 2024-01-10          <NA>              False     False            False
    """
    ev, flagged = _flag_attendances(
        events, subject=subject, date=date, within=within, censor_at=censor_at, keep_all=True
    )
    out = per_row_output(
        ev.source,
        flagged,
        {"days_to_next": "Int64", "reattended_within": "bool", "censored": "bool", "patient_missing": "bool"},
    )
    _warn_missing(int(out["patient_missing"].sum()), "events", subject)
    return out


_REPEAT_COUNTS = ("patient_missing", "censored", "eligible")


def _series(
    flagged: ir.Table,
    *,
    date_col: str,
    outcome: str,
    total: str,
    repeated: str,
    freq: str,
    by: list[str],
    start: object | None,
    end: object | None,
    levels: Mapping[str, Sequence[object]] | None,
    prof: pd.DataFrame,
    first: dt.date | None,
    last: dt.date | None,
    subject: str,
    label: str,
) -> pd.DataFrame:
    f = parse_freq(freq)
    window = resolve_window(f, start, end, data_first=first, data_last=last)
    t = flagged.filter(
        (flagged[date_col] >= literal_date(window.start)) & (flagged[date_col] < literal_date(window.end))
    )
    t = t.mutate(_et_p=f.index_expr(t[date_col]))
    ok = ~t.patient_missing
    agg = t.group_by([*by, "_et_p"]).aggregate(
        **{
            total: t.count(),
            "patient_missing": t.patient_missing.sum(),
            "censored": (ok & t.censored).sum(),
            "eligible": (ok & ~t.censored).sum(),
            repeated: (t[outcome] & ~t.censored).sum(),
        }
    )
    out = complete(
        window, combos(prof, by, levels), by, [to_pandas(agg)], counts=[total, *_REPEAT_COUNTS, repeated]
    )
    eligible = out["eligible"].astype("float64")
    out["proportion"] = (out[repeated] / eligible).where(eligible > 0)
    _warn_missing(int(out["patient_missing"].sum()), label, subject, stacklevel=4)
    return out


@renamed_kwargs(patient="subject")
@engine_aware("events")
def reattendance_series(
    events: Input,
    *,
    subject: str,
    date: str,
    within: int = 28,
    freq: str = "MS",
    by: str | Sequence[str] | None = None,
    start: object | None = None,
    end: object | None = None,
    levels: Mapping[str, Sequence[object]] | None = None,
    censor_at: object | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Re-attendance within ``within`` days, per period of the index attendance, zero-filled.

    Parameters
    ----------
    events, subject, date, within, censor_at
        As in :func:`reattendances`. Follow-up uses every attendance in the data, also those after ``end``.
    freq, by, start, end, levels
        As in :func:`count_events`; index attendances are those dated in ``[start, end)``.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        ``period``, the by columns, and per period: ``count`` (index attendances) =
        ``patient_missing`` + ``censored`` (follow-up incomplete) + ``eligible``; ``reattended`` (eligible
        attendances followed by another within ``within`` days); ``proportion`` = reattended / eligible
        (NaN when nothing is eligible). Counts are int64; sorted by (by, period).

    Examples
    --------
    >>> import pandas as pd
    >>> att = pd.DataFrame({
    ...     "patient_id": ["p1", "p1", "p2", "p3"],
    ...     "arrival": pd.to_datetime(["2024-01-03", "2024-01-20", "2024-01-10", "2024-02-25"]),
    ... })
    >>> out = reattendance_series(att, subject="patient_id", date="arrival", censor_at="2024-03-01")
    >>> print(out.round({"proportion": 3}).to_string())
          period  count  patient_missing  censored  eligible  reattended  proportion
    0 2024-01-01      3                0         0         3           1       0.333
    1 2024-02-01      1                0         1         0           0         NaN
    """
    by_cols = as_list(by)
    check_levels(by_cols, levels, reserved=["count", *_REPEAT_COUNTS, "reattended", "proportion"])
    ev, flagged = _flag_attendances(
        events, subject=subject, date=date, within=within, censor_at=censor_at, by=by_cols
    )
    return _series(
        flagged,
        date_col="_et_d",
        outcome="reattended_within",
        total="count",
        repeated="reattended",
        freq=freq,
        by=by_cols,
        start=start,
        end=end,
        levels=levels,
        prof=ev.profile,
        first=ev.first,
        last=ev.last,
        subject=subject,
        label="events",
    )


def _flag_spells(
    spells: Input,
    *,
    subject: str,
    admitted: str,
    discharged: str,
    within: int,
    censor_at: object | None,
    by: Sequence[str] = (),
    keep_all: bool = False,
) -> tuple[Spells, ir.Table, dt.date]:
    within = _check_within(within)
    censor_given = None if censor_at is None else coerce_date(censor_at, "censor_at")
    sp = load_spells(
        spells,
        admitted=admitted,
        discharged=discharged,
        by=by,
        columns={subject: "subject"},
        censor_at=censor_given,
        keep_all=keep_all,
    )
    lasts = [d for d in (sp.last("_et_a_last"), sp.last("_et_dis_last")) if d is not None]
    censor = _censor_date(censor_given, max(lasts) if lasts else None)
    t = sp.prepare(sp.source.numbered())
    has_id = t[subject].notnull()
    w = ibis.window(group_by=t[subject], order_by=[t._et_ats, t[ROW]])
    gap = t._et_a.lead().over(w).delta(t._et_dis, unit="day").cast("int64")
    gap = ibis.ifelse(has_id, gap, ibis.null("int64"))
    flagged = t.mutate(
        days_to_next=gap,
        readmitted_within=has_id & (gap.between(0, within)).fill_null(False),
        censored=t._et_open | (literal_date(censor).delta(t._et_dis, unit="day") <= within).fill_null(True),
        open=t._et_open,
        patient_missing=~has_id,
    )
    return sp, flagged, censor


@renamed_kwargs(patient="subject")
@engine_aware("spells")
def readmissions(
    spells: Input,
    *,
    subject: str,
    admitted: str,
    discharged: str,
    within: int = 28,
    censor_at: object | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Flag spells followed by another admission of the same patient within ``within`` days of discharge.

    Parameters
    ----------
    spells : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
        One row per spell. Transfers and overlapping spells should already be chained into continuous
        stays (a negative ``days_to_next`` shows a next admission before this discharge; it is not
        counted as a readmission).
    subject : str
        The person-id column (formerly ``patient=``, deprecated). Missing ids are flagged, not dropped (with a
        ``UserWarning``).
    admitted, discharged : str
        Admission and discharge date(-time) columns; open spells (discharge missing) cannot be readmitted
        and are flagged ``censored``.
    within : int, default 28
        Days after the discharge date (0 = readmitted the same day).
    censor_at : date-like, optional
        The extract date. Default: the day after the latest admission or discharge date.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        The input rows in input order (all columns) with a RangeIndex, plus ``days_to_next`` (Int64: the
        patient's next admission date − this discharge date), ``readmitted_within`` (bool:
        0 ≤ ``days_to_next`` ≤ ``within``), ``censored`` (bool: open, or discharge + ``within`` on or after
        ``censor_at``), ``open`` (bool) and ``patient_missing`` (bool).

    Raises
    ------
    SeriesInputError
        As :func:`length_of_stay`.

    Examples
    --------
    >>> import pandas as pd
    >>> spells = pd.DataFrame({
    ...     "patient_id": ["p1", "p1", "p2"],
    ...     "admitted": pd.to_datetime(["2024-01-01", "2024-02-05", "2024-01-03"]),
    ...     "discharged": pd.to_datetime(["2024-01-10", "2024-02-07", None]),
    ... })
    >>> out = readmissions(spells, subject="patient_id", admitted="admitted", discharged="discharged",
    ...                    censor_at="2024-06-01")
    >>> print(out[["patient_id", "days_to_next", "readmitted_within", "censored", "open"]].to_string())
      patient_id  days_to_next  readmitted_within  censored   open
    0         p1            26               True     False  False
    1         p1          <NA>              False     False  False
    2         p2          <NA>              False      True   True
    """
    sp, flagged, _ = _flag_spells(
        spells,
        subject=subject,
        admitted=admitted,
        discharged=discharged,
        within=within,
        censor_at=censor_at,
        keep_all=True,
    )
    out = per_row_output(
        sp.source,
        flagged,
        {
            "days_to_next": "Int64",
            "readmitted_within": "bool",
            "censored": "bool",
            "open": "bool",
            "patient_missing": "bool",
        },
    )
    _warn_missing(int(out["patient_missing"].sum()), "spells", subject)
    return out


@renamed_kwargs(patient="subject")
@engine_aware("spells")
def readmission_series(
    spells: Input,
    *,
    subject: str,
    admitted: str,
    discharged: str,
    within: int = 28,
    freq: str = "MS",
    by: str | Sequence[str] | None = None,
    start: object | None = None,
    end: object | None = None,
    levels: Mapping[str, Sequence[object]] | None = None,
    censor_at: object | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Readmission within ``within`` days of discharge, per period of discharge, zero-filled.

    Parameters
    ----------
    spells, subject, admitted, discharged, within, censor_at
        As in :func:`readmissions`.
    freq, by, start, end, levels
        As in :func:`count_events`; index spells are those discharged in ``[start, end)``.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        ``period``, the by columns, ``discharges`` = ``patient_missing`` + ``censored`` + ``eligible``,
        ``readmitted`` (eligible discharges followed by an admission within ``within`` days) and
        ``proportion`` = readmitted / eligible (NaN when nothing is eligible); sorted by (by, period).

    Examples
    --------
    >>> import pandas as pd
    >>> spells = pd.DataFrame({
    ...     "patient_id": ["p1", "p1", "p2"],
    ...     "admitted": pd.to_datetime(["2024-01-01", "2024-02-05", "2024-01-03"]),
    ...     "discharged": pd.to_datetime(["2024-01-10", "2024-02-07", "2024-01-04"]),
    ... })
    >>> out = readmission_series(spells, subject="patient_id", admitted="admitted", discharged="discharged",
    ...                          censor_at="2024-06-01")
    >>> print(out.to_string())
          period  discharges  patient_missing  censored  eligible  readmitted  proportion
    0 2024-01-01           2                0         0         2           1         0.5
    1 2024-02-01           1                0         0         1           0         0.0
    """
    by_cols = as_list(by)
    check_levels(by_cols, levels, reserved=["discharges", *_REPEAT_COUNTS, "readmitted", "proportion"])
    sp, flagged, _ = _flag_spells(
        spells,
        subject=subject,
        admitted=admitted,
        discharged=discharged,
        within=within,
        censor_at=censor_at,
        by=by_cols,
    )
    closed = flagged.filter(~flagged.open)
    return _series(
        closed,
        date_col="_et_dis",
        outcome="readmitted_within",
        total="discharges",
        repeated="readmitted",
        freq=freq,
        by=by_cols,
        start=start,
        end=end,
        levels=levels,
        prof=sp.profile,
        first=sp.first("_et_dis_first"),
        last=sp.last("_et_dis_last"),
        subject=subject,
        label="spells",
    )
