"""Regression with ARMA(p, q) errors by exact Gaussian maximum likelihood (``fit_its(method="arima")``).

Errors follow a stationary, invertible ARMA(p, q) process within each series, on the period index ``t``
(``e_t = φ_1 e_{t-1} + … + φ_p e_{t-p} + a_t + θ_1 a_{t-1} + … + θ_q a_{t-q}``, the sign convention of
R ``stats::arima`` and ``nlme::corARMA``); series (groups of a controlled design) are independent and share
the ARMA parameters and the innovation variance ``σ²``. The likelihood is exact: the covariance of each
series is built from the ARMA autocovariances at the true lags (so periods left out of the fit are
handled exactly) and factorised by Cholesky, which is fast for the short series of ITS work (a few
hundred points). ``β`` is profiled out by GLS and ``σ²`` concentrated out (``σ² = w'w / n`` with ``w`` the
whitened residuals), as ``stats::arima(method = "ML")``:

``ℓ = -n/2 (log(2π σ²) + 1) - log|Γ|/2``, ``Γ`` the covariance of the errors for unit innovation variance.

The optimisation runs over partial autocorrelations mapped to ``(-1, 1)`` by ``tanh``: the AR coefficients
from their PACF (Durbin–Levinson; stationary), and the MA coefficients as ``θ = -ar_from_pacf(r)``, so the
MA polynomial ``1 + θ_1 z + … + θ_q z^q`` has all roots outside the unit circle (invertible).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg, optimize

from evaltoolkit.its._ar import (
    BOUNDARY,
    ARData,
    _start_pacf,
    ar_from_pacf,
    numerical_hessian,
    pacf_from_ar,
)
from evaltoolkit.its.errors import ARBoundaryWarning, ITSWarning

__all__ = ["ARMAFit", "arma_acvf", "arma_result_fields", "fit_arma", "ma_at_boundary", "ma_boundary"]


def arma_acvf(phi: np.ndarray, theta: np.ndarray, nlags: int) -> np.ndarray:
    """Autocovariances ``γ_0 … γ_nlags`` of a stationary ARMA process with unit innovation variance.

    Brockwell & Davis (1991, §3.3, method 2): the first ``max(p, q) + 1`` autocovariances solve a
    linear system, later ones follow the AR recursion.

    Examples
    --------
    >>> arma_acvf(np.array([]), np.array([0.5]), 2).tolist()  # MA(1): 1 + θ², θ, 0
    [1.25, 0.5, 0.0]
    >>> np.round(arma_acvf(np.array([0.5]), np.array([]), 2), 6).tolist()  # AR(1): φ^k / (1 - φ²)
    [1.333333, 0.666667, 0.333333]
    """
    phi = np.asarray(phi, dtype="float64")
    th = np.r_[1.0, np.asarray(theta, dtype="float64")]
    p, q = phi.size, th.size - 1
    psi = np.zeros(q + 1)  # MA(∞) weights ψ_0..ψ_q
    for j in range(q + 1):
        psi[j] = th[j] + sum(phi[i - 1] * psi[j - i] for i in range(1, min(j, p) + 1))
    m = max(p, q) + 1
    rhs = np.array([float(th[k:] @ psi[: q + 1 - k]) if k <= q else 0.0 for k in range(m)])
    A = np.eye(m)
    for k in range(m):
        for i in range(1, p + 1):
            A[k, abs(k - i)] -= phi[i - 1]
    gamma = np.zeros(max(nlags, m - 1) + 1)
    gamma[:m] = np.linalg.solve(A, rhs)
    for k in range(m, nlags + 1):
        gamma[k] = float(phi @ gamma[k - 1 :: -1][:p]) if p else 0.0
    return gamma[: nlags + 1]


def _whiten(phi: np.ndarray, theta: np.ndarray, ar: ARData, M: np.ndarray) -> tuple[np.ndarray, float]:
    """``L⁻¹ M`` per series (``L L' = Γ``, unit innovation variance) and ``log|Γ|``."""
    out = np.empty_like(M, dtype="float64")
    logdet = 0.0
    gamma = arma_acvf(phi, theta, int(np.ptp(ar.positions)) if ar.positions.size else 0)
    for a, b in ar.blocks:
        pos = ar.positions[a:b]
        L = linalg.cholesky(gamma[np.abs(pos[:, None] - pos[None, :])], lower=True)
        out[a:b] = linalg.solve_triangular(L, M[a:b], lower=True)
        logdet += 2.0 * float(np.sum(np.log(np.diag(L))))
    return out, logdet


def _split(z: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """ARMA coefficients from the unconstrained parameters (``tanh`` of the AR and MA PACFs)."""
    r = np.tanh(z)
    return ar_from_pacf(r[:p]), -ar_from_pacf(r[p:])


@dataclass(frozen=True)
class ARMAFit:
    """Exact-ML regression with ARMA errors at the optimum."""

    phi: np.ndarray
    theta: np.ndarray
    beta: np.ndarray
    cov_beta: np.ndarray
    se_phi: np.ndarray
    se_theta: np.ndarray
    sigma2: float
    loglik: float
    whitened_resid: np.ndarray
    whitened_X: np.ndarray
    converged: bool
    conditional: bool = False
    """True when the Hessian could not be taken in the ARMA parameters (an estimate on the edge): the β
    covariance is then conditional on the ARMA estimates."""


def _profile(
    phi: np.ndarray, theta: np.ndarray, X: np.ndarray, y: np.ndarray, ar: ARData
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """GLS ``β``, whitened residuals and ``X``, ``w'w`` and the concentrated log-likelihood."""
    W, logdet = _whiten(phi, theta, ar, np.column_stack([X, y]))
    Xw, yw = W[:, :-1], W[:, -1]
    beta, *_ = np.linalg.lstsq(Xw, yw, rcond=None)
    r = yw - Xw @ beta
    rss = float(r @ r)
    n = y.size
    return beta, r, Xw, rss, float(-n / 2 * (math.log(2 * math.pi * rss / n) + 1) - logdet / 2)


def _full_loglik(par: np.ndarray, X: np.ndarray, y: np.ndarray, ar: ARData, p: int, q: int) -> float:
    """Concentrated log-likelihood at ``par = (β, φ, θ)`` (``-inf`` outside the stationary/invertible set)."""
    k = X.shape[1]
    beta, phi, theta = par[:k], par[k : k + p], par[k + p :]
    if np.any(np.abs(pacf_from_ar(phi)) >= 1) or np.any(np.abs(pacf_from_ar(-theta)) >= 1):
        return -math.inf
    try:
        w, logdet = _whiten(phi, theta, ar, y - X @ beta)
    except (linalg.LinAlgError, np.linalg.LinAlgError):
        return -math.inf
    n = y.size
    return float(-n / 2 * (math.log(2 * math.pi * (w @ w) / n) + 1) - logdet / 2)


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Thousands of small Cholesky factorisations: BLAS threads only add contention (10× slower on a busy
    machine). Uses ``threadpoolctl`` when installed (it comes with scikit-learn), else does nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def fit_arma(X: np.ndarray, y: np.ndarray, ar: ARData, p: int, q: int) -> ARMAFit:
    """Exact ML regression with ARMA(``p``, ``q``) errors; SEs from the numerical Hessian (observed
    information) of the concentrated log-likelihood in ``(β, φ, θ)``, as ``stats::arima``."""
    with _single_threaded_blas():
        return _fit_arma(X, y, ar, p, q)


def _fit_arma(X: np.ndarray, y: np.ndarray, ar: ARData, p: int, q: int) -> ARMAFit:
    n, k = X.shape

    def negll(z: np.ndarray) -> float:
        phi, theta = _split(z, p)
        try:
            return -_profile(phi, theta, X, y, ar)[4]
        except (linalg.LinAlgError, np.linalg.LinAlgError, ValueError):
            return math.inf

    ar0 = np.arctanh(_start_pacf(X, y, ar, p))  # sample PACF of OLS residuals, clipped to ±0.9
    best: optimize.OptimizeResult | None = None
    converged = False
    for ma0 in (0.0, 0.5, -0.5):  # a few MA starts: ARMA likelihoods can be multimodal
        z0 = np.r_[ar0, np.full(q, math.atanh(ma0))]
        res = optimize.minimize(
            negll, z0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 20000}
        )
        res2 = optimize.minimize(negll, res.x, method="BFGS", options={"gtol": 1e-8})
        cand = res2 if res2.fun <= res.fun else res
        if best is None or cand.fun < best.fun - 1e-10:
            best = cand
            converged = bool(res.success or res2.success)
    assert best is not None
    phi, theta = _split(best.x, p)
    beta, r, Xw, rss, loglik = _profile(phi, theta, X, y, ar)
    # Observed information: central differences of the concentrated likelihood in (β, φ, θ).
    se0 = np.sqrt(np.diag(rss / (n - k) * np.linalg.inv(Xw.T @ Xw)))
    margin = min(
        1 - float(np.max(np.abs(pacf_from_ar(phi)), initial=0.0)) ** 2,
        1 - float(np.max(np.abs(pacf_from_ar(-theta)), initial=0.0)) ** 2,
    )
    steps = np.r_[1e-3 * se0, np.full(p + q, 1e-3 * math.sqrt(max(margin, 1e-6) / n))]
    par = np.r_[beta, phi, theta]
    H = numerical_hessian(lambda th: _full_loglik(th, X, y, ar, p, q), par, steps)
    full = np.full(H.shape, np.nan)
    conditional = not np.all(np.isfinite(H))
    with np.errstate(invalid="ignore"):
        if not conditional:
            full = np.linalg.inv(-H)
        elif np.all(np.isfinite(H[:k, :k])):
            # ARMA estimates on the edge of the parameter space (no two-sided differences there): the β SEs
            # treat the ARMA parameters as known and theirs are NaN.
            full[:k, :k] = np.linalg.inv(-H[:k, :k])
    sd = np.array([math.sqrt(v) if v > 0 else math.nan for v in np.diag(full)])
    return ARMAFit(
        phi=phi,
        theta=theta,
        beta=beta,
        cov_beta=full[:k, :k],
        se_phi=sd[k : k + p],
        se_theta=sd[k + p :],
        sigma2=rss / n,
        loglik=loglik,
        whitened_resid=r,
        whitened_X=Xw,
        converged=converged,
        conditional=conditional,
    )


def ma_boundary(theta: np.ndarray) -> float:
    """Largest reciprocal root modulus of ``1 + θ_1 z + … + θ_q z^q`` (1 = a unit root: not invertible).

    Examples
    --------
    >>> round(ma_boundary(np.array([-0.5])), 6)
    0.5
    """
    theta = np.asarray(theta, dtype="float64")
    if theta.size == 0 or not np.any(theta):
        return 0.0
    # reciprocal roots of 1 + θ_1 z + … are the roots of x^q + θ_1 x^(q-1) + … + θ_q
    return float(np.max(np.abs(np.roots(np.r_[1.0, theta]))))


def ma_at_boundary(theta: np.ndarray) -> bool:
    """True when an MA root lies on or within ``1/BOUNDARY`` of the unit circle, or an MA PACF ≥ BOUNDARY."""
    theta = np.asarray(theta, dtype="float64")
    return bool(theta.size) and (
        ma_boundary(theta) >= BOUNDARY or bool(np.any(np.abs(pacf_from_ar(-theta)) >= BOUNDARY))
    )


def arma_result_fields(
    X: np.ndarray, y: np.ndarray, ar: ARData, p: int, q: int, notes: list[tuple[type[Warning], str]]
) -> dict[str, Any]:
    """Fit ARMA(``p``, ``q``) errors and return the :class:`~evaltoolkit.its.results.ITSResult` fields."""
    n, k = X.shape
    fit = fit_arma(X, y, ar, p, q)
    if not fit.converged:
        notes.append((ITSWarning, "arima: the optimiser did not converge; treat the estimates with caution"))
    pacf = pacf_from_ar(fit.phi)
    if np.any(np.abs(pacf) >= BOUNDARY):
        notes.append(
            (
                ARBoundaryWarning,
                "arima: the AR estimate is at the boundary of stationarity ("
                + ", ".join(f"ar{i + 1} = {v:.4f}" for i, v in enumerate(fit.phi))
                + "; partial autocorrelation "
                + ", ".join(f"{v:.4f}" for v in pacf)
                + "); the errors may be non-stationary or the trend misspecified, and the SEs are unreliable",
            )
        )
    if ma_at_boundary(fit.theta):
        notes.append(
            (
                ARBoundaryWarning,
                "arima: the MA estimate is at the boundary of invertibility ("
                + ", ".join(f"ma{i + 1} = {v:.4f}" for i, v in enumerate(fit.theta))
                + f"; an MA root of modulus {1 / max(ma_boundary(fit.theta), 1e-300):.4f}, on or next to the "
                "unit circle); the series may be over-differenced or the trend misspecified, and the SEs are "
                "unreliable",
            )
        )
    sigma = math.sqrt(fit.sigma2)
    return {
        "params": fit.beta,
        "cov": fit.cov_beta,
        "df_resid": n - k,
        "dispersion": fit.sigma2,
        "sigma": sigma,
        "loglik": fit.loglik,
        "aic": -2 * fit.loglik + 2 * (k + p + q + 1),
        "deviance": None,
        "pearson_chi2": None,
        "ar_params": tuple(float(v) for v in fit.phi),
        "ar_std_errors": tuple(float(v) for v in fit.se_phi),
        "ar_conf_int": tuple((math.nan, math.nan) for _ in range(p)),
        "ma_params": tuple(float(v) for v in fit.theta),
        "ma_std_errors": tuple(float(v) for v in fit.se_theta),
        "theta": None,
        "theta_std_error": None,
        "residuals": fit.whitened_resid / sigma,
        "residual_kind": "normalised (whitened)",
        "diagnostic_X": fit.whitened_X,
        "converged": fit.converged,
        "iterations": None,
        "method_description": f"regression with ARIMA({p},0,{q}) errors, exact maximum likelihood"
        + (
            f", {len(ar.blocks)} independent series sharing the ARMA parameters" if len(ar.blocks) > 1 else ""
        ),
        "se_description": "observed information (numerical Hessian of the exact likelihood)"
        + (
            "; ARMA estimates on the boundary: coefficient SEs conditional on them, ARMA SEs not available"
            if fit.conditional
            else ""
        ),
    }
