"""Attrition: who was analysed, who dropped out, and what complete-case analysis does to the estimate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaltoolkit.prepost._common import (
    check_conf_level,
    outcome_groups,
    paired_t,
    tidy,
    welch,
    z_crit,
)
from evaltoolkit.prepost.errors import PrePostInputError
from evaltoolkit.prepost.paired import _check_long, paired_scores
from evaltoolkit.prepost.trajectories import fit_mixed, mixed_gls

__all__ = [
    "ANALYSED_COLUMNS",
    "ATTRITION_COLUMNS",
    "analysed_n",
    "attrition_table",
    "complete_vs_available",
]

ATTRITION_COLUMNS: tuple[str, ...] = (
    "outcome",
    "n_started",
    "n_valid_pre",
    "n_completers",
    "n_dropouts",
    "mean_completers",
    "sd_completers",
    "mean_dropouts",
    "sd_dropouts",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "ci_lower",
    "ci_upper",
    "smd",
    "conf_level",
    "method",
)
"""Columns of :func:`attrition_table`. ``n_started`` counts subjects with any row for the outcome (as in
:data:`ANALYSED_COLUMNS`); ``n_valid_pre`` = ``n_completers`` + ``n_dropouts`` those with a valid ``pre``
score, the base of the comparison."""

ANALYSED_COLUMNS: tuple[str, ...] = (
    "outcome",
    "n_started",
    "n_valid_pre",
    "n_valid_post",
    "n_analysed",
    "proportion_analysed",
    "statement",
)
"""Columns of :func:`analysed_n`. ``n_started`` counts subjects with any row for the outcome (the same
meaning as in :data:`ATTRITION_COLUMNS`)."""


def analysed_n(
    data: pd.DataFrame,
    *,
    subject: str,
    time: str,
    value: str,
    pre: object,
    post: object,
    outcome: str | None = None,
) -> pd.DataFrame:
    """How many were analysed of how many started, per outcome, with a plain-words statement.

    A subject *started* when they have any row for the outcome; they are *analysed* (a complete case)
    when they have a valid score at both ``pre`` and ``post``.

    Parameters
    ----------
    data, subject, time, value, pre, post, outcome
        As :func:`~evaltoolkit.prepost.paired_change`.

    Returns
    -------
    pandas.DataFrame
        One row per outcome, columns :data:`ANALYSED_COLUMNS`: ``n_started``, ``n_valid_pre``,
        ``n_valid_post``, ``n_analysed`` (int), ``proportion_analysed`` and ``statement``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"id": [1, 1, 2, 2, 3, 4, 4],
    ...                   "occ": ["pre", "post", "pre", "post", "pre", "pre", "post"],
    ...                   "score": [10, 7, 12, 9, 11, None, 8]})
    >>> print(analysed_n(d, subject="id", time="occ", value="score", pre="pre", post="post")["statement"][0])
    Analysed 2 of 4 who started (50.0%): 1 without a valid pre score, 1 more without a valid post score.
    """
    frame = _check_long(data, subject, time, value, outcome, pre, post)
    wide = paired_scores(frame, subject=subject, time=time, value=value, pre=pre, post=post, outcome=outcome)
    out = []
    for name, d in outcome_groups(frame, outcome):
        started = int(d[subject].nunique())
        w = wide[wide["outcome"] == name]
        n_pre = int(w["pre"].notna().sum())
        n_post = int(w["post"].notna().sum())
        n_both = int(w["complete"].sum())
        prop = n_both / started if started else np.nan
        no_post = n_pre - n_both
        statement = (
            f"Analysed {n_both} of {started} who started ({100 * prop:.1f}%): {started - n_pre} without a "
            f"valid {pre} score, {no_post} more without a valid {post} score."
        )
        out.append((name, started, n_pre, n_post, n_both, prop, statement))
    table = pd.DataFrame(out, columns=list(ANALYSED_COLUMNS))
    for c in ("n_started", "n_valid_pre", "n_valid_post", "n_analysed"):
        table[c] = table[c].astype("int64")
    table["proportion_analysed"] = table["proportion_analysed"].astype("float64")
    return table


def attrition_table(
    data: pd.DataFrame,
    *,
    subject: str,
    time: str,
    value: str,
    pre: object,
    post: object,
    outcome: str | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Baseline comparison of completers and drop-outs, one row per outcome.

    Among subjects with a valid ``pre`` score, *completers* also have a valid ``post`` score and
    *drop-outs* do not. If drop-outs started worse (or better), complete-case change is about a
    different group from the one that started.

    Counts: ``n_started`` is the number of subjects with any row for the outcome (who started, as in
    :func:`analysed_n`); ``n_valid_pre`` is the number with a valid ``pre`` score, the base of the
    comparison, so ``n_completers + n_dropouts == n_valid_pre``. Subjects who started without a
    valid ``pre`` score (``n_started − n_valid_pre``) have no baseline to compare and are in neither
    group.

    Parameters
    ----------
    data, subject, time, value, pre, post, outcome
        As :func:`~evaltoolkit.prepost.paired_change`.
    conf_level : float, default 0.95
        Confidence level of the difference.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ATTRITION_COLUMNS`: counts (``n_started``, ``n_valid_pre``, ``n_completers``,
        ``n_dropouts``, all int), baseline mean and SD of each group, ``estimate`` =
        mean(drop-outs) − mean(completers) with Welch ``std_error``, ``statistic`` (t), ``df``,
        ``p_value`` and interval, and ``smd`` (the difference over the pooled SD). With no completers or
        no drop-outs the comparison columns are NaN (documented, not an error: the table still reports
        the counts).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"id": [1, 1, 2, 2, 3, 4, 5],
    ...                   "occ": ["pre", "post", "pre", "post", "pre", "pre", "post"],
    ...                   "score": [10, 7, 12, 9, 15, 17, 8]})
    >>> t = attrition_table(d, subject="id", time="occ", value="score", pre="pre", post="post")
    >>> t[["n_started", "n_valid_pre", "n_completers", "n_dropouts"]]
       n_started  n_valid_pre  n_completers  n_dropouts
    0          5            4             2           2
    >>> t[["mean_completers", "mean_dropouts", "estimate", "smd"]]
       mean_completers  mean_dropouts  estimate       smd
    0             11.0           16.0       5.0  3.535534
    """
    conf_level = check_conf_level(conf_level)
    frame = _check_long(data, subject, time, value, outcome, pre, post)
    wide = paired_scores(frame, subject=subject, time=time, value=value, pre=pre, post=post, outcome=outcome)
    rows = []
    for name, d in outcome_groups(frame, outcome):
        started = int(d[subject].nunique())
        w = wide[(wide["outcome"] == name) & wide["pre"].notna()]
        comp = w.loc[w["complete"], "pre"].to_numpy(dtype=float)
        drop = w.loc[~w["complete"], "pre"].to_numpy(dtype=float)
        res = welch(drop, comp, conf_level)
        nc, nd = len(comp), len(drop)
        sdc = float(np.std(comp, ddof=1)) if nc > 1 else np.nan
        sdd = float(np.std(drop, ddof=1)) if nd > 1 else np.nan
        pooled = (
            np.sqrt(((nc - 1) * sdc**2 + (nd - 1) * sdd**2) / (nc + nd - 2)) if nc > 1 and nd > 1 else np.nan
        )
        rows.append(
            {
                "outcome": name,
                "n_started": started,
                "n_valid_pre": nc + nd,
                "n_completers": nc,
                "n_dropouts": nd,
                "mean_completers": float(np.mean(comp)) if nc else np.nan,
                "sd_completers": sdc,
                "mean_dropouts": float(np.mean(drop)) if nd else np.nan,
                "sd_dropouts": sdd,
                "estimate": res.get("estimate", np.nan),
                "std_error": res.get("std_error", np.nan),
                "statistic": res.get("statistic", np.nan),
                "df": res.get("df", np.nan),
                "p_value": res.get("p_value", np.nan),
                "ci_lower": res.get("ci_lower", np.nan),
                "ci_upper": res.get("ci_upper", np.nan),
                "smd": float(res["estimate"] / pooled) if np.isfinite(pooled) and pooled > 0 else np.nan,
                "conf_level": conf_level,
                "method": f"baseline ({pre}) score, drop-outs − completers; Welch t test; smd = difference / "
                "pooled SD"
                + ("" if nc > 1 and nd > 1 else "; not compared: fewer than two completers or drop-outs"),
            }
        )
    table = pd.DataFrame(rows, columns=list(ATTRITION_COLUMNS))
    for c in ("n_started", "n_valid_pre", "n_completers", "n_dropouts"):
        table[c] = table[c].astype("int64")
    return table


def complete_vs_available(
    data: pd.DataFrame,
    *,
    subject: str,
    time: str,
    value: str,
    pre: object,
    post: object,
    outcome: str | None = None,
    conf_level: float = 0.95,
    reml: bool = True,
) -> pd.DataFrame:
    """Pre→post change three ways, side by side: complete cases, naive all-available, and a mixed model.

    * ``complete_case``: mean change among subjects with both scores (paired t interval).
    * ``all_available_naive``: mean of every valid ``post`` score − mean of every valid ``pre`` score
      (Welch interval, treating the two as independent samples). When drop-outs differ from completers
      this compares different people and is biased: shown as the error to avoid.
    * ``mixed_model``: every valid score at every occasion in ``data`` (intermediate sessions too) in a
      linear mixed model with one fixed mean per occasion and a random intercept per subject (REML
      by default); the estimate is the ``post`` − ``pre`` contrast. Valid when drop-out depends only
      on observed scores (missing at random). Its standard error is the generalised least-squares
      one at the estimated variance components, from ``(X'V̂⁻¹X)⁻¹`` with ``V̂ = σ̂²_u J + σ̂² I`` per
      subject, as ``lme4::lmer(score ~ occasion + (1 | subject))`` and ``nlme::lme`` report it
      (checked against both in the tests); the interval and p-value are Wald ones with normal
      quantiles (as lme4's ``confint(method = "Wald")``), so ``df`` is NaN. The method text gives the
      random-intercept and residual SDs and the maximised log-likelihood (REML in lme4's convention,
      or ML).

    Parameters
    ----------
    data, subject, time, value, pre, post, outcome, conf_level
        As :func:`~evaltoolkit.prepost.paired_change`; ``time`` may have more values than ``pre`` and
        ``post`` (all are used by the mixed model).
    reml : bool, default True
        Estimate the mixed model's variance components by REML (the default of lme4 and nlme); False
        for maximum likelihood.

    Returns
    -------
    pandas.DataFrame
        One row per outcome × term (``complete_case``, ``all_available_naive``, ``mixed_model``),
        columns :data:`~evaltoolkit.prepost.ESTIMATE_COLUMNS`; ``n`` is the number of subjects whose
        scores the estimate uses.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"id": [1, 1, 2, 2, 3, 4], "occ": ["pre", "post", "pre", "post", "pre", "pre"],
    ...                   "score": [10, 7, 12, 9, 15, 17]})
    >>> out = complete_vs_available(d, subject="id", time="occ", value="score", pre="pre", post="post")
    >>> out[["term", "estimate", "n"]].round(2)
                      term  estimate  n
    0        complete_case      -3.0  2
    1  all_available_naive      -5.5  4
    2          mixed_model      -3.0  4
    """
    conf_level = check_conf_level(conf_level)
    if not isinstance(reml, bool | np.bool_):
        raise PrePostInputError(f"reml must be True (REML) or False (ML), not {reml!r}")
    frame = _check_long(data, subject, time, value, outcome, pre, post)
    wide = paired_scores(frame, subject=subject, time=time, value=value, pre=pre, post=post, outcome=outcome)
    rows: list[dict[str, Any]] = []
    for name, d in outcome_groups(frame, outcome):
        w = wide[wide["outcome"] == name]
        both = w[w["complete"]]
        cc: dict[str, Any] = {"estimate": np.nan, "n": len(both)}
        if len(both) >= 2:
            cc = paired_t(both["post"].to_numpy(), both["pre"].to_numpy(), conf_level)
            cc.pop("note", None)
        rows.append({"outcome": name, "term": "complete_case", **cc,
                     "method": f"mean change among the {len(both)} complete cases; paired t"})  # fmt: skip
        x1 = w["post"].dropna().to_numpy(dtype=float)
        x0 = w["pre"].dropna().to_numpy(dtype=float)
        naive = welch(x1, x0, conf_level)
        naive["n"] = int((w["pre"].notna() | w["post"].notna()).sum())
        rows.append(
            {
                "outcome": name,
                "term": "all_available_naive",
                **naive,
                "method": f"mean of {len(x1)} {post} scores − mean of {len(x0)} {pre} scores (different "
                "people where some dropped out); Welch interval as if independent: biased under drop-out",
            }
        )
        rows.append(
            {
                "outcome": name,
                "term": "mixed_model",
                **_occasion_contrast(d, subject, time, value, pre, post, conf_level, reml=bool(reml)),
            }
        )
    return tidy(rows, conf_level)


def _occasion_contrast(
    d: pd.DataFrame,
    subject: str,
    time: str,
    value: str,
    pre: object,
    post: object,
    conf_level: float,
    *,
    reml: bool = True,
) -> dict[str, Any]:
    """The ``mixed_model`` row: post − pre contrast of a one-mean-per-occasion random-intercept model.

    Besides the estimate-table entries, the returned dict holds ``loglik``, ``intercept_sd`` and
    ``residual_sd`` (on the scale of the score) when the model was fitted.
    """
    d = d[d[value].notna()]
    n_sub = int(d[subject].nunique())
    occasions = list(dict.fromkeys(d[time].tolist()))
    if pre not in occasions or post not in occasions or n_sub < 2:
        return {
            "n": n_sub,
            "method": "mixed model not fitted: no valid pre or post scores, or fewer than 2 subjects",
        }
    y_raw = d[value].to_numpy(dtype=float)
    m, s = float(np.mean(y_raw)), float(np.std(y_raw, ddof=1))
    if not s > 0:
        return {"n": n_sub, "method": "mixed model not fitted: every score is the same"}
    others = [o for o in occasions if o != pre]
    tv = d[time].to_numpy()
    exog = np.column_stack([np.ones(len(d))] + [(tv == o).astype(float) for o in others])
    codes, _ = pd.factorize(d[subject])
    ones = np.ones((len(d), 1))
    # variance components from statsmodels on the standardised score; the fixed effects and their
    # covariance (X'V⁻¹X)⁻¹ at those components, on the scale of the score
    res, notes, ok = fit_mixed((y_raw - m) / s, exog, codes, ones, reml=reml)
    g = s**2 * np.atleast_2d(np.asarray(res.cov_re, dtype=float))[:1, :1]
    sigma2 = s**2 * float(res.scale)
    beta, cov, loglik = mixed_gls(y_raw, exog, codes, ones, g, sigma2, reml=reml)
    j = 1 + others.index(post)
    est = float(beta[j])
    se = float(np.sqrt(cov[j, j]))
    q = z_crit(conf_level)
    z = est / se if se > 0 else np.nan
    u_sd, e_sd = float(np.sqrt(max(g[0, 0], 0.0))), float(np.sqrt(sigma2))
    fit_name = "REML" if reml else "ML"
    method = (
        f"linear mixed model ({fit_name}), one mean per occasion ({len(occasions)} occasions), random "
        f"intercepts (SD {u_sd:.3g}, residual SD {e_sd:.3g}; {fit_name} log-likelihood {loglik:.3f}); "
        f"{len(d)} scores from {n_sub} subjects; {post} − {pre} contrast; GLS standard error (X'V⁻¹X)⁻¹ "
        "at the estimated variance components; Wald interval (normal); valid if drop-out is missing at "
        "random"
    )
    if not ok:
        method += "; did not converge cleanly: " + "; ".join(notes)
    return {
        "estimate": est,
        "std_error": se,
        "statistic": z,
        "p_value": float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan,
        "ci_lower": est - q * se,
        "ci_upper": est + q * se,
        "n": n_sub,
        "method": method,
        "loglik": loglik,
        "intercept_sd": u_sd,
        "residual_sd": e_sd,
    }
