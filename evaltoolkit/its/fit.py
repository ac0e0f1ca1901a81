"""Fitting interrupted time series models: :func:`fit_its`.

The design (term coding, segments, validation) comes from :func:`evaltoolkit.its.design.build_its_design`;
this module only estimates. Every estimator is validated against R in ``tests/test_its_sicily.py``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit._sm import sm
from evaltoolkit.its._ar import (
    BOUNDARY,
    ARData,
    concentrated_loglik,
    fit_ar_profile,
    gls_at,
    numerical_hessian,
    pacf_from_ar,
    phi_interval_ar1,
    prais_winsten,
)
from evaltoolkit.its._arma import arma_result_fields
from evaltoolkit.its._calibrate import COUNT_NOISE_SHARES, calibrate
from evaltoolkit.its._guards import guard_notes
from evaltoolkit.its._hac import newey_west
from evaltoolkit.its._types import (
    AR_METHODS,
    COUNT_FAMILIES,
    GLS_FAMILIES,
    LOG_LINK_FAMILIES,
    CIMethod,
    Effect,
    Family,
    Method,
    SEType,
    TransitionShape,
    check_literal,
)
from evaltoolkit.its.design import RECOMMENDED_MINIMUM, StaggeredEffects, build_its_design
from evaltoolkit.its.errors import ARBoundaryWarning, ITSInputError, ITSWarning, ShortSeriesWarning
from evaltoolkit.its.results import ITSResult

__all__ = ["DEFAULT_MIN_POINTS", "default_method", "fit_its"]

DEFAULT_MIN_POINTS = 12
"""With fewer fitted points than this in a series, the default method is ``"ols"`` (Turner et al. 2021:
AR estimates from very short series are unreliable)."""


def default_method(family: str = "gaussian", *, se_type: str = "model") -> tuple[str, str]:
    """The ``(method, ci_method)`` :func:`fit_its` uses when ``method`` is not given.

    Chosen by the coverage study in ``benchmarks/coverage`` (book chapter "Do the intervals keep their
    promise?"): GLS with AR(1) errors by REML with simulation-calibrated intervals for Gaussian outcomes
    and for Poisson/quasi-Poisson counts (quasi-likelihood GLS on the log scale); the GLM with model SEs
    for ``negbin`` and ``gamma`` (no AR model is offered for them: check ``guards()`` and consider
    ``family="quasipoisson"`` for autocorrelated counts); OLS/GLM when Newey–West SEs are asked for.
    Series shorter than :data:`~evaltoolkit.its.DEFAULT_MIN_POINTS` fitted points fall back to ``"ols"``.

    Parameters
    ----------
    family : str, default "gaussian"
        The ``family`` given to :func:`fit_its`.
    se_type : str, default "model"
        The ``se_type`` given to :func:`fit_its`.

    Returns
    -------
    tuple of str
        ``(method, ci_method)``.

    Examples
    --------
    >>> default_method("gaussian")
    ('gls-reml', 'calibrated')
    >>> default_method("quasipoisson")
    ('gls-reml', 'calibrated')
    >>> default_method("negbin")
    ('ols', 'wald')
    >>> default_method("gaussian", se_type="newey-west")
    ('ols', 'wald')
    """
    check_literal(family, Family, "family")
    check_literal(se_type, SEType, "se_type")
    if se_type == "newey-west" or family not in GLS_FAMILIES:
        return ("ols", "wald")
    return ("gls-reml", "calibrated")


_GLM_TOL = 1e-12
"""IRLS convergence: relative change in deviance (as R ``glm.control``'s ``|Δdev| / (|dev| + 0.1)``)."""


@renamed_kwargs(se="se_type")
def fit_its(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    interruptions: Any,
    family: Family = "gaussian",
    offset: str | None = None,
    method: Method | None = None,
    ar_order: int = 1,
    ma_order: int = 0,
    se_type: SEType = "model",
    lags: int | None = None,
    seasonality: int | str | None = None,
    period: float | None = None,
    covariates: str | Sequence[str] = (),
    effect: Effect = "level+slope",
    transition: int = 0,
    transition_shape: TransitionShape = "exclude",
    group: str | None = None,
    treated: Any = None,
    exclude_periods: Sequence[tuple[Any, Any]] | None = None,
    level_shifts: Mapping[str, Any] | None = None,
    interruption_names: Sequence[str] | None = None,
    staggered_effects: StaggeredEffects = "pooled",
    conf_level: float = 0.95,
    use_t: bool | None = None,
    nw_adjust: bool = True,
    ci_method: CIMethod | None = None,
) -> ITSResult:
    """Fit a segmented regression (interrupted time series) model.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per period (per series in a controlled design); not modified. Every period between the
        first and last must be present; rows are never dropped silently.
    outcome : str
        Outcome column: a continuous measure or rate (``family="gaussian"``) or counts.
    time : str
        Period column: period-start dates (monthly, quarterly, yearly, weekly, daily) or integers.
    interruptions : scalar, sequence or mapping
        The first post-interruption period of each interruption. A date inside a period is allowed: the
        first period **starting on or after** it is the first post-interruption period (``"1983-01-31"`` with
        monthly periods → February 1983; the summary prints both). A mapping ``{series: date}`` with
        ``group=`` is a **staggered controlled design**: its keys are the treated series, each with its own
        go-live, and every other series is a control (see :mod:`evaltoolkit.its.design` for the coding).
    family : {"gaussian", "poisson", "quasipoisson", "negbin", "gamma"}, default "gaussian"
        ``"poisson"``: log-linear Poisson GLM. ``"quasipoisson"``: same estimates, SEs scaled by the
        Pearson χ²/(n-p) dispersion (R ``quasipoisson``, statsmodels ``scale="X2"``, Stata ``scale(x2)``).
        ``"negbin"``: NB2 with ``θ`` by maximum likelihood (R ``MASS::glm.nb``). Use a count family for
        counts with small means; with an ``offset`` they are modelled as rates.
        ``"gamma"``: gamma GLM with log link for positive, skewed means such as the mean length of stay
        (R ``glm(family = Gamma(link = "log"))``); dispersion by Pearson χ²/(n-p) as R ``summary.glm``.
        Effects are ratios of means (percent changes), so their intervals never cross zero into impossible
        values. The outcome must be positive in every period.
    offset : str, optional
        Exposure column (population, cohort size, bed base) entered as ``log(offset)``; count families only
        (a mean such as a length of stay has no exposure, so ``family="gamma"`` refuses it).
    method : {"ols", "gls-reml", "gls-ml", "prais-winsten", "arima"}, optional
        Default (``None``): chosen by family from the toolkit's coverage study, see
        :func:`~evaltoolkit.its.default_method`: ``"gls-reml"`` with calibrated intervals for Gaussian,
        Poisson and quasi-Poisson outcomes (``"ols"`` below :data:`~evaltoolkit.its.DEFAULT_MIN_POINTS`
        fitted points per series), ``"ols"`` (the GLM) for ``negbin`` and ``gamma`` and with Newey–West SEs.
        Give ``method="ols"`` for the classical segmented regression.
        ``"ols"``: least squares (maximum likelihood GLM for count families), independent errors.
        ``"gls-reml"`` / ``"gls-ml"``: generalised least squares with AR(``ar_order``) errors, correlation
        by REML or ML (R ``nlme::gls(correlation = corAR1())``); Turner et al. (2021) found REML least biased
        and recommend it for series longer than about 12 points (OLS below that). ``"prais-winsten"``:
        iterated AR(1) feasible GLS (Stata ``prais``). ``"arima"``: regression with
        ARIMA(``ar_order``,0,``ma_order``) errors by exact ML (R ``stats::arima(method = "ML")``): with
        ``ma_order=0`` the same estimates as ``"gls-ml"``, with SEs from the observed information (which
        includes the ARMA uncertainty) and normal-quantile inference. In a controlled design (``group=``)
        the series are independent and share the ARMA parameters and innovation variance, the likelihood
        being the sum over series (R ``nlme::gls(correlation = corARMA(p, q, form = ~ t | series), method =
        "ML")``); the SEs are still from the numerical Hessian of that exact likelihood (not ``nlme``'s
        GLS covariance).
        ``"gls-reml"``/``"gls-ml"`` also fit Poisson and quasi-Poisson counts: quasi-likelihood GLS on the
        log scale (iterated working-response GLS with weights ``μ``, AR(1) errors on the standardised scale
        and the dispersion estimated, so ``"poisson"`` then allows overdispersion too), validated against
        the same iteration with ``nlme::gls(weights = varFixed(~1/μ), correlation = corAR1())``. The other
        AR methods are for Gaussian outcomes only (for ``negbin`` and ``gamma`` use ``"ols"``, i.e. the GLM,
        with ``se_type="newey-west"``).
    ar_order : int, default 1
        Order of the AR error process for ``gls-*`` and ``arima`` (Prais–Winsten is AR(1) only). With
        ``method="arima"`` and ``ma_order >= 1`` it may be 0 (pure MA errors).
    ma_order : int, default 0
        Order of the MA part of ARMA(``ar_order``, ``ma_order``) errors; ``method="arima"`` only.
        ``e_t = φ_1 e_{t-1} + … + a_t + θ_1 a_{t-1} + …`` (the sign convention of R ``stats::arima``), fitted
        by exact Gaussian ML on a stationary and invertible parameterisation, as R ``arima(y, order =
        c(ar_order, 0, ma_order), xreg = X, include.mean = FALSE, method = "ML")``; SEs from the numerical
        Hessian of the exact likelihood. ``result.ma_params``/``ma_std_errors`` hold ``θ``; the rows
        ``ma1, …`` follow ``ar1, …`` in :meth:`ITSResult.ar_parameters`. An MA root on or next to the unit
        circle raises ``ARBoundaryWarning``. Validated in ``tests/test_its_arma.py``.
    se_type : {"model", "newey-west"}, default "model"
        The kind of standard error (formerly ``se=``, deprecated).
        ``"newey-west"``: Bartlett-kernel HAC SEs with ``lags`` lags and no prewhitening, equal to Stata
        ``newey, lag(L)`` and R ``sandwich::NeweyWest(fit, lag = L, prewhite = FALSE, adjust = TRUE)``
        (note sandwich's defaults differ). Only with ``method="ols"``. For GLMs (count families, ``gamma``)
        the scores are ``x_t (y_t - μ_t) μ_t / V(μ_t)`` with bread ``(X'WX)⁻¹``, as ``sandwich`` for ``glm``
        fits (the dispersion cancels).
    lags : int, optional
        Newey–West lags; required with ``se_type="newey-west"`` (pre-specify it; Turner et al. used 1).
    seasonality : None, int or "month", optional
        ``K`` Fourier pairs (``sin_1, cos_1, …``; period 12 for months, 4 for quarters, 52 for weeks, else
        ``period``) or ``"month"`` calendar-month indicators.
    period : float, optional
        Seasonal period (in periods) for Fourier terms; needed for integer time.
    covariates : str or sequence of str, default ()
        Extra columns entered linearly.
    effect : {"level", "slope", "level+slope"}, default "level+slope"
        Change terms per interruption.
    transition : int, default 0
        Phase-in periods after each interruption.
    transition_shape : {"exclude", "ramp"}, default "exclude"
        Leave the phase-in out of the fit, or model the level change as a linear ramp over it.
    group : str, optional
        Series column for a controlled ITS (Stata ``itsa`` multiple-group design).
    treated : scalar or sequence, optional
        The treated group value(s); all other groups are controls. Omit it when ``interruptions`` is a
        mapping (or give exactly its keys).
    exclude_periods : sequence of (start, end), optional
        Inclusive ranges of periods dropped from the fit (e.g. ``[("2020-03-01", "2021-02-01")]`` for
        COVID-19 months): a period is dropped when its start date lies in the range. The rows stay in
        ``predictions()`` (``excluded`` = True, ``fitted`` NaN) and are shaded on ``plot()``. A range may not
        cover an interruption's first period nor leave a segment with fewer than 3 points.
    level_shifts : mapping, optional
        ``{"covid": ("2020-03-01", "2021-02-01")}`` or ``{"covid": "2020-03-01"}`` (to the end): a dummy term
        ``shift_covid`` = 1 inside the range, reported in ``coefficients()`` but not an effect (the
        counterfactual keeps it), marked on ``plot()``.
    interruption_names : sequence of str, optional
        One name per interruption, e.g. ``["go_live", "expansion"]``: the first interruption's terms stay
        ``level_change``/``slope_change``; later ones become ``level_change_<name>``/``slope_change_<name>``
        (instead of ``level_change_2``…), and so do their rows in ``effects()``.
    staggered_effects : {"pooled", "by_series"}, default "pooled"
        Staggered designs: one pair ``diff_level_change``/``diff_slope_change`` (the average effect across
        treated series, the headline) or a pair ``diff_level_change_<series>``… per treated series.
    conf_level : float, default 0.95
        Confidence level of every interval.
    use_t : bool, optional
        Reference distribution. Default: t with the residual df for Gaussian ``ols``, ``gls-*`` and
        ``prais-winsten`` (as R ``lm``/``nlme``, Stata ``newey``/``prais``) and for ``gamma`` (as R
        ``summary.glm`` for families whose dispersion is estimated); normal for count families
        (as R ``Epi::ci.lin``, Stata ``glm``; ``use_t=True`` gives R ``summary.glm``'s quasi-Poisson p-values)
        and ``arima`` (as R).
    nw_adjust : bool, default True
        Newey–West small-sample factor ``n/(n-k)`` (Stata ``newey``; sandwich ``adjust = TRUE``).
    ci_method : {"wald", "calibrated"}, optional
        ``"wald"``: estimate ± quantile × SE (t or normal, see ``use_t``). ``"calibrated"``: critical
        values and p-values calibrated by simulating the fitted design under AR(1) errors, conditional on
        the estimated autocorrelation, so that the intervals cover at ``conf_level`` for true
        autocorrelations from 0 to 0.6 (see :class:`~evaltoolkit.its.Calibration` and the book chapter on
        coverage); for ``gls-reml``/``gls-ml`` with ``ar_order=1``. Default: ``"calibrated"`` when the
        method is chosen by default, else ``"wald"``. Seeded: the same data give the same intervals.

    Returns
    -------
    ITSResult
        Immutable result: ``coefficients()``, ``effects()``, ``cumulative_effect()``, ``predictions()``,
        ``counterfactual()``, ``diagnostics()``, ``summary()``, ``to_dict()``, ``plot()``.

    Raises
    ------
    ITSInputError
        Bad columns or options, missing or duplicated periods, interruptions outside the data, fewer than
        3 points in a segment, non-positive offsets, non-numeric outcomes, zero or negative outcomes or an
        ``offset`` with ``family="gamma"``, AR methods with a non-Gaussian family.

    Warns
    -----
    ShortSeriesWarning
        A segment has fewer than 8 points.
    ARBoundaryWarning
        An AR (partial) autocorrelation estimate has absolute value ≥ 0.99, or (``ma_order > 0``) an MA
        root lies within a factor 0.99 of the unit circle (the message names the parameters).
    ExtrapolationWarning
        The counterfactual at the last period lies outside the pre-period's range widened by that range on
        each side, or the pre-period has fewer periods than the post period (see
        :meth:`ITSResult.guards` for the exact rules).
    AutocorrelationWarning
        Independent-error fits (``method="ols"``, model SEs) whose lag-1 residual autocorrelation is
        positive and ``≥ 0.3`` or significant (Breusch–Godfrey, 5%); AR fits with an AR estimate ≥ 0.8.
    ITSWarning
        Other fit problems (non-convergence; negative binomial without overdispersion).

    Notes
    -----
    **Coding.** ``t = 1`` in the first period. ``level_change`` switches on at the first
    post-interruption period ``T`` and ``slope_change = t - T`` is 0 there (Stata ``itsa``), so
    ``level_change`` is the change at ``T``. The tutorial coding of Lopez Bernal et al. (2017),
    ``I(time - T + 1):post``, counts ``T`` as 1 and its level change is ours minus ``slope_change``.
    Later interruptions get terms ``level_change_2``, ``slope_change_2``, … (or ``_<name>``); controlled
    designs add ``diff_intercept``, ``diff_pre_slope``, ``diff_level_change``, ``diff_slope_change`` (treated
    minus control). Staggered designs add common ``calendar_level_<date>``/``calendar_slope_<date>`` terms
    per go-live date, ``diff_intercept_<series>``/``diff_pre_slope_<series>`` per non-reference series and
    the pooled ``diff_level_change``/``diff_slope_change``; they work with every method and with the
    count families. Validated against R ``lm``, ``nlme::gls`` and ``glm`` in
    ``tests/test_its_staggered.py``. See :mod:`evaltoolkit.its.design`.

    **Choosing a method** (pre-specify it: re-analysing 190 published series, Turner et al. 2021 found
    that significance at 5% disagreed in 4–25% of pairwise comparisons of methods, so report a
    sensitivity analysis):

    * ``ols`` assumes independent errors; positive autocorrelation makes its SEs too small. Turner et
      al. recommend it only for very short series (under about 12 points), where AR estimates are
      unreliable.
    * ``se_type="newey-west"`` keeps the OLS/GLM estimates and makes the SEs robust to autocorrelation up to
      ``lags`` periods; it does badly with short series or strong autocorrelation. It is the route for
      autocorrelated counts.
    * ``gls-reml`` models AR(p) errors; REML estimated the autocorrelation with least bias in Turner's
      simulations and is their recommendation for longer series. ``gls-ml`` gives likelihoods that can
      be compared across nested models (:meth:`ITSResult.compare_nested`).
    * ``prais-winsten`` is AR(1) feasible GLS as in Stata; ``arima`` is exact ML with SEs that include
      the uncertainty in the AR coefficients.
    * All AR methods underestimate autocorrelation in short series, so their CIs tend to be too narrow.
      A boundary estimate (``ARBoundaryWarning``) usually means a misspecified trend or non-stationary
      errors.
    * Counts: ``poisson`` assumes variance = mean; ``quasipoisson`` scales the SEs by the Pearson
      dispersion (estimates unchanged); ``negbin`` assumes variance ``μ + μ²/θ``. Check
      ``diagnostics().dispersion``.
    * Positive skewed means (mean length of stay): ``gamma`` assumes variance ``φ μ²`` (a constant
      coefficient of variation) and reports ratios of means. Its log-likelihood and AIC are not reported
      (R's ``AIC`` for a gamma GLM plugs in a deviance-based shape); nested gamma fits are compared by the
      F test of :meth:`ITSResult.compare_nested`, as R ``anova(..., test = "F")``.

    GLMs are fitted by IRLS until the deviance changes by less than ``1e-12 × (|deviance| + 0.1)``
    between iterations (R ``glm.control``'s relative rule; statsmodels' own ``tol`` is absolute, which
    never converges on deviances in the tens of thousands).

    Every warning is also stored in ``result.warnings``.

    References
    ----------
    Lopez Bernal J, Cummins S, Gasparrini A. Interrupted time series regression for the evaluation of
    public health interventions: a tutorial. Int J Epidemiol 2017;46:348–355.
    Turner SL et al. Evaluation of statistical methods used in the analysis of interrupted time series
    studies: a simulation study. BMC Med Res Methodol 2021;21:181.
    Linden A. Conducting interrupted time-series analysis for single- and multiple-group comparisons.
    Stata J 2015;15:480–500.

    Validated against R 4.2 (``glm``, ``MASS::glm.nb``, ``sandwich::NeweyWest``, ``nlme::gls``,
    ``stats::arima``) on the Sicily smoking-ban data; see ``tests/test_its_sicily.py``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from evaltoolkit.its import fit_its
    >>> t = np.arange(1, 25)
    >>> noise = np.tile([0.4, -0.4, -0.4, 0.4], 6)  # orthogonal to each segment's line
    >>> y = 50 + 0.5 * t - 6 * (t >= 13) + 0.25 * np.maximum(t - 13, 0) + noise
    >>> df = pd.DataFrame({"month": pd.date_range("2020-01-01", periods=24, freq="MS"), "visits": y})
    >>> res = fit_its(df, outcome="visits", time="month", interruptions="2021-01-01", method="ols")
    >>> res.coefficients()[["term", "estimate", "std_error"]].round(3)
               term  estimate  std_error
    0     intercept     50.00      0.270
    1     pre_slope      0.50      0.037
    2  level_change     -6.00      0.360
    3  slope_change      0.25      0.052
    """
    call = dict(locals())  # every keyword as given (first statement), kept for ITSResult.refit()
    check_literal(family, Family, "family")
    check_literal(se_type, SEType, "se_type")
    if ci_method is not None:
        check_literal(ci_method, CIMethod, "ci_method")
    by_default = method is None
    if method is None:
        method, default_ci = default_method(family, se_type=se_type)
        if ar_order != 1 and default_ci == "calibrated":
            default_ci = "wald"
        ci_method = ci_method or default_ci
    else:
        check_literal(method, Method, "method")
        ci_method = ci_method or "wald"
    if ci_method == "calibrated" and (method not in ("gls-reml", "gls-ml") or ar_order != 1):
        raise ITSInputError(
            f"ci_method='calibrated' calibrates GLS with AR(1) errors: it needs method='gls-reml' or "
            f"'gls-ml' with ar_order=1, not method={method!r}, ar_order={ar_order!r}"
        )
    if isinstance(ma_order, bool) or not isinstance(ma_order, (int, np.integer)) or ma_order < 0:
        raise ITSInputError(f"ma_order must be a non-negative whole number, not {ma_order!r}")
    ma_order = int(ma_order)
    if ma_order > 0 and method != "arima":
        raise ITSInputError(
            f"ma_order={ma_order} (MA errors) needs method='arima'; method={method!r} models AR errors only"
        )
    min_ar = 0 if ma_order > 0 else 1  # ARMA(0, q) = pure MA errors
    if isinstance(ar_order, bool) or not isinstance(ar_order, (int, np.integer)) or ar_order < min_ar:
        raise ITSInputError(
            f"ar_order must be a {'non-negative' if min_ar == 0 else 'positive'} whole number, "
            f"not {ar_order!r}"
        )
    ar_order = int(ar_order)
    if not isinstance(conf_level, (int, float)) or isinstance(conf_level, bool) or not 0 < conf_level < 1:
        raise ITSInputError(f"conf_level must be strictly between 0 and 1, not {conf_level!r}")
    if use_t is not None and not isinstance(use_t, bool):
        raise ITSInputError(f"use_t must be True, False or None, not {use_t!r}")
    if (
        method in AR_METHODS
        and family != "gaussian"
        and (method not in ("gls-reml", "gls-ml") or family not in GLS_FAMILIES)
    ):
        raise ITSInputError(
            f"method={method!r} models AR errors for Gaussian outcomes (gls-reml and gls-ml also for "
            f"poisson and quasipoisson counts); for family={family!r} use method='ols' (a GLM) with "
            "se_type='newey-west' to allow for autocorrelation"
        )
    if method == "prais-winsten" and ar_order != 1:
        raise ITSInputError(
            "method='prais-winsten' is AR(1) only; use gls-reml/gls-ml/arima for ar_order > 1"
        )
    if se_type == "newey-west":
        if method != "ols":
            raise ITSInputError(
                f"se_type='newey-west' applies to method='ols'; method={method!r} already models "
                "autocorrelation"
            )
        if lags is None:
            raise ITSInputError(
                "se_type='newey-west' needs lags=L (as Stata newey, lag(L)); pre-specify it, e.g. lags=1"
            )
        if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 0:
            raise ITSInputError(f"lags must be a non-negative whole number, not {lags!r}")
        lags = int(lags)
    elif lags is not None:
        raise ITSInputError("lags= is only used with se_type='newey-west'")

    design = build_its_design(
        data,
        outcome=outcome,
        time=time,
        interruptions=interruptions,
        family=family,
        offset=offset,
        seasonality=seasonality,
        period=period,
        covariates=covariates,
        effect=effect,
        transition=transition,
        transition_shape=transition_shape,
        group=group,
        treated=treated,
        exclude_periods=exclude_periods,
        level_shifts=level_shifts,
        interruption_names=interruption_names,
        staggered_effects=staggered_effects,
    )
    if use_t is None:
        # t on the residual df where the scale is estimated (R lm, nlme, summary.glm for Gamma).
        use_t = family in ("gaussian", "gamma") and method != "arima"

    notes: list[tuple[type[Warning], str]] = []
    labels = ["before the first interruption"] + [
        f"after interruption {_fmt(v)}" for v in design.interruptions
    ]
    if design.is_staggered:
        labels = [
            "before the interruption in the treated series with the fewest",
            "after the interruption in the treated series with the fewest",
        ]
    for count, label in zip(design.segment_points, labels, strict=True):
        if count < RECOMMENDED_MINIMUM:
            notes.append(
                (
                    ShortSeriesWarning,
                    f"only {count} points {label}: at least 3 meet the Cochrane EPOC minimum, but fewer than "
                    f"{RECOMMENDED_MINIMUM} give fragile trend estimates",
                )
            )

    mask = design.fit_mask
    if lags is not None:
        lengths = design.frame.loc[mask, "series"].value_counts()
        if len(lengths) and lags >= int(lengths.min()):
            raise ITSInputError(
                f"lags={lags} must be smaller than the number of fitted periods in each series "
                f"({int(lengths.min())}); Newey–West with that many lags is not an estimate (Turner et al. "
                "used 1; a common rule is about n^(1/4))"
            )
    X = design.X.to_numpy(dtype="float64")[mask]
    y = design.frame["outcome"].to_numpy(dtype="float64")[mask]
    log_off = np.log(design.frame["offset"].to_numpy(dtype="float64")[mask]) if design.offset else None
    groups = design.frame["series"].to_numpy()[mask]
    ar = ARData.from_groups(design.frame["t"].to_numpy()[mask], groups)

    fallback = ""
    if by_default and method != "ols":
        lengths = design.frame.loc[mask, "series"].value_counts()
        if int(lengths.min()) < DEFAULT_MIN_POINTS:
            method, ci_method = "ols", "wald"
            fallback = (
                f"; the default method is OLS/GLM here because a series has {int(lengths.min())} fitted "
                f"points (fewer than {DEFAULT_MIN_POINTS}: AR estimates would be unreliable)"
            )
    if family == "gaussian" and method == "ols":
        out = _fit_ols(X, y, ar, se_type, lags, nw_adjust)
    elif family in COUNT_FAMILIES and method in ("gls-reml", "gls-ml"):
        try:
            out = _fit_count_gls(X, y, log_off, family, ar, method == "gls-reml", notes)
        except _CountGLSFailed as exc:
            if not by_default:
                raise ITSInputError(
                    f"method={method!r} for family={family!r}: {exc}; use method='ols' (the GLM), with "
                    "se_type='newey-west' for autocorrelation"
                ) from None
            # the default falls back to the GLM, and says so
            method, ci_method = "ols", "wald"
            fallback = f"; the default AR(1) model could not be fitted ({exc}), so this is the GLM"
            notes.append((ITSWarning, f"default method: {exc}; fell back to the GLM with independent errors"))
            out = _fit_glm(X, y, log_off, family, ar, se_type, lags, nw_adjust, notes)
    elif family in LOG_LINK_FAMILIES:
        out = _fit_glm(X, y, log_off, family, ar, se_type, lags, nw_adjust, notes)
    elif method == "arima" and ma_order > 0:
        out = arma_result_fields(X, y, ar, ar_order, ma_order, notes)
    else:
        out = _fit_ar(X, y, ar, method, ar_order, conf_level, notes)
    calibration = None
    if ci_method == "calibrated":
        # Counts: the design without the variance weights μ (which change slowly over a series), so that
        # outcomes and refits sharing a design share one set of null draws.
        calibration = calibrate(
            X,
            ar,
            out["ar_params"][0],
            reml=method == "gls-reml",
            # counts: Poisson noise is white on the standardised scale, a share 1/dispersion of the variance
            noise=COUNT_NOISE_SHARES if family in COUNT_FAMILIES else 0.0,
        )
        out["se_description"] += (
            f"; intervals and p-values calibrated by simulation ({calibration.n_draws} null AR(1) series "
            "of this design, conditional on the estimated autocorrelation)"
        )
    if by_default:
        out["method_description"] += " (the default for this family)" + fallback

    result = ITSResult(
        design=design,
        family=family,
        method=method,
        se_type=se_type,
        lags=lags,
        nw_adjust=bool(nw_adjust) if se_type == "newey-west" else False,
        ar_order=ar_order if method in AR_METHODS else None,
        ma_order=ma_order if method == "arima" else None,
        conf_level=float(conf_level),
        use_t=use_t,
        warnings=tuple(m for _, m in notes),
        ci_method=ci_method,
        calibration=calibration,
        **out,
    )
    # guards (extrapolation, autocorrelation for the method): evaluated on the fitted result
    notes += guard_notes(result)
    for category, message in notes:
        warnings.warn(message, category, stacklevel=2)
    return dataclasses.replace(result, warnings=tuple(m for _, m in notes), _fit_kwargs=_frozen_call(call))


def _frozen_call(call: dict[str, Any]) -> dict[str, Any]:
    """The keywords of a fit, for :meth:`ITSResult.refit`; the data are copied, so later edits of the
    caller's frame cannot change a re-fit (a plain dict, so results stay picklable; never modified)."""
    out = dict(call)
    out["data"] = call["data"].copy(deep=True)
    return out


def _fmt(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, pd.Timestamp) else str(value)


def _nw_description(lags: int, adjust: bool) -> str:
    return f"Newey–West HAC, Bartlett kernel, {lags} lag{'s' if lags != 1 else ''}, no prewhitening" + (
        ", small-sample factor n/(n-k) (Stata newey)" if adjust else ", no small-sample factor"
    )


def _fit_ols(
    X: np.ndarray, y: np.ndarray, ar: ARData, se_type: str, lags: int | None, adjust: bool
) -> dict[str, Any]:
    n, k = X.shape
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    rss = float(resid @ resid)
    bread = np.linalg.inv(X.T @ X)
    s2 = rss / (n - k)
    if se_type == "newey-west":
        assert lags is not None
        cov = newey_west(bread, X * resid[:, None], ar, lags, adjust)
        se_desc = _nw_description(lags, adjust)
    else:
        cov = s2 * bread
        se_desc = "model-based (OLS, independent errors)"
    loglik = -n / 2 * (np.log(2 * np.pi * rss / n) + 1)
    return {
        "params": beta,
        "cov": cov,
        "df_resid": n - k,
        "dispersion": s2,
        "sigma": math.sqrt(s2),
        "loglik": float(loglik),
        "aic": float(-2 * loglik + 2 * (k + 1)),
        "deviance": rss,
        "pearson_chi2": None,
        "ar_params": (),
        "ar_std_errors": (),
        "ar_conf_int": (),
        "theta": None,
        "theta_std_error": None,
        "residuals": resid,
        "residual_kind": "raw",
        "diagnostic_X": X,
        "converged": True,
        "iterations": None,
        "method_description": "ordinary least squares",
        "se_description": se_desc,
    }


def _nb_loglik(y: np.ndarray, mu: np.ndarray, theta: float) -> float:
    return float(
        np.sum(
            special.gammaln(theta + y)
            - special.gammaln(theta)
            - special.gammaln(y + 1)
            + theta * np.log(theta)
            + special.xlogy(y, mu)
            - (theta + y) * np.log(theta + mu)
        )
    )


def _theta_ml(y: np.ndarray, mu: np.ndarray) -> float:
    """ML estimate of the NB2 ``θ`` given means (as ``MASS::theta.ml``); ``inf`` without overdispersion."""

    def score(log_theta: float) -> float:
        # log(th) + 1 - log(th + mu) - (y + th)/(mu + th) written without cancelling terms, so the sign of
        # the score is reliable for large theta (nearly Poisson data); the naive form is rounding noise there.
        th = math.exp(log_theta)
        return float(
            np.sum(special.digamma(th + y) - special.digamma(th) - np.log1p(mu / th) + (mu - y) / (th + mu))
        )

    # Above ~1e6 even this score is dominated by rounding (its true size is ~1/theta^2), and brentq would
    # return the bracket end if the score rounded to exactly 0 there; such a theta is Poisson for practical
    # purposes, so the search stops at 1e6 and a still-rising likelihood means theta = inf.
    lo, hi = math.log(1e-8), math.log(1e6)
    if score(hi) > 0:
        return math.inf
    if score(lo) < 0:
        return math.exp(lo)
    theta = math.exp(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500))
    poisson = float(np.sum(special.xlogy(y, mu) - mu - special.gammaln(y + 1)))
    if (
        _nb_loglik(y, mu, theta) - poisson < 1e-8
    ):  # indistinguishable from Poisson: theta is effectively infinite
        return math.inf
    return theta


def _glm_fit(
    X: np.ndarray, y: np.ndarray, log_off: np.ndarray | None, fam: Any, start: np.ndarray | None
) -> Any:
    model = sm.GLM(y, X, family=fam, offset=log_off)
    # statsmodels' IRLS stops when |dev - dev_old| <= atol + rtol * |dev|, and its tol= sets an absolute
    # atol only (rtol 0): hopeless for deviances in the tens of thousands (large counts). Use R's relative
    # rule |Δdev| < ε (|dev| + 0.1).
    return model.fit(tol=_GLM_TOL, atol=0.1 * _GLM_TOL, rtol=_GLM_TOL, maxiter=200, start_params=start)


def _fit_glm(
    X: np.ndarray,
    y: np.ndarray,
    log_off: np.ndarray | None,
    family: str,
    ar: ARData,
    se_type: str,
    lags: int | None,
    adjust: bool,
    notes: list[tuple[type[Warning], str]],
) -> dict[str, Any]:
    n, k = X.shape
    if family == "gamma":
        res = _glm_fit(X, y, None, sm.families.Gamma(link=sm.families.links.Log()), None)
    else:
        res = _glm_fit(X, y, log_off, sm.families.Poisson(), None)
    converged = bool(res.converged)
    iterations: int | None = None
    theta: float | None = None
    theta_se: float | None = None
    if family == "negbin":
        theta_old = ll_old = math.nan
        iterations = 0
        theta_converged = True
        while True:
            iterations += 1
            theta = _theta_ml(y, res.mu)
            if math.isinf(theta):
                notes.append(
                    (
                        ITSWarning,
                        "negative binomial: no overdispersion (theta → ∞); the fit equals the Poisson fit",
                    )
                )
                res = _glm_fit(X, y, log_off, sm.families.Poisson(), res.params)
                break
            res = _glm_fit(X, y, log_off, sm.families.NegativeBinomial(alpha=1.0 / theta), res.params)
            ll = _nb_loglik(y, np.asarray(res.mu), theta)
            # Converged when theta settles or, for large theta (nearly Poisson), the likelihood is flat in it.
            if abs(theta / theta_old - 1) < 1e-10 or abs(ll - ll_old) < 1e-10 * (1 + abs(ll)):
                break
            ll_old = ll
            if iterations == 100:
                theta_converged = False
                break
            theta_old = theta
        # The starting Poisson fit only supplies starting values: a converged theta loop whose last IRLS
        # fit converged is a converged fit.
        converged = theta_converged and bool(res.converged)
        assert theta is not None
        mu = res.mu
        if math.isfinite(theta):
            info = float(
                np.sum(
                    -special.polygamma(1, theta + y)
                    + special.polygamma(1, theta)
                    - 1 / theta
                    + 2 / (mu + theta)
                    - (y + theta) / (mu + theta) ** 2
                )
            )
            theta_se = 1 / math.sqrt(info) if info > 0 else math.nan
    mu = np.asarray(res.mu)
    beta = np.asarray(res.params)
    loglik: float | None
    if family == "gamma":
        var = mu**2
        loglik = None  # the gamma likelihood needs a shape estimate; R's AIC uses deviance/n: not reported
        n_par = k
        fam_obj: Any = sm.families.Gamma(link=sm.families.links.Log())
    elif family == "negbin" and theta is not None and math.isfinite(theta):
        var = mu + mu**2 / theta
        loglik = _nb_loglik(y, mu, theta)
        n_par = k + 1
        fam_obj = sm.families.NegativeBinomial(alpha=1.0 / theta)
    else:
        var = mu
        loglik = float(np.sum(special.xlogy(y, mu) - mu - special.gammaln(y + 1)))
        n_par = k
        fam_obj = sm.families.Poisson()
    weights = mu**2 / var  # log link: (dμ/dη)² / V(μ)
    bread = np.linalg.inv(X.T @ (X * weights[:, None]))
    pearson = float(np.sum((y - mu) ** 2 / var))
    scaled = family in ("quasipoisson", "gamma")
    dispersion = pearson / (n - k) if scaled else 1.0
    if se_type == "newey-west":
        assert lags is not None
        scores = X * ((y - mu) * mu / var)[:, None]
        cov = newey_west(bread, scores, ar, lags, adjust)
        se_desc = _nw_description(lags, adjust)
    elif scaled:
        cov = dispersion * bread
        se_desc = f"model-based, scaled by Pearson χ²/(n-p) dispersion {dispersion:.4g}"
    else:
        cov = bread
        se_desc = "model-based (GLM information)"
    if not converged:
        notes.append((ITSWarning, "the GLM fit did not converge; treat the estimates with caution"))
    dev_resid = np.asarray(fam_obj.resid_dev(y, mu))
    deviance = float(np.sum(fam_obj.resid_dev(y, mu) ** 2))
    names = {
        "gamma": "gamma GLM (log link, Pearson dispersion)",
        "poisson": "Poisson GLM (log link)",
        "quasipoisson": "quasi-Poisson GLM (log link, Pearson dispersion)",
        "negbin": "negative binomial (NB2) GLM (log link, θ by ML)",
    }
    return {
        "params": beta,
        "cov": cov,
        "df_resid": n - k,
        "dispersion": dispersion,
        "sigma": None,
        "loglik": None if family == "quasipoisson" else loglik,
        "aic": None if family == "quasipoisson" or loglik is None else float(-2 * loglik + 2 * n_par),
        "deviance": deviance,
        "pearson_chi2": pearson,
        "ar_params": (),
        "ar_std_errors": (),
        "ar_conf_int": (),
        "theta": theta,
        "theta_std_error": theta_se,
        "residuals": dev_resid,
        "residual_kind": "deviance",
        "diagnostic_X": X,
        "converged": converged,
        "iterations": iterations,
        "method_description": names[family] + (" with log offset" if log_off is not None else ""),
        "se_description": se_desc,
    }


_COUNT_GLS_MAXITER = 200
_COUNT_GLS_DIVERGED = 8.0
"""The iteration has diverged when a fitted log mean moves this far from the independent-errors GLM's."""


class _CountGLSFailed(Exception):
    """The quasi-likelihood GLS for counts did not converge (handled by :func:`fit_its`)."""


_MAX_ETA_STEP = 1.0
"""Largest change of the linear predictor in one quasi-likelihood GLS step (steps are damped to it)."""


def _ar1_near(X: np.ndarray, y: np.ndarray, ar: ARData, reml: bool, phi0: float) -> tuple[Any, bool]:
    """REML/ML AR(1) fit searched near ``phi0`` (full grid search when the optimum is at the bracket edge)."""

    def negll(r: float) -> float:
        prof = gls_at(np.array([r]), X, y, ar)
        return -(prof.loglik_reml if reml else prof.loglik_ml)

    lo, hi = max(-0.99, phi0 - 0.05), min(0.99, phi0 + 0.05)
    res = optimize.minimize_scalar(negll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-11})
    r = float(res.x)
    if (r - lo < 1e-6 and lo > -0.99) or (hi - r < 1e-6 and hi < 0.99):
        return fit_ar_profile(X, y, ar, 1, reml)
    return gls_at(np.array([r]), X, y, ar), bool(res.success)


def _fit_count_gls(
    X: np.ndarray,
    y: np.ndarray,
    log_off: np.ndarray | None,
    family: str,
    ar: ARData,
    reml: bool,
    notes: list[tuple[type[Warning], str]],
) -> dict[str, Any]:
    """Quasi-likelihood GLS for counts: log link, variance ``σ² μ``, AR(1) correlation (standardised scale).

    Iterates GLS on the working response ``z = η + (y - μ)/μ`` with weights ``μ`` (the variance function)
    and an AR(1) correlation estimated by REML/ML at each step, until the coefficients settle; the same
    iteration as repeated ``nlme::gls(z ~ X - 1, weights = varFixed(~1/μ), correlation = corAR1())``.
    The dispersion ``σ²`` is estimated (the residual variance of the weighted, whitened fit).
    """
    n, k = X.shape
    off = np.zeros(n) if log_off is None else log_off
    if np.any(y < 0):
        raise ITSInputError("count outcomes must be non-negative")
    glm = _glm_fit(X, y, log_off, sm.families.Poisson(), None)
    beta = np.asarray(glm.params, dtype="float64")
    eta_glm = X @ beta
    converged = False
    prof = None
    iterations = 0
    while iterations < _COUNT_GLS_MAXITER:
        iterations += 1
        eta = X @ beta + off
        mu = np.exp(eta)
        z = eta - off + (y - mu) / mu
        sw = np.sqrt(mu)
        if prof is None:
            prof, ok = fit_ar_profile(X * sw[:, None], z * sw, ar, 1, reml)
        else:  # warm start: the AR coefficient moves little between iterations
            prof, ok = _ar1_near(X * sw[:, None], z * sw, ar, reml, float(prof.phi[0]))
        step = prof.beta - beta
        big = float(np.max(np.abs(X @ step)))
        if big > _MAX_ETA_STEP:
            step *= _MAX_ETA_STEP / big
        beta = beta + step
        if float(np.max(np.abs(X @ beta - eta_glm))) > _COUNT_GLS_DIVERGED:
            raise _CountGLSFailed(
                f"the quasi-likelihood GLS iteration diverged (fitted values moved more than a factor "
                f"e^{_COUNT_GLS_DIVERGED:g} from the GLM's; AR(1) estimate {float(prof.phi[0]):.3f}, "
                f"{n} points, {k} terms)"
            )
        if float(np.max(np.abs(step) / (1.0 + np.abs(beta)))) < 1e-9:
            converged = ok
            break
    assert prof is not None
    if not converged:
        raise _CountGLSFailed(
            f"the quasi-likelihood GLS iteration did not converge in {iterations} iterations"
        )
    eta = X @ beta + off
    mu = np.exp(eta)
    z = eta - off + (y - mu) / mu
    sw = np.sqrt(mu)
    Xw = X * sw[:, None]
    prof = gls_at(prof.phi, Xw, z * sw, ar)
    pacf = pacf_from_ar(prof.phi)
    if np.any(np.abs(pacf) >= BOUNDARY):
        notes.append(
            (
                ARBoundaryWarning,
                f"gls: the AR(1) estimate {float(prof.phi[0]):.4f} is at the boundary of stationarity; the "
                "errors may be non-stationary or the trend misspecified, and the SEs are unreliable",
            )
        )
    dispersion = prof.rss / (n - k)
    pearson = float(np.sum((y - mu) ** 2 / mu))
    deviance = float(2 * np.sum(special.xlogy(y, y / mu) - (y - mu)))
    label = "Poisson" if family == "poisson" else "quasi-Poisson"
    return {
        "params": prof.beta,
        "cov": prof.cov(),
        "df_resid": n - k,
        "dispersion": float(dispersion),
        "sigma": None,
        "loglik": None,
        "aic": None,
        "deviance": deviance,
        "pearson_chi2": pearson,
        "ar_params": (float(prof.phi[0]),),
        "ar_std_errors": (math.nan,),
        "ar_conf_int": ((math.nan, math.nan),),
        "theta": None,
        "theta_std_error": None,
        "residuals": prof.whitened_resid / math.sqrt(prof.rss / n),
        "residual_kind": "normalised (whitened, Pearson scale)",
        "diagnostic_X": prof.whitened_X,
        "converged": converged,
        "iterations": iterations,
        "method_description": (
            f"{label} quasi-likelihood GLS (log link, variance σ²μ with σ² estimated), AR(1) errors, "
            f"{'REML' if reml else 'ML'}" + (" with log offset" if log_off is not None else "")
        ),
        "se_description": "model-based (quasi-likelihood GLS)",
    }


def _fit_ar(
    X: np.ndarray,
    y: np.ndarray,
    ar: ARData,
    method: str,
    order: int,
    conf_level: float,
    notes: list[tuple[type[Warning], str]],
) -> dict[str, Any]:
    n, k = X.shape
    iterations: int | None = None
    ar_se: tuple[float, ...] = tuple(math.nan for _ in range(order))
    ar_ci: tuple[tuple[float, float], ...] = tuple((math.nan, math.nan) for _ in range(order))
    if method == "prais-winsten":
        prof, iterations, converged = prais_winsten(X, y, ar)
        cov = prof.cov()
        sigma = math.sqrt(prof.rss / (n - k))
        loglik: float | None = None
        aic: float | None = None
        desc = "Prais–Winsten AR(1) FGLS (iterated, first observation kept)"
        se_desc = "model-based (transformed regression)"
    else:
        reml = method == "gls-reml"
        prof, converged = fit_ar_profile(X, y, ar, order, reml)
        loglik = prof.loglik_reml if reml else prof.loglik_ml
        aic = -2 * loglik + 2 * (k + order + 1)
        if method == "arima":
            theta = np.r_[prof.beta, prof.phi]
            se0 = np.sqrt(np.diag(prof.cov()))
            steps = np.r_[
                1e-3 * se0, np.full(order, 1e-3 * math.sqrt(max(1 - float(np.max(prof.phi**2)), 1e-6) / n))
            ]
            H = numerical_hessian(lambda th: concentrated_loglik(th, X, y, ar), theta, steps)
            with np.errstate(invalid="ignore"):
                full = np.linalg.inv(-H) if np.all(np.isfinite(H)) else np.full(H.shape, np.nan)
            cov = full[:k, :k]
            ar_se = tuple(float(math.sqrt(v)) if v > 0 else math.nan for v in np.diag(full)[k:])
            # Innovation SD, as stats::arima's sigma2: marginal variance times prod(1 - pacf^2).
            sigma = math.sqrt(prof.rss / n * float(np.prod(1 - pacf_from_ar(prof.phi) ** 2)))
            desc = f"regression with ARIMA({order},0,0) errors, exact maximum likelihood"
            se_desc = "observed information (numerical Hessian of the exact likelihood)"
        else:
            cov = prof.cov()
            sigma = math.sqrt(prof.rss / (n - k if reml else n))
            if order == 1:
                ar_ci = (phi_interval_ar1(X, y, ar, float(prof.phi[0]), reml, conf_level),)
            desc = f"generalised least squares, AR({order}) errors, {'REML' if reml else 'ML'}"
            se_desc = "model-based (GLS)"
    if not converged:
        notes.append(
            (ITSWarning, f"{method}: the optimiser did not converge; treat the estimates with caution")
        )
    pacf = pacf_from_ar(prof.phi)
    if np.any(np.abs(pacf) >= BOUNDARY):
        notes.append(
            (
                ARBoundaryWarning,
                f"{method}: the AR estimate is at the boundary of stationarity (partial autocorrelation "
                f"{', '.join(f'{v:.4f}' for v in pacf)}); the errors may be non-stationary or the trend "
                "misspecified, and the SEs are unreliable",
            )
        )
    resid_norm = prof.whitened_resid / math.sqrt(prof.rss / n)
    return {
        "params": prof.beta,
        "cov": cov,
        "df_resid": n - k,
        "dispersion": sigma**2,
        "sigma": sigma,
        "loglik": None if loglik is None else float(loglik),
        "aic": None if aic is None else float(aic),
        "deviance": None,
        "pearson_chi2": None,
        "ar_params": tuple(float(v) for v in prof.phi),
        "ar_std_errors": ar_se,
        "ar_conf_int": ar_ci,
        "theta": None,
        "theta_std_error": None,
        "residuals": resid_norm,
        "residual_kind": "normalised (whitened)",
        "diagnostic_X": prof.whitened_X,
        "converged": converged,
        "iterations": iterations,
        "method_description": desc,
        "se_description": se_desc,
    }
