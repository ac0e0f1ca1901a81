"""One-way sensitivity analysis of a cost figure and its tornado chart.

Each input is moved to its low and its high value with every other input at its base value, and the
result recomputed: the unit cost across its range, the effect at its confidence limits, the service cost
across its range and the horizon. Inputs are sorted by the swing they cause, largest first: the chart
shows which assumption matters most.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from evaltoolkit.economics.costs import number
from evaltoolkit.economics.draws import ChangeDraws, _price
from evaltoolkit.errors import EconomicsInputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["TORNADO_COLUMNS", "plot_tornado", "tornado"]

TORNADO_COLUMNS: tuple[str, ...] = (
    "parameter",
    "label",
    "input_base",
    "input_low",
    "input_high",
    "outcome",
    "base",
    "outcome_low",
    "outcome_high",
    "swing",
    "series",
)
"""Columns of :func:`tornado` (``series``: the outcome of a row, with several outcomes)."""


def _value(activity: float, unit: float, service: float | None, outcome: str) -> float:
    return _total([(activity, unit)], service, outcome)


def _total(parts: list[tuple[float, float]], service: float | None, outcome: str) -> float:
    """The outcome from (activity change, unit cost) pairs: their cost summed, plus or over the service."""
    cost = sum(a * u for a, u in parts)
    if outcome == "cost":
        return cost
    if service is None:
        raise EconomicsInputError(f"outcome {outcome} needs service_cost")
    if outcome == "net_cost":
        return service + cost
    return -cost / service


def _one_activity(
    activity: Any, effect_limits: Any, conf_level: float | None, what: str
) -> tuple[float, tuple[float, float]]:
    """The base change and the change at its confidence limits (lower first) of one outcome."""
    if isinstance(activity, ChangeDraws) or np.ndim(activity) > 0:
        d = np.asarray(activity.draws if isinstance(activity, ChangeDraws) else activity, dtype="float64")
        if d.size < 100 or not np.all(np.isfinite(d)):
            raise EconomicsInputError(f"{what}: draws must be at least 100 finite values")
        base_act = activity.estimate if isinstance(activity, ChangeDraws) else float(np.median(d))
        conf = (
            conf_level
            if conf_level is not None
            else (activity.conf_level if isinstance(activity, ChangeDraws) else 0.95)
        )
        a = (1 - conf) / 2
        lims = tuple(float(x) for x in np.quantile(d, [a, 1 - a]))
        limits = effect_limits if effect_limits is not None else lims
    else:
        if isinstance(activity, bool) or not isinstance(activity, int | float | np.integer | np.floating):
            raise EconomicsInputError(f"{what} must be a number or draws, not {type(activity).__name__}")
        base_act = float(activity)
        if effect_limits is None:
            raise EconomicsInputError("effect_limits: give the change at its confidence limits (or draws)")
        limits = effect_limits
    if len(limits) != 2:
        raise EconomicsInputError(f"effect_limits must be two numbers (got {limits!r})")
    lo, hi = sorted(number(x, "effect_limits") for x in limits)
    return float(base_act), (lo, hi)


def tornado(
    activity: Any,
    unit_cost: Any,
    *,
    service_cost: Any = None,
    effect_limits: Any = None,
    horizon: tuple[float, float] | None = None,
    base_horizon: float | None = None,
    horizon_unit: str = "months",
    horizon_activity: Any = None,
    outcome: Literal["cost", "net_cost", "return_per_pound"] | None = None,
    conf_level: float | None = None,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One-way sensitivity of the cost, net cost or return per pound to each input.

    One outcome (``activity`` a number or draws), or several summed (``activity`` a mapping from a name
    to the change in that outcome, ``unit_cost`` a mapping with the same names): the net cost of a
    service that changes ED attendances and bed-days moves with each outcome's effect and unit cost, the
    service cost and the horizon, one at a time with every other input at its base value.

    Parameters
    ----------
    activity : float, ChangeDraws, array-like, or mapping of them
        The change in activity over the base horizon (negative: fewer bed-days); with draws, its estimate
        and percentile confidence limits are taken from them. A mapping gives several outcomes, summed.
    unit_cost : float, UnitCostValue, (low, high), or mapping of them
        Base value: the middle of the range; a range gives a ``unit_cost`` row. A mapping (with
        ``activity`` a mapping with the same names) gives each outcome's unit cost.
    service_cost : float or (low, high), optional
        Cost of the service over the base horizon; a range gives the ``service_cost`` row.
    effect_limits : (float, float) or mapping of them, optional
        The change at its confidence limits (default: from the draws; required for a single number).
    horizon : (float, float), optional
        Shorter and longer horizons (same unit as ``base_horizon``, e.g. months): the ``horizon`` row.
    base_horizon : float, optional
        The horizon of ``activity`` and ``service_cost`` (required with ``horizon``).
    horizon_unit : str, default "months"
        Unit of the horizons, for the label.
    horizon_activity : (float, float) or mapping of them, optional
        The change at the two horizons (e.g. the fit's cumulative effects). Default: scaled in proportion
        to the horizon (the average change per period held), which ignores a slope change. The service
        cost is always scaled in proportion. With several outcomes, every outcome moves with the horizon
        in the one ``horizon`` row.
    outcome : {"cost", "net_cost", "return_per_pound"}, optional
        Default ``net_cost`` when ``service_cost`` is given, else ``cost`` (summed over the outcomes).
    conf_level : float, optional
        For the limits from draws (default: that of a :class:`ChangeDraws`, else 0.95).
    labels : mapping of str to str, optional
        With several outcomes, the name each is shown under (default: its key).

    Returns
    -------
    pandas.DataFrame
        One row per input, largest swing first; columns :data:`TORNADO_COLUMNS`: ``parameter``
        (``unit_cost``, ``activity_change``, ``service_cost``, ``horizon``), ``label``, ``input_base``,
        ``input_low``, ``input_high``, ``outcome``, ``base`` (the outcome at the base values),
        ``outcome_low``/``outcome_high`` (at the low and high input), ``swing`` (their absolute
        difference), ``series`` (the outcome an ``activity_change`` or ``unit_cost`` row belongs to, with
        several outcomes; else empty).

    Examples
    --------
    >>> t = tornado(-400.0, (575.0, 719.1), service_cost=150_000.0, effect_limits=(-700.0, -100.0),
    ...             horizon=(12, 36), base_horizon=24)
    >>> t[["parameter", "outcome_low", "outcome_high", "swing"]].round(0)
             parameter  outcome_low  outcome_high     swing
    0  activity_change    -302935.0       85295.0  388230.0
    1          horizon     -54410.0     -163230.0  108820.0
    2        unit_cost     -80000.0     -137640.0   57640.0

    Two outcomes against one service: 150,000 − 400 × 647.05 − 1,000 × 280 = −388,820 at the base.

    >>> t = tornado({"bed_days": -400.0, "ed": -1000.0}, {"bed_days": (575.0, 719.1), "ed": 280.0},
    ...             service_cost=150_000.0,
    ...             effect_limits={"bed_days": (-700.0, -100.0), "ed": (-1500.0, -500.0)})
    >>> t[["parameter", "series", "outcome_low", "outcome_high"]].round(0)
             parameter    series  outcome_low  outcome_high
    0  activity_change  bed_days    -582935.0     -194705.0
    1  activity_change        ed    -528820.0     -248820.0
    2        unit_cost  bed_days    -360000.0     -417640.0
    """
    several = isinstance(activity, Mapping)
    if several:
        if not isinstance(unit_cost, Mapping) or set(unit_cost) != set(activity):
            raise EconomicsInputError(
                "unit_cost: with several outcomes give a mapping with the same names as activity "
                f"({', '.join(map(str, activity))})"
            )
        if not activity:
            raise EconomicsInputError("activity: no outcomes given")
        names = list(activity)
        acts, ucs = dict(activity), dict(unit_cost)
        lims_in = dict(effect_limits or {})
        hor_in = None if horizon_activity is None else dict(horizon_activity)
    else:
        if isinstance(unit_cost, Mapping):
            raise EconomicsInputError("unit_cost: a mapping goes with several outcomes (activity a mapping)")
        names = [""]
        acts, ucs = {"": activity}, {"": unit_cost}
        lims_in = {"": effect_limits}
        hor_in = None if horizon_activity is None else {"": horizon_activity}
    shown = {k: str((labels or {}).get(k, k)) for k in names}
    base_act: dict[str, float] = {}
    limits: dict[str, tuple[float, float]] = {}
    for k in names:
        what = f"activity[{k!r}]" if several else "activity"
        base_act[k], limits[k] = _one_activity(acts[k], lims_in.get(k), conf_level, what)
    prices = {k: _price(ucs[k], f"unit_cost[{k!r}]" if several else "unit_cost") for k in names}
    currencies = {p.currency for p in prices.values() if p.currency}
    if len(currencies) > 1:
        raise EconomicsInputError(f"unit_cost: the outcomes are priced in {' and '.join(sorted(currencies))}")
    svc = None if service_cost is None else _price(service_cost, "service_cost")
    out_name = outcome or ("net_cost" if svc is not None else "cost")
    if out_name not in ("cost", "net_cost", "return_per_pound"):
        raise EconomicsInputError(f"outcome must be cost, net_cost or return_per_pound, not {outcome!r}")
    if out_name != "cost" and svc is None:
        raise EconomicsInputError(f"outcome {out_name} needs service_cost")
    s_mid = None if svc is None else svc.mid
    mids = {k: prices[k].mid for k in names}

    def value(
        act: dict[str, float] | None = None, unit: dict[str, float] | None = None, s: Any = s_mid
    ) -> float:
        a = base_act | (act or {})
        u = mids | (unit or {})
        return _total([(a[k], u[k]) for k in names], s, out_name)

    base = value()
    rows: list[dict[str, Any]] = []

    def add(
        parameter: str,
        label: str,
        lo_in: float,
        hi_in: float,
        base_in: float,
        lo: float,
        hi: float,
        series: str | None = None,
    ) -> None:
        rows.append(
            {
                "parameter": parameter,
                "label": label,
                "input_base": float(base_in),
                "input_low": float(lo_in),
                "input_high": float(hi_in),
                "outcome": out_name,
                "base": base,
                "outcome_low": float(lo),
                "outcome_high": float(hi),
                "swing": abs(float(hi) - float(lo)),
                "series": series,
            }
        )

    for k in names:
        price = prices[k]
        prefix = f"{shown[k]}: " if several else ""
        series = k if several else None
        if price.is_range:
            cur = price.currency
            add(
                "unit_cost",
                prefix + "unit cost" + (f" ({cur})" if cur else ""),
                price.low,
                price.high,
                price.mid,
                value(unit={k: price.low}),
                value(unit={k: price.high}),
                series,
            )
        lo_e, hi_e = limits[k]
        add(
            "activity_change",
            prefix + "effect at its confidence limits",
            lo_e,
            hi_e,
            base_act[k],
            value(act={k: lo_e}),
            value(act={k: hi_e}),
            series,
        )
    if svc is not None and svc.is_range:
        add("service_cost", "service cost", svc.low, svc.high, svc.mid, value(s=svc.low), value(s=svc.high))
    if horizon is not None:
        if base_horizon is None or not number(base_horizon, "base_horizon") > 0:
            raise EconomicsInputError("base_horizon: give the (positive) horizon of the activity change")
        if len(horizon) != 2:
            raise EconomicsInputError(f"horizon must be two numbers (got {horizon!r})")
        h_lo, h_hi = sorted(number(x, "horizon") for x in horizon)
        if h_lo <= 0:
            raise EconomicsInputError(f"horizon must be positive (got {horizon!r})")
        bh = float(base_horizon)
        at: list[dict[str, float]] = [{}, {}]
        for k in names:
            given = None if hor_in is None else hor_in.get(k)
            if given is not None:
                if len(given) != 2:
                    raise EconomicsInputError("horizon_activity: give the change at the two horizons")
                pair = [number(given[0], "horizon_activity"), number(given[1], "horizon_activity")]
                if float(horizon[0]) > float(horizon[1]):
                    pair = pair[::-1]
            else:
                pair = [base_act[k] * h_lo / bh, base_act[k] * h_hi / bh]
            at[0][k], at[1][k] = pair
        vals = [
            value(act=at[i], s=None if s_mid is None else s_mid * h / bh) for i, h in enumerate((h_lo, h_hi))
        ]
        add("horizon", f"horizon ({horizon_unit})", h_lo, h_hi, bh, vals[0], vals[1])
    out = pd.DataFrame(rows, columns=list(TORNADO_COLUMNS))
    return out.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


def plot_tornado(table: pd.DataFrame, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Tornado chart of :func:`tornado`: one bar per input from the outcome at its low to its high value.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`tornado` (columns :data:`TORNADO_COLUMNS`).
    ax : matplotlib Axes, optional
        Axes to draw on (default: the current Axes).
    title : str, optional
        Title (default: none).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> t = tornado(-400.0, (575.0, 719.1), effect_limits=(-700.0, -100.0))
    >>> ax = plot_tornado(t)
    >>> len(ax.patches)
    4
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    missing = [c for c in TORNADO_COLUMNS if c not in table.columns]
    if missing:
        raise EconomicsInputError(f"plot_tornado: table lacks columns {', '.join(missing)} (use tornado())")
    if table.empty:
        raise EconomicsInputError("plot_tornado: the table has no rows")
    if ax is None:
        ax = plt.gca()
    t = table.iloc[::-1].reset_index(drop=True)  # largest swing on top
    base = float(t["base"].iloc[0])
    y = np.arange(len(t))
    low_w = t["outcome_low"].to_numpy() - base
    high_w = t["outcome_high"].to_numpy() - base
    ax.barh(y, low_w, left=base, color="#4c72b0", label="input at its low value")
    ax.barh(y, high_w, left=base, color="#dd8452", label="input at its high value")
    ax.axvline(base, color="black", linewidth=1)
    labels = [
        f"{lab}\n({_pair(lo, hi)})"
        for lab, lo, hi in zip(t["label"], t["input_low"], t["input_high"], strict=True)
    ]
    ax.set_yticks(y, labels)
    outcome = str(t["outcome"].iloc[0]).replace("_", " ")
    ax.set_xlabel(f"{outcome} (base {_pair(base)})")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _pair(x)))
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def _pair(*values: float) -> str:
    """Numbers with one rule for all: whole numbers with thousands separators from 100 up, else 2 decimals."""
    big = max(abs(float(v)) for v in values) >= 100
    text = [f"{v:,.0f}" if big else f"{v:,.2f}".rstrip("0").rstrip(".") for v in values]
    return " to ".join(text)
