"""Results of an interrupted time series fit: :class:`ITSResult` (immutable; no fitting happens here).

:func:`evaltoolkit.its.fit_its` builds the result; every method here derives tables from the stored
estimates and covariance matrix, so calling them never changes the result.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from evaltoolkit._deprecate import renamed_kwargs, warn_renamed
from evaltoolkit.its._ar import ARData
from evaltoolkit.its._calibrate import Calibration
from evaltoolkit.its._types import COUNT_FAMILIES, LOG_LINK_FAMILIES
from evaltoolkit.its.derived import DEFAULT_DRAWS, CoefficientDraws, draw_coefficients, summarise_draws
from evaltoolkit.its.derived import derived_effects as _derived_effects
from evaltoolkit.its.derived import totals as _sim_totals
from evaltoolkit.its.design import EPOC_MINIMUM, RECOMMENDED_MINIMUM, ITSDesign
from evaltoolkit.its.diagnostics import ITSDiagnostics, acf_pacf, breusch_godfrey, durbin_watson, ljung_box
from evaltoolkit.its.errors import ITSInputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["COEFFICIENT_COLUMNS", "RATE_RATIO_COLUMNS", "ITSResult", "ITSSummary"]

COEFFICIENT_COLUMNS = ("term", "estimate", "std_error", "statistic", "df", "p_value", "ci_lower", "ci_upper")
"""Columns of :meth:`ITSResult.coefficients` (and the leading columns of the effect tables)."""

RATE_RATIO_COLUMNS = ("rate_ratio", "rate_ratio_ci_lower", "rate_ratio_ci_upper")
"""Extra columns for log-link families (counts, gamma): ``exp`` of the estimate and of its CI."""

_CUMULATIVE_COLUMNS = (
    *COEFFICIENT_COLUMNS,
    "start",
    "end",
    "n_periods",
    "observed_total",
    "fitted_total",
    "counterfactual_total",
    "relative_change",
    "relative_ci_lower",
    "relative_ci_upper",
)

CODING_NOTE = (
    "level_change is the change at the first post-interruption period (time since interruption = 0 "
    "there, Stata itsa coding); the tutorial coding I(time - T + 1):post gives level_change - slope_change."
)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype="float64", copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class ITSSummary:
    """Printable summary of an :class:`ITSResult` (text for consoles, HTML for notebooks and reports).

    Attributes
    ----------
    title : str
        Heading.
    info : tuple of (str, str)
        Model facts (outcome, family, method, SE estimator, periods…).
    tables : tuple of (str, pandas.DataFrame)
        Named tables (coefficients, effects, cumulative effect).
    notes : tuple of str
        Conventions and warnings.
    """

    title: str
    info: tuple[tuple[str, str], ...]
    tables: tuple[tuple[str, pd.DataFrame], ...]
    notes: tuple[str, ...]

    def as_text(self) -> str:
        """Plain-text rendering."""
        width = max(len(k) for k, _ in self.info) if self.info else 0
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{k:<{width}}  {v}" for k, v in self.info]
        for name, table in self.tables:
            lines += [
                "",
                name,
                "-" * len(name),
                table.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
            ]
        if self.notes:
            lines += ["", "Notes"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def as_html(self) -> str:
        """HTML rendering (self-contained fragment)."""
        parts = [f"<h4>{html.escape(self.title)}</h4>", "<table>"]
        parts += [
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self.info
        ]
        parts.append("</table>")
        for name, table in self.tables:
            parts.append(f"<h5>{html.escape(name)}</h5>")
            parts.append(table.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0))
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.as_html()

    def __str__(self) -> str:
        return self.as_text()


@dataclass(frozen=True, eq=False)
class ITSResult:
    """An interrupted time series fit (from :func:`evaltoolkit.its.fit_its`); immutable.

    Attributes
    ----------
    design : ITSDesign
        The design the model was fitted to (term coding, segments, the input rows).
    family, method, se_type : str
        The options used (``se_type``: ``"model"`` or ``"newey-west"``; the attribute ``se`` is its
        deprecated spelling).
    lags : int or None
        Newey–West lags.
    nw_adjust : bool
        Whether the Newey–West small-sample factor ``n/(n-k)`` was applied.
    ar_order : int or None
        AR order of the error model (AR methods only).
    conf_level : float
        Confidence level of all intervals.
    use_t : bool
        t (``df_resid``) rather than normal reference distribution.
    warnings : tuple of str
        Every warning raised while fitting.
    params, cov : ndarray
        Coefficient estimates and their covariance matrix (order of ``terms``).
    df_resid : int
        Fitted periods minus terms.
    dispersion : float
        Residual variance (Gaussian), Pearson dispersion (quasi-Poisson, gamma) or 1.
    sigma : float or None
        Residual SD for Gaussian fits: ``√(RSS/(n-p))`` for OLS and Prais–Winsten, the marginal error SD for
        ``gls-*`` (ML: divisor n; REML: n-p; as ``nlme``), the innovation SD for ``arima`` (as
        ``stats::arima``'s ``sigma2``).
    loglik, aic : float or None
        Log-likelihood (REML for ``gls-reml``, as ``nlme``) and AIC, where defined.
    deviance, pearson_chi2 : float or None
        GLM deviance (RSS for OLS) and Pearson χ².
    ar_params, ar_std_errors, ar_conf_int : tuple
        AR error coefficients with SEs (``arima``) or CIs (``gls-*`` AR(1), as ``nlme::intervals``).
    theta, theta_std_error : float or None
        Negative binomial ``θ`` (variance ``μ + μ²/θ``) and its SE.
    residuals : ndarray
        Residuals used by :meth:`diagnostics` (raw, deviance or normalised; see ``residual_kind``).
    converged : bool
        Whether the estimator converged.
    iterations : int or None
        Iterations of iterative estimators (Prais–Winsten, negative binomial θ).
    method_description, se_description : str
        Plain-English estimator descriptions, printed in the summary.
    ma_order : int or None
        MA order of ARMA errors (``method="arima"``; 0 for pure AR errors), else None.
    ma_params, ma_std_errors : tuple
        MA error coefficients ``θ`` (``stats::arima`` sign convention) and their SEs; empty without MA errors.
    """

    design: ITSDesign
    family: str
    method: str
    se_type: str
    lags: int | None
    nw_adjust: bool
    ar_order: int | None
    conf_level: float
    use_t: bool
    warnings: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    df_resid: int
    dispersion: float
    sigma: float | None
    loglik: float | None
    aic: float | None
    deviance: float | None
    pearson_chi2: float | None
    ar_params: tuple[float, ...]
    ar_std_errors: tuple[float, ...]
    ar_conf_int: tuple[tuple[float, float], ...]
    theta: float | None
    theta_std_error: float | None
    residuals: np.ndarray
    residual_kind: str
    diagnostic_X: np.ndarray
    converged: bool
    iterations: int | None
    method_description: str
    se_description: str
    ma_order: int | None = None
    ma_params: tuple[float, ...] = ()
    ma_std_errors: tuple[float, ...] = ()
    ci_method: str = "wald"
    """``"wald"`` (t or normal quantiles) or ``"calibrated"`` (simulation-calibrated critical values and
    p-values for GLS with AR(1) errors; see :class:`~evaltoolkit.its.Calibration`)."""
    calibration: Calibration | None = field(default=None, repr=False, compare=False)
    """The calibration behind ``ci_method="calibrated"`` intervals (``None`` for Wald intervals)."""
    _fit_kwargs: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    """The :func:`~evaltoolkit.its.fit_its` keywords (never modified; ``data`` a private copy), for
    :meth:`refit`; ``None`` for a result built by hand."""

    def __post_init__(self) -> None:
        for name in ("params", "cov", "residuals", "diagnostic_X"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))

    # -- basics -------------------------------------------------------------------------------------
    @property
    def se(self) -> str:
        """Deprecated spelling of ``se_type`` (the kind of standard error, not a standard error)."""
        warn_renamed("ITSResult", "se", "se_type", kind="attribute", stacklevel=3)
        return self.se_type

    @property
    def terms(self) -> tuple[str, ...]:
        """Term names, in the order of ``params``."""
        return self.design.terms

    @property
    def n_obs(self) -> int:
        """Number of fitted periods (all series)."""
        return int(self.design.fit_mask.sum())

    @property
    def is_count(self) -> bool:
        """True for Poisson, quasi-Poisson and negative binomial fits."""
        return self.family in COUNT_FAMILIES

    @property
    def log_link(self) -> bool:
        """True for log-link GLMs (count families and ``gamma``): effects are ratios of means."""
        return self.family in LOG_LINK_FAMILIES

    @property
    def df_inference(self) -> float:
        """Degrees of freedom of the reference distribution (``inf`` = normal)."""
        return float(self.df_resid) if self.use_t else math.inf

    def _quantile(self) -> float:
        p = 0.5 + self.conf_level / 2
        return float(stats.t.ppf(p, self.df_resid) if self.use_t else stats.norm.ppf(p))

    def critical_value(self, contrast: np.ndarray | None = None) -> float:
        """The multiplier of the standard error in this fit's intervals for the contrast ``contrast'β``.

        Wald intervals: the t or normal quantile at ``conf_level`` (the same for every contrast). Calibrated
        intervals: the simulation-calibrated critical value for that contrast (``None``: the one used for
        the fitted and counterfactual bands of :meth:`predictions`).

        Parameters
        ----------
        contrast : array_like, optional
            One weight per term (in the order of :attr:`terms`), e.g. the gradient of a derived total.

        Returns
        -------
        float
        """
        if contrast is not None:
            contrast = np.asarray(contrast, dtype="float64")
            if contrast.shape != (len(self.terms),):
                raise ITSInputError(
                    f"contrast needs one weight per term ({len(self.terms)}), not {contrast.shape}"
                )
        return self._crit(contrast)

    def _crit(self, g: np.ndarray | None) -> float:
        """Critical value for ``|t|`` of the contrast ``g'β`` (``g=None``: the prediction-band value)."""
        if self.calibration is None:
            return self._quantile()
        if g is None:
            return self._band_quantile()
        return self.calibration.critical(np.asarray(g, dtype="float64"), self.conf_level)

    def _band_quantile(self) -> float:
        """Calibrated critical value used for fitted/counterfactual bands: that of the first change term."""
        assert self.calibration is not None
        name = self.design.interruption_terms[0][0]
        if self.design.controlled and f"diff_{name}" in self.terms:
            name = f"diff_{name}"
        g = np.zeros(len(self.terms))
        g[self.terms.index(name)] = 1.0
        return self.calibration.critical(g, self.conf_level)

    def _p_value(self, stat: float, g: np.ndarray | None) -> float:
        if self.calibration is not None and g is not None:
            return self.calibration.p_value(np.asarray(g, dtype="float64"), stat, self.conf_level)
        dist = stats.t(self.df_resid) if self.use_t else stats.norm()
        return float(2 * dist.sf(abs(stat)))

    def _wald(self, est: np.ndarray, se: np.ndarray, G: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Statistics, p-values and intervals; ``G`` (one contrast per row) is needed for calibrated ones."""
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = est / se
        if self.calibration is None or G is None:
            dist = stats.t(self.df_resid) if self.use_t else stats.norm()
            q = self._quantile()
            return {
                "statistic": stat,
                "p_value": 2 * dist.sf(np.abs(stat)),
                "ci_lower": est - q * se,
                "ci_upper": est + q * se,
            }
        G = np.atleast_2d(G)
        q = np.array([self._crit(g) for g in G])
        p = np.array([self._p_value(float(s), g) for s, g in zip(stat, G, strict=True)])
        return {"statistic": stat, "p_value": p, "ci_lower": est - q * se, "ci_upper": est + q * se}

    def _vec_se(self, g: np.ndarray) -> float:
        return float(np.sqrt(max(float(g @ self.cov @ g), 0.0)))

    def _table(
        self,
        names: list[str],
        est: np.ndarray,
        se: np.ndarray,
        log_scale: bool,
        contrasts: np.ndarray | None = None,
    ) -> pd.DataFrame:
        w = self._wald(est, se, np.eye(len(names)) if contrasts is None else contrasts)
        out = pd.DataFrame(
            {
                "term": names,
                "estimate": est,
                "std_error": se,
                "statistic": w["statistic"],
                "df": np.full(len(names), self.df_inference),
                "p_value": w["p_value"],
                "ci_lower": w["ci_lower"],
                "ci_upper": w["ci_upper"],
            }
        )
        if self.log_link:
            out["rate_ratio"] = np.exp(est) if log_scale else np.nan
            out["rate_ratio_ci_lower"] = np.exp(w["ci_lower"]) if log_scale else np.nan
            out["rate_ratio_ci_upper"] = np.exp(w["ci_upper"]) if log_scale else np.nan
        return out

    # -- tables -------------------------------------------------------------------------------------
    def coefficients(self, terms: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Coefficient table.

        Parameters
        ----------
        terms : str or sequence of str, optional
            Only these terms, in this order (default: every term of :attr:`terms`). The rows are the same
            as those of the full table; asking only for the terms needed is faster when the intervals are
            simulation-calibrated (each term's critical value is calibrated on its own).

        Returns
        -------
        pandas.DataFrame
            One row per term with columns ``term, estimate, std_error, statistic, df, p_value, ci_lower,
            ci_upper`` (``df`` is ``inf`` for normal-quantile inference); log-link families (counts,
            ``gamma``) add ``rate_ratio, rate_ratio_ci_lower, rate_ratio_ci_upper`` (``exp`` of estimate
            and CI; for ``gamma`` a ratio of means).

        Examples
        --------
        >>> import pandas as pd
        >>> from evaltoolkit.its import fit_its
        >>> df = pd.DataFrame({"t": range(1, 21), "n": [20, 22, 21, 24, 23, 22, 24, 23, 22, 24,
        ...                                              18, 17, 19, 18, 20, 19, 21, 20, 22, 21]})
        >>> res = fit_its(df, outcome="n", time="t", interruptions=11, family="poisson", method="ols")
        >>> list(res.coefficients().columns)[-3:]
        ['rate_ratio', 'rate_ratio_ci_lower', 'rate_ratio_ci_upper']
        >>> round(float(res.coefficients().set_index("term").loc["level_change", "rate_ratio"]), 3)
        0.729
        >>> res.coefficients(terms="level_change")["rate_ratio"].round(3).tolist()
        [0.729]
        """
        se = np.sqrt(np.clip(np.diag(self.cov), 0, None))
        if terms is None:
            return self._table(list(self.terms), np.asarray(self.params), se, log_scale=True)
        names = [terms] if isinstance(terms, str) else list(terms)
        unknown = [t for t in names if t not in self.terms]
        if unknown:
            raise ITSInputError(f"unknown term(s) {unknown}; the model's terms are {list(self.terms)}")
        idx = [self.terms.index(t) for t in names]
        eye = np.eye(len(self.terms))[idx]
        return self._table(names, np.asarray(self.params)[idx], se[idx], log_scale=True, contrasts=eye)

    def ar_parameters(self) -> pd.DataFrame:
        """AR (and MA) coefficients of the error model.

        Columns ``term`` (``ar1``, ``ar2``…, then ``ma1``, ``ma2``… for ARMA errors), ``estimate, std_error,
        ci_lower, ci_upper``.

        SEs come from the observed information for ``arima``; ``gls-*`` AR(1) CIs are Wald intervals on
        ``log((1+φ)/(1-φ))`` as ``nlme::intervals``; otherwise NaN. Empty for methods without AR errors.
        """
        k = len(self.ar_params) + len(self.ma_params)
        est = np.asarray(self.ar_params + self.ma_params, dtype="float64")
        se_all = self.ar_std_errors + self.ma_std_errors
        se = np.asarray(se_all, dtype="float64") if se_all else np.full(k, np.nan)
        if self.method == "arima":
            q = float(stats.norm.ppf(0.5 + self.conf_level / 2))
            lo, hi = est - q * se, est + q * se
        elif self.ar_conf_int:
            lo = np.array([c[0] for c in self.ar_conf_int])
            hi = np.array([c[1] for c in self.ar_conf_int])
        else:
            lo = hi = np.full(k, np.nan)
        return pd.DataFrame(
            {
                "term": [f"ar{i + 1}" for i in range(len(self.ar_params))]
                + [f"ma{i + 1}" for i in range(len(self.ma_params))],
                "estimate": est,
                "std_error": se,
                "ci_lower": lo,
                "ci_upper": hi,
            }
        )

    def profile_conf_int(self, terms: str | list[str] | None = None) -> pd.DataFrame:
        """Profile-likelihood confidence intervals for count-family coefficients (as R ``MASS::confint``).

        For each term the coefficient is fixed at trial values, the other coefficients are refitted, and
        the interval collects values whose deviance increase is at most ``z² × dispersion`` (negative
        binomial ``θ`` held at its estimate, as ``confint`` on a ``glm.nb`` fit). Better than Wald
        intervals when counts are small. Model-based only: the intervals ignore Newey–West SEs.

        Parameters
        ----------
        terms : str or list of str, optional
            Terms to profile; default all.

        Returns
        -------
        pandas.DataFrame
            Columns ``term, estimate, ci_lower, ci_upper, rate_ratio, rate_ratio_ci_lower,
            rate_ratio_ci_upper``.
        """
        from evaltoolkit._sm import sm

        if not self.is_count:
            raise ITSInputError(
                f"profile_conf_int is for count families, not family={self.family!r}"
                + ("" if self.family == "gamma" else "; Gaussian OLS Wald intervals are exact")
            )
        names = list(self.terms) if terms is None else ([terms] if isinstance(terms, str) else list(terms))
        unknown = [t for t in names if t not in self.terms]
        if unknown:
            raise ITSInputError(f"unknown term(s) {unknown}; terms are {list(self.terms)}")
        mask = self.design.fit_mask
        X = self.design.X.to_numpy(dtype="float64")[mask]
        y = self.design.frame["outcome"].to_numpy(dtype="float64")[mask]
        off = self._log_offset()[mask]
        if self.family == "negbin" and self.theta is not None and math.isfinite(self.theta):
            fam: Any = sm.families.NegativeBinomial(alpha=1.0 / self.theta)
        else:
            fam = sm.families.Poisson()
        dev0 = float(np.sum(fam.resid_dev(y, np.exp(X @ self.params + off)) ** 2))
        cut = float(stats.norm.ppf(0.5 + self.conf_level / 2)) ** 2 * self.dispersion
        se = np.sqrt(np.diag(self.cov))  # only sets the search step

        rows = []
        for name in names:
            j = self.terms.index(name)
            others = np.delete(np.arange(X.shape[1]), j)
            start = self.params[others]

            def excess(b: float, j: int = j, others: np.ndarray = others, start: np.ndarray = start) -> float:
                fit = sm.GLM(y, X[:, others], family=fam, offset=off + b * X[:, j]).fit(
                    tol=1e-12, maxiter=200, start_params=start
                )
                return float(np.sum(fam.resid_dev(y, fit.mu) ** 2)) - dev0 - cut

            bounds = []
            for sign in (-1.0, 1.0):
                step = 2.0 * se[j]
                far = self.params[j] + sign * step
                while excess(far) < 0:
                    step *= 2
                    far = self.params[j] + sign * step
                bounds.append(optimize.brentq(excess, *sorted((self.params[j], far)), xtol=1e-12, rtol=1e-12))
            rows.append(
                {
                    "term": name,
                    "estimate": float(self.params[j]),
                    "ci_lower": bounds[0],
                    "ci_upper": bounds[1],
                    "rate_ratio": math.exp(self.params[j]),
                    "rate_ratio_ci_lower": math.exp(bounds[0]),
                    "rate_ratio_ci_upper": math.exp(bounds[1]),
                }
            )
        return pd.DataFrame(rows)

    # -- predictions --------------------------------------------------------------------------------
    def _log_offset(self) -> np.ndarray:
        off = self.design.frame["offset"].to_numpy(dtype="float64")
        return np.log(off) if self.design.offset else np.zeros(off.size)

    def _linear(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        eta = X @ self.params + self._log_offset()
        se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", X, self.cov, X), 0, None))
        return eta, se

    def _response(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        eta, se = self._linear(X)
        q = self._crit(None)
        if self.log_link:
            return np.exp(eta), np.exp(eta - q * se), np.exp(eta + q * se)
        return eta, eta - q * se, eta + q * se

    def predictions(self) -> pd.DataFrame:
        """Observed, fitted and counterfactual values for every period, with confidence intervals.

        Returns
        -------
        pandas.DataFrame
            Columns ``time, group (controlled designs only), t, segment, in_transition, in_fit, excluded,
            observed, fitted, fitted_ci_lower, fitted_ci_upper, counterfactual, counterfactual_ci_lower,
            counterfactual_ci_upper`` and, with an offset, ``offset``. Values are on the outcome scale
            (expected counts for count families; divide by ``offset`` for rates). ``counterfactual`` sets
            the intervention terms to zero: the pre-interruption trend continued (in controlled designs,
            the treated series following the controls' changes; equal to ``fitted`` for control series;
            in staggered designs each treated series without its own treatment terms). ``excluded`` marks
            periods dropped by ``exclude_periods``; ``fitted`` is NaN for excluded and for excluded
            transition periods (``in_fit`` False).
        """
        f = self.design.frame
        fit, fit_lo, fit_hi = self._response(self.design.X.to_numpy(dtype="float64"))
        cf, cf_lo, cf_hi = self._response(self.design.X_counterfactual.to_numpy(dtype="float64"))
        excluded = ~f["in_fit"].to_numpy()
        for a in (fit, fit_lo, fit_hi):
            a[excluded] = np.nan
        out = pd.DataFrame({"time": f["time"]})
        if self.design.controlled:
            out["group"] = f["group"]
        out = out.assign(
            t=f["t"].to_numpy(),
            segment=f["segment"].to_numpy(),
            in_transition=f["in_transition"].to_numpy(),
            in_fit=f["in_fit"].to_numpy(),
            excluded=f["excluded"].to_numpy(),
            observed=f["outcome"].to_numpy(),
            fitted=fit,
            fitted_ci_lower=fit_lo,
            fitted_ci_upper=fit_hi,
            counterfactual=cf,
            counterfactual_ci_lower=cf_lo,
            counterfactual_ci_upper=cf_hi,
        )
        if self.design.offset:
            out["offset"] = f["offset"].to_numpy()
        return out

    def counterfactual(self) -> pd.DataFrame:
        """:meth:`predictions` restricted to the treated series from the first interruption on.

        Returns
        -------
        pandas.DataFrame
            Same columns as :meth:`predictions`.
        """
        p = self.predictions()
        keep = self.design.frame["treated"].to_numpy() & (self.design.frame["segment"].to_numpy() >= 1)
        return p.loc[keep].reset_index(drop=True)

    # -- effects ------------------------------------------------------------------------------------
    def _aggregate(self, rows: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
        """Treated-series value at some rows and its gradient: sum of counts, or mean of other values."""
        Xr = X[rows]
        if self.is_count:
            mu = np.exp(Xr @ self.params + self._log_offset()[rows])
            return float(mu.sum()), (mu[:, None] * Xr).sum(axis=0)
        if self.log_link:  # gamma: mean of the expected means
            mu = np.exp(Xr @ self.params)
            return float(mu.mean()), (mu[:, None] * Xr).mean(axis=0)
        return float((Xr @ self.params).mean()), Xr.mean(axis=0)

    def _ratio_rows(
        self,
        name_abs: str,
        name_rel: str,
        F: float,
        gF: np.ndarray,
        C: float,
        gC: np.ndarray,
        sim: tuple[CoefficientDraws, np.ndarray, np.ndarray, np.ndarray, bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Absolute and relative rows: delta method, or (``sim``: draws, row mask, X, X counterfactual,
        mean per period) percentile intervals from the draws."""
        rows = self._delta_ratio_rows(name_abs, name_rel, F, gF, C, gC)
        if sim is None:
            return rows
        draws, mask, X, Xc, per_period = sim
        tot = _sim_totals(draws, mask, X, Xc)
        est, d = tot.absolute(per_period)
        rel, rd = tot.relative()
        for row, (value, values) in zip(rows, ((est, d), (rel, rd)), strict=True):
            s = summarise_draws(row["term"], value, values, self.conf_level)
            sd = s["std_error"]
            row.update(
                estimate=s["estimate"],
                std_error=sd,
                statistic=s["estimate"] / sd if sd and sd > 0 else math.nan,
                p_value=s["p_value"],
                ci_lower=s["ci_lower"],
                ci_upper=s["ci_upper"],
            )
            if "rate_ratio" in row:
                row.update(
                    rate_ratio=s["estimate"] + 1,
                    rate_ratio_ci_lower=s["ci_lower"] + 1,
                    rate_ratio_ci_upper=s["ci_upper"] + 1,
                )
        return rows

    def _draws(self, uncertainty: str, n_draws: int, seed: int) -> CoefficientDraws | None:
        if uncertainty == "delta":
            return None
        if uncertainty != "simulation":
            raise ITSInputError(f"uncertainty must be 'simulation' or 'delta', not {uncertainty!r}")
        return draw_coefficients(self, n_draws=n_draws, seed=seed)[0]

    def _delta_ratio_rows(
        self, name_abs: str, name_rel: str, F: float, gF: np.ndarray, C: float, gC: np.ndarray
    ) -> list[dict[str, Any]]:
        rows = []
        g = gF - gC
        se = self._vec_se(g)
        rows.append({"term": name_abs, "estimate": F - C, "std_error": se, **self._wald_scalar(F - C, se, g)})
        if self.log_link:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_r = math.log(F / C) if F > 0 and C > 0 else math.nan
                gl = gF / F - gC / C
            se_l = self._vec_se(gl)
            q = self._crit(gl)
            rr = math.exp(log_r)
            stat = log_r / se_l if se_l > 0 else math.nan
            rows.append(
                {
                    "term": name_rel,
                    "estimate": rr - 1,
                    "std_error": rr * se_l,
                    "statistic": stat,
                    "p_value": self._p_value(stat, gl),
                    "ci_lower": math.exp(log_r - q * se_l) - 1,
                    "ci_upper": math.exp(log_r + q * se_l) - 1,
                    "rate_ratio": rr,
                    "rate_ratio_ci_lower": math.exp(log_r - q * se_l),
                    "rate_ratio_ci_upper": math.exp(log_r + q * se_l),
                }
            )
        else:
            if C != 0:
                rel = F / C - 1
                g_rel = gF / C - F * gC / C**2
                se_r = self._vec_se(g_rel)
            else:
                rel, se_r, g_rel = math.nan, math.nan, None
            rows.append(
                {"term": name_rel, "estimate": rel, "std_error": se_r, **self._wald_scalar(rel, se_r, g_rel)}
            )
        return rows

    def _wald_scalar(self, est: float, se: float, g: np.ndarray | None = None) -> dict[str, float]:
        w = self._wald(np.array([est]), np.array([se]), None if g is None else np.atleast_2d(g))
        return {k: float(v[0]) for k, v in w.items()}

    def _later_terms(self, j: int) -> list[str]:
        later = [t for ts in self.design.interruption_terms[j + 1 :] for t in ts]
        if self.design.controlled:
            later += [t.removeprefix("diff_") for t in later]
        return later

    def effects(
        self,
        at: int | list[int] | tuple[int, ...] | None = None,
        *,
        uncertainty: str = "simulation",
        n_draws: int = DEFAULT_DRAWS,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Post-interruption slopes and the fitted-minus-counterfactual difference at chosen horizons.

        Parameters
        ----------
        at : int or sequence of int, optional
            Horizons in periods after each post segment starts (0 = first post-interruption period).
            Default: 0 and the last period of the segment. Horizons past a later interruption give the
            extrapolated effect of this interruption alone.
        uncertainty : {"simulation", "delta"}, default "simulation"
            Intervals of ``absolute_change`` and ``relative_change``: percentile intervals from one set of
            ``n_draws`` draws of the coefficients (:mod:`evaltoolkit.its.derived`), so the two always
            agree on direction and on excluding no change; or the delta method (each its own Wald
            interval; they can disagree). Slopes are linear: always Wald.
        n_draws, seed : int
            Number of draws and seed of the simulation (default 10,000 and 0).

        Returns
        -------
        pandas.DataFrame
            Columns ``term, estimate, std_error, statistic, df, p_value, ci_lower, ci_upper`` (log-link
            families add ``rate_ratio, rate_ratio_ci_lower, rate_ratio_ci_upper``), then ``interruption``
            (1, 2, …), ``horizon`` and ``time``. Rows per interruption:

            * ``post_slope`` (``post_slope_2``…): pre_slope plus the slope changes so far (per period; on
              the log scale for counts and gamma, whose ``rate_ratio`` is the per-period ratio). Controlled
              designs give the treated series' ``post_slope``, ``control_post_slope`` and
              ``diff_post_slope``.
            * ``absolute_change`` at each horizon: fitted minus counterfactual on the outcome scale
              (expected counts, summed over treated series; Gaussian and gamma means averaged over them).
            * ``relative_change``: fitted / counterfactual - 1 (for counts and gamma, the ratio minus 1 with a
              CI from the log scale, so it never reaches -100%).

            Named interruptions (``interruption_names=``) suffix the later rows with ``_<name>``.
            Staggered designs add a ``group`` column: ``control_post_slope`` (the reference control, at
            the end of the data), ``post_slope`` and ``diff_post_slope`` per treated series, then at each
            horizon (counted from each series' own first post period; default 0 and the last horizon every
            treated series reaches) ``absolute_change``/``relative_change`` per treated series and combined
            (``group`` missing: counts summed over the treated series, Gaussian values averaged).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from evaltoolkit.its import fit_its
        >>> t = np.arange(1, 25)
        >>> noise = np.tile([0.4, -0.4, -0.4, 0.4], 6)
        >>> y = 50 + 0.5 * t - 6 * (t >= 13) + 0.25 * np.maximum(t - 13, 0) + noise
        >>> df = pd.DataFrame({"t": t, "y": y})
        >>> res = fit_its(df, outcome="y", time="t", interruptions=13, method="ols")
        >>> res.effects(at=[0, 4])[["term", "horizon", "estimate", "ci_lower", "ci_upper"]].round(3)
                      term  horizon  estimate  ci_lower  ci_upper
        0       post_slope     <NA>     0.750     0.674     0.826
        1  absolute_change        0    -6.000    -6.763    -5.268
        2  relative_change        0    -0.106    -0.119    -0.094
        3  absolute_change        4    -5.000    -5.905    -4.111
        4  relative_change        4    -0.085    -0.100    -0.071
        """
        d = self.design
        f = d.frame
        t_all = f["t"].to_numpy()
        t_max = int(t_all.max())
        treated = f["treated"].to_numpy()
        terms = list(self.terms)
        X = d.X.to_numpy(dtype="float64")
        horizons_given = None if at is None else ([at] if np.isscalar(at) else list(at))
        if horizons_given is not None:
            for h in horizons_given:
                if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 0:
                    raise ITSInputError(
                        f"effects(at=...) takes horizons as non-negative whole numbers, not {h!r}"
                    )
        draws = self._draws(uncertainty, n_draws, seed)
        if d.is_staggered:
            return self._staggered_effects(horizons_given, draws)
        records: list[dict[str, Any]] = []
        n_int = len(d.interruptions)
        for j in range(n_int):
            sfx = d.interruption_suffixes[j]

            # post slopes
            def vec(names: list[str]) -> np.ndarray:
                v = np.zeros(len(terms))
                for nm in names:
                    if nm in terms:
                        v[terms.index(nm)] = 1.0
                return v

            slope_base = ["pre_slope"] + [f"slope_change{d.interruption_suffixes[i]}" for i in range(j + 1)]
            slope_rows: list[tuple[str, np.ndarray]]
            if d.controlled:
                diff = ["diff_pre_slope"] + [f"diff_{s}" for s in slope_base[1:]]
                slope_rows = [
                    (f"post_slope{sfx}", vec(slope_base + diff)),
                    (f"control_post_slope{sfx}", vec(slope_base)),
                    (f"diff_post_slope{sfx}", vec(diff)),
                ]
            else:
                slope_rows = [(f"post_slope{sfx}", vec(slope_base))]
            for name, v in slope_rows:
                est = float(v @ self.params)
                se = self._vec_se(v)
                row = {"term": name, "estimate": est, "std_error": se, **self._wald_scalar(est, se, v)}
                if self.log_link:
                    row.update(
                        rate_ratio=math.exp(est),
                        rate_ratio_ci_lower=math.exp(row["ci_lower"]),
                        rate_ratio_ci_upper=math.exp(row["ci_upper"]),
                    )
                records.append({**row, "interruption": j + 1, "horizon": pd.NA, "time": None})
            # horizons
            start = d.post_start_t[j]
            seg_end = (d.interruption_t[j + 1] - 1) if j + 1 < n_int else t_max
            horizons = horizons_given if horizons_given is not None else sorted({0, seg_end - start})
            Xf = X.copy()
            later = self._later_terms(j)
            Xf[:, [terms.index(t) for t in later if t in terms]] = 0.0
            Xc = Xf.copy()
            Xc[:, [terms.index(t) for t in d.interruption_terms[j]]] = 0.0
            for h in horizons:
                tt = start + int(h)
                if tt > t_max:
                    raise ITSInputError(
                        f"horizon {h} after interruption {j + 1} is beyond the data "
                        f"(the last available horizon is {t_max - start})"
                    )
                rows = np.flatnonzero(treated & (t_all == tt))
                F, gF = self._aggregate(rows, Xf)
                C, gC = self._aggregate(rows, Xc)
                sim = None if draws is None else (draws, treated & (t_all == tt), Xf, Xc, True)
                for r in self._ratio_rows(
                    f"absolute_change{sfx}", f"relative_change{sfx}", F, gF, C, gC, sim
                ):
                    records.append({**r, "interruption": j + 1, "horizon": int(h), "time": d.time_of(tt)})
        out = pd.DataFrame.from_records(records)
        cols = list(COEFFICIENT_COLUMNS)
        out["df"] = self.df_inference
        if self.log_link:
            cols += list(RATE_RATIO_COLUMNS)
            for c in RATE_RATIO_COLUMNS:
                if c not in out:
                    out[c] = np.nan
        out = out[[*cols, "interruption", "horizon", "time"]]
        for c in cols[1:]:
            out[c] = out[c].astype("float64")
        out["horizon"] = out["horizon"].astype("Int64")
        out["time"] = self._time_series(out["time"])
        return out

    def _finish_effects(self, records: list[dict[str, Any]], extra: list[str]) -> pd.DataFrame:
        out = pd.DataFrame.from_records(records)
        cols = list(COEFFICIENT_COLUMNS)
        out["df"] = self.df_inference
        if self.is_count:
            cols += list(RATE_RATIO_COLUMNS)
            for c in RATE_RATIO_COLUMNS:
                if c not in out:
                    out[c] = np.nan
        out = out[[*cols, "interruption", "horizon", "time", *extra]]
        for c in cols[1:]:
            out[c] = out[c].astype("float64")
        out["horizon"] = out["horizon"].astype("Int64")
        out["time"] = self._time_series(out["time"])
        return out

    def _slope_row(self, name: str, v: np.ndarray) -> dict[str, Any]:
        est = float(v @ self.params)
        se = self._vec_se(v)
        row = {"term": name, "estimate": est, "std_error": se, **self._wald_scalar(est, se, v)}
        if self.is_count:
            row.update(
                rate_ratio=math.exp(est),
                rate_ratio_ci_lower=math.exp(row["ci_lower"]),
                rate_ratio_ci_upper=math.exp(row["ci_upper"]),
            )
        return row

    def _staggered_effects(
        self, horizons_given: list[int] | None, draws: CoefficientDraws | None = None
    ) -> pd.DataFrame:
        """Effects of a staggered design: per treated series at its own horizons, and combined."""
        d = self.design
        assert d.staggered is not None
        f = d.frame
        t_all = f["t"].to_numpy()
        t_max = int(t_all.max())
        gv = f["group"].to_numpy(dtype=object)
        terms = list(self.terms)
        X = d.X.to_numpy(dtype="float64")
        Xc = d.X_counterfactual.to_numpy(dtype="float64")
        table = d.staggered

        def vec(names: list[str]) -> np.ndarray:
            v = np.zeros(len(terms))
            for nm in names:
                if nm in terms:
                    v[terms.index(nm)] = 1.0
            return v

        calendar = ["pre_slope"] + [t for t in terms if t.startswith("calendar_slope_")]
        records: list[dict[str, Any]] = []
        base = {"interruption": 1, "horizon": pd.NA, "time": None}
        records.append({**self._slope_row("control_post_slope", vec(calendar)), **base, "group": pd.NA})
        for sv in table["group"]:
            own = ["diff_pre_slope" if "diff_pre_slope" in terms else f"diff_pre_slope_{sv}"]
            own += ["diff_slope_change" if d.staggered_effects == "pooled" else f"diff_slope_change_{sv}"]
            records.append({**self._slope_row("post_slope", vec(calendar + own)), **base, "group": sv})
            records.append({**self._slope_row("diff_post_slope", vec(own)), **base, "group": sv})
        room = {sv: t_max - int(p) for sv, p in zip(table["group"], table["post_start_t"], strict=True)}
        shortest = min(room, key=lambda k: room[k])
        horizons = horizons_given if horizons_given is not None else sorted({0, room[shortest]})
        for h in horizons:
            if int(h) > room[shortest]:
                raise ITSInputError(
                    f"horizon {h} is beyond the data for treated series {shortest!r} (its last available "
                    f"horizon is {room[shortest]}); the combined effect needs every treated series"
                )
            all_rows = []
            for sv, p in zip(table["group"], table["post_start_t"], strict=True):
                tt = int(p) + int(h)
                rows = np.flatnonzero((gv == sv) & (t_all == tt))
                all_rows.append(rows)
                F, gF = self._aggregate(rows, X)
                C, gC = self._aggregate(rows, Xc)
                sim = None if draws is None else (draws, _mask(len(f), rows), X, Xc, True)
                for r in self._ratio_rows("absolute_change", "relative_change", F, gF, C, gC, sim):
                    records.append(
                        {**r, "interruption": 1, "horizon": int(h), "time": d.time_of(tt), "group": sv}
                    )
            rows = np.concatenate(all_rows)
            F, gF = self._aggregate(rows, X)
            C, gC = self._aggregate(rows, Xc)
            sim = None if draws is None else (draws, _mask(len(f), rows), X, Xc, True)
            for r in self._ratio_rows("absolute_change", "relative_change", F, gF, C, gC, sim):
                records.append({**r, "interruption": 1, "horizon": int(h), "time": None, "group": pd.NA})
        return self._finish_effects(records, ["group"])

    def _time_series(self, values: pd.Series) -> pd.Series:
        if self.design.time_kind == "date":
            return pd.to_datetime(values)
        return values.astype("Int64")

    def _t_of(self, value: Any, what: str) -> int:
        f = self.design.frame
        if self.design.time_kind == "date":
            from evaltoolkit.data.parse import parse_date

            v = parse_date(value, what=what, error=ITSInputError)  # ISO 8601 text only: never guessed
            hit = f.loc[f["time"] == v, "t"]
        else:
            hit = f.loc[f["time"] == value, "t"]
        if hit.empty:
            times = f["time"].drop_duplicates().sort_values()
            probe = v if self.design.time_kind == "date" else value
            try:
                later = times[times > probe]
            except TypeError:
                later = times.iloc[:0]
            hint = f" (the next period starts {_fmt(later.iloc[0])})" if len(later) else ""
            raise ITSInputError(
                f"{what}={value!r} is not one of the periods of time column {self.design.time!r}{hint}"
            )
        return int(hit.iloc[0])

    def cumulative_effect(
        self,
        *,
        start: Any = None,
        end: Any = None,
        uncertainty: str = "simulation",
        n_draws: int = DEFAULT_DRAWS,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Total fitted-minus-counterfactual difference over post-interruption periods, with a CI.

        For counts this is the number of events caused (negative: averted) relative to the continued
        pre-interruption trend, e.g. attendances or bed-days averted; for Gaussian and gamma outcomes (means)
        the sum of per-period differences. The relative change of a gamma fit has a log-scale CI, as for
        counts. The counterfactual removes every interruption's terms. Excluded
        transition periods are not summed.

        Parameters
        ----------
        start, end : time value, optional
            First and last period summed (values of the time column). Default: the first interruption's
            first post-interruption period to the last period.
        uncertainty : {"simulation", "delta"}, default "simulation"
            Percentile intervals of the absolute and relative change from one set of ``n_draws`` draws of
            the coefficients (:mod:`evaltoolkit.its.derived`; ``std_error`` is the SD of the draws and the
            p-value a Monte-Carlo p-value), so the two always agree on direction and on excluding no
            change; or delta-method Wald intervals (``"delta"``; they can disagree for counts).
        n_draws, seed : int
            Number of draws and seed of the simulation (default 10,000 and 0).

        Returns
        -------
        pandas.DataFrame
            One row: ``term`` (``"cumulative_effect"``), ``estimate, std_error, statistic, df, p_value,
            ci_lower, ci_upper`` (see ``uncertainty``), ``start, end, n_periods, observed_total, fitted_total,
            counterfactual_total, relative_change, relative_ci_lower, relative_ci_upper`` (fitted total /
            counterfactual total - 1; log-scale CI for counts). Staggered designs: a ``group`` column and
            one row per treated series, each summed over its own post periods, after the first row, which
            sums them over the treated series (``group`` missing; ``n_periods`` counts series-periods).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from evaltoolkit.its import fit_its
        >>> t = np.arange(1, 25)
        >>> noise = np.tile([0.4, -0.4, -0.4, 0.4], 6)
        >>> y = 50 + 0.5 * t - 6 * (t >= 13) + 0.25 * np.maximum(t - 13, 0) + noise
        >>> df = pd.DataFrame({"t": t, "y": y})
        >>> res = fit_its(df, outcome="y", time="t", interruptions=13, method="ols")
        >>> res.cumulative_effect()[["estimate", "ci_lower", "ci_upper", "n_periods"]].round(2)
           estimate  ci_lower  ci_upper  n_periods
        0     -55.5    -67.39    -43.68         12
        >>> res.cumulative_effect(uncertainty="delta")[["estimate", "ci_lower", "ci_upper"]].round(2)
           estimate  ci_lower  ci_upper
        0     -55.5    -67.38    -43.62
        """
        d = self.design
        f = d.frame
        t_all = f["t"].to_numpy()
        t0 = d.interruption_t[0] if start is None else self._t_of(start, "start")
        t1 = int(t_all.max()) if end is None else self._t_of(end, "end")
        if t1 < t0:
            raise ITSInputError("cumulative_effect: end is before start")
        draws = self._draws(uncertainty, n_draws, seed)
        if d.is_staggered:
            return self._staggered_cumulative(t0, t1, draws)
        keep = f["treated"].to_numpy() & f["in_fit"].to_numpy() & (t_all >= t0) & (t_all <= t1)
        periods = np.unique(t_all[keep])
        X = d.X.to_numpy(dtype="float64")
        Xc = d.X_counterfactual.to_numpy(dtype="float64")
        F = C = obs = 0.0
        gF = np.zeros(len(self.terms))
        gC = np.zeros(len(self.terms))
        y = f["outcome"].to_numpy(dtype="float64")
        for tt in periods:
            rows = np.flatnonzero(keep & (t_all == tt))
            a, ga = self._aggregate(rows, X)
            b, gb = self._aggregate(rows, Xc)
            F, C = F + a, C + b
            gF, gC = gF + ga, gC + gb
            obs += float(y[rows].sum() if self.is_count else y[rows].mean())
        sim = None if draws is None else (draws, keep, X, Xc, False)
        main, rel = self._ratio_rows("cumulative_effect", "relative", F, gF, C, gC, sim)
        out = {
            **{
                k: main[k]
                for k in ("term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper")
            },
            "df": self.df_inference,
            "start": d.time_of(int(periods.min())) if periods.size else None,
            "end": d.time_of(int(periods.max())) if periods.size else None,
            "n_periods": int(periods.size),
            "observed_total": obs,
            "fitted_total": F,
            "counterfactual_total": C,
            "relative_change": rel["estimate"],
            "relative_ci_lower": rel["ci_lower"],
            "relative_ci_upper": rel["ci_upper"],
        }
        if end is not None:  # a horizon other than the last period: its own extrapolation guards
            from evaltoolkit.its._guards import warn_at_horizon

            warn_at_horizon(self, t1)
        frame = pd.DataFrame([out])
        return frame[list(_CUMULATIVE_COLUMNS)]

    def _cumulative_row(
        self, rows: np.ndarray, group: Any, draws: CoefficientDraws | None = None
    ) -> dict[str, Any]:
        d = self.design
        f = d.frame
        t_all = f["t"].to_numpy()
        X = d.X.to_numpy(dtype="float64")
        Xc = d.X_counterfactual.to_numpy(dtype="float64")
        y = f["outcome"].to_numpy(dtype="float64")
        F = C = obs = 0.0
        gF = np.zeros(len(self.terms))
        gC = np.zeros(len(self.terms))
        for r in rows:  # one row per series-period: the sum over each series' own post periods
            a, ga = self._aggregate(np.array([r]), X)
            b, gb = self._aggregate(np.array([r]), Xc)
            F, C, obs = F + a, C + b, obs + float(y[r])
            gF, gC = gF + ga, gC + gb
        sim = None if draws is None else (draws, _mask(len(f), rows), X, Xc, False)
        main, rel = self._ratio_rows("cumulative_effect", "relative", F, gF, C, gC, sim)
        ts = t_all[rows]
        return {
            **{
                k: main[k]
                for k in ("term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper")
            },
            "df": self.df_inference,
            "start": d.time_of(int(ts.min())) if ts.size else None,
            "end": d.time_of(int(ts.max())) if ts.size else None,
            "n_periods": int(ts.size),
            "observed_total": obs,
            "fitted_total": F,
            "counterfactual_total": C,
            "relative_change": rel["estimate"],
            "relative_ci_lower": rel["ci_lower"],
            "relative_ci_upper": rel["ci_upper"],
            "group": group,
        }

    def _staggered_cumulative(self, t0: int, t1: int, draws: CoefficientDraws | None = None) -> pd.DataFrame:
        """Cumulative effect of a staggered design: summed over treated series, then each series."""
        d = self.design
        assert d.staggered is not None
        f = d.frame
        t_all = f["t"].to_numpy()
        keep = (
            f["treated"].to_numpy()
            & f["in_fit"].to_numpy()
            & (f["segment"].to_numpy() >= 1)
            & (t_all >= t0)
            & (t_all <= t1)
        )
        gv = f["group"].to_numpy(dtype=object)
        out = [self._cumulative_row(np.flatnonzero(keep), pd.NA, draws)]
        out += [
            self._cumulative_row(np.flatnonzero(keep & (gv == sv)), sv, draws) for sv in d.staggered["group"]
        ]
        frame = pd.DataFrame(out)
        for c in ("start", "end"):
            frame[c] = self._time_series(frame[c])
        return frame[[*_CUMULATIVE_COLUMNS, "group"]]

    def derived_effects(
        self,
        *,
        start: Any = None,
        end: Any = None,
        unit_cost: float | None = None,
        per_period: bool = False,
        n_draws: int = DEFAULT_DRAWS,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Absolute and relative change, totals and cost over a window, from one set of draws.

        :func:`evaltoolkit.its.derived.derived_effects` for this fit: the same draws give every row, so
        they agree on direction and on excluding no change. See that function for the parameters.

        Returns
        -------
        pandas.DataFrame
            Rows ``absolute_change, relative_change, fitted_total, counterfactual_total`` (and ``cost``),
            columns :data:`~evaltoolkit.its.derived.DERIVED_COLUMNS`.
        """
        return _derived_effects(
            self, start=start, end=end, unit_cost=unit_cost, per_period=per_period, n_draws=n_draws, seed=seed
        )

    # -- tests --------------------------------------------------------------------------------------
    def wald_test(self, terms: str | list[str]) -> pd.DataFrame:
        """Joint Wald test that the named coefficients are all zero, using this fit's covariance.

        Works with every SE estimator (model-based, Newey–West, GLS). F(q, df_resid) when ``use_t``,
        otherwise χ²(q).

        Parameters
        ----------
        terms : str or list of str
            Term names.

        Returns
        -------
        pandas.DataFrame
            One row: ``test, statistic, df_num, df_den, p_value`` (``df_den`` is ``inf`` for χ²).
        """
        names = [terms] if isinstance(terms, str) else list(terms)
        unknown = [t for t in names if t not in self.terms]
        if unknown or not names:
            raise ITSInputError(f"unknown term(s) {unknown}; terms are {list(self.terms)}")
        idx = [self.terms.index(t) for t in names]
        b = self.params[idx]
        V = self.cov[np.ix_(idx, idx)]
        w = float(b @ np.linalg.solve(V, b))
        q = len(idx)
        if self.use_t:
            stat, p, test, den = (
                w / q,
                float(stats.f.sf(w / q, q, self.df_resid)),
                "Wald F",
                float(self.df_resid),
            )
        else:
            stat, p, test, den = w, float(stats.chi2.sf(w, q)), "Wald chi2", math.inf
        return pd.DataFrame([{"test": test, "statistic": stat, "df_num": q, "df_den": den, "p_value": p}])

    def compare_nested(self, reduced: ITSResult) -> pd.DataFrame:
        """Likelihood-based test of this fit against a nested ``reduced`` fit of the same data.

        Gaussian OLS: F test on the residual sums of squares. Quasi-Poisson: F test on the deviance
        difference scaled by this (larger) model's dispersion, as R ``anova(reduced, full, test = "F")``.
        Poisson: deviance (likelihood-ratio) χ². Negative binomial, ``gls-ml`` and ``arima``:
        likelihood-ratio χ². REML and Prais–Winsten fits have no comparable likelihoods: refit with
        ``gls-ml`` (or use :meth:`wald_test`).

        Parameters
        ----------
        reduced : ITSResult
            Fit with a subset of this fit's terms, the same family, method and fitted periods.

        Returns
        -------
        pandas.DataFrame
            One row: ``test, statistic, df_num, df_den, p_value``.
        """
        if not isinstance(reduced, ITSResult):
            raise ITSInputError("compare_nested needs another ITSResult")
        if (reduced.family, reduced.method) != (self.family, self.method):
            raise ITSInputError("compare_nested: both fits need the same family and method")
        same_rows = np.array_equal(
            reduced.design.frame.loc[reduced.design.fit_mask, "row"].to_numpy(),
            self.design.frame.loc[self.design.fit_mask, "row"].to_numpy(),
        ) and np.array_equal(
            reduced.design.frame["outcome"].to_numpy(),
            self.design.frame["outcome"].to_numpy(),
            equal_nan=True,
        )
        if not same_rows:
            raise ITSInputError("compare_nested: the fits must use the same data and fitted periods")
        extra = [t for t in reduced.terms if t not in self.terms]
        q = len(self.terms) - len(reduced.terms)
        if extra or q <= 0:
            raise ITSInputError(
                "compare_nested: the reduced fit's terms must be a strict subset of this fit's terms"
            )
        if self.method in ("gls-reml", "prais-winsten"):
            raise ITSInputError(
                f"compare_nested: {self.method} fits have no comparable likelihoods; "
                "refit with method='gls-ml' or use wald_test()"
            )
        if self.family == "gaussian" and self.method == "ols":
            assert self.deviance is not None and reduced.deviance is not None
            F = (reduced.deviance - self.deviance) / q / (self.deviance / self.df_resid)
            return pd.DataFrame(
                [
                    {
                        "test": "F",
                        "statistic": F,
                        "df_num": q,
                        "df_den": float(self.df_resid),
                        "p_value": float(stats.f.sf(F, q, self.df_resid)),
                    }
                ]
            )
        if self.family in ("quasipoisson", "gamma"):
            assert self.deviance is not None and reduced.deviance is not None
            F = (reduced.deviance - self.deviance) / q / self.dispersion
            return pd.DataFrame(
                [
                    {
                        "test": "F",
                        "statistic": F,
                        "df_num": q,
                        "df_den": float(self.df_resid),
                        "p_value": float(stats.f.sf(F, q, self.df_resid)),
                    }
                ]
            )
        if self.family == "poisson":
            assert self.deviance is not None and reduced.deviance is not None
            lr = reduced.deviance - self.deviance
        else:
            assert self.loglik is not None and reduced.loglik is not None
            lr = 2 * (self.loglik - reduced.loglik)
        return pd.DataFrame(
            [
                {
                    "test": "LR chi2",
                    "statistic": lr,
                    "df_num": q,
                    "df_den": math.inf,
                    "p_value": float(stats.chi2.sf(lr, q)),
                }
            ]
        )

    # -- diagnostics --------------------------------------------------------------------------------
    def diagnostics(self, lags: int | None = None) -> ITSDiagnostics:
        """Autocorrelation tests, ACF/PACF, dispersion and points per segment.

        Parameters
        ----------
        lags : int, optional
            Highest lag for Breusch–Godfrey, Ljung–Box and the ACF table. Default: the seasonal period
            for monthly (12), quarterly (4) or weekly (52) data when it is below a quarter of the series,
            else ``min(10, n // 4)``.

        Returns
        -------
        ITSDiagnostics
            Tests (Durbin–Watson with its exact p against positive autocorrelation for OLS; Breusch–Godfrey
            order 1 and ``lags``; Ljung–Box at ``lags``), ACF/PACF, segment counts against the Cochrane
            EPOC minimum, dispersion, warnings. Residuals are raw (OLS), deviance (GLMs) or normalised
            (AR methods), so for AR methods the tests check what the error model left over.
        """
        d = self.design
        mask = d.fit_mask
        ar = ARData.from_groups(d.frame["t"].to_numpy()[mask], d.frame["series"].to_numpy()[mask])
        n_series = len(ar.blocks)
        n_per = self.n_obs // n_series
        if lags is None:
            seasonal = {"month": 12, "quarter": 4, "week": 52}.get(d.freq or "")
            lags = (
                seasonal if seasonal is not None and seasonal <= n_per // 4 else max(1, min(10, n_per // 4))
            )
        if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or not 1 <= lags < n_per:
            raise ITSInputError(
                f"diagnostics(lags=...) must be a whole number from 1 to {n_per - 1}, not {lags!r}"
            )
        e, X = self.residuals, self.diagnostic_X
        dw, dw_p = durbin_watson(e, X, ar)
        bg1 = breusch_godfrey(e, X, ar, 1)
        bgL = breusch_godfrey(e, X, ar, int(lags))
        lb = ljung_box(e, ar, int(lags))
        exact = (
            "exact p (Imhof)"
            if (self.family == "gaussian" and self.method == "ols")
            else "p approximate for this estimator"
        )
        tests = pd.DataFrame(
            {
                "test": [
                    "durbin_watson",
                    "breusch_godfrey_1",
                    f"breusch_godfrey_{lags}",
                    f"ljung_box_{lags}",
                ],
                "statistic": [dw, bg1[0], bgL[0], lb[0]],
                "df": [np.nan, 1.0, float(lags), float(lags)],
                "p_value": [dw_p, bg1[1], bgL[1], lb[1]],
                "note": [
                    f"H1: positive autocorrelation; {exact}",
                    "LM test, lagged residuals filled with 0",
                    "LM test, lagged residuals filled with 0",
                    "portmanteau, fitdf 0",
                ],
            }
        )
        acf, pacf = acf_pacf(e, ar, int(lags))
        bound = float(stats.norm.ppf(0.5 + self.conf_level / 2) / math.sqrt(n_per))
        acf_table = pd.DataFrame(
            {"lag": np.arange(1, int(lags) + 1), "acf": acf, "pacf": pacf, "bound": bound}
        )
        names = ["pre"] + ["post" if i == 0 else f"post_{i + 1}" for i in range(len(d.interruptions))]
        f = d.frame
        first = f.loc[f["t"].idxmin(), "time"] if len(f) else None
        starts = [first] + [
            d.time_of(p) for p in (d.post_start_t if d.transition_shape == "exclude" else d.interruption_t)
        ]
        ends = [d.time_of(ti - 1) for ti in d.interruption_t] + [d.time_of(int(f["t"].max()))]
        pts = list(d.segment_points)
        segments = pd.DataFrame(
            {
                "segment": names,
                "start": self._time_series(pd.Series(starts, dtype=object)),
                "end": self._time_series(pd.Series(ends, dtype=object)),
                "n_points": pts,
                "meets_epoc_minimum": [p >= EPOC_MINIMUM for p in pts],
                "meets_recommended": [p >= RECOMMENDED_MINIMUM for p in pts],
            }
        )
        disp = None
        if self.log_link and self.pearson_chi2 is not None:
            disp = self.pearson_chi2 / self.df_resid
        return ITSDiagnostics(
            tests=tests,
            acf=acf_table,
            segments=segments,
            residual_kind=self.residual_kind,
            dispersion=disp,
            ar_params=self.ar_params,
            warnings=self.warnings,
        )

    # -- reporting ----------------------------------------------------------------------------------
    def _inference_text(self) -> str:
        if self.calibration is not None:
            c = self.calibration
            return (
                f"simulation-calibrated critical values ({c.n_draws} null AR(1) series refitted; "
                f"conditioned on φ̂ = {c.phi_hat:.3f}, {c.effective_draws:.0f} effective draws)"
            )
        return f"t({self.df_resid})" if self.use_t else "normal (z)"

    def _info(self) -> list[tuple[str, str]]:
        d = self.design
        f = d.frame
        info = [
            ("Outcome", d.outcome + (f" (offset: log {d.offset})" if d.offset else "")),
            ("Family", self.family),
            ("Method", self.method_description),
            ("Standard errors", self.se_description),
            ("Inference", self._inference_text()),
            ("Periods", f"{_fmt(f['time'].min())} to {_fmt(f['time'].max())} ({self.n_obs} fitted)"),
            ("Interruptions", "; ".join(r["text"] for r in _interruption_rows(d))),
            ("Points per segment", ", ".join(str(p) for p in d.segment_points)),
            (
                "Effect",
                d.effect + (f"; transition {d.transition} ({d.transition_shape})" if d.transition else ""),
            ),
        ]
        if d.is_staggered:
            assert d.staggered is not None
            controls = sorted({str(g) for g in d.frame.loc[~d.frame["treated"], "group"]})
            info = [
                ("Interruptions", "see staggered design") if k == "Interruptions" else (k, v) for k, v in info
            ]
            info.append(
                (
                    "Staggered design",
                    f"group {d.group!r}; treated "
                    + ", ".join(
                        f"{g} {_fmt(v)}"
                        for g, v in zip(d.staggered["group"], d.staggered["first_post_period"], strict=True)
                    )
                    + f"; controls {controls}; treatment terms {d.staggered_effects}",
                )
            )
        elif d.controlled:
            info.append(("Controlled design", f"group {d.group!r}, treated {list(d.treated)}"))
        if d.exclude_periods:
            n_ex = int(d.frame.loc[d.frame["excluded"], "t"].nunique())
            info.append(
                (
                    "Excluded periods",
                    "; ".join(f"{_fmt(a)} to {_fmt(b)}" for _, a, b in d.exclude_periods)
                    + f" ({n_ex} period{'s' if n_ex != 1 else ''} not fitted)",
                )
            )
        if d.level_shifts:
            info.append(
                (
                    "Level shifts",
                    "; ".join(
                        f"shift_{nm}: {_fmt(a)} to {_fmt(b) if b is not None else 'the end'}"
                        for nm, a, b in d.level_shifts
                    ),
                )
            )
        if d.seasonal_terms:
            info.append(("Seasonality", ", ".join(d.seasonal_terms)))
        if self.ar_params:
            info.append(("AR coefficients", ", ".join(f"{v:.4f}" for v in self.ar_params)))
        if self.ma_params:
            info.append(("MA coefficients", ", ".join(f"{v:.4f}" for v in self.ma_params)))
        if self.theta is not None:
            info.append(("Negative binomial theta", f"{self.theta:.4g}"))
        if self.family in ("quasipoisson", "gamma"):
            info.append(("Dispersion", f"{self.dispersion:.4g}"))
        if self.sigma is not None:
            info.append(("Residual SD", f"{self.sigma:.4g}"))
        if self.loglik is not None:
            info.append(
                ("Log-likelihood" + (" (REML)" if self.method == "gls-reml" else ""), f"{self.loglik:.3f}")
            )
        info.append(("Confidence level", f"{self.conf_level:g}"))
        return info

    def summary(self) -> ITSSummary:
        """A printable summary: model facts, coefficients, effects, cumulative effect, conventions, warnings.

        Returns
        -------
        ITSSummary
            With ``as_text()``, ``as_html()`` and ``_repr_html_`` (renders in Jupyter).
        """
        tables = [
            ("Coefficients", self.coefficients()),
            ("Effects", self.effects()),
            ("Cumulative effect", self.cumulative_effect()),
        ]
        notes = [CODING_NOTE]
        moved = [r for r in _interruption_rows(self.design) if r["moved"]]
        if moved:
            notes.append(
                "; ".join(r["text"] for r in moved)
                + ": an event date inside a period starts the effect in the "
                "first period starting on or after it"
            )
        notes += [f"Warning: {w}" for w in self.warnings]
        return ITSSummary(
            title=f"Interrupted time series: {self.design.outcome}",
            info=tuple(self._info()),
            tables=tuple(tables),
            notes=tuple(notes),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary for reports: options, fit statistics, tables, diagnostics, warnings.

        Non-finite numbers become ``None``, dates ISO strings.

        Returns
        -------
        dict
            Keys ``model``, ``fit``, ``coefficients``, ``effects``, ``cumulative_effect``, ``ar_parameters``,
            ``diagnostics``, ``warnings``, ``conventions``.

        Examples
        --------
        >>> import json, numpy as np, pandas as pd
        >>> from evaltoolkit.its import fit_its
        >>> t = np.arange(1, 21)
        >>> y = 10 + 0.5 * t - 3 * (t >= 13) + np.tile([0.1, -0.1], 10)
        >>> df = pd.DataFrame({"t": t, "y": y})
        >>> res = fit_its(df, outcome="y", time="t", interruptions=13, method="ols")
        >>> d = res.to_dict()
        >>> sorted(d)[:3], len(json.dumps(d)) > 0
        (['ar_parameters', 'coefficients', 'conventions'], True)
        """
        d = self.design
        diag = self.diagnostics()
        out = {
            "model": {
                "outcome": d.outcome,
                "time": d.time,
                "interruptions": list(d.interruptions),
                "interruption_table": [
                    {k: r[k] for k in ("name", "given", "first_post_period")} for r in _interruption_rows(d)
                ],
                "interruption_names": list(d.interruption_names),
                "exclude_periods": [
                    {
                        "start": a,
                        "end": b,
                        "n_periods": int(
                            d.frame.loc[(d.frame["time"] >= a) & (d.frame["time"] <= b), "t"].nunique()
                        ),
                    }
                    for _, a, b in d.exclude_periods
                ],
                "level_shifts": [
                    {"name": nm, "term": f"shift_{nm}", "start": a, "end": b} for nm, a, b in d.level_shifts
                ],
                "staggered": None if d.staggered is None else _records(d.staggered),
                "staggered_effects": d.staggered_effects,
                "family": self.family,
                "offset": d.offset,
                "method": self.method,
                "ci_method": self.ci_method,
                "ar_order": self.ar_order,
                "ma_order": self.ma_order,
                "se_type": self.se_type,
                "lags": self.lags,
                "nw_adjust": self.nw_adjust,
                "seasonality": list(d.seasonal_terms),
                "period": d.period,
                "covariates": list(d.covariates),
                "effect": d.effect,
                "transition": d.transition,
                "transition_shape": d.transition_shape,
                "group": d.group,
                "treated": list(d.treated),
                "conf_level": self.conf_level,
                "use_t": self.use_t,
                "method_description": self.method_description,
                "se_description": self.se_description,
            },
            "fit": {
                "n_obs": self.n_obs,
                "df_resid": self.df_resid,
                "segment_points": list(d.segment_points),
                "dispersion": self.dispersion,
                "sigma": self.sigma,
                "loglik": self.loglik,
                "aic": self.aic,
                "deviance": self.deviance,
                "theta": self.theta,
                "theta_std_error": self.theta_std_error,
                "ar_params": list(self.ar_params),
                "ma_params": list(self.ma_params),
                "converged": self.converged,
                "iterations": self.iterations,
            },
            "coefficients": _records(self.coefficients()),
            "effects": _records(self.effects()),
            "cumulative_effect": _records(self.cumulative_effect())[0],
            "ar_parameters": _records(self.ar_parameters()),
            "diagnostics": {
                "tests": _records(diag.tests),
                "acf": _records(diag.acf),
                "segments": _records(diag.segments),
                "dispersion": diag.dispersion,
            },
            "warnings": list(self.warnings),
            "conventions": {"level_change": CODING_NOTE},
        }
        return _jsonable(out)

    @renamed_kwargs(rate_per="per")
    def plot(
        self, ax: Axes | None = None, *, per: float | None = None, show_counterfactual: bool = True
    ) -> Axes:
        """Draw the data, interruptions, fitted segments and the counterfactual with its band.

        Follows Turner et al. (2021) ITS graph guidance: observed points, a line at each interruption,
        fitted segments and the counterfactual (dashed) with its confidence band. Never calls
        ``plt.show()``.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure is created otherwise.
        per : float, optional
            With an offset, plot rates ``value / offset * per`` (e.g. 100000, as ``per`` of
            :func:`evaltoolkit.series.rates`; formerly ``rate_per=``, deprecated).
        show_counterfactual : bool, default True
            Draw the counterfactual line and band.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on. The plotted numbers are :meth:`predictions`.
        """
        from evaltoolkit.its.plotting import plot_its

        return plot_its(self, ax=ax, per=per, show_counterfactual=show_counterfactual)

    def __repr__(self) -> str:
        return (
            f"ITSResult(outcome={self.design.outcome!r}, family={self.family!r}, method={self.method!r}, "
            f"se_type={self.se_type!r}, n_obs={self.n_obs}, terms={list(self.terms)})"
        )

    # -- re-fitting and guards (robustness checks) ---------------------------------------------------------
    def refit(self, **changes: Any) -> ITSResult:
        """Fit the same analysis again with some :func:`~evaltoolkit.its.fit_its` keywords changed.

        Used by :func:`evaltoolkit.its.robustness_checks` (placebo dates, other series, sites left out).
        This result is unchanged; the stored keywords (with a private copy of the data) are reused.

        Parameters
        ----------
        **changes
            Any :func:`~evaltoolkit.its.fit_its` keyword, including ``data``. With none, the re-fit is
            identical to this fit.

        Returns
        -------
        ITSResult
            The new fit (its own warnings are issued as usual).

        Raises
        ------
        ITSInputError
            This result was not made by :func:`~evaltoolkit.its.fit_its`, or a keyword is unknown.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from evaltoolkit.its import fit_its
        >>> t = np.arange(1, 25)
        >>> y = 50 + 0.5 * t - 6 * (t >= 13) + np.tile([0.4, -0.4, -0.4, 0.4], 6)
        >>> df = pd.DataFrame({"t": t, "y": y})
        >>> res = fit_its(df, outcome="y", time="t", interruptions=13, method="ols")
        >>> bool(np.array_equal(res.refit().params, res.params))
        True
        >>> res.refit(effect="level").terms
        ('intercept', 'pre_slope', 'level_change')
        """
        import inspect

        from evaltoolkit.its.fit import fit_its

        if self._fit_kwargs is None:
            raise ITSInputError("refit() needs a result made by fit_its (this one has no stored keywords)")
        allowed = set(inspect.signature(fit_its).parameters)
        unknown = sorted(k for k in changes if k not in allowed)
        if unknown:
            raise ITSInputError(f"refit(): unknown fit_its keyword(s) {unknown}; allowed: {sorted(allowed)}")
        kwargs = {**self._fit_kwargs, **changes}
        data = kwargs.pop("data")
        return fit_its(data, **kwargs)

    def guards(self, horizon: Any = None) -> pd.DataFrame:
        """The fit's guards against far extrapolation and unmodelled autocorrelation.

        Parameters
        ----------
        horizon : time value, optional
            The period at which the counterfactual is checked (a value of the time column); default the
            last period of the data.

        Returns
        -------
        pandas.DataFrame
            One row per guard that applies, columns ``guard, fired, value, threshold, category, message``:

            * ``extrapolation``: ``value`` is how far the counterfactual at the horizon lies outside the
              range ``[lo, hi]`` of the treated series' pre-period observed and fitted values (outcome
              scale; rates per unit of offset with an offset), in units of the spread ``hi - lo``; it fires
              above 1, i.e. outside ``[lo - spread, hi + spread]``.
            * ``short_pre_period``: pre-period periods (``value``) fewer than the periods from the first
              interruption to the horizon (``threshold``).
            * ``autocorrelation``: independent-error methods (OLS or GLM with model SEs): lag-1 residual
              autocorrelation ``value``; fires when it is positive and ``r1 ≥ 0.3`` or a Breusch–Godfrey
              (order 1) p is below 0.05. AR methods: the AR persistence (sum of AR coefficients), firing
              at ≥ 0.8, where AR estimates from short series are badly biased (Turner et al. 2021).
              Newey–West fits have none.

            ``fit_its`` issues each guard that fired at the last period as an
            :class:`~evaltoolkit.its.ExtrapolationWarning` or :class:`~evaltoolkit.its.AutocorrelationWarning`
            (also in ``warnings``).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from evaltoolkit.its import fit_its
        >>> t = np.arange(1, 25)
        >>> y = 50 + 0.5 * t - 6 * (t >= 13) + np.tile([0.4, -0.4, -0.4, 0.4], 6)
        >>> df = pd.DataFrame({"t": t, "y": y})
        >>> res = fit_its(df, outcome="y", time="t", interruptions=13, method="ols")
        >>> res.guards()[["guard", "fired"]]
                      guard  fired
        0     extrapolation  False
        1  short_pre_period  False
        2   autocorrelation  False
        """
        from evaltoolkit.its._guards import guard_table

        horizon_t = None if horizon is None else self._t_of(horizon, "horizon")
        return guard_table(self, horizon_t)


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[rows] = True
    return m


def _fmt(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _period_label(value: Any, freq: str | None) -> str:
    if isinstance(value, pd.Timestamp):
        if freq == "month":
            return value.strftime("%Y-%m")
        if freq == "quarter":
            return f"{value.year}-Q{value.quarter}"
        if freq == "year":
            return str(value.year)
        return value.strftime("%Y-%m-%d")
    return str(value)


def _interruption_rows(d: ITSDesign) -> list[dict[str, Any]]:
    """Each interruption: its name, the date given, the first post-interruption period used, a text."""
    given = d.interruptions_given or d.interruptions
    rows = []
    for j, (g, used) in enumerate(zip(given, d.interruptions, strict=True)):
        name = d.interruption_names[j] if d.interruption_names else None
        moved = bool(g != used)
        text = (
            f"interruption {_fmt(g)} → first post period {_period_label(used, d.freq)}"
            if moved
            else _fmt(used)
        )
        if name:
            text = f"{name}: {text}"
        rows.append({"name": name, "given": g, "first_post_period": used, "text": text, "moved": moved})
    return rows


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(df.columns, row, strict=True)) for row in df.itertuples(index=False, name=None)]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(obj).strftime("%Y-%m-%d")
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, str):
        return obj
    return str(obj)
