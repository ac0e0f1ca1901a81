"""Publishing the report's counts and estimate tables under a policy.

The report modules (:mod:`evaltoolkit.report`) hold no suppression or rounding logic of their own: a count
is published with :func:`publish_count`, a statistic resting on too few people is found with
:func:`is_small` and blanked with :func:`blank_small`, and an estimate table is rounded with
:func:`round_published`. ``rule`` is anything :func:`~evaltoolkit.disclosure.get_policy` accepts: a
:class:`~evaltoolkit.disclosure.Policy`, a registered name (``"nhs"``, ``"ukllc"``, ...), the protocol's
custom mapping ``{low, high, round_to}`` or ``None`` (no suppression).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure.policy import (
    P_VALUE_DIGITS,
    PUBLISHED_DECIMALS,
    STD_ERROR_DIGITS,
    Policy,
    get_policy,
)
from evaltoolkit.disclosure.tables import round_sig

__all__ = [
    "COUNT_DERIVED_FIELDS",
    "EFFECT_SIZE_TERMS",
    "ESTIMATE_FIELDS",
    "blank_small",
    "few_words",
    "is_small",
    "publish_count",
    "publish_count_text",
    "round_published",
]

PolicyLike = Policy | str | Mapping[str, Any] | None

ESTIMATE_FIELDS: tuple[str, ...] = (
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "p_adjusted",
    "ci_lower",
    "ci_upper",
)
"""Numeric columns of an estimate table that rest on the people counted in its ``n``."""

COUNT_DERIVED_FIELDS: tuple[str, ...] = ("df",)
"""Columns computed from exact counts (degrees of freedom: n − 1 for a paired t, Welch–Satterthwaite
from the group sizes), published blank: they would give away the exact count behind a rounded ``n``.
(Blank rather than dropped, so the tables keep the columns of :data:`~evaltoolkit.prepost.ESTIMATE_COLUMNS`
and results.json keeps its keys.)"""

EFFECT_SIZE_TERMS: tuple[str, ...] = ("d_z", "d_av", "g_av")
"""Terms of standardised effect sizes: their standard error is published blank (with the effect size and
the mean change it gives the exact ``n`` away)."""

_ROUNDED_COLUMNS = frozenset(
    {
        "estimate",
        "ci_lower",
        "ci_upper",
        "statistic",
        "smd",
        "mean_completers",
        "mean_dropouts",
        "sd_completers",
        "sd_dropouts",
        "observed_mean",
    }
)


def publish_count(value: Any, rule: PolicyLike) -> int | str | None:
    """A count as ``rule`` lets it be published (see :meth:`evaltoolkit.disclosure.Policy.publish_count`).

    Examples
    --------
    >>> rule = {"low": 1, "high": 7, "round_to": 5}
    >>> [publish_count(v, rule) for v in (0, 3, 7, 8, 12, 13, 209, None)]
    [0, '*', '*', 10, 10, 15, 210, None]
    >>> publish_count(7, "ukllc"), publish_count(7, "opensafely_midpoint6"), publish_count(7, None)
    ('*', 9, 7)
    """
    return get_policy(rule).publish_count(value)


def publish_count_text(values: pd.Series, rule: PolicyLike) -> pd.Series:
    """A column of exact counts as published text (``"*"``, ``"0"``, ``"15"``); missing stays missing.

    Examples
    --------
    >>> publish_count_text(pd.Series([0, 3, 12, 13, None]), "nhs").tolist()
    ['0', '*', '10', '15', None]
    >>> publish_count_text(pd.Series([3, 12]), None).tolist()
    ['3', '12']
    """
    pol = get_policy(rule)
    if pol.exact:
        return values.astype("Int64").astype("string").astype("object")
    shown = (pol.publish_count(v) for v in values)
    return pd.Series([None if s is None else str(s) for s in shown], index=values.index, dtype="object")


def is_small(value: Any, rule: PolicyLike) -> bool:
    """Whether an exact count is one too small for anything resting on it to be published (a mean, SD or
    estimate of 1–7 people under the NHS rule, as a mean length of stay of 1–7 spells).

    Examples
    --------
    >>> rule = {"low": 1, "high": 7, "round_to": 5}
    >>> [is_small(v, rule) for v in (0, 1, 7, 8, None)], is_small(3, None), is_small(9, "ukllc")
    ([False, True, True, False, False], False, True)
    """
    return get_policy(rule).is_small(value)


def few_words(rule: PolicyLike, default: str = "too few") -> str:
    """Words for "too few people" under ``rule``: ``fewer than 8`` (NHS), ``fewer than 10`` (UK LLC).

    Examples
    --------
    >>> few_words("nhs"), few_words("ukllc"), few_words(None), few_words(None, "")
    ('fewer than 8', 'fewer than 10', 'too few', '')
    """
    pol = get_policy(rule)
    return default if pol.small is None else f"fewer than {pol.small[1] + 1}"


def _sig(values: pd.Series, digits: int) -> pd.Series:
    return pd.Series([round_sig(v, digits) for v in values], index=values.index, dtype="float64")


def round_published(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of an estimate table rounded as published, so no exact count can be solved for from it.

    Estimates, intervals, test statistics, means, SDs, standardised differences and rates (columns
    ending ``_per_person_year``) to :data:`~evaltoolkit.disclosure.PUBLISHED_DECIMALS` decimals; p-values
    to :data:`~evaltoolkit.disclosure.P_VALUE_DIGITS` and standard errors to
    :data:`~evaltoolkit.disclosure.STD_ERROR_DIGITS` significant digits; the standard error of an effect
    size (a ``term`` in :data:`EFFECT_SIZE_TERMS`) blank. Other columns (counts, text) are unchanged, and
    rounding again changes nothing.

    Examples
    --------
    >>> t = pd.DataFrame(
    ...     {
    ...         "term": ["mean_pre", "d_z"],
    ...         "estimate": [13.80556, -0.79315],
    ...         "std_error": [0.626273, 0.095],
    ...         "p_value": [np.nan, 5.07867e-17],
    ...         "n": [145, 145],
    ...     }
    ... )
    >>> round_published(t)
           term  estimate  std_error       p_value    n
    0  mean_pre     13.81       0.63           NaN  145
    1       d_z     -0.79        NaN  5.080000e-17  145
    """
    out = df.copy()
    for c in out.columns:
        name = str(c)
        if name in _ROUNDED_COLUMNS or name.endswith("_per_person_year"):
            out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64").round(PUBLISHED_DECIMALS)
        elif name in ("p_value", "p_adjusted"):
            out[c] = _sig(out[c], P_VALUE_DIGITS)
        elif name == "std_error":
            out[c] = _sig(out[c], STD_ERROR_DIGITS)
    if "std_error" in out.columns and "term" in out.columns:
        out["std_error"] = out["std_error"].where(~out["term"].isin(EFFECT_SIZE_TERMS))
    return out


def blank_small(
    df: pd.DataFrame, small: Any, columns: tuple[str, ...] | list[str], note: str | None = None
) -> pd.DataFrame:
    """A copy of ``df`` with ``columns`` blank (NaN) on the rows where ``small`` is True; ``note`` is
    appended to the ``method`` of those rows.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [1.5, 2.5], "n": [3, 30], "method": ["mean", "mean"]})
    >>> blank_small(t, t["n"] < 8, ["estimate"], "not shown: fewer than 8 people")
       estimate   n                                method
    0       NaN   3  mean; not shown: fewer than 8 people
    1       2.5  30                                  mean
    """
    out = df.copy()
    mask = np.asarray(small, dtype=bool)
    if not mask.any():
        return out
    for c in columns:
        if c in out.columns:
            out[c] = out[c].astype("float64").where(~mask)
    if note and "method" in out.columns:
        out["method"] = out["method"].astype(str).where(~mask, out["method"].astype(str) + f"; {note}")
    return out
