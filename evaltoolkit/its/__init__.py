"""Interrupted time series: segmented regression for service evaluations, validated against R.

One call fits the model, :func:`fit_its`, and returns an immutable :class:`ITSResult` with tidy tables
(``coefficients()``, ``effects()``, ``cumulative_effect()``, ``predictions()``), diagnostics, a summary,
a JSON-safe dictionary and a plot.

* **Families**: Gaussian, Poisson, quasi-Poisson (Pearson dispersion) and negative binomial, with an
  optional offset so counts are modelled as rates.
* **Autocorrelation**: Newey–West SEs (Stata ``newey``), GLS with AR errors by REML or ML (``nlme::gls``),
  Prais–Winsten (Stata ``prais``), regression with ARIMA(p,0,0) errors (``stats::arima``).
* **Designs**: level and/or slope changes, several interruptions, phase-in periods (excluded or ramped),
  Fourier or calendar-month seasonality, covariates, controlled ITS with ``diff_`` terms (Stata ``itsa``).

``level_change`` is the change at the first post-interruption period (time since interruption = 0
there, as Stata ``itsa``); see :mod:`evaltoolkit.its.design` for the coding and the alternative
convention of Lopez Bernal et al. (2017).
"""

from evaltoolkit.its._types import Effect, Family, Method, SEType, TransitionShape
from evaltoolkit.its.design import ITSDesign, build_its_design
from evaltoolkit.its.diagnostics import ITSDiagnostics
from evaltoolkit.its.errors import ARBoundaryWarning, ITSInputError, ITSWarning, ShortSeriesWarning
from evaltoolkit.its.fit import fit_its
from evaltoolkit.its.results import ITSResult, ITSSummary

__all__ = [
    "ARBoundaryWarning",
    "Effect",
    "Family",
    "ITSDesign",
    "ITSDiagnostics",
    "ITSInputError",
    "ITSResult",
    "ITSSummary",
    "ITSWarning",
    "Method",
    "SEType",
    "ShortSeriesWarning",
    "TransitionShape",
    "build_its_design",
    "fit_its",
]
