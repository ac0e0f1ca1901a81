"""Output-checking policies: how a count is published and what rests on too few people.

Every policy is a frozen :class:`Policy` in :data:`POLICIES`, documented with the published rule it
implements (:class:`Source`). :func:`get_policy` turns a name, the protocol's custom mapping
``{low, high, round_to}`` or ``None`` into a policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from evaltoolkit.errors import EvalToolkitError

__all__ = [
    "MODEL_DIGITS",
    "NHS",
    "NONE",
    "OPENSAFELY",
    "OPENSAFELY_MIDPOINT6",
    "POLICIES",
    "PUBLISHED_DECIMALS",
    "P_VALUE_DIGITS",
    "STD_ERROR_DIGITS",
    "SUPPRESSED",
    "UKLLC",
    "DisclosureError",
    "Policy",
    "Source",
    "get_policy",
]

SUPPRESSED = "*"
"""What a suppressed count is published as."""

PUBLISHED_DECIMALS = 2
"""Decimals of published means, SDs, estimates, intervals, test statistics and rates."""

P_VALUE_DIGITS = 3
"""Significant digits of published p-values."""

STD_ERROR_DIGITS = 2
"""Significant digits of published standard errors."""

MODEL_DIGITS = 6
"""Significant digits of model-based quantities that rest on no count (fitted totals, costs)."""


class DisclosureError(EvalToolkitError):
    """A table or policy cannot be published as declared (a column without a role, an unknown policy, ...)."""


@dataclass(frozen=True)
class Source:
    """Where a policy's rule is published: ``rule`` quotes it."""

    title: str
    publisher: str
    year: int
    url: str
    rule: str


@dataclass(frozen=True)
class Policy:
    """An output-checking policy.

    Parameters
    ----------
    name : str
        Registry name.
    suppress : (int, int) or None
        Counts from ``suppress[0]`` to ``suppress[1]`` (inclusive) are published as ``"*"``. ``None``: none.
        When ``suppress[0]`` is 0, zero is suppressed too.
    round_to : int
        Other counts are rounded to this base (1: not rounded).
    rounding : {"nearest", "midpoint"}
        ``"nearest"``: to the nearest multiple, halves up. ``"midpoint"``: OpenSAFELY's midpoint rounding,
        ``ceiling(x / r) * r - floor(r / 2)`` for ``x > 0`` (0 stays 0).
    small : (int, int) or None
        A statistic resting on a number of people in this range is not published (mean, SD, estimate,
        percentage). Defaults to ``suppress``.
    totals : {"round", "sum_of_published"}
        ``"round"``: a total is published by the same rule as any count. ``"sum_of_published"``: a total
        declared in a margin is the sum of its published parts (a suppressed part counted as 0), as
        OpenSAFELY asks.
    secondary : bool
        Whether complementary (secondary) suppression is part of the rule: needed when counts are not
        rounded, since a suppressed cell could be recovered by subtraction from an exact total.
    decimals, p_digits, se_digits, model_digits : int
        Decimals of derived statistics; significant digits of p-values, standard errors, model quantities.
    source : Source or None
        The published document the rule comes from.

    Examples
    --------
    >>> NHS.publish_count(3), NHS.publish_count(12), NHS.publish_count(13), NHS.is_small(7)
    ('*', 10, 15, True)
    """

    name: str
    suppress: tuple[int, int] | None
    round_to: int = 1
    rounding: Literal["nearest", "midpoint"] = "nearest"
    small: tuple[int, int] | None = None
    totals: Literal["round", "sum_of_published"] = "round"
    secondary: bool = False
    decimals: int = PUBLISHED_DECIMALS
    p_digits: int = P_VALUE_DIGITS
    se_digits: int = STD_ERROR_DIGITS
    model_digits: int = MODEL_DIGITS
    source: Source | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.small is None and self.suppress is not None:
            object.__setattr__(self, "small", self.suppress)
        if self.round_to < 1:
            raise DisclosureError(f"Policy {self.name!r}: round_to must be at least 1, not {self.round_to}")
        if self.suppress is not None and not (0 <= self.suppress[0] <= self.suppress[1]):
            raise DisclosureError(f"Policy {self.name!r}: suppress must be (low, high), 0 <= low <= high")

    @property
    def low(self) -> int | None:
        """Smallest suppressed count (``None``: no suppression)."""
        return None if self.suppress is None else self.suppress[0]

    @property
    def high(self) -> int | None:
        """Largest suppressed count (``None``: no suppression)."""
        return None if self.suppress is None else self.suppress[1]

    @property
    def exact(self) -> bool:
        """Whether counts are published exactly (no suppression, no rounding), as under :data:`NONE`.

        Examples
        --------
        >>> NONE.exact, NHS.exact, UKLLC.exact
        (True, False, False)
        """
        return self.suppress is None and self.round_to == 1

    def publish_count(self, value: Any) -> int | str | None:
        """A count as it may be published: an int, ``"*"``, or ``None`` for a missing value.

        Examples
        --------
        >>> [NHS.publish_count(v) for v in (0, 3, 7, 8, 12, 13, 209, None)]
        [0, '*', '*', 10, 10, 15, 210, None]
        >>> [OPENSAFELY_MIDPOINT6.publish_count(v) for v in (0, 1, 6, 7, 12, 13)]
        [0, 3, 3, 9, 9, 15]
        >>> [UKLLC.publish_count(v) for v in (0, 9, 10, 11)]
        ['*', '*', 10, 11]
        """
        n = _as_count(value, "publish_count")
        if n is None:
            return None
        if self.suppress is not None and self.suppress[0] <= n <= self.suppress[1]:
            return SUPPRESSED
        if n == 0:
            return 0
        r = self.round_to
        if r == 1:
            return n
        if self.rounding == "midpoint":
            return int(math.ceil(n / r) * r - r // 2)
        return int(math.floor(n / r + 0.5) * r)

    def is_small(self, value: Any) -> bool:
        """Whether an exact number of people is too small for anything resting on it to be published.

        Examples
        --------
        >>> [NHS.is_small(v) for v in (0, 1, 7, 8, None)], NONE.is_small(3), UKLLC.is_small(9)
        ([False, True, True, False, False], False, True)
        """
        if self.small is None or value is None or value is pd.NA:
            return False
        v = float(value)
        if math.isnan(v):
            return False
        return bool(self.small[0] <= v <= self.small[1])

    def interval(self, published: Any, *, total: bool = False) -> tuple[float, float]:
        """Exact counts consistent with a published one (used by the differencing attack).

        A rounded ``v`` stands for ``[v - r/2, v + r/2)`` (midpoint rounding: ``[v - 2, v + 3]`` for base 6)
        outside the suppressed range; ``"*"`` for the suppressed range, or, when the policy adds secondary
        suppression (so a ``"*"`` may hide any count), for ``[low, inf)``; a missing value for
        ``[0, inf)``. Under ``totals="sum_of_published"`` a ``total`` tells nothing by itself.

        Examples
        --------
        >>> NHS.interval(10), NHS.interval("*"), NHS.interval(0), UKLLC.interval("*")
        ((8.0, 12.0), (1.0, 7.0), (0.0, 0.0), (0.0, inf))
        >>> OPENSAFELY_MIDPOINT6.interval(9), OPENSAFELY_MIDPOINT6.interval(3)
        ((7.0, 12.0), (1.0, 6.0))
        """
        inf = math.inf
        if total and self.totals == "sum_of_published":
            return (0.0, inf)
        if (
            published is None
            or published is pd.NA
            or (isinstance(published, float) and math.isnan(published))
        ):
            return (0.0, inf)
        if published == SUPPRESSED:
            lo, hi = self.suppress if self.suppress is not None else (0, inf)
            return (float(lo), inf if self.secondary else float(hi))
        v = float(published)
        if v == 0:
            return (0.0, 0.0)
        r = self.round_to
        if r == 1:
            return (v, v)
        if self.rounding == "midpoint":
            lo, hi = v - (r - r // 2) + 1, v + r // 2
        else:
            lo, hi = math.ceil(v - r / 2), math.ceil(v + r / 2) - 1
        if self.suppress is not None:
            lo = max(lo, self.suppress[1] + 1) if lo <= self.suppress[1] else lo
        return (float(max(lo, 1)), float(hi))

    def describe(self) -> str:
        """One sentence for the report saying how numbers were published.

        Examples
        --------
        >>> print(NHS.describe())  # doctest: +NORMALIZE_WHITESPACE
        Counts are published by the NHS Digital secondary-care rule: 0 stays 0, counts from 1 to 7 are
        shown as *, other counts are rounded to the nearest 5; a mean, estimate or percentage resting on
        fewer than 8 people is not shown.
        """
        if self.suppress is None and self.round_to == 1:
            return "Counts are published exactly (no small-number suppression)."
        label = _LABELS.get(self.name, f"the {self.name} rule")
        parts = []
        if self.suppress is not None:
            lo, hi = self.suppress
            if lo == 0:
                parts.append(f"counts below {hi + 1}, zero included, are shown as {SUPPRESSED}")
            else:
                parts.append(f"0 stays 0, counts from {lo} to {hi} are shown as {SUPPRESSED}")
        if self.round_to > 1:
            if self.rounding == "midpoint":
                r = self.round_to
                parts.append(
                    f"0 stays 0, other counts are rounded to midpoint {r} (1 to {r} shown as {r - r // 2}, "
                    f"{r + 1} to {2 * r} as {2 * r - r // 2}, ...)"
                )
            else:
                parts.append(f"other counts are rounded to the nearest {self.round_to}")
        text = f"Counts are published by {label}: " + ", ".join(parts)
        if self.totals == "sum_of_published":
            text += "; totals are the sums of the published counts"
        if self.secondary:
            text += "; further cells are suppressed where a hidden count could be worked out from a total"
        if self.small is not None:
            # "fewer than 8 people" rather than "1 to 7 people": no small count of people is written out
            few = f"fewer than {self.small[1] + 1}"
            text += f"; a mean, estimate or percentage resting on {few} people is not shown"
        return text + "."


def _as_count(value: Any, where: str) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    v = float(value)
    if v < 0 or v != math.floor(v):
        raise DisclosureError(f"{where}: a count must be a non-negative whole number, not {value!r}")
    return int(v)


NHS = Policy(
    name="nhs",
    suppress=(1, 7),
    round_to=5,
    source=Source(
        title="Disclosure control methodology for Hospital Episode Statistics (HES) and Emergency Care "
        "Data Set (ECDS)",
        publisher="NHS Digital (now NHS England)",
        year=2018,
        url="https://digital.nhs.uk/data-and-information/data-tools-and-services/data-services/"
        "hospital-episode-statistics/change-to-disclosure-control-methodology-for-hes-and-ecds-from-"
        "september-2018",
        rule="Counts below national level: 0 stays 0; values between 1 and 7 are replaced with '*'; all "
        "remaining values are rounded to the nearest 5. For a mean, median or mode where the number of "
        "values used is between 1 and 7 inclusive, no calculation is made and a '*' is displayed; "
        "percentages are calculated from the rounded numerator and denominator.",
    ),
)
"""NHS Digital / NHS England secondary-care rule (HES, ECDS; default). It replaced, in September 2018, a rule
that needed manual secondary suppression: rounding every count to 5 makes it unnecessary."""

OPENSAFELY = Policy(
    name="opensafely",
    suppress=(1, 7),
    round_to=5,
    totals="sum_of_published",
    source=Source(
        title="Applying statistical disclosure control",
        publisher="OpenSAFELY (Bennett Institute for Applied Data Science, University of Oxford)",
        year=2025,
        url="https://docs.opensafely.org/sdc/",
        rule="'any statistic describing 7 or fewer patients, either directly or indirectly, should be "
        "redacted or combined into other statistics' (counts <=7 redacted; counts of zero can be retained "
        "in general); 'we ask that you round any counts to the nearest 5'; 'You should first redact counts "
        "<=7 and then round to the nearest 5'; 'Note that column and row totals are the sum of the rounded "
        "counts.'",
    ),
)
"""OpenSAFELY output checking: redact counts of 1 to 7, round the rest to 5, totals are sums of the
published (rounded) counts."""

OPENSAFELY_MIDPOINT6 = Policy(
    name="opensafely_midpoint6",
    suppress=None,
    round_to=6,
    rounding="midpoint",
    small=(1, 7),
    source=Source(
        title="Applying statistical disclosure control: Midpoint 6 rounding",
        publisher="OpenSAFELY (Bennett Institute for Applied Data Science, University of Oxford)",
        year=2025,
        url="https://docs.opensafely.org/sdc/#midpoint-6-rounding",
        rule="roundmid_any <- function(x, to=6) ceiling(x/to)*to - (floor(to/2)*(x!=0)); mapping 0 -> 0, "
        "1-6 -> 3, 7-12 -> 9, 13-18 -> 15; 'For non-zero rounded values of x, we know true values range "
        "between x-2 and x+3'. Recommended for numerators and denominators of rates; any rate calculated "
        "from counts <=7 is still redacted.",
    ),
)
"""OpenSAFELY midpoint-6 rounding (for numerators and denominators of rates: zero stays zero, unbiased)."""

UKLLC = Policy(
    name="ukllc",
    suppress=(0, 9),
    round_to=1,
    secondary=True,
    source=Source(
        title="Statistical Disclosure Control (SDC), UK LLC Guidebook",
        publisher="UK Longitudinal Linkage Collaboration (UK LLC) Trusted Research Environment",
        year=2025,
        url="https://guidebook.ukllc.ac.uk/docs/user_guide/sdc",
        rule="'UK LLC's SDC threshold is 10 data subjects. Any output (including tables, charts and text) "
        "that includes counts <10, including zero, cannot be taken out of the TRE.' 'Low counts also include "
        "percentages referring to <10 individuals' and 'means, medians, modes, standard deviations and "
        "variances should only be reported where they are based on a count of at least 10.' When masking: "
        "'Usually two or more categories should be suppressed so original counts cannot be deduced' and "
        "'masking will need to be done both row-wise and column-wise so counts cannot be back-calculated'.",
    ),
)
"""UK LLC threshold rule: counts below 10 (zero included) suppressed, no rounding, secondary suppression."""

NONE = Policy(name="none", suppress=None)
"""No suppression (national figures only); derived statistics are still rounded."""

POLICIES: dict[str, Policy] = {p.name: p for p in (NHS, OPENSAFELY, OPENSAFELY_MIDPOINT6, UKLLC, NONE)}
"""The registered policies by name."""

_LABELS = {
    "nhs": "the NHS Digital secondary-care rule",
    "opensafely": "the OpenSAFELY output-checking rule",
    "opensafely_midpoint6": "OpenSAFELY midpoint-6 rounding",
    "ukllc": "the UK LLC threshold rule",
}


def get_policy(spec: str | Mapping[str, Any] | Policy | None = "nhs") -> Policy:
    """A policy from a registered name, a custom mapping ``{low, high, round_to}``, a policy or ``None``.

    ``None`` and ``"none"`` mean no suppression. A custom mapping is the protocol's ``suppression_args()``:
    counts from ``low`` to ``high`` suppressed (``low`` 0 suppresses zero too), the rest rounded to
    ``round_to``; without rounding it adds secondary suppression.

    Examples
    --------
    >>> get_policy("nhs") is NHS, get_policy(None).name, get_policy({"low": 1, "high": 7, "round_to": 5}).name
    (True, 'none', 'custom')
    >>> get_policy({"low": 1, "high": 4, "round_to": 1}).secondary
    True
    """
    if spec is None:
        return NONE
    if isinstance(spec, Policy):
        return spec
    if isinstance(spec, str):
        try:
            return POLICIES[spec.lower()]
        except KeyError:
            raise DisclosureError(
                f"get_policy: unknown policy {spec!r}; registered policies are {sorted(POLICIES)}"
            ) from None
    if isinstance(spec, Mapping):
        missing = {"low", "high", "round_to"} - set(spec)
        if missing:
            raise DisclosureError(
                f"get_policy: a custom policy needs keys low, high, round_to; missing {sorted(missing)}"
            )
        low, high, r = int(spec["low"]), int(spec["high"]), int(spec["round_to"])
        suppress = (low, high) if low <= high else None  # high < low: nothing suppressed
        return Policy(name="custom", suppress=suppress, round_to=r, secondary=r == 1 and suppress is not None)
    raise DisclosureError(f"get_policy: expected a policy name, mapping or None, not {type(spec).__name__}")
