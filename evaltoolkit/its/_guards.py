"""Guards on an ITS fit: far extrapolation and autocorrelation that the method does not allow for.

:func:`guard_table` evaluates every guard of a fitted :class:`~evaltoolkit.its.ITSResult`;
:func:`guard_notes` turns the ones that fired into ``(category, message)`` pairs, which
:func:`~evaltoolkit.its.fit_its` issues as warnings and stores in ``result.warnings``.

The guards, precisely:

* **extrapolation** (:class:`~evaltoolkit.its.ExtrapolationWarning`): for each treated series, take the
  pre-period (before the first interruption, fitted periods only) observed and fitted values on the outcome
  scale (rates ``value / offset`` with an offset). With ``lo``/``hi`` their minimum and maximum and
  ``spread = hi - lo``, the guard fires when the counterfactual (every interruption's terms set to zero) at
  the horizon lies outside ``[lo - spread, hi + spread]``. The horizon is the last period of the data (or
  the ``end`` given to :meth:`~evaltoolkit.its.ITSResult.cumulative_effect`).
* **short pre-period** (:class:`~evaltoolkit.its.ExtrapolationWarning`): the pre-period has fewer fitted
  periods than there are periods from the first interruption to the horizon (inclusive).
* **autocorrelation** (:class:`~evaltoolkit.its.AutocorrelationWarning`): for methods that assume
  independent errors (``method="ols"`` with model SEs, including the count GLMs), the lag-1 residual
  autocorrelation ``r1`` is positive and either ``r1 ≥ 0.3`` or the Breusch–Godfrey test of order 1 (as
  in :meth:`~evaltoolkit.its.ITSResult.diagnostics`) rejects at 5%. (Negative autocorrelation makes
  independent-error SEs of level and slope changes conservative, so it is not flagged.) For AR error
  methods, the AR persistence
  (the sum of the AR coefficients; φ for AR(1)) is ≥ 0.8: there the short-series downward bias of AR
  estimates is severe and the intervals too narrow (Turner et al. 2021). An estimate at the boundary is
  reported by :class:`~evaltoolkit.its.ARBoundaryWarning` instead.

References
----------
Turner SL, Forbes AB, Karahalios A, Taljaard M, McKenzie JE. Evaluation of statistical methods used in the
analysis of interrupted time series studies: a simulation study. BMC Med Res Methodol 2021;21:181.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaltoolkit.its._ar import BOUNDARY, ARData, pacf_from_ar
from evaltoolkit.its.diagnostics import acf_pacf, breusch_godfrey
from evaltoolkit.its.errors import AutocorrelationWarning, ExtrapolationWarning

if TYPE_CHECKING:
    from evaltoolkit.its.results import ITSResult

__all__ = [
    "AR_HIGH",
    "AUTOCORRELATION_ALPHA",
    "AUTOCORRELATION_R1",
    "GUARD_COLUMNS",
    "guard_notes",
    "guard_table",
]

AUTOCORRELATION_R1 = 0.3
"""Independent-error methods: ``|r1|`` of the residuals at or above this fires the autocorrelation guard."""
AUTOCORRELATION_ALPHA = 0.05
"""Independent-error methods: a Breusch–Godfrey (order 1) p-value below this fires the guard."""
AR_HIGH = 0.8
"""AR methods: an AR persistence (sum of AR coefficients) at or above this fires the guard."""

GUARD_COLUMNS = ["guard", "fired", "value", "threshold", "category", "message"]
"""Columns of :func:`guard_table` (and :meth:`evaltoolkit.its.ITSResult.guards`)."""


def _fmt(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, pd.Timestamp) else str(value)


def _scale(result: ITSResult, rows: np.ndarray) -> np.ndarray:
    f = result.design.frame
    if result.design.offset:
        return f["offset"].to_numpy(dtype="float64")[rows]
    return np.ones(int(rows.sum()) if rows.dtype == bool else rows.size)


def _response(result: ITSResult, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Values on the outcome scale (a rate per unit of offset when there is one) at ``rows``."""
    eta = X[rows] @ result.params
    return np.exp(eta) if result.is_count else eta


def _extrapolation(result: ITSResult, horizon_t: int) -> list[dict[str, Any]]:
    d = result.design
    f = d.frame
    t = f["t"].to_numpy()
    treated = f["treated"].to_numpy(dtype=bool)
    in_fit = f["in_fit"].to_numpy(dtype=bool)
    pre = treated & in_fit & (f["segment"].to_numpy() == 0)
    X = d.X.to_numpy(dtype="float64")
    Xc = d.X_counterfactual.to_numpy(dtype="float64")
    series = f["series"].to_numpy()
    y = f["outcome"].to_numpy(dtype="float64")
    lo_all, hi_all, worst, worst_series = math.inf, -math.inf, None, None
    excess_max = -math.inf
    for s in pd.unique(series[treated]):
        own_pre = pre & (series == s)
        at = treated & (series == s) & (t == horizon_t)
        if not own_pre.any() or not at.any():
            continue
        obs = y[own_pre] / _scale(result, own_pre)
        fitted = _response(result, X, own_pre)
        values = np.r_[obs[np.isfinite(obs)], fitted]
        lo, hi = float(values.min()), float(values.max())
        spread = hi - lo
        cf = float(_response(result, Xc, at)[0])
        # how far outside the widened range, in units of the spread (0 at the edge of [lo, hi])
        excess = max(lo - cf, cf - hi, 0.0) / spread if spread > 0 else (math.inf if cf != lo else 0.0)
        if excess > excess_max:
            excess_max, worst, worst_series = excess, (cf, lo - spread, hi + spread), s
            lo_all, hi_all = lo, hi
    if worst is None:
        return []
    cf, wlo, whi = worst
    fired = excess_max > 1.0
    when = _fmt(d.time_of(horizon_t))
    who = f" of series {worst_series!r}" if d.controlled else ""
    scale = " (rate per unit of offset)" if d.offset else ""
    message = (
        f"the counterfactual{who} at the horizon {when} ({cf:.4g}{scale}) lies outside the pre-period's "
        f"range [{lo_all:.4g}, {hi_all:.4g}] widened by its spread on each side [{wlo:.4g}, {whi:.4g}]: the "
        "effect rests on extrapolating the pre-period trend far beyond anything observed; check the trend "
        "(e.g. a shorter horizon, a different pre-period, or a placebo check with robustness_checks())"
    )
    return [
        {
            "guard": "extrapolation",
            "fired": fired,
            "value": excess_max,
            "threshold": 1.0,
            "category": ExtrapolationWarning,
            "message": message,
        }
    ]


def _short_pre(result: ITSResult, horizon_t: int) -> list[dict[str, Any]]:
    d = result.design
    f = d.frame
    t = f["t"].to_numpy()
    pre = (
        f["treated"].to_numpy(dtype=bool) & f["in_fit"].to_numpy(dtype=bool) & (f["segment"].to_numpy() == 0)
    )
    n_pre = int(np.unique(t[pre]).size)
    n_post = int(horizon_t - d.interruption_t[0] + 1)
    if n_post < 1:
        return []
    message = (
        f"the pre-period has {n_pre} periods but the horizon {_fmt(d.time_of(horizon_t))} is {n_post} "
        "periods after the first interruption: the counterfactual is extrapolated further than the trend "
        "was observed"
    )
    return [
        {
            "guard": "short_pre_period",
            "fired": n_pre < n_post,
            "value": float(n_pre),
            "threshold": float(n_post),
            "category": ExtrapolationWarning,
            "message": message,
        }
    ]


def _autocorrelation(result: ITSResult) -> list[dict[str, Any]]:
    d = result.design
    if result.ar_params:
        phi = np.asarray(result.ar_params, dtype="float64")
        persistence = float(phi.sum())
        boundary = bool(np.any(np.abs(pacf_from_ar(phi)) >= BOUNDARY))
        message = (
            f"{result.method}: the AR persistence estimate is {persistence:.3f} (≥ {AR_HIGH}); AR estimates "
            "from short series are biased towards 0, more so the higher the true value, so the intervals are "
            "likely too narrow (Turner et al. 2021)"
        )
        if result.calibration is not None:
            message = (
                f"{result.method}: the AR(1) estimate is {persistence:.3f} (≥ {AR_HIGH}); the calibrated "
                "intervals are checked to cover for true autocorrelations up to 0.6 and may be too narrow "
                "if the true value is higher (the toolkit's coverage study; Turner et al. 2021)"
            )
        return [
            {
                "guard": "autocorrelation",
                "fired": persistence >= AR_HIGH and not boundary,
                "value": persistence,
                "threshold": AR_HIGH,
                "category": AutocorrelationWarning,
                "message": message,
            }
        ]
    if result.method != "ols" or result.se_type != "model":
        return []  # Newey–West (or another method that allows for autocorrelation): nothing to check here
    mask = d.fit_mask
    ar = ARData.from_groups(d.frame["t"].to_numpy()[mask], d.frame["series"].to_numpy()[mask])
    e = np.asarray(result.residuals, dtype="float64")
    if e.size < 4 or not np.any(e != 0):
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        acf, _ = acf_pacf(e, ar, 1)
        _, p = breusch_godfrey(e, np.asarray(result.diagnostic_X, dtype="float64"), ar, 1)
    r1 = float(acf[0])
    # positive autocorrelation only: negative autocorrelation makes independent-error SEs conservative
    fired = (
        math.isfinite(r1)
        and r1 > 0
        and (r1 >= AUTOCORRELATION_R1 or (math.isfinite(p) and p < AUTOCORRELATION_ALPHA))
    )
    message = (
        f"{result.method_description} assumes independent errors, but the lag-1 residual autocorrelation is "
        f"{r1:.3f} (Breusch–Godfrey order 1 p = {p:.3g}; the guard fires at |r1| ≥ {AUTOCORRELATION_R1} or "
        f"p < {AUTOCORRELATION_ALPHA}): the model SEs are likely too small; use an AR method "
        "(method='gls-reml' or 'prais-winsten') or se_type='newey-west'"
    )
    return [
        {
            "guard": "autocorrelation",
            "fired": bool(fired),
            "value": r1,
            "threshold": AUTOCORRELATION_R1,
            "category": AutocorrelationWarning,
            "message": message,
        }
    ]


def guard_table(result: ITSResult, horizon_t: int | None = None) -> pd.DataFrame:
    """Evaluate every guard of a fit.

    Parameters
    ----------
    result : ITSResult
        The fit.
    horizon_t : int, optional
        Period index (``t``) of the horizon; default the last period of the data.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GUARD_COLUMNS`; ``category`` is the warning class, ``value``/``threshold`` the
        measured number and its limit (extrapolation: the distance outside ``[lo, hi]`` in units of the
        spread, limit 1; short pre-period: pre-period periods and horizon periods; autocorrelation: ``r1``
        or the AR persistence).
    """
    if horizon_t is None:
        horizon_t = int(result.design.frame["t"].max())
    rows = [*_extrapolation(result, horizon_t), *_short_pre(result, horizon_t), *_autocorrelation(result)]
    out = pd.DataFrame(rows, columns=GUARD_COLUMNS)
    return out.astype({"fired": bool, "value": "float64", "threshold": "float64"})


def guard_notes(result: ITSResult, horizon_t: int | None = None) -> list[tuple[type[Warning], str]]:
    """``(category, message)`` for each guard that fired (see :func:`guard_table`)."""
    table = guard_table(result, horizon_t)
    return [(r.category, r.message) for r in table.itertuples(index=False) if r.fired]


def warn_at_horizon(result: ITSResult, horizon_t: int) -> None:
    """Issue the extrapolation guards that fire at ``horizon_t`` but did not at the end of the data (those
    were issued by ``fit_its`` already). Called by :meth:`~evaltoolkit.its.ITSResult.cumulative_effect`."""
    import warnings

    for category, message in guard_notes(result, horizon_t):
        if category is ExtrapolationWarning and message not in result.warnings:
            warnings.warn(message, category, stacklevel=3)
