"""Per-patient before/after windows around an index date (the Project Air evaluation design)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series._engine import (
    ROW,
    Engine,
    Input,
    Source,
    date_of,
    engine_aware,
    fail_rows,
    literal_date,
    profile,
    require_dates,
    to_pandas,
    to_source,
)
from evaltoolkit.series._events import load_events
from evaltoolkit.series._periods import coerce_date
from evaltoolkit.series._spells import load_spells

__all__ = ["patient_windows"]


def _id_kind(dtype: Any) -> str:
    if dtype.is_string():
        return "string"
    if dtype.is_integer():
        return "integer"
    return str(dtype)


def _check_ids(cohort_type: Any, other_type: Any, subject: str, label: str) -> None:
    if _id_kind(cohort_type) != _id_kind(other_type):
        raise SeriesInputError(
            f"{subject!r} is {cohort_type} in the cohort but {other_type} in {label}; convert one so the ids "
            "match"
        )


@renamed_kwargs(patient="subject")
@engine_aware("cohort", "attendances", "spells")
def patient_windows(
    cohort: Input,
    *,
    subject: str = "patient_id",
    index: str = "index_date",
    attendances: Input | None = None,
    spells: Input | None = None,
    before_months: int = 18,
    after_months: int = 18,
    censor_at: object | None = None,
    end: str | None = None,
    data_start: object | None = None,
    attendance_date: str = "arrival",
    admitted: str = "admitted",
    discharged: str = "discharged",
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Count each cohort patient's attendances, admissions and bed-days before and after their index date.

    Windows (all half-open, whole days):

    * **before** = ``[index − before_months months, index)``, truncated at ``data_start`` if given;
    * **after** = ``[index, index + after_months months)``, truncated at ``censor_at`` (the extract date:
      nothing on or after it is seen) and at the patient's ``end`` date (death, transfer out); the end date
      itself is still followed up, so the window stops at ``end + 1 day``.

    **The index day belongs to "after"**: an attendance on the index date (often the index crisis itself)
    counts after. Month arithmetic clamps to month ends (31 Aug − 18 months = 28 Feb).

    Parameters
    ----------
    cohort : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
        One row per person, with ``subject`` and ``index`` (and ``end`` if given).
    subject : str, default "patient_id"
        The person-id column (formerly ``patient=``, deprecated), the same name in all three extracts.
    index : str, default "index_date"
        Index date column of the cohort.
    attendances : input, optional
        ED attendances (``subject``, ``attendance_date``). Omit to leave out the ``attendances`` column.
    spells : input, optional
        Admission spells (``subject``, ``admitted``, ``discharged``). Omit to leave out ``admissions`` and
        ``bed_days``.
    before_months, after_months : int, default 18
        Window lengths in calendar months.
    censor_at : date-like, optional
        The extract date. Truncates after-windows, and open spells count as discharged on it (required if
        the spells have open spells).
    end : str, optional
        Cohort column with each patient's end of follow-up (death, transfer); empty where none.
    data_start : date-like, optional
        First day covered by the extracts; truncates before-windows.
    attendance_date, admitted, discharged : str
        Date columns of the attendances and spells.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        Two rows per patient, sorted by ``subject`` then ``window`` (``"before"``, ``"after"``), with columns
        ``subject`` (named as in the cohort; merge other cohort columns back on it), ``window`` and

        * ``window_start``, ``window_end`` (datetime64): the truncated window ``[window_start, window_end)``;
        * ``exposure_days`` (int64): its length in days (use it to turn counts into rates);
        * ``attendances``: attendances dated in the window;
        * ``admissions``: spells admitted in the window;
        * ``bed_days``: nights in the window occupied by any of the patient's spells, same midnights
          convention as :func:`bed_days` (a spell admitted before the window counts its nights inside it);
        * ``censored`` (bool): the window was truncated (by ``data_start`` before, by ``censor_at`` or
          ``end`` after).

    Raises
    ------
    SeriesInputError
        Missing columns; missing patient ids or index dates; a patient listed twice; an index date on or
        after ``censor_at``; an end date before the index date; bad dates in the attendances or spells; ids
        of different types in the cohort and the other extracts.

    Examples
    --------
    >>> import pandas as pd
    >>> cohort = pd.DataFrame({"patient_id": ["p1", "p2"],
    ...                        "index_date": pd.to_datetime(["2023-01-15", "2023-06-01"])})
    >>> att = pd.DataFrame({
    ...     "patient_id": ["p1", "p1", "p1", "p2"],
    ...     "arrival": pd.to_datetime(["2022-12-01", "2023-01-15", "2023-03-01", "2021-01-01"]),
    ... })
    >>> spells = pd.DataFrame({"patient_id": ["p1"], "admitted": pd.to_datetime(["2023-01-10"]),
    ...                        "discharged": pd.to_datetime(["2023-01-20"])})
    >>> out = patient_windows(cohort, attendances=att, spells=spells, before_months=12, after_months=12,
    ...                       censor_at="2024-01-01")
    >>> print(out.to_string())
      patient_id  window window_start window_end  exposure_days  attendances  admissions  bed_days  censored
    0         p1  before   2022-01-15 2023-01-15            365            1           1         5     False
    1         p1   after   2023-01-15 2024-01-01            351            2           0         5      True
    2         p2  before   2022-06-01 2023-06-01            365            0           0         0     False
    3         p2   after   2023-06-01 2024-01-01            214            0           0         0      True
    """
    if isinstance(cohort, pd.DataFrame):  # day/month text and offsets are refused here, never guessed later
        from evaltoolkit.data.parse import check_date_text

        for col in (index, end):
            if col and col in cohort.columns:
                check_date_text(
                    cohort[col], column=col, where="cohort", error=SeriesInputError, kind="cohort"
                )
    for name, value in (("before_months", before_months), ("after_months", after_months)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SeriesInputError(f"{name} must be a whole number of months >= 0, not {value!r}")
    censor = None if censor_at is None else coerce_date(censor_at, "censor_at")
    first_day = None if data_start is None else coerce_date(data_start, "data_start")
    columns = {subject: "subject", index: "index", **({end: "end"} if end else {})}
    src = to_source(cohort, columns=columns, date_columns=[index, *([end] if end else [])], label="cohort")

    def prepare(t: ir.Table) -> ir.Table:
        t = t.mutate(_et_i=date_of(t, index, "cohort"))
        if end:
            t = t.mutate(_et_e=date_of(t, end, "cohort"))
        return t

    u = prepare(src.table)
    checks = {
        "_et_no_id": u[subject].isnull().sum(),
        "_et_i_missing": u[index].isnull().sum(),
        "_et_i_bad": (u._et_i.isnull() & u[index].notnull()).sum(),
    }
    if censor is not None:
        checks["_et_late"] = (u._et_i >= literal_date(censor)).sum()
    if end:
        checks["_et_e_bad"] = (u._et_e.isnull() & u[end].notnull()).sum()
        checks["_et_e_early"] = (u._et_e < u._et_i).sum()
    prof = profile(u, [], **checks)
    count = {k: int(pd.to_numeric(prof[k]).fillna(0).iloc[0]) for k in prof.columns}
    if count["_et_no_id"]:
        fail_rows(src, prepare, lambda t: t[subject].isnull(), count["_et_no_id"], f"{subject!r} is missing")
    require_dates(
        src,
        prepare,
        parsed="_et_i",
        column=index,
        keyword="index",
        n_missing=count["_et_i_missing"],
        n_unparseable=count["_et_i_bad"],
    )
    if end:
        require_dates(
            src,
            prepare,
            parsed="_et_e",
            column=end,
            keyword="end",
            n_missing=0,
            n_unparseable=count["_et_e_bad"],
            allow_missing=True,
        )
        if count["_et_e_early"]:
            fail_rows(
                src,
                prepare,
                lambda t: t._et_e < t._et_i,
                count["_et_e_early"],
                f"{end!r} is before {index!r}",
            )
    if censor is not None and count["_et_late"]:
        fail_rows(
            src,
            prepare,
            lambda t: t._et_i >= literal_date(censor),
            count["_et_late"],
            f"{index!r} is on or after censor_at ({censor}), so there is no after-window",
        )
    groups = u.group_by(subject).aggregate(_et_k=u.count())
    groups = groups.filter(groups._et_k > 1)
    n_dup = int(pd.to_numeric(to_pandas(groups.aggregate(n=groups._et_k.sum()))["n"]).fillna(0).iloc[0])
    if n_dup:

        def with_counts(t: ir.Table) -> ir.Table:
            t = prepare(t)
            return t.mutate(_et_k=t[subject].count().over(ibis.window(group_by=t[subject])))

        fail_rows(
            src,
            with_counts,
            lambda t: t._et_k > 1,
            n_dup,
            f"patients listed more than once in {subject!r}",
            "Give one row per patient (one index date each)",
        )

    numbered = prepare(src.numbered())
    windows = _windows(numbered, subject, before_months, after_months, censor, first_day, end)
    base = to_pandas(windows.select(ROW, subject, "window", "_et_ws", "_et_we", "censored"))
    keys = [ROW, "window"]
    if attendances is not None:
        counts = _count_attendances(windows, attendances, subject, attendance_date)
        base = base.merge(counts, on=keys, how="left", validate="one_to_one")
    if spells is not None:
        counts = _count_spells(windows, spells, subject, admitted, discharged, censor)
        base = base.merge(counts, on=keys, how="left", validate="one_to_one")
    return _assemble(src, base, subject, attendances is not None, spells is not None)


def _windows(
    t: ir.Table,
    subject: str,
    before_months: int,
    after_months: int,
    censor: dt.date | None,
    first_day: dt.date | None,
    end: str | None,
) -> ir.Table:
    """Both windows of each patient: ``_et_ws``/``_et_we`` (dates), ``window`` and ``censored``."""
    idx = t._et_i
    full_start = idx - ibis.interval(months=before_months)
    start = ibis.greatest(full_start, literal_date(first_day)) if first_day else full_start
    start = ibis.least(start, idx)
    before = t.select(
        ROW,
        subject,
        window=ibis.literal("before"),
        _et_ws=start,
        _et_we=idx,
        censored=start > full_start,
    )
    full_end = idx + ibis.interval(months=after_months)
    stop = full_end
    if censor is not None:
        stop = ibis.least(stop, literal_date(censor))
    if end:
        stop = ibis.least(stop, (t._et_e + ibis.interval(days=1)).coalesce(full_end))
    after = t.select(
        ROW, subject, window=ibis.literal("after"), _et_ws=idx, _et_we=stop, censored=stop < full_end
    )
    return before.union(after)


def _count_attendances(windows: ir.Table, attendances: Input, subject: str, date: str) -> pd.DataFrame:
    ev = load_events(attendances, date=date, subject=subject)
    _check_ids(windows.schema()[subject], ev.source.dtype(subject), subject, "attendances")
    a = ev.table()
    a = a.select(_et_pid=a[subject], _et_d=a._et_d)
    j = windows.join(a, windows[subject] == a._et_pid)
    j = j.filter((j._et_d >= j._et_ws) & (j._et_d < j._et_we))
    return to_pandas(j.group_by([ROW, "window"]).aggregate(attendances=j.count()))


def _count_spells(
    windows: ir.Table,
    spells: Input,
    subject: str,
    admitted: str,
    discharged: str,
    censor: dt.date | None,
) -> pd.DataFrame:
    sp = load_spells(
        spells,
        admitted=admitted,
        discharged=discharged,
        columns={subject: "subject"},
        censor_at=censor,
        require_censor=True,
    )
    _check_ids(windows.schema()[subject], sp.source.dtype(subject), subject, "spells")
    s = sp.table()
    s = s.select(_et_pid=s[subject], _et_a=s._et_a, _et_D=s._et_D)
    j = windows.join(s, windows[subject] == s._et_pid)
    j = j.filter((j._et_a < j._et_we) & (j._et_D >= j._et_ws))
    lo = ibis.greatest(j._et_a, j._et_ws)
    hi = ibis.least(j._et_D, j._et_we)
    nights = ibis.greatest(hi.delta(lo, unit="day").cast("int64"), 0)
    admitted_inside = (j._et_a >= j._et_ws) & (j._et_a < j._et_we)
    return to_pandas(
        j.group_by([ROW, "window"]).aggregate(
            admissions=ibis.ifelse(admitted_inside, 1, 0).sum(),
            bed_days=nights.sum(),
        )
    )


def _assemble(src: Source, base: pd.DataFrame, subject: str, has_att: bool, has_spells: bool) -> pd.DataFrame:
    out = base.rename(columns={"_et_ws": "window_start", "_et_we": "window_end"})
    if src.frame is not None:  # keep the caller's id dtype
        rows = out[ROW].astype("int64").to_numpy()
        out[subject] = src.frame[subject].reset_index(drop=True).iloc[rows].to_numpy()
    for c in ("window_start", "window_end"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    out["exposure_days"] = ((out["window_end"] - out["window_start"]).dt.days).astype("int64")
    wanted = [subject, "window", "window_start", "window_end", "exposure_days"]
    for flag, cols in ((has_att, ["attendances"]), (has_spells, ["admissions", "bed_days"])):
        if flag:
            for c in cols:
                out[c] = out[c].fillna(0).astype("int64")
            wanted += cols
    out["censored"] = out["censored"].astype(bool)
    wanted.append("censored")
    out["_et_order"] = (out["window"] == "after").astype("int64")
    out = out.sort_values([subject, "_et_order"], kind="stable")
    return out[wanted].reset_index(drop=True)
