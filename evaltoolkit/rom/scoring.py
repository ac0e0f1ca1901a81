"""Score item-level responses: reverse keys, subscales, prorating, bands, categories (vectorised).

One call, :func:`score`, turns a frame of item responses into one row per response with the total,
one column per subscale, the band, the number of missing items and whether the score was prorated
and is valid. Every rule comes from the instrument's definition (see :mod:`evaltoolkit.rom.definition`);
nothing is instrument-specific code.

Missing items
-------------
Each scale allows ``max_missing`` missing items (the definition's rule, or ``prorate=``). A ``sum``
with missing items is prorated (mean of the answered items × number of items) unless the rule says
``prorate: false`` (HoNOS: sum of the rated items). A ``mean`` is the mean of the answered items. A
conversion-table score (SWEMWBS) is defined for whole raw sums only: when missing items are allowed
the prorated raw sum is rounded half up before the lookup. Optional items (WSAS work item) left
empty are "not applicable": left out of the score and not counted as missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.rom._items import QUALITY_COLUMNS, InvalidPolicy, Items, default_id_columns, read_items
from evaltoolkit.rom.definition import RESERVED_COLUMNS, BandScheme, Instrument, Scale
from evaltoolkit.rom.errors import RomInputError
from evaltoolkit.rom.registry import get_instrument, instrument_keys

__all__ = ["Prorate", "check_prorate", "check_responses", "data_quality", "reverse_score", "score"]

Prorate = str | bool | int | float | Mapping[str, "bool | int | float | str"]
"""``"rule"`` (the definition's rule; ``True`` means the same), ``False`` (no missing items allowed),
an ``int`` (that many missing items per scale), a ``float`` in (0, 1) (that fraction of each scale's
items, rounded down), or ``{scale: any of these}`` for some scales (the others keep their rule)."""


def _limit(prorate: Any, name: str, scale: Scale, k: int, inst: Instrument) -> int:
    if isinstance(prorate, Mapping):
        unknown = sorted(set(prorate) - set(inst.scales))
        if unknown:
            raise RomInputError(
                f"{inst.key}: prorate names unknown scales {unknown}; scales are {list(inst.scales)}"
            )
        return _limit(prorate[name], name, scale, k, inst) if name in prorate else scale.missing.max_missing
    if prorate is True or prorate == "rule":
        return scale.missing.max_missing
    if prorate is False:
        return 0
    if isinstance(prorate, (int, np.integer)) and not isinstance(prorate, bool):
        if prorate < 0:
            raise RomInputError(f"prorate must not be negative, got {prorate}")
        return _at_most_half(int(prorate), prorate, name, scale, k, inst)
    if isinstance(prorate, float):
        if not 0 <= prorate < 1:
            raise RomInputError(f"a fractional prorate must be in [0, 1), got {prorate}")
        return _at_most_half(math.floor(prorate * k + 1e-9), prorate, name, scale, k, inst)
    raise RomInputError(
        f"prorate must be 'rule', True, False, an int, a fraction or a mapping of scale to one of these, "
        f"not {prorate!r}"
    )


def _at_most_half(limit: int, prorate: Any, name: str, scale: Scale, k: int, inst: Instrument) -> int:
    """``limit`` if a score from ``k - limit`` answered items is defensible, else a RomInputError."""
    allowed = max(scale.missing.max_missing, k // 2)
    if limit <= allowed:
        return limit
    raise RomInputError(
        f"{inst.key}, scale {name!r}: prorate={prorate!r} allows {limit} of its {k} items to be missing, "
        f"so a score could come from {k - limit} answered item(s); at most {allowed} may be missing (at "
        f"least half the items answered, or the instrument's own rule: {scale.missing.max_missing}). "
        f"Use prorate='rule' or a number of missing items up to {allowed}"
    )


def check_prorate(instrument: str | Instrument, prorate: Prorate) -> dict[str, int]:
    """The number of missing items ``prorate`` allows on each scale, or a RomInputError if it is unusable.

    A number or fraction of missing items may not exceed half a scale's items (rounded down), unless the
    instrument's own rule allows more: a score from 1 of 9 answered items is not a PHQ-9 score.

    Examples
    --------
    >>> check_prorate("phq9", "rule")
    {'total': 0}
    >>> check_prorate("phq9", 4)
    {'total': 4}
    >>> check_prorate("phq9", 8)
    Traceback (most recent call last):
    ...
    evaltoolkit.rom.errors.RomInputError: phq9, scale 'total': prorate=8 allows 8 of its 9 items to be \
missing, so a score could come from 1 answered item(s); at most 4 may be missing (at least half the \
items answered, or the instrument's own rule: 0). Use prorate='rule' or a number of missing items up to 4
    """
    inst = instrument if isinstance(instrument, Instrument) else get_instrument(instrument)
    return {
        name: _limit(prorate, name, s, len(inst.scale_items(name, s)), inst)
        for name, s in inst.scales.items()
    }


def _schemes(
    inst: Instrument, bands: str | Mapping[str, str | None] | None
) -> dict[str, tuple[str, BandScheme]]:
    chosen: dict[str, tuple[str, BandScheme]] = {}
    if isinstance(bands, Mapping):
        unknown = sorted(set(bands) - set(inst.scales))
        if unknown:
            raise RomInputError(
                f"{inst.key}: bands names unknown scales {unknown}; scales are {list(inst.scales)}"
            )
    elif bands is not None and not any(bands in s.bands for s in inst.scales.values()):
        avail = sorted({b for s in inst.scales.values() for b in s.bands})
        raise RomInputError(
            f"{inst.key}: no scale has a band scheme {bands!r}; available schemes are {avail}"
        )
    for name, s in inst.scales.items():
        if isinstance(bands, Mapping):
            want = bands.get(name, s.default_bands)
            if want is not None and want not in s.bands:
                raise RomInputError(
                    f"{inst.key}: scale {name!r} has no band scheme {want!r}; it has {sorted(s.bands)}"
                )
        elif bands is not None:
            want = bands if bands in s.bands else s.default_bands
        else:
            want = s.default_bands
        if want is not None:
            chosen[name] = (want, s.bands[want])
    return chosen


def _assign_bands(values: np.ndarray, scheme: BandScheme) -> pd.Categorical:
    labels = [b.label for b in scheme.bands]
    codes = np.zeros(len(values), dtype="int64")
    with np.errstate(invalid="ignore"):
        for b in scheme.bands[1:]:
            codes += (values >= b.lower) if b.lower_inclusive else (values > b.lower)
    codes[np.isnan(values)] = -1
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def _keyes(filled: np.ndarray, present: np.ndarray, inst: Instrument, valid: np.ndarray) -> pd.Categorical:
    rule = inst.category
    if rule is None:  # pragma: no cover - guarded by the caller
        raise RomInputError(f"{inst.key} has no category rule")
    hi_vals = np.asarray(rule.high_values, dtype="float64")
    lo_vals = np.asarray(rule.low_values, dtype="float64")

    def counts(items: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = np.asarray(items, dtype="int64") - 1
        v, p = filled[:, idx], present[:, idx]
        return (
            (p & np.isin(v, hi_vals)).sum(1),
            (p & np.isin(v, lo_vals)).sum(1),
            (~p).sum(1),
        )

    h_hi, h_lo, h_miss = counts(rule.hedonic_items)
    f_hi, f_lo, f_miss = counts(rule.functioning_items)
    high_now = (h_hi >= rule.hedonic_min) & (f_hi >= rule.functioning_min)
    low_now = (h_lo >= rule.hedonic_min) & (f_lo >= rule.functioning_min)
    high_possible = (h_hi + h_miss >= rule.hedonic_min) & (f_hi + f_miss >= rule.functioning_min)
    low_possible = (h_lo + h_miss >= rule.hedonic_min) & (f_lo + f_miss >= rule.functioning_min)
    labels = [rule.labels["low"], rule.labels["neither"], rule.labels["high"]]
    codes = np.full(len(filled), -1, dtype="int64")
    codes[~high_possible & ~low_possible] = 1
    codes[low_now] = 0
    codes[high_now] = 2
    codes[~valid] = -1
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def _score_scale(
    name: str,
    scale: Scale,
    inst: Instrument,
    filled: np.ndarray,
    present: np.ndarray,
    optional_blank: np.ndarray,
    limit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    items = inst.scale_items(name, scale)
    n = filled.shape[0]
    total = np.zeros(n)
    n_ans = np.zeros(n, dtype="int64")
    n_eff = np.full(n, len(items), dtype="int64")
    optional = set(inst.optional_items)
    for item in items:  # loop over items (columns), vectorised over rows; columns are contiguous
        total += filled[:, item - 1]
        n_ans += present[:, item - 1]
        if item in optional:
            n_eff -= optional_blank[:, item - 1]
    n_miss = n_eff - n_ans
    valid = (n_miss <= limit) & (n_ans > 0)
    safe_n = np.where(n_ans > 0, n_ans, 1)
    mult = scale.multiplier
    complete = n_miss == 0
    if scale.method == "mean":
        value = total * mult / safe_n
        prorated = valid & ~complete
    elif scale.method == "sum":
        if scale.missing.prorate:
            value = np.where(complete, total, total * n_eff / safe_n) * mult
            prorated = valid & ~complete
        else:
            value = total * mult
            prorated = np.zeros(n, dtype=bool)
    else:  # table
        table = scale.conversion.table  # type: ignore[union-attr]
        raw_lo = min(table)
        lookup = np.asarray([table[k] for k in sorted(table)], dtype="float64")
        raw = np.where(complete, total, np.floor(total * n_eff / safe_n + 0.5))
        pos = np.clip(raw - raw_lo, 0, len(lookup) - 1).astype("int64")
        value = lookup[pos] * mult
        prorated = valid & ~complete
    value = np.where(valid, value, np.nan)
    return value, valid, prorated


@renamed_kwargs(id_columns="keep_columns", invalid="on_invalid")
def score(
    responses: pd.DataFrame,
    instrument: str | Instrument,
    *,
    items: Items = None,
    keep_columns: Sequence[str] | None = None,
    prorate: Prorate = "rule",
    bands: str | Mapping[str, str | None] | None = None,
    on_invalid: InvalidPolicy = "raise",
) -> pd.DataFrame:
    """Score item responses: one row per response with the total, subscales, band and validity.

    Parameters
    ----------
    responses : pandas.DataFrame
        One row per completed form. Item columns are ``<key>_<item number>`` unless ``items`` says
        otherwise. Empty cells are unanswered items. Not modified.
    instrument : str or Instrument
        A registered key (see :func:`~evaltoolkit.rom.instruments`) or an Instrument.
    items : mapping, list or str, optional
        Item columns: ``{item number: column}``, a list of columns in item order, or a template such
        as ``"q{n}"``. Default ``<key>_<n>``.
    keep_columns : list of str, optional
        Columns copied unchanged to the output (identifiers such as the ``subject`` column, occasions,
        dates). Default: every column that is not an item column of a registered instrument. Formerly
        ``id_columns=`` (deprecated; it names columns to copy, not the person-id column).
    prorate : "rule", bool, int, float or mapping, default "rule"
        Missing-item rule: the definition's (``"rule"``/``True``), none allowed (``False``), up to
        ``n`` per scale (int), up to a fraction of each scale's items (float), or per scale
        (``{"total": 2}``).
    bands : str or mapping, optional
        Band scheme to apply instead of the default, e.g. ``"crufad"`` for K10 (used by every scale
        that has it), or ``{scale: scheme or None}``.
    on_invalid : {"raise", "missing"}, default "raise"
        (Formerly ``invalid=``, deprecated.) Out-of-range or non-numeric item values raise
        :class:`~evaltoolkit.rom.errors.RomInputError` naming the instrument, column, rows and allowed values,
        or (``"missing"``) are scored as missing. Either way they, and missing codes such as HoNOS 9, are
        listed in the data-quality table in ``result.attrs["data_quality"]`` (see :func:`data_quality`).

    Returns
    -------
    pandas.DataFrame
        Same index and row order as ``responses``. Columns: the ``keep_columns``; ``total`` (float; empty
        when the instrument has no total, e.g. CBI); ``band`` (ordered categorical; the default or
        chosen band of the total, or the MHC-SF Keyes category; empty where the total is invalid or
        no bands exist); one float column per subscale, followed by ``<subscale>_band`` where the
        subscale has bands; ``n_missing`` (int: empty items plus missing codes such as HoNOS 9 and,
        with ``on_invalid="missing"``, bad values; optional items left empty, i.e. not applicable, are
        not counted); ``prorated`` (bool: the
        total was computed with missing items); ``valid`` (bool: the total, or every scale when
        there is no total, was scored).

    Raises
    ------
    RomInputError
        Missing item columns, bad values (with ``on_invalid="raise"``), unknown options.

    Examples
    --------
    >>> import pandas as pd
    >>> responses = pd.DataFrame({"patient_id": ["a", "b", "c"]})
    >>> for i in range(1, 11):
    ...     responses[f"core10_{i}"] = [1, 3, 2]
    >>> responses.loc[2, "core10_5"] = None  # one missing item: prorated (CST rule)
    >>> score(responses, "core10")[["patient_id", "total", "band", "n_missing", "prorated", "valid"]]
      patient_id  total                band  n_missing  prorated  valid
    0          a   14.0                mild          0     False   True
    1          b   26.0              severe          0     False   True
    2          c   20.0  moderate-to-severe          1      True   True

    Row ``b``: items 2 and 3 are reverse-keyed, so 8 × 3 + 2 × (4 − 3) = 26. Row ``c``: 10 × 18 / 9.
    """
    inst = get_instrument(instrument)
    if not isinstance(responses, pd.DataFrame):
        raise RomInputError(f"responses must be a pandas DataFrame, not {type(responses).__name__}")
    mat = read_items(responses, inst, items=items, invalid=on_invalid)
    ids = (
        default_id_columns(responses, mat.columns, instrument_keys())
        if keep_columns is None
        else list(keep_columns)
    )
    absent = [c for c in ids if c not in responses.columns]
    if absent:
        raise RomInputError(f"keep_columns {absent} are not in the data")
    item_set = set(mat.columns)
    clash = [c for c in ids if c in item_set]
    if clash:
        raise RomInputError(f"keep_columns {clash} are item columns of {inst.key}")

    reserved = {"total", *RESERVED_COLUMNS, *inst.scales, *(f"{n}_band" for n in inst.scales)}
    clash = [c for c in ids if c in reserved]
    if clash:
        raise RomInputError(f"keep_columns {clash} clash with output columns; rename them first")
    schemes = _schemes(inst, bands)

    filled = mat.keyed(inst, inplace=True)  # the matrix is private to this call
    present = ~np.isnan(filled)  # Fortran order, like the matrix: item columns are contiguous
    np.copyto(filled, 0.0, where=~present)
    optional_blank = np.zeros_like(present)
    n_missing = np.zeros(len(responses), dtype="int64")
    for j in range(inst.n_items):
        if j + 1 in inst.optional_items:  # left empty = not applicable; a bad value made missing is missing
            optional_blank[:, j] = ~present[:, j]
            if mat.forced_missing is not None:
                optional_blank[:, j] &= ~mat.forced_missing[:, j]
                n_missing += mat.forced_missing[:, j]
        else:
            n_missing += ~present[:, j]

    out_cols: dict[str, Any] = {}
    valid_all = np.ones(len(responses), dtype=bool)
    prorated_any = np.zeros(len(responses), dtype=bool)
    total_valid = total_prorated = None
    for name, s in inst.scales.items():
        k = len(inst.scale_items(name, s))
        limit = _limit(prorate, name, s, k, inst)
        value, valid, prorated = _score_scale(name, s, inst, filled, present, optional_blank, limit)
        out_cols[name] = value
        if name == "total":
            total_valid, total_prorated = valid, prorated
            if name in schemes:
                out_cols["band"] = _assign_bands(value, schemes[name][1])
        elif name in schemes:
            out_cols[f"{name}_band"] = _assign_bands(value, schemes[name][1])
        valid_all &= valid
        prorated_any |= prorated
    if inst.category is not None:
        out_cols["band"] = _keyes(filled, present, inst, total_valid)  # type: ignore[arg-type]

    result = responses[ids].copy()
    n = len(responses)
    result["total"] = out_cols.pop("total", np.full(n, np.nan))
    result["band"] = out_cols.pop("band", pd.Categorical([None] * n, categories=[], ordered=True))
    for c, v in out_cols.items():
        result[c] = v
    result["n_missing"] = n_missing.astype("int64")
    result["prorated"] = total_prorated if total_prorated is not None else prorated_any & valid_all
    result["valid"] = total_valid if total_valid is not None else valid_all
    result.attrs["data_quality"] = mat.quality
    return result


def data_quality(scored: pd.DataFrame) -> pd.DataFrame:
    """The data-quality table attached to a :func:`score` result (empty when nothing was found).

    Columns: ``instrument``, ``column``, ``item``, ``problem`` (``out_of_range``, ``non_numeric``,
    ``missing_code``), ``n_values``, ``rows`` (first spreadsheet rows), ``examples``, ``allowed``,
    ``action``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({f"honos_{i}": [2, 1] for i in range(1, 13)})
    >>> df.loc[0, "honos_3"] = 9                  # 9 = not known: missing, not a score
    >>> scored = score(df, "honos")
    >>> scored["total"].tolist()
    [22.0, 12.0]
    >>> data_quality(scored)[["column", "problem", "n_values", "rows", "action"]]
        column       problem  n_values rows              action
    0  honos_3  missing_code         1    2  treated as missing
    """
    if not isinstance(scored, pd.DataFrame):
        raise RomInputError(
            f"scored must be a pandas DataFrame (the output of score()), not {type(scored).__name__}"
        )
    records = scored.attrs.get("data_quality", [])
    return pd.DataFrame(list(records), columns=QUALITY_COLUMNS)


def check_responses(
    responses: pd.DataFrame, instrument: str | Instrument, *, items: Items = None
) -> pd.DataFrame:
    """Data-quality table of the item columns without scoring (never raises for bad values).

    Returns
    -------
    pandas.DataFrame
        Columns as in :func:`data_quality`; one row per column and problem.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({f"gad7_{i}": [0, 1, 2] for i in range(1, 8)})
    >>> df["gad7_4"] = [0, 4, "x"]
    >>> check_responses(df, "gad7")[["column", "problem", "rows", "examples", "allowed"]]
       column       problem rows examples allowed
    0  gad7_4   non_numeric    4      'x'     0–3
    1  gad7_4  out_of_range    3        4     0–3
    """
    inst = get_instrument(instrument)
    mat = read_items(responses, inst, items=items, invalid="missing")
    table = pd.DataFrame(mat.quality, columns=QUALITY_COLUMNS)
    table["action"] = table["action"].replace({"set to missing": "would raise"})
    return table


def reverse_score(
    responses: pd.DataFrame, instrument: str | Instrument, *, items: Items = None
) -> pd.DataFrame:
    """Copy of ``responses`` with the reverse-keyed item columns reversed (``low + high − x``).

    Other columns are unchanged; item columns come back as floats (empty = NaN). Applying it twice
    gives the original values (reverse keying is an involution). Values are checked as in
    :func:`score` (``on_invalid="raise"``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({f"pss10_{i}": [0] for i in range(1, 11)})
    >>> keyed = reverse_score(df, "pss10")
    >>> keyed.iloc[0].tolist()
    [0.0, 0.0, 0.0, 4.0, 4.0, 0.0, 4.0, 4.0, 0.0, 0.0]
    """
    inst = get_instrument(instrument)
    mat = read_items(
        responses,
        inst,
        items=items,
        invalid="raise",
        invalid_advice="correct them first; check_responses() lists every one in a data-quality table",
    )
    keyed = mat.keyed(inst)
    out = responses.copy()
    for j, c in enumerate(mat.columns):
        out[c] = keyed[:, j]
    return out
