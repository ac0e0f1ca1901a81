"""Number formatting, JSON/CSV writing and small-number publishing shared by the report modules."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.privacy import SUPPRESSED

__all__ = [
    "COUNT_DERIVED_FIELDS",
    "EFFECT_SIZE_TERMS",
    "ESTIMATE_FIELDS",
    "PUBLISHED_DECIMALS",
    "SIGNIFICANT_DIGITS",
    "about",
    "blank_small",
    "change_phrase",
    "dumps_json",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "is_small",
    "jsonable",
    "money",
    "money_change",
    "money_exact",
    "publish_count",
    "publish_text_counts",
    "relative_phrase",
    "round_published",
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


def publish_count(value: Any, rule: Mapping[str, int] | None) -> int | str | None:
    """A count as it may be published: 0 stays 0, ``low``–``high`` → ``"*"``, others rounded to ``round_to``.

    ``rule`` is ``{"low", "high", "round_to"}`` or ``None`` (no suppression). Missing stays ``None``.

    Examples
    --------
    >>> rule = {"low": 1, "high": 7, "round_to": 5}
    >>> [publish_count(v, rule) for v in (0, 3, 7, 8, 12, 13, 209, None)]
    [0, '*', '*', 10, 10, 15, 210, None]
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    v = float(value)
    if v < 0 or v != math.floor(v):
        raise ValueError(f"publish_count: a count must be a non-negative whole number, not {value!r}")
    n = int(v)
    if rule is None or n == 0:
        return n
    if rule["low"] <= n <= rule["high"]:
        return SUPPRESSED
    step = rule["round_to"]
    return int(math.floor(n / step + 0.5) * step) if step > 1 else n


def is_small(value: Any, rule: Mapping[str, int] | None) -> bool:
    """Whether an exact count is one the rule suppresses (``low``–``high``): anything resting on it is
    blanked (a mean, SD or estimate of 1–7 people, as a mean length of stay of 1–7 spells).

    Examples
    --------
    >>> rule = {"low": 1, "high": 7, "round_to": 5}
    >>> [is_small(v, rule) for v in (0, 1, 7, 8, None)], is_small(3, None)
    ([False, True, True, False, False], False)
    """
    if rule is None or value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(rule["low"] <= float(value) <= rule["high"])


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


PUBLISHED_DECIMALS = 2
"""Decimals of the means, SDs, changes, effect sizes, intervals and rates published by
:func:`round_published` (more would let the exact count behind a rounded ``n`` be solved for)."""

P_VALUE_DIGITS = 3
"""Significant digits of published p-values."""

STD_ERROR_DIGITS = 2
"""Significant digits of published standard errors (where they are published at all)."""

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


def _sig(values: pd.Series, digits: int) -> pd.Series:
    return pd.Series([round_sig(v, digits) for v in values], index=values.index, dtype="float64")


def round_published(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of an estimate table rounded as published, so no exact count can be solved for from it.

    Estimates, intervals, test statistics, means, SDs, standardised differences and rates (columns
    ending ``_per_person_year``) to :data:`PUBLISHED_DECIMALS` decimals; p-values to
    :data:`P_VALUE_DIGITS` and standard errors to :data:`STD_ERROR_DIGITS` significant digits; the
    standard error of an effect size (a ``term`` in :data:`EFFECT_SIZE_TERMS`) blank. Other columns
    (counts, text) are unchanged, and rounding again changes nothing.

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


def relative_phrase(est: float, lo: float, hi: float, conf_level: float = 0.95) -> str:
    """A relative change in words, with its interval.

    Examples
    --------
    >>> relative_phrase(-0.18, -0.26, -0.09)
    '18% lower (95% CI 9% to 26% lower)'
    >>> relative_phrase(-0.05, -0.12, 0.03)
    '5% lower (95% CI 12% lower to 3% higher)'
    >>> relative_phrase(0.2, 0.1, 0.31)
    '20% higher (95% CI 10% to 31% higher)'
    """
    level = f"{conf_level * 100:g}% CI"
    word = "lower" if est < 0 else "higher"
    head = f"{_pct(est)} {word}" if round(abs(est) * 100) != 0 else "no different"
    if lo < 0 and hi < 0:
        ci = f"{level} {_pct(hi)} to {_pct(lo)} lower"
    elif lo > 0 and hi > 0:
        ci = f"{level} {_pct(lo)} to {_pct(hi)} higher"
    else:
        ci = f"{level} {_pct(lo)} lower to {_pct(hi)} higher"
    return f"{head} ({ci})"


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


_UNIT_WORDS = (
    "patients|people|persons|subjects|participants|staff|complete cases|cases|pairs|forms|scores|rows|"
    "completers|drop-outs|responses|changes|stopped|started"
)
_N_EQUALS = re.compile(r"\bn\s*=\s*(\d+)\b")
# a count, an optional one-word qualifier ("76 non-zero changes", "173 end scores"), then a unit word
# ("fewer than 8 …" and "about 145 …" are already published: left alone, so the function is idempotent)
_N_UNITS = re.compile(rf"\b(?<![.,])(?<!than )(?<!about )(\d+) ((?:[\w-]+ )?(?:{_UNIT_WORDS}))\b")
_K_OF_N = re.compile(r"(?<![\w.,])(?<!than )(?<!about )(\d+) of (?!about |fewer )(\d+)\b(?![.,]\d)")


def publish_text_counts(text: str, rule: Mapping[str, int] | None) -> str:
    """Apply the suppression rule to counts written in prose by library functions.

    ``n = 187`` becomes ``n ≈ 185``, ``144 complete cases`` becomes ``about 145 complete cases`` (also
    with a one-word qualifier: ``76 non-zero changes``, ``173 end scores``) and ``60 of 79`` becomes
    ``about 60 of about 80``; a count from ``low`` to ``high`` becomes ``n < 8`` / ``fewer than 8 …``.
    Other numbers are untouched.

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
    if rule is None:
        return text

    def shown_words(n: int) -> str:
        shown = publish_count(n, rule)
        if shown == SUPPRESSED:
            return f"fewer than {rule['high'] + 1}"
        return str(n) if shown == n else f"about {shown}"

    def k_of_n(m: re.Match[str]) -> str:
        return f"{shown_words(int(m.group(1)))} of {shown_words(int(m.group(2)))}"

    def n_eq(m: re.Match[str]) -> str:
        shown = publish_count(int(m.group(1)), rule)
        if shown == SUPPRESSED:
            return f"n < {rule['high'] + 1}"
        return f"n = {shown}" if shown == int(m.group(1)) else f"n ≈ {shown}"

    def n_units(m: re.Match[str]) -> str:
        return f"{shown_words(int(m.group(1)))} {m.group(2)}"

    return _K_OF_N.sub(k_of_n, _N_UNITS.sub(n_units, _N_EQUALS.sub(n_eq, text)))


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
