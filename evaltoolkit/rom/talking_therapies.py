"""NHS Talking Therapies (formerly IAPT) paired outcomes for PHQ-9 with GAD-7.

Definitions (the NHS Talking Therapies manual: thresholds verified, Boolean logic the commonly published
construction, manual wording UNVERIFIED):

* **Caseness** at a time point: PHQ-9 ≥ 10 **or** GAD-7 ≥ 8 ("10 or above": ``>=``).
* **Recovery**: a case at the first score and not a case on either measure at the last score
  (PHQ-9 < 10 **and** GAD-7 < 8). Referrals not at caseness at the start are excluded from the
  denominator (the flag is missing for them).
* **Reliable improvement**: a drop of at least the reliable-change value (PHQ-9 6, GAD-7 4) on at
  least one measure **and** no reliable deterioration on the other.
* **Reliable deterioration**: a rise of at least the reliable-change value on at least one measure
  **and** no reliable improvement on the other.
* **Reliable recovery**: recovery **and** reliable improvement (denominator: cases at the start).
* **Mixed change**: one measure reliably improved and the other reliably deteriorated; neither
  improvement nor deterioration, flagged explicitly.

Outcomes are computed for referrals that finished a course of treatment (two or more attended
treatment appointments: pass ``finished_treatment=``) with paired first and last scores on both
measures. Other rows are kept with missing outcomes and left out of every denominator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaltoolkit.rom._items import ROWS_NOTE, format_rows, row_numbers
from evaltoolkit.rom.change import score_column
from evaltoolkit.rom.errors import RomInputError

__all__ = ["TT_COLUMNS", "talking_therapies_outcomes", "talking_therapies_summary"]

TT_COLUMNS = (
    "eligible",
    "phq9_change",
    "gad7_change",
    "case_pre",
    "case_post",
    "recovery",
    "reliable_improvement",
    "reliable_deterioration",
    "reliable_recovery",
    "mixed_change",
)
"""Columns :func:`talking_therapies_outcomes` adds."""

_INDICATORS = (
    ("caseness_at_start", "case_pre", "eligible"),
    ("recovery", "recovery", "case"),
    ("reliable_improvement", "reliable_improvement", "eligible"),
    ("reliable_recovery", "reliable_recovery", "case"),
    ("reliable_deterioration", "reliable_deterioration", "eligible"),
    ("mixed_change", "mixed_change", "eligible"),
)


def _boolean(values: np.ndarray, keep: np.ndarray) -> pd.arrays.BooleanArray:
    arr = pd.array(np.where(keep, values, False), dtype="boolean")
    arr[~keep] = pd.NA
    return arr


def talking_therapies_outcomes(
    data: pd.DataFrame,
    *,
    phq9_pre: str,
    phq9_post: str,
    gad7_pre: str,
    gad7_post: str,
    finished_treatment: str | None = None,
    phq9_caseness: float = 10,
    gad7_caseness: float = 8,
    phq9_reliable_change: float = 6,
    gad7_reliable_change: float = 4,
) -> pd.DataFrame:
    """Per referral NHS Talking Therapies outcomes from first and last PHQ-9 and GAD-7 scores.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per referral. Not modified; every row is kept.
    phq9_pre, phq9_post, gad7_pre, gad7_post : str
        Score columns (first and last scores; PHQ-9 0–27, GAD-7 0–21).
    finished_treatment : str, optional
        Boolean column: the referral finished a course of treatment (≥ 2 attended treatment
        appointments). Rows with False are not eligible. Default: every row is eligible.
    phq9_caseness, gad7_caseness : float, default 10 and 8
        Caseness thresholds (a score at or above is a case).
    phq9_reliable_change, gad7_reliable_change : float, default 6 and 4
        Reliable-change values (a change at least this large is reliable).

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` plus ``eligible`` (bool: finished treatment and all four scores present),
        ``phq9_change`` and ``gad7_change`` (post − pre), and the boolean outcomes ``case_pre``,
        ``case_post``, ``recovery`` (missing unless a case at the start), ``reliable_improvement``,
        ``reliable_deterioration``, ``reliable_recovery`` (missing unless a case at the start) and
        ``mixed_change``; outcomes are missing for rows that are not eligible.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"phq_a": [15, 12, 8, 14], "phq_b": [8, 11, 9, 20],
    ...                   "gad_a": [10, 9, 5, 6], "gad_b": [6, 4, 4, 2]})
    >>> out = talking_therapies_outcomes(
    ...     d, phq9_pre="phq_a", phq9_post="phq_b", gad7_pre="gad_a", gad7_post="gad_b"
    ... )
    >>> out[["case_pre", "recovery", "reliable_improvement", "reliable_recovery", "mixed_change"]]
       case_pre  recovery  reliable_improvement  reliable_recovery  mixed_change
    0      True      True                  True               True         False
    1      True     False                  True              False         False
    2     False      <NA>                 False               <NA>         False
    3      True     False                 False              False          True
    """
    if not isinstance(data, pd.DataFrame):
        raise RomInputError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    clash = [c for c in TT_COLUMNS if c in data.columns]
    if clash:
        raise RomInputError(f"data already has columns {clash}; rename or drop them first")
    for name, v in (
        ("phq9_caseness", phq9_caseness),
        ("gad7_caseness", gad7_caseness),
        ("phq9_reliable_change", phq9_reliable_change),
        ("gad7_reliable_change", gad7_reliable_change),
    ):
        if not v > 0:
            raise RomInputError(f"{name} must be positive, got {v}")
    p0 = score_column(data, phq9_pre, what="PHQ-9 pre", bounds=(0, 27))
    p1 = score_column(data, phq9_post, what="PHQ-9 post", bounds=(0, 27))
    g0 = score_column(data, gad7_pre, what="GAD-7 pre", bounds=(0, 21))
    g1 = score_column(data, gad7_post, what="GAD-7 post", bounds=(0, 21))
    eligible = ~(np.isnan(p0) | np.isnan(p1) | np.isnan(g0) | np.isnan(g1))
    if finished_treatment is not None:
        if finished_treatment not in data.columns:
            raise RomInputError(f"finished_treatment column {finished_treatment!r} is not in the data")
        fin = data[finished_treatment]
        if pd.api.types.is_bool_dtype(fin.dtype):
            bad = fin.isna().to_numpy(dtype=bool)
        else:
            bad = ~fin.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
        if bad.any():
            raise RomInputError(
                f"finished_treatment column {finished_treatment!r} must hold True/False only; other values "
                f"at rows {format_rows(row_numbers(data)[bad])} ({ROWS_NOTE})"
            )
        eligible &= fin.to_numpy(dtype=bool)

    dp, dg = p1 - p0, g1 - g0
    with np.errstate(invalid="ignore"):
        case_pre = (p0 >= phq9_caseness) | (g0 >= gad7_caseness)
        case_post = (p1 >= phq9_caseness) | (g1 >= gad7_caseness)
        p_imp, p_det = -dp >= phq9_reliable_change, dp >= phq9_reliable_change
        g_imp, g_det = -dg >= gad7_reliable_change, dg >= gad7_reliable_change
    rel_imp = (p_imp & ~g_det) | (g_imp & ~p_det)
    rel_det = (p_det & ~g_imp) | (g_det & ~p_imp)
    mixed = (p_imp & g_det) | (g_imp & p_det)
    recovery = case_pre & ~case_post
    at_case = eligible & case_pre

    out = data.copy()
    out["eligible"] = eligible
    out["phq9_change"] = dp
    out["gad7_change"] = dg
    out["case_pre"] = _boolean(case_pre, eligible)
    out["case_post"] = _boolean(case_post, eligible)
    out["recovery"] = _boolean(recovery, at_case)
    out["reliable_improvement"] = _boolean(rel_imp, eligible)
    out["reliable_deterioration"] = _boolean(rel_det, eligible)
    out["reliable_recovery"] = _boolean(recovery & rel_imp, at_case)
    out["mixed_change"] = _boolean(mixed, eligible)
    return out


def talking_therapies_summary(outcomes: pd.DataFrame, *, conf_level: float = 0.95) -> pd.DataFrame:
    """Service-level indicators from :func:`talking_therapies_outcomes`, with Wilson confidence intervals.

    Returns
    -------
    pandas.DataFrame
        One row per indicator (``eligible``, ``caseness_at_start``, ``recovery``,
        ``reliable_improvement``, ``reliable_recovery``, ``reliable_deterioration``,
        ``mixed_change``) with ``numerator``, ``denominator``, ``proportion`` (0–1, what NHS
        Talking Therapies calls the rate; the column was called ``rate`` before release 0.2.0),
        ``ci_lower``, ``ci_upper``, ``conf_level``, ``method`` and ``denominator_definition``. Recovery
        and reliable recovery are over eligible referrals at caseness at the start; the others over
        eligible referrals; ``eligible`` over all rows.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame(
    ...     {"p0": [15, 12, 8, 14], "p1": [8, 11, 9, 20], "g0": [10, 9, 5, 6], "g1": [6, 4, 4, 2]}
    ... )
    >>> o = talking_therapies_outcomes(d, phq9_pre="p0", phq9_post="p1", gad7_pre="g0", gad7_post="g1")
    >>> talking_therapies_summary(o)[["indicator", "numerator", "denominator", "proportion"]]
                    indicator  numerator  denominator  proportion
    0                eligible          4            4    1.000000
    1       caseness_at_start          3            4    0.750000
    2                recovery          1            3    0.333333
    3    reliable_improvement          2            4    0.500000
    4       reliable_recovery          1            3    0.333333
    5  reliable_deterioration          0            4    0.000000
    6            mixed_change          1            4    0.250000
    """
    if not isinstance(outcomes, pd.DataFrame):
        raise RomInputError(f"outcomes must be a pandas DataFrame, not {type(outcomes).__name__}")
    missing = [c for c in TT_COLUMNS if c not in outcomes.columns]
    if missing:
        raise RomInputError(f"outcomes lacks {missing}; pass the output of talking_therapies_outcomes()")
    if not 0 < conf_level < 1:
        raise RomInputError(f"conf_level must be between 0 and 1, got {conf_level}")
    eligible = outcomes["eligible"].to_numpy(dtype=bool)
    case = eligible & outcomes["case_pre"].fillna(False).to_numpy(dtype=bool)
    rows = [("eligible", int(eligible.sum()), len(outcomes), "all rows")]
    for name, col, denom in _INDICATORS:
        mask = eligible if denom == "eligible" else case
        num = int(outcomes[col].fillna(False).to_numpy(dtype=bool)[mask].sum())
        rows.append(
            (
                name,
                num,
                int(mask.sum()),
                "eligible referrals" if denom == "eligible" else "eligible cases at start",
            )
        )
    table = pd.DataFrame(rows, columns=["indicator", "numerator", "denominator", "denominator_definition"])
    num = table["numerator"].to_numpy()
    den = table["denominator"].to_numpy()
    ok = den > 0
    rate = np.full(len(table), np.nan)
    lo = np.full(len(table), np.nan)
    hi = np.full(len(table), np.nan)
    rate[ok] = num[ok] / den[ok]
    if ok.any():
        from statsmodels.stats.proportion import proportion_confint

        lo[ok], hi[ok] = proportion_confint(num[ok], den[ok], alpha=1 - conf_level, method="wilson")
    table["proportion"] = rate
    table["ci_lower"] = lo
    table["ci_upper"] = hi
    table["conf_level"] = conf_level
    table["method"] = "wilson"
    return table[
        [
            "indicator",
            "numerator",
            "denominator",
            "proportion",
            "ci_lower",
            "ci_upper",
            "conf_level",
            "method",
            "denominator_definition",
        ]
    ]
