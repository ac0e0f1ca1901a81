"""Reliable and clinically significant change (Jacobson & Truax 1991).

Reliable change
---------------
``S_diff = SD × √2 × √(1 − r)``; a change is reliable when ``|post − pre| / S_diff > z`` (z = 1.96
for 95 %), i.e. when the change exceeds ``z × S_diff`` (Christensen & Mendoza's corrected formula).
Where a published reliable-change value exists (PHQ-9 6, GAD-7 4, CORE-OM 5, CORE-10 6) it is used
as the threshold with the instrument's comparison (``>=``: a change equal to the value counts, as in
NHS Talking Therapies), and ``rci = z × change / value`` so that ``|rci| >= z`` matches the rule.
Otherwise the threshold is computed from an SD (given, or the SD of the pre scores) and a
reliability (given, or the instrument's stored alpha), and the comparison is strict (``>``).

Clinically significant change
-----------------------------
The cut-off is criterion **a** (``M1 ∓ k·s1``: out of the dysfunctional range), **b** (``M0 ± k·s0``:
into the functional range), **c** (``(s0·M1 + s1·M0) / (s0 + s1)``) or the instrument's published
clinical cut-off; ``k`` is ``sd_multiplier`` (2 in Jacobson & Truax). ``criterion="auto"`` uses
**c** when the instrument has both norms, otherwise the clinical cut-off, otherwise b or a. A person
changed clinically significantly when the pre score is on the clinical side of the cut-off and the
post score is not. Direction is respected throughout: for ``higher_is_better`` scales improvement is
an increase and the clinical side is below the cut-off.

Categories: ``recovered`` (reliable improvement and clinically significant), ``improved`` (reliable
improvement only), ``unchanged`` (no reliable change), ``deteriorated`` (reliable worsening).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.rom._items import ROWS_NOTE, format_rows, row_numbers
from evaltoolkit.rom.definition import Instrument, Scale
from evaltoolkit.rom.errors import RomInputError
from evaltoolkit.rom.registry import get_instrument

__all__ = ["CATEGORIES", "CHANGE_COLUMNS", "change_summary", "reliable_change", "score_column"]

CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated")
"""Jacobson–Truax outcome categories, best first."""

CHANGE_COLUMNS = (
    "change",
    "rci",
    "reliable",
    "clinically_significant",
    "category",
    "rc_threshold",
    "rc_source",
    "cutoff",
    "criterion",
)
"""Columns :func:`reliable_change` adds to the data."""

Criterion = Literal["auto", "a", "b", "c", "cutoff", "none"]


def score_column(
    data: pd.DataFrame, column: str, *, what: str, bounds: tuple[float, float] | None = None
) -> np.ndarray:
    """Read a numeric score column as floats, with clear errors for non-numeric or out-of-range values."""
    if column not in data.columns:
        raise RomInputError(f"{what} column {column!r} is not in the data; columns are {list(data.columns)}")
    col = data[column]
    if pd.api.types.is_bool_dtype(col.dtype):
        raise RomInputError(f"{what} column {column!r} holds booleans, not scores")
    if pd.api.types.is_numeric_dtype(col.dtype):
        arr = col.to_numpy(dtype="float64", na_value=np.nan)
        bad = np.zeros(len(arr), dtype=bool)
    else:
        text = col.astype("string")
        blank = text.isna() | (text.str.strip() == "")
        arr = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = (~blank).to_numpy(dtype=bool) & np.isnan(arr)
    if bad.any():
        raise RomInputError(
            f"{what} column {column!r}: {int(bad.sum())} non-numeric values at rows "
            f"{format_rows(row_numbers(data)[bad])} ({ROWS_NOTE})"
        )
    if bounds is not None:
        lo, hi = bounds
        with np.errstate(invalid="ignore"):
            out = ~np.isnan(arr) & ((arr < lo - 1e-9) | (arr > hi + 1e-9))
        if out.any():
            raise RomInputError(
                f"{what} column {column!r}: {int(out.sum())} values outside the score range {lo:g}–{hi:g} "
                f"at rows {format_rows(row_numbers(data)[out])} (e.g. {arr[out][0]:g}; {ROWS_NOTE})"
            )
    return arr


def _norm(norms: Mapping[str, Any] | None, which: str, scale: Scale) -> tuple[float, float] | None:
    if norms is not None and which in norms:
        v = norms[which]
        if v is None:
            return None
        if isinstance(v, Mapping):
            m, s = v.get("mean"), v.get("sd")
        else:
            m, s = v
        if m is None or s is None or not float(s) > 0:
            raise RomInputError(f"norms[{which!r}] needs a mean and a positive sd, got {v!r}")
        return float(m), float(s)
    stored = getattr(scale.norms, which)
    return (stored.mean, stored.sd) if stored is not None else None


def _rc_rule(
    inst: Instrument,
    scale: Scale,
    pre: np.ndarray,
    *,
    rc: float | None,
    sd: float | None,
    reliability: float | None,
    z: float | None,
    comparison: str | None,
) -> tuple[float, float, str, str]:
    """Return (threshold, z, comparison, source)."""
    if comparison is not None and comparison not in (">=", ">"):
        raise RomInputError(f"comparison must be '>=' or '>', not {comparison!r}")
    if z is not None and not z > 0:
        raise RomInputError(f"z must be positive, got {z}")
    stored_rc = scale.reliable_change
    computed = sd is not None or reliability is not None or (rc is None and stored_rc is None)
    if rc is not None and (sd is not None or reliability is not None):
        raise RomInputError("give either rc= (a reliable-change value) or sd=/reliability=, not both")
    if not computed:
        if rc is not None:
            if not rc > 0:
                raise RomInputError(f"rc must be positive, got {rc}")
            zz = 1.96 if z is None else z
            return float(rc), zz, comparison or ">=", f"given: reliable change {comparison or '>='} {rc:g}"
        if stored_rc is None:  # pragma: no cover - excluded by `computed`
            raise RomInputError(f"{inst.key}: no reliable-change value")
        zz = stored_rc.z if z is None else z
        comp = comparison or stored_rc.comparison
        return stored_rc.value, zz, comp, f"published: {comp} {stored_rc.value:g} ({stored_rc.source})"
    if reliability is None:
        if scale.reliability is None:
            raise RomInputError(
                f"{inst.key}: no published reliable-change value and no stored reliability; pass rc= or "
                "reliability= (and optionally sd=)"
            )
        r, r_src = (
            scale.reliability.value,
            f"{scale.reliability.kind} {scale.reliability.value:g} ({scale.reliability.source})",
        )
    else:
        if not 0 < reliability < 1:
            raise RomInputError(f"reliability must be between 0 and 1, got {reliability}")
        r, r_src = float(reliability), f"reliability {reliability:g} (given)"
    if sd is None:
        obs = pre[~np.isnan(pre)]
        if len(obs) < 2:
            raise RomInputError("need at least two pre scores to use their SD; pass sd=")
        s, s_src = (
            float(np.std(obs, ddof=1)),
            f"SD {float(np.std(obs, ddof=1)):.4g} (pre scores, n = {len(obs)})",
        )
    else:
        if not sd > 0:
            raise RomInputError(f"sd must be positive, got {sd}")
        s, s_src = float(sd), f"SD {sd:g} (given)"
    zz = 1.96 if z is None else z
    s_diff = s * math.sqrt(2.0 * (1.0 - r))
    comp = comparison or ">"
    return zz * s_diff, zz, comp, f"computed: {zz:g} × √2 × {s_src} × √(1 − {r_src})"


def _cutoff_rule(
    inst: Instrument,
    scale: Scale,
    *,
    criterion: str,
    cutoff: float | None,
    norms: Mapping[str, Any] | None,
    sd_multiplier: float,
) -> tuple[float | None, str, str]:
    """Return (cut-off, clinical comparison, criterion used)."""
    worse_up = inst.direction == "higher_is_worse"
    default_side = ">=" if worse_up else "<="
    if criterion not in ("auto", "a", "b", "c", "cutoff", "none"):
        raise RomInputError(f"criterion must be 'auto', 'a', 'b', 'c', 'cutoff' or 'none', not {criterion!r}")
    if norms is not None:
        unknown = sorted(set(norms) - {"functional", "dysfunctional"})
        if unknown:
            raise RomInputError(f"norms keys must be 'functional' and/or 'dysfunctional', got {unknown}")
    if not sd_multiplier > 0:
        raise RomInputError(f"sd_multiplier must be positive, got {sd_multiplier}")
    f = _norm(norms, "functional", scale)
    d = _norm(norms, "dysfunctional", scale)
    stored_cut = scale.clinical_cutoff
    if criterion == "auto":
        if cutoff is not None:
            criterion = "cutoff"
        elif f is not None and d is not None:
            criterion = "c"
        elif stored_cut is not None:
            criterion = "cutoff"
        elif f is not None:
            criterion = "b"
        elif d is not None:
            criterion = "a"
        else:
            raise RomInputError(
                f"{inst.key}: no clinical cut-off and no norms for criterion a/b/c; pass cutoff=, norms= or "
                "criterion='none' (reliable change only)"
            )
    if criterion == "none":
        return None, default_side, "none"
    if criterion == "cutoff":
        if cutoff is not None:
            side = stored_cut.clinical if stored_cut is not None else default_side
            return float(cutoff), side, "cutoff"
        if stored_cut is None:
            raise RomInputError(f"{inst.key}: no published clinical cut-off; pass cutoff=")
        return stored_cut.value, stored_cut.clinical, "cutoff"
    k = sd_multiplier
    if criterion == "a":
        if d is None:
            raise RomInputError(f"{inst.key}: criterion a needs dysfunctional norms; pass norms=")
        value = d[0] - k * d[1] if worse_up else d[0] + k * d[1]
    elif criterion == "b":
        if f is None:
            raise RomInputError(f"{inst.key}: criterion b needs functional norms; pass norms=")
        value = f[0] + k * f[1] if worse_up else f[0] - k * f[1]
    else:
        if f is None or d is None:
            raise RomInputError(
                f"{inst.key}: criterion c needs functional and dysfunctional norms; pass norms="
            )
        value = (f[1] * d[0] + d[1] * f[0]) / (f[1] + d[1])
    return value, default_side, criterion


def _clinical(x: np.ndarray, cut: float, side: str) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if side == ">=":
            return x >= cut
        if side == ">":
            return x > cut
        if side == "<=":
            return x <= cut
        return x < cut


@renamed_kwargs(pre="pre_column", post="post_column")
def reliable_change(
    data: pd.DataFrame,
    instrument: str | Instrument,
    *,
    pre_column: str,
    post_column: str,
    scale: str = "total",
    rc: float | None = None,
    sd: float | None = None,
    reliability: float | None = None,
    z: float | None = None,
    comparison: Literal[">=", ">"] | None = None,
    criterion: Criterion = "auto",
    cutoff: float | None = None,
    norms: Mapping[str, Any] | None = None,
    sd_multiplier: float = 2.0,
) -> pd.DataFrame:
    """Per person reliable change, clinically significant change and Jacobson–Truax category.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person with a pre and a post score column (e.g. ``total`` from :func:`score`
        pivoted to wide). Not modified; every row is kept (missing scores give missing results).
    instrument : str or Instrument
        Supplies the direction, score range, published reliable-change value, reliability, norms and
        clinical cut-off of ``scale``.
    pre_column, post_column : str
        The columns of ``data`` holding the pre and the post scores (formerly ``pre=``/``post=``,
        deprecated: ``pre``/``post`` name occasions, values of ``time``, in :mod:`evaltoolkit.prepost`
        and in the protocol).
    scale : str, default "total"
        Which scale of the instrument the scores are (e.g. ``"depression"`` for DASS-21).
    rc : float, optional
        A reliable-change value (score points) to use instead of the published one.
    sd, reliability : float, optional
        Compute the threshold as ``z × SD × √(2(1 − r))`` instead: ``sd`` defaults to the SD of the
        pre scores, ``reliability`` to the instrument's stored alpha.
    z : float, optional
        Critical value: 1.96 by default; the instrument's own for a published value (CORE-10: 1.645).
    comparison : {">=", ">"}, optional
        How ``|change|`` is compared with the threshold: published values default to the
        instrument's (``>=``), computed thresholds to ``>`` (the change must exceed it).
    criterion : {"auto", "a", "b", "c", "cutoff", "none"}, default "auto"
        Clinically significant change criterion (see the module notes); ``"none"`` skips it.
    cutoff : float, optional
        A clinical cut-off to use instead of the published one (implies ``criterion="cutoff"``
        under ``"auto"``).
    norms : mapping, optional
        ``{"functional": (mean, sd), "dysfunctional": (mean, sd)}`` replacing stored norms.
    sd_multiplier : float, default 2.0
        ``k`` in criteria a and b (some implementations use 1.96).

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` plus ``change`` (post − pre), ``rci`` (change / S_diff), ``reliable``
        (boolean, either direction), ``clinically_significant`` (boolean: clinical side before, not
        after), ``category`` (ordered categorical: recovered, improved, unchanged, deteriorated),
        and the rule behind them: ``rc_threshold`` (minimum reliable change in points),
        ``rc_source``, ``cutoff`` and ``criterion``. Missing pre or post scores give missing values.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"id": [1, 2, 3, 4], "pre": [16, 16, 12, 8], "post": [9, 11, 12, 14]})
    >>> r = reliable_change(d, "phq9", pre_column="pre", post_column="post")
    >>> r[["id", "change", "reliable", "clinically_significant", "category"]]
       id  change  reliable  clinically_significant      category
    0   1    -7.0      True                    True     recovered
    1   2    -5.0     False                   False     unchanged
    2   3     0.0     False                   False     unchanged
    3   4     6.0      True                   False  deteriorated
    >>> print(r.loc[0, "rc_threshold"], r.loc[0, "cutoff"], r.loc[0, "criterion"])
    6.0 10.0 cutoff
    """
    inst = get_instrument(instrument)
    if not isinstance(data, pd.DataFrame):
        raise RomInputError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    try:
        sc = inst.scale(scale)
    except KeyError as exc:
        raise RomInputError(str(exc.args[0])) from None
    clash = [c for c in CHANGE_COLUMNS if c in data.columns]
    if clash:
        raise RomInputError(f"data already has columns {clash}; rename or drop them first")
    if pre_column == post_column:
        raise RomInputError(
            f"pre_column and post_column name the same column ({pre_column!r}); reliable change compares "
            "two different scores (e.g. pre_column='baseline', post_column='final')"
        )
    bounds = inst.scale_range(scale, sc)
    x0 = score_column(data, pre_column, what="pre", bounds=bounds)
    x1 = score_column(data, post_column, what="post", bounds=bounds)
    cut, side, crit = _cutoff_rule(
        inst, sc, criterion=criterion, cutoff=cutoff, norms=norms, sd_multiplier=sd_multiplier
    )

    threshold, zz, comp, rc_src = _rc_rule(
        inst, sc, x0, rc=rc, sd=sd, reliability=reliability, z=z, comparison=comparison
    )
    change = x1 - x0
    paired = ~np.isnan(change)
    s_diff = threshold / zz
    rci = change / s_diff
    mag = np.abs(change)
    with np.errstate(invalid="ignore"):
        reliable = (mag >= threshold) if comp == ">=" else (mag > threshold)
    better = -change if inst.direction == "higher_is_worse" else change
    improved = reliable & (better > 0)
    worse = reliable & (better < 0)
    if cut is not None:
        cs = _clinical(x0, cut, side) & ~_clinical(x1, cut, side)
    else:
        cs = np.zeros(len(change), dtype=bool)
    codes = np.full(len(change), 2, dtype="int64")  # unchanged
    codes[improved] = 1
    codes[improved & cs] = 0
    codes[worse] = 3
    codes[~paired] = -1

    out = data.copy()
    out["change"] = change
    out["rci"] = rci
    out["reliable"] = pd.array(np.where(paired, reliable, False), dtype="boolean")
    out.loc[~paired, "reliable"] = pd.NA
    cs_arr = pd.array(np.where(paired, cs, False), dtype="boolean")
    if cut is None:
        cs_arr[:] = pd.NA
    else:
        cs_arr[~paired] = pd.NA
    out["clinically_significant"] = cs_arr
    out["category"] = pd.Categorical.from_codes(codes, categories=list(CATEGORIES), ordered=True)
    out["rc_threshold"] = threshold
    out["rc_source"] = rc_src
    out["cutoff"] = np.nan if cut is None else cut
    out["criterion"] = crit
    return out


def change_summary(changes: pd.DataFrame, *, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Counts and percentages of Jacobson–Truax categories (from :func:`reliable_change`).

    Parameters
    ----------
    changes : pandas.DataFrame
        Output of :func:`reliable_change`.
    by : str or list of str, optional
        Group columns (e.g. ``"site"``).

    Returns
    -------
    pandas.DataFrame
        Columns: the ``by`` columns, ``category`` (the four categories then ``not classified`` for
        rows missing a pre or post score), ``n``, ``percent`` (of classified rows in the group;
        missing for ``not classified``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"pre": [16, 16, 12, None], "post": [9, 11, 18, 5]})
    >>> change_summary(reliable_change(d, "phq9", pre_column="pre", post_column="post"))
             category  n    percent
    0       recovered  1  33.333333
    1        improved  0   0.000000
    2       unchanged  1  33.333333
    3    deteriorated  1  33.333333
    4  not classified  1        NaN
    """
    if not isinstance(changes, pd.DataFrame):
        raise RomInputError(f"changes must be a pandas DataFrame, not {type(changes).__name__}")
    if "category" not in changes.columns:
        raise RomInputError("changes has no 'category' column; pass the output of reliable_change()")
    groups = [] if by is None else ([by] if isinstance(by, str) else list(by))
    absent = [g for g in groups if g not in changes.columns]
    if absent:
        raise RomInputError(f"by columns {absent} are not in the data")
    labels = [*CATEGORIES, "not classified"]
    cat = changes["category"].astype("string").fillna("not classified")
    frame = changes[groups].copy()
    frame["category"] = pd.Categorical(cat, categories=labels, ordered=True)
    counts = frame.groupby([*groups, "category"], observed=False, sort=True, dropna=False).size()
    out = counts.rename("n").reset_index()
    classified = out["category"] != "not classified"
    denom = (
        out[classified].groupby(groups, dropna=False)["n"].transform("sum")
        if groups
        else out.loc[classified, "n"].sum()
    )
    out["percent"] = np.nan
    out.loc[classified, "percent"] = 100.0 * out.loc[classified, "n"] / denom
    out["n"] = out["n"].astype("int64")
    return out
