"""XmR, p, p′, u and u′ charts with the NHS "Making Data Count" rules and icons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from evaltoolkit.errors import SPCInputError
from evaltoolkit.spc._rules import classify

__all__ = [
    "LIMIT_FACTOR",
    "MIN_POINTS",
    "NEAR_FACTOR",
    "SCREEN_FACTOR",
    "SPCChart",
    "p_chart",
    "u_chart",
    "xmr",
]

#: Process limits of an XmR chart: mean ± 2.66 × mean moving range (≈ 3 sigma).
LIMIT_FACTOR = 2.66
#: Near (2-sigma) limits: mean ± (2/3)(2.66) × mean moving range ≈ 1.7733.
NEAR_FACTOR = 2.66 * 2 / 3
#: Moving ranges at or above 3.267 × mean moving range are screened out once before the limits are set.
SCREEN_FACTOR = 3.267
#: Limits resting on fewer points than this are trial limits (as the Making Data Count tool).
MIN_POINTS = 13

_DIRECTIONS = {"increase": 1, "decrease": -1, "neutral": 0}
_RULE_SETS = ("mdc", "ptd-0.2.2")
COLUMNS = (
    "period",
    "value",
    "mean",
    "lpl",
    "upl",
    "lower_near",
    "upper_near",
    "point_type",
    "rule",
    "rules_fired",
    "rebase_group",
    "trial_limits",
)


class SPCChart(pd.DataFrame):
    """A tidy SPC chart: one row per point, with the chart's classification as properties.

    Columns: ``period``, ``value``, ``mean`` (centre line), ``lpl``/``upl`` (lower/upper process limits),
    ``lower_near``/``upper_near`` (the 2-sigma limits used by the two-in-three rule), ``point_type``
    (``common_cause``, ``special_cause_improvement``, ``special_cause_concern``,
    ``special_cause_neutral_high``, ``special_cause_neutral_low``), ``rule`` (the rule that labels the point:
    ``outside_limits``, ``trend``, ``two_in_three``, ``shift``, or ``None``), ``rules_fired`` (every rule
    that fired, comma-separated), ``rebase_group`` (0, 1, ... from each rebase date) and ``trial_limits``
    (the group's limits rest on fewer than 13 points). p and u charts add ``numerator``, ``denominator``
    and ``sigma`` (the point's binomial or Poisson standard error before the Laney adjustment).

    The variation and assurance icons describe the latest rebase group: :attr:`variation`,
    :attr:`assurance`; :meth:`summary` gathers them with the latest point.
    """

    _metadata: ClassVar[list[str]] = ["_spc"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Built by :func:`xmr`, :func:`p_chart` and :func:`u_chart`; takes the arguments of
        :class:`pandas.DataFrame`."""
        super().__init__(*args, **kwargs)

    @property
    def _constructor(self) -> type[SPCChart]:
        return SPCChart

    def _info(self) -> dict[str, Any]:
        return getattr(self, "_spc", None) or {}

    @property
    def chart_type(self) -> str | None:
        """``"xmr"``, ``"p"``, ``"p_prime"``, ``"u"`` or ``"u_prime"``."""
        return self._info().get("chart_type")

    @property
    def improvement(self) -> str | None:
        """``"increase"``, ``"decrease"`` or ``"neutral"``: the direction that counts as improvement."""
        return self._info().get("improvement")

    @property
    def target(self) -> float | None:
        """The target the assurance icon is judged against, or ``None``."""
        return self._info().get("target")

    @property
    def rules(self) -> str | None:
        """The rule set, ``"mdc"`` or ``"ptd-0.2.2"``."""
        return self._info().get("rules")

    @property
    def sigma_z(self) -> float | None:
        """Laney's sigma_z of the latest rebase group (p and u charts; ``None`` for XmR charts).

        The spread of the standardised points relative to the binomial (Poisson) spread: about 1 when the
        plain p (u) chart fits, well above 1 under overdispersion (the plain chart's limits are then too
        narrow and flag too many points). Reported whether or not ``laney=True``.
        """
        return self._info().get("sigma_z")

    @property
    def n_dropped(self) -> int:
        """Points dropped because of a missing value (``missing="drop"``)."""
        return int(self._info().get("n_dropped", 0))

    @property
    def variation(self) -> str | None:
        """The variation icon of the latest point.

        One of ``common_cause``, ``improvement_high``, ``improvement_low``, ``concern_high``, ``concern_low``,
        ``neutral_high`` or ``neutral_low``.
        """
        return self._info().get("variation")

    @property
    def assurance(self) -> str | None:
        """The assurance icon of the latest rebase group.

        One of ``pass``, ``fail``, ``inconsistent``, or ``None`` without a target (or when improvement is
        ``"neutral"``).
        """
        return self._info().get("assurance")

    def summary(self) -> dict[str, Any]:
        """The latest point and the chart's icons as a dictionary (one row of :func:`board_pack`)."""
        if len(self) == 0:
            raise SPCInputError("the chart has no points")
        last = self.iloc[-1]
        group = self[self["rebase_group"] == last["rebase_group"]]
        return {
            "latest_period": last["period"],
            "latest_value": float(last["value"]),
            "mean": float(last["mean"]),
            "lpl": float(last["lpl"]),
            "upl": float(last["upl"]),
            "variation": self.variation,
            "assurance": self.assurance,
            "rule": last["rule"],
            "n_points": len(group),
            "n_special_cause": int((group["point_type"] != "common_cause").sum()),
            "trial_limits": bool(last["trial_limits"]),
            "chart_type": self.chart_type,
            "sigma_z": self.sigma_z,
        }


# --------------------------------------------------------------------------------------------- inputs


def _check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise SPCInputError(f"{name}= must be one of {list(choices)} (got {value!r})")


def _prepare(
    data: pd.DataFrame, period: str, numeric: Sequence[str], missing: str
) -> tuple[pd.DataFrame, int]:
    """Period and numeric columns, sorted by period, with missing values refused or dropped."""
    if not isinstance(data, pd.DataFrame):
        raise SPCInputError(f"data must be a pandas DataFrame (got {type(data).__name__})")
    _check_choice("missing", missing, ("error", "drop"))
    need = [period, *numeric]
    absent = [c for c in need if c not in data.columns]
    if absent:
        raise SPCInputError(f"data has no column {absent}; columns are {list(data.columns)}")
    frame = pd.DataFrame({"period": data[period].to_numpy()})
    for col in numeric:
        raw = data[col]
        vals = pd.to_numeric(raw, errors="coerce")
        bad = vals.isna() & raw.notna()
        if bad.any():
            where = data.loc[bad, period].tolist()[:5]
            raise SPCInputError(f"column {col!r} is not numeric at periods {where}")
        frame[col] = vals.to_numpy(dtype="float64", na_value=np.nan)
        if np.isinf(frame[col]).any():
            where = data.loc[np.isinf(frame[col]).to_numpy(), period].tolist()[:5]
            raise SPCInputError(f"column {col!r} is infinite at periods {where}")
    if frame["period"].isna().any():
        rows = np.flatnonzero(frame["period"].isna())[:5].tolist()
        raise SPCInputError(f"column {period!r} is missing at rows {rows}")
    dup = frame["period"].duplicated(keep=False)
    if dup.any():
        raise SPCInputError(
            f"column {period!r} repeats periods {sorted(set(frame.loc[dup, 'period'].tolist()))[:5]}; "
            "an SPC chart needs one value per period"
        )
    frame = frame.sort_values("period", kind="stable").reset_index(drop=True)
    gap = frame[list(numeric)].isna().any(axis=1)
    n_dropped = 0
    if gap.any():
        where = frame.loc[gap, "period"].tolist()
        if missing == "error":
            shown = ", ".join(str(p) for p in where[:10]) + (" ..." if len(where) > 10 else "")
            raise SPCInputError(
                f"{len(where)} missing value(s) in {list(numeric)} at periods {shown}; a gap would join the "
                "points either side and can create false signals. Fill the gap, or pass missing='drop' to "
                "leave these periods out (the number dropped is reported as n_dropped)"
            )
        n_dropped = int(gap.sum())
        frame = frame.loc[~gap].reset_index(drop=True)
    return frame, n_dropped


def _groups(periods: pd.Series, rebase: object) -> np.ndarray:
    """Rebase group of each period: 0 before the first rebase date, 1 from it, and so on."""
    if rebase is None:
        return np.zeros(len(periods), dtype=int)
    dates = list(rebase) if isinstance(rebase, list | tuple | pd.Index | np.ndarray | pd.Series) else [rebase]
    dtype = periods.dtype
    try:
        if isinstance(dtype, pd.PeriodDtype):
            dates = [pd.Period(d, freq=dtype.freq) for d in dates]
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            dates = [pd.Timestamp(d) for d in dates]
    except (TypeError, ValueError) as exc:
        raise SPCInputError(f"rebase= {rebase!r} cannot be read as periods of the series: {exc}") from exc
    first, last = periods.iloc[0], periods.iloc[-1]
    try:
        dates = sorted(dates)
        outside = [d for d in dates if not (first < d <= last)]
    except TypeError as exc:
        raise SPCInputError(
            f"rebase= {rebase!r} cannot be compared with the periods of the series (e.g. {first!r}); give "
            "rebase dates of the same kind as the period column"
        ) from exc
    if outside:
        raise SPCInputError(
            f"rebase dates {[str(d) for d in outside]} are not after the first period ({first}) and on or "
            f"before the last ({last})"
        )
    values = periods.to_numpy()
    groups = np.zeros(len(values), dtype=int)
    for d in dates:
        groups += np.array([v >= d for v in values], dtype=int)
    counts = np.bincount(groups, minlength=len(dates) + 1)
    if (counts < 2).any():
        small = [i for i, c in enumerate(counts) if c < 2]
        raise SPCInputError(
            f"rebase dates {[str(d) for d in dates]} leave rebase group(s) {small} with fewer than 2 points; "
            "limits need at least 2 points (13 for firm limits)"
        )
    return groups


def _finish(
    frame: pd.DataFrame,
    groups: np.ndarray,
    centre: np.ndarray,
    lpl: np.ndarray,
    upl: np.ndarray,
    lower_near: np.ndarray,
    upper_near: np.ndarray,
    trial: np.ndarray,
    *,
    value: np.ndarray,
    improvement: str,
    target: float | None,
    rules: str,
    extra: dict[str, np.ndarray],
    info: dict[str, Any],
) -> SPCChart:
    direction = _DIRECTIONS[improvement]
    types: list[str] = []
    labels: list[str | None] = []
    fired: list[str] = []
    for g in np.unique(groups):
        m = groups == g
        t, lab, every = classify(
            value[m],
            centre[m],
            lpl[m],
            upl[m],
            lower_near[m],
            upper_near[m],
            improvement=direction,
            rules=rules,
        )
        types += t
        labels += lab
        fired += every
    out = pd.DataFrame(
        {
            "period": frame["period"].to_numpy(),
            "value": value,
            "mean": centre,
            "lpl": lpl,
            "upl": upl,
            "lower_near": lower_near,
            "upper_near": upper_near,
            "point_type": types,
            "rule": pd.Series(labels, dtype=object),
            "rules_fired": fired,
            "rebase_group": groups,
            "trial_limits": trial,
            **extra,
        }
    )
    chart = SPCChart(out)
    variation = _variation(types[-1], value[-1] - centre[-1], labels[-1], direction) if types else None
    assurance = _assurance(target, float(lpl[-1]), float(upl[-1]), direction) if types else None
    chart._spc = {
        **info,
        "improvement": improvement,
        "target": None if target is None else float(target),
        "rules": rules,
        "variation": variation,
        "assurance": assurance,
    }
    return chart


def _variation(point_type: str, above: float, rule: str | None, direction: int) -> str:
    if point_type == "common_cause":
        return "common_cause"
    if point_type == "special_cause_neutral_high":
        return "neutral_high"
    if point_type == "special_cause_neutral_low":
        return "neutral_low"
    good = point_type == "special_cause_improvement"
    high = (direction > 0) == good  # improvement when higher is better, or concern when lower is better
    return ("improvement_" if good else "concern_") + ("high" if high else "low")


def _assurance(target: float | None, lpl: float, upl: float, direction: int) -> str | None:
    if target is None or direction == 0 or not (np.isfinite(lpl) and np.isfinite(upl)):
        return None
    if direction > 0:
        return "fail" if target > upl else "pass" if target < lpl else "inconsistent"
    return "fail" if target < lpl else "pass" if target > upl else "inconsistent"


def _common_checks(improvement: str, rules: str, target: float | None) -> None:
    _check_choice("improvement", improvement, tuple(_DIRECTIONS))
    _check_choice("rules", rules, _RULE_SETS)
    if target is not None and not (isinstance(target, int | float) and np.isfinite(target)):
        raise SPCInputError(f"target= must be a finite number or None (got {target!r})")


# --------------------------------------------------------------------------------------------- XmR


def xmr(
    data: pd.DataFrame,
    value: str = "value",
    period: str = "period",
    *,
    improvement: Literal["increase", "decrease", "neutral"] = "increase",
    target: float | None = None,
    rebase: object = None,
    fix_after: int | None = None,
    screen_outliers: bool = True,
    rules: Literal["mdc", "ptd-0.2.2"] = "mdc",
    missing: Literal["error", "drop"] = "error",
) -> SPCChart:
    """XmR (individuals) chart with the NHS "Making Data Count" rules.

    Within each rebase group: the centre line is the mean of the group's points (of its first
    ``fix_after`` points when given); moving ranges ``|x_t - x_{t-1}|`` are taken within the group (never
    across a rebase) and averaged (``amr``); with ``screen_outliers`` the moving ranges at or above
    3.267 × amr are dropped once and amr recomputed; process limits are mean ± 2.66 × amr and near limits
    mean ± 1.7733 × amr. Four rules flag special-cause points: a point beyond a process limit (strictly);
    a **trend** of 7 points each strictly above (below) the one before (a tie breaks it); **two in three**
    consecutive points beyond the near limit with all three on the same side of the mean (only the points
    beyond the near limit are flagged); a **shift** of 7 points on one side of the mean (a point on the
    mean breaks it). All points of a run are flagged. A point's ``rule`` is the first that fired in the
    order outside limits > trend > two-in-three > shift.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per period. Not modified.
    value, period : str
        The value column and the period column (dates, periods or numbers; rows are sorted by period).
    improvement : {"increase", "decrease", "neutral"}
        Which direction is better. Points are labelled improvement/concern, or neutral high/low.
    target : float, optional
        Target for the assurance icon, judged on the latest rebase group's limits.
    rebase : period or sequence of periods, optional
        Recalculate the limits from these periods on (e.g. the go-live date). A rebase group starts at the
        first period on or after each date. Rebasing is manual only: the chart never rebases by itself.
    fix_after : int, optional
        Set each group's centre and limits from its first ``fix_after`` points only (a baseline) and
        extend them over the rest of the group.
    screen_outliers : bool
        Screen large moving ranges before setting the limits (NHSRplotthedots' default). ``False`` matches
        the Making Data Count Excel tool.
    rules : {"mdc", "ptd-0.2.2"}
        ``"mdc"`` (default): the current Making Data Count rule set, where points beyond the process limit
        also count towards two-in-three (changed by the MDC team in November 2023) and, where an
        improvement rule and a concern rule both fire on a point, the point shows improvement.
        ``"ptd-0.2.2"``: as NHSRplotthedots 0.2.2, where only points between the near and the process
        limits count towards two-in-three and the first rule in precedence order labels the point.
    missing : {"error", "drop"}
        A missing value raises :class:`~evaltoolkit.errors.SPCInputError` naming the periods (default), or
        the period is dropped (``"drop"``; the count is :attr:`SPCChart.n_dropped`).

    Returns
    -------
    SPCChart
        One row per point (columns in :class:`SPCChart`), with :attr:`~SPCChart.variation` and
        :attr:`~SPCChart.assurance` for the latest rebase group.

    Raises
    ------
    SPCInputError
        Missing column, non-numeric or missing values, repeated periods, rebase dates outside the series or
        leaving a group with fewer than 2 points, an unknown option.

    Notes
    -----
    Where this function departs from NHSRplotthedots 0.2.2 (R):

    - ``rules="mdc"`` (the default) counts points beyond the process limits towards two-in-three, and
      resolves an improvement/concern conflict on one point in favour of improvement (the MDC tool's
      behaviour); ``rules="ptd-0.2.2"`` reproduces the package.
    - Missing values are refused (or dropped with ``missing="drop"``); the package keeps them, which can
      create false flags.
    - Groups whose limits rest on fewer than 13 points are flagged ``trial_limits`` (the MDC tool's
      threshold); the package warns below 12. ``fix_after`` may be any number from 2; the package
      requires at least 12.
    - ``fix_after`` applies to every rebase group.
    - A moving range is screened when it is at or above 3.267 × amr; if every moving range is 0, none is
      screened (the limits then equal the mean).
    - Assurance uses strict inequalities (as the package; the MDC guidance text says "at or beyond").

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"month": pd.period_range("2024-01", periods=18, freq="M"),
    ...                   "value": [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]})
    >>> chart = xmr(d, value="value", period="month", improvement="decrease")
    >>> round(float(chart["mean"].iloc[0]), 6), round(float(chart["upl"].iloc[0]), 6)
    (1.944444, 4.604444)
    >>> chart.loc[4, ["point_type", "rule"]].tolist()
    ['special_cause_concern', 'outside_limits']
    >>> chart.variation, chart.assurance
    ('common_cause', None)
    """
    _common_checks(improvement, rules, target)
    if fix_after is not None and (not isinstance(fix_after, int | np.integer) or fix_after < 2):
        raise SPCInputError(f"fix_after= must be a whole number of at least 2 (got {fix_after!r})")
    frame, n_dropped = _prepare(data, period, [value], missing)
    if len(frame) < 2:
        raise SPCInputError(f"an XmR chart needs at least 2 points (got {len(frame)})")
    groups = _groups(frame["period"], rebase)
    y = frame[value].to_numpy()
    n = len(y)
    centre, amr_all = np.empty(n), np.empty(n)
    trial = np.zeros(n, dtype=bool)
    for g in np.unique(groups):
        m = groups == g
        base = y[m][: fix_after or None]
        mr = np.abs(np.diff(base))
        amr = float(mr.mean())
        if screen_outliers and amr > 0:
            amr = float(mr[mr < SCREEN_FACTOR * amr].mean())
        centre[m] = base.mean()
        amr_all[m] = amr
        trial[m] = len(base) < MIN_POINTS
    return _finish(
        frame,
        groups,
        centre,
        centre - LIMIT_FACTOR * amr_all,
        centre + LIMIT_FACTOR * amr_all,
        centre - NEAR_FACTOR * amr_all,
        centre + NEAR_FACTOR * amr_all,
        trial,
        value=y,
        improvement=improvement,
        target=target,
        rules=rules,
        extra={},
        info={"chart_type": "xmr", "n_dropped": n_dropped, "sigma_z": None},
    )


# --------------------------------------------------------------------------------------------- p, u


def _ratio_chart(
    kind: str,
    data: pd.DataFrame,
    numerator: str,
    denominator: str,
    period: str,
    *,
    laney: bool,
    per: float,
    improvement: str,
    target: float | None,
    rebase: object,
    rules: str,
    missing: str,
) -> SPCChart:
    _common_checks(improvement, rules, target)
    if not (isinstance(per, int | float) and per > 0):
        raise SPCInputError(f"per= must be a positive number (got {per!r})")
    frame, n_dropped = _prepare(data, period, [numerator, denominator], missing)
    if len(frame) < 2:
        raise SPCInputError(f"a {kind} chart needs at least 2 points (got {len(frame)})")
    x = frame[numerator].to_numpy()
    n = frame[denominator].to_numpy()
    bad = (n <= 0) | (x < 0) | ((x > n) if kind == "p" else np.zeros(len(x), dtype=bool))
    if bad.any():
        where = frame.loc[bad, "period"].tolist()[:5]
        rule = (
            f"0 ≤ {numerator} ≤ {denominator}, {denominator} > 0"
            if kind == "p"
            else (f"{numerator} ≥ 0, {denominator} > 0")
        )
        raise SPCInputError(f"{kind} chart needs {rule}; not so at periods {where}")
    groups = _groups(frame["period"], rebase)
    size = len(x)
    centre, sigma, factor = np.empty(size), np.empty(size), np.ones(size)
    trial = np.zeros(size, dtype=bool)
    sigma_z = float("nan")
    for g in np.unique(groups):
        m = groups == g
        c = x[m].sum() / n[m].sum()
        if c <= 0 or (kind == "p" and c >= 1):
            raise SPCInputError(
                f"the {kind} chart's centre line is {c:g} in rebase group {g}: every point is "
                f"{'0 or 1' if kind == 'p' else '0'}, so there is no variation to chart"
            )
        s = np.sqrt(c * (1 - c) / n[m]) if kind == "p" else np.sqrt(c / n[m])
        z = (x[m] / n[m] - c) / s
        sigma_z = float(np.mean(np.abs(np.diff(z))) / 1.128)
        centre[m], sigma[m] = c, s
        if laney:
            factor[m] = sigma_z
        trial[m] = m.sum() < MIN_POINTS
    p = x / n
    upper_cap = 1.0 if kind == "p" else np.inf

    def clip(a: np.ndarray) -> np.ndarray:
        return np.clip(a, 0.0, upper_cap) * per

    return _finish(
        frame,
        groups,
        centre * per,
        clip(centre - 3 * sigma * factor),
        clip(centre + 3 * sigma * factor),
        clip(centre - 2 * sigma * factor),
        clip(centre + 2 * sigma * factor),
        trial,
        value=p * per,
        improvement=improvement,
        target=target,
        rules=rules,
        extra={"numerator": x, "denominator": n, "sigma": sigma * per},
        info={
            "chart_type": kind + ("_prime" if laney else ""),
            "n_dropped": n_dropped,
            "sigma_z": sigma_z,
        },
    )


def p_chart(
    data: pd.DataFrame,
    numerator: str,
    denominator: str,
    period: str = "period",
    *,
    laney: bool = True,
    improvement: Literal["increase", "decrease", "neutral"] = "increase",
    target: float | None = None,
    rebase: object = None,
    rules: Literal["mdc", "ptd-0.2.2"] = "mdc",
    missing: Literal["error", "drop"] = "error",
) -> SPCChart:
    r"""p′ (Laney) or p chart of a proportion with a varying denominator.

    Within each rebase group: centre :math:`\bar p = \sum x / \sum n`; each point's binomial standard error
    :math:`\sigma_i = \sqrt{\bar p (1 - \bar p) / n_i}`; standardised points
    :math:`z_i = (p_i - \bar p)/\sigma_i`; :math:`\sigma_z = \overline{|z_i - z_{i-1}|} / 1.128`. The p′
    limits are :math:`\bar p \pm 3 \sigma_i \sigma_z` (near limits with 2), truncated to [0, 1]; the plain p
    chart (``laney=False``) uses :math:`\sigma_z = 1`. These are qicharts2's formulas. The four Making Data
    Count rules and icons then apply as in :func:`xmr`, against each point's own limits.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per period. Not modified.
    numerator, denominator : str
        Count columns: events (e.g. re-attendances within 28 days) and people or events at risk.
    period : str
        Period column.
    laney : bool
        Laney's p′ (default) or the plain p chart. :attr:`SPCChart.sigma_z` is reported either way: well
        above 1 means overdispersion, where the plain chart flags too many points.
    improvement, target, rebase, rules, missing
        As :func:`xmr` (target is a proportion, 0-1).

    Returns
    -------
    SPCChart
        As :func:`xmr`, with ``value`` the proportion and extra columns ``numerator``, ``denominator`` and
        ``sigma`` (:math:`\sigma_i`).

    Raises
    ------
    SPCInputError
        As :func:`xmr`; also a denominator of 0 or less, a numerator below 0 or above the denominator, or a
        group whose proportions are all 0 or all 1.

    Notes
    -----
    NHSRplotthedots 0.2.2 has no p or p′ chart. No moving-range screening is applied (as qicharts2), and
    the assurance icon uses the latest point's limits (they vary with the denominator).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"month": range(1, 6), "reattend": [10, 12, 8, 15, 9],
    ...                   "attend": [100, 120, 90, 110, 100]})
    >>> chart = p_chart(d, "reattend", "attend", "month")
    >>> round(float(chart["mean"].iloc[0]), 6), round(chart.sigma_z, 4)
    (0.103846, 0.7744)
    """
    return _ratio_chart(
        "p",
        data,
        numerator,
        denominator,
        period,
        laney=laney,
        per=1.0,
        improvement=improvement,
        target=target,
        rebase=rebase,
        rules=rules,
        missing=missing,
    )


def u_chart(
    data: pd.DataFrame,
    numerator: str,
    denominator: str,
    period: str = "period",
    *,
    laney: bool = True,
    per: float = 1.0,
    improvement: Literal["increase", "decrease", "neutral"] = "increase",
    target: float | None = None,
    rebase: object = None,
    rules: Literal["mdc", "ptd-0.2.2"] = "mdc",
    missing: Literal["error", "drop"] = "error",
) -> SPCChart:
    r"""u′ (Laney) or u chart of a rate with a varying denominator.

    As :func:`p_chart` with the Poisson standard error :math:`\sigma_i = \sqrt{\bar u / n_i}`, where
    :math:`\bar u = \sum x / \sum n`; lower limits are truncated at 0. Values, centre, limits and ``sigma``
    are multiplied by ``per`` (e.g. ``per=1000`` for attendances per 1,000 population, with the population
    as the denominator); so is the target's scale.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per period. Not modified.
    numerator, denominator : str
        Event counts and exposure (population, bed-days, ...).
    period : str
        Period column.
    laney : bool
        Laney's u′ (default) or the plain u chart; :attr:`SPCChart.sigma_z` is reported either way.
    per : float
        Rates per this many units of the denominator.
    improvement, target, rebase, rules, missing
        As :func:`xmr`.

    Returns
    -------
    SPCChart
        As :func:`p_chart`.

    Raises
    ------
    SPCInputError
        As :func:`xmr`; also a denominator of 0 or less, a negative numerator, or a group with no events.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"month": range(1, 6), "visits": [30, 42, 25, 51, 33],
    ...                   "population": [10000, 10500, 9800, 10200, 10100]})
    >>> chart = u_chart(d, "visits", "population", "month", per=1000, laney=False)
    >>> round(float(chart["mean"].iloc[0]), 4), chart.chart_type
    (3.5771, 'u')
    """
    return _ratio_chart(
        "u",
        data,
        numerator,
        denominator,
        period,
        laney=laney,
        per=per,
        improvement=improvement,
        target=target,
        rebase=rebase,
        rules=rules,
        missing=missing,
    )
