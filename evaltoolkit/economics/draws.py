"""Money from the same draws as the effect: cost of a change, net cost, return per pound, beds-equivalent.

The change in activity (bed-days or attendances, fitted minus counterfactual over a horizon) comes as
draws from its sampling distribution, e.g. the draws behind :func:`evaltoolkit.its.derived.derived_effects`
(:func:`change_draws` returns them for one fit or several sites). Every money figure is computed draw by
draw from those draws, so it agrees with the activity change on direction and on whether it excludes no
change: a unit cost is positive, so ``cost = change × unit cost`` has the sign of the change in every draw,
and ``return per pound = −cost / service cost`` the opposite sign.

Uncertainty in the price
    A unit cost (or service cost) given as a range ``(low, high)``, e.g. the two NCC years, is drawn
    uniformly between the bounds, independently of the activity draws, with a seeded generator; a single
    value is held fixed. The point estimate uses the middle of the range.

Sign convention
    Negative activity change = fewer bed-days or attendances; negative ``cost`` = money released; negative
    ``net_cost`` = the service costs less than it releases; ``return_per_pound`` = money released per
    pound (or other currency unit) spent on the service.

Capacity, not cash
    Bed-days released are **capacity released**: they free beds for other patients but release no cash
    unless beds or staff are actually removed. :func:`beds_equivalent` labels its result accordingly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from evaltoolkit.economics.costs import UnitCostValue, format_money, number
from evaltoolkit.errors import EconomicsInputError
from evaltoolkit.its.derived import (
    DEFAULT_DRAWS,
    DERIVED_COLUMNS,
    draw_coefficients,
    summarise_draws,
    total_contrast,
    totals,
    window_mask,
)

if TYPE_CHECKING:
    from evaltoolkit.its.results import ITSResult

__all__ = [
    "MONEY_COLUMNS",
    "ChangeDraws",
    "beds_equivalent",
    "change_draws",
    "combine_draws",
    "cost_draws",
    "cost_of_change",
    "draw_range",
    "net_cost",
    "return_per_pound",
]

MONEY_COLUMNS: tuple[str, ...] = (*DERIVED_COLUMNS[:-1], "unit", "price_year", "method")
"""Columns of :func:`cost_of_change`, :func:`net_cost` and :func:`return_per_pound`."""

MIN_DRAWS = 100


@dataclass(frozen=True, eq=False)
class ChangeDraws:
    """Draws of a change in activity (fitted minus counterfactual) and its value at the estimates.

    Attributes
    ----------
    estimate : float
        The change at the estimates.
    draws : ndarray
        One value per draw (read-only).
    conf_level : float
        Confidence level of the fit(s).
    method : str
        How the draws were made.
    """

    estimate: float
    draws: np.ndarray
    conf_level: float = 0.95
    method: str = ""

    @property
    def n_draws(self) -> int:
        """Number of draws."""
        return int(self.draws.size)


def change_draws(
    results: ITSResult | Sequence[ITSResult],
    *,
    start: Any = None,
    end: Any = None,
    windows: Sequence[tuple[Any, Any]] | None = None,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    key: str = "",
) -> ChangeDraws:
    """Draws of the cumulative change (fitted minus counterfactual) of one fit or several sites.

    The same draws as :func:`evaltoolkit.its.derived.derived_effects` with the same arguments (its
    ``absolute_change`` row summarises them), so money computed from them agrees with the effect table.

    Parameters
    ----------
    results : ITSResult or sequence of ITSResult
        One fit, or fits whose totals are added (sites, drawn jointly).
    start, end : time value, optional
        First and last period summed (default: the first post period to the last period).
    windows : sequence of (start, end), optional
        Per fit, its own window.
    n_draws, seed, key
        See :func:`evaltoolkit.its.derived.draw_coefficients`.

    Returns
    -------
    ChangeDraws

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from evaltoolkit.its import fit_its
    >>> rng = np.random.default_rng(7)
    >>> t = np.arange(1, 37)
    >>> y = rng.poisson(np.exp(4 + 0.01 * t - 0.3 * (t >= 19)))
    >>> res = fit_its(pd.DataFrame({"t": t, "y": y}), outcome="y", time="t", interruptions=19,
    ...               family="poisson", method="ols")
    >>> ch = change_draws(res, seed=1)
    >>> round(ch.estimate, 2), ch.n_draws
    (-337.44, 10000)
    """
    single = not isinstance(results, Sequence)
    fits: list[ITSResult] = [results] if single else list(results)  # type: ignore[list-item]
    if not fits:
        raise EconomicsInputError("change_draws: no fits given")
    if windows is not None and len(windows) != len(fits):
        raise EconomicsInputError("windows: give one (start, end) per fit")
    masks = [
        window_mask(r, *(windows[i] if windows is not None else (start, end))) for i, r in enumerate(fits)
    ]
    contrasts = [total_contrast(r, m) for r, m in zip(fits, masks, strict=True)]
    draws = draw_coefficients(fits, n_draws=n_draws, seed=seed, key=key, contrasts=contrasts)
    parts = [totals(d, m) for d, m in zip(draws, masks, strict=True)]
    tot = parts[0]
    for p in parts[1:]:
        tot = tot + p
    est, d = tot.absolute()
    d = np.array(d, dtype="float64")
    d.setflags(write=False)
    text = f"{draws[0].n_draws:,} draws of the coefficients (seed {seed})"
    if len(fits) > 1:
        text += f", {len(fits)} fits drawn jointly"
    return ChangeDraws(float(est), d, float(fits[0].conf_level), text)


# -- inputs ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Price:
    low: float
    high: float
    currency: str | None
    price_year: str | None
    unit: str | None
    text: str

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2

    @property
    def is_range(self) -> bool:
        return self.high > self.low


def _positive(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
        raise EconomicsInputError(f"{what} must be a number, not {type(x).__name__}")
    v = float(x)
    if not math.isfinite(v) or v <= 0:
        raise EconomicsInputError(f"{what} must be a positive finite number (got {x!r})")
    return v


def _price(x: Any, what: str) -> _Price:
    """Normalise a unit cost or service cost: a number, a UnitCostValue, a (low, high) pair of either,
    or anything with a ``price()`` method returning one of these (a protocol's unit cost)."""
    if hasattr(x, "price") and callable(x.price) and not isinstance(x, UnitCostValue):
        x = x.price()
    if isinstance(x, UnitCostValue):
        v = _positive(x.value, what)
        return _Price(v, v, x.currency, x.price_year, x.unit, format_money(v, x.currency))
    if isinstance(x, tuple | list):
        if len(x) != 2:
            raise EconomicsInputError(f"{what}: give one value or a (low, high) pair, not {len(x)} values")
        a, b = x
        if isinstance(a, UnitCostValue) or isinstance(b, UnitCostValue):
            if not (isinstance(a, UnitCostValue) and isinstance(b, UnitCostValue)):
                raise EconomicsInputError(f"{what}: give two numbers or two unit costs, not one of each")
            if a.currency != b.currency:
                raise EconomicsInputError(f"{what}: the two figures are in {a.currency} and {b.currency}")
            if a.unit != b.unit:
                raise EconomicsInputError(
                    f"{what}: the two figures price different units ({a.unit}, {b.unit})"
                )
            lo, hi = sorted((a, b), key=lambda u: u.value)
            py = lo.price_year if lo.price_year == hi.price_year else f"{lo.price_year} and {hi.price_year}"
            text = (
                f"{format_money(lo.value, lo.currency)} ({lo.price_year}) to "
                f"{format_money(hi.value, hi.currency)} ({hi.price_year})"
            )
            return _Price(_positive(lo.value, what), _positive(hi.value, what), a.currency, py, a.unit, text)
        lo_v, hi_v = sorted((_positive(a, what), _positive(b, what)))
        return _Price(lo_v, hi_v, None, None, None, f"{lo_v:,.2f} to {hi_v:,.2f}")
    v = _positive(x, what)
    return _Price(v, v, None, None, None, f"{v:,.2f}")


def _activity(
    draws: Any, estimate: float | None, conf_level: float | None
) -> tuple[float, np.ndarray, float, str]:
    if isinstance(draws, ChangeDraws):
        est = draws.estimate if estimate is None else number(estimate, "estimate")
        conf = draws.conf_level if conf_level is None else number(conf_level, "conf_level")
        return est, np.asarray(draws.draws, dtype="float64"), conf, draws.method
    if np.ndim(draws) == 0:
        raise EconomicsInputError(
            "draws must be simulated changes in activity (an array, or change_draws() of a fit), not one "
            "number; for a point value multiply it by the unit cost"
        )
    try:
        d = np.asarray(draws, dtype="float64").ravel()
    except (TypeError, ValueError) as exc:
        raise EconomicsInputError(f"draws must be numbers ({exc})") from exc
    bad = np.flatnonzero(~np.isfinite(d))
    if bad.size:
        where = ", ".join(map(str, bad[:5])) + (", ..." if bad.size > 5 else "")
        raise EconomicsInputError(f"draws: {bad.size} values are not finite (positions {where})")
    if d.size < MIN_DRAWS:
        raise EconomicsInputError(f"draws: need at least {MIN_DRAWS} simulated changes, got {d.size}")
    est = float(np.median(d)) if estimate is None else number(estimate, "estimate")
    conf = 0.95 if conf_level is None else number(conf_level, "conf_level")
    if not 0.5 < conf < 1:
        raise EconomicsInputError(f"conf_level must be between 0.5 and 1 (got {conf_level!r})")
    return est, d, conf, f"{d.size:,} draws of the change"


def draw_range(low: float, high: float, n_draws: int, *, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``n_draws`` values drawn uniformly between ``low`` and ``high`` (all ``low`` when they are equal).

    Parameters
    ----------
    low, high : float
        Bounds (in either order).
    n_draws : int
        Number of draws.
    seed : int or numpy.random.Generator, default 0
        Seed or generator.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> d = draw_range(575.0, 719.1, 10_000, seed=1)
    >>> bool(d.min() >= 575.0 and d.max() <= 719.1), round(float(d.mean()), 0)
    (True, 647.0)
    """
    lo, hi = sorted((number(low, "low"), number(high, "high")))
    if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer):
        raise EconomicsInputError(f"n_draws must be a whole number, not {n_draws!r}")
    n = int(n_draws)
    if n < 1:
        raise EconomicsInputError(f"n_draws must be at least 1, not {n_draws}")
    if hi == lo:
        return np.full(n, lo)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.uniform(lo, hi, n)


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the unit cost and the service cost (the same for every function)."""
    a, b = np.random.SeedSequence(int(seed)).spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def cost_draws(draws: Any, unit_cost: Any, *, seed: int = 0) -> np.ndarray:
    """The cost of the change in every draw: activity draw × unit-cost draw.

    A unit-cost range is drawn uniformly (seeded, independent of the activity draws); a single value is
    fixed. The same draws as the ``cost`` row of :func:`cost_of_change` with the same seed.

    Examples
    --------
    >>> act = np.linspace(-300, 100, 401)
    >>> c = cost_draws(act, (575.0, 719.1), seed=2)
    >>> bool(np.all(np.sign(c) == np.sign(act)))
    True
    """
    _, d, _, _ = _activity(draws, None, None)
    price = _price(unit_cost, "unit_cost")
    rng_u, _ = _streams(seed)
    return d * draw_range(price.low, price.high, d.size, seed=rng_u)


def combine_draws(
    draws: Sequence[Any], *, dependence: Literal["independent", "comonotone"] = "independent"
) -> np.ndarray:
    """The sum of several outcomes' draws (e.g. the cost of the change in each), under a stated dependence.

    ``independent`` adds the draws as they were drawn, position by position: right when the outcomes
    were drawn independently (as the toolkit draws each outcome's fits). ``comonotone`` sorts each
    outcome's draws and adds them by rank, the smallest with the smallest: the outcomes perfectly
    positively dependent (each at the same percentile of its own distribution), which gives the sum the
    widest spread any positive dependence can give it. Each outcome's own distribution is unchanged, so
    the mean of the sum is the same; only its spread moves. Use it as a bracket on the independent
    answer when the outcomes may move together (fewer ED attendances and fewer bed-days in the same
    people).

    Parameters
    ----------
    draws : sequence of ChangeDraws or array-like
        One set of draws per outcome, all of the same length.
    dependence : {"independent", "comonotone"}, default "independent"
        How the outcomes' draws are paired.

    Returns
    -------
    ndarray
        One value per draw (for ``comonotone``, in increasing order).

    Examples
    --------
    >>> a, b = np.array([1.0, 2.0, 3.0]), np.array([30.0, 10.0, 20.0])
    >>> combine_draws([a, b]).tolist(), combine_draws([a, b], dependence="comonotone").tolist()
    ([31.0, 12.0, 23.0], [11.0, 22.0, 33.0])

    Two normal outcomes, SDs 150 and 300: independent, the sum's SD is √(150² + 300²) = 335;
    comonotone, 150 + 300 = 450.

    >>> rng = np.random.default_rng(1)
    >>> x, y = rng.normal(-400, 150, 100_000), rng.normal(-1000, 300, 100_000)
    >>> ind, com = combine_draws([x, y]), combine_draws([x, y], dependence="comonotone")
    >>> round(float(ind.std()), -1), round(float(com.std()), -1)
    (340.0, 450.0)
    """
    if dependence not in ("independent", "comonotone"):
        raise EconomicsInputError(f"dependence must be independent or comonotone, not {dependence!r}")
    if isinstance(draws, ChangeDraws | np.ndarray) or not isinstance(draws, Sequence) or not draws:
        raise EconomicsInputError("draws: give a list with one set of draws per outcome")
    arrays = []
    for i, x in enumerate(draws):
        a = np.asarray(x.draws if isinstance(x, ChangeDraws) else x, dtype="float64").ravel()
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise EconomicsInputError(f"draws[{i}]: {bad.size} values are not finite")
        arrays.append(a)
    sizes = {a.size for a in arrays}
    if len(sizes) > 1:
        raise EconomicsInputError(
            "draws: every outcome needs the same number of draws "
            f"(got {', '.join(str(a.size) for a in arrays)})"
        )
    if dependence == "comonotone":
        arrays = [np.sort(a) for a in arrays]
    return np.sum(arrays, axis=0)


def _row(
    term: str,
    est: float,
    d: np.ndarray,
    conf: float,
    unit: str | None,
    price_year: str | None,
    method: str,
) -> dict[str, Any]:
    row = summarise_draws(term, est, d, conf, method)
    return {**row, "unit": unit, "price_year": price_year}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=list(MONEY_COLUMNS))
    for c in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value", "mc_error"):
        out[c] = out[c].astype("float64")
    out["n_draws"] = out["n_draws"].astype("int64")
    return out


def _money(
    draws: Any,
    unit_cost: Any,
    service_cost: Any,
    *,
    estimate: float | None,
    conf_level: float | None,
    seed: int,
    upto: str,
) -> pd.DataFrame:
    est, d, conf, how = _activity(draws, estimate, conf_level)
    price = _price(unit_cost, "unit_cost")
    rng_u, rng_s = _streams(seed)
    u = draw_range(price.low, price.high, d.size, seed=rng_u)
    cur = price.currency or "currency units"
    per_text = f"unit cost {price.text}" + (
        f" drawn uniformly (seed {seed})" if price.is_range else " (fixed)"
    )
    method = f"percentile interval; {how} × {per_text}"
    cost_est, cost_d = est * price.mid, d * u
    rows = [
        _row("activity_change", est, d, conf, price.unit, None, f"percentile interval; {how}"),
        _row("cost", cost_est, cost_d, conf, cur, price.price_year, method),
    ]
    if upto == "cost":
        return _frame(rows)
    svc = _price(service_cost, "service_cost")
    s = draw_range(svc.low, svc.high, d.size, seed=rng_s)
    svc_text = f"service cost {svc.text}" + (" drawn uniformly" if svc.is_range else " (fixed)")
    srow = _row("service_cost", svc.mid, s, conf, cur, price.price_year, svc_text)
    srow["p_value"] = math.nan  # an input, not an estimate
    rows.append(srow)
    rows.append(
        _row(
            "net_cost", svc.mid + cost_est, s + cost_d, conf, cur, price.price_year, f"{method}; + {svc_text}"
        )
    )
    if upto == "return_per_pound":
        rows.append(
            _row(
                "return_per_pound",
                -cost_est / svc.mid,
                -cost_d / s,
                conf,
                f"{cur} released per {cur} spent",
                price.price_year,
                f"{method}; ÷ {svc_text}",
            )
        )
    return _frame(rows)


def cost_of_change(
    draws: Any,
    unit_cost: Any,
    *,
    estimate: float | None = None,
    conf_level: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The change in activity and its cost, from the same draws.

    Parameters
    ----------
    draws : ChangeDraws or array-like
        Simulated changes in activity (e.g. bed-days, fitted minus counterfactual), from
        :func:`change_draws` or any simulation (at least 100 draws).
    unit_cost : float, UnitCostValue or (low, high)
        Cost of one unit of activity; a pair (numbers or two :class:`UnitCostValue`, e.g. both NCC years
        from :func:`~evaltoolkit.economics.unit_cost_range`) is drawn uniformly between them.
    estimate : float, optional
        The change at the estimates (default: that of a :class:`ChangeDraws`, else the median draw).
    conf_level : float, optional
        Default: that of a :class:`ChangeDraws`, else 0.95.
    seed : int, default 0
        Seed of the unit-cost draws.

    Returns
    -------
    pandas.DataFrame
        Rows ``activity_change`` and ``cost``, columns :data:`MONEY_COLUMNS`: ``term``, ``estimate``,
        ``std_error``, ``ci_lower``, ``ci_upper`` (percentile interval), ``p_value`` (Monte-Carlo, for no
        change), ``mc_error``, ``n_draws``, ``unit`` (the activity's unit, or the currency), ``price_year``,
        ``method``. The cost's estimate is the change at the estimates × the middle of the unit-cost range.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> act = rng.normal(-400, 150, 10_000)   # bed-days: 400 fewer, SD 150
    >>> out = cost_of_change(act, (575.0, 719.1), estimate=-400.0, seed=1)
    >>> out[["term", "estimate", "ci_lower", "ci_upper"]].round(0)
                  term  estimate  ci_lower  ci_upper
    0  activity_change    -400.0    -694.0    -107.0
    1             cost -258820.0 -458036.0  -67413.0
    """
    return _money(draws, unit_cost, None, estimate=estimate, conf_level=conf_level, seed=seed, upto="cost")


def net_cost(
    draws: Any,
    unit_cost: Any,
    service_cost: Any,
    *,
    estimate: float | None = None,
    conf_level: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Service cost plus the cost of the change in activity, from the same draws.

    ``net_cost = service_cost + change × unit_cost``: negative when the service releases more than it
    costs. ``service_cost`` is the cost of running the service over **the same period** as the activity
    change (a protocol's ``service_cost`` gives it per year: multiply by the horizon in years).

    Parameters
    ----------
    draws, unit_cost, estimate, conf_level, seed
        As :func:`cost_of_change` (the cost rows are identical for the same seed).
    service_cost : float or (low, high)
        In the unit cost's currency and price year; a range is drawn uniformly.

    Returns
    -------
    pandas.DataFrame
        Rows ``activity_change``, ``cost``, ``service_cost``, ``net_cost``; columns :data:`MONEY_COLUMNS`
        (``p_value`` of ``net_cost`` tests break-even; that of ``service_cost``, an input, is empty).

    Examples
    --------
    >>> act = np.linspace(-700, -100, 10_001)  # bed-days; 2.5% and 97.5% points: -685 and -115
    >>> out = net_cost(act, 600.0, 150_000.0, estimate=-400.0)
    >>> out.set_index("term").loc["net_cost", ["estimate", "ci_lower", "ci_upper"]].round(0).tolist()
    [-90000.0, -261000.0, 81000.0]
    """
    return _money(
        draws, unit_cost, service_cost, estimate=estimate, conf_level=conf_level, seed=seed, upto="net_cost"
    )


def return_per_pound(
    draws: Any,
    unit_cost: Any,
    service_cost: Any,
    *,
    estimate: float | None = None,
    conf_level: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Money released per pound spent on the service, with the rows it is built from (the same draws).

    ``return_per_pound = −(change × unit_cost) / service_cost``: 1.0 means the service releases what it
    costs. In every draw it has the opposite sign of the activity change (fewer bed-days, a positive
    return), so it agrees with the change on whether the interval excludes zero.

    Parameters
    ----------
    draws, unit_cost, service_cost, estimate, conf_level, seed
        As :func:`net_cost`.

    Returns
    -------
    pandas.DataFrame
        Rows ``activity_change``, ``cost``, ``service_cost``, ``net_cost``, ``return_per_pound``; columns
        :data:`MONEY_COLUMNS`.

    Examples
    --------
    >>> act = np.linspace(-700, -100, 10_001)
    >>> out = return_per_pound(act, 600.0, 150_000.0, estimate=-400.0).set_index("term")
    >>> out.loc["return_per_pound", ["estimate", "ci_lower", "ci_upper"]].round(2).tolist()
    [1.6, 0.46, 2.74]
    """
    return _money(
        draws,
        unit_cost,
        service_cost,
        estimate=estimate,
        conf_level=conf_level,
        seed=seed,
        upto="return_per_pound",
    )


def beds_equivalent(
    bed_days: Any,
    days: float,
    occupancy: float = 0.85,
    *,
    removed: bool = False,
    estimate: float | None = None,
    conf_level: float | None = None,
) -> pd.DataFrame:
    """A change in bed-days as beds: ``bed_days / (days × occupancy)``, labelled **capacity released**.

    1,000 bed-days fewer over a year at 85% occupancy is 1,000 / (365 × 0.85) = 3.2 beds fewer. Unless beds
    or staff are removed (``removed=True``), this capacity is used by other patients and releases no
    cash: the label says so.

    Parameters
    ----------
    bed_days : float, ChangeDraws or array-like
        The change in bed-days (negative: fewer), a number or draws.
    days : float
        Days over which the bed-days were counted (e.g. 730 for a 24-month horizon).
    occupancy : float, default 0.85
        Target bed occupancy (a proportion, 0 to 1).
    removed : bool, default False
        Beds or staff are actually removed (the label becomes cash released).
    estimate, conf_level
        As :func:`cost_of_change` (draws only).

    Returns
    -------
    pandas.DataFrame
        One row: ``term`` (``beds_equivalent``), ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``,
        ``p_value``, ``mc_error``, ``n_draws`` (the interval columns empty for a number), ``unit``
        (``beds``), ``label`` (``capacity released``, ``capacity used``, ``cash released`` or
        ``cash spent``), ``method``.

    Examples
    --------
    >>> beds_equivalent(-1000, days=365)[["estimate", "label"]].round(3)
       estimate              label
    0    -3.223  capacity released
    """
    days_v = _positive(days, "days")
    occ = _positive(occupancy, "occupancy")
    if occ > 1:
        raise EconomicsInputError(f"occupancy is a proportion from 0 to 1 (got {occupancy!r})")
    scale = days_v * occ
    formula = f"bed-days / ({days_v:g} days × {occ:g} occupancy)"
    if np.ndim(bed_days) == 0 and not isinstance(bed_days, ChangeDraws):
        if isinstance(bed_days, bool) or not isinstance(bed_days, int | float | np.integer | np.floating):
            raise EconomicsInputError(f"bed_days must be a number or draws, not {type(bed_days).__name__}")
        est = float(bed_days) / scale
        row: dict[str, Any] = dict.fromkeys(DERIVED_COLUMNS) | {
            "term": "beds_equivalent",
            "estimate": est,
            "n_draws": 0,
            "method": formula,
        }
    else:
        e, d, conf, how = _activity(bed_days, estimate, conf_level)
        est = e / scale
        row = summarise_draws(
            "beds_equivalent", est, d / scale, conf, f"{formula}; percentile interval; {how}"
        )
    if removed:
        label = "cash released" if est <= 0 else "cash spent"
    else:
        label = "capacity released" if est <= 0 else "capacity used"
    row |= {"unit": "beds", "label": label}
    out = pd.DataFrame([row], columns=[*DERIVED_COLUMNS[:-1], "unit", "label", "method"])
    for c in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value", "mc_error"):
        out[c] = out[c].astype("float64")
    out["n_draws"] = out["n_draws"].astype("int64")
    return out
