"""Unit costs shipped with the toolkit and the NHS Cost Inflation Index, versioned by manual edition.

The table (``data/unit_costs.csv``) holds, for each figure, its key, what it prices, the value, currency,
unit (``attendance``, ``bed_day``, ``contact``, ``nwau``), price year, the collection it comes from, its
source and whether it was **verified** against the published source. England's National Cost Collection
(NCC) 2023/24 (as published in the 2024 *Unit Costs of Health and Social Care* manual, Jones et al. 2025)
and 2024/25 (national schedule, November 2025) are the main rows; older NHS figures and Australian prices
(for readers who price in Australian dollars) are kept with their flags. An unverified figure is refused
unless the caller passes ``allow_unverified=True``, so it cannot reach a report by accident.

The NHS Cost Inflation Index (pay and prices) is stored per manual edition, because a manual revises the
previous year's provisional figure (2023/24: 4.31% provisional in the 2024 manual, 2.47% in the 2025
manual). :func:`inflate` chains the annual changes of one edition between two financial years.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd

from evaltoolkit.errors import EconomicsInputError

__all__ = [
    "INDEX_EDITIONS",
    "TABLE_VERSION",
    "UNIT_COST_COLUMNS",
    "UnitCostValue",
    "format_money",
    "inflate",
    "inflation_index",
    "unit_cost",
    "unit_cost_range",
    "unit_costs",
]

TABLE_VERSION = "2025.12"
"""Version of the shipped unit-cost table (year.month of its last change)."""

INDEX_EDITIONS: tuple[int, ...] = (2024, 2025)
"""Editions of the *Unit Costs of Health and Social Care* manual whose NHS Cost Inflation Index is shipped."""

UNIT_COST_COLUMNS: tuple[str, ...] = (
    "key",
    "item",
    "value",
    "currency",
    "unit",
    "price_year",
    "collection",
    "verified",
    "source",
    "note",
)
"""Columns of :func:`unit_costs`."""

_SYMBOLS = {"GBP": "£", "EUR": "€"}
_FY = re.compile(r"^\s*(\d{4})\s*[/\-–]\s*(\d{2}|\d{4})\s*$")
_CY = re.compile(r"^\s*(\d{4})\s*$")


def number(x: object, what: str) -> float:
    """``x`` as a finite float, or :class:`EconomicsInputError` naming ``what``."""
    if isinstance(x, bool) or (not isinstance(x, int | float) and not hasattr(x, "__float__")):
        raise EconomicsInputError(f"{what} must be a number, not {type(x).__name__}")
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise EconomicsInputError(f"{what} must be a number (got {x!r})") from exc
    if not math.isfinite(v):
        raise EconomicsInputError(f"{what} must be finite (got {x!r})")
    return v


def format_money(value: float, currency: str, decimals: int | None = None) -> str:
    """``value`` with its currency, e.g. ``£719.10`` or ``AUD 1,074``.

    Whole numbers are shown without decimals unless ``decimals`` is given.

    Examples
    --------
    >>> format_money(719.1, "GBP"), format_money(1074, "AUD"), format_money(-1234.5, "GBP", 0)
    ('£719.10', 'AUD 1,074', '-£1,234')
    """
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2
    sign = "-" if value < 0 else ""
    number = f"{abs(value):,.{decimals}f}"
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


def normalise_year(year: object, what: str = "year") -> str:
    """A price year as ``YYYY/YY`` (financial year: ``2024/25``, ``2024-25``, ``2024–25``, ``2024/2025``)
    or ``YYYY`` (calendar year)."""
    text = str(year)
    m = _FY.match(text)
    if m:
        start, end = int(m.group(1)), m.group(2)
        end2 = int(end[-2:])
        if (start + 1) % 100 != end2 or (len(end) == 4 and int(end) != start + 1):
            raise EconomicsInputError(f"{what} {year!r} is not a financial year (e.g. 2024/25)")
        return f"{start}/{end2:02d}"
    if _CY.match(text) and not isinstance(year, bool):
        return text.strip()
    raise EconomicsInputError(f"{what} {year!r} is not a price year: write e.g. 2024/25 (financial) or 2024")


def _fy_start(year: str, what: str) -> int:
    m = _FY.match(year)
    if m is None:
        raise EconomicsInputError(
            f"{what} {year} is a calendar year; the NHS Cost Inflation Index is by financial year "
            "(e.g. 2023/24)"
        )
    return int(m.group(1))


@dataclass(frozen=True)
class UnitCostValue:
    """One unit cost with what is needed to quote it: value, currency, unit, price year, source, verified.

    Attributes
    ----------
    value : float
        Cost of one unit, in ``currency`` at ``price_year`` prices.
    currency : str
        ISO 4217 code (``GBP``, ``AUD``, ...).
    unit : str
        What one unit is (``attendance``, ``bed_day``, ``contact``, ``nwau``).
    price_year : str
        ``YYYY/YY`` (financial year) or ``YYYY``.
    source : str
        Citation (with the inflation applied, if any).
    verified : bool or None
        Whether the figure (and any index used to inflate it) was checked against its published source;
        ``None`` for a figure given by the user, which the toolkit cannot check.
    key, item : str
        Key and description in the shipped table (empty for a value given by the user).
    base_value, base_price_year : float or None, str or None
        Before inflation (``None`` when not inflated).
    index_edition : int or None
        Manual edition of the NHS Cost Inflation Index used to inflate (``None`` when not inflated).
    """

    value: float
    currency: str
    unit: str
    price_year: str
    source: str
    verified: bool | None
    key: str = ""
    item: str = ""
    base_value: float | None = None
    base_price_year: str | None = None
    index_edition: int | None = None

    def describe(self) -> str:
        """One line: value, unit, price year and source.

        Examples
        --------
        >>> print(unit_cost("mh_acute_adult_bed_day", "2023/24").describe()[:44])
        £575 per bed_day at 2023/24 prices (Jones et
        """
        text = f"{format_money(self.value, self.currency)} per {self.unit} at {self.price_year} prices"
        return f"{text} ({self.source})"


@cache
def _table() -> pd.DataFrame:
    path = resources.files("evaltoolkit.economics").joinpath("data/unit_costs.csv")
    with path.open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"price_year": str, "note": str}, keep_default_na=False)
    df["value"] = df["value"].astype("float64")
    df["verified"] = df["verified"].map({"true": True, "false": False, True: True, False: False}).astype(bool)
    return df[list(UNIT_COST_COLUMNS)]


@cache
def _index_table() -> pd.DataFrame:
    path = resources.files("evaltoolkit.economics").joinpath("data/inflation_index.csv")
    with path.open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"price_year": str})
    for c in ("provisional", "verified"):
        df[c] = df[c].astype(bool)
    return df


def unit_costs() -> pd.DataFrame:
    """The shipped unit-cost table (version :data:`TABLE_VERSION`), one row per figure and price year.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`UNIT_COST_COLUMNS`: ``key``, ``item``, ``value``, ``currency``, ``unit``,
        ``price_year``, ``collection`` (e.g. ``NCC``), ``verified`` (bool), ``source``, ``note``.

    Examples
    --------
    >>> t = unit_costs()
    >>> t.loc[t["key"] == "mh_acute_adult_bed_day", ["price_year", "value", "verified"]]
      price_year  value  verified
    2    2023/24  575.0      True
    3    2024/25  719.1      True
    """
    return _table().copy()


def unit_cost(
    key: str,
    year: str,
    *,
    inflate_to: str | None = None,
    index_edition: int | None = None,
    allow_unverified: bool = False,
) -> UnitCostValue:
    """Look up one unit cost of the shipped table, optionally inflated to another price year.

    Parameters
    ----------
    key : str
        Key of the table (see :func:`unit_costs`), e.g. ``mh_acute_adult_bed_day``.
    year : str
        Its price year, e.g. ``2024/25`` (``2024-25`` and ``2024–25`` are read the same).
    inflate_to : str, optional
        Financial year to inflate (or deflate) to with the NHS Cost Inflation Index (GBP figures only).
    index_edition : int, optional
        Manual edition of the index (default: the latest, :data:`INDEX_EDITIONS`). Pin it in a protocol.
    allow_unverified : bool, default False
        Accept a figure (or an index value) not verified against its published source.

    Returns
    -------
    UnitCostValue

    Raises
    ------
    EconomicsInputError
        Unknown key or year (the message lists what exists), an unverified figure or index value without
        ``allow_unverified=True``, or an inflation the index does not cover.

    Examples
    --------
    >>> unit_cost("mh_acute_adult_bed_day", "2024/25").value
    719.1
    >>> round(unit_cost("ed_attendance", "2023/24", inflate_to="2024/25", index_edition=2025,
    ...                 allow_unverified=True).value, 2)   # 273 x 1.0402
    283.97
    """
    t = _table()
    y = normalise_year(year)
    rows = t[t["key"] == key]
    if rows.empty:
        close = [k for k in dict.fromkeys(t["key"]) if key.split("_")[0] in k][:6]
        hint = f"; similar keys: {', '.join(close)}" if close else ""
        raise EconomicsInputError(f"unit cost {key!r} is not in the table (see unit_costs()){hint}")
    row = rows[rows["price_year"] == y]
    if row.empty:
        years = ", ".join(rows["price_year"])
        raise EconomicsInputError(f"unit cost {key!r} has no figure for {y}; years in the table: {years}")
    r = row.iloc[0]
    if not r["verified"] and not allow_unverified:
        raise EconomicsInputError(
            f"unit cost {key!r} {y} ({format_money(r['value'], r['currency'])}) is not verified against its "
            "source; check it and pass allow_unverified=True (protocol: allow_unverified: true) to use it"
        )
    value = UnitCostValue(
        value=float(r["value"]),
        currency=str(r["currency"]),
        unit=str(r["unit"]),
        price_year=y,
        source=str(r["source"]),
        verified=bool(r["verified"]),
        key=key,
        item=str(r["item"]),
    )
    if inflate_to is None:
        return value
    return inflate_value(value, inflate_to, index_edition=index_edition, allow_unverified=allow_unverified)


def unit_cost_range(
    key: str,
    years: tuple[str, str] | list[str],
    *,
    inflate_to: str | None = None,
    index_edition: int | None = None,
    allow_unverified: bool = False,
) -> tuple[UnitCostValue, UnitCostValue]:
    """The figures of one key in two price years, lower first: a sensitivity range (e.g. both NCC years).

    Give ``inflate_to`` to put both at one price year (recommended: otherwise the range mixes price
    years). Parameters as :func:`unit_cost`.

    Examples
    --------
    >>> lo, hi = unit_cost_range("mh_acute_adult_bed_day", ("2023/24", "2024/25"))
    >>> lo.value, hi.value
    (575.0, 719.1)
    """
    if len(years) != 2:
        raise EconomicsInputError(f"years: give two price years, not {len(years)}")
    a, b = (
        unit_cost(
            key, y, inflate_to=inflate_to, index_edition=index_edition, allow_unverified=allow_unverified
        )
        for y in years
    )
    return (a, b) if a.value <= b.value else (b, a)


def _edition(edition: int | None) -> int:
    if edition is None:
        return INDEX_EDITIONS[-1]
    if isinstance(edition, bool) or edition not in INDEX_EDITIONS:
        raise EconomicsInputError(
            f"index_edition {edition!r} is not shipped; editions: {', '.join(map(str, INDEX_EDITIONS))}"
        )
    return int(edition)


def inflation_index(edition: int | None = None) -> pd.DataFrame:
    """The NHS Cost Inflation Index (pay and prices) of one manual edition, as a chained index.

    Parameters
    ----------
    edition : int, optional
        Manual edition (default: the latest of :data:`INDEX_EDITIONS`).

    Returns
    -------
    pandas.DataFrame
        One row per financial year from 2018/19 (the base, index 100): ``edition``, ``price_year``,
        ``percent_change`` (annual change into that year, in percent), ``index`` (2018/19 = 100),
        ``provisional``, ``verified``, ``source``.

    Examples
    --------
    >>> inflation_index(2025)[["price_year", "percent_change", "index"]].round(2).tail(2)
      price_year  percent_change   index
    5    2023/24            2.47  118.09
    6    2024/25            4.02  122.84
    """
    ed = _edition(edition)
    t = _index_table()
    t = t[t["edition"] == ed].sort_values("price_year").reset_index(drop=True)
    index = [100.0]
    for pct in t["percent_change"]:
        index.append(index[-1] * (1 + float(pct) / 100))
    first = _fy_start(t["price_year"].iloc[0], "price year") - 1
    base = pd.DataFrame(
        {
            "edition": [ed],
            "price_year": [f"{first}/{(first + 1) % 100:02d}"],
            "percent_change": [math.nan],
            "provisional": [False],
            "verified": [True],
            "source": ["base year of the chained index"],
        }
    )
    out = pd.concat([base, t], ignore_index=True)
    out["index"] = index
    return out[["edition", "price_year", "percent_change", "index", "provisional", "verified", "source"]]


def _factor(from_year: str, to_year: str, edition: int | None, allow_unverified: bool) -> tuple[float, int]:
    ed = _edition(edition)
    a = _fy_start(normalise_year(from_year, "from_year"), "from_year")
    b = _fy_start(normalise_year(to_year, "to_year"), "to_year")
    idx = inflation_index(ed)
    starts = [_fy_start(y, "price year") for y in idx["price_year"]]
    lo, hi = min(starts), max(starts)
    for name, y in (("from_year", a), ("to_year", b)):
        if not lo <= y <= hi:
            raise EconomicsInputError(
                f"{name} {y}/{(y + 1) % 100:02d} is outside the {ed} manual's NHS Cost Inflation Index "
                f"({idx['price_year'].iloc[0]} to {idx['price_year'].iloc[-1]})"
            )
    step = slice(min(a, b) - lo + 1, max(a, b) - lo + 1)
    used = idx.iloc[step]
    bad = used[~used["verified"]]
    if len(bad) and not allow_unverified:
        years = ", ".join(
            f"{y} ({p}%)" for y, p in zip(bad["price_year"], bad["percent_change"], strict=True)
        )
        raise EconomicsInputError(
            f"the {ed} manual's NHS Cost Inflation Index value for {years} is not verified; check it and "
            "pass allow_unverified=True (protocol: allow_unverified: true) to use it"
        )
    f = float(idx["index"].iloc[b - lo] / idx["index"].iloc[a - lo])
    return f, ed


def inflate(
    value: float,
    from_year: str,
    to_year: str,
    *,
    edition: int | None = None,
    allow_unverified: bool = False,
) -> float:
    """``value`` at ``from_year`` prices expressed at ``to_year`` prices with the NHS Cost Inflation Index.

    Chains the annual changes of one manual edition: from 2022/23 to 2024/25 with the 2025 edition,
    ``value × 1.0247 × 1.0402``. Deflates when ``to_year`` is earlier.

    Parameters
    ----------
    value : float
        Amount at ``from_year`` prices (GBP; NHS costs).
    from_year, to_year : str
        Financial years, e.g. ``2023/24``.
    edition : int, optional
        Manual edition (default: the latest of :data:`INDEX_EDITIONS`).
    allow_unverified : bool, default False
        Accept index values not verified against the published manual (the 2025 manual's provisional
        2024/25 value).

    Returns
    -------
    float

    Examples
    --------
    >>> round(inflate(100, "2019/20", "2023/24", edition=2024), 3)   # 1.0249 x 1.0258 x 1.0732 x 1.0431
    117.693
    >>> round(inflate(100, "2023/24", "2022/23", edition=2025), 4)
    97.5895
    """
    v = number(value, "value")
    f, _ = _factor(from_year, to_year, edition, allow_unverified)
    return v * f


def inflate_value(
    value: UnitCostValue,
    to_year: str,
    *,
    index_edition: int | None = None,
    allow_unverified: bool = False,
) -> UnitCostValue:
    """A :class:`UnitCostValue` inflated to ``to_year`` (GBP only), with the inflation in its source."""
    if value.currency != "GBP":
        raise EconomicsInputError(
            f"inflate_to uses the NHS Cost Inflation Index, which applies to NHS costs in GBP, not "
            f"{value.currency}; give the figure at the price year you need"
        )
    to = normalise_year(to_year, "inflate_to")
    f, ed = _factor(value.price_year, to, index_edition, allow_unverified)
    if to == value.price_year:
        return value
    index_ok = _index_verified(value.price_year, to, ed)
    verified = None if value.verified is None and index_ok else bool(value.verified) and index_ok
    note = (
        f"{value.source}; inflated from {format_money(value.value, value.currency)} at {value.price_year} "
        f"prices to {to} with the NHS Cost Inflation Index ({ed} manual)"
    )
    return UnitCostValue(
        value=value.value * f,
        currency=value.currency,
        unit=value.unit,
        price_year=to,
        source=note,
        verified=verified,
        key=value.key,
        item=value.item,
        base_value=value.value,
        base_price_year=value.price_year,
        index_edition=ed,
    )


def _index_verified(from_year: str, to_year: str, edition: int) -> bool:
    a, b = sorted((_fy_start(from_year, "from_year"), _fy_start(to_year, "to_year")))
    idx = inflation_index(edition)
    starts = [_fy_start(y, "price year") for y in idx["price_year"]]
    used = idx[[a < s <= b for s in starts]]
    return bool(used["verified"].all())
