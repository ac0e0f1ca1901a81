"""Exact results with typed values, published in one pass.

The analysis stages put **typed values** where a published number depends on the policy, instead of
publishing as they go:

* :class:`ExactCount` — a count of people, events or rows;
* :class:`Resting` — a statistic (mean, SD, estimate, interval bound) resting on one or more counts of people:
  blank when any of them is small, else rounded by its kind;
* :class:`ShareOf` — a proportion (or percentage) computed from the *published* counts;
* :class:`ProseCounts` — text that quotes counts (rewritten by :func:`publish_text_counts`);
* :class:`WilsonOf` — a Wilson interval bound of a share of published counts;
* :class:`FromPublished` — anything else computed from published counts (a rate per person-year, a
  paired-proportion change and its test from the published cells of a 2 × 2 table, a Holm adjustment of
  such tests), with the exact value kept for policies that publish counts as they are;
* :class:`SmallChoice` — wording that depends on whether a count is too small to publish;
* :class:`CountsInText` — text built elsewhere with placeholders for counts (:class:`CountSlots`);
* :class:`ShownCount` — an observed count drawn in a figure (``None`` when suppressed).

Typed values may hold typed values (a :class:`Resting` of a :class:`FromPublished`, a
:class:`ProseCounts` of a :class:`SmallChoice`): the inner ones are resolved first.

:func:`publish_results` then walks the whole results tree once — dictionaries, lists, tuples and the
object columns of data frames — and resolves every typed value under the policy; the renderers only ever
see its output. (Plain values pass through unchanged.)
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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

__all__ = [
    "CountSlots",
    "CountsInText",
    "ExactCount",
    "FromPublished",
    "ProseCounts",
    "Resting",
    "ShareOf",
    "ShownCount",
    "SmallChoice",
    "WilsonOf",
    "publish_results",
    "typed_records",
]

PolicyLike = Policy | str | Mapping[str, Any] | None


@dataclass(frozen=True)
class ExactCount:
    """An exact count, published by the policy (``*``, rounded, or as it is).

    Examples
    --------
    >>> ExactCount(3).resolve(get_policy("nhs")), ExactCount(143).resolve(get_policy("nhs"))
    ('*', 145)
    >>> pol = get_policy("nhs")
    >>> ExactCount(143, text=True).resolve(pol), ExactCount(None, text=True).resolve(pol)
    ('145', None)
    """

    n: int | None
    text: bool = False
    """Published as text (``"*"``, ``"145"``), as in a table column that mixes both."""

    def resolve(self, pol: Policy) -> Any:
        """The published count."""
        shown = pol.publish_count(self.n)
        return None if self.text and shown is None else (str(shown) if self.text else shown)


@dataclass(frozen=True)
class ShownCount:
    """An observed count drawn in a figure: ``None`` (not drawn) when the policy suppresses it, else the
    published (rounded) count as a float.

    Examples
    --------
    >>> pol = get_policy("nhs")
    >>> ShownCount(3).resolve(pol), ShownCount(143).resolve(pol), ShownCount(143).resolve(get_policy("none"))
    (None, 145.0, 143.0)
    """

    n: int | None

    def resolve(self, pol: Policy) -> Any:
        """The count as drawn."""
        shown = pol.publish_count(self.n)
        return None if shown is None or shown == SUPPRESSED else float(shown)


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


_UNSET: Any = object()


@dataclass(frozen=True)
class FromPublished:
    """A value computed by ``fn`` from the **published** counts ``counts`` (each ``"*"``, a rounded count,
    or ``None``), so that no exact count can be solved for from it; with ``with_policy=True``, ``fn``
    receives the policy first (for its words, e.g. "fewer than 8").

    Under a policy that publishes counts as they are (``exact``), ``exact`` — the value computed from the
    exact data by the analysis — is published instead, when given.

    Examples
    --------
    >>> pol = get_policy("nhs")
    >>> def per_year(k, y):
    ...     return k / y if isinstance(k, int) and isinstance(y, int) else None
    >>> rate = FromPublished(per_year, (143, 52))
    >>> rate.resolve(pol), FromPublished(rate.fn, (3, 52)).resolve(pol)
    (2.9, None)
    >>> FromPublished(rate.fn, (143, 52), exact=2.75).resolve(get_policy("none"))
    2.75
    """

    fn: Callable[..., Any]
    counts: tuple[Any, ...]
    exact: Any = field(default=_UNSET, compare=False)
    with_policy: bool = False

    def resolve(self, pol: Policy) -> Any:
        """The value from the published counts (or the exact value under an exact policy)."""
        if pol.exact and self.exact is not _UNSET:
            return self.exact
        shown = [pol.publish_count(None if _missing(c) else int(c)) for c in self.counts]
        return self.fn(pol, *shown) if self.with_policy else self.fn(*shown)


@dataclass(frozen=True)
class SmallChoice:
    """Wording chosen by whether any count of ``ns`` is too small to publish under the policy: ``small``
    (with ``{few}`` replaced by the policy's words, e.g. "fewer than 8") or else ``otherwise``.

    Examples
    --------
    >>> pol = get_policy("nhs")
    >>> c = SmallChoice((5,), "The cohort has {few} patients.", "Among 143 patients ...")
    >>> c.resolve(pol)
    'The cohort has fewer than 8 patients.'
    >>> c.resolve(get_policy("none"))
    'Among 143 patients ...'
    """

    ns: tuple[Any, ...]
    small: Any
    otherwise: Any

    def resolve(self, pol: Policy) -> Any:
        """The wording for this policy."""
        if any(pol.is_small(n) for n in self.ns):
            few = "too few" if pol.small is None else f"fewer than {pol.small[1] + 1}"
            return self.small.replace("{few}", few) if isinstance(self.small, str) else self.small
        return self.otherwise


_SLOT = re.compile(r"\u27e8count:(\d+)\u27e9")


@dataclass(frozen=True)
class CountsInText:
    """Text with placeholders ``⟨count:i⟩`` for the counts ``counts[i]`` (see :class:`CountSlots`), each
    published by the policy and written with thousands separators (``1,235``, ``*``).

    ``str()`` gives the text with the exact counts, for the analyst's own terminal.

    Examples
    --------
    >>> t = CountsInText("⟨count:0⟩ of ⟨count:1⟩ spells", (3, 9381))
    >>> t.resolve(get_policy("nhs")), str(t)
    ('* of 9,380 spells', '3 of 9,381 spells')
    """

    template: str
    counts: tuple[Any, ...]

    @classmethod
    def of(cls, text: str, *counts: Any) -> CountsInText:
        """From text with ``str.format`` fields ``{0}``, ``{1}``… for the counts.

        >>> CountsInText.of("{0} of {1} spells", 3, 9381).resolve(get_policy("nhs"))
        '* of 9,380 spells'
        """
        return cls(text.format(*(f"\u27e8count:{i}\u27e9" for i in range(len(counts)))), tuple(counts))

    def resolve(self, pol: Policy) -> str:
        """The text with the published counts."""
        return self._fill(pol)

    def _fill(self, pol: Policy | None) -> str:
        def one(m: re.Match[str]) -> str:
            n = self.counts[int(m.group(1))]
            shown = n if pol is None else pol.publish_count(n)
            return f"{shown:,}" if isinstance(shown, int) else str(shown)

        return _SLOT.sub(one, self.template)

    def __str__(self) -> str:
        return self._fill(None)


class CountSlots:
    """A ``count_format`` for code that writes counts into text (e.g. the series checks' messages): each
    call records the count (rounded to a whole number) and returns a placeholder; :meth:`text` turns a
    message holding placeholders into a :class:`CountsInText`, published later with everything else.

    Examples
    --------
    >>> slots = CountSlots()
    >>> msg = f"{slots(3.0)} attendances in March, {slots(1234)} in April"
    >>> slots.text(msg).resolve(get_policy("nhs"))
    '* attendances in March, 1,235 in April'
    >>> slots.text("no counts here")
    'no counts here'
    """

    def __init__(self) -> None:
        self._counts: list[int] = []

    def __call__(self, x: float) -> str:
        self._counts.append(round(x))
        return f"\u27e8count:{len(self._counts) - 1}\u27e9"

    def text(self, message: str) -> CountsInText | str:
        """``message`` with its placeholders as a :class:`CountsInText` (plain text when it has none)."""
        used: list[int] = []

        def renumber(m: re.Match[str]) -> str:
            used.append(self._counts[int(m.group(1))])
            return f"\u27e8count:{len(used) - 1}\u27e9"

        template = _SLOT.sub(renumber, message)
        return CountsInText(template, tuple(used)) if used else message


def typed_records(
    df: pd.DataFrame,
    *,
    counts: Sequence[str] = (),
    blank: Sequence[tuple[Sequence[str], Sequence[str], str]] = (),
    n_columns: Mapping[str, Sequence[Any]] | None = None,
    overrides: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Records of an exact estimate table with typed values, as :func:`publish_results` will publish them.

    ``counts``: count columns (:class:`ExactCount`). ``blank``: rules ``(n columns, blanked columns, note)``:
    on a row where any of the n columns is small under the policy, the blanked columns are blank and the
    note is added to ``method``. ``n_columns`` gives extra per-row counts by name (not published) that rules
    may use. Estimates, intervals, statistics, means, SDs and rates are rounded to the policy's decimals,
    p-values and standard errors to significant digits; the SE of an effect size is blank; ``df`` (from
    exact counts) is blank. Other columns pass through. ``overrides`` replaces values of a row (by position)
    before they are typed, e.g. by a :class:`FromPublished`: the value is then rounded and blanked like the
    one it replaces.

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
    for i, raw in enumerate(df.to_dict("records")):
        rec = {**raw, **(overrides or {}).get(i, {})}
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
                row[name] = Resting(_number(v), ns, "estimate")
            elif name in ("p_value", "p_adjusted"):
                row[name] = Resting(_number(v), ns, "p_value")
            elif name == "std_error":
                effect_size = rec.get("term") in EFFECT_SIZE_TERMS
                row[name] = Resting(None if effect_size else _number(v), ns, "std_error")
            elif name == "method":
                (ns_note, note) = notes[0] if notes else ((), "")
                row[name] = ProseCounts(v if isinstance(v, _TYPED) else str(v), ns_note, note)
            elif ns:
                row[name] = Resting(_number(v), ns, "model")
            else:
                row[name] = v
        out.append(row)
    return out


def _number(v: Any) -> Any:
    """A float, ``None`` for a missing value; a typed value stays (resolved first when published)."""
    if isinstance(v, _TYPED):
        return v
    return None if _missing(v) else float(v)


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


_TYPED = (
    ExactCount,
    Resting,
    ShareOf,
    ProseCounts,
    WilsonOf,
    FromPublished,
    SmallChoice,
    CountsInText,
    ShownCount,
)


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
            inner = {
                f.name: walk(getattr(x, f.name))
                for f in dataclasses.fields(x)
                if isinstance(getattr(x, f.name), _TYPED)
            }
            return (dataclasses.replace(x, **inner) if inner else x).resolve(pol)
        if isinstance(x, pd.DataFrame):
            return _walk_frame(x, walk)
        if isinstance(x, Mapping):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, tuple):
            return tuple(walk(v) for v in x)
        return x

    return walk(obj)


def _walk_frame(df: pd.DataFrame, walk: Callable[[Any], Any]) -> pd.DataFrame:
    """A copy of a data frame with the typed values of its object columns resolved (each such column then
    takes the type its published values have: numbers with blanks become floats)."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if col.dtype == object and any(isinstance(v, _TYPED) for v in col):
            out[c] = pd.Series([walk(v) for v in col], index=out.index, dtype="object").infer_objects()
    return out
