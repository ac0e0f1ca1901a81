"""A vectorised GEE for log-link count models with clusters of exactly two observations.

Every patient in a before/after design contributes two windows, so the GEE working covariance of a
cluster is 2 × 2 and everything can be computed with array operations. statsmodels' ``GEE`` loops over
clusters in Python (about 130 s for 200,000 patients); this takes well under a second. It follows
statsmodels' estimating equations exactly (Poisson or NB2 variance, independence or exchangeable
working correlation with the same moment estimator, robust sandwich covariance without small-sample
correction) and is tested against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairGEEResult:
    """Estimates of :func:`fit_pair_gee`: coefficients, robust covariance, working correlation."""

    params: np.ndarray
    cov_params: np.ndarray
    rho: float
    converged: bool
    iterations: int


def fit_pair_gee(
    y0: np.ndarray,
    y1: np.ndarray,
    x0: np.ndarray,
    x1: np.ndarray,
    offset0: np.ndarray,
    offset1: np.ndarray,
    *,
    alpha: float = 0.0,
    exchangeable: bool = True,
    maxiter: int = 100,
    tol: float = 1e-10,
) -> PairGEEResult:
    """Fit ``log E[y] = x·β + offset`` by GEE with clusters of two rows (row ``i`` of ``*0`` and ``*1``).

    Parameters
    ----------
    y0, y1 : ndarray, shape (n,)
        Counts of each cluster's first and second observation.
    x0, x1 : ndarray, shape (n, p)
        Their covariate rows.
    offset0, offset1 : ndarray, shape (n,)
        Their offsets (log exposure).
    alpha : float, default 0
        Variance ``μ + α μ²`` (0 = Poisson, > 0 = negative binomial NB2 with fixed ``α``).
    exchangeable : bool, default True
        Exchangeable working correlation (moment estimate, as statsmodels ``Exchangeable``); otherwise
        independence.
    maxiter, tol : int, float
        Fisher-scoring iterations and convergence tolerance on the largest coefficient change.

    Returns
    -------
    PairGEEResult
    """
    p = x0.shape[1]
    X = np.vstack([x0, x1])
    y = np.concatenate([y0, y1]).astype(float)
    off = np.concatenate([offset0, offset1])
    beta = _poisson_glm(X, y, off)
    rho = 0.0
    converged = False
    it = 0
    while it < maxiter:
        it += 1
        mu0, mu1 = np.exp(x0 @ beta + offset0), np.exp(x1 @ beta + offset1)
        if exchangeable:
            rho = _exchangeable_rho(y0, y1, mu0, mu1, alpha, p)
        bread, score, _ = _pieces(y0, y1, x0, x1, mu0, mu1, alpha, rho)
        step = np.linalg.solve(bread, score)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    mu0, mu1 = np.exp(x0 @ beta + offset0), np.exp(x1 @ beta + offset1)
    if exchangeable:
        rho = _exchangeable_rho(y0, y1, mu0, mu1, alpha, p)
    bread, _, per_cluster = _pieces(y0, y1, x0, x1, mu0, mu1, alpha, rho)
    inv = np.linalg.inv(bread)
    cov = inv @ (per_cluster.T @ per_cluster) @ inv
    return PairGEEResult(beta, cov, float(rho), converged, it)


def _poisson_glm(X: np.ndarray, y: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Poisson GLM (log link, offset) by iteratively reweighted least squares: the GEE start values."""
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(max(y.sum(), 1e-10) / np.exp(off).sum())
    for _ in range(100):
        mu = np.exp(X @ beta + off)
        step = np.linalg.solve((X * mu[:, None]).T @ X, X.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    return beta


def _variance(mu: np.ndarray, alpha: float) -> np.ndarray:
    return mu + alpha * mu * mu


def _exchangeable_rho(
    y0: np.ndarray, y1: np.ndarray, mu0: np.ndarray, mu1: np.ndarray, alpha: float, p: int
) -> float:
    """statsmodels' ``Exchangeable.update`` for clusters of two (ddof = number of coefficients)."""
    n = len(y0)
    r0 = (y0 - mu0) / np.sqrt(_variance(mu0, alpha))
    r1 = (y1 - mu1) / np.sqrt(_variance(mu1, alpha))
    nobs = 2 * n
    scale = float(np.sum(r0 * r0) + np.sum(r1 * r1)) / (nobs * (nobs - p) / nobs)
    rho = float(np.sum(r0 * r1)) / scale / (n * (n - p) / n)
    return float(np.clip(rho, -0.999, 0.999))


def _pieces(
    y0: np.ndarray,
    y1: np.ndarray,
    x0: np.ndarray,
    x1: np.ndarray,
    mu0: np.ndarray,
    mu1: np.ndarray,
    alpha: float,
    rho: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bread ``Σ D'V⁻¹D``, score ``Σ D'V⁻¹(y − μ)`` and per-cluster score contributions."""
    s0, s1 = np.sqrt(_variance(mu0, alpha)), np.sqrt(_variance(mu1, alpha))
    det = 1.0 - rho * rho
    w00 = 1.0 / (det * s0 * s0)
    w11 = 1.0 / (det * s1 * s1)
    w01 = -rho / (det * s0 * s1)
    d0 = x0 * mu0[:, None]  # derivative of μ with respect to β under the log link
    d1 = x1 * mu1[:, None]
    e0, e1 = y0 - mu0, y1 - mu1
    bread = (
        (d0 * w00[:, None]).T @ d0
        + (d1 * w11[:, None]).T @ d1
        + (d0 * w01[:, None]).T @ d1
        + (d1 * w01[:, None]).T @ d0
    )
    per_cluster = d0 * (w00 * e0 + w01 * e1)[:, None] + d1 * (w01 * e0 + w11 * e1)[:, None]
    return bread, per_cluster.sum(axis=0), per_cluster
