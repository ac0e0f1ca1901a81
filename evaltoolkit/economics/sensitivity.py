"""One-way sensitivity analysis of a cost figure and its tornado chart.

Each input is moved to its low and its high value with every other input at its base value, and the
result recomputed: the unit cost across its range, the effect at its confidence limits, the service cost
across its range and the horizon. Inputs are sorted by the swing they cause, largest first: the chart
shows which assumption matters most.
"""

from __future__ import annotations

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
)
"""Columns of :func:`tornado`."""


def _value(activity: float, unit: float, service: float | None, outcome: str) -> float:
    cost = activity * unit
    if outcome == "cost":
        return cost
    if service is None:
        raise EconomicsInputError(f"outcome {outcome} needs service_cost")
    if outcome == "net_cost":
        return service + cost
    return -cost / service


def tornado(
    activity: Any,
    unit_cost: Any,
    *,
    service_cost: Any = None,
    effect_limits: tuple[float, float] | None = None,
    horizon: tuple[float, float] | None = None,
    base_horizon: float | None = None,
    horizon_unit: str = "months",
    horizon_activity: tuple[float, float] | None = None,
    outcome: Literal["cost", "net_cost", "return_per_pound"] | None = None,
    conf_level: float | None = None,
) -> pd.DataFrame:
    """One-way sensitivity of the cost, net cost or return per pound to each input.

    Parameters
    ----------
    activity : float, ChangeDraws or array-like
        The change in activity over the base horizon (negative: fewer bed-days); with draws, its estimate
        and percentile confidence limits are taken from them.
    unit_cost : float, UnitCostValue or (low, high)
        Base value: the middle of the range; a range gives the ``unit_cost`` row.
    service_cost : float or (low, high), optional
        Cost of the service over the base horizon; a range gives the ``service_cost`` row.
    effect_limits : (float, float), optional
        The change at its confidence limits (default: from the draws; required for a single number).
    horizon : (float, float), optional
        Shorter and longer horizons (same unit as ``base_horizon``, e.g. months): the ``horizon`` row.
    base_horizon : float, optional
        The horizon of ``activity`` and ``service_cost`` (required with ``horizon``).
    horizon_unit : str, default "months"
        Unit of the horizons, for the label.
    horizon_activity : (float, float), optional
        The change at the two horizons (e.g. the fit's cumulative effects). Default: scaled in proportion
        to the horizon (the average change per period held), which ignores a slope change. The service
        cost is always scaled in proportion.
    outcome : {"cost", "net_cost", "return_per_pound"}, optional
        Default ``net_cost`` when ``service_cost`` is given, else ``cost``.
    conf_level : float, optional
        For the limits from draws (default: that of a :class:`ChangeDraws`, else 0.95).

    Returns
    -------
    pandas.DataFrame
        One row per input, largest swing first; columns :data:`TORNADO_COLUMNS`: ``parameter``
        (``unit_cost``, ``activity_change``, ``service_cost``, ``horizon``), ``label``, ``input_base``,
        ``input_low``, ``input_high``, ``outcome``, ``base`` (the outcome at the base values),
        ``outcome_low``/``outcome_high`` (at the low and high input), ``swing`` (their absolute difference).

    Examples
    --------
    >>> t = tornado(-400.0, (575.0, 719.1), service_cost=150_000.0, effect_limits=(-700.0, -100.0),
    ...             horizon=(12, 36), base_horizon=24)
    >>> t[["parameter", "outcome_low", "outcome_high", "swing"]].round(0)
             parameter  outcome_low  outcome_high     swing
    0  activity_change    -302935.0       85295.0  388230.0
    1          horizon     -54410.0     -163230.0  108820.0
    2        unit_cost     -80000.0     -137640.0   57640.0
    """
    if isinstance(activity, ChangeDraws) or np.ndim(activity) > 0:
        d = np.asarray(activity.draws if isinstance(activity, ChangeDraws) else activity, dtype="float64")
        if d.size < 100 or not np.all(np.isfinite(d)):
            raise EconomicsInputError("activity: draws must be at least 100 finite values")
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
            raise EconomicsInputError(f"activity must be a number or draws, not {type(activity).__name__}")
        base_act = float(activity)
        if effect_limits is None:
            raise EconomicsInputError("effect_limits: give the change at its confidence limits (or draws)")
        limits = effect_limits
    if len(limits) != 2:
        raise EconomicsInputError(f"effect_limits must be two numbers (got {limits!r})")
    limits = tuple(number(x, "effect_limits") for x in limits)
    price = _price(unit_cost, "unit_cost")
    svc = None if service_cost is None else _price(service_cost, "service_cost")
    out_name = outcome or ("net_cost" if svc is not None else "cost")
    if out_name not in ("cost", "net_cost", "return_per_pound"):
        raise EconomicsInputError(f"outcome must be cost, net_cost or return_per_pound, not {outcome!r}")
    if out_name != "cost" and svc is None:
        raise EconomicsInputError(f"outcome {out_name} needs service_cost")
    s_mid = None if svc is None else svc.mid
    base = _value(base_act, price.mid, s_mid, out_name)
    cur = price.currency
    rows: list[dict[str, Any]] = []

    def add(
        parameter: str, label: str, lo_in: float, hi_in: float, base_in: float, lo: float, hi: float
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
            }
        )

    if price.is_range:
        add(
            "unit_cost",
            "unit cost" + (f" ({cur})" if cur else ""),
            price.low,
            price.high,
            price.mid,
            _value(base_act, price.low, s_mid, out_name),
            _value(base_act, price.high, s_mid, out_name),
        )
    lo_e, hi_e = sorted(float(x) for x in limits)
    add(
        "activity_change",
        "effect at its confidence limits",
        lo_e,
        hi_e,
        base_act,
        _value(lo_e, price.mid, s_mid, out_name),
        _value(hi_e, price.mid, s_mid, out_name),
    )
    if svc is not None and svc.is_range:
        add(
            "service_cost",
            "service cost",
            svc.low,
            svc.high,
            svc.mid,
            _value(base_act, price.mid, svc.low, out_name),
            _value(base_act, price.mid, svc.high, out_name),
        )
    if horizon is not None:
        if base_horizon is None or not number(base_horizon, "base_horizon") > 0:
            raise EconomicsInputError("base_horizon: give the (positive) horizon of the activity change")
        if len(horizon) != 2:
            raise EconomicsInputError(f"horizon must be two numbers (got {horizon!r})")
        h_lo, h_hi = sorted(number(x, "horizon") for x in horizon)
        if h_lo <= 0:
            raise EconomicsInputError(f"horizon must be positive (got {horizon!r})")
        if horizon_activity is not None:
            if len(horizon_activity) != 2:
                raise EconomicsInputError("horizon_activity: give the change at the two horizons")
            acts = [
                number(horizon_activity[0], "horizon_activity"),
                number(horizon_activity[1], "horizon_activity"),
            ]
            if float(horizon[0]) > float(horizon[1]):
                acts = acts[::-1]
        else:
            acts = [base_act * h_lo / base_horizon, base_act * h_hi / base_horizon]
        vals = [
            _value(acts[i], price.mid, None if s_mid is None else s_mid * h / base_horizon, out_name)
            for i, h in enumerate((h_lo, h_hi))
        ]
        add("horizon", f"horizon ({horizon_unit})", h_lo, h_hi, float(base_horizon), vals[0], vals[1])
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
