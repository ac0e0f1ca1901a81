"""The instrument definition schema: what one YAML file in ``rom/instruments/`` may say.

An :class:`Instrument` is data, not code. It lists the items and their response values, the
reverse-keyed items, the scales (the total and any subscales) with their item lists, score method,
missing-data rule, bands, clinical cut-off, reliable-change value, reliability and norms, plus the
licence and citation. **It never holds item wording.**

Every fact that came from a source carries ``source`` and ``verified``. ``verified: false`` marks a
fact that was recalled from a source not re-read, or not found in a source (UNVERIFIED); the
toolkit implements the best-documented convention and says so, and every such fact can be replaced
in a user definition (see :func:`evaltoolkit.rom.register_instrument`).

Scale semantics
---------------
``method``
    ``sum``: sum of the (reverse-keyed) item scores; ``mean``: mean of the answered items;
    ``table``: the raw sum looked up in ``conversion`` (e.g. the SWEMWBS Rasch metric). The result
    is multiplied by ``multiplier`` (``mean`` × 10 is the CORE "clinical score", ``sum`` × 2 the
    DASS-21 scale score).
``missing``
    ``max_missing`` items may be missing and the scale is still scored. With ``prorate: true`` a
    ``sum`` with missing items is prorated (mean of the answered items × the number of items);
    with ``prorate: false`` it is the sum of the answered items (HoNOS convention). A ``mean`` is
    always the mean of the answered items. A ``table`` scale prorates the raw sum and rounds it
    half up to an integer before the lookup (the table is defined only for whole raw scores).
``bands``
    Named band schemes. A score belongs to the last band whose lower bound it reaches: ``score >=
    lower`` (or ``score > lower`` with ``lower_inclusive: false``). Bands are applied to the
    unrounded score.
``clinical_cutoff``
    ``clinical`` gives the comparison that puts a score in the clinical range, e.g. ``">="`` for
    PHQ-9 ≥ 10, ``"<"`` for ReQoL-10 < 24.
``reliable_change``
    A published minimum reliable change in score points, with the ``z`` it was computed at and the
    ``comparison`` (``">="``: a change equal to the value counts, as in NHS Talking Therapies).

Examples
--------
>>> from evaltoolkit.rom import get_instrument
>>> core10 = get_instrument("core10")
>>> core10.reverse.items, core10.scale("total").missing.max_missing
((2, 3), 1)
>>> core10.scale_range("total")
(0.0, 40.0)
"""

from __future__ import annotations

import itertools
import re
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "RESERVED_COLUMNS",
    "Band",
    "BandScheme",
    "CategoryRule",
    "ConversionTable",
    "Cutoff",
    "Direction",
    "Instrument",
    "Licence",
    "MissingRule",
    "Norm",
    "Norms",
    "Reliability",
    "ReliableChange",
    "Response",
    "ReverseKey",
    "Scale",
]

Direction = Literal["higher_is_worse", "higher_is_better"]
"""Which way a score runs, ``higher_is_worse`` (symptoms, distress) or ``higher_is_better`` (wellbeing)."""

RESERVED_COLUMNS = frozenset({"band", "n_missing", "prorated", "valid"})
"""Output column names a scale may not take (``total`` is the name of the total scale)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Fact(_Model):
    source: str = ""
    verified: bool = False
    note: str = ""


class Response(_Model):
    """Allowed item responses: an integer range ``min``..``max`` or an explicit list of ``values``.

    ``missing_codes`` maps codes that mean "not known" (e.g. HoNOS 9) to a description; they are
    scored as missing, never as values.
    """

    min: int | None = None
    max: int | None = None
    values: tuple[float, ...] | None = None
    missing_codes: dict[int, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Response:
        if self.values is None:
            if self.min is None or self.max is None:
                raise ValueError("response needs either min and max, or values")
            if self.min >= self.max:
                raise ValueError(f"response min ({self.min}) must be below max ({self.max})")
        else:
            if self.min is not None or self.max is not None:
                raise ValueError("give response values or min/max, not both")
            vals = list(self.values)
            if len(vals) < 2 or vals != sorted(set(vals)):
                raise ValueError("response values must be at least two distinct numbers in increasing order")
        lo, hi = self.low, self.high
        for code in self.missing_codes:
            if self.values is None and lo <= code <= hi:
                raise ValueError(f"missing code {code} lies inside the response range {lo:g}–{hi:g}")
            if self.values is not None and code in self.values:
                raise ValueError(f"missing code {code} is also an allowed response value")
        return self

    @property
    def low(self) -> float:
        """Smallest allowed response."""
        return float(self.values[0]) if self.values is not None else float(self.min)  # type: ignore[arg-type]

    @property
    def high(self) -> float:
        """Largest allowed response."""
        return float(self.values[-1]) if self.values is not None else float(self.max)  # type: ignore[arg-type]

    @property
    def allowed(self) -> np.ndarray:
        """Every allowed response value, ascending."""
        if self.values is not None:
            return np.asarray(self.values, dtype="float64")
        return np.arange(self.min, self.max + 1, dtype="float64")  # type: ignore[operator]

    def describe(self) -> str:
        """Human-readable allowed values, e.g. ``'0–3'`` or ``'0/25/50/75/100'``."""
        if self.values is not None:
            return "/".join(f"{v:g}" for v in self.values)
        return f"{self.min}–{self.max}"


class ReverseKey(_Fact):
    """Reverse-keyed items: scored as ``low + high − x``."""

    items: tuple[int, ...] = ()


class Band(_Model):
    """One band: scores reaching ``lower`` (``>=``, or ``>`` when ``lower_inclusive`` is false)."""

    label: str
    lower: float
    lower_inclusive: bool = True


class BandScheme(_Fact):
    """An ordered set of bands with its source."""

    bands: tuple[Band, ...]

    @model_validator(mode="after")
    def _check(self) -> BandScheme:
        lowers = [b.lower for b in self.bands]
        if not self.bands:
            raise ValueError("a band scheme needs at least one band")
        if any(b <= a for a, b in itertools.pairwise(lowers)):
            raise ValueError(f"band lower bounds must increase strictly, got {lowers}")
        labels = [b.label for b in self.bands]
        if len(set(labels)) != len(labels):
            raise ValueError(f"band labels must be unique, got {labels}")
        return self


class Cutoff(_Fact):
    """Clinical cut-off: a score ``clinical`` ``value`` is in the clinical range."""

    value: float
    clinical: Literal[">=", ">", "<=", "<"]


class ReliableChange(_Fact):
    """Published minimum reliable change (score points), the ``z`` behind it and the comparison used."""

    value: float = Field(gt=0)
    z: float = Field(default=1.96, gt=0)
    comparison: Literal[">=", ">"] = ">="


class Reliability(_Fact):
    """A reliability coefficient (Cronbach's alpha or test–retest) used to compute reliable change."""

    value: float = Field(gt=0, lt=1)
    kind: Literal["alpha", "test_retest"] = "alpha"


class Norm(_Fact):
    """Mean and SD of a reference population, on the scale's own metric."""

    mean: float
    sd: float = Field(gt=0)
    n: int | None = None


class Norms(_Model):
    """Jacobson–Truax norms: ``functional`` (general population) and ``dysfunctional`` (clinical)."""

    functional: Norm | None = None
    dysfunctional: Norm | None = None


class MissingRule(_Fact):
    """How many items may be missing, and whether a sum is prorated."""

    max_missing: int = Field(default=0, ge=0)
    prorate: bool = True


class ConversionTable(_Fact):
    """Raw sum → reported score, one entry for every whole raw score."""

    table: dict[int, float]


class Scale(_Model):
    """A scored scale: the total or a subscale."""

    label: str
    items: tuple[int, ...] | Literal["all"] = "all"
    method: Literal["sum", "mean", "table"]
    multiplier: float = Field(default=1.0, gt=0)
    conversion: ConversionTable | None = None
    missing: MissingRule = Field(default_factory=MissingRule)
    bands: dict[str, BandScheme] = Field(default_factory=dict)
    default_bands: str | None = None
    clinical_cutoff: Cutoff | None = None
    reliable_change: ReliableChange | None = None
    reliability: Reliability | None = None
    norms: Norms = Field(default_factory=Norms)
    source: str = ""
    verified: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> Scale:
        if self.method == "table" and self.conversion is None:
            raise ValueError("method 'table' needs a conversion table")
        if self.method != "table" and self.conversion is not None:
            raise ValueError(f"a conversion table needs method 'table', not {self.method!r}")
        if self.default_bands is not None and self.default_bands not in self.bands:
            raise ValueError(f"default_bands {self.default_bands!r} is not one of {sorted(self.bands)}")
        return self


class CategoryRule(_Fact):
    """Keyes' categorical diagnosis (MHC-SF): counts of high and low responses on two item groups.

    ``high`` if at least ``hedonic_min`` hedonic items and ``functioning_min`` functioning items are
    in ``high_values``; ``low`` likewise with ``low_values``; otherwise ``neither``.
    """

    kind: Literal["keyes"] = "keyes"
    hedonic_items: tuple[int, ...]
    functioning_items: tuple[int, ...]
    high_values: tuple[float, ...]
    low_values: tuple[float, ...]
    hedonic_min: int = Field(default=1, ge=1)
    functioning_min: int = Field(default=6, ge=1)
    labels: dict[Literal["high", "neither", "low"], str]

    @model_validator(mode="after")
    def _check(self) -> CategoryRule:
        if set(self.labels) != {"high", "neither", "low"}:
            raise ValueError("category labels need exactly the keys high, neither, low")
        if set(self.high_values) & set(self.low_values):
            raise ValueError("high_values and low_values overlap")
        if self.hedonic_min > len(self.hedonic_items) or self.functioning_min > len(self.functioning_items):
            raise ValueError("hedonic_min / functioning_min exceed the number of items in the group")
        return self


class Licence(_Fact):
    """Licence terms. ``proprietary`` instruments need ``licence_acknowledged: true`` in the definition."""

    text: str
    proprietary: bool = False


class Instrument(_Model):
    """One questionnaire: items, keys, scales and the facts needed to interpret change.

    Build one from a dictionary or YAML with :func:`evaltoolkit.rom.register_instrument`; look up
    bundled ones with :func:`evaltoolkit.rom.get_instrument`.
    """

    key: str
    name: str
    n_items: int = Field(ge=1)
    response: Response
    reverse: ReverseKey = Field(default_factory=ReverseKey)
    optional_items: tuple[int, ...] = ()
    direction: Direction
    scales: dict[str, Scale]
    category: CategoryRule | None = None
    licence: Licence
    licence_acknowledged: bool = False
    citation: str
    notes: tuple[str, ...] = ()

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"key {v!r} must be snake_case: lower-case letters, digits and underscores")
        return v

    @model_validator(mode="after")
    def _check(self) -> Instrument:
        self._check_items("reverse items", self.reverse.items)
        self._check_items("optional items", self.optional_items)
        if self.reverse.items and self.response.values is not None:
            vals = np.asarray(self.response.values)
            if not np.allclose(np.sort(self.response.low + self.response.high - vals), vals):
                raise ValueError("reverse keying needs response values symmetric about their midpoint")
        if not self.scales:
            raise ValueError("an instrument needs at least one scale")
        for name, scale in self.scales.items():
            self._check_scale(name, scale)
        if self.category is not None:
            self._check_items("category hedonic items", self.category.hedonic_items)
            self._check_items("category functioning items", self.category.functioning_items)
            if "total" not in self.scales:
                raise ValueError("a category rule needs a total scale (the category is reported with it)")
            if self.scales["total"].bands:
                raise ValueError("give the total either bands or a category rule, not both")
        if self.licence.proprietary and not self.licence_acknowledged:
            raise ValueError(
                f"{self.key}: the licence is proprietary; set licence_acknowledged: true to confirm you hold "
                "a licence for the scoring key (the toolkit ships no proprietary keys)"
            )
        return self

    def _check_items(self, what: str, items: tuple[int, ...]) -> None:
        bad = [i for i in items if not 1 <= i <= self.n_items]
        if bad:
            raise ValueError(f"{what} {bad} are outside 1..{self.n_items}")
        if len(set(items)) != len(items):
            raise ValueError(f"{what} {list(items)} repeat an item")

    def _check_scale(self, name: str, scale: Scale) -> None:
        if not _NAME.match(name) or name in RESERVED_COLUMNS or name.endswith("_band"):
            raise ValueError(
                f"scale name {name!r} must be snake_case, not end in '_band' and not be one of "
                f"{sorted(RESERVED_COLUMNS)}"
            )
        items = self.scale_items(name, scale)
        self._check_items(f"scale {name!r} items", items)
        if scale.missing.max_missing >= len(items):
            raise ValueError(f"scale {name!r}: max_missing must be below its {len(items)} items")
        lo, _hi = self.scale_range(name, scale)
        if scale.method == "table":
            if self.response.values is not None:
                raise ValueError(f"scale {name!r}: a conversion table needs an integer response range")
            raw_lo = len(items) * self.response.low
            raw_hi = len(items) * self.response.high
            keys = sorted(scale.conversion.table)  # type: ignore[union-attr]
            expected = list(range(int(raw_lo), int(raw_hi) + 1))
            if keys != expected:
                raise ValueError(
                    f"scale {name!r}: the conversion table must list every raw score "
                    f"{int(raw_lo)}–{int(raw_hi)}"
                )
            vals = [scale.conversion.table[k] for k in keys]  # type: ignore[union-attr]
            if any(b < a for a, b in itertools.pairwise(vals)):
                raise ValueError(f"scale {name!r}: conversion table values must not decrease")
        for scheme_name, scheme in scale.bands.items():
            first = scheme.bands[0]
            if first.lower > lo or (first.lower == lo and not first.lower_inclusive):
                raise ValueError(
                    f"scale {name!r} band scheme {scheme_name!r}: the first band must start at or below the "
                    f"scale minimum {lo:g}"
                )
        cut = scale.clinical_cutoff
        if cut is not None:
            worse_up = self.direction == "higher_is_worse"
            if worse_up != (cut.clinical in (">=", ">")):
                raise ValueError(
                    f"scale {name!r}: clinical cut-off comparison {cut.clinical!r} contradicts direction "
                    f"{self.direction!r}"
                )

    # ------------------------------------------------------------------ helpers
    def scale(self, name: str) -> Scale:
        """Return the scale called ``name``."""
        try:
            return self.scales[name]
        except KeyError:
            raise KeyError(f"{self.key} has no scale {name!r}; scales are {list(self.scales)}") from None

    def scale_items(self, name: str, scale: Scale | None = None) -> tuple[int, ...]:
        """Item numbers (1-based) of a scale."""
        s = self.scale(name) if scale is None else scale
        return tuple(range(1, self.n_items + 1)) if s.items == "all" else s.items

    def scale_range(self, name: str, scale: Scale | None = None) -> tuple[float, float]:
        """Lowest and highest possible score of a scale."""
        s = self.scale(name) if scale is None else scale
        k = len(self.scale_items(name, s))
        lo, hi = self.response.low, self.response.high
        if s.method == "sum":
            lo, hi = k * lo, k * hi
        elif s.method == "table":
            vals = list(s.conversion.table.values())  # type: ignore[union-attr]
            lo, hi = min(vals), max(vals)
        return float(lo * s.multiplier), float(hi * s.multiplier)

    @property
    def unverified(self) -> list[str]:
        """Names of the facts marked ``verified: false`` (the spec's UNVERIFIED / recalled markers)."""
        out: list[str] = []
        if not self.reverse.verified and (self.reverse.items or self.reverse.source):
            out.append("reverse keys")
        for name, s in self.scales.items():
            if not s.verified:
                out.append(f"{name}: items/method")
            if not s.missing.verified:
                out.append(f"{name}: missing-data rule")
            if s.conversion is not None and not s.conversion.verified:
                out.append(f"{name}: conversion table")
            for b, scheme in s.bands.items():
                if not scheme.verified:
                    out.append(f"{name}: bands {b}")
            for what in ("clinical_cutoff", "reliable_change", "reliability"):
                fact = getattr(s, what)
                if fact is not None and not fact.verified:
                    out.append(f"{name}: {what.replace('_', ' ')}")
            for which in ("functional", "dysfunctional"):
                norm = getattr(s.norms, which)
                if norm is not None and not norm.verified:
                    out.append(f"{name}: {which} norms")
        if self.category is not None and not self.category.verified:
            out.append("category rule")
        if not self.licence.verified:
            out.append("licence")
        return out

    @property
    def verified(self) -> bool:
        """True when every fact in the definition is marked verified."""
        return not self.unverified
