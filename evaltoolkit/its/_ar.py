"""Autoregressive error models: whitening, GLS profile likelihoods (nlme conventions), exact ML and Hessians.

Errors follow a stationary AR(p) process within each series, on the period index ``t``; periods left out of
the fit (an excluded transition) are gaps, handled exactly through the AR autocorrelation at the true lag.
Series (groups in a controlled design) are independent of each other.

Likelihoods follow ``nlme::gls`` (``corAR1(form = ~ time)`` / ``corARMA``): with ``R`` the AR correlation
matrix and ``w`` the whitened residuals,

* ML:   ``-n/2 (log(2π σ²) + 1) - log|R|/2`` with ``σ² = w'w / n``;
* REML: ``-(n-p)/2 (log(2π σ²) + 1) - log|R|/2 - log|X'R⁻¹X|/2`` with ``σ² = w'w / (n-p)``.

Both report ``Var(β) = w'w/(n-p) · (X'R⁻¹X)⁻¹`` as ``nlme`` does.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, stats

__all__ = [
    "BOUNDARY",
    "ARData",
    "GLSProfile",
    "ar_from_pacf",
    "concentrated_loglik",
    "fit_ar_profile",
    "numerical_hessian",
    "pacf_from_ar",
    "prais_winsten",
]

BOUNDARY = 0.99
"""A partial autocorrelation with absolute value at or above this is reported as a boundary estimate."""

_EDGE = 1.0 - 1e-9


def ar_from_pacf(pacf: np.ndarray) -> np.ndarray:
    """AR coefficients from partial autocorrelations (Durbin–Levinson); stationary iff all ``|pacf| < 1``."""
    phi = np.zeros(0)
    for r in np.asarray(pacf, dtype="float64"):
        phi = np.r_[phi - r * phi[::-1], r]
    return phi


def pacf_from_ar(phi: np.ndarray) -> np.ndarray:
    """Partial autocorrelations from AR coefficients (inverse Durbin–Levinson)."""
    a = np.asarray(phi, dtype="float64").copy()
    p = a.size
    out = np.zeros(p)
    for k in range(p, 0, -1):
        r = a[k - 1]
        out[k - 1] = r
        if k > 1:
            a = (a[: k - 1] + r * a[: k - 1][::-1]) / (1.0 - r * r)
    return out


def ar_acf(phi: np.ndarray, nlags: int) -> np.ndarray:
    """Autocorrelations ``ρ_0 … ρ_nlags`` of a stationary AR(p) process with coefficients ``phi``."""
    phi = np.asarray(phi, dtype="float64")
    p = phi.size
    if p == 1:
        return phi[0] ** np.arange(nlags + 1)
    # Yule–Walker: solve for ρ_1..ρ_p, then recurse.
    A = np.eye(p)
    b = phi.copy()
    for k in range(1, p + 1):  # equation for ρ_k = Σ_j φ_j ρ_|k-j|
        for j in range(1, p + 1):
            lag = abs(k - j)
            if lag > 0:
                A[k - 1, lag - 1] -= phi[j - 1]
    rho = np.ones(max(nlags, p) + 1)
    rho[1 : p + 1] = np.linalg.solve(A, b)
    for k in range(p + 1, nlags + 1):
        rho[k] = phi @ rho[k - 1 :: -1][:p]
    return rho[: nlags + 1]


@dataclass(frozen=True)
class ARData:
    """Period positions of the fitted rows, split into independent series (contiguous blocks)."""

    positions: np.ndarray
    blocks: tuple[tuple[int, int], ...]

    @classmethod
    def from_groups(cls, positions: np.ndarray, groups: np.ndarray) -> ARData:
        """Blocks of consecutive equal ``groups`` values (rows are sorted by group then time)."""
        positions = np.asarray(positions, dtype="int64")
        change = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])
        return cls(positions, tuple((int(a), int(b)) for a, b in itertools.pairwise(change)))

    def whiten(self, phi: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, float]:
        """Return ``L⁻¹ M`` (``L L' = R``, the AR correlation) and ``log|R|``."""
        phi = np.asarray(phi, dtype="float64")
        out = np.empty_like(M, dtype="float64")
        logdet = 0.0
        for a, b in self.blocks:
            pos = self.positions[a:b]
            Mb = M[a:b]
            if phi.size == 1:
                d = np.diff(pos)
                rd = phi[0] ** d
                c = np.sqrt(1.0 - rd * rd)
                out[a] = Mb[0]
                out[a + 1 : b] = (
                    Mb[1:] - rd[:, None] * Mb[:-1] if Mb.ndim == 2 else Mb[1:] - rd * Mb[:-1]
                ) / (c[:, None] if Mb.ndim == 2 else c)
                logdet += 2.0 * float(np.sum(np.log(c)))
            elif b - a > phi.size and np.all(np.diff(pos) == 1):
                # Contiguous AR(p): exact factorisation f(e_1..e_p) Π f(e_t | previous p).
                p = phi.size
                rho = ar_acf(phi, p)
                Lp = linalg.cholesky(rho[np.abs(np.subtract.outer(np.arange(p), np.arange(p)))], lower=True)
                v = float(np.prod(1.0 - pacf_from_ar(phi) ** 2))  # innovation variance / marginal variance
                out[a : a + p] = linalg.solve_triangular(Lp, Mb[:p], lower=True)
                pred = sum(phi[j] * Mb[p - 1 - j : Mb.shape[0] - 1 - j] for j in range(p))
                out[a + p : b] = (Mb[p:] - pred) / math.sqrt(v)
                logdet += 2.0 * float(np.sum(np.log(np.diag(Lp)))) + (b - a - p) * math.log(v)
            else:
                lagmat = np.abs(pos[:, None] - pos[None, :])
                rho = ar_acf(phi, int(lagmat.max()))
                L = linalg.cholesky(rho[lagmat], lower=True)
                out[a:b] = linalg.solve_triangular(L, Mb, lower=True)
                logdet += 2.0 * float(np.sum(np.log(np.diag(L))))
        return out, logdet


@dataclass(frozen=True)
class GLSProfile:
    """GLS fit at fixed AR coefficients."""

    phi: np.ndarray
    beta: np.ndarray
    rss: float
    xtrx: np.ndarray
    logdet: float
    loglik_ml: float
    loglik_reml: float
    whitened_resid: np.ndarray
    whitened_X: np.ndarray

    @property
    def n(self) -> int:
        return int(self.whitened_resid.size)

    @property
    def p(self) -> int:
        return int(self.beta.size)

    def cov(self) -> np.ndarray:
        """``w'w/(n-p) · (X'R⁻¹X)⁻¹`` (nlme's ``varBeta`` for both ML and REML)."""
        return self.rss / (self.n - self.p) * np.linalg.inv(self.xtrx)


def gls_at(phi: np.ndarray, X: np.ndarray, y: np.ndarray, ar: ARData) -> GLSProfile:
    """GLS estimates and profile log-likelihoods at AR coefficients ``phi``."""
    W, logdet = ar.whiten(phi, np.column_stack([X, y]))
    Xw, yw = W[:, :-1], W[:, -1]
    beta, *_ = np.linalg.lstsq(Xw, yw, rcond=None)
    r = yw - Xw @ beta
    rss = float(r @ r)
    n, p = X.shape
    xtrx = Xw.T @ Xw
    ll_ml = -n / 2 * (np.log(2 * np.pi * rss / n) + 1) - logdet / 2
    ll_reml = (
        -(n - p) / 2 * (np.log(2 * np.pi * rss / (n - p)) + 1) - logdet / 2 - np.linalg.slogdet(xtrx)[1] / 2
    )
    return GLSProfile(np.asarray(phi, float), beta, rss, xtrx, logdet, float(ll_ml), float(ll_reml), r, Xw)


def _start_pacf(X: np.ndarray, y: np.ndarray, ar: ARData, order: int) -> np.ndarray:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    e = y - X @ beta
    acf = np.ones(order + 1)
    den = float(e @ e)
    for k in range(1, order + 1):
        num = 0.0
        for a, b in ar.blocks:
            pos, eb = ar.positions[a:b], e[a:b]
            idx = {int(q): i for i, q in enumerate(pos)}
            num += sum(eb[i] * eb[idx[int(q) + k]] for i, q in enumerate(pos) if int(q) + k in idx)
        acf[k] = num / den if den > 0 else 0.0
    # Durbin–Levinson on the sample acf -> pacf
    pacf = np.zeros(order)
    phi = np.zeros(0)
    v = 1.0
    for k in range(1, order + 1):
        r = (acf[k] - phi @ acf[k - 1 : 0 : -1]) / v if k > 1 else acf[1]
        r = float(np.clip(r, -0.9, 0.9))
        pacf[k - 1] = r
        phi = np.r_[phi - r * phi[::-1], r]
        v *= 1 - r * r
    return pacf


def fit_ar_profile(
    X: np.ndarray, y: np.ndarray, ar: ARData, order: int, reml: bool
) -> tuple[GLSProfile, bool]:
    """Maximise the ML or REML profile likelihood over stationary AR(``order``) coefficients.

    Returns the fit at the optimum and whether the optimiser converged.
    """

    def negll(pacf: np.ndarray) -> float:
        prof = gls_at(ar_from_pacf(pacf), X, y, ar)
        return -(prof.loglik_reml if reml else prof.loglik_ml)

    if order == 1:
        grid = np.linspace(-0.99, 0.99, 199)
        vals = np.array([negll(np.array([g])) for g in grid])
        i = int(np.argmin(vals))
        lo = grid[i - 1] if i > 0 else -_EDGE
        hi = grid[i + 1] if i < grid.size - 1 else _EDGE
        res = optimize.minimize_scalar(
            lambda r: negll(np.array([r])), bounds=(lo, hi), method="bounded", options={"xatol": 1e-11}
        )
        pacf = np.array([float(res.x)])
        converged = bool(res.success)
    else:
        start = np.arctanh(_start_pacf(X, y, ar, order))
        res = optimize.minimize(
            lambda z: negll(np.tanh(z)),
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000},
        )
        res2 = optimize.minimize(lambda z: negll(np.tanh(z)), res.x, method="BFGS", options={"gtol": 1e-8})
        best = res2 if res2.fun <= res.fun else res
        pacf = np.tanh(best.x)
        converged = bool(res.success or res2.success)
    return gls_at(ar_from_pacf(pacf), X, y, ar), converged


def phi_interval_ar1(
    X: np.ndarray, y: np.ndarray, ar: ARData, phi: float, reml: bool, conf_level: float
) -> tuple[float, float]:
    """Approximate CI for an AR(1) coefficient as ``nlme::intervals``: Wald on ``log((1+φ)/(1-φ))``.

    Uses a central-difference second derivative of the profile log-likelihood on that scale.
    """
    if not abs(phi) < _EDGE:
        return (float("nan"), float("nan"))

    def ll(z: float) -> float:
        prof = gls_at(np.array([np.tanh(z / 2)]), X, y, ar)
        return prof.loglik_reml if reml else prof.loglik_ml

    z0 = float(np.log((1 + phi) / (1 - phi)))
    h = 1e-4
    d2 = (ll(z0 + h) - 2 * ll(z0) + ll(z0 - h)) / h**2
    if not d2 < 0:
        return (float("nan"), float("nan"))
    se = 1 / np.sqrt(-d2)
    q = stats.norm.ppf(0.5 + conf_level / 2)
    return float(np.tanh((z0 - q * se) / 2)), float(np.tanh((z0 + q * se) / 2))


def concentrated_loglik(theta: np.ndarray, X: np.ndarray, y: np.ndarray, ar: ARData) -> float:
    """Exact Gaussian log-likelihood with ``σ²`` concentrated out; ``theta = (β, φ_1..φ_p)``."""
    k = X.shape[1]
    beta, phi = theta[:k], theta[k:]
    if np.any(np.abs(pacf_from_ar(phi)) >= 1):
        return -np.inf
    w, logdet = ar.whiten(phi, y - X @ beta)
    n = y.size
    return float(-n / 2 * (np.log(2 * np.pi * (w @ w) / n) + 1) - logdet / 2)


def numerical_hessian(f: object, x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of scalar ``f`` at ``x`` with per-coordinate ``steps``."""
    k = x.size
    H = np.zeros((k, k))
    f0 = f(x)  # type: ignore[operator]
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = steps[i]
        H[i, i] = (f(x + 2 * ei) - 2 * f0 + f(x - 2 * ei)) / (4 * steps[i] ** 2)  # type: ignore[operator]
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = steps[j]
            v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * steps[i] * steps[j]
            )  # type: ignore[operator]
            H[i, j] = H[j, i] = v
    return H


def prais_winsten(
    X: np.ndarray, y: np.ndarray, ar: ARData, tol: float = 1e-8, maxiter: int = 200
) -> tuple[GLSProfile, int, bool]:
    """Iterated Prais–Winsten AR(1) FGLS (Stata ``prais`` defaults: ``rhotype(regress)``, first obs kept).

    ``ρ`` is the no-constant regression of each residual on the previous period's residual (same series,
    consecutive periods), recomputed from the untransformed residuals until it changes by less than ``tol``.
    """
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    rho_old = np.inf
    prof = gls_at(np.array([0.0]), X, y, ar)
    for it in range(1, maxiter + 1):
        e = y - X @ beta
        num = den = 0.0
        for a, b in ar.blocks:
            pos, eb = ar.positions[a:b], e[a:b]
            consecutive = np.diff(pos) == 1
            num += float(np.sum(eb[1:][consecutive] * eb[:-1][consecutive]))
            den += float(np.sum(eb[:-1][consecutive] ** 2))
        rho = float(np.clip(num / den, -_EDGE, _EDGE)) if den > 0 else 0.0
        prof = gls_at(np.array([rho]), X, y, ar)
        beta = prof.beta
        if abs(rho - rho_old) < tol:
            return prof, it, True
        rho_old = rho
    return prof, maxiter, False
