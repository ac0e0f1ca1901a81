"""Option sets of :func:`evaltoolkit.its.fit_its` as ``Literal`` types, plus the one runtime validator.

Each ``Literal`` is the single source for type hints, IDE completion and the runtime check.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from evaltoolkit.its.errors import ITSInputError

__all__ = ["CIMethod", "Effect", "Family", "Method", "SEType", "TransitionShape", "check_literal"]

Family = Literal["gaussian", "poisson", "quasipoisson", "negbin", "gamma"]
Method = Literal["ols", "gls-reml", "gls-ml", "prais-winsten", "arima"]
SEType = Literal["model", "newey-west"]
CIMethod = Literal["wald", "calibrated"]
Effect = Literal["level", "slope", "level+slope"]
TransitionShape = Literal["exclude", "ramp"]

COUNT_FAMILIES: tuple[str, ...] = ("poisson", "quasipoisson", "negbin")
LOG_LINK_FAMILIES: tuple[str, ...] = (*COUNT_FAMILIES, "gamma")
"""Families fitted as GLMs with a log link: effects are ratios (percent changes) of the mean."""
AR_METHODS: tuple[str, ...] = ("gls-reml", "gls-ml", "prais-winsten", "arima")
GLS_FAMILIES: tuple[str, ...] = ("gaussian", "poisson", "quasipoisson")
"""Families that ``gls-reml``/``gls-ml`` fit (counts by quasi-likelihood GLS on the log scale)."""


def check_literal(value: Any, options: Any, name: str) -> str:
    """Return ``value`` if it is one of the ``Literal`` type's options, else raise a clear error.

    Parameters
    ----------
    value : object
        The argument passed by the caller.
    options : typing.Literal
        The ``Literal`` type listing the permitted values.
    name : str
        The keyword name, used in the error message.

    Returns
    -------
    str
        ``value`` unchanged.

    Raises
    ------
    ITSInputError
        If ``value`` is not one of the permitted values.

    Examples
    --------
    >>> check_literal("poisson", Family, "family")
    'poisson'
    """
    allowed = get_args(options)
    if not isinstance(value, str) or value not in allowed:
        raise ITSInputError(
            f"{name}={value!r} is not supported; choose one of {', '.join(map(repr, allowed))}"
        )
    return value
