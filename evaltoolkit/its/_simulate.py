"""Seeded generators of interrupted time series scenarios for method-evaluation (coverage) studies.

Private: used by ``benchmarks/coverage/run.py`` and ``tests/test_its_coverage.py``; not public API.

Every generator takes a :class:`numpy.random.Generator` (build it with :func:`rep_rng` from a scenario seed
and a replicate number, so that each replicate is reproducible on its own and all methods see the same data)
and returns a :class:`pandas.DataFrame` ready for :func:`evaltoolkit.its.fit_its` with the keywords
that describe it (:meth:`Scenario.fit_kwargs`).

Three kinds of scenario (:class:`Scenario`):

* ``"gaussian"``: ``y_t = 10 + 0.05 t + level·σ·post_t + slope·σ·(t - T)·post_t + u_t`` with ``u`` an
  AR(1), AR(2) or ARMA(1,1) process with innovation SD ``σ = 1``; effects are given in units of ``σ``.
* ``"count"``: Poisson or negative binomial (NB2, variance ``μ + μ²/θ``) counts with
  ``log μ_t = log(baseline) + a·sin(2π t/12) + level·post_t + slope·(t - T)·post_t + u_t``, ``u`` a latent
  AR(1) on the log scale with *marginal* SD ``shock_sd`` (effects are log rate ratios).
* ``"controlled"``: one treated and ``n_controls`` control series,
  ``y_gt = 10 + 2·[g treated] + 0.05 t + effect_gt + c_t + e_gt``, where the common shock ``c`` (AR(1), SD
  ``common_sd`` of its innovations, shared by every series) and the idiosyncratic errors ``e`` (AR(1) with
  unit innovation SD) have the same coefficient ``ρ``; the estimands are the treated-minus-control changes.

Time is the integer ``t = 1 … n``; the first post-interruption period is ``T = n_pre + 1`` (``level_change``
is the change at ``T``, as in :func:`~evaltoolkit.its.fit_its`). AR processes start from their stationary
distribution (the stationary covariance of the state-space form, so no burn-in is needed).

Examples
--------
>>> from evaltoolkit.its._simulate import Scenario, rep_rng, simulate
>>> sc = Scenario(kind="gaussian", n=24, ar=(0.4,))
>>> df = simulate(sc, rep_rng(sc, 0))
>>> df.shape, sc.fit_kwargs()["interruptions"]
((24, 2), 13)
>>> bool(df.equals(simulate(sc, rep_rng(sc, 0))))
True
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg

__all__ = [
    "Scenario",
    "arma_acf",
    "arma_stationary",
    "rep_rng",
    "simulate",
    "simulate_controlled",
    "simulate_counts",
    "simulate_gaussian",
]

Kind = Literal["gaussian", "count", "controlled"]
Split = Literal["even", "1:2", "2:1"]


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One cell of a simulation grid (immutable; its :attr:`name` identifies it and seeds it).

    Parameters
    ----------
    kind : {"gaussian", "count", "controlled"}
        The data-generating model (see the module docstring).
    n : int
        Periods per series (pre + post).
    split : {"even", "1:2", "2:1"}
        Pre : post lengths (``"1:2"``: a third before the interruption).
    ar : tuple of float
        AR coefficients of the error process (latent shocks for counts), e.g. ``(0.4,)`` or ``(0.5, 0.2)``.
    ma : tuple of float
        MA coefficients (``(θ,)`` for ARMA(1,1)); Gaussian and controlled kinds only.
    level, slope : float
        True level and slope changes: in innovation-SD units (Gaussian, controlled) or on the log scale
        (counts: log rate ratio at ``T`` and per period).
    count_dist : {"poisson", "negbin"}
        Count distribution given the latent mean.
    baseline : float
        Counts: baseline mean per period (before seasonality and shocks).
    nb_theta : float
        Negative binomial ``θ``.
    shock_sd : float
        Counts: marginal SD of the latent AR(1) log-scale shocks (0 = none).
    season_amp : float
        Counts: amplitude of the monthly seasonal wave on the log scale.
    n_controls : int
        Controlled designs: number of control series.
    common_sd : float
        Controlled designs: innovation SD of the common shock.
    seed : int
        Base seed; combined with the name and the replicate number in :func:`rep_rng`.
    """

    kind: Kind = "gaussian"
    n: int = 48
    split: Split = "even"
    ar: tuple[float, ...] = (0.0,)
    ma: tuple[float, ...] = ()
    level: float = 0.0
    slope: float = 0.0
    count_dist: Literal["poisson", "negbin"] = "poisson"
    baseline: float = 50.0
    nb_theta: float = 20.0
    shock_sd: float = 0.1
    season_amp: float = 0.2
    n_controls: int = 1
    common_sd: float = 1.0
    seed: int = 20261205

    def __post_init__(self) -> None:
        if self.kind not in ("gaussian", "count", "controlled"):
            raise ValueError(f"kind={self.kind!r}: expected 'gaussian', 'count' or 'controlled'")
        if self.split not in ("even", "1:2", "2:1"):
            raise ValueError(f"split={self.split!r}: expected 'even', '1:2' or '2:1'")
        if self.n < 8:
            raise ValueError(f"n={self.n}: need at least 8 periods")
        if self.kind == "count" and self.ma:
            raise ValueError("ma=: the latent count shocks are AR only")

    @property
    def n_pre(self) -> int:
        """Pre-interruption periods."""
        frac = {"even": 1 / 2, "1:2": 1 / 3, "2:1": 2 / 3}[self.split]
        return round(self.n * frac)

    @property
    def first_post(self) -> int:
        """``T``: the first post-interruption period (integer time starts at 1)."""
        return self.n_pre + 1

    @property
    def errors(self) -> str:
        """Short label of the error process: ``"AR(1)"``, ``"AR(2)"``, ``"ARMA(1,1)"``."""
        p, q = len(self.ar), len(self.ma)
        return f"AR({p})" if q == 0 else f"ARMA({p},{q})"

    @property
    def rho(self) -> float:
        """Lag-1 autocorrelation of the error (latent) process."""
        return float(arma_acf(self.ar, self.ma, 1)[1])

    @property
    def name(self) -> str:
        """Identifier (file name stem and seed component), e.g. ``gaussian_n48_even_ar0.4_L0_S0``."""
        parts = [self.kind, f"n{self.n}", self.split.replace(":", "to")]
        parts.append("ar" + "_".join(f"{a:g}" for a in self.ar))
        if self.ma:
            parts.append("ma" + "_".join(f"{m:g}" for m in self.ma))
        if self.kind == "count":
            parts += [self.count_dist, f"b{self.baseline:g}", f"sd{self.shock_sd:g}"]
        if self.kind == "controlled":
            parts.append(f"c{self.n_controls}")
        parts += [f"L{self.level:g}", f"S{self.slope:g}"]
        return "_".join(parts)

    def truths(self) -> dict[str, float]:
        """True values of the estimands, keyed by the coefficient name in :func:`~evaltoolkit.its.fit_its`."""
        if self.kind == "controlled":
            return {"diff_level_change": self.level, "diff_slope_change": self.slope}
        return {"level_change": self.level, "slope_change": self.slope}

    def fit_kwargs(self) -> dict[str, Any]:
        """The :func:`~evaltoolkit.its.fit_its` keywords describing the simulated data (no method, family)."""
        kw: dict[str, Any] = {"outcome": "y", "time": "t", "interruptions": self.first_post}
        if self.kind == "count":
            kw.update(seasonality=1, period=12)
        if self.kind == "controlled":
            kw.update(group="series", treated="treated")
        return kw

    def describe(self) -> dict[str, Any]:
        """Flat description for result tables."""
        return {
            "scenario": self.name,
            "kind": self.kind,
            "n": self.n,
            "split": self.split,
            "errors": self.errors,
            "ar": ";".join(f"{a:g}" for a in self.ar),
            "ma": ";".join(f"{m:g}" for m in self.ma),
            "rho": round(self.rho, 6),
            "level": self.level,
            "slope": self.slope,
            "count_dist": self.count_dist if self.kind == "count" else "",
            "baseline": self.baseline if self.kind == "count" else np.nan,
            "shock_sd": self.shock_sd if self.kind == "count" else np.nan,
            "n_controls": self.n_controls if self.kind == "controlled" else 0,
        }


def rep_rng(scenario: Scenario, rep: int) -> np.random.Generator:
    """The generator for replicate ``rep`` of ``scenario``: ``SeedSequence([seed, crc32(name), rep])``.

    Parameters
    ----------
    scenario : Scenario
        The scenario (its ``seed`` and ``name`` enter the seed).
    rep : int
        Replicate number (0, 1, …).

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator, independent across scenarios and replicates.
    """
    key = zlib.crc32(scenario.name.encode())
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([scenario.seed, key, rep])))


def arma_acf(ar: tuple[float, ...], ma: tuple[float, ...], nlags: int) -> np.ndarray:
    """Theoretical autocorrelations ``ρ_0 … ρ_nlags`` of a stationary ARMA process.

    Examples
    --------
    >>> from evaltoolkit.its._simulate import arma_acf
    >>> [round(float(r), 4) for r in arma_acf((0.5,), (), 2)]
    [1.0, 0.5, 0.25]
    """
    A, _ = _state_space(ar, ma)
    cov_k = _state_cov(ar, ma)  # Cov(s_{t+k}, s_t) = A^k Γ, Γ the stationary state covariance
    out = np.empty(nlags + 1)
    for k in range(nlags + 1):
        out[k] = cov_k[0, 0]
        cov_k = A @ cov_k
    return out / out[0]


def _state_space(ar: tuple[float, ...], ma: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Companion form: state ``s_t = (x_t … x_{t-p+1}, e_t … e_{t-q+1})``, ``s_{t+1} = A s_t + B e_{t+1}``."""
    phi = np.asarray(ar, dtype=float) if len(ar) else np.zeros(1)
    theta = np.asarray(ma, dtype=float)
    p, q = len(phi), len(theta)
    m = p + q
    A = np.zeros((m, m))
    A[0, :p] = phi
    A[0, p:] = theta
    if p > 1:
        A[1:p, : p - 1] = np.eye(p - 1)
    if q > 1:
        A[p + 1 :, p : p + q - 1] = np.eye(q - 1)
    B = np.zeros(m)
    B[0] = 1.0
    if q:
        B[p] = 1.0
    return A, B


def _state_cov(ar: tuple[float, ...], ma: tuple[float, ...]) -> np.ndarray:
    A, B = _state_space(ar, ma)
    if np.max(np.abs(np.linalg.eigvals(A[: max(len(ar), 1), : max(len(ar), 1)]))) >= 1:
        raise ValueError(f"ar={ar}: the AR part is not stationary")
    return linalg.solve_discrete_lyapunov(A, np.outer(B, B))


def arma_stationary(
    rng: np.random.Generator, n: int, ar: tuple[float, ...], ma: tuple[float, ...] = (), sigma: float = 1.0
) -> np.ndarray:
    """``n`` values of a zero-mean ARMA(p, q) process with innovation SD ``sigma``, started stationary.

    The first state (the last ``p`` values and ``q`` innovations) is drawn from its stationary normal
    distribution, so every value has the stationary variance.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Length.
    ar, ma : tuple of float
        AR and MA coefficients (``x_t = Σ φ_i x_{t-i} + e_t + Σ θ_j e_{t-j}``).
    sigma : float, default 1.0
        Innovation SD.

    Returns
    -------
    numpy.ndarray
        The series.

    Examples
    --------
    >>> import numpy as np
    >>> from evaltoolkit.its._simulate import arma_stationary
    >>> x = arma_stationary(np.random.default_rng(1), 20000, (0.6,))
    >>> abs(float(np.var(x)) - 1 / (1 - 0.6**2)) < 0.1  # stationary variance 1.5625 (MC SE about 0.02)
    True
    """
    A, B = _state_space(ar, ma)
    P = _state_cov(ar, ma)
    m = len(B)
    L = np.linalg.cholesky(P + 1e-12 * np.eye(m))
    s = L @ rng.standard_normal(m)
    e = rng.standard_normal(n)
    out = np.empty(n)
    for t in range(n):
        s = A @ s + B * e[t]
        out[t] = s[0]
    return sigma * out


def _post(sc: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(1, sc.n + 1, dtype=float)
    post = (t >= sc.first_post).astype(float)
    return t, post, (t - sc.first_post) * post


def simulate_gaussian(sc: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """One Gaussian series (columns ``t``, ``y``); see the module docstring for the model."""
    t, post, since = _post(sc)
    mean = 10.0 + 0.05 * t + sc.level * post + sc.slope * since
    return pd.DataFrame({"t": t.astype(int), "y": mean + arma_stationary(rng, sc.n, sc.ar, sc.ma)})


def simulate_counts(sc: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """One count series (columns ``t``, ``y``, ``mu``: the latent mean); see the module docstring."""
    t, post, since = _post(sc)
    # latent AR(1) shocks with marginal SD shock_sd: scale the unit-innovation process by its marginal SD
    u = arma_stationary(rng, sc.n, sc.ar)
    u = u / np.sqrt(_state_cov(sc.ar, ())[0, 0]) * sc.shock_sd
    season = sc.season_amp * np.sin(2 * np.pi * t / 12)
    log_mu = np.log(sc.baseline) + season + sc.level * post + sc.slope * since
    mu = np.exp(log_mu + u)
    if sc.count_dist == "poisson":
        y = rng.poisson(mu)
    else:
        y = rng.negative_binomial(sc.nb_theta, sc.nb_theta / (sc.nb_theta + mu))
    return pd.DataFrame({"t": t.astype(int), "y": y.astype(np.int64), "mu": mu})


def simulate_controlled(sc: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """Treated and control series stacked (columns ``series``, ``t``, ``y``); see the module docstring."""
    t, post, since = _post(sc)
    common = arma_stationary(rng, sc.n, sc.ar, sc.ma, sigma=sc.common_sd)
    frames = []
    names = ["treated"] + [f"control{k + 1}" for k in range(sc.n_controls)]
    for g in names:
        is_t = g == "treated"
        mean = 10.0 + 2.0 * is_t + 0.05 * t + is_t * (sc.level * post + sc.slope * since)
        y = mean + common + arma_stationary(rng, sc.n, sc.ar, sc.ma)
        frames.append(pd.DataFrame({"series": g, "t": t.astype(int), "y": y}))
    return pd.concat(frames, ignore_index=True)


def simulate(sc: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """Simulate one replicate of ``sc`` (dispatch on ``sc.kind``).

    Parameters
    ----------
    sc : Scenario
        The scenario.
    rng : numpy.random.Generator
        Source of randomness (see :func:`rep_rng`).

    Returns
    -------
    pandas.DataFrame
        Data for ``fit_its(df, **sc.fit_kwargs(), ...)``.
    """
    if sc.kind == "gaussian":
        return simulate_gaussian(sc, rng)
    if sc.kind == "count":
        return simulate_counts(sc, rng)
    return simulate_controlled(sc, rng)
