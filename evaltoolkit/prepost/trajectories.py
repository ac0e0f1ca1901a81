"""Session-by-session trajectories with linear mixed models (statsmodels MixedLM).

For an 8-week programme with a measure at every session: the average change per week, the change
from start to end of the programme, and the fitted mean trajectory with its confidence band. Every
available score is used (subjects who drop out contribute until they leave), which is valid when
drop-out depends on what has been observed (missing at random).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaltoolkit.prepost._common import (
    PAdjust,
    adjust_p,
    capture_warnings,
    check_columns,
    check_conf_level,
    check_frame,
    numeric_column,
    outcome_groups,
    p_adjust_text,
    rows_text,
    tidy,
    z_crit,
)
from evaltoolkit.prepost.errors import PrePostInputError

__all__ = ["CURVE_COLUMNS", "VARIANCE_COLUMNS", "TrajectoryFit", "fit_trajectories"]

CURVE_COLUMNS: tuple[str, ...] = (
    "outcome",
    "time",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "observed_mean",
    "observed_n",
    "conf_level",
)
"""Columns of :attr:`TrajectoryFit.curve`."""

VARIANCE_COLUMNS: tuple[str, ...] = (
    "outcome",
    "intercept_sd",
    "slope_sd",
    "correlation",
    "residual_sd",
    "loglik",
    "n_scores",
    "n_subjects",
)
"""Columns of :attr:`TrajectoryFit.variance_components`."""

_BAD_FIT = ("boundary", "singular", "Hessian", "converge")


@dataclass(frozen=True, eq=False)
class TrajectoryFit:
    """Result of :func:`fit_trajectories`.

    Attributes
    ----------
    estimates : pandas.DataFrame
        One row per outcome × term (columns :data:`~evaltoolkit.prepost.ESTIMATE_COLUMNS`): terms
        ``mean_at_start``, ``change_per_<time_unit>`` and ``change_at_end``.
    curve : pandas.DataFrame
        Fitted mean at each observed time with its interval, beside the observed mean and count
        (columns :data:`CURVE_COLUMNS`); what :func:`~evaltoolkit.prepost.plot_trajectory` draws.
    random_slopes : dict
        Whether each outcome's model has random slopes (False when not requested, fewer than three
        time points, or the random-slope model did not converge).
    notes : dict
        Per outcome: fallbacks taken and optimiser warnings recorded during fitting (none are shown).
    conf_level : float
        Confidence level of the intervals.
    variance_components : pandas.DataFrame
        One row per outcome (columns :data:`VARIANCE_COLUMNS`), on the scale of the score and of
        ``time`` as given: ``intercept_sd`` (SD of the subjects' random intercepts *at time 0*),
        ``slope_sd`` (SD of the random slopes per unit of time; NaN without random slopes),
        ``correlation`` (of intercept at time 0 and slope; NaN without random slopes), ``residual_sd``,
        ``loglik`` (as :attr:`loglik`), ``n_scores`` and ``n_subjects``. These are the numbers
        ``lme4::lmer(score ~ time + (time | subject))`` reports (``VarCorr``, ``sigma``, ``logLik``).
    loglik : dict
        Per outcome: the maximised log-likelihood, REML or ML as :attr:`reml` says. The REML value
        follows lme4's convention (``logLik`` of an ``lmer`` fit with ``REML = TRUE``, for the fixed
        effects "intercept and slope of ``time``"); it is not comparable between models with different
        fixed effects, and not with ML values.
    reml : bool
        True when the variance components were estimated by REML, False for maximum likelihood.
    """

    estimates: pd.DataFrame
    curve: pd.DataFrame
    random_slopes: dict[str, bool] = field(default_factory=dict)
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    conf_level: float = 0.95
    variance_components: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(VARIANCE_COLUMNS))
    )
    loglik: dict[str, float] = field(default_factory=dict)
    reml: bool = True


@dataclass(frozen=True)
class MixedFit:
    """Variance components of a linear mixed model fit (on the scale of the fitted ``y``)."""

    cov_re: np.ndarray
    scale: float
    loglik: float


def fit_mixed(
    y: np.ndarray, exog: np.ndarray, groups: np.ndarray, exog_re: np.ndarray, *, reml: bool = True
) -> tuple[MixedFit | None, list[str], bool]:
    """Fit a MixedLM with L-BFGS, then Powell; return its variance components, warnings and whether clean.

    A fit is clean when the optimiser converged, the fixed-effect SEs are finite and no warning about
    a boundary, singular covariance or non-positive-definite Hessian was raised. The variance
    components of a clean fit are then refined to the optimum (:func:`refine_variance`). The returned
    :class:`MixedFit` holds the variance components only: :func:`mixed_gls` gives the fixed effects
    and their covariance from them, as lme4 and nlme report them (statsmodels' ``cov_params``, from
    the joint Hessian of fixed effects and variance parameters, is not used).
    """
    from evaltoolkit._sm import sm

    model = sm.MixedLM(y, exog, groups=groups, exog_re=exog_re)
    result: MixedFit | None = None
    notes: list[str] = []
    for method in ("lbfgs", "powell"):
        try:
            res, msgs = capture_warnings(lambda m=method: model.fit(reml=reml, method=[m]))
        except (np.linalg.LinAlgError, ValueError) as exc:
            notes.append(f"{method}: {type(exc).__name__}: {exc}")
            continue
        k = exog.shape[1]
        bse = np.asarray(res.bse)[:k]
        clean = (
            bool(res.converged)
            and bool(np.all(np.isfinite(bse)))
            and not any(word in m for m in msgs for word in _BAD_FIT)
        )
        cov_re = np.atleast_2d(np.asarray(res.cov_re, dtype=float))
        if clean:
            cov_re, scale, loglik = refine_variance(
                y, exog, groups, exog_re, cov_re, float(res.scale), reml=reml
            )
            return MixedFit(cov_re, scale, loglik), msgs, True
        notes += [f"{method}: {m}" for m in msgs] or [f"{method}: did not converge"]
        result = MixedFit(cov_re, float(res.scale), float(res.llf))
    return result, notes, False


def refine_variance(
    y: np.ndarray,
    exog: np.ndarray,
    groups: np.ndarray,
    exog_re: np.ndarray,
    cov_re: np.ndarray,
    scale: float,
    *,
    reml: bool,
) -> tuple[np.ndarray, float, float]:
    """Maximise the profiled (RE)ML log-likelihood from a fit's variance components.

    statsmodels stops L-BFGS at a gradient of about 1e-5 (its tolerances cannot be passed through
    ``MixedLM.fit``), which leaves the variance components ~1e-4 (relative) from the optimum. Here the
    likelihood is written as lme4 does, with ``G = σ² ΛΛ'`` (``Λ`` lower triangular) and ``σ²``
    profiled out, and maximised over ``Λ`` from the fit's values (BFGS with central-difference
    gradients, to a gradient of 1e-6); the result is kept only if its log-likelihood is not lower.
    Returns ``(cov_re, scale, loglik)``.
    """
    from scipy import optimize

    q = exog_re.shape[1]
    tri = np.tril_indices(q)
    n, p = len(y), exog.shape[1]
    dof = n - p if reml else n

    def components(theta: np.ndarray) -> tuple[np.ndarray, float, float]:
        lam = np.zeros((q, q))
        lam[tri] = theta
        psi = lam @ lam.T
        _, xtvx, logdet, rss = _gls_parts(y, exog, groups, exog_re, psi, 1.0)
        sigma2 = rss / dof
        loglik = -0.5 * (dof * (np.log(2 * np.pi * sigma2) + 1) + logdet)
        if reml:
            loglik -= 0.5 * float(np.linalg.slogdet(xtvx)[1])
        return psi * sigma2, float(sigma2), float(loglik)

    psi0 = cov_re / scale
    w, u = np.linalg.eigh((psi0 + psi0.T) / 2)
    lam0 = np.linalg.cholesky(u @ np.diag(np.clip(w, 0, None)) @ u.T + 1e-10 * np.eye(q))
    theta0 = lam0[tri]
    start = components(theta0)
    try:
        opt = optimize.minimize(
            lambda th: -components(th)[2],
            theta0,
            method="BFGS",
            jac="3-point",
            options={"gtol": 1e-6, "maxiter": 200},
        )
        best = components(np.asarray(opt.x, dtype=float))
    except (np.linalg.LinAlgError, ValueError):
        return start
    return best if np.isfinite(best[2]) and best[2] >= start[2] else start


def _gls_parts(
    y: np.ndarray,
    exog: np.ndarray,
    groups: np.ndarray,
    exog_re: np.ndarray,
    cov_re: np.ndarray,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """GLS estimate, ``X'V⁻¹X``, ``Σ log|V_i|`` and ``r'V⁻¹r`` for ``V_i = Z_i G Z_i' + σ² I``."""
    order = np.argsort(groups, kind="stable")
    first = np.flatnonzero(np.r_[True, np.diff(groups[order]) != 0])
    sizes = np.diff(np.r_[first, len(order)])
    p = exog.shape[1]
    xtvx = np.zeros((p, p))
    xtvy = np.zeros(p)
    logdet = 0.0
    whitened: list[tuple[np.ndarray, np.ndarray]] = []
    for k in np.unique(sizes):  # groups of k rows at once: (m, k, k) covariances
        idx = order[first[sizes == k][:, None] + np.arange(k)]
        z = exog_re[idx]
        v = z @ cov_re @ np.swapaxes(z, 1, 2) + scale * np.eye(k)
        chol = np.linalg.cholesky(v)
        logdet += 2.0 * float(np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2))))
        w = np.linalg.solve(chol, np.concatenate([exog[idx], y[idx][..., None]], axis=2))
        xw, yw = w[..., :p], w[..., p]
        xtvx += np.einsum("mki,mkj->ij", xw, xw)
        xtvy += np.einsum("mki,mk->i", xw, yw)
        whitened.append((xw, yw))
    beta = np.linalg.solve(xtvx, xtvy)
    rss = float(sum(np.sum((yw - xw @ beta) ** 2) for xw, yw in whitened))
    return beta, xtvx, logdet, rss


def mixed_gls(
    y: np.ndarray,
    exog: np.ndarray,
    groups: np.ndarray,
    exog_re: np.ndarray,
    cov_re: np.ndarray,
    scale: float,
    *,
    reml: bool,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fixed effects, their covariance and the log-likelihood at given variance components.

    With ``V_i = Z_i G Z_i' + σ² I`` for each group (``G`` = ``cov_re``, ``σ²`` = ``scale``, both on
    the scale of ``y``), returns the GLS estimate ``β = (X'V⁻¹X)⁻¹ X'V⁻¹y``, its covariance
    ``(X'V⁻¹X)⁻¹`` (what ``lme4::lmer`` and ``nlme::lme`` report: the variance components are treated
    as known, unlike statsmodels' ``cov_params``, which inverts the joint Hessian of fixed effects and
    variance parameters) and the log-likelihood

    * ML: ``−½ [n log 2π + Σ log|V_i| + r'V⁻¹r]``;
    * REML: ``−½ [(n − p) log 2π + Σ log|V_i| + log|X'V⁻¹X| + r'V⁻¹r]`` (lme4's convention),

    with ``r = y − Xβ``, ``n`` scores and ``p`` fixed effects.
    """
    beta, xtvx, logdet, rss = _gls_parts(y, exog, groups, exog_re, cov_re, scale)
    cov = np.linalg.inv(xtvx)
    cov = (cov + cov.T) / 2
    p = exog.shape[1]
    n = len(y)
    if reml:
        loglik = -0.5 * ((n - p) * np.log(2 * np.pi) + logdet + np.linalg.slogdet(xtvx)[1] + rss)
    else:
        loglik = -0.5 * (n * np.log(2 * np.pi) + logdet + rss)
    return beta, cov, float(loglik)


def fit_trajectories(
    data: pd.DataFrame,
    *,
    subject: str,
    time: str,
    value: str,
    outcome: str | None = None,
    random_slopes: bool = True,
    start: float | None = None,
    end: float | None = None,
    time_unit: str = "week",
    conf_level: float = 0.95,
    p_adjust: PAdjust = "holm",
    reml: bool = True,
) -> TrajectoryFit:
    """Linear mixed model of score on time, per outcome: change per week and change by the end.

    Model (per outcome): ``score = β0 + β1·time + u0 + u1·time + e`` with a random intercept ``u0`` per
    subject and, where supported, a random slope ``u1`` (correlated), fitted by REML (or ML). For
    numerical stability the score is standardised and time is centred and scaled to the fitting range
    while the variance components are estimated (statsmodels MixedLM); they are transformed back
    exactly to the scale of the score and of ``time`` as given, so the random-intercept SD is that at
    time 0, as the model is written. Rows without a valid score are not used (and counted in the method
    text); every other row is.

    The fixed effects and their standard errors are the generalised least-squares ones at the
    estimated variance components, ``β = (X'V̂⁻¹X)⁻¹X'V̂⁻¹y`` with covariance ``(X'V̂⁻¹X)⁻¹`` (``V̂`` =
    ``Z Ĝ Z' + σ̂² I`` per subject), as ``lme4::lmer`` and ``nlme::lme`` report them (checked against
    both in the tests). Intervals and p-values are Wald ones with normal quantiles (as lme4's
    ``confint(method = "Wald")``), not t quantiles with approximate degrees of freedom (nlme's
    ``intervals`` and lmerTest use t), so with few subjects they are somewhat narrow.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per subject × occasion (× outcome). Not modified.
    subject, time, value : str
        Subject id, numeric time (e.g. ``session``: 0 = baseline, 1..8 = weekly sessions, 9 = end) and
        score columns.
    outcome : str, optional
        Column naming the outcome measure when ``data`` stacks several.
    random_slopes : bool, default True
        Add random slopes. They are dropped (and the fact recorded in ``notes`` and the method text)
        when there are fewer than three time points or the random-slope model does not converge cleanly.
    start, end : float, optional
        Times defining the "end of programme" change ``β1·(end − start)``; default the first and last
        observed times of each outcome.
    time_unit : str, default "week"
        Unit of one step of ``time``; names the slope term ``change_per_<time_unit>``.
    conf_level : float, default 0.95
        Confidence level (Wald intervals, normal quantiles, from the standard errors above).
    p_adjust : {"holm", "bonferroni", "fdr_bh", "none"}, default "holm"
        Adjustment across outcomes of the slope and end-change p-values.
    reml : bool, default True
        Estimate the variance components by restricted maximum likelihood (REML, the default of lme4
        and nlme); False for maximum likelihood (ML; needed to compare models with different fixed
        effects by their log-likelihoods). The fixed effects are the GLS ones at either estimate.

    Returns
    -------
    TrajectoryFit
        ``estimates`` (terms ``mean_at_start``, ``change_per_<time_unit>``, ``change_at_end``; ``n`` =
        subjects), ``curve``, ``random_slopes``, ``notes``, ``variance_components`` (random-effect and
        residual SDs, log-likelihood), ``loglik`` and ``reml``. The method text of each estimate gives
        the variance components and the log-likelihood too.

    Raises
    ------
    PrePostInputError
        Missing columns, non-numeric time or scores, duplicate subject × time (× outcome) rows, fewer
        than two distinct times or two subjects for an outcome, or ``end`` not after ``start``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> ids = np.repeat(np.arange(40), 5)
    >>> week = np.tile(np.arange(5), 40)
    >>> score = 20 + rng.normal(0, 3, 40)[ids] - 1.5 * week + rng.normal(0, 1, 200)
    >>> d = pd.DataFrame({"id": ids, "week": week, "score": score})
    >>> fit = fit_trajectories(d, subject="id", time="week", value="score", random_slopes=False)
    >>> fit.estimates[["term", "estimate", "ci_lower", "ci_upper"]].round(2)
                  term  estimate  ci_lower  ci_upper
    0    mean_at_start     19.91     19.03     20.79
    1  change_per_week     -1.51     -1.60     -1.41
    2    change_at_end     -6.03     -6.40     -5.66
    >>> fit.variance_components[["intercept_sd", "residual_sd", "loglik"]].round(2)
       intercept_sd  residual_sd  loglik
    0          2.74         0.95 -349.47
    """
    conf_level = check_conf_level(conf_level)
    frame = check_frame(data)
    check_columns(frame, [subject, time, value, outcome])
    if not time_unit or not str(time_unit).replace("_", "").isalnum():
        raise PrePostInputError(f"time_unit must be a short word such as 'week', not {time_unit!r}")
    miss = frame[subject].isna()
    if miss.any():
        raise PrePostInputError(f"data: {subject!r} is missing: {rows_text(miss)}")
    frame[time] = numeric_column(frame, time, "data", allow_missing=False)
    frame[value] = numeric_column(frame, value, "data", allow_missing=True)
    keys = [subject, time] + ([outcome] if outcome else [])
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        raise PrePostInputError(f"data: more than one row per {' × '.join(keys)}: {rows_text(dup)}")
    if not isinstance(reml, bool | np.bool_):
        raise PrePostInputError(f"reml must be True (REML) or False (ML), not {reml!r}")
    slope_term = f"change_per_{time_unit}"
    rows: list[dict[str, Any]] = []
    curves: list[pd.DataFrame] = []
    used_slopes: dict[str, bool] = {}
    notes: dict[str, tuple[str, ...]] = {}
    components: list[dict[str, Any]] = []
    for name, d in outcome_groups(frame, outcome):
        r, c, slopes, note, comp = _fit_one(
            name, d, subject, time, value, random_slopes, start, end, slope_term, conf_level, bool(reml)
        )
        rows += r
        curves.append(c)
        used_slopes[name] = slopes
        notes[name] = tuple(note)
        components.append(comp)
    table = tidy(rows, conf_level)
    table = adjust_p(table, p_adjust, [slope_term, "change_at_end"])
    has_p = table["p_adjusted"].notna()
    table.loc[has_p, "method"] = table.loc[has_p, "method"] + "; " + p_adjust_text(p_adjust)
    curve = pd.concat(curves, ignore_index=True)[list(CURVE_COLUMNS)]
    variance = pd.DataFrame(components, columns=list(VARIANCE_COLUMNS))
    for c in ("n_scores", "n_subjects"):
        variance[c] = variance[c].astype("int64")
    loglik = dict(zip(variance["outcome"], variance["loglik"].astype(float), strict=True))
    return TrajectoryFit(table, curve, used_slopes, notes, conf_level, variance, loglik, bool(reml))


def _fit_one(
    name: str,
    d: pd.DataFrame,
    subject: str,
    time: str,
    value: str,
    random_slopes: bool,
    start: float | None,
    end: float | None,
    slope_term: str,
    conf_level: float,
    reml: bool,
) -> tuple[list[dict[str, Any]], pd.DataFrame, bool, list[str], dict[str, Any]]:
    n_rows = len(d)
    d = d[d[value].notna()]
    n_obs = len(d)
    times = np.sort(d[time].unique())
    n_sub = int(d[subject].nunique())
    if len(times) < 2 or n_sub < 2:
        raise PrePostInputError(
            f"outcome {name!r}: {n_sub} subject(s) with valid scores at {len(times)} distinct time(s); "
            "a trajectory needs at least 2 of each"
        )
    t0 = float(times[0]) if start is None else float(start)
    t1 = float(times[-1]) if end is None else float(end)
    if not t1 > t0:
        raise PrePostInputError(f"end ({t1:g}) must be after start ({t0:g})")
    lo, hi = float(times[0]), float(times[-1])
    mid, span = (lo + hi) / 2, hi - lo
    y_raw = d[value].to_numpy(dtype=float)
    m, s = float(np.mean(y_raw)), float(np.std(y_raw, ddof=1))
    if not s > 0:
        raise PrePostInputError(f"outcome {name!r}: every valid score is the same ({m:g}); nothing to model")
    y = (y_raw - m) / s
    ts = (d[time].to_numpy(dtype=float) - mid) / span
    codes, _ = pd.factorize(d[subject])
    exog = np.column_stack([np.ones_like(ts), ts])
    note: list[str] = []
    want_slopes = random_slopes and len(times) >= 3
    if random_slopes and not want_slopes:
        note.append("random slopes dropped: fewer than three time points")
    res = None
    slopes = False
    if want_slopes:
        res, msgs, ok = fit_mixed(y, exog, codes, exog, reml=reml)
        if ok:
            slopes = True
            note += msgs
        else:
            note.append("random slopes dropped: the random-slope model did not converge cleanly")
            note += msgs
    if not slopes:
        res, msgs, ok = fit_mixed(y, exog, codes, np.ones((len(y), 1)), reml=reml)
        note += msgs
        if not ok:
            note.append("random-intercept model did not converge cleanly; treat the estimates with caution")
    # Variance components back on the scale of the score and of time: u0 + u1·ts with ts = (t − mid) / span
    # is (u0 − u1·mid/span) + (u1/span)·t, so G = s² A Ψ A' with A = [[1, −mid/span], [0, 1/span]].
    psi = np.atleast_2d(np.asarray(res.cov_re, dtype=float))
    t_raw = d[time].to_numpy(dtype=float)
    exog_raw = np.column_stack([np.ones_like(t_raw), t_raw])
    if slopes:
        a = np.array([[1.0, -mid / span], [0.0, 1.0 / span]])
        g = s**2 * (a @ psi @ a.T)
        z_raw = exog_raw
    else:
        g = s**2 * psi[:1, :1]
        z_raw = np.ones((len(t_raw), 1))
    sigma2 = s**2 * float(res.scale)
    b, v, loglik = mixed_gls(y_raw, exog_raw, codes, z_raw, g, sigma2, reml=reml)
    q = z_crit(conf_level)

    def level(t: float) -> tuple[float, float]:
        c = np.array([1.0, t])
        return float(c @ b), float(np.sqrt(max(float(c @ v @ c), 0.0)))

    def wald(est: float, se: float) -> dict[str, float]:
        z = est / se if se > 0 else np.nan
        return {
            "estimate": est,
            "std_error": se,
            "statistic": z,
            "p_value": float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan,
            "ci_lower": est - q * se,
            "ci_upper": est + q * se,
        }

    sd = np.sqrt(np.clip(np.diag(g), 0, None))
    unit = slope_term.removeprefix("change_per_")
    comp: dict[str, Any] = {
        "outcome": name,
        "intercept_sd": float(sd[0]),
        "slope_sd": float(sd[1]) if slopes else np.nan,
        "correlation": float(g[0, 1] / (sd[0] * sd[1])) if slopes and sd[0] > 0 and sd[1] > 0 else np.nan,
        "residual_sd": float(np.sqrt(sigma2)),
        "loglik": loglik,
        "n_scores": n_obs,
        "n_subjects": n_sub,
    }
    if slopes:
        re_text = (
            f"random intercept SD {comp['intercept_sd']:.3g} at time 0, random slope SD "
            f"{comp['slope_sd']:.3g} per {unit}, correlation {comp['correlation']:.2f}"
        )
    else:
        re_text = f"random intercept SD {comp['intercept_sd']:.3g}"
    re_text += f", residual SD {comp['residual_sd']:.3g}"
    fit_name = "REML" if reml else "ML"
    base = (
        f"linear mixed model ({fit_name}), "
        f"{'random intercepts and slopes' if slopes else 'random intercepts'}; "
        f"{re_text}; {fit_name} log-likelihood {loglik:.3f}; {n_obs} scores from {n_sub} subjects"
        + (f" ({n_rows - n_obs} rows without a valid score not used)" if n_rows > n_obs else "")
        + "; GLS standard errors (X'V⁻¹X)⁻¹ at the estimated variance components; Wald interval (normal)"
    )
    e0, se0 = level(t0)
    slope, slope_se = float(b[1]), float(np.sqrt(v[1, 1]))
    rows = [
        {"outcome": name, "term": "mean_at_start", **wald(e0, se0), "method": f"mean at time {t0:g}; {base}"},
        {"outcome": name, "term": slope_term, **wald(slope, slope_se), "method": f"fixed slope; {base}"},
        {
            "outcome": name,
            "term": "change_at_end",
            **wald(slope * (t1 - t0), slope_se * (t1 - t0)),
            "method": f"fitted change from time {t0:g} to {t1:g}; {base}",
        },
    ]  # fmt: skip
    rows[0]["statistic"] = rows[0]["p_value"] = np.nan
    for r in rows:
        r["n"] = n_sub
    if note:
        rows[1]["method"] += "; notes: " + "; ".join(note)
    obs = d.groupby(time)[value].agg(["mean", "size"])
    fitted = [level(float(t)) for t in times]
    curve = pd.DataFrame(
        {
            "outcome": name,
            "time": times.astype(float),
            "estimate": [f[0] for f in fitted],
            "std_error": [f[1] for f in fitted],
            "ci_lower": [f[0] - q * f[1] for f in fitted],
            "ci_upper": [f[0] + q * f[1] for f in fitted],
            "observed_mean": obs["mean"].reindex(times).to_numpy(dtype=float),
            "observed_n": obs["size"].reindex(times).to_numpy(dtype="int64"),
            "conf_level": conf_level,
        }
    )
    return rows, curve, slopes, note, comp
