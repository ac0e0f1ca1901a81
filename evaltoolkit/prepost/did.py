"""Comparison-cohort difference-in-differences for per-patient before/after rates.

Patients selected the same way at a site that did not change (or before go-live) show how much use
falls with no service change: regression to the mean plus background change. Comparing the two
cohorts' changes separates that from the service effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.prepost._common import (
    PAdjust,
    adjust_p,
    check_conf_level,
    check_literal,
    p_adjust_text,
    paired_t,
    tidy,
    values_text,
    welch,
)
from evaltoolkit.prepost.errors import PrePostInputError
from evaltoolkit.prepost.mirror import (
    CountModel,
    WorkingCorrelation,
    _check_windows,
    _paired_arrays,
    _ratio_row,
    _require_exposure,
    _with_notes,
    fit_count_model,
)

__all__ = ["DID_TERMS", "RTM_CAVEAT", "mirror_did", "rtm_statement"]

DID_TERMS: tuple[str, ...] = (
    "mean_change_treated",
    "mean_change_comparison",
    "difference_in_mean_change",
    "rate_ratio_treated",
    "rate_ratio_comparison",
    "ratio_of_rate_ratios",
)
"""Terms of :func:`mirror_did`, in output order (for each outcome)."""

RTM_CAVEAT = (
    "There is no comparison group, so this before/after change includes regression to the mean: patients "
    "are usually identified when their use of services is at its highest, and their use would be expected "
    "to fall afterwards even if nothing about the service had changed. The change therefore cannot be "
    "attributed to the service on its own; part of it, or all of it, may be regression to the mean."
)
"""The plain-words caveat for a before/after estimate without a comparison group."""


@renamed_kwargs(patient="subject")
def mirror_did(
    windows: pd.DataFrame,
    *,
    group: str,
    treated: object,
    subject: str = "patient_id",
    outcomes: str | Sequence[str] | None = None,
    days_per_year: float = 365.25,
    count_model: CountModel = "poisson",
    correlation: WorkingCorrelation = "exchangeable",
    conf_level: float = 0.95,
    p_adjust: PAdjust = "holm",
) -> pd.DataFrame:
    """Difference-in-differences of per-patient before/after rates, treated vs comparison cohort.

    The comparison cohort (selected by the same rule at a site without the service, or before go-live)
    estimates regression to the mean plus background change; the treated cohort's change relative to it
    estimates the service effect, assuming the two would otherwise have changed alike.

    Parameters
    ----------
    windows : pandas.DataFrame
        Before/after windows (two rows per subject, see :func:`~evaltoolkit.prepost.mirror_change`) with a
        ``group`` column that is constant within each patient. Not modified.
    group : str
        Column naming each patient's cohort; it must have exactly two values.
    treated : object
        The value of ``group`` for the cohort that received the service; the other value is the
        comparison cohort.
    subject, outcomes, days_per_year, count_model, correlation, conf_level, p_adjust
        As :func:`~evaltoolkit.prepost.mirror_change`.

    Returns
    -------
    pandas.DataFrame
        One row per outcome × term, columns :data:`~evaltoolkit.prepost.ESTIMATE_COLUMNS`; ``n`` counts
        the patients behind the row. Terms, in order:

        * ``mean_change_treated``, ``mean_change_comparison``: mean per-patient change in rate per
          person-year (after − before), paired t test; the comparison row estimates regression to the
          mean plus background change on the additive scale;
        * ``difference_in_mean_change``: treated − comparison mean change, Welch t test (additive DiD);
        * ``rate_ratio_treated``, ``rate_ratio_comparison``: after/before rate ratios from one GEE count
          model with ``post``, ``treated`` and ``post × treated`` (log person-years offset, clustered by
          patient); the comparison rate ratio is the regression-to-the-mean (plus background) estimate;
        * ``ratio_of_rate_ratios``: treated / comparison rate ratio, ``exp`` of the interaction
          (multiplicative DiD): the service effect net of regression to the mean. ``std_error`` of the
          ratio terms is on the log scale.

    Raises
    ------
    PrePostInputError
        As :func:`~evaltoolkit.prepost.mirror_change`; ``group`` missing, not constant within a subject,
        without exactly two values (with one value there is no comparison: use ``mirror_change`` and
        :data:`RTM_CAVEAT`), ``treated`` not among them, or fewer than two patients in a cohort.

    Notes
    -----
    With one comparison site the interval reflects patient-level variation only; differences between
    sites in how strongly selection inflates the before-window are not captured. An outcome with no
    events in a cohort's window has NaN ratio terms (the method says why).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = []
    >>> for i, (g, b, a) in enumerate([("A", 6, 2), ("A", 4, 2), ("A", 5, 1), ("A", 3, 1),
    ...                                ("C", 6, 3), ("C", 4, 3), ("C", 5, 3), ("C", 3, 2)]):
    ...     rows += [(f"p{i}", g, "before", 365, b), (f"p{i}", g, "after", 365, a)]
    >>> w = pd.DataFrame(rows, columns=["patient_id", "arm", "window", "exposure_days", "attendances"])
    >>> out = mirror_did(w, group="arm", treated="A", days_per_year=365)
    >>> out[["term", "estimate", "n"]].round(3)
                            term  estimate  n
    0        mean_change_treated    -3.000  4
    1     mean_change_comparison    -1.750  4
    2  difference_in_mean_change    -1.250  8
    3         rate_ratio_treated     0.333  4
    4      rate_ratio_comparison     0.611  4
    5       ratio_of_rate_ratios     0.545  8
    """
    conf_level = check_conf_level(conf_level)
    check_literal(count_model, "count_model", ("poisson", "negbin"))
    check_literal(correlation, "correlation", ("exchangeable", "independence"))
    if not days_per_year > 0:
        raise PrePostInputError(f"days_per_year must be positive, not {days_per_year!r}")
    data, names = _check_windows(windows, subject, outcomes, group=group)
    _require_exposure(data, subject)
    levels = list(dict.fromkeys(data[group].tolist()))
    if len(levels) != 2:
        hint = (
            " There is no comparison cohort: use mirror_change() and report that the change includes "
            "regression to the mean (RTM_CAVEAT)."
            if len(levels) == 1
            else ""
        )
        raise PrePostInputError(
            f"windows: {group!r} must have exactly two values (treated and comparison), found "
            f"{len(levels)}: {values_text(levels)}.{hint}"
        )
    if treated not in levels:
        raise PrePostInputError(f"treated={treated!r} is not a value of {group!r}; its values are {levels}")
    comparison = levels[0] if levels[1] == treated else levels[1]
    is_treated = data[group] == treated
    for label, mask in (("treated", is_treated), ("comparison", ~is_treated)):
        k = int(data.loc[mask, subject].nunique())
        if k < 2:
            raise PrePostInputError(f"the {label} cohort has {k} patient(s); at least 2 are needed")
    rows: list[dict[str, Any]] = []
    for name in names:
        rows += _did_rows(
            data, subject, name, is_treated, days_per_year, count_model, correlation, conf_level,
            (treated, comparison),
        )  # fmt: skip
    table = tidy(rows, conf_level)
    table = adjust_p(table, p_adjust, DID_TERMS)
    has_p = table["p_adjusted"].notna()
    table.loc[has_p, "method"] = table.loc[has_p, "method"] + "; " + p_adjust_text(p_adjust)
    return table


def _did_rows(
    data: pd.DataFrame,
    subject: str,
    name: str,
    is_treated: pd.Series,
    days_per_year: float,
    count_model: str,
    correlation: str,
    conf_level: float,
    labels: tuple[object, object],
) -> list[dict[str, Any]]:
    arms = {
        "treated": _paired_arrays(data[is_treated], subject, name, days_per_year),
        "comparison": _paired_arrays(data[~is_treated], subject, name, days_per_year),
    }
    unit = f"{name} per person-year"
    rows: list[dict[str, Any]] = []
    changes = {}
    for arm, label in zip(("treated", "comparison"), labels, strict=True):
        v = arms[arm]
        changes[arm] = v["ra"] - v["rb"]
        t = paired_t(v["ra"], v["rb"], conf_level)
        extra = " (regression to the mean plus background change)" if arm == "comparison" else ""
        rows.append(
            {
                "outcome": name,
                "term": f"mean_change_{arm}",
                **t,
                "method": _with_notes(
                    f"{arm} cohort ({label}): mean change in {unit}{extra}; paired t test (pingouin)",
                    [t["note"]] if "note" in t else [],
                ),
            }
        )
    rows.append(
        {
            "outcome": name,
            "term": "difference_in_mean_change",
            **welch(changes["treated"], changes["comparison"], conf_level),
            "method": f"treated − comparison mean change in {unit}; Welch t test",
        }
    )
    rows += _did_ratio_rows(arms, name, count_model, correlation, conf_level)
    return rows


def _did_ratio_rows(
    arms: dict[str, dict[str, np.ndarray]], name: str, count_model: str, correlation: str, conf_level: float
) -> list[dict[str, Any]]:
    nt, nc = len(arms["treated"]["ids"]), len(arms["comparison"]["ids"])
    ns = {"rate_ratio_treated": nt, "rate_ratio_comparison": nc, "ratio_of_rate_ratios": nt + nc}
    empty = [
        f"{arm} {w}-window"
        for arm, v in arms.items()
        for w, key in (("before", "cb"), ("after", "ca"))
        if v[key].sum() == 0
    ]
    if empty:
        why = f"undefined: no {name} in the {' or '.join(empty)}"
        return [{"outcome": name, "term": t, "n": k, "method": why} for t, k in ns.items()]
    t, c = arms["treated"], arms["comparison"]
    trt = np.concatenate([np.ones(nt), np.zeros(nc)])
    one, zero = np.ones(nt + nc), np.zeros(nt + nc)
    x0 = np.column_stack([one, zero, trt, zero])  # before: intercept, post, treated, post × treated
    x1 = np.column_stack([one, one, trt, trt])
    b, cov, method, notes = fit_count_model(
        np.concatenate([t["cb"], c["cb"]]),
        np.concatenate([t["ca"], c["ca"]]),
        x0,
        x1,
        np.concatenate([t["yb"], c["yb"]]),
        np.concatenate([t["ya"], c["ya"]]),
        count_model=count_model,
        correlation=correlation,
    )
    combos = {
        "rate_ratio_treated": (np.array([0.0, 1.0, 0.0, 1.0]), "treated cohort rate ratio (after / before)"),
        "rate_ratio_comparison": (
            np.array([0.0, 1.0, 0.0, 0.0]),
            "comparison cohort rate ratio (after / before): regression to the mean plus background change",
        ),
        "ratio_of_rate_ratios": (
            np.array([0.0, 0.0, 0.0, 1.0]),
            "treated / comparison rate ratio (difference-in-differences on the log scale): the service "
            "effect net of regression to the mean",
        ),
    }
    rows = []
    for term, (vec, what) in combos.items():
        est = float(vec @ b)
        se = float(np.sqrt(vec @ cov @ vec))
        rows.append(
            {
                "outcome": name,
                "term": term,
                **_ratio_row(est, se, conf_level),
                "n": ns[term],
                "method": _with_notes(f"{what}; {method}", notes),
            }
        )
    return rows


# ------------------------------------------------------------------------------------------ plain words
def _fmt_ci(row: pd.Series, digits: int = 2) -> str:
    pct = f"{100 * row['conf_level']:g}%"
    if pd.isna(row["ci_lower"]):
        return f"{row['estimate']:.{digits}f}"
    lo, hi = f"{row['ci_lower']:.{digits}f}", f"{row['ci_upper']:.{digits}f}"
    return f"{row['estimate']:.{digits}f} ({pct} CI {lo} to {hi})"


def _pick(table: pd.DataFrame, outcome: str, term: str) -> pd.Series:
    if not isinstance(table, pd.DataFrame):
        raise PrePostInputError(
            f"expected the table of mirror_change()/mirror_did(), not {type(table).__name__}"
        )
    absent = [c for c in ("outcome", "term", "estimate") if c not in table.columns]
    if absent:
        raise PrePostInputError(
            f"the table lacks columns {absent}; pass the output of mirror_change() (or mirror_did() as did=)"
        )
    sel = table[(table["outcome"] == outcome) & (table["term"] == term)]
    if len(sel) != 1:
        raise PrePostInputError(
            f"the table has no {term!r} row for outcome {outcome!r}; outcomes are "
            f"{sorted(table['outcome'].unique())}"
        )
    return sel.iloc[0]


def rtm_statement(
    change: pd.DataFrame, *, outcome: str, did: pd.DataFrame | None = None, label: str | None = None
) -> str:
    """A plain-words summary of a before/after rate ratio, with the regression-to-the-mean caveat.

    Parameters
    ----------
    change : pandas.DataFrame
        Output of :func:`~evaltoolkit.prepost.mirror_change` (the cohort that received the service).
    outcome : str
        The outcome to describe, e.g. ``"attendances"``.
    did : pandas.DataFrame, optional
        Output of :func:`mirror_did`. Without it the statement ends with :data:`RTM_CAVEAT`; with it,
        the comparison cohort's change is named as the regression-to-the-mean estimate and the service
        effect is given net of it.
    label : str, optional
        The outcome's name in the text (default: ``outcome``), e.g. ``"ED attendances"``.

    Returns
    -------
    str
        A short paragraph. The wording is fixed (a reviewed template); only the numbers change.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"patient_id": [p for p in "abcd" for _ in range(2)],
    ...                   "window": ["before", "after"] * 4, "exposure_days": [365] * 8,
    ...                   "attendances": [5, 2, 3, 3, 6, 1, 2, 1]})
    >>> from evaltoolkit.prepost import mirror_change
    >>> text = rtm_statement(mirror_change(w, days_per_year=365), outcome="attendances")
    >>> print(text[:88])
    Among 4 patients, attendances changed from 4.00 to 1.75 per person-year (rate ratio 0.44
    >>> "regression to the mean" in text
    True
    """
    name = outcome if label is None else label
    rb, ra = _pick(change, outcome, "rate_before"), _pick(change, outcome, "rate_after")
    rr = _pick(change, outcome, "rate_ratio")
    if pd.isna(rr["estimate"]):
        head = f"Among {int(rr['n'])} patients, the rate ratio of {name} is undefined ({rr['method']})."
    else:
        head = (
            f"Among {int(rr['n'])} patients, {name} changed from {rb['estimate']:.2f} to "
            f"{ra['estimate']:.2f} per person-year (rate ratio {_fmt_ci(rr)})."
        )
    if did is None:
        return f"{head} {RTM_CAVEAT}"
    comp = _pick(did, outcome, "rate_ratio_comparison")
    net = _pick(did, outcome, "ratio_of_rate_ratios")
    if pd.isna(comp["estimate"]) or pd.isna(net["estimate"]):
        return f"{head} The comparison cohort could not be used for {name} ({net['method']}). {RTM_CAVEAT}"
    return (
        f"{head} Patients selected the same way in the comparison cohort ({int(comp['n'])} patients), where "
        f"the service did not change, changed by a rate ratio of {_fmt_ci(comp)}; this estimates regression "
        f"to the mean and other background change. Allowing for it, the change associated with the service "
        f"is a rate ratio of {_fmt_ci(net)}. This relies on both cohorts being selected the same way and "
        "otherwise changing alike."
    )
