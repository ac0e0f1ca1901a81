"""Design matrices for segmented (interrupted time series) regression: a pure function, no fitting.

:func:`build_its_design` validates the input frame and returns an :class:`ITSDesign`: the design matrix
with fixed term names, the matrix for the counterfactual (intervention terms set to zero), and a per-row
frame saying which segment each period belongs to and whether it enters the fit.

Coding convention (Stata ``itsa``)
----------------------------------
Time is re-indexed as ``t = 1, 2, …, n`` (one step per period; ``t = 1`` is the first period in the data),
so ``intercept`` is the level extrapolated to ``t = 0`` and ``pre_slope`` is the change per period. For an
interruption whose first post-interruption period is ``t = T``:

* ``level_change = 1`` from ``t = T`` on (0 before);
* ``slope_change = t - T`` from ``t = T`` on (0 before): **0 in the first post-interruption period**.

So ``level_change`` is the jump at the first post-interruption period itself, as Stata ``itsa`` codes it
(``_x_t`` = 0 there). The other common coding (Lopez Bernal et al. 2017, ``I(time - 36):smokban``) counts
the first post period as 1, which makes its level change refer to the last pre-interruption period: its
level change equals ours minus ``slope_change``; the slope change is identical.

With ``transition = k`` the ``k`` periods ``T, …, T + k - 1`` are a phase-in: the post segment starts at
``P = T + k`` (``level_change`` switches on and ``slope_change`` counts from 0 there). With
``transition_shape="exclude"`` the phase-in periods are left out of the fit (kept in the outputs with
``in_fit = False``); with ``"ramp"`` they are fitted and ``level_change`` rises linearly through them,
``1/(k+1), 2/(k+1), …`` reaching 1 at ``P``.

Controlled designs (``group``/``treated``) follow Stata ``itsa`` multiple-group analysis: the plain terms
describe the control series, ``diff_intercept``/``diff_pre_slope`` the treated-minus-control differences
before the interruption and ``diff_level_change``/``diff_slope_change`` the differences in the changes –
the intervention effects.

Event dates inside a period
---------------------------
An interruption (or a range bound) may be any date, not only a period start: **the first period starting on
or after the date is the first post-interruption period**. With monthly periods ``"1983-01-31"`` (a law
that started on 31 January) gives February 1983 and ``"1983-01-01"`` gives January; with quarterly periods
``"1983-02-15"`` gives 1983-04-01; with weekly periods a Wednesday gives the next week start. The date
given and the period used are both kept (``ITSDesign.interruptions_given``/``interruptions``) and printed
by the result's ``summary()`` ("interruption 1983-01-31 → first post period 1983-02").

Named interruptions, excluded periods and level shifts
------------------------------------------------------
``interruption_names=["go_live", "expansion"]``: the first interruption keeps ``level_change``/
``slope_change``; the later ones are ``level_change_<name>``/``slope_change_<name>`` instead of
``level_change_2``…. ``exclude_periods=[(start, end), …]``: periods whose start date lies in an inclusive
range are left out of the fit (``in_fit = False``, ``excluded = True``) and kept in the outputs; a range may
not cover an interruption's first period nor leave a segment with fewer than 3 points.
``level_shifts={"covid": (start, end)}`` (or ``{"covid": start}``, open-ended) adds a dummy ``shift_covid``
= 1 inside the range: an adjustment, not an intervention effect (the counterfactual keeps it).

Staggered controlled designs
----------------------------
``interruptions={"RA1": "2021-04-01", "RB2": "2022-01-01"}`` with ``group=``: the keys are the treated
series, each with its own first post-interruption period ``T_s``; every other series is a control with no
interruption. This generalises the ``itsa`` multiple-group coding. With ``t`` the period index:

* every series has its own line before its interruption: ``intercept``/``pre_slope`` describe the
  **reference series** (the first control in sorted order); every other series ``s`` (the other controls,
  then the treated series, each in sorted order) gets ``diff_intercept_<s>`` = 1 and ``diff_pre_slope_<s>``
  = ``t`` in its own rows (0 elsewhere);
* for each distinct go-live period ``D`` there are **common calendar terms**, in every series:
  ``calendar_level_<D>`` = 1 from ``D`` on and ``calendar_slope_<D>`` = ``t - D`` from ``D`` on (0 before):
  the secular change at ``D`` that the controls (and the not-yet-treated series) identify;
* the **treatment terms** switch on at each treated series' own ``T_s``: ``diff_level_change`` = 1 and
  ``diff_slope_change`` = ``t - T_s`` from ``T_s`` on in treated series ``s`` (0 in controls). Pooled
  (``staggered_effects="pooled"``, the default and the headline): one pair, the average effect across the
  treated series. ``staggered_effects="by_series"``: a pair ``diff_level_change_<s>``/
  ``diff_slope_change_<s>`` per treated series instead.

Worked example: series A (go-live ``t = 4``), B (``t = 6``) and control K (the reference), ``t = 1…8``;
columns ``calendar_level_4`` (cl4), ``calendar_slope_4`` (cs4), ``calendar_level_6`` (cl6),
``diff_intercept_A`` (dA), ``diff_level_change`` (dlc), ``diff_slope_change`` (dsc)::

    series  t   cl4  cs4  cl6   dA   dlc  dsc
    K       5    1    1    0    0    0    0
    K       7    1    3    1    0    0    0
    A       3    0    0    0    1    0    0
    A       5    1    1    0    1    1    1
    A       7    1    3    1    1    1    3
    B       5    1    1    0    0    0    0
    B       7    1    3    1    0    1    1

(plus ``intercept``, ``pre_slope`` = ``t``, ``calendar_slope_6``, ``diff_intercept_B`` and the
``diff_pre_slope_<s>`` columns.) The counterfactual of each treated series is its own fitted line without
its own treatment terms (the calendar terms stay). With one treated and one control series the terms are
exactly the ``itsa`` controlled design (``calendar_level_<D>``/``calendar_slope_<D>`` are its
``level_change``/``slope_change``; ``diff_intercept``/``diff_pre_slope`` keep their names). With several
controls the ``treated=`` design pools the controls into one line (as ``itsa``); the staggered coding gives
each control its own intercept and pre-slope. With ``transition = k`` the ``k`` periods after every go-live
date are left out of the fit in every series (``transition_shape="ramp"`` is not available).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaltoolkit.data.parse import check_date_text, parse_date, strict_dates
from evaltoolkit.its._types import COUNT_FAMILIES, Effect, Family, TransitionShape, check_literal
from evaltoolkit.its.errors import ITSInputError

__all__ = [
    "EPOC_MINIMUM",
    "RECOMMENDED_MINIMUM",
    "ITSDesign",
    "StaggeredEffects",
    "build_its_design",
    "describe_rows",
]

StaggeredEffects = Literal["pooled", "by_series"]
"""Treatment terms of a staggered design: one pooled pair, or one pair per treated series."""

EPOC_MINIMUM = 3
"""Cochrane EPOC minimum number of points before and after an interruption."""

RECOMMENDED_MINIMUM = 8
"""Below this many points in a segment :func:`~evaltoolkit.its.fit_its` warns (``ShortSeriesWarning``)."""

_MAX_ROWS = 5
_RESERVED_PREFIXES = (
    "level_change",
    "slope_change",
    "diff_",
    "sin_",
    "cos_",
    "month_",
    "shift_",
    "calendar_",
)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RESERVED = ("intercept", "pre_slope")

MAX_ABS_OUTCOME = 1e15
"""Largest absolute outcome value fit_its accepts (beyond it the arithmetic loses all precision)."""


def describe_rows(positions: Sequence[int] | np.ndarray, limit: int = _MAX_ROWS) -> str:
    """Describe 0-based row positions for an error message: the first few, then how many more.

    Parameters
    ----------
    positions : sequence of int
        0-based row positions in the caller's frame.
    limit : int, default 5
        How many to list.

    Returns
    -------
    str
        For example ``"rows 2, 7 (0-based positions)"``.

    Examples
    --------
    >>> describe_rows([7, 2])
    'rows 2, 7 (0-based positions)'
    >>> describe_rows(range(10), limit=3)
    'rows 0, 1, 2 and 7 more (0-based positions)'
    """
    arr = np.sort(np.asarray(list(positions), dtype="int64"))
    shown = ", ".join(str(int(p)) for p in arr[:limit])
    more = f" and {arr.size - limit} more" if arr.size > limit else ""
    word = "row" if arr.size == 1 else "rows"
    return f"{word} {shown}{more} (0-based positions)"


@dataclass(frozen=True, eq=False)
class ITSDesign:
    """A validated segmented-regression design (see the module docstring for the coding).

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per input row, sorted by group then time, with columns ``row`` (0-based position in the
        input), ``time`` (the original time value), ``t`` (period index, 1 = first period), ``group``
        (``None`` without a group column), ``series`` (integer code of the group, 0 without one),
        ``treated`` (bool), ``segment`` (0 before the first
        interruption, ``j`` from interruption ``j`` on), ``in_transition``, ``in_fit``, ``outcome`` and
        ``offset`` (NaN without an offset).
    X : pandas.DataFrame
        Design matrix, columns named by term, rows aligned with ``frame``.
    X_counterfactual : pandas.DataFrame
        ``X`` with the intervention terms (``effect_terms``) set to zero.
    effect_terms : tuple of str
        Terms that carry the intervention effect (``level_change``/``slope_change``…; ``diff_level_change``/
        ``diff_slope_change``… in controlled designs).
    interruption_terms : tuple of tuple of str
        The effect terms of each interruption, in order.
    slope_terms : tuple of str
        Terms whose coefficients add up to the post-interruption slope of the (treated) series.
    interruptions : tuple
        Interruption values on the scale of the time column (``pandas.Timestamp`` or int).
    interruption_t : tuple of int
        Period index ``T`` of each interruption (first post-interruption period).
    post_start_t : tuple of int
        Period index ``P = T + transition`` where each post segment starts.
    time_kind : str
        Kind of time column: ``"date"`` or ``"integer"``.
    freq : str or None
        ``"month"``, ``"quarter"``, ``"year"``, ``"week"`` or ``"day"`` for dates; ``None`` for integers.
    period : float or None
        Seasonal period used for Fourier terms, if any.
    segment_points : tuple of int
        Fitted points in each segment (pre, post 1, post 2, …) per series (staggered designs: the fewest
        over the treated series, before and after their own interruption).
    interruptions_given : tuple
        The interruption dates as given (``interruptions`` holds the first post-interruption periods used).
    interruption_names : tuple of str
        Names given with ``interruption_names=`` (empty otherwise).
    interruption_suffixes : tuple of str
        Suffix of each interruption's term names (``""``, ``"_2"``… or ``"_<name>"``).
    exclude_periods : tuple of tuple
        Excluded ranges: a label and the first and last excluded period.
    level_shifts : tuple of tuple
        Level shifts: name, first period, last period (``None`` when open-ended).
    shift_terms : tuple of str
        The ``shift_<name>`` terms.
    staggered : pandas.DataFrame or None
        Staggered designs: one row per treated series with ``group, interruption`` (as given),
        ``first_post_period, t, post_start_t, pre_points, post_points``.
    staggered_effects : str or None
        ``"pooled"`` or ``"by_series"`` for staggered designs.
    """

    frame: pd.DataFrame
    X: pd.DataFrame
    X_counterfactual: pd.DataFrame
    effect_terms: tuple[str, ...]
    interruption_terms: tuple[tuple[str, ...], ...]
    slope_terms: tuple[str, ...]
    interruptions: tuple[Any, ...]
    interruption_t: tuple[int, ...]
    post_start_t: tuple[int, ...]
    outcome: str
    time: str
    offset: str | None
    group: str | None
    treated: tuple[Any, ...]
    covariates: tuple[str, ...]
    seasonal_terms: tuple[str, ...]
    effect: str
    transition: int
    transition_shape: str
    time_kind: str
    freq: str | None
    period: float | None
    segment_points: tuple[int, ...]
    interruptions_given: tuple[Any, ...] = ()
    interruption_names: tuple[str, ...] = ()
    interruption_suffixes: tuple[str, ...] = ("",)
    exclude_periods: tuple[tuple[str, Any, Any], ...] = ()
    level_shifts: tuple[tuple[str, Any, Any], ...] = ()
    shift_terms: tuple[str, ...] = ()
    staggered: pd.DataFrame | None = None
    staggered_effects: str | None = None

    @property
    def is_staggered(self) -> bool:
        """True for a staggered controlled design (one go-live date per treated series)."""
        return self.staggered is not None

    @property
    def terms(self) -> tuple[str, ...]:
        """Term names in column order."""
        return tuple(self.X.columns)

    @property
    def controlled(self) -> bool:
        """True for a controlled (multiple-group) design."""
        return self.group is not None

    @property
    def fit_mask(self) -> np.ndarray:
        """Rows that enter the fit, as a boolean array."""
        return self.frame["in_fit"].to_numpy(dtype=bool)

    def time_of(self, t: int) -> Any:
        """Time value (on the scale of the time column) of period index ``t``."""
        hit = self.frame.loc[self.frame["t"] == t, "time"]
        if hit.empty:
            raise ITSInputError(f"period index {t} is outside the data")
        return hit.iloc[0]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, pd.Timestamp)) or np.isscalar(value):
        return [value]
    if hasattr(value, "__iter__"):
        return list(value)
    return [value]


def _check_columns(data: pd.DataFrame, names: list[str]) -> None:
    missing = [n for n in names if n not in data.columns]
    if missing:
        raise ITSInputError(
            f"column(s) {', '.join(map(repr, missing))} not found; the data have columns {list(data.columns)}"
        )


def _numeric_column(s: pd.Series, what: str, *, allow_bool: bool) -> np.ndarray:
    """Return ``s`` as float64, or raise naming the column and the offending rows."""
    if pd.api.types.is_bool_dtype(s.dtype):
        if allow_bool:
            return s.to_numpy(dtype="float64")
        raise ITSInputError(f"{what} {s.name!r} is boolean; it must be numeric")
    if not pd.api.types.is_numeric_dtype(s.dtype):
        coerced = pd.to_numeric(s, errors="coerce")
        bad = np.flatnonzero(coerced.isna().to_numpy() & s.notna().to_numpy())
        detail = (
            f"non-numeric values in {describe_rows(bad)}, e.g. {s.iloc[bad[0]]!r}"
            if bad.size
            else "convert it with pandas.to_numeric first"
        )
        raise ITSInputError(f"{what} {s.name!r} is not numeric (dtype {s.dtype}): {detail}")
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    return values


def _parse_time(s: pd.Series) -> tuple[str, np.ndarray, pd.Series]:
    """Classify the time column and return (kind, raw numeric key, parsed series)."""
    name = s.name
    if s.isna().any():
        raise ITSInputError(
            f"time column {name!r} has missing values in {describe_rows(np.flatnonzero(s.isna()))}"
        )
    if pd.api.types.is_bool_dtype(s.dtype):
        raise ITSInputError(f"time column {name!r} is boolean; use a date or integer period column")
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype="float64")
        bad = np.flatnonzero(~np.isfinite(v) | (v != np.round(v)))
        if bad.size:
            raise ITSInputError(
                f"time column {name!r} must hold whole numbers (or dates); "
                f"non-integer values in {describe_rows(bad)}"
            )
        return "integer", v.astype("int64"), pd.Series(v.astype("int64"), index=s.index, name=name)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        raise ITSInputError(f"time column {name!r} is timezone-aware; pass timezone-naive dates")
    if pd.api.types.is_datetime64_dtype(s.dtype):
        parsed = pd.Series(pd.to_datetime(s), index=s.index, name=name)
    else:
        # One strict rule: ISO 8601 text or date objects; dd/mm text and offsets are refused, never guessed.
        check_date_text(s, column=str(name), where="ITS data", error=ITSInputError)
        parsed, _ = strict_dates(s)
        parsed.name = name
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if bad.size:
            raise ITSInputError(
                f"time column {name!r} has values that are neither numbers nor dates "
                f"in {describe_rows(bad)}, "
                f"e.g. {s.iloc[bad[0]]!r}"
            )
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            raise ITSInputError(f"time column {name!r} is timezone-aware; pass timezone-naive dates")
    if (parsed != parsed.dt.normalize()).any():
        bad = np.flatnonzero((parsed != parsed.dt.normalize()).to_numpy())
        raise ITSInputError(
            f"time column {name!r} must hold period start dates without a time of day; "
            f"see {describe_rows(bad)}"
        )
    return "date", parsed.to_numpy(dtype="datetime64[ns]"), parsed


def _date_index(parsed: pd.Series) -> tuple[np.ndarray, str, int]:
    """Integer period keys for dates, the frequency name and the step between periods."""
    uniq = pd.DatetimeIndex(np.unique(parsed.to_numpy(dtype="datetime64[ns]")))
    month_key = (uniq.year * 12 + uniq.month - 1).to_numpy(dtype="int64")
    same_day = bool((uniq.day == uniq.day[0]).all()) or bool(uniq.is_month_end.all())
    if uniq.size >= 2 and same_day and np.all(np.diff(month_key) >= 1):
        step = reduce(math.gcd, np.diff(month_key).tolist())
        freqs = {1: "month", 3: "quarter", 12: "year"}
        if step in freqs:
            key = (parsed.dt.year * 12 + parsed.dt.month - 1).to_numpy(dtype="int64")
            return key, freqs[step], step
    days = (uniq.to_numpy(dtype="datetime64[D]").astype("int64")) if uniq.size else np.array([], "int64")
    step = reduce(math.gcd, np.diff(days).tolist()) if uniq.size >= 2 else 1
    if step in (1, 7):
        key = parsed.to_numpy(dtype="datetime64[D]").astype("int64")
        return key, ("week" if step == 7 else "day"), step
    raise ITSInputError(
        f"cannot tell the period of time column {parsed.name!r}: dates are {step} days apart; use monthly, "
        "quarterly or yearly period-start dates, weekly or daily dates, or an integer period column"
    )


def _next_start(last: Any, freq: str | None, step: int, month_end: bool) -> Any:
    """The period start after ``last`` (the start of the period just beyond the data)."""
    if not isinstance(last, pd.Timestamp):
        return int(last) + step
    if freq in ("month", "quarter", "year"):
        return last + (pd.offsets.MonthEnd(step) if month_end else pd.DateOffset(months=step))
    return last + pd.Timedelta(days=step)


def _as_time_value(v: Any, kind: str, name: str, what: str) -> Any:
    """Parse a user-given date or period on the scale of the time column."""
    if kind == "integer":
        try:
            fv = float(v)
        except (TypeError, ValueError):
            raise ITSInputError(f"{what} {v!r} is not a value of the integer time column {name!r}") from None
        if not math.isfinite(fv) or fv != round(fv):
            raise ITSInputError(f"{what} {v!r} must be a whole number (time column {name!r} is integer)")
        return int(fv)
    return parse_date(v, what=f"{what} (time column {name!r} holds dates)", error=ITSInputError)


def _map_interruptions(
    values: list[Any], kind: str, freq: str | None, step: int, starts: list[Any], name: str
) -> tuple[list[Any], list[int]]:
    """Map event dates to period indices: the first period starting on or after each date.

    Returns the parsed values as given and the period index ``T`` (1-based) of each.
    """
    given: list[Any] = []
    out: list[int] = []
    keys = np.array(starts, dtype="datetime64[ns]" if kind == "date" else "int64")
    month_end = kind == "date" and all(pd.Timestamp(s_).is_month_end for s_ in starts)
    for v in values:
        val = _as_time_value(v, kind, name, "interruption")
        probe = np.datetime64(val, "ns") if kind == "date" else val
        idx = int(np.searchsorted(keys, probe, side="left"))
        if probe < keys[0] or idx >= len(starts):
            nxt = ""
            if idx >= len(starts) and probe <= keys[-1] + (keys[-1] - keys[-2] if len(keys) > 1 else 0):
                nxt = (
                    f"; the first period starting on or after it would be "
                    f"{_fmt(_next_start(starts[-1], freq, step, month_end))}, after the last period"
                )
            raise ITSInputError(
                f"interruption {v!r} is outside the data: time column {name!r} runs from "
                f"{_fmt(starts[0])} to {_fmt(starts[-1])}{nxt}"
            )
        given.append(val)
        out.append(idx + 1)
    return given, out


def _period_ranges(
    ranges: Any,
    kind: str,
    freq: str | None,
    step: int,
    starts: list[Any],
    name: str,
    what: str,
    *,
    open_end: bool = False,
) -> list[tuple[str, tuple[int, int]]]:
    """Map (start, end) ranges, inclusive, to period indices ``(a, b)`` with a label for messages.

    A period is in the range when its start date lies in ``[start, end]``; ``end=None`` (only with
    ``open_end``) runs to the end of the data.
    """
    if ranges is None:
        return []
    items = list(ranges) if isinstance(ranges, (list, tuple)) else [ranges]
    if len(items) == 2 and not any(isinstance(x, (list, tuple)) for x in items):
        items = [tuple(items)]  # one (start, end) pair given without the enclosing list
    keys = np.array(starts, dtype="datetime64[ns]" if kind == "date" else "int64")
    out = []
    for item in items:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ITSInputError(f"{what} must be a list of (start, end) pairs, got {item!r}")
        lo, hi = item
        if lo is None:
            raise ITSInputError(f"{what}: the range {item!r} needs a start")
        start = _as_time_value(lo, kind, name, f"{what} start")
        end = None if hi is None else _as_time_value(hi, kind, name, f"{what} end")
        if hi is None and not open_end:
            raise ITSInputError(f"{what}: the range {item!r} needs an end (inclusive)")
        label = f"{_fmt(start)} to {_fmt(end)}" if end is not None else f"from {_fmt(start)} (open-ended)"
        if end is not None and end < start:
            raise ITSInputError(f"{what}: range {label} ends before it starts")
        conv = (lambda x: np.datetime64(x, "ns")) if kind == "date" else (lambda x: x)
        a = int(np.searchsorted(keys, conv(start), side="left")) + 1
        b = len(starts) if end is None else int(np.searchsorted(keys, conv(end), side="right"))
        if a > b:
            raise ITSInputError(
                f"{what}: range {label} holds no period of time column {name!r} "
                f"(which runs from {_fmt(starts[0])} to {_fmt(starts[-1])})"
            )
        out.append((label, (a, b)))
    return out


def _fourier(x: np.ndarray, k: int, period: float) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for j in range(1, k + 1):
        cols[f"sin_{j}"] = np.sin(2 * np.pi * j * x / period)
        cols[f"cos_{j}"] = np.cos(2 * np.pi * j * x / period)
    return cols


def _collinear_terms(X: np.ndarray, names: list[str]) -> list[str]:
    """Terms that add nothing to the column space spanned by the terms before them."""
    bad: list[str] = []
    keep: list[int] = []
    rank = 0
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    Xs = X / scale
    for j in range(X.shape[1]):
        r = np.linalg.matrix_rank(Xs[:, [*keep, j]], tol=1e-9 * max(X.shape))
        if r > rank:
            keep.append(j)
            rank = r
        else:
            bad.append(names[j])
    return bad


def build_its_design(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    interruptions: Any,
    family: Family = "gaussian",
    offset: str | None = None,
    seasonality: int | str | None = None,
    period: float | None = None,
    covariates: str | Sequence[str] = (),
    effect: Effect = "level+slope",
    transition: int = 0,
    transition_shape: TransitionShape = "exclude",
    group: str | None = None,
    treated: Any = None,
    exclude_periods: Sequence[tuple[Any, Any]] | None = None,
    level_shifts: Mapping[str, Any] | None = None,
    interruption_names: Sequence[str] | None = None,
    staggered_effects: StaggeredEffects = "pooled",
) -> ITSDesign:
    """Validate an ITS data frame and build its segmented-regression design (no fitting).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per period (per group in controlled designs). Not modified.
    outcome : str
        Outcome column (numeric; non-negative counts for count families).
    time : str
        Period column: dates (monthly, quarterly, yearly, weekly or daily period starts) or integers.
    interruptions : scalar, sequence or mapping
        Value(s) of ``time`` at which each interruption's first post-interruption period starts; a date
        inside a period means the first period starting on or after it. A mapping ``{series: date}`` (with
        ``group``) is a staggered design: one interruption per treated series.
    family : {"gaussian", "poisson", "quasipoisson", "negbin", "gamma"}, default "gaussian"
        Used here only to validate the outcome and offset (``gamma``: positive outcome, no offset).
    offset : str, optional
        Exposure column (population, cohort size, bed base); must be positive. Count families only.
    seasonality : None, int or "month", optional
        ``int`` ``K``: ``K`` Fourier pairs ``sin_1, cos_1, …, sin_K, cos_K`` of period ``period``
        (default 12 for monthly, 4 for quarterly, 52 for weekly dates; required otherwise). For monthly and
        quarterly dates the harmonics are of the calendar month (quarter), as ``tsModel::harmonic(month,
        K, 12)``; otherwise of ``t``. ``"month"``: calendar-month indicators ``month_2 … month_12``
        (January is the reference); needs monthly, weekly or daily dates.
    period : float, optional
        Seasonal period in periods, overriding the default.
    covariates : str or sequence of str, default ()
        Extra numeric (or boolean) columns entered linearly.
    effect : {"level", "slope", "level+slope"}, default "level+slope"
        Which change terms each interruption gets.
    transition : int, default 0
        Number of phase-in periods after each interruption (see module docstring).
    transition_shape : {"exclude", "ramp"}, default "exclude"
        Leave the phase-in periods out, or model the level change as a linear ramp through them.
    group : str, optional
        Group (series) column for a controlled design.
    treated : scalar or sequence, optional
        Value(s) of ``group`` that are treated; every other group is a control. Leave it out when
        ``interruptions`` is a mapping (its keys are the treated series).
    exclude_periods : sequence of (start, end), optional
        Inclusive ranges of periods left out of the fit (e.g. COVID-19 months); see the module docstring.
    level_shifts : mapping of name to (start, end) or start, optional
        Level-shift dummies ``shift_<name>`` (1 inside the range; open-ended with a start only).
    interruption_names : sequence of str, optional
        A name per interruption; the second and later interruptions' terms are named by it.
    staggered_effects : {"pooled", "by_series"}, default "pooled"
        Treatment terms of a staggered design (``interruptions`` a mapping): one pooled pair or one per
        treated series.

    Returns
    -------
    ITSDesign
        The validated design.

    Raises
    ------
    ITSInputError
        Missing columns, non-numeric or missing outcomes, non-positive offsets, missing or duplicated
        periods, interruptions outside the data, fewer than 3 points in a segment, collinear terms.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": range(1, 11), "y": [5.0, 6, 7, 6, 8, 4, 5, 4, 5, 3]})
    >>> d = build_its_design(df, outcome="y", time="t", interruptions=6)
    >>> d.terms
    ('intercept', 'pre_slope', 'level_change', 'slope_change')
    >>> d.X.loc[3:7, ["level_change", "slope_change"]].to_numpy().tolist()
    [[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]
    """
    check_literal(family, Family, "family")
    check_literal(effect, Effect, "effect")
    check_literal(transition_shape, TransitionShape, "transition_shape")
    check_literal(staggered_effects, StaggeredEffects, "staggered_effects")
    if not isinstance(data, pd.DataFrame):
        raise ITSInputError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if data.empty:
        raise ITSInputError("data has no rows")
    if isinstance(interruptions, Mapping) and group is None:
        raise ITSInputError(
            "interruptions given as a mapping {series: date} describe a staggered controlled design and "
            "need group= (the column that identifies the series); for one series with several "
            "interruptions pass a list of dates instead"
        )
    covs = [covariates] if isinstance(covariates, str) else list(covariates)
    for name, value in (("outcome", outcome), ("time", time)):
        if not isinstance(value, str):
            raise ITSInputError(f"{name} must be a column name (str), not {value!r}")
    if isinstance(transition, bool) or not isinstance(transition, (int, np.integer)) or transition < 0:
        raise ITSInputError(f"transition must be a non-negative whole number of periods, not {transition!r}")
    transition = int(transition)
    needed = [outcome, time, *covs] + ([offset] if offset else []) + ([group] if group else [])
    _check_columns(data, needed)
    if len(set(needed)) != len(needed):
        raise ITSInputError(
            f"a column is used twice among outcome, time, offset, covariates and group: {needed}"
        )
    for c in covs:
        if c in _RESERVED or c.startswith(_RESERVED_PREFIXES):
            raise ITSInputError(f"covariate {c!r} clashes with the design's term names; rename the column")

    df = data.reset_index(drop=True)
    n = len(df)
    row = np.arange(n)

    # --- groups --------------------------------------------------------------------------------------
    if group is None:
        if treated is not None:
            raise ITSInputError("treated= needs group= (the column that identifies the series)")
        gvals = np.array([None] * n, dtype=object)
        treated_mask = np.ones(n, dtype=bool)
        treated_vals: tuple[Any, ...] = ()
    else:
        if isinstance(interruptions, Mapping):
            keys = list(interruptions)
            if treated is not None and set(_as_list(treated)) != set(keys):
                raise ITSInputError(
                    f"treated={treated!r} does not match the treated series named by the interruptions "
                    f"mapping {keys}; in a staggered design the mapping's keys are the treated series, "
                    "so leave treated= out"
                )
            treated = keys
        if treated is None:
            raise ITSInputError("group= needs treated= (the treated group's value or values)")
        g = df[group]
        if g.isna().any():
            raise ITSInputError(
                f"group column {group!r} has missing values in {describe_rows(np.flatnonzero(g.isna()))}"
            )
        treated_vals = tuple(_as_list(treated))
        present = set(g.unique().tolist())
        absent = [v for v in treated_vals if v not in present]
        if absent:
            raise ITSInputError(
                f"treated value(s) {absent} not found in group column {group!r}; "
                f"groups are {sorted(map(str, present))}"
            )
        treated_mask = g.isin(treated_vals).to_numpy()
        if treated_mask.all():
            raise ITSInputError(
                f"every group in {group!r} is treated; a controlled design needs at least one control group"
            )
        gvals = g.to_numpy(dtype=object)

    # --- time ----------------------------------------------------------------------------------------
    kind, _raw, parsed = _parse_time(df[time])
    if kind == "date":
        key, freq, step = _date_index(parsed)
    else:
        freq = None
        key = parsed.to_numpy(dtype="int64")
        uk = np.unique(key)
        step = reduce(math.gcd, np.diff(uk).tolist()) if uk.size >= 2 else 1
    t_key = key

    # duplicates within group
    gkey = pd.factorize(df[group], sort=True)[0].astype("int64") if group else np.zeros(n, dtype="int64")
    dup = pd.DataFrame({"g": gkey, "k": t_key}).duplicated(keep=False).to_numpy()
    if dup.any():
        where = f" within a group of {group!r}" if group else ""
        raise ITSInputError(
            f"duplicated periods in time column {time!r}{where}: {describe_rows(np.flatnonzero(dup))}; "
            "aggregate to one row per period first"
        )
    kmin = int(t_key.min())
    t_index = (t_key - kmin) // step + 1
    if kind == "date" and freq == "week" and np.any((t_key - kmin) % step):
        raise ITSInputError(f"weekly dates in {time!r} do not fall on the same weekday")

    # missing periods (per group) and balanced groups
    time_of_t: dict[int, Any] = {}
    for ti, tv in zip(t_index.tolist(), parsed.tolist(), strict=True):
        time_of_t.setdefault(int(ti), tv)
    spans = {}
    for gv in np.unique(gkey):
        ts = np.sort(t_index[gkey == gv])
        full = np.arange(ts[0], ts[-1] + 1)
        missing = np.setdiff1d(full, ts)
        if missing.size:
            # label missing periods by value
            labels = _period_labels(missing, kind, freq, step, kmin, parsed)
            where = f" for group {gvals[np.flatnonzero(gkey == gv)[0]]!r}" if group else ""
            raise ITSInputError(
                f"missing periods in time column {time!r}{where}: {', '.join(labels[:_MAX_ROWS])}"
                f"{f' and {missing.size - _MAX_ROWS} more' if missing.size > _MAX_ROWS else ''}; "
                "every period between the first and last must be present (a zero count is a row with 0); "
                "to leave out a phase-in period use transition="
            )
        spans[gvals[np.flatnonzero(gkey == gv)[0]]] = (int(ts[0]), int(ts[-1]))
    if len(set(spans.values())) > 1:
        desc = "; ".join(f"{k!r}: periods {a}–{b}" for k, (a, b) in spans.items())
        raise ITSInputError(
            f"groups in {group!r} cover different periods ({desc}); "
            "a controlled design needs the same periods"
        )
    t_max = int(t_index.max())

    # --- interruptions -------------------------------------------------------------------------------
    starts = [time_of_t[t] for t in range(1, t_max + 1)]
    staggered = isinstance(interruptions, Mapping)
    if staggered:
        if interruption_names is not None:
            raise ITSInputError(
                "interruption_names= names the interruptions of a list; a staggered mapping is already "
                "named by its series"
            )
        if transition and transition_shape == "ramp":
            raise ITSInputError(
                "transition_shape='ramp' is not available for staggered designs; "
                "use transition_shape='exclude'"
            )
        if not interruptions:
            raise ITSInputError("interruptions must name at least one treated series and its date")
        ivals = []
        for key_s, v in interruptions.items():
            if isinstance(v, (list, tuple, np.ndarray, pd.Series)):
                raise ITSInputError(
                    f"interruptions[{key_s!r}] must be one date (the series' first post-interruption "
                    f"period), not {v!r}; a staggered design has one interruption per treated series"
                )
            ivals.append(v)
    else:
        ivals = _as_list(interruptions)
        if not ivals:
            raise ITSInputError("interruptions must name at least one period")
    given_values, i_t = _map_interruptions(ivals, kind, freq, step, starts, time)
    i_values = [starts[ti - 1] for ti in i_t]
    if not staggered and any(b <= a for a, b in itertools.pairwise(i_t)):
        raise ITSInputError(
            f"interruptions must be distinct and in increasing time order, got {ivals!r}"
            + (
                f" (first post-interruption periods {', '.join(_fmt(v) for v in i_values)})"
                if given_values != i_values
                else ""
            )
        )
    # --- staggered: one date per treated series; the distinct dates give the calendar terms ---------
    if staggered:
        assert group is not None
        series_t = dict(zip(interruptions.keys(), i_t, strict=True))
        series_given = dict(zip(interruptions.keys(), given_values, strict=True))
        cal_t = sorted(set(i_t))
        post_t = [ti + transition for ti in cal_t]
        for ti, p in zip(cal_t, post_t, strict=True):
            if p > t_max:
                raise ITSInputError(
                    f"the transition of {transition} periods after {_fmt(starts[ti - 1])} leaves no "
                    "post-interruption periods before the end of the data"
                )
    else:
        post_t = [ti + transition for ti in i_t]
        bounds = [*i_t[1:], t_max + 1]
        for j, (p, nxt) in enumerate(zip(post_t, bounds, strict=True)):
            if p >= nxt:
                raise ITSInputError(
                    f"the transition of {transition} periods after interruption {_fmt(i_values[j])} "
                    "leaves no post-interruption periods before the next interruption or the end of the data"
                )
        cal_t = list(i_t)

    # --- interruption names --------------------------------------------------------------------------
    if interruption_names is None:
        suffixes = ["" if j == 0 else f"_{j + 1}" for j in range(len(i_t))]
        inames: tuple[str, ...] = ()
    elif not staggered:
        inames = tuple(_as_list(interruption_names))
        if len(inames) != len(i_t):
            raise ITSInputError(
                f"interruption_names has {len(inames)} name(s) for {len(i_t)} interruption(s); "
                "give one name per interruption"
            )
        for nm in inames:
            if not isinstance(nm, str) or not _NAME.fullmatch(nm):
                raise ITSInputError(
                    f"interruption name {nm!r} must start with a letter and hold only letters, digits "
                    "and underscores (it becomes part of term names such as level_change_<name>)"
                )
        if len(set(inames)) != len(inames):
            raise ITSInputError(f"interruption_names must be distinct, got {list(inames)}")
        suffixes = [""] + [f"_{nm}" for nm in inames[1:]]

    # --- excluded periods and level shifts -----------------------------------------------------------
    excl_ranges = _period_ranges(exclude_periods, kind, freq, step, starts, time, "exclude_periods")
    shift_ranges: dict[str, tuple[int, int]] = {}
    if level_shifts:
        if not isinstance(level_shifts, Mapping):
            raise ITSInputError(
                "level_shifts must be a mapping {name: (start, end)} or {name: start} (open-ended), "
                f"not {type(level_shifts).__name__}"
            )
        for nm, rng in level_shifts.items():
            if not isinstance(nm, str) or not _NAME.fullmatch(nm):
                raise ITSInputError(
                    f"level shift name {nm!r} must start with a letter and hold only letters, digits and "
                    "underscores (the term is shift_<name>)"
                )
            pair = (rng, None) if not isinstance(rng, (list, tuple)) else tuple(rng)
            if len(pair) != 2:
                raise ITSInputError(
                    f"level_shifts[{nm!r}] must be a start date or a (start, end) pair, not {rng!r}"
                )
            shift_ranges[nm] = _period_ranges(
                [pair], kind, freq, step, starts, time, f"level_shifts[{nm!r}]", open_end=True
            )[0][1]
    excluded = np.zeros(n, dtype=bool)
    for _label, (a, b) in excl_ranges:
        excluded |= (t_index >= a) & (t_index <= b)
    for label, (a, b) in excl_ranges:
        hit = [starts[ti - 1] for ti in cal_t if a <= ti <= b]
        if hit:
            raise ITSInputError(
                f"exclude_periods range {label} covers the first post-interruption period "
                f"{_fmt(hit[0])}; an interruption's first period must be fitted (move the range or the "
                "interruption)"
            )

    # --- segments ------------------------------------------------------------------------------------
    segment = np.zeros(n, dtype="int64")
    in_transition = np.zeros(n, dtype=bool)
    if staggered:
        own_t = np.zeros(n, dtype="int64")
        own_p = np.zeros(n, dtype="int64")
        for sv, ti in series_t.items():
            m = gvals == sv
            own_t[m] = ti
            own_p[m] = ti + transition
            segment[m & (t_index >= ti)] = 1
        for ti, p in zip(cal_t, post_t, strict=True):
            in_transition |= (t_index >= ti) & (t_index < p)
    else:
        for j, (ti, p) in enumerate(zip(i_t, post_t, strict=True), start=1):
            segment[t_index >= ti] = j
            in_transition |= (t_index >= ti) & (t_index < p)
    base_fit = ~in_transition if transition_shape == "exclude" else np.ones(n, dtype=bool)
    in_fit = base_fit & ~excluded
    if staggered:
        rows_pts = []
        for sv, ti in series_t.items():
            m = gvals == sv
            pre = int(np.sum(m & in_fit & (t_index < ti)))
            post = int(np.sum(m & in_fit & (t_index >= ti + transition)))
            pre0 = int(np.sum(m & base_fit & (t_index < ti)))
            post0 = int(np.sum(m & base_fit & (t_index >= ti + transition)))
            rows_pts.append((sv, pre, post, pre0, post0))
        seg_points = [min(r[1] for r in rows_pts), min(r[2] for r in rows_pts)]
        checks = []
        for sv, pre, post, pre0, post0 in rows_pts:
            checks.append((pre, pre0, f"before the interruption of series {sv!r}", t_index < series_t[sv]))
            checks.append(
                (
                    post,
                    post0,
                    f"after the interruption of series {sv!r}",
                    t_index >= series_t[sv] + transition,
                )
            )
    else:
        ref = treated_mask if group is not None else np.ones(n, dtype=bool)
        seg_points = []
        checks = []
        names = ["before the first interruption"] + [f"after interruption {_fmt(v)}" for v in i_values]
        for j in range(len(i_t) + 1):
            seg_m = segment == j
            if j >= 1:
                seg_m = seg_m & (t_index >= post_t[j - 1]) if transition_shape == "exclude" else seg_m
            cnt = np.unique(t_index[ref & in_fit & seg_m]).size
            cnt0 = np.unique(t_index[ref & base_fit & seg_m]).size
            seg_points.append(int(cnt))
            checks.append((cnt, cnt0, names[j], seg_m))
    for count, count0, label, seg_m in checks:
        if count < EPOC_MINIMUM:
            culprit = [lab for lab, (a, b) in excl_ranges if np.any(seg_m & (t_index >= a) & (t_index <= b))]
            why = (
                f"; exclude_periods range {', '.join(culprit)} leaves {count} of {count0}"
                if count0 >= EPOC_MINIMUM and culprit
                else ""
            )
            raise ITSInputError(
                f"too few points {label}: {count} (at least {EPOC_MINIMUM} per segment, the Cochrane EPOC "
                f"minimum; {RECOMMENDED_MINIMUM} or more are recommended){why}"
            )

    # --- outcome, offset, covariates -----------------------------------------------------------------
    y = _numeric_column(df[outcome], "outcome column", allow_bool=False)
    bad = np.flatnonzero(np.isnan(y) & in_fit)
    if bad.size:
        raise ITSInputError(
            f"outcome column {outcome!r} has missing values in {describe_rows(bad)}; "
            "fit_its never drops rows "
            "silently: fill or remove them explicitly (a period with no events is a 0)"
        )
    bad = np.flatnonzero(np.isinf(y))
    if bad.size:
        raise ITSInputError(f"outcome column {outcome!r} has infinite values in {describe_rows(bad)}")
    bad = np.flatnonzero(np.abs(np.nan_to_num(y)) > MAX_ABS_OUTCOME)
    if bad.size:
        raise ITSInputError(
            f"outcome column {outcome!r} has values beyond ±{MAX_ABS_OUTCOME:.0e} in {describe_rows(bad)} "
            f"(e.g. {y[bad[0]]:.3g}); arithmetic on such values loses all precision: check the data, or "
            "rescale the outcome (e.g. thousands)"
        )
    fitted = y[in_fit]
    if fitted.size and np.all(fitted == 0) and family in COUNT_FAMILIES:
        raise ITSInputError(
            f"outcome column {outcome!r} is 0 in every one of the {fitted.size} fitted periods: there is "
            f"nothing for a {family} model to fit (check that the events were counted, e.g. that site codes "
            "and the window match the data)"
        )
    if fitted.size and np.all(fitted == fitted[0]):
        raise ITSInputError(
            f"outcome column {outcome!r} is constant ({fitted[0]:g}) in every one of the {fitted.size} "
            "fitted periods: a level or trend change cannot be estimated from a flat series"
        )
    if family in COUNT_FAMILIES:
        bad = np.flatnonzero(y < 0)
        if bad.size:
            raise ITSInputError(
                f"family={family!r} needs non-negative counts; "
                f"{outcome!r} is negative in {describe_rows(bad)}"
            )
        if family != "quasipoisson":
            bad = np.flatnonzero(np.isfinite(y) & (y != np.round(y)))
            if bad.size:
                raise ITSInputError(
                    f"family={family!r} needs whole-number counts; "
                    f"{outcome!r} has fractions in {describe_rows(bad)} "
                    "(use quasipoisson for non-integer rates of counts)"
                )
    if family == "gamma":
        bad = np.flatnonzero(np.isfinite(y) & (y <= 0))
        if bad.size:
            raise ITSInputError(
                f"family='gamma' models a positive mean (e.g. a mean length of stay); {outcome!r} is zero or "
                f"negative in {describe_rows(bad)}: check those periods (a period with no discharges has no "
                "mean), or use family='gaussian'"
            )
    if offset is not None and family == "gamma":
        raise ITSInputError(
            f"offset= does not apply to family='gamma': a mean such as a length of stay has no exposure "
            f"(got offset={offset!r}); model the mean itself as the outcome, or counts with a count family "
            "and an offset"
        )
    if offset is not None:
        if family not in COUNT_FAMILIES:
            raise ITSInputError(
                "offset= applies to count families (poisson, quasipoisson, negbin), "
                "where counts are modelled as rates; for a Gaussian model of a rate, compute the rate column "
                "and use it as the outcome"
            )
        off = _numeric_column(df[offset], "offset column", allow_bool=False)
        bad = np.flatnonzero(~np.isfinite(off) | (off <= 0))
        if bad.size:
            raise ITSInputError(
                f"offset column {offset!r} must be positive and finite; it is not in {describe_rows(bad)}"
            )
    else:
        off = np.full(n, np.nan)
    cov_cols: dict[str, np.ndarray] = {}
    for c in covs:
        v = _numeric_column(df[c], "covariate column", allow_bool=True)
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ITSInputError(
                f"covariate column {c!r} has missing or infinite values in {describe_rows(bad)}"
            )
        cov_cols[c] = v

    # --- seasonality ---------------------------------------------------------------------------------
    season_cols: dict[str, np.ndarray] = {}
    used_period: float | None = None
    if seasonality is not None:
        if isinstance(seasonality, str):
            if seasonality != "month":
                raise ITSInputError(
                    f"seasonality={seasonality!r} is not supported; "
                    "use None, an int (Fourier pairs) or 'month'"
                )
            if kind != "date" or freq in ("quarter", "year"):
                raise ITSInputError(
                    "seasonality='month' needs a monthly, weekly or daily date column; for integer time use "
                    "Fourier terms (seasonality=K with period=) or month indicators as covariates"
                )
            month = parsed.dt.month.to_numpy()
            for m in range(2, 13):
                season_cols[f"month_{m}"] = (month == m).astype("float64")
        elif (
            isinstance(seasonality, (int, np.integer))
            and not isinstance(seasonality, bool)
            and seasonality >= 1
        ):
            defaults = {"month": 12.0, "quarter": 4.0, "week": 52.0}
            used_period = float(period) if period is not None else defaults.get(freq or "")
            if used_period is None:
                raise ITSInputError(
                    f"seasonality={seasonality} needs period= (periods per seasonal cycle) for "
                    f"{'integer' if kind == 'integer' else freq} time"
                )
            if not math.isfinite(used_period) or used_period <= 2:
                raise ITSInputError(f"period must be a number above 2, not {period!r}")
            if 2 * int(seasonality) >= used_period:
                raise ITSInputError(
                    f"seasonality={seasonality} Fourier pairs need period > {2 * int(seasonality)} "
                    f"(got {used_period:g}); use fewer pairs"
                )
            if freq == "month" and used_period == 12.0:
                x = parsed.dt.month.to_numpy(dtype="float64")
            elif freq == "quarter" and used_period == 4.0:
                x = parsed.dt.quarter.to_numpy(dtype="float64")
            else:
                x = t_index.astype("float64")
            season_cols = _fourier(x, int(seasonality), used_period)
        else:
            raise ITSInputError(
                f"seasonality={seasonality!r} is not supported; use None, a positive int or 'month'"
            )
    elif period is not None:
        raise ITSInputError("period= is only used with seasonality= (Fourier terms)")

    # --- intervention terms --------------------------------------------------------------------------
    tf = t_index.astype("float64")
    cols: dict[str, np.ndarray] = {"intercept": np.ones(n), "pre_slope": tf}
    base_terms: list[list[str]] = []
    stagger_table: pd.DataFrame | None = None
    if staggered:
        # common calendar terms at each distinct go-live date (all series share them)
        for ti, p in zip(cal_t, post_t, strict=True):
            lab = _fmt(starts[ti - 1])
            if effect in ("level", "level+slope"):
                cols[f"calendar_level_{lab}"] = (tf >= p).astype("float64")
            if effect in ("slope", "level+slope"):
                cols[f"calendar_slope_{lab}"] = np.maximum(tf - p, 0.0)
        # every series has its own line: the reference (first control) by intercept/pre_slope, every other
        # series (controls, then treated, each in sorted order) by its differences from the reference
        order_vals = [gvals[np.flatnonzero(gkey == k)[0]] for k in np.unique(gkey)]
        tr_list = [v for v in order_vals if v in series_t]
        pts_of = {r[0]: (r[1], r[2]) for r in rows_pts}
        controls = [v for v in order_vals if v not in series_t]
        others = controls[1:] + tr_list
        single = len(others) == 1
        for sv in others:
            cols["diff_intercept" if single else f"diff_intercept_{sv}"] = (gvals == sv).astype("float64")
        for sv in others:
            cols["diff_pre_slope" if single else f"diff_pre_slope_{sv}"] = (gvals == sv) * tf
        own_level = treated_mask * (tf >= own_p)
        own_slope = treated_mask * np.maximum(tf - own_p, 0.0)
        these = []
        if staggered_effects == "pooled" or len(tr_list) == 1:
            if effect in ("level", "level+slope"):
                cols["diff_level_change"] = own_level.astype("float64")
                these.append("diff_level_change")
            if effect in ("slope", "level+slope"):
                cols["diff_slope_change"] = own_slope
                these.append("diff_slope_change")
        else:
            for sv in tr_list:
                zs = (gvals == sv).astype("float64")
                if effect in ("level", "level+slope"):
                    cols[f"diff_level_change_{sv}"] = zs * own_level
                    these.append(f"diff_level_change_{sv}")
                if effect in ("slope", "level+slope"):
                    cols[f"diff_slope_change_{sv}"] = zs * own_slope
                    these.append(f"diff_slope_change_{sv}")
        interruption_terms: tuple[tuple[str, ...], ...] = (tuple(these),)
        slope_terms = ["pre_slope"] + [c for c in cols if c.startswith("calendar_slope_")]
        slope_terms += [c for c in cols if c.startswith("diff_pre_slope")]  # sum over series: see effects()
        slope_terms += [t for t in these if t.startswith("diff_slope_change")]
        stagger_table = pd.DataFrame(
            {
                "group": tr_list,
                "interruption": [series_given[sv] for sv in tr_list],
                "first_post_period": [starts[series_t[sv] - 1] for sv in tr_list],
                "t": [series_t[sv] for sv in tr_list],
                "post_start_t": [series_t[sv] + transition for sv in tr_list],
                "pre_points": [pts_of[sv][0] for sv in tr_list],
                "post_points": [pts_of[sv][1] for sv in tr_list],
            }
        )
        first = min(series_t.values())
        i_t, post_t = [first], [first + transition]
        i_values = [starts[first - 1]]
        given_values = [min(series_given.values())]
        suffixes = [""]
    else:
        for j, (ti, p) in enumerate(zip(i_t, post_t, strict=True)):
            sfx = suffixes[j]
            these = []
            if effect in ("level", "level+slope"):
                if transition_shape == "ramp" and transition > 0:
                    level = np.clip((tf - ti + 1) / (transition + 1), 0.0, 1.0)
                else:
                    level = (tf >= p).astype("float64")
                cols[f"level_change{sfx}"] = level
                these.append(f"level_change{sfx}")
            if effect in ("slope", "level+slope"):
                cols[f"slope_change{sfx}"] = np.maximum(tf - p, 0.0)
                these.append(f"slope_change{sfx}")
            base_terms.append(these)
        slope_terms = ["pre_slope"] + [t for ts in base_terms for t in ts if t.startswith("slope_change")]
        if group is not None:
            z = treated_mask.astype("float64")
            cols["diff_intercept"] = z
            cols["diff_pre_slope"] = z * tf
            for these in base_terms:
                for term in these:
                    cols[f"diff_{term}"] = z * cols[term]
            interruption_terms = tuple(tuple(f"diff_{t}" for t in ts) for ts in base_terms)
            slope_terms = slope_terms + ["diff_pre_slope"] + [f"diff_{t}" for t in slope_terms[1:]]
        else:
            interruption_terms = tuple(tuple(ts) for ts in base_terms)
    shift_terms = []
    for nm, (a_t, b_t) in shift_ranges.items():
        cols[f"shift_{nm}"] = ((tf >= a_t) & (tf <= b_t)).astype("float64")
        shift_terms.append(f"shift_{nm}")
    effect_terms = tuple(t for ts in interruption_terms for t in ts)
    cols.update(season_cols)
    cols.update(cov_cols)

    order = np.lexsort((t_index, gkey)) if group else np.argsort(t_index, kind="stable")
    X = pd.DataFrame(cols).iloc[order].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "row": row[order],
            "time": parsed.iloc[order].reset_index(drop=True),
            "t": t_index[order],
            "group": gvals[order],
            "series": gkey[order],
            "treated": treated_mask[order],
            "segment": segment[order],
            "in_transition": in_transition[order],
            "in_fit": in_fit[order],
            "excluded": excluded[order],
            "outcome": y[order],
            "offset": off[order],
        }
    )
    fit_rows = frame["in_fit"].to_numpy()
    Xf = X.to_numpy()[fit_rows]
    bad_terms = _collinear_terms(Xf, list(X.columns))
    if bad_terms:
        raise ITSInputError(
            f"the design is rank deficient: term(s) {bad_terms} are constant or collinear with earlier terms "
            "in the fitted periods (check seasonality, covariates and the interruption dates)"
        )
    if fit_rows.sum() <= X.shape[1]:
        raise ITSInputError(
            f"too few points: {int(fit_rows.sum())} fitted periods for {X.shape[1]} terms; "
            "the model needs more "
            "periods than terms"
        )
    Xcf = X.copy()
    Xcf.loc[:, list(effect_terms)] = 0.0
    return ITSDesign(
        frame=frame,
        X=X,
        X_counterfactual=Xcf,
        effect_terms=effect_terms,
        interruption_terms=interruption_terms,
        slope_terms=tuple(slope_terms),
        interruptions=tuple(i_values),
        interruption_t=tuple(i_t),
        post_start_t=tuple(post_t),
        outcome=outcome,
        time=time,
        offset=offset,
        group=group,
        treated=treated_vals,
        covariates=tuple(covs),
        seasonal_terms=tuple(season_cols),
        effect=effect,
        transition=transition,
        transition_shape=transition_shape,
        time_kind=kind,
        freq=freq,
        period=used_period,
        segment_points=tuple(seg_points),
        interruptions_given=tuple(given_values),
        interruption_names=inames,
        interruption_suffixes=tuple(suffixes),
        exclude_periods=tuple((label, starts[a_t - 1], starts[b_t - 1]) for label, (a_t, b_t) in excl_ranges),
        level_shifts=tuple(
            (nm, starts[a_t - 1], None if _open_ended(level_shifts, nm) else starts[b_t - 1])
            for nm, (a_t, b_t) in shift_ranges.items()
        ),
        shift_terms=tuple(shift_terms),
        staggered=stagger_table,
        staggered_effects=staggered_effects if staggered else None,
    )


def _open_ended(level_shifts: Any, name: str) -> bool:
    rng = level_shifts[name]
    return not isinstance(rng, (list, tuple)) or rng[1] is None


def _fmt(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _period_labels(
    missing_t: np.ndarray, kind: str, freq: str | None, step: int, kmin: int, parsed: pd.Series
) -> list[str]:
    keys = kmin + (missing_t - 1) * step
    if kind == "integer":
        return [str(int(k)) for k in keys]
    if freq in ("month", "quarter", "year"):
        day = int(parsed.dt.day.iloc[0]) if not parsed.dt.is_month_end.all() else None
        out = []
        for k in keys:
            ts = pd.Timestamp(year=int(k // 12), month=int(k % 12) + 1, day=1)
            ts = ts + pd.offsets.MonthEnd(0) if day is None else ts.replace(day=day)
            out.append(ts.strftime("%Y-%m-%d"))
        return out
    return [str(np.datetime64(int(k), "D")) for k in keys]
