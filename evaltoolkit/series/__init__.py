"""Event-level extracts → tidy, zero-filled period series.

Every builder takes an extract (a pandas DataFrame, a pyarrow Table, an Ibis table, a Spark DataFrame, or a
path to a ``.parquet`` or ``.csv`` file, which DuckDB reads without pandas) plus keywords naming the columns
to use, and returns a pandas DataFrame with fixed snake_case columns and a default RangeIndex. The
aggregation is written once as Ibis expressions (integer period indices, range bounds materialised as
columns) and runs on an embedded DuckDB connection, so 10^7–10^8-row extracts work on one machine.

Conventions shared by all functions:

* **Engines** – ``engine=None`` (the default) runs on DuckDB, except that a Spark DataFrame (or an Ibis table
  on PySpark) runs on its own Spark session; ``engine="spark"`` sends pandas, pyarrow and file input to the
  active Spark session too. Both engines give identical results (same rows, same integer counts, floats equal
  to 1e-12); Spark ``TIMESTAMP`` values count on the calendar day the caller's session time zone shows.
* **Periods** – ``freq`` is ``"MS"`` (calendar months), ``"W-MON"`` (weeks starting Monday), ``"QS"``,
  ``"YS"``, or ``"QS-<MON>"``/``"YS-<MON>"`` (e.g. ``"YS-APR"``, UK financial years). ``period`` is the
  period's first day (``datetime64``).
* **Windows** – ``[start, end)`` is half-open; the periods are those whose start lies in
  ``[period_floor(start), end)``. Events outside the window are not counted (that is the caller's choice,
  not an error). Defaults come from the data.
* **Zero-filling** – every by-group × every period appears; counts are int64 zeros, means/medians/
  proportions NaN where undefined. ``levels`` forces by-values with no events onto the spine.
* **Bed-days** – midnights occupied; the night of date *d* belongs to *d*'s period. 30 Jan → 2 Feb is
  2 bed-days in January and 1 in February; a same-day spell is 0.
* **Bad input** – missing columns and missing or unparseable dates raise
  :class:`~evaltoolkit.errors.SeriesInputError` naming the column and the first rows, and which numbering:
  0-based row positions for in-memory input, spreadsheet rows (header = row 1) for a CSV file given by path;
  nothing is dropped silently. Clean extracts first with :mod:`evaltoolkit.data`.
* **Checks before modelling** – :mod:`evaltoolkit.series.checks` finds months far from their neighbours
  (extract gaps), empty stretches after the data end, partial periods and the bed-day warm-up.
* **Censoring** – ``censor_at`` is the extract date (the first day not covered): open spells count as
  discharged on it, and repeat-use follow-up reaching it is flagged ``censored``.
"""

from evaltoolkit.series.beddays import bed_days
from evaltoolkit.series.checks import (
    CHECK_COLUMNS,
    WARMUP_COLUMNS,
    bed_day_warmup,
    check_event_dates,
    check_series,
)
from evaltoolkit.series.counts import count_events
from evaltoolkit.series.frequent import frequent_attender_series, frequent_attenders
from evaltoolkit.series.los import length_of_stay, los_by_period
from evaltoolkit.series.rates import rates
from evaltoolkit.series.repeat import readmission_series, readmissions, reattendance_series, reattendances
from evaltoolkit.series.windows import patient_windows

__all__ = [
    "CHECK_COLUMNS",
    "WARMUP_COLUMNS",
    "bed_day_warmup",
    "bed_days",
    "check_event_dates",
    "check_series",
    "count_events",
    "frequent_attender_series",
    "frequent_attenders",
    "length_of_stay",
    "los_by_period",
    "patient_windows",
    "rates",
    "readmission_series",
    "readmissions",
    "reattendance_series",
    "reattendances",
]
