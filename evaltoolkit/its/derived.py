"""Derived effects from one set of draws: relative, absolute, cumulative, combined across sites and money.

Every quantity derived from an interrupted time series fit (the fitted-minus-counterfactual total over a
horizon, its ratio, the same summed over several sites, and that total times a unit cost) is computed
from **one set of draws** of the coefficients from their estimated sampling distribution. Because every
draw gives all the quantities at once, they always agree: the relative and absolute changes have the same
sign in every draw, so their percentile intervals agree on direction and on whether they exclude no
change, and a cost is the same draws times the unit cost.

The sampling distribution
    Each fit's coefficients are drawn from a normal distribution centred on the estimates with the
    fit's own covariance matrix, widened by ``k = q / z`` where ``q`` is the critical value of the fit's
    intervals for the headline contrast (the t quantile for ``use_t`` fits, the simulation-calibrated
    value for the calibrated default) and ``z`` the normal quantile at the same level. A linear
    quantity's percentile interval is then the fit's own interval (to Monte-Carlo error), and a
    nonlinear one (a ratio, a sum of expected counts) gets the simulation's percentile interval.

Several fits jointly (sites sharing a control series)
    The fits of a controlled design share the control series' data, so their estimates are correlated.
    :func:`draw_coefficients` draws them jointly from the linearised estimators: for each fit,
    ``β̂ − β ≈ A e`` where ``e`` are the whitened errors of its fitted rows (``A = (D̃'D̃)⁻¹D̃'``, ``D̃`` the
    derivative of the mean whitened by the fit's working covariance: its variance function and AR/ARMA
    correlation), and the rows of the shared control series use **the same** ``e`` in every fit. Each
    fit's draws are then rescaled so their covariance is exactly the fit's own (``M = chol(V) chol(A A')⁻¹``).
    Fits with no rows in common are independent. This is the parametric analogue of stacking the fits'
    estimating equations (Weesie 1999, Stata ``suest``).

Monte-Carlo error
    With the default 10,000 draws the Monte-Carlo standard error of a 95% percentile bound is about 2.7%
    of the standard error of the quantity (0.027 σ); each table reports ``mc_error`` measured from the
    draws (half the width of the order-statistic interval for each bound, over 1.96; the larger bound).
    p-values are two-sided Monte-Carlo p-values ``2·min(#≤0 + 1, #≥0 + 1) / (B + 1)``, so ``p < 1 −
    conf_level`` exactly when the percentile interval excludes zero; the smallest is ``2 / (B + 1)``.

Determinism
    Draws come from ``numpy.random.default_rng(SeedSequence(seed, spawn_key=...))`` with a key per
    group of fits, so the same inputs and seed give the same numbers.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from evaltoolkit.its._ar import ARData
from evaltoolkit.its.errors import ITSInputError

if TYPE_CHECKING:
    from evaltoolkit.its.results import ITSResult

__all__ = [
    "DEFAULT_DRAWS",
    "DERIVED_COLUMNS",
    "CoefficientDraws",
    "Totals",
    "agree",
    "derived_effects",
    "derived_table",
    "draw_coefficients",
    "headline_contrast",
    "summarise_draws",
    "total_contrast",
    "totals",
    "window_mask",
]

DEFAULT_DRAWS = 10_000
"""Default number of draws (Monte-Carlo SE of a 95% percentile bound about 0.027 standard errors)."""

DERIVED_COLUMNS: tuple[str, ...] = (
    "term",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "p_value",
    "mc_error",
    "n_draws",
    "method",
)
"""Columns of :func:`derived_effects` (and of :func:`summarise_draws`)."""


@dataclass(frozen=True, eq=False)
class CoefficientDraws:
    """Draws of one fit's coefficients (one row per draw), from :func:`draw_coefficients`.

    Attributes
    ----------
    result : ITSResult
        The fit.
    beta : ndarray
        ``n_draws × n_terms`` (read-only).
    scale : float
        The widening ``k = q / z`` applied (1 for normal Wald intervals).
    shared : bool
        Whether the draws share the control series' errors with other fits drawn with them.
    """

    result: ITSResult
    beta: np.ndarray
    scale: float
    shared: bool

    @property
    def n_draws(self) -> int:
        """Number of draws."""
        return int(self.beta.shape[0])


@dataclass(frozen=True, eq=False)
class Totals:
    """Fitted and counterfactual totals of a fit over some rows, at the estimates and in every draw.

    ``F``/``C`` are the values at the estimates, ``F_draws``/``C_draws`` one per draw. ``count`` is True
    for count families (totals of expected counts); for means (Gaussian, gamma) the totals are sums over
    periods of the per-period mean, and ``n_periods`` turns them into a mean difference per period.
    """

    F: float
    C: float
    F_draws: np.ndarray
    C_draws: np.ndarray
    n_periods: int
    count: bool
    log_link: bool

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.F + other.F,
            self.C + other.C,
            self.F_draws + other.F_draws,
            self.C_draws + other.C_draws,
            self.n_periods + other.n_periods,
            self.count and other.count,
            self.log_link and other.log_link,
        )

    def absolute(self, per_period: bool = False) -> tuple[float, np.ndarray]:
        """Fitted minus counterfactual total, estimate and draws; ``per_period=True`` divides a mean
        outcome's (not a count's) difference by the number of periods: the mean difference per period."""
        per = float(max(self.n_periods, 1)) if per_period and not self.count else 1.0
        return (self.F - self.C) / per, (self.F_draws - self.C_draws) / per

    def relative(self) -> tuple[float, np.ndarray]:
        """Fitted / counterfactual − 1, estimate and draws (NaN where the counterfactual is not positive)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            est = self.F / self.C - 1 if self.C > 0 else math.nan
            d = np.where(self.C_draws > 0, self.F_draws / self.C_draws - 1, np.nan)
        return est, d


# -- the joint sampling distribution ------------------------------------------------------------------
def _variance_function(result: ITSResult, mu: np.ndarray) -> np.ndarray:
    if result.family in ("poisson", "quasipoisson"):
        return mu
    if result.family == "negbin":
        theta = result.theta if result.theta else math.inf
        return mu + mu**2 / theta
    if result.family == "gamma":
        return mu**2
    return np.ones_like(mu)


def _linearised(result: ITSResult) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """``A`` (terms × fitted rows) with ``β̂ − β ≈ A e`` for whitened errors ``e``, ``A A'``, and the rows."""
    d = result.design
    mask = d.fit_mask
    f = d.frame.loc[mask]
    X = d.X.to_numpy(dtype="float64")[mask]
    if result.log_link:
        off = result._log_offset()[mask]
        mu = np.exp(X @ result.params + off)
        D = mu[:, None] * X
    else:
        mu = X @ result.params
        D = X
    s = np.sqrt(np.clip(_variance_function(result, mu), 1e-300, None))
    Ds = D / s[:, None]
    phi = np.asarray(result.ar_params, dtype="float64")
    if phi.size and result.method != "ols":
        ar = ARData.from_groups(f["t"].to_numpy(), f["series"].to_numpy())
        theta = np.asarray(result.ma_params, dtype="float64")
        if theta.size:
            from evaltoolkit.its._arma import _whiten

            Dw, _ = _whiten(phi, theta, ar, Ds)
        else:
            Dw, _ = ar.whiten(phi, Ds)
    else:
        Dw = Ds
    G = Dw.T @ Dw
    Ginv = np.linalg.pinv(G)
    A = Ginv @ Dw.T
    return A, Ginv, f


def _root(V: np.ndarray) -> np.ndarray:
    """``L`` with ``L L' = V``: Cholesky, or an eigen square root when ``V`` is not positive definite."""
    V = (V + V.T) / 2
    try:
        return np.linalg.cholesky(V)
    except np.linalg.LinAlgError:
        w, U = np.linalg.eigh(V)
        return U * np.sqrt(np.clip(w, 0, None))


def _rescale(V_target: np.ndarray, V_model: np.ndarray) -> np.ndarray:
    """``M`` with ``M V_model M' = V_target`` (Cholesky factors; eigen square roots when not positive)."""
    return _root(V_target) @ np.linalg.pinv(_root(V_model))


def _z(conf_level: float) -> float:
    return float(stats.norm.ppf(0.5 + conf_level / 2))


def headline_contrast(result: ITSResult) -> np.ndarray:
    """Gradient of the cumulative effect over every post period: the contrast whose critical value sets
    the widening of the draws (see the module text)."""
    d = result.design
    f = d.frame
    keep = f["treated"].to_numpy(dtype=bool) & d.fit_mask & (f["segment"].to_numpy() >= 1)
    if not keep.any():
        return np.zeros(len(result.terms))
    t = _totals_at(result, result.params[None, :], keep)
    gF, gC = t[2], t[3]
    return gF - gC


def _scale(result: ITSResult, contrast: np.ndarray | None) -> float:
    g = headline_contrast(result) if contrast is None else np.asarray(contrast, dtype="float64")
    if not np.any(g):
        g = None  # type: ignore[assignment]
    q = result.critical_value(g)
    return float(q / _z(result.conf_level))


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(key.encode()),)))


def draw_coefficients(
    results: ITSResult | Sequence[ITSResult],
    *,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    key: str = "",
    shared: bool = True,
    contrasts: Sequence[np.ndarray | None] | None = None,
) -> list[CoefficientDraws]:
    """Draw the coefficients of one or several fits from their (joint) sampling distribution.

    Parameters
    ----------
    results : ITSResult or sequence of ITSResult
        The fits. In controlled designs the rows of a control series (untreated rows) with the same
        group label and period are shared between the fits that contain them: their whitened errors
        are drawn once and used by every fit (see the module text), so the fits' draws are correlated
        as their estimates are.
    n_draws : int, default 10,000
        Number of draws.
    seed : int, default 0
        Seed; ``key`` (e.g. the series and method) is hashed into the stream so that different groups
        of fits drawn with one seed are independent.
    key : str
        See ``seed``.
    shared : bool, default True
        Share the control series' errors between fits (False: independent fits).
    contrasts : sequence of array or None, optional
        Per fit, the contrast whose critical value sets the widening ``k`` (default: the cumulative effect
        over every post period).

    Returns
    -------
    list of CoefficientDraws
        One per fit, in order.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from evaltoolkit.its import fit_its
    >>> t = np.arange(1, 25)
    >>> y = 50 + 0.5 * t - 6 * (t >= 13) + np.tile([0.4, -0.4, -0.4, 0.4], 6)
    >>> res = fit_its(pd.DataFrame({"t": t, "y": y}), outcome="y", time="t", interruptions=13, method="ols")
    >>> (d,) = draw_coefficients(res, n_draws=20_000, seed=1)
    >>> d.beta.shape
    (20000, 4)
    >>> bool(np.allclose(np.cov(d.beta.T) / d.scale**2, res.cov, rtol=0.05, atol=1e-4))
    True
    """
    single = not isinstance(results, Sequence)
    fits: list[ITSResult] = [results] if single else list(results)  # type: ignore[list-item]
    if not fits:
        raise ITSInputError("draw_coefficients: no fits given")
    n_draws = int(n_draws)
    if n_draws < 100:
        raise ITSInputError(f"n_draws must be at least 100, not {n_draws}")
    if contrasts is not None and len(contrasts) != len(fits):
        raise ITSInputError("contrasts: give one (or None) per fit")
    rng = _rng(seed, key)
    parts = []
    shared_keys: dict[Any, int] = {}
    for r in fits:
        if not np.all(np.isfinite(r.cov)):
            raise ITSInputError("draw_coefficients: a fit's covariance matrix is not finite")
        A, V_model, rows = _linearised(r)
        if shared and r.design.controlled and "group" in rows:
            is_shared = ~rows["treated"].to_numpy(dtype=bool)
        else:
            is_shared = np.zeros(len(rows), dtype=bool)
        keys = [
            (str(g), str(tm)) if s else None
            for g, tm, s in zip(
                rows["group"] if "group" in rows else rows["time"], rows["time"], is_shared, strict=True
            )
        ]
        for k in keys:
            if k is not None and k not in shared_keys:
                shared_keys[k] = len(shared_keys)
        parts.append((r, A, V_model, keys))
    E_shared = rng.standard_normal((n_draws, len(shared_keys))) if shared_keys else None
    out = []
    for i, (r, A, V_model, keys) in enumerate(parts):
        cols = [j for j, k in enumerate(keys) if k is not None]
        own = [j for j, k in enumerate(keys) if k is None]
        MA = _rescale(np.asarray(r.cov, dtype="float64"), V_model) @ A
        # the fit's own rows, drawn in coefficient space (the same distribution as A_own e_own, cheaper);
        # the shared rows through their whitened errors, drawn once for every fit
        S_own = MA[:, own] @ MA[:, own].T
        delta = rng.standard_normal((n_draws, S_own.shape[0])) @ _root(S_own).T
        if cols and E_shared is not None:
            delta += E_shared[:, [shared_keys[keys[j]] for j in cols]] @ MA[:, cols].T
        k = _scale(r, None if contrasts is None else contrasts[i])
        beta = np.asarray(r.params, dtype="float64")[None, :] + k * delta
        beta.setflags(write=False)
        out.append(CoefficientDraws(result=r, beta=beta, scale=k, shared=bool(cols)))
    return out


# -- totals ---------------------------------------------------------------------------------------------
def _row_weights(result: ITSResult, keep: np.ndarray) -> np.ndarray:
    """Weight of each kept row in a total: 1 for counts and staggered designs, else 1/(rows that period)."""
    d = result.design
    w = keep.astype("float64")
    if result.is_count or d.is_staggered:
        return w
    t = d.frame["t"].to_numpy()
    counts = pd.Series(keep.astype(int)).groupby(t).transform("sum").to_numpy()
    return np.where(keep, 1.0 / np.maximum(counts, 1), 0.0)


def _totals_at(
    result: ITSResult,
    beta: np.ndarray,
    keep: np.ndarray,
    X: np.ndarray | None = None,
    Xc: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """F and C for each row of ``beta`` (draws × terms), and their gradients at the first row.

    ``X``/``Xc`` default to the design's fitted and counterfactual matrices (all rows)."""
    d = result.design
    w = _row_weights(result, keep)
    rows = np.flatnonzero(w)
    X = (d.X.to_numpy(dtype="float64") if X is None else X)[rows]
    Xc = (d.X_counterfactual.to_numpy(dtype="float64") if Xc is None else Xc)[rows]
    wr = w[rows]
    if result.log_link:
        off = result._log_offset()[rows]
        mu = np.exp(beta @ X.T + off)
        mu_c = np.exp(beta @ Xc.T + off)
        F, C = mu @ wr, mu_c @ wr
        gF = (wr * mu[0]) @ X
        gC = (wr * mu_c[0]) @ Xc
    else:
        gF, gC = wr @ X, wr @ Xc
        F, C = beta @ gF, beta @ gC
    return F, C, gF, gC


def total_contrast(result: ITSResult, keep: np.ndarray) -> np.ndarray:
    """Gradient of the fitted-minus-counterfactual total over the rows ``keep`` at the estimates: the
    contrast whose critical value sets the widening of the draws for that total."""
    keep = np.asarray(keep, dtype=bool) & result.design.fit_mask
    _, _, gF, gC = _totals_at(result, np.asarray(result.params, dtype="float64")[None, :], keep)
    return gF - gC


def totals(
    draws: CoefficientDraws, keep: np.ndarray, X: np.ndarray | None = None, Xc: np.ndarray | None = None
) -> Totals:
    """:class:`Totals` of one fit over the rows ``keep`` (a boolean mask of the design's rows).

    ``X``/``Xc``: fitted and counterfactual matrices other than the design's (e.g. with a later
    interruption's terms set to zero)."""
    r = draws.result
    keep = np.asarray(keep, dtype=bool) & r.design.fit_mask
    F, C, _, _ = _totals_at(r, np.asarray(r.params, dtype="float64")[None, :], keep, X, Xc)
    Fd, Cd, _, _ = _totals_at(r, draws.beta, keep, X, Xc)
    t = r.design.frame["t"].to_numpy()
    n = int(keep.sum()) if r.design.is_staggered else int(np.unique(t[keep]).size)
    return Totals(float(F[0]), float(C[0]), Fd, Cd, n, bool(r.is_count), bool(r.log_link))


def window_mask(result: ITSResult, start: Any = None, end: Any = None) -> np.ndarray:
    """Rows summed for a cumulative effect: treated, fitted, post-interruption rows from start to end."""
    d = result.design
    f = d.frame
    t_all = f["t"].to_numpy()
    t0 = d.interruption_t[0] if start is None else result._t_of(start, "start")
    t1 = int(t_all.max()) if end is None else result._t_of(end, "end")
    if t1 < t0:
        raise ITSInputError("end is before start")
    keep = f["treated"].to_numpy(dtype=bool) & d.fit_mask & (t_all >= t0) & (t_all <= t1)
    if d.is_staggered:
        keep &= f["segment"].to_numpy() >= 1
    return keep


# -- summaries ------------------------------------------------------------------------------------------
def _mc_error(draws: np.ndarray, probs: tuple[float, float]) -> float:
    """Monte-Carlo SE of the percentile bounds: half the order-statistic 95% interval / 1.96 (larger)."""
    B = draws.size
    out = 0.0
    for p in probs:
        h = 1.959964 * math.sqrt(p * (1 - p) / B)
        lo, hi = np.quantile(draws, [max(p - h, 0.0), min(p + h, 1.0)])
        out = max(out, float(hi - lo) / (2 * 1.959964))
    return out


def summarise_draws(
    term: str, estimate: float, draws: np.ndarray, conf_level: float = 0.95, method: str = ""
) -> dict[str, Any]:
    """One row of :data:`DERIVED_COLUMNS` from a quantity's value at the estimates and its draws.

    Percentile interval, SD of the draws as ``std_error``, Monte-Carlo two-sided p-value for "no change"
    (zero) and the Monte-Carlo error of the interval bounds. Draws that are not finite (a ratio whose
    counterfactual is not positive) are left out and counted in ``method``.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> row = summarise_draws("absolute_change", -10.0, rng.normal(-10, 4, 10_000))
    >>> round(row["ci_lower"], 1), round(row["ci_upper"], 1), row["p_value"] < 0.05
    (-17.8, -2.2, True)
    """
    d = np.asarray(draws, dtype="float64")
    ok = np.isfinite(d)
    d = d[ok]
    B = int(d.size)
    if B < 100 or not math.isfinite(estimate):
        return dict.fromkeys(DERIVED_COLUMNS) | {
            "term": term,
            "estimate": estimate,
            "n_draws": B,
            "method": method,
        }
    a = (1 - conf_level) / 2
    lo, hi = np.quantile(d, [a, 1 - a])
    below, above = int(np.sum(d <= 0)), int(np.sum(d >= 0))
    p = min(1.0, 2 * min(below + 1, above + 1) / (B + 1))
    note = method
    if not ok.all():
        note = f"{method}; {int((~ok).sum())} draws without a value left out".lstrip("; ")
    return {
        "term": term,
        "estimate": float(estimate),
        "std_error": float(np.std(d, ddof=1)),
        "ci_lower": float(lo),
        "ci_upper": float(hi),
        "p_value": float(p),
        "mc_error": _mc_error(d, (a, 1 - a)),
        "n_draws": B,
        "method": note,
    }


def _describe(draws: Sequence[CoefficientDraws]) -> str:
    B = draws[0].n_draws
    shared = any(x.shared for x in draws)
    text = f"percentile interval from {B:,} draws of the coefficients"
    if len(draws) > 1:
        text += ", fits drawn jointly" + (" (shared control series)" if shared else " (independent)")
    return text


def derived_effects(
    results: ITSResult | Sequence[ITSResult],
    *,
    start: Any = None,
    end: Any = None,
    windows: Sequence[tuple[Any, Any]] | None = None,
    unit_cost: float | None = None,
    per_period: bool = False,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    key: str = "",
) -> pd.DataFrame:
    """Cumulative absolute and relative change, and optionally its cost, from one set of draws.

    The fitted-minus-counterfactual total over ``start``–``end`` (counts: events; Gaussian and gamma
    means: the sum of the per-period differences, as
    :meth:`~evaltoolkit.its.ITSResult.cumulative_effect`, or with ``per_period=True`` the mean
    difference per period), its ratio to the counterfactual total, and ``unit_cost`` times the absolute
    change, all from the same draws, so their intervals agree on direction and on whether
    they exclude no change. Several fits (e.g. the sites of one outcome) are summed: totals of every
    fit are added before the difference and ratio are taken, with the fits drawn jointly
    (:func:`draw_coefficients`).

    Parameters
    ----------
    results : ITSResult or sequence of ITSResult
        One fit, or fits whose totals are added (sites).
    start, end : time value, optional
        First and last period summed (default: the first post period to the last period), for every fit.
    windows : sequence of (start, end), optional
        Per fit, its own window (overrides ``start``/``end``).
    unit_cost : float, optional
        Adds a ``cost`` row: ``unit_cost`` × the absolute change (per unit of the outcome).
    per_period : bool, default False
        Means (Gaussian, gamma): report the mean difference per period instead of the sum.
    n_draws, seed, key
        See :func:`draw_coefficients`.

    Returns
    -------
    pandas.DataFrame
        Rows ``absolute_change``, ``relative_change``, ``fitted_total``, ``counterfactual_total`` (and
        ``cost``), columns :data:`DERIVED_COLUMNS`. ``estimate`` is the value at the estimates;
        the interval is the percentile interval of the draws.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from evaltoolkit.its import fit_its
    >>> rng = np.random.default_rng(7)
    >>> t = np.arange(1, 37)
    >>> y = rng.poisson(np.exp(4 + 0.01 * t - 0.3 * (t >= 19)))
    >>> res = fit_its(pd.DataFrame({"t": t, "y": y}), outcome="y", time="t", interruptions=19,
    ...               family="poisson", method="ols")
    >>> out = derived_effects(res, unit_cost=250.0, seed=1)
    >>> out = out.set_index("term").loc[["absolute_change", "relative_change", "cost"]]
    >>> out[["estimate", "ci_lower", "ci_upper", "p_value"]].round(2)  # doctest: +NORMALIZE_WHITESPACE
                     estimate   ci_lower  ci_upper  p_value
    term
    absolute_change   -337.44    -663.66    -78.22     0.01
    relative_change     -0.26      -0.41     -0.07     0.01
    cost            -84359.51 -165914.85 -19555.27     0.01
    """
    single = not isinstance(results, Sequence)
    fits: list[ITSResult] = [results] if single else list(results)  # type: ignore[list-item]
    if windows is not None and len(windows) != len(fits):
        raise ITSInputError("windows: give one (start, end) per fit")
    masks = [
        window_mask(r, *(windows[i] if windows is not None else (start, end))) for i, r in enumerate(fits)
    ]
    contrasts = [total_contrast(r, m) for r, m in zip(fits, masks, strict=True)]
    draws = draw_coefficients(fits, n_draws=n_draws, seed=seed, key=key, contrasts=contrasts)
    return derived_table(
        [totals(d, m) for d, m in zip(draws, masks, strict=True)],
        conf_level=fits[0].conf_level,
        unit_cost=unit_cost,
        method=_describe(draws),
        per_period=per_period,
    )


def derived_table(
    parts: Sequence[Totals],
    *,
    conf_level: float = 0.95,
    unit_cost: float | None = None,
    method: str = "",
    per_period: bool = False,
) -> pd.DataFrame:
    """The table of :func:`derived_effects` from :class:`Totals` (added when there are several)."""
    tot = parts[0]
    for p in parts[1:]:
        tot = tot + p
    est, d = tot.absolute(per_period)
    rows = [summarise_draws("absolute_change", est, d, conf_level, method)]
    rel, rd = tot.relative()
    rows.append(summarise_draws("relative_change", rel, rd, conf_level, method))
    rows.append(summarise_draws("fitted_total", tot.F, tot.F_draws, conf_level, method))
    rows.append(summarise_draws("counterfactual_total", tot.C, tot.C_draws, conf_level, method))
    if unit_cost is not None:
        rows.append(summarise_draws("cost", est * unit_cost, d * unit_cost, conf_level, method))
    out = pd.DataFrame(rows, columns=list(DERIVED_COLUMNS))
    for c in DERIVED_COLUMNS[1:-2]:
        out[c] = out[c].astype("float64")
    out["n_draws"] = out["n_draws"].astype("int64")
    return out


def agree(table: pd.DataFrame | Mapping[str, Any]) -> bool:
    """Whether the absolute and relative rows agree on direction and on excluding no change."""
    t = table.set_index("term") if isinstance(table, pd.DataFrame) else pd.DataFrame(table).set_index("term")
    a, r = t.loc["absolute_change"], t.loc["relative_change"]
    same_sign = np.sign(a["estimate"]) == np.sign(r["estimate"])
    ex_a = a["ci_lower"] > 0 or a["ci_upper"] < 0
    ex_r = r["ci_lower"] > 0 or r["ci_upper"] < 0
    return bool(same_sign and ex_a == ex_r)
