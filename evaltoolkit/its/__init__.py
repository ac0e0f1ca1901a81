"""Interrupted time series: segmented regression for service evaluations, validated against R.

One call fits the model, :func:`fit_its`, and returns an immutable :class:`ITSResult` with tidy tables
(``coefficients()``, ``effects()``, ``cumulative_effect()``, ``predictions()``), diagnostics, a summary,
a JSON-safe dictionary and a plot.

* **Families**: Gaussian, Poisson, quasi-Poisson (Pearson dispersion) and negative binomial, with an
  optional offset so counts are modelled as rates; gamma (log link) for positive skewed means such as the
  mean length of stay, whose effects are ratios with intervals that stay positive.
* **Autocorrelation**: Newey–West SEs (Stata ``newey``), GLS with AR errors by REML or ML (``nlme::gls``),
  Prais–Winsten (Stata ``prais``), regression with ARIMA(p,0,0) errors (``stats::arima``).
* **Designs**: level and/or slope changes, several (named) interruptions, phase-in periods (excluded or
  ramped), excluded periods and level-shift dummies, Fourier or calendar-month seasonality, covariates,
  controlled ITS with ``diff_`` terms (Stata ``itsa``) and staggered controlled ITS (each treated series at
  its own go-live, ``interruptions={series: date}``).
* **Sensitivity to the method**: :func:`compare_methods` fits one design with several pre-specified methods
  and returns one table and a forest plot (:class:`MethodComparison`).
* **Placebo and robustness checks**: :func:`robustness_checks` re-fits the analysis with an in-time
  placebo, in-space placebos and leave-one-control-out (:class:`RobustnessChecks`: table, forest plot).
* **Planning**: :func:`power` gives power, bias and CI coverage by simulation (vectorised), as Stata
  ``power itsa``.

The name ``power`` here is the function: the submodule is ``importlib.import_module("evaltoolkit.its.power")``
(``import evaltoolkit.its.power as m`` binds the function, because the package attribute is shadowed).

``level_change`` is the change at the first post-interruption period (time since interruption = 0
there, as Stata ``itsa``); see :mod:`evaltoolkit.its.design` for the coding and the alternative
convention of Lopez Bernal et al. (2017).
"""

from evaltoolkit.its._calibrate import Calibration
from evaltoolkit.its._types import CIMethod, Effect, Family, Method, SEType, TransitionShape
from evaltoolkit.its.compare import (
    DEFAULT_COUNT_METHODS,
    DEFAULT_GAMMA_METHODS,
    DEFAULT_GAUSSIAN_METHODS,
    MethodComparison,
    MethodSpec,
    compare_methods,
    parse_method,
)
from evaltoolkit.its.design import ITSDesign, build_its_design
from evaltoolkit.its.diagnostics import ITSDiagnostics
from evaltoolkit.its.errors import (
    ARBoundaryWarning,
    AutocorrelationWarning,
    ExtrapolationWarning,
    ITSInputError,
    ITSWarning,
    ShortSeriesWarning,
)
from evaltoolkit.its.fit import DEFAULT_MIN_POINTS, default_method, fit_its
from evaltoolkit.its.heterogeneity import (
    HeterogeneityResult,
    plot_forest,
    site_heterogeneity,
    sites_disagree,
)
from evaltoolkit.its.power import SUPPORTED_ANALYSES, power
from evaltoolkit.its.results import ITSResult, ITSSummary
from evaltoolkit.its.robustness import RobustnessChecks, robustness_checks

__all__ = [
    "DEFAULT_COUNT_METHODS",
    "DEFAULT_GAMMA_METHODS",
    "DEFAULT_GAUSSIAN_METHODS",
    "DEFAULT_MIN_POINTS",
    "SUPPORTED_ANALYSES",
    "ARBoundaryWarning",
    "AutocorrelationWarning",
    "CIMethod",
    "Calibration",
    "Effect",
    "ExtrapolationWarning",
    "Family",
    "HeterogeneityResult",
    "ITSDesign",
    "ITSDiagnostics",
    "ITSInputError",
    "ITSResult",
    "ITSSummary",
    "ITSWarning",
    "Method",
    "MethodComparison",
    "MethodSpec",
    "RobustnessChecks",
    "SEType",
    "ShortSeriesWarning",
    "TransitionShape",
    "build_its_design",
    "compare_methods",
    "default_method",
    "fit_its",
    "parse_method",
    "plot_forest",
    "power",
    "robustness_checks",
    "site_heterogeneity",
    "sites_disagree",
]

Calibration.__module__ = __name__  # documented (and shown in results) as evaltoolkit.its.Calibration
