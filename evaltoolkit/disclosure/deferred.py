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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import pandas as pd

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

__all__ = ["ExactCount", "ProseCounts", "Resting", "ShareOf", "WilsonOf", "publish_results", "typed_records"]

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
    :func:`~evaltoolkit.disclosure.publish_text_counts`; ``note`` (``{few}`` is filled with the policy's
    words, e.g. "fewer than 8") is appended when any count of ``ns`` is small under the policy.

    Examples
    --------
    >>> pol = get_policy("nhs")
    >>> ProseCounts("mean change among the 144 complete cases").resolve(pol)
    'mean change among the about 145 complete cases'
    >>> ProseCounts("paired t", (5,), "not shown: {few} people").resolve(pol)
    'paired t; not shown: fewer than 8 people'
    """

    text: str
    ns: tuple[Any, ...] = ()
    note: str = ""

    def resolve(self, pol: Policy) -> Any:
        """The published text."""
        text = self.text
        if self.note and any(pol.is_small(n) for n in self.ns):
            few = "too few" if pol.small is None else f"fewer than {pol.small[1] + 1}"
            text = f"{text}; {self.note.format(few=few)}"
        return publish_text_counts(text, pol)


@dataclass(frozen=True)
class WilsonOf:
    """A Wilson interval bound of ``num / den`` from the published counts (``None`` when either is
    suppressed or ``den`` is 0); ``bound`` is ``"lower"`` or ``"upper"``.

    Examples
    --------
    >>> pol = get_policy("nhs")
    >>> round(WilsonOf(141, 203, 0.95, "lower").resolve(pol), 4), WilsonOf(3, 203, 0.95, "upper").resolve(pol)
    ... # of the published 140 / 205: statsmodels proportion_confint(140, 205, method="wilson") gives 0.61636
    (0.6164, None)
    """

    num: int | None
    den: int | None
    conf_level: float
    bound: str

    def resolve(self, pol: Policy) -> Any:
        """The bound of the Wilson interval of the published counts."""
        k, n = pol.publish_count(self.num), pol.publish_count(self.den)
        if not isinstance(k, int) or not isinstance(n, int) or n == 0:
            return None
        z = NormalDist().inv_cdf(0.5 + self.conf_level / 2)
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half if self.bound == "lower" else centre + half


def typed_records(
    df: pd.DataFrame,
    *,
    counts: Sequence[str] = (),
    blank: Sequence[tuple[Sequence[str], Sequence[str], str]] = (),
    n_columns: Mapping[str, Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Records of an exact estimate table with typed values, as :func:`publish_results` will publish them.

    ``counts``: count columns (:class:`ExactCount`). ``blank``: rules ``(n columns, blanked columns, note)``:
    on a row where any of the n columns is small under the policy, the blanked columns are blank and the
    note is added to ``method``. ``n_columns`` gives extra per-row counts by name (not published) that rules
    may use. Estimates, intervals, statistics, means, SDs and rates are rounded to the policy's decimals,
    p-values and standard errors to significant digits; the SE of an effect size is blank; ``df`` (from
    exact counts) is blank. Other columns pass through.

    Examples
    --------
    >>> t = pd.DataFrame({"term": ["mean_change"], "estimate": [-3.8712], "n": [5], "method": ["paired t"]})
    >>> recs = typed_records(t, counts=["n"], blank=[(["n"], ["estimate"], "not shown: {few} people")])
    >>> (row,) = publish_results(recs, "nhs")
    >>> row["estimate"], row["n"], row["method"]
    (None, '*', 'paired t; not shown: fewer than 8 people')
    """
    from evaltoolkit.disclosure.estimates import _ROUNDED_COLUMNS, EFFECT_SIZE_TERMS

    extra = {k: list(v) for k, v in (n_columns or {}).items()}
    out = []
    for i, rec in enumerate(df.to_dict("records")):
        values = {**rec, **{k: v[i] for k, v in extra.items()}}
        blanks: dict[str, tuple[Any, ...]] = {}
        notes: list[tuple[tuple[Any, ...], str]] = []
        for ns_cols, cols, note in blank:
            ns = tuple(values[c] for c in ns_cols)
            for c in cols:
                blanks[c] = blanks.get(c, ()) + ns
            if note:
                notes.append((ns, note))
        row: dict[str, Any] = {}
        for c, v in rec.items():
            name = str(c)
            ns = blanks.get(name, ())
            if name in counts:
                row[name] = ExactCount(None if _missing(v) else int(v))
            elif name == "df":
                row[name] = None
            elif name in _ROUNDED_COLUMNS or name.endswith("_per_person_year"):
                row[name] = Resting(None if _missing(v) else float(v), ns, "estimate")
            elif name in ("p_value", "p_adjusted"):
                row[name] = Resting(None if _missing(v) else float(v), ns, "p_value")
            elif name == "std_error":
                effect_size = rec.get("term") in EFFECT_SIZE_TERMS
                row[name] = Resting(None if _missing(v) or effect_size else float(v), ns, "std_error")
            elif name == "method":
                (ns_note, note) = notes[0] if notes else ((), "")
                row[name] = ProseCounts(str(v), ns_note, note)
            elif ns:
                row[name] = Resting(None if _missing(v) else float(v), ns, "model")
            else:
                row[name] = v
        out.append(row)
    return out


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


_TYPED = (ExactCount, Resting, ShareOf, ProseCounts, WilsonOf)


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
