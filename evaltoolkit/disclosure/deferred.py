"""Exact results with typed values, published in one pass.

The analysis stages put **typed values** where a published number depends on the policy, instead of
publishing as they go:

* :class:`ExactCount` — a count of people, events or rows;
* :class:`Resting` — a statistic (mean, SD, estimate, interval bound) resting on one or more counts of people:
  blank when any of them is small, else rounded by its kind;
* :class:`ShareOf` — a proportion (or percentage) computed from the *published* counts;
* :class:`ProseCounts` — text that quotes counts (rewritten by :func:`publish_text_counts`).

:func:`publish_results` then walks the whole results tree once and resolves every typed value under the
policy; the renderers only ever see its output. (Plain values pass through unchanged.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evaltoolkit.disclosure.policy import (
    P_VALUE_DIGITS,
    PUBLISHED_DECIMALS,
    STD_ERROR_DIGITS,
    SUPPRESSED,
    Policy,
    get_policy,
)
from evaltoolkit.disclosure.tables import round_sig
from evaltoolkit.disclosure.text import publish_text_counts

__all__ = ["ExactCount", "ProseCounts", "Resting", "ShareOf", "publish_results"]

PolicyLike = Policy | str | Mapping[str, Any] | None


@dataclass(frozen=True)
class ExactCount:
    """An exact count, published by the policy (``*``, rounded, or as it is).

    Examples
    --------
    >>> ExactCount(3).resolve(get_policy("nhs")), ExactCount(143).resolve(get_policy("nhs"))
    ('*', 145)
    """

    n: int | None

    def resolve(self, pol: Policy) -> Any:
        """The published count."""
        return pol.publish_count(self.n)


@dataclass(frozen=True)
class Resting:
    """A statistic resting on the people counted in ``ns``: blank (``None``) when any count is small under the
    policy, else rounded by ``kind`` (``"estimate"``: the policy's decimals; ``"p_value"``/``"std_error"``:
    significant digits; ``"model"``: unchanged).

    Examples
    --------
    >>> pol = get_policy("nhs")
    >>> Resting(13.80556, (145,)).resolve(pol), Resting(4.2, (145, 5)).resolve(pol)
    (13.81, None)
    >>> Resting(0.0123456, (145,), "p_value").resolve(pol)
    0.0123
    """

    value: float | None
    ns: tuple[Any, ...]
    kind: str = "estimate"

    def resolve(self, pol: Policy) -> Any:
        """The published statistic."""
        if self.value is None or any(pol.is_small(n) for n in self.ns):
            return None
        v = float(self.value)
        if not math.isfinite(v):
            return None
        if self.kind == "estimate":
            return round(v, PUBLISHED_DECIMALS)
        if self.kind == "p_value":
            return round_sig(v, P_VALUE_DIGITS)
        if self.kind == "std_error":
            return round_sig(v, STD_ERROR_DIGITS)
        return v


@dataclass(frozen=True)
class ShareOf:
    """``num / den`` from the published counts (``None`` when either is suppressed or ``den`` is 0);
    ``percent=True`` gives 0–100.

    Examples
    --------
    >>> pol = get_policy("nhs")
    >>> ShareOf(141, 203).resolve(pol), ShareOf(3, 203).resolve(pol)
    (0.6829268292682927, None)
    >>> ShareOf(141, 203, percent=True).resolve(pol)
    68.29268292682927
    """

    num: int | None
    den: int | None
    percent: bool = False

    def resolve(self, pol: Policy) -> Any:
        """The share of the published counts."""
        k, n = pol.publish_count(self.num), pol.publish_count(self.den)
        if not isinstance(k, int) or not isinstance(n, int) or n == 0 or SUPPRESSED in (k, n):
            return None
        return (100.0 if self.percent else 1.0) * k / n


@dataclass(frozen=True)
class ProseCounts:
    """Text quoting counts (``n = 187``, ``60 of 79``, ``144 complete cases``), published by
    :func:`~evaltoolkit.disclosure.publish_text_counts`.

    Examples
    --------
    >>> ProseCounts("mean change among the 144 complete cases").resolve(get_policy("nhs"))
    'mean change among the about 145 complete cases'
    """

    text: str

    def resolve(self, pol: Policy) -> Any:
        """The published text."""
        return publish_text_counts(self.text, pol)


_TYPED = (ExactCount, Resting, ShareOf, ProseCounts)


def publish_results(obj: Any, policy: PolicyLike = "nhs") -> Any:
    """A copy of a results tree (dicts, lists, tuples) with every typed value resolved under ``policy``.

    One pass, before any rendering: nothing else in the tree changes, and the input is not modified.

    Examples
    --------
    >>> row = {"kind": "spells", "rows_read": ExactCount(9381), "rows_excluded": ExactCount(3)}
    >>> exact = {"inputs": [row], "mean_los": Resting(12.3456, (40,)), "note": "kept"}
    >>> out = publish_results(exact, "nhs")
    >>> out["inputs"], out["mean_los"], out["note"]
    ([{'kind': 'spells', 'rows_read': 9380, 'rows_excluded': '*'}], 12.35, 'kept')
    """
    pol = get_policy(policy)

    def walk(x: Any) -> Any:
        if isinstance(x, _TYPED):
            return x.resolve(pol)
        if isinstance(x, Mapping):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, tuple):
            return tuple(walk(v) for v in x)
        return x

    return walk(obj)
