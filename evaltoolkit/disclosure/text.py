"""Counts in prose: rewrite counts already written (:func:`publish_text_counts`) or build prose from typed
slots that the policy fills (:class:`Phrase` with :class:`Count`, :class:`Share`, :class:`Mean`)."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evaltoolkit.disclosure.policy import SUPPRESSED, Policy, get_policy

__all__ = ["Count", "Mean", "Phrase", "Share", "publish_text_counts"]


def _words(n: int, pol: Policy) -> str:
    shown = pol.publish_count(n)
    if shown == SUPPRESSED:
        return f"fewer than {pol.high + 1}"  # type: ignore[operator]
    return str(n) if shown == n else f"about {shown}"


_UNIT_WORDS = (
    "patients|people|persons|subjects|participants|staff|complete cases|cases|pairs|forms|scores|rows|"
    "completers|drop-outs|responses|changes|stopped|started"
)
_N_EQUALS = re.compile(r"\bn\s*=\s*(\d+)\b")
# a count, an optional one-word qualifier ("76 non-zero changes", "173 end scores"), then a unit word
# ("fewer than 8 …" and "about 145 …" are already published: left alone, so the function is idempotent)
_N_UNITS = re.compile(rf"\b(?<![.,])(?<!than )(?<!about )(\d+) ((?:[\w-]+ )?(?:{_UNIT_WORDS}))\b")
_K_OF_N = re.compile(r"(?<![\w.,])(?<!than )(?<!about )(\d+) of (?!about |fewer )(\d+)\b(?![.,]\d)")


def publish_text_counts(text: str, policy: Policy | str | Mapping[str, int] | None) -> str:
    """Apply the policy to counts written in prose by library functions.

    ``n = 187`` becomes ``n ≈ 185``, ``144 complete cases`` becomes ``about 145 complete cases`` (also
    with a one-word qualifier: ``76 non-zero changes``, ``173 end scores``) and ``60 of 79`` becomes
    ``about 60 of about 80``; a suppressed count becomes ``n < 8`` / ``fewer than 8 …``. Other numbers
    are untouched. ``policy`` is anything :func:`~evaltoolkit.disclosure.get_policy` accepts, including the
    protocol's ``{"low", "high", "round_to"}`` mapping; ``None`` leaves the text as it is.

    Examples
    --------
    >>> rule = {"low": 1, "high": 7, "round_to": 5}
    >>> publish_text_counts("SD 9.762 (pre scores, n = 187); mean change among the 144 complete cases", rule)
    'SD 9.762 (pre scores, n ≈ 185); mean change among the about 145 complete cases'
    >>> publish_text_counts("3 patients, n = 5, n = 0", rule)
    'fewer than 8 patients, n < 8, n = 0'
    >>> text = publish_text_counts("(60 of 79); 19 stopped, 0 started; 76 non-zero changes; 3 cases", rule)
    >>> text
    '(60 of about 80); about 20 stopped, 0 started; about 75 non-zero changes; fewer than 8 cases'
    >>> publish_text_counts(text, rule) == text
    True
    """
    if policy is None:
        return text
    pol = get_policy(policy)
    if pol.suppress is None and pol.round_to == 1:
        return text

    def k_of_n(m: re.Match[str]) -> str:
        return f"{_words(int(m.group(1)), pol)} of {_words(int(m.group(2)), pol)}"

    def n_eq(m: re.Match[str]) -> str:
        n = int(m.group(1))
        shown = pol.publish_count(n)
        if shown == SUPPRESSED:
            return f"n < {pol.high + 1}"  # type: ignore[operator]
        return f"n = {shown}" if shown == n else f"n ≈ {shown}"

    def n_units(m: re.Match[str]) -> str:
        return f"{_words(int(m.group(1)), pol)} {m.group(2)}"

    return _K_OF_N.sub(k_of_n, _N_UNITS.sub(n_units, _N_EQUALS.sub(n_eq, text)))


@dataclass(frozen=True)
class Count:
    """A count of people or events in prose: ``fewer than 8``, ``about 145``, ``0`` or exact.

    Examples
    --------
    >>> Count(3).render("nhs"), Count(143).render("nhs"), Count(0).render("nhs"), Count(143).render(None)
    ('fewer than 8', 'about 145', '0', '143')
    """

    n: int

    def render(self, policy: Policy | str | Mapping[str, int] | None) -> str:
        """The count as the policy lets it be written."""
        return _words(int(self.n), get_policy(policy))


@dataclass(frozen=True)
class Share:
    """``k`` of ``n`` as a percentage (halves up), computed from the *published* counts; ``not shown``
    when either is suppressed or small.

    Examples
    --------
    >>> Share(140, 200).render("nhs"), Share(3, 200).render("nhs"), Share(41, 97, decimals=1).render("nhs")
    ('70%', 'not shown', '42.1%')
    """

    k: int
    n: int
    decimals: int = 0

    def render(self, policy: Policy | str | Mapping[str, int] | None) -> str:
        """The percentage as the policy lets it be written."""
        pol = get_policy(policy)
        k, n = pol.publish_count(self.k), pol.publish_count(self.n)
        if SUPPRESSED in (k, n) or pol.is_small(self.k) or pol.is_small(self.n) or not n:
            return "not shown"
        scale = 10**self.decimals
        value = math.floor(100 * int(k) / int(n) * scale + 0.5 + 1e-9) / scale  # type: ignore[arg-type]
        return f"{value:.{self.decimals}f}%"


@dataclass(frozen=True)
class Mean:
    """A mean of ``n`` people: to ``decimals`` (default the policy's), ``not shown`` when ``n`` is small.

    Examples
    --------
    >>> Mean(13.80556, 145).render("nhs"), Mean(4.2, 5).render("nhs")
    ('13.81', 'not shown')
    """

    value: float
    n: int
    decimals: int | None = None

    def render(self, policy: Policy | str | Mapping[str, int] | None) -> str:
        """The mean as the policy lets it be written."""
        pol = get_policy(policy)
        if pol.is_small(self.n):
            return "not shown"
        d = pol.decimals if self.decimals is None else self.decimals
        return f"{float(self.value):,.{d}f}"


@dataclass(frozen=True, init=False)
class Phrase:
    """Prose with typed slots filled by the policy: ``{name}`` placeholders and :class:`Count`,
    :class:`Share` or :class:`Mean` values (plain strings and numbers are inserted as they are).

    Examples
    --------
    >>> p = Phrase(
    ...     "of {started} staff who started, {analysed} ({share}) were analysed",
    ...     started=Count(203), analysed=Count(141), share=Share(141, 203),
    ... )
    >>> p.render("nhs")
    'of about 205 staff who started, about 140 (68%) were analysed'
    >>> Phrase("{k} patients", k=Count(5)).render("nhs")
    'fewer than 8 patients'
    """

    template: str
    slots: Mapping[str, Any]

    def __init__(self, template: str, **slots: Any) -> None:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        missing = names - set(slots)
        if missing:
            raise KeyError(f"Phrase: no value for slot(s) {sorted(missing)} of {template!r}")
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "slots", dict(slots))

    def render(self, policy: Policy | str | Mapping[str, int] | None) -> str:
        """The phrase with every slot published by the policy."""
        pol = get_policy(policy)
        values = {k: v.render(pol) if hasattr(v, "render") else v for k, v in self.slots.items()}
        return self.template.format(**values)
