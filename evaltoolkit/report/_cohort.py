"""Per-patient before/after (mirror-image) analysis of a protocol's cohort, with a comparison cohort."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure import (
    COUNT_DERIVED_FIELDS,
    ESTIMATE_FIELDS,
    SUPPRESSED,
    Policy,
    blank_small,
    few_words,
    is_small,
    publish_count,
    publish_text_counts,
    round_published,
)
from evaltoolkit.protocol import Protocol
from evaltoolkit.report._data import LoadedData

__all__ = ["run_cohort"]

INTERVENTION = "intervention"
COMPARISON = "comparison"

_PROPORTION_TERMS = ("proportion_before", "proportion_after", "proportion_change")

EXCLUSION_RULES: dict[str, tuple[str, str]] = {
    "no_cohort_group": (
        "site",
        "excluded from the before/after analysis: the site is not an intervention site (or a control "
        "site, when the protocol has a comparison cohort)",
    ),
    "empty_after_window": (
        "end_date",
        "excluded from the before/after analysis: no time after the index date (the end date is the "
        "index date), so no after-window rate",
    ),
    "empty_before_window": (
        "index_date",
        "excluded from the before/after analysis: no observed time before the index date (it is at the "
        "start of the data window), so no before-window rate",
    ),
}
"""Why a cohort patient is left out of the before/after analysis: ``rule: (column, action)``."""


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(df.columns, row, strict=True)) for row in df.itertuples(index=False, name=None)]


def _publish_table(df: pd.DataFrame, columns: list[str], rule: Policy) -> pd.DataFrame:
    """Counts published per the rule (also in ``method`` text), degrees of freedom blank, estimates and
    rates rounded (:func:`~evaltoolkit.disclosure.round_published`)."""
    out = round_published(blank_small(df, np.ones(len(df), dtype=bool), COUNT_DERIVED_FIELDS))
    for c in columns:
        if c in out.columns:
            out[c] = pd.Series([publish_count(v, rule) for v in out[c]], index=out.index, dtype="object")
    if "method" in out.columns:
        out["method"] = [publish_text_counts(str(v), rule) for v in out["method"]]
    return out


def _few(rule: Policy) -> str:
    return few_words(rule)


def _empty_windows(windows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Patients whose after-window (first) or else before-window is empty (exposure 0)."""
    empty = windows["exposure_days"].astype("float64") <= 0
    after = set(windows.loc[empty & (windows["window"] == "after"), "patient_id"])
    before = set(windows.loc[empty & (windows["window"] == "before"), "patient_id"]) - after
    return pd.Series(sorted(after), dtype="object"), pd.Series(sorted(before), dtype="object")


def _any_event_cells(windows: pd.DataFrame, outcome: str) -> dict[str, int]:
    """The paired 2 × 2 table of 'at least one event' before and after (exact counts)."""
    wide = windows.pivot(index="patient_id", columns="window", values=outcome)
    before = wide["before"].to_numpy(dtype="float64") > 0
    after = wide["after"].to_numpy(dtype="float64") > 0
    return {
        "a": int((before & after).sum()),
        "b": int((before & ~after).sum()),
        "c": int((~before & after).sum()),
        "d": int((~before & ~after).sum()),
    }


def _published_proportions(
    change: pd.DataFrame, windows: pd.DataFrame, outcomes: list[str], conf: float, rule: Policy
) -> pd.DataFrame:
    """Replace the 'any event' proportion rows by the same quantities computed from published counts.

    A proportion of exact counts gives the exact counts away (0.759494 is 60 of 79), so, as for every
    other rate in the report, proportions and their Wilson intervals are computed from the published
    (rounded) counts; the paired change (Newcombe interval, McNemar test) from the published cells of the
    2 × 2 table, and is blank when a cell is suppressed.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    from evaltoolkit.prepost._common import adjusted_p_values, newcombe_paired, wilson

    if rule.exact or change.empty:
        return change
    out = change.copy()
    for g in out["group"].unique():
        sub = windows[windows["group"] == g]
        for o in outcomes:
            cells = _any_event_cells(sub, o)
            shown = {k: publish_count(v, rule) for k, v in cells.items()}
            n = publish_count(sum(cells.values()), rule)
            margins = {
                "proportion_before": publish_count(cells["a"] + cells["b"], rule),
                "proportion_after": publish_count(cells["a"] + cells["c"], rule),
            }
            for term, k in margins.items():
                sel = (out["group"] == g) & (out["outcome"] == o) & (out["term"] == term)
                ok = isinstance(k, int) and isinstance(n, int) and n > 0
                est = k / n if ok else np.nan  # type: ignore[operator]
                lo, hi = wilson(k, n, conf) if ok else (np.nan, np.nan)  # type: ignore[arg-type]
                out.loc[sel, ["estimate", "ci_lower", "ci_upper"]] = [est, lo, hi]
                out.loc[sel, "method"] = (
                    f"share of patients with at least one {o} event, from the published counts "
                    f"({k} of {n}); Wilson interval"
                )
            sel = (out["group"] == g) & (out["outcome"] == o) & (out["term"] == "proportion_change")
            if all(isinstance(v, int) for v in shown.values()) and sum(shown.values()) > 0:
                a, b, c, d = (int(shown[k]) for k in "abcd")
                est, lo, hi = newcombe_paired(a, b, c, d, conf)
                if b + c == 0:
                    stat, p, test = 0.0, 1.0, "McNemar: no discordant patients, p = 1"
                else:
                    exact = b + c < 25
                    res = mcnemar(np.array([[a, b], [c, d]]), exact=exact, correction=True)
                    stat, p = float(res.statistic), float(res.pvalue)
                    test = (
                        "McNemar exact binomial" if exact else "McNemar chi-square with continuity correction"
                    )
                out.loc[sel, ["estimate", "statistic", "p_value", "ci_lower", "ci_upper"]] = [
                    est,
                    stat,
                    p,
                    lo,
                    hi,
                ]
                out.loc[sel, "method"] = (
                    f"after − before share with any {o} event, from the published cells of the paired 2 × 2 "
                    f"table ({b} stopped, {c} started); Newcombe paired interval; {test}"
                )
            else:
                out.loc[sel, ["estimate", "statistic", "p_value", "p_adjusted", "ci_lower", "ci_upper"]] = (
                    np.nan
                )
                out.loc[sel, "method"] = (
                    f"after − before share with any {o} event: not shown, a cell of the paired 2 × 2 table "
                    f"has {_few(rule)} patients"
                )
        # Holm across outcomes again, for the recomputed p-values of the change
        sel = (out["group"] == g) & (out["term"] == "proportion_change") & out["p_value"].notna()
        if sel.any():
            out.loc[sel, "p_adjusted"] = adjusted_p_values(out.loc[sel, "p_value"].to_numpy(float), "holm")
            out.loc[sel, "method"] = out.loc[sel, "method"] + "; p_adjusted: Holm across outcomes"
    return out


def run_cohort(
    protocol: Protocol, data: LoadedData, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Mirror-image windows, change in the intervention cohort, and difference-in-differences against
    the comparison cohort (patients selected the same way at the control sites).

    Patients who cannot be analysed are left out and counted, never dropped silently: those at a site
    without a cohort role, and those with an empty before- or after-window (e.g. an end date, such as
    death, on the index date: no time at risk, so no rate).

    Returns a JSON-ready dictionary (counts published per the protocol's suppression rule):
    ``description``, ``settings``, ``groups`` (patients analysed per cohort), ``excluded_patients`` (all
    patients left out) and ``exclusions`` (``[{rule, column, patients, action}]``, one per reason, also
    added to the data-quality table), ``windows`` (events, person-years and rates per cohort and window),
    ``change`` (:func:`~evaltoolkit.prepost.mirror_change` of each cohort), ``did``
    (:func:`~evaltoolkit.prepost.mirror_did`) and ``statements`` (plain words per outcome, with the
    regression-to-the-mean caveat, from :func:`~evaltoolkit.prepost.rtm_statement`).

    Nothing published rests on 1–7 people (when the rule suppresses them): the estimates of a cohort that
    small are blank, and degrees of freedom (computed from exact counts) are not published. Person-years
    are published like counts (rounded to ``round_to``), and rates and proportions are computed from the
    published figures.
    """
    from evaltoolkit.prepost import mirror_change, mirror_did, mirror_windows, rtm_statement

    assert protocol.cohort is not None and protocol.design.before_after is not None
    ba = protocol.design.before_after
    rule = protocol.disclosure_policy()
    conf = protocol.analysis.conf_level if protocol.analysis is not None else 0.95
    if progress is not None:
        progress("before/after cohort: windows")
    cohort = data.extracts["cohort"].data
    role = {s.code: (INTERVENTION if s.role == "intervention" else COMPARISON) for s in protocol.sites}
    group = cohort["site"].map(role)
    if protocol.cohort.comparison == "none":
        group = group.where(group == INTERVENTION)
    no_group = int(group.isna().sum())
    cohort = cohort.loc[group.notna()].assign(group=group[group.notna()])
    att = data.extracts["attendances"].data
    spells = data.extracts["spells"].data
    w = data.window
    windows = mirror_windows(
        cohort[["patient_id", "index_date", *(["end_date"] if "end_date" in cohort.columns else [])]],
        attendances=att[att["patient_id"].notna()],
        spells=spells[spells["patient_id"].notna()],
        index_day=ba.index_day,
        before_months=ba.before_months,
        after_months=ba.after_months,
        censor_at=w[1] if w is not None else None,
        end="end_date" if "end_date" in cohort.columns else None,
        data_start=w[0] if w is not None else None,
    )
    empty_after, empty_before = _empty_windows(windows)
    windows = windows[~windows["patient_id"].isin(pd.concat([empty_after, empty_before]))]
    windows = windows.merge(
        cohort[["patient_id", "group"]], on="patient_id", how="left", validate="many_to_one"
    )
    excluded = {
        "no_cohort_group": no_group,
        "empty_after_window": len(empty_after),
        "empty_before_window": len(empty_before),
    }
    outcomes = list(ba.outcomes)
    kw: dict[str, Any] = {"outcomes": outcomes, "count_model": ba.count_model, "conf_level": conf}
    if progress is not None:
        progress("before/after cohort: change and difference-in-differences")
    sizes = windows.groupby("group")["patient_id"].nunique()
    n_group = {g: int(sizes.get(g, 0)) for g in (INTERVENTION, COMPARISON)}
    change_parts = []
    for g in (INTERVENTION, COMPARISON):
        if n_group[g] >= 2:
            change_parts.append(mirror_change(windows[windows["group"] == g], **kw).assign(group=g))
    change = pd.concat(change_parts, ignore_index=True) if change_parts else pd.DataFrame()
    did = None
    if min(n_group.values()) >= 2:
        did = mirror_did(windows, group="group", treated=INTERVENTION, **kw)
    small = {g: is_small(n, rule) for g, n in n_group.items()}
    statements = {}
    ch_int = change[change["group"] == INTERVENTION] if len(change) else change
    for o in outcomes:
        if not len(ch_int):
            continue
        if small[INTERVENTION]:
            text = (
                f"The intervention cohort has {_few(rule)} patients, so its before/after change is not shown."
            )
        elif small[COMPARISON] and did is not None:
            text = (
                rtm_statement(ch_int, outcome=o, did=None)
                + f" The comparison cohort has {_few(rule)} patients, so its change is not shown."
            )
        else:
            text = rtm_statement(ch_int, outcome=o, did=did)
        statements[o] = publish_text_counts(text, rule)

    summary = (
        windows.groupby(["group", "window"], sort=False)
        .agg(
            patients=("patient_id", "nunique"),
            exposure_days=("exposure_days", "sum"),
            **{o: (o, "sum") for o in outcomes},
        )
        .reset_index()
    )
    # person-years sum each patient's time at risk (a year each when no window is cut short): published
    # like a count, so the exact number of patients cannot be read from it
    summary["person_years"] = (summary.pop("exposure_days") / 365.25).round().astype("int64")
    published = _publish_table(summary, ["patients", "person_years", *outcomes], rule)
    years = pd.to_numeric(published["person_years"].where(published["person_years"] != SUPPRESSED))
    for o in outcomes:
        # rates from the published (rounded) counts, so the exact count cannot be recovered from them
        shown = pd.to_numeric(published[o].where(published[o] != SUPPRESSED), errors="coerce")
        published[f"{o}_per_person_year"] = shown / years.where(years > 0)
    published = round_published(published)

    if len(change):
        change = _published_proportions(change, windows, outcomes, conf, rule)
        change = blank_small(
            change,
            change["group"].map(small).to_numpy(dtype=bool),
            ESTIMATE_FIELDS,
            f"not shown: {_few(rule)} patients",
        )
    if did is not None and any(small.values()):
        # rows of the treated cohort alone stay unless it is the small one; every other row (the
        # comparison cohort's change and the differences) rests on the comparison cohort
        hide = np.ones(len(did), dtype=bool)
        if not small[INTERVENTION]:
            hide = ~did["term"].astype(str).str.endswith("_treated").to_numpy(dtype=bool)
        did = blank_small(did, hide, ESTIMATE_FIELDS, f"not shown: a cohort has {_few(rule)} patients")
    exclusions = [
        {
            "rule": key,
            "column": EXCLUSION_RULES[key][0],
            "patients": publish_count(k, rule),
            "action": EXCLUSION_RULES[key][1],
        }
        for key, k in excluded.items()
    ]
    return {
        "description": protocol.cohort.description,
        "settings": {
            "before_months": ba.before_months,
            "after_months": ba.after_months,
            "index_day": ba.index_day,
            "count_model": ba.count_model,
            "outcomes": outcomes,
            "comparison": protocol.cohort.comparison,
        },
        "groups": [
            {"group": g, "patients": publish_count(n_group[g], rule)} for g in (INTERVENTION, COMPARISON)
        ],
        "excluded_patients": publish_count(sum(excluded.values()), rule),
        "exclusions": exclusions,
        "windows": _records(published),
        "change": _records(_publish_table(change, ["n"], rule)) if len(change) else [],
        "did": _records(_publish_table(did, ["n"], rule)) if did is not None else [],
        "statements": statements,
    }
