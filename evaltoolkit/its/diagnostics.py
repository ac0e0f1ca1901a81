"""Residual diagnostics for ITS fits: Durbin–Watson (exact p), Breusch–Godfrey, Ljung–Box, ACF/PACF.

All functions work on the residuals of the fitted periods with their period positions, so lags are in
periods within a series: gaps (excluded transition periods) and series boundaries (controlled designs)
never pair up residuals. In controlled designs the series are pooled into one statistic.

Validated against R ``lmtest::dwtest`` (exact p), ``lmtest::bgtest`` (``fill = 0``, Chisq),
``Box.test(type = "Ljung-Box")`` and ``acf``/``pacf`` on the Sicily data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import integrate, stats

from evaltoolkit.its._ar import ARData

__all__ = ["ITSDiagnostics", "acf_pacf", "breusch_godfrey", "durbin_watson", "ljung_box"]

_IMHOF_MAX_N = 1000


def _lag_pairs(ar: ARData, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (i, j) with j ``lag`` periods after i in the same series."""
    first, second = [], []
    for a, b in ar.blocks:
        pos = ar.positions[a:b]
        lookup = dict(zip(pos.tolist(), range(a, b), strict=True))
        for i, p in zip(range(a, b), pos.tolist(), strict=True):
            j = lookup.get(p + lag)
            if j is not None:
                first.append(i)
                second.append(j)
    return np.asarray(first, dtype="int64"), np.asarray(second, dtype="int64")


def _lagged(e: np.ndarray, ar: ARData, lag: int) -> np.ndarray:
    """``e`` lagged by ``lag`` periods within series, 0 where the lag is unavailable (lmtest ``fill = 0``)."""
    out = np.zeros_like(e)
    i, j = _lag_pairs(ar, lag)
    out[j] = e[i]
    return out


def _imhof_cdf0(lam: np.ndarray) -> float:
    """P(Σ λ_i χ²_1 < 0) by Imhof's (1961) inversion formula."""

    def integrand(u: float) -> float:
        if u == 0.0:
            return 0.5 * float(np.sum(lam))
        a = np.abs(lam * u)
        theta = 0.5 * float(np.sum(np.arctan(lam * u)))
        # rho = prod (1 + a²)^(1/4) overflows for long series (hundreds of eigenvalues): stay on the log
        # scale, log1p(a²) = 2 log a + log1p(1/a²) for a > 1 so that a² never overflows either.
        big = a > 1.0
        log_terms = np.empty_like(a)
        log_terms[~big] = np.log1p(a[~big] ** 2)
        log_terms[big] = 2.0 * np.log(a[big]) + np.log1p(a[big] ** -2.0)
        log_rho = 0.25 * float(np.sum(log_terms))
        return math.sin(theta) / u * math.exp(-log_rho)

    val, _ = integrate.quad(integrand, 0.0, np.inf, limit=1000, epsabs=1e-12, epsrel=1e-10)
    return float(min(max(0.5 - val / np.pi, 0.0), 1.0))


def durbin_watson(resid: np.ndarray, X: np.ndarray, ar: ARData) -> tuple[float, float]:
    """Durbin–Watson statistic and p-value against positive autocorrelation.

    The p-value is exact for OLS residuals (Imhof's method on the eigenvalues of ``M(A - d I)M``, as
    ``lmtest::dwtest(exact = TRUE)``); above 1000 points a normal approximation with exact moments is used.

    Parameters
    ----------
    resid : ndarray
        Residuals of the fitted periods.
    X : ndarray
        The regression's design matrix for those periods.
    ar : ARData
        Period positions and series blocks.

    Returns
    -------
    tuple of float
        ``(dw, p_value)``.
    """
    n, k = X.shape
    i, j = _lag_pairs(ar, 1)
    dw = float(np.sum((resid[j] - resid[i]) ** 2) / (resid @ resid))
    A = np.zeros((n, n))
    np.add.at(A, (i, i), 1.0)
    np.add.at(A, (j, j), 1.0)
    np.add.at(A, (i, j), -1.0)
    np.add.at(A, (j, i), -1.0)
    Q, _ = np.linalg.qr(X, mode="complete")
    Z = Q[:, k:]
    MAM = Z.T @ A @ Z
    if n <= _IMHOF_MAX_N:
        lam = np.linalg.eigvalsh(MAM - dw * np.eye(n - k))
        lam = lam[np.abs(lam) > 1e-12 * max(1.0, float(np.max(np.abs(lam))))]
        p = _imhof_cdf0(lam)
    else:  # pragma: no cover - long series
        nu = np.linalg.eigvalsh(MAM)
        mean = nu.mean()
        var = 2 * np.sum((nu - mean) ** 2) / ((n - k) * (n - k + 2))
        p = float(stats.norm.cdf((dw - mean) / np.sqrt(var)))
    return dw, p


def breusch_godfrey(resid: np.ndarray, X: np.ndarray, ar: ARData, order: int) -> tuple[float, float]:
    """Breusch–Godfrey LM test of serial correlation up to ``order``: ``n R²`` against χ²(order).

    Lagged residuals are filled with 0 where unavailable (as ``lmtest::bgtest``).
    """
    n = resid.size
    lagged = np.column_stack([_lagged(resid, ar, q) for q in range(1, order + 1)])
    Z = np.column_stack([X, lagged])
    coef, *_ = np.linalg.lstsq(Z, resid, rcond=None)
    u = resid - Z @ coef
    centred = resid - resid.mean()
    r2 = 1.0 - float(u @ u) / float(centred @ centred)
    lm = n * r2
    return float(lm), float(stats.chi2.sf(lm, order))


def acf_pacf(resid: np.ndarray, ar: ARData, nlags: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample ACF (as R ``acf``: mean-centred, divided by the lag-0 sum) and PACF (Durbin–Levinson)."""
    e = resid - resid.mean()
    den = float(e @ e)
    acf = np.ones(nlags + 1)
    for q in range(1, nlags + 1):
        i, j = _lag_pairs(ar, q)
        acf[q] = float(e[i] @ e[j]) / den
    pacf = np.zeros(nlags + 1)
    pacf[0] = 1.0
    phi = np.zeros(0)
    v = 1.0
    for q in range(1, nlags + 1):
        r = (acf[q] - phi @ acf[q - 1 : 0 : -1]) / v if q > 1 else acf[1]
        pacf[q] = r
        phi = np.r_[phi - r * phi[::-1], r]
        v *= 1 - r * r
    return acf[1:], pacf[1:]


def ljung_box(resid: np.ndarray, ar: ARData, lags: int, fitdf: int = 0) -> tuple[float, float]:
    """Ljung–Box portmanteau ``Q = n(n+2) Σ r_k²/(n-k)``, χ²(lags - fitdf)."""
    n = resid.size
    acf, _ = acf_pacf(resid, ar, lags)
    q = n * (n + 2) * float(np.sum(acf**2 / (n - np.arange(1, lags + 1))))
    return q, float(stats.chi2.sf(q, lags - fitdf))


@dataclass(frozen=True, eq=False)
class ITSDiagnostics:
    """Diagnostics of an ITS fit (from :meth:`ITSResult.diagnostics`).

    Attributes
    ----------
    tests : pandas.DataFrame
        Columns ``test, statistic, df, p_value, note``: Durbin–Watson (p against positive
        autocorrelation), Breusch–Godfrey at order 1 and ``lags``, Ljung–Box at ``lags``.
    acf : pandas.DataFrame
        Columns ``lag, acf, pacf, bound`` (``bound``: ± normal quantile / √n).
    segments : pandas.DataFrame
        Columns ``segment, start, end, n_points, meets_epoc_minimum, meets_recommended`` (≥ 3 and ≥ 8 points).
    residual_kind : str
        Which residuals were tested (raw OLS, GLM deviance, normalised GLS).
    dispersion : float or None
        Pearson χ²/(n-p) for count families (above 1: overdispersion) and gamma (the squared coefficient
        of variation), ``None`` for Gaussian.
    ar_params : tuple of float
        AR coefficients of the error model, if any.
    warnings : tuple of str
        Warnings raised when fitting (short segments, boundary AR estimates, convergence).
    """

    tests: pd.DataFrame
    acf: pd.DataFrame
    segments: pd.DataFrame
    residual_kind: str
    dispersion: float | None
    ar_params: tuple[float, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    def as_text(self) -> str:
        """Plain-text report."""
        lines = [f"Residual diagnostics ({self.residual_kind} residuals)"]
        for r in self.tests.itertuples(index=False):
            df = "" if pd.isna(r.df) else f", df={int(r.df)}"
            lines.append(f"  {r.test:<24} statistic={r.statistic:.4g}{df}, p={r.p_value:.4g}")
        lines.append(
            "  ACF lags 1–{}: {}".format(len(self.acf), ", ".join(f"{v:.3f}" for v in self.acf["acf"][:12]))
        )
        if self.dispersion is not None:
            lines.append(f"  Pearson dispersion: {self.dispersion:.4g}")
        if self.ar_params:
            lines.append("  AR coefficients: " + ", ".join(f"{v:.4f}" for v in self.ar_params))
        lines.append("Points per segment (Cochrane EPOC minimum 3; 8 or more recommended):")
        for s in self.segments.itertuples(index=False):
            flag = "" if s.meets_recommended else ("  < 8" if s.meets_epoc_minimum else "  < 3")
            lines.append(f"  {s.segment:<10} {s.n_points:>4}{flag}")
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()
