"""Newey–West (Bartlett-kernel HAC) covariance for linear and log-link GLM fits.

``cov = B · M · B · c`` with ``B`` the model's unscaled covariance (``(X'X)⁻¹`` for OLS, ``(X'WX)⁻¹`` for a
GLM), ``M = Σ_l w_l Σ_t (s_t s_{t-l}' + s_{t-l} s_t')`` (``w_0`` counted once), Bartlett weights
``w_l = 1 - l/(L+1)``, score contributions ``s_t`` and ``c = n/(n-k)`` when ``adjust`` (Stata ``newey``,
``sandwich::NeweyWest(adjust = TRUE)``) or 1. No prewhitening. Lags are in periods within a series: rows
``l`` periods apart in the same series pair up; gaps (excluded transition periods) contribute nothing and
different series are independent.
"""

from __future__ import annotations

import numpy as np

from evaltoolkit.its._ar import ARData

__all__ = ["newey_west"]


def newey_west(bread: np.ndarray, scores: np.ndarray, ar: ARData, lags: int, adjust: bool) -> np.ndarray:
    """Newey–West covariance matrix.

    Parameters
    ----------
    bread : ndarray (k, k)
        Unscaled model covariance, e.g. ``(X'X)⁻¹``.
    scores : ndarray (n, k)
        Per-observation score contributions, e.g. ``x_t · e_t``.
    ar : ARData
        Period positions and series blocks of the rows.
    lags : int
        Maximum lag ``L`` (Stata ``newey, lag(L)``).
    adjust : bool
        Multiply by ``n/(n-k)``.

    Returns
    -------
    ndarray (k, k)
    """
    n, k = scores.shape
    meat = np.zeros((k, k))
    for a, b in ar.blocks:
        pos = ar.positions[a:b]
        dense = np.zeros((int(pos.max() - pos.min()) + 1, k))
        dense[pos - pos.min()] = scores[a:b]
        meat += dense.T @ dense
        for lag in range(1, min(lags, dense.shape[0] - 1) + 1):
            w = 1.0 - lag / (lags + 1.0)
            g = dense[lag:].T @ dense[:-lag]
            meat += w * (g + g.T)
    cov = bread @ meat @ bread
    if adjust:
        cov *= n / (n - k)
    return cov
