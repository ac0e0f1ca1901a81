"""Simulation-based power, bias and confidence-interval coverage for a planned interrupted time series.

The planner states the design (points before and after the interruption, expected level and slope change,
baseline level or rate, residual SD or overdispersion, lag-1 autocorrelation) and the analysis that will be
pre-specified (family, method, standard errors). :func:`power` simulates ``n_sims`` series from the design,
fits the analysis model to every series at once (closed-form or batched iterative estimators in numpy, no
per-series model objects) and summarises power, bias, RMSE and CI coverage for the ``level_change`` and
``slope_change`` terms, as Stata's ``power itsa`` does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.its.errors import ITSInputError

__all__ = ["SUPPORTED_ANALYSES", "power"]

Family = Literal["gaussian", "poisson", "quasipoisson", "negbin"]
Method = Literal["ols", "prais-winsten", "gls-ml", "gls-reml"]
SEType = Literal["model", "newey-west"]
Effect = Literal["level", "slope", "level+slope"]

_FAMILIES = ("gaussian", "poisson", "quasipoisson", "negbin")
_COUNT_FAMILIES = ("poisson", "quasipoisson", "negbin")
_EFFECTS = ("level", "slope", "level+slope")

#: Analyses :func:`power` can simulate: (family, method, se_type) triples. ``method="ols"`` means the ordinary
#: maximum-likelihood fit: least squares for ``"gaussian"``, a log-link GLM for the count families.
SUPPORTED_ANALYSES: tuple[tuple[str, str, str], ...] = (
    ("gaussian", "ols", "model"),
    ("gaussian", "ols", "newey-west"),
    ("gaussian", "prais-winsten", "model"),
    ("gaussian", "gls-ml", "model"),
    ("gaussian", "gls-reml", "model"),
    ("poisson", "ols", "model"),
    ("poisson", "ols", "newey-west"),
    ("quasipoisson", "ols", "model"),
    ("quasipoisson", "ols", "newey-west"),
    ("negbin", "ols", "model"),
    ("negbin", "ols", "newey-west"),
)
_METHODS = ("ols", "prais-winsten", "gls-ml", "gls-reml")
_SES = ("model", "newey-west")

# Numerical settings of the batched estimators.
_IRLS_MAXITER = 100
_IRLS_TOL = 1e-10
_PW_MAXITER = 500
_PW_TOL = 1e-10
_PHI_ZMAX = 6.0  # AR(1) search on z = atanh(phi) in [-6, 6], i.e. |phi| <= 0.99999
_PHI_GRID = 49
_GOLDEN_ITERS = 70
_MIN_FITTED_MEAN = 1e-6  # a count fit whose fitted mean drops below this has diverged (separation)
_NB_MAX_THETA = 1e8
_CHUNK = 5000  # series fitted together (memory is O(_CHUNK * n * k^2))


# --------------------------------------------------------------------------------------------- design


def _design(n_pre: int, n_post: int, effect: str) -> tuple[np.ndarray, list[str]]:
    """Segmented-regression design matrix with Stata ``itsa`` coding.

    Time runs 0, 1, ..., n-1; the first post-interruption period is ``n_pre``; ``slope_change`` multiplies
    the time since the interruption, which is 0 in the first post period, so ``level_change`` is the jump at
    the first post period.
    """
    n = n_pre + n_post
    t = np.arange(n, dtype=float)
    post = (t >= n_pre).astype(float)
    columns = {
        "intercept": np.ones(n),
        "pre_slope": t,
        "level_change": post,
        "slope_change": (t - n_pre) * post,
    }
    terms = ["intercept", "pre_slope"]
    if effect in ("level", "level+slope"):
        terms.append("level_change")
    if effect in ("slope", "level+slope"):
        terms.append("slope_change")
    return np.column_stack([columns[name] for name in terms]), terms


# ----------------------------------------------------------------------------------- batched fitters


@dataclass(frozen=True)
class _BatchFit:
    """Estimates for S simulated series fitted to the same design matrix."""

    estimate: np.ndarray  # (S, k)
    std_error: np.ndarray  # (S, k)
    valid: np.ndarray  # (S,) bool: fit converged and is finite
    df: float  # degrees of freedom of the reference t distribution (inf = normal)
    phi: np.ndarray | None = None  # (S,) AR(1) estimate for AR methods


def _hac_meat(scores: np.ndarray, lags: int) -> np.ndarray:
    """Newey-West (Bartlett kernel, no prewhitening) meat: sum_l w_l (Gamma_l + Gamma_l'), (S, k, k)."""
    meat = np.einsum("snk,snj->skj", scores, scores)
    for lag in range(1, lags + 1):
        weight = 1.0 - lag / (lags + 1.0)
        gamma = np.einsum("snk,snj->skj", scores[:, lag:, :], scores[:, :-lag, :])
        meat += weight * (gamma + gamma.transpose(0, 2, 1))
    return meat


def _sandwich_se(bread: np.ndarray, scores: np.ndarray, lags: int, factor: float) -> np.ndarray:
    """Square roots of the diagonal of ``factor * bread @ meat @ bread`` for every series."""
    cov = bread @ _hac_meat(scores, lags) @ bread
    return np.sqrt(factor * np.einsum("skk->sk", cov))


def _fit_ols(x: np.ndarray, y: np.ndarray, se: str, lags: int | None) -> _BatchFit:
    """Least squares for every row of ``y`` (S, n) at once; model or Newey-West standard errors.

    Newey-West uses Bartlett weights ``1 - l/(L+1)`` and the small-sample factor ``n/(n-k)``: Stata
    ``newey, lag(L)`` = R ``sandwich::NeweyWest(lag=L, prewhite=FALSE, adjust=TRUE)`` = statsmodels
    ``cov_type="HAC", cov_kwds={"maxlags": L, "use_correction": True}``.
    """
    n, k = x.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = y @ x @ xtx_inv
    resid = y - beta @ x.T
    if se == "model":
        sigma2 = np.einsum("sn,sn->s", resid, resid) / (n - k)
        std_error = np.sqrt(sigma2[:, None] * np.diag(xtx_inv)[None, :])
    else:
        assert lags is not None
        scores = resid[:, :, None] * x[None, :, :]
        std_error = _sandwich_se(xtx_inv[None, :, :], scores, lags, n / (n - k))
    valid = np.all(np.isfinite(std_error), axis=1) & np.all(std_error > 0, axis=1)
    return _BatchFit(beta, std_error, valid, float(n - k))


@dataclass(frozen=True)
class _AR1CrossProducts:
    """Cross products from which the Prais-Winsten-transformed normal equations follow for any phi.

    With the transform x*_0 = sqrt(1 - phi^2) x_0 and x*_t = x_t - phi x_{t-1} (t >= 1),
    X*'X* = A - phi B + phi^2 C, where A = sum_{t=0}^{n-1} x_t x_t', B = sum_{t=1}^{n-1} (x_t x_{t-1}' +
    x_{t-1} x_t') and C = sum_{t=1}^{n-2} x_t x_t'; likewise X*'y* and y*'y*. One phi per series then costs
    only a batched k x k solve.
    """

    xx: tuple[np.ndarray, np.ndarray, np.ndarray]  # (k, k) each
    xy: tuple[np.ndarray, np.ndarray, np.ndarray]  # (S, k) each
    yy: tuple[np.ndarray, np.ndarray, np.ndarray]  # (S,) each

    @classmethod
    def build(cls, x: np.ndarray, y: np.ndarray) -> _AR1CrossProducts:
        lag_xx = x[1:].T @ x[:-1]
        xx = (x.T @ x, lag_xx + lag_xx.T, x[1:-1].T @ x[1:-1])
        xy = (y @ x, y[:, :-1] @ x[1:] + y[:, 1:] @ x[:-1], y[:, 1:-1] @ x[1:-1])
        yy = (
            np.einsum("sn,sn->s", y, y),
            2.0 * np.einsum("sn,sn->s", y[:, 1:], y[:, :-1]),
            np.einsum("sn,sn->s", y[:, 1:-1], y[:, 1:-1]),
        )
        return cls(xx, xy, yy)

    def solve(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """GLS coefficients (S, k), transformed RSS (S,) and X*'X* (S, k, k) at one phi per series."""
        p = phi[:, None]
        p3 = phi[:, None, None]
        xtx = self.xx[0][None] - p3 * self.xx[1][None] + p3**2 * self.xx[2][None]
        xty = self.xy[0] - p * self.xy[1] + p**2 * self.xy[2]
        yty = self.yy[0] - phi * self.yy[1] + phi**2 * self.yy[2]
        beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
        rss = yty - np.einsum("sk,sk->s", xty, beta)
        return beta, rss, xtx


def _transformed_rss(x: np.ndarray, y: np.ndarray, beta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """RSS of the Prais-Winsten-transformed residuals, computed directly (no cancellation)."""
    resid = y - beta @ x.T
    star = resid[:, 1:] - phi[:, None] * resid[:, :-1]
    first = np.sqrt(1.0 - phi**2) * resid[:, 0]
    return first**2 + np.einsum("sn,sn->s", star, star)


def _fit_prais_winsten(x: np.ndarray, y: np.ndarray) -> _BatchFit:
    """Iterated Prais-Winsten AR(1) FGLS for every series (Stata ``prais`` defaults).

    rho is the regression of e_t on e_{t-1} (``rhotype(regress)``) from the untransformed residuals; the
    first observation is kept with sqrt(1 - rho^2) scaling; iterate to convergence. SEs are the OLS SEs of
    the transformed regression with t(n - k).
    """
    n, k = x.shape
    cross = _AR1CrossProducts.build(x, y)
    phi = np.zeros(y.shape[0])
    beta, _, _ = cross.solve(phi)
    converged = np.zeros(y.shape[0], dtype=bool)
    bound = math.tanh(_PHI_ZMAX)
    for _ in range(_PW_MAXITER):
        resid = y - beta @ x.T
        denom = np.einsum("sn,sn->s", resid[:, :-1], resid[:, :-1])
        new_phi = np.clip(np.einsum("sn,sn->s", resid[:, 1:], resid[:, :-1]) / denom, -bound, bound)
        converged = np.abs(new_phi - phi) < _PW_TOL
        phi = new_phi
        beta, _, _ = cross.solve(phi)
        if converged.all():
            break
    _, _, xtx = cross.solve(phi)
    rss = _transformed_rss(x, y, beta, phi)
    xtx_inv_diag = np.einsum("skk->sk", np.linalg.inv(xtx))
    std_error = np.sqrt(rss[:, None] / (n - k) * xtx_inv_diag)
    valid = converged & np.all(np.isfinite(std_error), axis=1)
    return _BatchFit(beta, std_error, valid, float(n - k), phi)


def _golden_max(objective: Callable[[np.ndarray], np.ndarray], n_series: int) -> np.ndarray:
    """Maximise a per-series objective of z = atanh(phi): coarse grid, then golden section per series."""
    grid = np.linspace(-_PHI_ZMAX, _PHI_ZMAX, _PHI_GRID)
    values = np.stack([objective(np.full(n_series, z)) for z in grid], axis=1)
    best = np.argmax(np.where(np.isfinite(values), values, -np.inf), axis=1)
    step = grid[1] - grid[0]
    lo = grid[best] - step
    hi = grid[best] + step
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    c = hi - ratio * (hi - lo)
    d = lo + ratio * (hi - lo)
    fc = objective(c)
    fd = objective(d)
    for _ in range(_GOLDEN_ITERS):
        left = fc >= fd  # maximum lies in [lo, d]
        hi = np.where(left, d, hi)
        lo = np.where(left, lo, c)
        new_c = np.where(left, hi - ratio * (hi - lo), d)
        new_d = np.where(left, c, lo + ratio * (hi - lo))
        probe = np.where(left, new_c, new_d)
        f_probe = objective(probe)
        fc, fd = np.where(left, f_probe, fd), np.where(left, fc, f_probe)
        c, d = new_c, new_d
    return np.clip((lo + hi) / 2.0, -_PHI_ZMAX, _PHI_ZMAX)


def _fit_gls_ar1(x: np.ndarray, y: np.ndarray, reml: bool) -> _BatchFit:
    """GLS with AR(1) errors by (restricted) maximum likelihood, as ``nlme::gls(correlation=corAR1())``.

    phi maximises the profile (restricted) log-likelihood; SEs are sqrt(diag(s^2 (X'R^-1X)^-1)) with
    s^2 = RSS_R / (n - k) for both ML and REML, reported with t(n - k), as ``summary(nlme::gls)`` does (it
    rescales the ML variance by n/(n - k)). The uncertainty of phi is ignored, as in nlme (no
    Satterthwaite/Kenward-Roger correction).
    """
    n, k = x.shape
    cross = _AR1CrossProducts.build(x, y)
    denom = float(n - k) if reml else float(n)

    def objective(z: np.ndarray) -> np.ndarray:
        phi = np.tanh(z)
        one_minus = 1.0 - phi**2
        _, rss, xtx = cross.solve(phi)
        rss_r = np.maximum(rss, 1e-300) / one_minus
        value = -0.5 * denom * np.log(rss_r / denom) - 0.5 * (n - 1) * np.log(one_minus)
        if reml:
            value = value - 0.5 * (np.linalg.slogdet(xtx)[1] - k * np.log(one_minus))
        return value

    with np.errstate(all="ignore"):
        phi = np.tanh(_golden_max(objective, y.shape[0]))
        beta, _, xtx = cross.solve(phi)
        rss = _transformed_rss(x, y, beta, phi)
        xtx_inv_diag = np.einsum("skk->sk", np.linalg.inv(xtx))
        std_error = np.sqrt(rss[:, None] / (n - k) * xtx_inv_diag)
    valid = np.all(np.isfinite(std_error), axis=1) & np.all(np.isfinite(beta), axis=1)
    return _BatchFit(beta, std_error, valid, float(n - k), phi)


def _irls_step(
    x: np.ndarray, y: np.ndarray, eta: np.ndarray, offset: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One batched IRLS step for a log-link model: returns (beta, X'WX)."""
    mu = np.exp(eta)
    working = eta - offset + (y - mu) / mu
    xtwx = np.einsum("nk,sn,nj->skj", x, weight, x)
    xtwz = np.einsum("nk,sn->sk", x, weight * working)
    return np.linalg.solve(xtwx, xtwz[..., None])[..., 0], xtwx


def _poisson_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    ylogy = special.xlogy(y, y) - special.xlogy(y, mu)
    return 2.0 * np.sum(ylogy - (y - mu), axis=1)


def _irls_poisson(x: np.ndarray, y: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson log-link ML for every series; returns (beta, converged)."""
    eta = np.log(y + 0.1)  # R's glm start for the Poisson family
    dev_old = np.full(y.shape[0], np.inf)
    converged = np.zeros(y.shape[0], dtype=bool)
    beta = np.zeros((y.shape[0], x.shape[1]))
    for _ in range(_IRLS_MAXITER):
        beta, _ = _irls_step(x, y, eta, offset, np.exp(eta))
        eta = beta @ x.T + offset
        dev = _poisson_deviance(y, np.exp(eta))
        converged = np.abs(dev - dev_old) / (np.abs(dev) + 0.1) < _IRLS_TOL
        dev_old = dev
        if converged.all():
            break
    return beta, converged


def _nb_theta_score(y: np.ndarray, mu: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivative of the NB2 log-likelihood in log(theta), summed over periods.

    Written without the large cancelling terms (log theta - log(theta + mu) = -log1p(mu/theta), ...), so
    the score stays accurate when theta is large (nearly Poisson data).
    """
    th = theta[:, None]
    d1 = special.digamma(y + th) - special.digamma(th) - np.log1p(mu / th) + (mu - y) / (th + mu)
    d2 = (
        special.polygamma(1, y + th)
        - special.polygamma(1, th)
        + mu / (th * (th + mu))
        + (y - mu) / (th + mu) ** 2
    )
    s1 = d1.sum(axis=1)
    s2 = d2.sum(axis=1)
    return theta * s1, theta * s1 + theta**2 * s2


def _irls_negbin(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NB2 ML (log link, theta = 1/alpha estimated) for every series, as ``MASS::glm.nb``.

    Alternates a Newton step for log(theta) with an IRLS step for beta (weights mu / (1 + mu/theta)); the
    fixed point is the joint maximum-likelihood estimate. theta is capped at 1e8 (alpha -> 0: Poisson).
    Returns (beta, theta, converged).
    """
    beta, _ = _irls_poisson(x, y, offset)
    mu = np.exp(beta @ x.T + offset)
    pearson = ((y / mu - 1.0) ** 2).sum(axis=1)
    theta = np.clip(y.shape[1] / np.maximum(pearson, 1e-12), 1e-4, _NB_MAX_THETA)
    converged = np.zeros(y.shape[0], dtype=bool)
    max_log_theta = math.log(_NB_MAX_THETA)
    for _ in range(_IRLS_MAXITER * 5):
        idx = np.flatnonzero(~converged)  # iterate only the series that have not converged yet
        if idx.size == 0:
            break
        y_i, mu_i, beta_i, log_theta = y[idx], mu[idx], beta[idx], np.log(theta[idx])
        grad, hess = _nb_theta_score(y_i, mu_i, theta[idx])
        step = np.where(hess < 0, -grad / np.where(hess < 0, hess, -1.0), np.sign(grad))
        new_log_theta = np.clip(log_theta + np.clip(step, -2.0, 2.0), -10.0, max_log_theta)
        theta_i = np.exp(new_log_theta)
        eta = beta_i @ x.T + offset
        new_beta, _ = _irls_step(x, y_i, eta, offset, mu_i / (1.0 + mu_i / theta_i[:, None]))
        # theta has converged when the step, or the log-likelihood change it buys, is negligible (the
        # likelihood is very flat in theta for nearly Poisson data, where the score is only accurate to ~1e-9)
        d_log_theta = np.abs(new_log_theta - log_theta)
        converged[idx] = (np.max(np.abs(new_beta - beta_i), axis=1) < _IRLS_TOL) & (
            (d_log_theta < _IRLS_TOL) | (np.abs(grad) * d_log_theta < 1e-13)
        )
        theta[idx] = theta_i
        beta[idx] = new_beta
        mu[idx] = np.exp(new_beta @ x.T + offset)
    return beta, theta, converged


def _fit_counts(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray, family: str, se: str, lags: int | None
) -> _BatchFit:
    """Log-link count GLM for every series; normal-quantile (Wald z) inference.

    Model SEs: Poisson (X'WX)^-1 with W = mu; quasi-Poisson scales it by the Pearson X^2/(n-k) dispersion
    (statsmodels ``scale="X2"``); negative binomial uses W = mu/(1 + alpha mu) at the ML alpha, as
    ``glm.nb``. Newey-West: bread (X'WX)^-1 (expected information, as R ``sandwich`` on a ``glm``/``glm.nb``
    fit and ``fit_its``), scores x_t (y_t - mu_t) w_t/mu_t, Bartlett weights, factor n/(n-k). For Poisson
    this equals statsmodels GLM ``cov_type="HAC"`` with ``use_correction=True``; for the negative binomial
    statsmodels uses the observed information in the bread instead (a few per cent different).
    """
    n, k = x.shape
    with np.errstate(all="ignore"):
        if family == "negbin":
            beta, theta, converged = _irls_negbin(x, y, offset)
            mu = np.exp(beta @ x.T + offset)
            weight = mu / (1.0 + mu / theta[:, None])
        else:
            beta, converged = _irls_poisson(x, y, offset)
            mu = np.exp(beta @ x.T + offset)
            weight = mu
        xtwx = np.einsum("nk,sn,nj->skj", x, weight, x)
        bread = np.linalg.inv(xtwx)
        if se == "model":
            scale = np.ones(y.shape[0])
            if family == "quasipoisson":
                scale = (((y - mu) ** 2) / mu).sum(axis=1) / (n - k)
            std_error = np.sqrt(scale[:, None] * np.einsum("skk->sk", bread))
        else:
            assert lags is not None
            scores = ((y - mu) * weight / mu)[:, :, None] * x[None, :, :]
            std_error = _sandwich_se(bread, scores, lags, n / (n - k))
        valid = (
            converged
            & np.all(np.isfinite(beta), axis=1)
            & np.all(np.isfinite(std_error), axis=1)
            & (np.min(mu, axis=1) > _MIN_FITTED_MEAN)
        )
    return _BatchFit(beta, std_error, valid, math.inf)


def _fit_batch(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray, family: str, method: str, se: str, lags: int | None
) -> _BatchFit:
    """Fit every row of ``y``, in chunks of ``_CHUNK`` series to bound memory."""
    if y.shape[0] <= _CHUNK:
        return _fit_chunk(x, y, offset, family, method, se, lags)
    parts = [
        _fit_chunk(x, y[i : i + _CHUNK], offset, family, method, se, lags)
        for i in range(0, y.shape[0], _CHUNK)
    ]
    phis = [p.phi for p in parts if p.phi is not None]
    return _BatchFit(
        np.concatenate([p.estimate for p in parts]),
        np.concatenate([p.std_error for p in parts]),
        np.concatenate([p.valid for p in parts]),
        parts[0].df,
        np.concatenate(phis) if phis else None,
    )


def _fit_chunk(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray, family: str, method: str, se: str, lags: int | None
) -> _BatchFit:
    if family in _COUNT_FAMILIES:
        return _fit_counts(x, y, offset, family, se, lags)
    if method == "ols":
        return _fit_ols(x, y, se, lags)
    if method == "prais-winsten":
        return _fit_prais_winsten(x, y)
    return _fit_gls_ar1(x, y, reml=method == "gls-reml")


# ----------------------------------------------------------------------------------------- simulation


def _ar1_normal(rng: np.random.Generator, n_sims: int, n: int, ar: float) -> np.ndarray:
    """Stationary AR(1) series with unit marginal variance, (n_sims, n), by a vectorised recursion."""
    z = rng.standard_normal((n_sims, n))
    if ar == 0.0:
        return z
    innovations = z * math.sqrt(1.0 - ar**2)
    innovations[:, 0] = z[:, 0]  # start in the stationary distribution
    from scipy import signal  # imported here: scipy.signal takes ~0.4 s to import

    return signal.lfilter([1.0], [1.0, -ar], innovations, axis=1)


def _simulate(
    rng: np.random.Generator,
    *,
    family: str,
    x_full: np.ndarray,
    coef: np.ndarray,
    baseline: float,
    sd: float,
    dispersion: float,
    ar: float,
    log_offset: np.ndarray,
    n_sims: int,
) -> np.ndarray:
    n = x_full.shape[0]
    linear = x_full @ coef
    if family == "gaussian":
        return baseline + linear[None, :] + sd * _ar1_normal(rng, n_sims, n, ar)
    mean = baseline * np.exp(linear + log_offset)
    if dispersion > 0.0:
        shape = 1.0 / dispersion
        if ar == 0.0:
            frailty = rng.gamma(shape, dispersion, size=(n_sims, n))
        else:  # gamma marginals joined by a Gaussian AR(1) copula
            z = _ar1_normal(rng, n_sims, n, ar)
            frailty = np.where(
                z < 0,
                stats.gamma.ppf(special.ndtr(z), shape, scale=dispersion),
                stats.gamma.isf(special.ndtr(-z), shape, scale=dispersion),
            )
        mean = mean[None, :] * frailty
    else:
        mean = np.broadcast_to(mean, (n_sims, n))
    return rng.poisson(mean).astype(float)


# ----------------------------------------------------------------------------------------- validation


def _fail(message: str) -> ITSInputError:
    return ITSInputError(message)


def _as_values(name: str, value: object) -> list[object]:
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        return [value]
    values = list(value)
    if not values:
        raise _fail(f"{name} must not be an empty list")
    return values


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _fail(f"{name} must be an integer (got {value!r})")
    if int(value) < minimum:
        raise _fail(f"{name} must be at least {minimum} (got {value!r})")
    return int(value)


def _check_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _fail(f"{name} must be a number (got {value!r})")
    out = float(value)
    if not math.isfinite(out):
        raise _fail(f"{name} must be finite (got {value!r})")
    if abs(out) > 1e15:
        raise _fail(f"{name} = {out:.3g} is beyond ±1e15, where the arithmetic loses all precision")
    return out


def _check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _fail(f"{name} must be one of {', '.join(repr(c) for c in choices)} (got {value!r})")
    return str(value)


# ---------------------------------------------------------------------------------------------- power


_OUTPUT_COLUMNS = [
    "term",
    "family",
    "method",
    "se_type",
    "lags",
    "effect",
    "n_pre",
    "n_post",
    "baseline",
    "pre_slope",
    "level_change",
    "slope_change",
    "sd",
    "dispersion",
    "ar",
    "conf_level",
    "true_value",
    "n_sims",
    "n_valid",
    "power",
    "power_mcse",
    "mean_estimate",
    "bias",
    "relative_bias",
    "rmse",
    "coverage",
    "coverage_mcse",
    "mean_std_error",
    "empirical_sd",
    "mean_ar_estimate",
]


@renamed_kwargs(se="se_type")
def power(
    *,
    n_pre: int | Sequence[int],
    n_post: int | Sequence[int],
    level_change: float | Sequence[float] = 0.0,
    slope_change: float | Sequence[float] = 0.0,
    baseline: float | Sequence[float] | None = None,
    pre_slope: float | Sequence[float] = 0.0,
    family: Family = "gaussian",
    sd: float | Sequence[float] | None = None,
    dispersion: float | Sequence[float] | None = None,
    ar: float | Sequence[float] = 0.0,
    offset: float | Sequence[float] | np.ndarray | None = None,
    method: Method | Sequence[Method] = "ols",
    se_type: SEType | Sequence[SEType] = "model",
    lags: int | Sequence[int] | None = None,
    n_sims: int = 1000,
    conf_level: float = 0.95,
    seed: int = 20240601,
    effect: Effect = "level+slope",
) -> pd.DataFrame:
    """Power, bias and CI coverage of an interrupted time series analysis, by simulation.

    Simulates ``n_sims`` series from a segmented-regression design, fits the pre-specified analysis to all
    of them at once, and summarises each target term (``level_change``, ``slope_change``). The numeric
    design arguments and ``method``, ``se_type`` and ``lags`` accept a list to evaluate a grid: the result
    is a tidy long table with one row per grid point and term.

    Parameters
    ----------
    n_pre, n_post : int or list of int
        Number of periods before and from the interruption (at least 3 each, the Cochrane EPOC minimum).
    level_change : float or list of float, default 0.0
        True change in level at the first post-interruption period (Stata ``itsa`` coding: the time since
        the interruption is 0 there). Outcome units for ``"gaussian"``; log rate ratio for count families
        (use ``math.log(0.85)`` for a 15% drop).
    slope_change : float or list of float, default 0.0
        True change in slope per period after the interruption (log scale for count families).
    baseline : float or list of float, optional
        Expected value at the first period (time 0). Gaussian: outcome units, default 0 (OLS and GLS
        results do not depend on it). Count families (required): the expected count per period, or the
        rate per unit of ``offset`` when ``offset`` is given.
    pre_slope : float or list of float, default 0.0
        True slope per period before the interruption (log scale for count families).
    family : {"gaussian", "poisson", "quasipoisson", "negbin"}, default "gaussian"
        Outcome distribution *and* analysis model. Gaussian: normal errors. Count families simulate Poisson
        counts (gamma-Poisson, i.e. negative binomial, when ``dispersion > 0``) and fit a log-link GLM:
        Poisson, quasi-Poisson (Pearson X²/(n-k) dispersion) or negative binomial (NB2, dispersion
        estimated by maximum likelihood as ``MASS::glm.nb``).
    sd : float or list of float, optional
        Gaussian only (required there): marginal residual SD of the error series (with ``ar > 0`` the
        innovation SD is ``sd * sqrt(1 - ar**2)``, so ``sd`` is what a residual SD from historical data
        estimates).
    dispersion : float or list of float, optional
        Count families only: overdispersion alpha of the simulated counts, Var(y) = mu + alpha mu²
        (0 or None: Poisson counts). Any count family can be fitted to overdispersed data, e.g. to see how
        a Poisson analysis of overdispersed counts inflates the type-I error.
    ar : float or list of float, default 0.0
        Lag-1 autocorrelation phi of the errors, in (-1, 1). Gaussian: AR(1) errors started in their
        stationary distribution. Count families: phi of a Gaussian AR(1) copula joining the gamma
        frailties (requires ``dispersion > 0``); the counts' own autocorrelation is then smaller.
    offset : float or array-like, optional
        Count families only: exposure per period (population, bed base), one positive value or one per
        period (length ``n_pre + n_post``); expected count = baseline × offset × exp(...). The fit uses
        ``log(offset)`` as an offset.
    method : str or list of str, default "ols"
        ``"ols"`` (least squares; ML GLM for count families), ``"prais-winsten"`` (iterated AR(1) FGLS,
        Stata ``prais``), ``"gls-ml"`` or ``"gls-reml"`` (AR(1) GLS as ``nlme::gls(correlation =
        corAR1())``). The AR methods are gaussian only; see ``SUPPORTED_ANALYSES``.
    se_type : {"model", "newey-west"} or list, default "model"
        Kind of standard errors (formerly ``se=``, deprecated). Newey-West (``method="ols"`` only) uses
        Bartlett weights without prewhitening and the n/(n-k) factor: Stata ``newey, lag(L)`` = R
        ``sandwich::NeweyWest(lag=L, prewhite=FALSE, adjust=TRUE)``.
    lags : int or list of int, optional
        Newey-West truncation lag L, required with ``se_type="newey-west"`` (pre-specify it; Turner et al.
        2021 used 1), as in ``fit_its``. Rows with ``se_type="model"`` report it as missing.
    n_sims : int, default 1000
        Simulated series per grid point. Monte Carlo SE of a power p is sqrt(p(1-p)/n_sims).
    conf_level : float, default 0.95
        Confidence level of the CIs; tests are two-sided at alpha = 1 - conf_level.
    seed : int, default 20240601
        Seed of ``numpy.random.default_rng``. Every data-generating grid point restarts from this seed
        (common random numbers), so power curves are smooth and methods are compared on the same series.
        The same seed gives an identical table.
    effect : {"level", "slope", "level+slope"}, default "level+slope"
        Impact terms in the fitted model (and rows in the result). A non-zero effect of a kind that is not
        modelled is still simulated, so misspecification can be studied (bias is then measured against the
        simulated value).

    Returns
    -------
    pandas.DataFrame
        One row per grid point and term, in grid order (the product of the list arguments in signature
        order) then term order. Columns: ``term``; the design ``family, method, se_type, lags`` (Int64,
        missing for model SEs), ``effect, n_pre, n_post, baseline, pre_slope, level_change, slope_change, sd``
        (NaN for counts), ``dispersion`` (NaN for gaussian), ``ar, conf_level``; ``true_value`` (the
        simulated value of the term); ``n_sims``; ``n_valid`` (fits that converged to finite values; count
        fits whose fitted mean collapses to zero, e.g. an all-zero segment, are not valid); over the valid
        fits: ``power`` (share with the two-sided p-value below 1 - conf_level; the type-I error when
        ``true_value`` is 0), ``power_mcse``, ``mean_estimate``, ``bias``, ``relative_bias`` (bias /
        true_value, NaN for a zero true value), ``rmse``, ``coverage`` (share of CIs containing
        ``true_value``), ``coverage_mcse``, ``mean_std_error``, ``empirical_sd`` (SD of the estimates;
        compare with ``mean_std_error``), ``mean_ar_estimate`` (mean phi-hat for AR methods, else NaN).

    Raises
    ------
    ITSInputError
        An argument is out of range or of the wrong type, a family-specific argument is missing or given
        to the wrong family, or the (family, method, se_type) combination is not in
        ``SUPPORTED_ANALYSES``. The message names the argument.

    Notes
    -----
    Model: y_t = b0 + b1 t + b2 post_t + b3 (t - n_pre) post_t (+ error), t = 0, ..., n-1, and the log of
    the expected count for count families. Inference uses t(n - k) for gaussian analyses (all methods,
    including Newey-West, as Stata ``newey`` and ``nlme``) and the normal distribution for count families
    (Wald z, as Stata ``glm`` and ``Epi::ci.lin``).

    All series of a grid point are fitted together: closed-form least squares for a matrix of outcomes;
    Prais-Winsten and AR(1) GLS through cross products that make the transformed normal equations a
    quadratic in phi, so every series gets its own phi with a batched k × k solve (GLS maximises the
    profile (restricted) likelihood by a grid then a per-series golden-section search); count GLMs by
    batched IRLS (negative binomial alternating with Newton steps for log theta). The batched fits agree
    with statsmodels (OLS, HAC, GLM) and with R ``nlme::gls`` to 1e-6 or better (see the tests).

    Turner et al. (2021) found that all methods underestimate the autocorrelation in short series, so
    coverage falls below the nominal level when ``ar > 0``: read ``coverage`` alongside ``power``, and
    prefer a method whose coverage is close to ``conf_level``.

    References
    ----------
    Turner SL, Forbes AB, Karahalios A, Taljaard M, McKenzie JE. Evaluation of statistical methods used
    in the analysis of interrupted time series studies: a simulation study. BMC Med Res Methodol
    2021;21:181. Zhang F, Wagner AK, Ross-Degnan D. Simulation-based power calculation for designing
    interrupted time series analyses of health policy interventions. J Clin Epidemiol 2011;64:1252-61.
    Linden A. ``power itsa`` (Stata, SSC).

    Examples
    --------
    Power to detect a jump of 15 (residual SD 10) with 24 monthly points either side, OLS analysis; the row
    with ``level_change=0`` gives the type-I error:

    >>> from evaltoolkit.its.power import power
    >>> res = power(n_pre=24, n_post=24, level_change=[0.0, 15.0], sd=10.0, n_sims=400, seed=1)
    >>> res.loc[res["term"] == "level_change", ["level_change", "power", "coverage"]].round(3)
       level_change  power  coverage
    0           0.0  0.058     0.942
    2          15.0  0.708     0.942

    A 15% drop in a count of about 50 a month with overdispersion 0.02, quasi-Poisson analysis:

    >>> import math
    >>> res = power(n_pre=24, n_post=24, level_change=math.log(0.85), baseline=50.0,
    ...             family="quasipoisson", dispersion=0.02, n_sims=400, seed=1)
    >>> res[["term", "true_value", "power", "coverage"]].round(3)
               term  true_value  power  coverage
    0  level_change      -0.163  0.292     0.938
    1  slope_change       0.000  0.055     0.945
    """
    # ---- scalar arguments
    if family == "gamma":
        raise _fail(
            "power() does not simulate family='gamma' (a mean such as a length of stay); simulate it as "
            "family='gaussian' on the log of the outcome, where a level change of log(1 + p) is a p change"
        )
    family = _check_choice("family", family, _FAMILIES)  # type: ignore[assignment]
    effect = _check_choice("effect", effect, _EFFECTS)  # type: ignore[assignment]
    n_sims = _check_int("n_sims", n_sims, 2)
    conf_level = _check_float("conf_level", conf_level)
    if not 0.0 < conf_level < 1.0:
        raise _fail(f"conf_level must be between 0 and 1 (got {conf_level!r})")
    seed = _check_int("seed", seed, 0)
    is_count = family in _COUNT_FAMILIES

    # ---- grid arguments
    n_pre_values = [_check_int("n_pre", v, 3) for v in _as_values("n_pre", n_pre)]
    n_post_values = [_check_int("n_post", v, 3) for v in _as_values("n_post", n_post)]
    level_values = [_check_float("level_change", v) for v in _as_values("level_change", level_change)]
    slope_values = [_check_float("slope_change", v) for v in _as_values("slope_change", slope_change)]
    pre_slope_values = [_check_float("pre_slope", v) for v in _as_values("pre_slope", pre_slope)]
    ar_values = [_check_float("ar", v) for v in _as_values("ar", ar)]
    for v in ar_values:
        if not -1.0 < v < 1.0:
            raise _fail(f"ar must lie strictly between -1 and 1 (got {v!r})")

    if baseline is None:
        if is_count:
            raise _fail(f"baseline (expected count or rate at time 0) is required for family={family!r}")
        baseline_values = [0.0]
    else:
        baseline_values = [_check_float("baseline", v) for v in _as_values("baseline", baseline)]
        if is_count and any(v <= 0 for v in baseline_values):
            raise _fail(f"baseline must be positive for family={family!r} (got {baseline!r})")
        if is_count and any(v > 1e12 for v in baseline_values):
            raise _fail(
                f"baseline {max(baseline_values):.3g} is too large to simulate counts from (at most 1e12 per "
                "period); express the counts in a larger unit or check the value"
            )

    if is_count:
        if sd is not None:
            raise _fail(f"sd applies to family='gaussian' only; use dispersion for family={family!r}")
        sd_values = [math.nan]
        dispersion_values = [
            _check_float("dispersion", v)
            for v in _as_values("dispersion", 0.0 if dispersion is None else dispersion)
        ]
        if any(v < 0 for v in dispersion_values):
            raise _fail(f"dispersion must be non-negative (got {dispersion!r})")
        if any(a != 0.0 for a in ar_values) and any(d == 0.0 for d in dispersion_values):
            raise _fail(
                "ar for count families is the autocorrelation of the gamma frailty, so it needs "
                f"dispersion > 0 (got ar={ar!r}, dispersion={dispersion!r})"
            )
    else:
        if dispersion is not None:
            raise _fail("dispersion applies to count families only; use sd for family='gaussian'")
        if offset is not None:
            raise _fail("offset applies to count families only (family='gaussian' was given)")
        if sd is None:
            raise _fail("sd (residual SD) is required for family='gaussian'")
        sd_values = [_check_float("sd", v) for v in _as_values("sd", sd)]
        if any(v <= 0 for v in sd_values):
            raise _fail(f"sd must be positive (got {sd!r})")
        dispersion_values = [math.nan]

    if "arima" in _as_values("method", method):
        raise _fail(
            "method='arima' is not supported in power(): its estimates equal method='gls-ml' (only the SEs "
            "differ); simulate 'gls-ml' or 'gls-reml' instead"
        )
    method_values = [_check_choice("method", v, _METHODS) for v in _as_values("method", method)]
    se_values = [_check_choice("se_type", v, _SES) for v in _as_values("se_type", se_type)]
    for m, s in itertools.product(method_values, se_values):
        if (family, m, s) not in SUPPORTED_ANALYSES:
            supported = "; ".join(f"{f}/{mm}/{ss}" for f, mm, ss in SUPPORTED_ANALYSES)
            raise _fail(
                f"method={m!r} with se_type={s!r} is not supported for family={family!r} in power(). "
                f"Supported family/method/se_type: {supported}. To compare analyses that a single "
                "method x se_type grid cannot express, call power() once per analysis and concatenate "
                "the tables"
            )
    if lags is None:
        if "newey-west" in se_values:
            raise _fail(
                "se_type='newey-west' needs lags=L (as Stata newey, lag(L)); pre-specify it, e.g. lags=1"
            )
        lag_values: list[int] = []
    else:
        if "newey-west" not in se_values:
            raise _fail("lags is used only with se_type='newey-west'")
        lag_values = [_check_int("lags", v, 0) for v in _as_values("lags", lags)]
    analyses: list[tuple[str, str, int | None]] = []
    for m, s in itertools.product(method_values, se_values):
        for lag in lag_values if s == "newey-west" else [None]:
            if (m, s, lag) not in analyses:
                analyses.append((m, s, lag))

    log_offset_full: np.ndarray | None = None
    if offset is not None:
        off = np.asarray(offset, dtype=float)
        if off.ndim > 1 or not np.all(np.isfinite(off)) or np.any(off <= 0):
            raise _fail("offset must be one positive finite number or a 1-D array of them")
        if off.ndim == 1:
            lengths = {a + b for a, b in itertools.product(n_pre_values, n_post_values)}
            if lengths != {off.size}:
                raise _fail(
                    f"offset has {off.size} values but the design has n_pre + n_post = "
                    f"{sorted(lengths)} periods; give one value per period"
                )
        log_offset_full = np.log(off)

    n_min = min(n_pre_values) + min(n_post_values)
    for _m, _s, lag in analyses:
        if lag is not None and lag >= n_min:
            raise _fail(f"lags must be smaller than n_pre + n_post = {n_min} (got {lag})")

    # ---- simulate and fit
    rows: list[dict[str, object]] = []
    generating = itertools.product(
        n_pre_values,
        n_post_values,
        level_values,
        slope_values,
        baseline_values,
        pre_slope_values,
        sd_values,
        dispersion_values,
        ar_values,
    )
    for n_pre_i, n_post_i, level_i, slope_i, base_i, pre_i, sd_i, disp_i, ar_i in generating:
        n = n_pre_i + n_post_i
        x_full, _ = _design(n_pre_i, n_post_i, "level+slope")
        x_fit, terms = _design(n_pre_i, n_post_i, effect)
        coef = np.array([0.0, pre_i, level_i, slope_i])
        truth = {"level_change": level_i, "slope_change": slope_i}
        log_offset = np.zeros(n) if log_offset_full is None else np.broadcast_to(log_offset_full, (n,))
        rng = np.random.default_rng(seed)
        y = _simulate(
            rng,
            family=family,
            x_full=x_full,
            coef=coef,
            baseline=base_i,
            sd=sd_i,
            dispersion=0.0 if math.isnan(disp_i) else disp_i,
            ar=ar_i,
            log_offset=log_offset,
            n_sims=n_sims,
        )
        for m, s, lag in analyses:
            fit = _fit_batch(x_fit, y, log_offset, family, m, s, lag)
            crit = float(
                stats.norm.ppf(0.5 + conf_level / 2)
                if math.isinf(fit.df)
                else stats.t.ppf(0.5 + conf_level / 2, fit.df)
            )
            for j, term in enumerate(terms):
                if term not in truth:
                    continue
                rows.append(
                    {
                        "term": term,
                        "family": family,
                        "method": m,
                        "se_type": s,
                        "lags": lag,
                        "effect": effect,
                        "n_pre": n_pre_i,
                        "n_post": n_post_i,
                        "baseline": base_i,
                        "pre_slope": pre_i,
                        "level_change": level_i,
                        "slope_change": slope_i,
                        "sd": sd_i,
                        "dispersion": disp_i,
                        "ar": ar_i,
                        "conf_level": conf_level,
                        "true_value": truth[term],
                        "n_sims": n_sims,
                        **_summarise(fit, j, truth[term], crit),
                    }
                )
    out = pd.DataFrame(rows, columns=_OUTPUT_COLUMNS)
    out["lags"] = out["lags"].astype("Int64")
    return out


def _summarise(fit: _BatchFit, j: int, true_value: float, crit: float) -> dict[str, float | int]:
    est = fit.estimate[fit.valid, j]
    se = fit.std_error[fit.valid, j]
    n_valid = int(est.size)
    if n_valid == 0:
        nan = math.nan
        return {
            "n_valid": 0,
            **dict.fromkeys(
                [
                    "power",
                    "power_mcse",
                    "mean_estimate",
                    "bias",
                    "relative_bias",
                    "rmse",
                    "coverage",
                    "coverage_mcse",
                    "mean_std_error",
                    "empirical_sd",
                    "mean_ar_estimate",
                ],
                nan,
            ),
        }
    reject = np.abs(est) > crit * se
    cover = np.abs(est - true_value) <= crit * se
    pw = float(reject.mean())
    cov = float(cover.mean())
    bias = float(est.mean() - true_value)
    return {
        "n_valid": n_valid,
        "power": pw,
        "power_mcse": math.sqrt(pw * (1 - pw) / n_valid),
        "mean_estimate": float(est.mean()),
        "bias": bias,
        "relative_bias": bias / true_value if true_value != 0 else math.nan,
        "rmse": float(np.sqrt(np.mean((est - true_value) ** 2))),
        "coverage": cov,
        "coverage_mcse": math.sqrt(cov * (1 - cov) / n_valid),
        "mean_std_error": float(se.mean()),
        "empirical_sd": float(est.std(ddof=1)) if n_valid > 1 else math.nan,
        "mean_ar_estimate": float(fit.phi[fit.valid].mean()) if fit.phi is not None else math.nan,
    }
