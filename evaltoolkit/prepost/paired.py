"""Paired change on scored outcome measures: programme pre/post and staff surveys.

Input is *long*: one row per subject × occasion (× outcome), with already-scored values (for example
the ``total`` column of :func:`evaltoolkit.rom.score`, stacked over instruments with an ``outcome``
column). Missing values are allowed and mean "no valid score"; they are counted, never imputed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.prepost._common import (
    PAdjust,
    adjust_p,
    check_columns,
    check_conf_level,
    check_frame,
    mean_interval,
    median_interval,
    nct_interval,
    numeric_column,
    outcome_groups,
    p_adjust_text,
    paired_t,
    rows_text,
    tidy,
    wilcoxon,
    z_crit,
)
from evaltoolkit.prepost.errors import PrePostInputError

__all__ = ["PAIRED_TERMS", "effect_size_intervals", "paired_change", "paired_scores"]

PAIRED_TERMS: tuple[str, ...] = (
    "mean_pre",
    "mean_post",
    "mean_change",
    "median_change",
    "d_z",
    "d_av",
    "g_av",
)
"""Terms of :func:`paired_change`, in output order (for each outcome)."""


def _check_long(
    data: object, subject: str, time: str, value: str, outcome: str | None, pre: object, post: object
) -> pd.DataFrame:
    frame = check_frame(data)
    check_columns(frame, [subject, time, value, outcome])
    if pre == post:
        raise PrePostInputError(f"pre and post are the same occasion ({pre!r})")
    for col in (subject, time):
        miss = frame[col].isna()
        if miss.any():
            raise PrePostInputError(f"data: {col!r} is missing: {rows_text(miss)}")
    found = set(frame[time].tolist())
    for label, occ in (("pre", pre), ("post", post)):
        if occ not in found:
            raise PrePostInputError(
                f"{label}={occ!r} is not a value of {time!r}; its values are {sorted(map(str, found))[:12]}"
            )
    frame[value] = numeric_column(frame, value, "data", allow_missing=True)
    keys = [subject, time] + ([outcome] if outcome else [])
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        raise PrePostInputError(
            f"data: more than one row per {' × '.join(keys)}: {rows_text(dup)}; give one score per occasion"
        )
    return frame


def paired_scores(
    data: pd.DataFrame,
    *,
    subject: str,
    time: str,
    value: str,
    pre: object,
    post: object,
    outcome: str | None = None,
) -> pd.DataFrame:
    """Wide pre/post table, one row per outcome × subject with a valid score on at least one occasion.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data: one row per subject × occasion (× outcome). Not modified.
    subject, time, value : str
        Subject id, occasion and score columns.
    pre, post : object
        Values of ``time`` for the two occasions compared (e.g. ``"baseline"`` and ``"end"``).
    outcome : str, optional
        Column naming the outcome measure when ``data`` stacks several.

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome`` (``"value"`` when no outcome column), ``subject`` (named as in ``data``),
        ``pre``, ``post`` (float; NaN where there is no valid score) and ``complete`` (both valid).
        Sorted by outcome (order of first appearance) then subject. Pass it (one outcome) to
        :func:`evaltoolkit.rom.reliable_change` with ``pre="pre", post="post"`` for Jacobson–Truax
        categories, which adds ``change``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"id": [1, 1, 2, 3, 3], "occ": ["pre", "post", "pre", "pre", "post"],
    ...                   "score": [10, 7, 12, 9, None]})
    >>> paired_scores(d, subject="id", time="occ", value="score", pre="pre", post="post")
      outcome  id   pre  post  complete
    0   value   1  10.0   7.0      True
    1   value   2  12.0   NaN     False
    2   value   3   9.0   NaN     False
    """
    frame = _check_long(data, subject, time, value, outcome, pre, post)
    parts = []
    for name, d in outcome_groups(frame, outcome):
        d = d[d[time].isin([pre, post])]
        wide = d.pivot(index=subject, columns=time, values=value)
        wide = wide.reindex(columns=[pre, post])
        wide.columns = ["pre", "post"]
        wide = wide[wide.notna().any(axis=1)]
        try:
            wide = wide.sort_index()
        except TypeError as exc:
            kinds = sorted({type(v).__name__ for v in wide.index})
            raise PrePostInputError(
                f"data: subject column {subject!r} mixes value types ({', '.join(kinds)}), so subjects "
                "cannot be ordered; make the identifiers all text (or all numbers)"
            ) from exc
        wide = wide.reset_index()
        wide.insert(0, "outcome", name)
        parts.append(wide)
    out = pd.concat(parts, ignore_index=True)
    out["pre"] = out["pre"].astype("float64")
    out["post"] = out["post"].astype("float64")
    out["complete"] = out["pre"].notna() & out["post"].notna()
    return out


def effect_size_intervals(
    mean_change: float, sd_change: float, sd_pre: float, sd_post: float, r: float, n: int, conf_level: float
) -> dict[str, dict[str, float]]:
    """Cohen's d_z, d_av and Hedges' g_av for a paired design, each with its interval.

    * ``d_z = mean_change / sd_change``; interval from the noncentral t distribution of
      ``t = d_z √n`` with ``n − 1`` df (Steiger & Fouladi 1997), divided by ``√n``.
    * ``d_av = mean_change / ((sd_pre + sd_post) / 2)`` (Cumming 2012; Lakens 2013); normal interval with
      the matched-groups variance ``(1/n + d²/(2n)) · 2(1 − r)`` of Borenstein et al. (2009, eq. 4.28),
      ``r`` the pre–post correlation.
    * ``g_av = J · d_av`` with ``J = 1 − 3 / (4(n − 1) − 1)``; variance ``J²`` times that of ``d_av``.

    Returns
    -------
    dict
        ``{"d_z": {...}, "d_av": {...}, "g_av": {...}}``, each with ``estimate``, ``std_error``,
        ``ci_lower``, ``ci_upper`` (NaN where undefined: a zero SD, or n < 2).

    Examples
    --------
    >>> es = effect_size_intervals(-2.0, 4.0, 5.0, 5.0, 0.68, 50, 0.95)
    >>> round(es["d_z"]["estimate"], 3), round(es["d_av"]["estimate"], 3), round(es["g_av"]["estimate"], 3)
    (-0.5, -0.4, -0.394)
    """
    named = {"mean_change": mean_change, "sd_change": sd_change, "sd_pre": sd_pre, "sd_post": sd_post, "r": r,
             "n": n, "conf_level": conf_level}  # fmt: skip
    not_numbers = [
        k for k, v in named.items() if isinstance(v, bool) or not isinstance(v, int | float | np.number)
    ]
    if not_numbers:
        raise PrePostInputError(f"effect_size_intervals needs numbers for {', '.join(not_numbers)}")
    nan = {"estimate": np.nan, "std_error": np.nan, "ci_lower": np.nan, "ci_upper": np.nan}
    out = {"d_z": dict(nan), "d_av": dict(nan), "g_av": dict(nan)}
    if n < 2:
        return out
    if sd_change > 0:
        dz = mean_change / sd_change
        lo, hi = nct_interval(dz * math.sqrt(n), n - 1, conf_level)
        out["d_z"] = {
            "estimate": dz,
            "std_error": math.sqrt(1 / n + dz * dz / (2 * n)),
            "ci_lower": lo / math.sqrt(n),
            "ci_upper": hi / math.sqrt(n),
        }
    sd_av = (sd_pre + sd_post) / 2
    if sd_av > 0:
        d = mean_change / sd_av
        var = (1 / n + d * d / (2 * n)) * 2 * (1 - r) if np.isfinite(r) else np.nan
        se = math.sqrt(var) if np.isfinite(var) else np.nan
        q = z_crit(conf_level)
        out["d_av"] = {"estimate": d, "std_error": se, "ci_lower": d - q * se, "ci_upper": d + q * se}
        j = 1 - 3 / (4 * (n - 1) - 1) if n > 2 else np.nan
        g, gse = j * d, j * se
        out["g_av"] = {"estimate": g, "std_error": gse, "ci_lower": g - q * gse, "ci_upper": g + q * gse}
    return out


def paired_change(
    data: pd.DataFrame,
    *,
    subject: str,
    time: str,
    value: str,
    pre: object,
    post: object,
    outcome: str | None = None,
    conf_level: float = 0.95,
    p_adjust: PAdjust = "holm",
) -> pd.DataFrame:
    """Paired pre/post change per outcome: means, mean and median change with tests, and effect sizes.

    Only subjects with a valid score on both occasions (complete cases) are analysed; see
    :func:`~evaltoolkit.prepost.analysed_n`, :func:`~evaltoolkit.prepost.attrition_table` and
    :func:`~evaltoolkit.prepost.complete_vs_available` for who is left out and what that does.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data: one row per subject × occasion (× outcome), scores in ``value`` (NaN = no valid
        score). Not modified.
    subject, time, value : str
        Subject id, occasion and score columns.
    pre, post : object
        The two values of ``time`` compared; change is ``post − pre``.
    outcome : str, optional
        Column naming the outcome measure when ``data`` stacks several (Holm correction runs across them).
    conf_level : float, default 0.95
        Confidence level of every interval.
    p_adjust : {"holm", "bonferroni", "fdr_bh", "none"}, default "holm"
        Adjustment across outcomes of the ``mean_change`` and ``median_change`` p-values (``p_adjusted``).

    Returns
    -------
    pandas.DataFrame
        One row per outcome × term, columns :data:`~evaltoolkit.prepost.ESTIMATE_COLUMNS`; ``n`` is the
        number of complete pairs. Terms, in order:

        * ``mean_pre``, ``mean_post``: means of the complete cases (t intervals);
        * ``mean_change``: mean of post − pre, paired t test (pingouin), t interval;
        * ``median_change``: median change, order-statistic interval, Wilcoxon signed-rank test
          (pingouin; zero changes dropped). ``statistic`` is ``min(W+, W−)`` (scipy's two-sided
          statistic), with ``W+`` and ``W−`` the rank sums of the increases and decreases; R's
          ``wilcox.test(post, pre, paired = TRUE)`` reports ``V = W+`` instead. With ``n`` non-zero
          changes ``W+ + W− = n(n + 1)/2``, so ``V = n(n + 1)/2 − statistic`` when the increases have the
          larger rank sum (and ``V = statistic`` otherwise); the p-value is the same either way;
        * ``d_z``, ``d_av``, ``g_av``: standardised mean change (see :func:`effect_size_intervals`),
          signed like the change: on a scale where lower is better, negative is improvement.

    Raises
    ------
    PrePostInputError
        Missing columns; ``pre``/``post`` not found; non-numeric scores; duplicate subject × occasion
        (× outcome) rows; an outcome with fewer than two complete pairs (for example no completers).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({
    ...     "id": [i for i in range(1, 7) for _ in range(2)],
    ...     "occ": ["pre", "post"] * 6,
    ...     "score": [20, 14, 18, 15, 25, 17, 16, 16, 22, 15, 19, 12],
    ... })
    >>> out = paired_change(d, subject="id", time="occ", value="score", pre="pre", post="post")
    >>> out[["term", "estimate", "ci_lower", "ci_upper"]].round(2)
                term  estimate  ci_lower  ci_upper
    0       mean_pre     20.00     16.68     23.32
    1      mean_post     14.83     13.03     16.64
    2    mean_change     -5.17     -8.38     -1.95
    3  median_change     -6.50     -8.00      0.00
    4            d_z     -1.69     -2.95     -0.37
    5           d_av     -2.12     -3.78     -0.45
    6           g_av     -1.78     -3.18     -0.38
    """
    conf_level = check_conf_level(conf_level)
    wide = paired_scores(data, subject=subject, time=time, value=value, pre=pre, post=post, outcome=outcome)
    rows: list[dict[str, Any]] = []
    for name in list(dict.fromkeys(wide["outcome"].tolist())):
        w = wide[(wide["outcome"] == name) & wide["complete"]]
        n = len(w)
        if n < 2:
            raise PrePostInputError(
                f"outcome {name!r}: {n} subject(s) have valid {pre!r} and {post!r} scores; at least 2 are "
                "needed (no completers?). See analysed_n() and attrition_table()"
            )
        rows += _paired_rows(name, w["pre"].to_numpy(), w["post"].to_numpy(), conf_level)
    table = tidy(rows, conf_level)
    table = adjust_p(table, p_adjust, ["mean_change", "median_change"])
    has_p = table["p_adjusted"].notna()
    table.loc[has_p, "method"] = table.loc[has_p, "method"] + "; " + p_adjust_text(p_adjust)
    return table


def _paired_rows(name: str, x0: np.ndarray, x1: np.ndarray, conf_level: float) -> list[dict[str, Any]]:
    n = len(x0)
    d = x1 - x0
    described = "mean (complete cases); t interval"
    rows: list[dict[str, Any]] = [
        {"outcome": name, "term": "mean_pre", **mean_interval(x0, conf_level), "method": described},
        {"outcome": name, "term": "mean_post", **mean_interval(x1, conf_level), "method": described},
    ]
    t = paired_t(x1, x0, conf_level)
    rows.append(
        {
            "outcome": name,
            "term": "mean_change",
            **t,
            "method": "mean change (post − pre); paired t test (pingouin)"
            + (f"; {t['note']}" if "note" in t else ""),
        }
    )
    w = wilcoxon(d)
    rows.append(
        {
            "outcome": name,
            "term": "median_change",
            **median_interval(d, conf_level),
            **{k: w[k] for k in ("statistic", "p_value") if k in w},
            "method": f"median change; order-statistic interval; Wilcoxon signed-rank test (pingouin; "
            f"{int((d != 0).sum())} non-zero changes)" + (f"; {w['note']}" if "note" in w else ""),
        }
    )
    sd0, sd1 = float(np.std(x0, ddof=1)), float(np.std(x1, ddof=1))
    r = float(np.corrcoef(x0, x1)[0, 1]) if sd0 > 0 and sd1 > 0 else np.nan
    es = effect_size_intervals(float(np.mean(d)), float(np.std(d, ddof=1)), sd0, sd1, r, n, conf_level)
    methods = {
        "d_z": "Cohen's d_z = mean change / SD of change; noncentral t interval",
        "d_av": f"Cohen's d_av = mean change / mean of pre and post SDs (r = {r:.3f}); normal interval, "
        "Borenstein et al. (2009) matched-groups variance",
        "g_av": "Hedges' g_av = small-sample corrected d_av; normal interval",
    }
    for term, text in methods.items():
        rows.append({"outcome": name, "term": term, **es[term], "n": n, "method": text})
    for row in rows:
        row["n"] = n
    return rows
