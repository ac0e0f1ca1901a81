"""Exceptions and warnings raised by :mod:`evaltoolkit.its`.

``ITSInputError`` subclasses :class:`evaltoolkit.errors.EvalToolkitError` (itself a ``ValueError``), so
callers can catch every toolkit input error at once. Warnings subclass :class:`ITSWarning`
(a ``UserWarning``) so they can be filtered precisely, e.g.
``warnings.simplefilter("ignore", ShortSeriesWarning)`` inside a simulation loop.
"""

from __future__ import annotations

from evaltoolkit.errors import EvalToolkitError

__all__ = [
    "ARBoundaryWarning",
    "AutocorrelationWarning",
    "ExtrapolationWarning",
    "ITSInputError",
    "ITSWarning",
    "ShortSeriesWarning",
]


class ITSInputError(EvalToolkitError):
    """Input to :func:`evaltoolkit.its.fit_its` is unusable (columns, periods, interruptions, options)."""


class ITSWarning(UserWarning):
    """Base class for warnings about an interrupted time series fit; each is also recorded in the result."""


class ARBoundaryWarning(ITSWarning):
    """An AR error estimate is at the boundary of stationarity (a partial autocorrelation of size ≥ 0.99),
    or an MA estimate at the boundary of invertibility (an MA root on or next to the unit circle)."""


class ShortSeriesWarning(ITSWarning):
    """A segment has fewer than 8 points (the Cochrane EPOC minimum is 3; trends on so few are fragile)."""


class ExtrapolationWarning(ITSWarning):
    """The counterfactual is extrapolated far: at the horizon it lies outside the pre-period's range widened
    by that range on each side, or the pre-period is shorter than the post-period horizon."""


class AutocorrelationWarning(ITSWarning):
    """The residual autocorrelation is high for the method: lag-1 autocorrelation of the residuals of an
    independent-error method (positive, and ``≥ 0.3`` or significant), or an AR estimate ≥ 0.8 (short-series
    bias)."""
