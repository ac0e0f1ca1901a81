"""Number formatting, wording and JSON/CSV writing shared by the report modules.

No statistical disclosure control lives here: counts and estimate tables are published by
:mod:`evaltoolkit.disclosure` before they reach these functions."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SIGNIFICANT_DIGITS",
    "about",
    "change_phrase",
    "cohort_label",
    "difference_phrase",
    "dumps_json",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "jsonable",
    "money",
    "money_change",
    "money_exact",
    "relative_phrase",
    "round_sig",
    "write_csv",
]

SIGNIFICANT_DIGITS = 6
"""Floats in results.json and the CSV tables are rounded to this many significant digits."""

_CURRENCY_SYMBOL = {"GBP": "£", "EUR": "€"}


def round_sig(x: Any, digits: int = SIGNIFICANT_DIGITS) -> float | None:
    """Round a number to ``digits`` significant digits; ``None`` for missing or non-finite values.

    Examples
    --------
    >>> round_sig(0.123456789), round_sig(123456789.0), round_sig(float("nan"))
    (0.123457, 123457000.0, None)
    """
    if x is None or x is pd.NA:
        return None
    v = float(x)
    if not math.isfinite(v):
        return None
    if v == 0:
        return 0.0
    return float(f"{v:.{digits}g}")


def jsonable(obj: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """A JSON-safe copy: floats rounded, dates ISO strings, NaN/NA → ``None``, numpy scalars → Python.

    Examples
    --------
    >>> jsonable({"a": np.float64(1 / 3), "b": pd.Timestamp("2021-04-01"), "c": [np.int64(2), np.nan]})
    {'a': 0.333333, 'b': '2021-04-01', 'c': [2, None]}
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v, digits) for v in obj]
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return round_sig(obj, digits)
    if isinstance(obj, pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(obj)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return obj.as_posix()
    if isinstance(obj, str):
        return obj
    return str(obj)


def dumps_json(obj: Any) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, UTF-8 characters kept, final newline."""
    return json.dumps(jsonable(obj), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV deterministically (``\\n`` line ends, ISO dates, 6 significant digits)."""
    path = Path(path)
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False, lineterminator="\n", float_format=f"%.{SIGNIFICANT_DIGITS}g")
    return path


def fmt_num(x: Any, decimals: int = 1) -> str:
    """A number with fixed decimals and thousands separators; ``"–"`` when missing.

    Examples
    --------
    >>> fmt_num(1234.567), fmt_num(0.5, 2), fmt_num(None)
    ('1,234.6', '0.50', '–')
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{float(x):,.{decimals}f}"


def fmt_p(p: Any) -> str:
    """A p-value for text: ``p < 0.001``, ``p = 0.03``, ``p = 0.41``.

    Examples
    --------
    >>> fmt_p(0.0004), fmt_p(0.0312), fmt_p(0.41), fmt_p(None)
    ('p < 0.001', 'p = 0.031', 'p = 0.41', 'p not available')
    """
    if p is None or (isinstance(p, float) and not math.isfinite(p)):
        return "p not available"
    p = float(p)
    if p < 0.001:
        return "p < 0.001"
    if p < 0.1:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def fmt_ci(lo: Any, hi: Any, decimals: int = 1, conf_level: float = 0.95) -> str:
    """``95% CI a to b``.

    Examples
    --------
    >>> fmt_ci(-1.234, 2.5)
    '95% CI -1.2 to 2.5'
    """
    return f"{conf_level * 100:g}% CI {fmt_num(lo, decimals)} to {fmt_num(hi, decimals)}"


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.0f}%"


def relative_phrase(
    est: float, lo: float, hi: float, conf_level: float = 0.95, *, ci_label: bool = True
) -> str:
    """A relative change in words, with its interval (``ci_label=False``: without "95% CI", for a table
    whose column heading names the interval).

    Examples
    --------
    >>> relative_phrase(-0.18, -0.26, -0.09)
    '18% lower (95% CI 9% to 26% lower)'
    >>> relative_phrase(-0.05, -0.12, 0.03)
    '5% lower (95% CI 12% lower to 3% higher)'
    >>> relative_phrase(0.2, 0.1, 0.31)
    '20% higher (95% CI 10% to 31% higher)'
    >>> relative_phrase(-0.37, -0.63, 0.06, ci_label=False)
    '37% lower (63% lower to 6% higher)'
    """
    level = f"{conf_level * 100:g}% CI " if ci_label else ""
    word = "lower" if est < 0 else "higher"
    head = f"{_pct(est)} {word}" if round(abs(est) * 100) != 0 else "no different"
    if lo < 0 and hi < 0:
        ci = f"{level}{_pct(hi)} to {_pct(lo)} lower"
    elif lo > 0 and hi > 0:
        ci = f"{level}{_pct(lo)} to {_pct(hi)} higher"
    else:
        ci = f"{level}{_pct(lo)} lower to {_pct(hi)} higher"
    return f"{head} ({ci})"


def difference_phrase(
    est: float, lo: float, hi: float, decimals: int = 0, *, more: str = "more", fewer: str = "fewer"
) -> str:
    """An absolute change in words, with its interval, in the order of :func:`relative_phrase`.

    Examples
    --------
    >>> difference_phrase(-459.2, -1291.0, 46.3)
    '459 fewer (1,291 fewer to 46 more)'
    >>> difference_phrase(-735.0, -1672.0, -131.0)
    '735 fewer (131 to 1,672 fewer)'
    >>> difference_phrase(4.1, -8.2, 9.8, 1, more="higher", fewer="lower")
    '4.1 higher (8.2 lower to 9.8 higher)'
    """

    def n(x: float) -> str:
        return fmt_num(abs(x), decimals)

    head = (
        f"{n(est)} {fewer if est < 0 else more}"
        if fmt_num(abs(est), decimals) != fmt_num(0, decimals)
        else ("no different")
    )
    if lo < 0 and hi < 0:
        ci = f"{n(hi)} to {n(lo)} {fewer}"
    elif lo > 0 and hi > 0:
        ci = f"{n(lo)} to {n(hi)} {more}"
    else:
        ci = f"{n(lo)} {fewer} to {n(hi)} {more}"
    return f"{head} ({ci})"


COHORT_OUTCOMES: dict[str, str] = {
    "attendances": "ED attendances",
    "admissions": "hospital admissions",
    "bed_days": "occupied bed-days",
}
"""Labels of the before/after cohort's outcomes (the ids stay in results.json)."""


def cohort_label(outcome: str) -> str:
    """The label of a before/after cohort outcome (its id with spaces when unknown).

    Examples
    --------
    >>> cohort_label("bed_days"), cohort_label("other_id")
    ('occupied bed-days', 'other id')
    """
    return COHORT_OUTCOMES.get(outcome, outcome.replace("_", " "))


def about(x: float) -> str:
    """A model-based quantity rounded for prose: nearest 5 below 100, 2 significant figures above.

    Values under 10 in size are given as "fewer than 10", so no small number appears in the text.

    Examples
    --------
    >>> about(412.3), about(57.2), about(1234.0), about(6.0), about(-230.0)
    ('410', '55', '1,200', 'fewer than 10', '230')
    """
    v = abs(float(x))
    if v < 10:
        return "fewer than 10"
    if v < 100:
        return f"{int(math.floor(v / 5 + 0.5) * 5):,}"
    digits = math.floor(math.log10(v)) - 1
    step = 10**digits
    return f"{int(math.floor(v / step + 0.5) * step):,}"


def money(x: float, currency: str) -> str:
    """An amount of money rounded for prose, e.g. ``£1.6 million`` or ``AUD 370,000``.

    Examples
    --------
    >>> money(1_634_000, "GBP"), money(372_400, "AUD"), money(-5_400, "GBP")
    ('£1.6 million', 'AUD 370,000', '-£5,400')
    """
    sign = "-" if x < 0 else ""
    v = abs(float(x))
    symbol = _CURRENCY_SYMBOL.get(currency)
    prefix = symbol if symbol else f"{currency} "
    if v >= 1_000_000:
        text = f"{v / 1_000_000:.1f} million"
    elif v >= 1000:
        digits = math.floor(math.log10(v)) - 1
        step = 10**digits
        text = f"{int(math.floor(v / step + 0.5) * step):,}"
    else:
        text = f"{v:,.0f}"
    return f"{sign}{prefix}{text}"


def change_phrase(est: float, lo: float, hi: float, unit: str, conf_level: float = 0.95) -> str:
    """A model-based change in a count, in words, with its interval (see :func:`about` for rounding).

    Examples
    --------
    >>> change_phrase(-723, -1261, -184, "attendances")
    'about 720 fewer attendances (95% CI 180 to 1,300 fewer)'
    >>> change_phrase(-152, -315, 10, "admissions")
    'about 150 fewer admissions (95% CI 320 fewer to 10 more)'
    """
    level = f"{conf_level * 100:g}% CI"
    head = f"about {about(est)} {'fewer' if est < 0 else 'more'} {unit}"
    if lo < 0 and hi < 0:
        ci = f"{about(hi)} to {about(lo)} fewer"
    elif lo > 0 and hi > 0:
        ci = f"{about(lo)} to {about(hi)} more"
    else:
        ci = f"{about(lo)} fewer to {about(hi)} more"
    return f"{head} ({level} {ci})"


def money_exact(x: float, currency: str) -> str:
    """A unit cost as stated (no rounding beyond whole units unless it has pence/cents).

    Examples
    --------
    >>> money_exact(1074, "AUD"), money_exact(901, "GBP"), money_exact(12.5, "GBP")
    ('AUD 1,074', '£901', '£12.50')
    """
    symbol = _CURRENCY_SYMBOL.get(currency)
    prefix = symbol if symbol else f"{currency} "
    text = f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"
    return f"{prefix}{text}"


def money_change(est: float, lo: float, hi: float, currency: str) -> str:
    """A change in money with its interval, in words.

    Examples
    --------
    >>> money_change(-540_000, -950_000, -140_000, "AUD")
    'AUD 540,000 less (AUD 140,000 to AUD 950,000 less)'
    >>> money_change(-20_000, -50_000, 9_000, "GBP")
    '£20,000 less (£50,000 less to £9,000 more)'
    """
    head = f"{money(abs(est), currency)} {'less' if est < 0 else 'more'}"
    if lo < 0 and hi < 0:
        ci = f"{money(-hi, currency)} to {money(-lo, currency)} less"
    elif lo > 0 and hi > 0:
        ci = f"{money(lo, currency)} to {money(hi, currency)} more"
    else:
        ci = f"{money(-lo, currency)} less to {money(hi, currency)} more"
    return f"{head} ({ci})"
