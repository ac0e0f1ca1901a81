"""Per-patient before/after (mirror-image) analysis of a protocol's cohort, with a comparison cohort."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure import ESTIMATE_FIELDS
from evaltoolkit.disclosure.deferred import (
    ExactCount,
    FromPublished,
    ProseCounts,
    Resting,
    SmallChoice,
    typed_records,
)
from evaltoolkit.protocol import Protocol
from evaltoolkit.report._data import LoadedData
from evaltoolkit.report._format import cohort_label

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


NOT_SHOWN_COHORT = "not shown: a cohort has {few} patients"


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


def _share(j: int, conf: float, k: Any, n: Any) -> float | None:
    """The share ``k / n`` of published counts (``j = 0``) or a bound of its Wilson interval (1, 2);
    ``None`` when either count is suppressed or ``n`` is 0."""
    from evaltoolkit.prepost._common import wilson

    if not isinstance(k, int) or not isinstance(n, int) or n <= 0:
        return None
    return k / n if j == 0 else float(wilson(k, n, conf)[j - 1])


def _rate(k: Any, years: Any) -> float | None:
    """Events per person-year from the published count and person-years."""
    if not isinstance(k, int) or not isinstance(years, int) or years <= 0:
        return None
    return k / years


def _share_method(outcome: str, k: Any, n: Any) -> str:
    return (
        f"share of patients with at least one {outcome} event, from the published counts ({k} of {n}); "
        "Wilson interval"
    )


def _paired(a: Any, b: Any, c: Any, d: Any, conf: float) -> dict[str, Any] | None:
    """The change in a paired proportion from the published cells of its 2 × 2 table (Newcombe interval,
    McNemar test); ``None`` when a cell is suppressed or the table is empty."""
    from evaltoolkit.prepost._common import paired_change

    cells = (a, b, c, d)
    if not all(isinstance(v, int) for v in cells) or sum(cells) == 0:
        return None
    return paired_change(a, b, c, d, conf)


def _paired_all(conf: float, shown: tuple[Any, ...]) -> list[dict[str, Any] | None]:
    """:func:`_paired` of each outcome, from the published cells of all of a cohort's outcomes (4 each)."""
    return [_paired(*shown[i : i + 4], conf) for i in range(0, len(shown), 4)]


def _paired_value(j: int, column: str, conf: float, *shown: Any) -> Any:
    r = _paired_all(conf, shown)[j]
    return None if r is None else r[column]


def _paired_holm(j: int, conf: float, *shown: Any) -> float | None:
    """Holm-adjusted p-value of outcome ``j`` across the outcomes whose change can be published."""
    from evaltoolkit.prepost._common import adjusted_p_values

    res = _paired_all(conf, shown)
    if res[j] is None:
        return None
    ps = np.array([r["p_value"] for r in res if r is not None], dtype=float)
    return float(adjusted_p_values(ps, "holm")[sum(r is not None for r in res[:j])])


def _paired_method(j: int, outcome: str, conf: float, pol: Any, *shown: Any) -> str:
    r = _paired_all(conf, shown)[j]
    if r is None:
        few = "too few" if pol.small is None else f"fewer than {pol.small[1] + 1}"
        return (
            f"after − before share with any {outcome} event: not shown, a cell of the paired 2 × 2 table has "
            f"{few} patients"
        )
    b, c = shown[4 * j + 1], shown[4 * j + 2]
    return (
        f"after − before share with any {outcome} event, from the published cells of the paired 2 × 2 table "
        f"({b} stopped, {c} started); Newcombe paired interval; {r['test']}; p_adjusted: Holm across outcomes"
    )


def _proportion_overrides(
    change: pd.DataFrame, windows: pd.DataFrame, outcomes: list[str], conf: float
) -> dict[int, dict[str, Any]]:
    """The 'any event' proportion rows as published: the same quantities computed from published counts.

    A proportion of exact counts gives the exact counts away (0.759494 is 60 of 79), so, as for every
    other rate in the report, proportions and their Wilson intervals are computed from the published
    (rounded) counts; the paired change (Newcombe interval, McNemar test, Holm across outcomes) from the
    published cells of the 2 × 2 table, and is blank when a cell is suppressed. Under a policy that
    publishes counts as they are, the analysis's own (exact) values stay. Returns ``{row: {column: typed
    value}}`` for :func:`~evaltoolkit.disclosure.deferred.typed_records`.
    """
    over: dict[int, dict[str, Any]] = {}

    def rows(g: Any, o: str, term: str) -> list[int]:
        sel = (change["group"] == g) & (change["outcome"] == o) & (change["term"] == term)
        return [int(i) for i in np.flatnonzero(sel.to_numpy(dtype=bool))]

    for g in change["group"].unique():
        sub = windows[windows["group"] == g]
        cells = {o: _any_event_cells(sub, o) for o in outcomes}
        changed = [o for o in outcomes if rows(g, o, "proportion_change")]
        all_cells = tuple(v for o in changed for v in (cells[o][k] for k in "abcd"))
        for o in outcomes:
            a, b, c, d = (cells[o][k] for k in "abcd")
            for term, k in (("proportion_before", a + b), ("proportion_after", a + c)):
                counts = (k, a + b + c + d)
                for i in rows(g, o, term):
                    row = change.iloc[i]
                    over[i] = {
                        col: FromPublished(partial(_share, j, conf), counts, exact=row[col])
                        for j, col in enumerate(("estimate", "ci_lower", "ci_upper"))
                    }
                    over[i]["method"] = FromPublished(partial(_share_method, o), counts, exact=row["method"])
            for i in rows(g, o, "proportion_change"):
                j = changed.index(o)
                row = change.iloc[i]
                over[i] = {
                    col: FromPublished(partial(_paired_value, j, col, conf), all_cells, exact=row[col])
                    for col in ("estimate", "statistic", "p_value", "ci_lower", "ci_upper")
                }
                over[i]["p_adjusted"] = FromPublished(
                    partial(_paired_holm, j, conf), all_cells, exact=row["p_adjusted"]
                )
                over[i]["method"] = FromPublished(
                    partial(_paired_method, j, o, conf), all_cells, exact=row["method"], with_policy=True
                )
    return over


def run_cohort(
    protocol: Protocol, data: LoadedData, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Mirror-image windows, change in the intervention cohort, and difference-in-differences against
    the comparison cohort (patients selected the same way at the control sites).

    Patients who cannot be analysed are left out and counted, never dropped silently: those at a site
    without a cohort role, and those with an empty before- or after-window (e.g. an end date, such as
    death, on the index date: no time at risk, so no rate).

    Returns the exact results with typed values (published in one pass by
    :func:`~evaltoolkit.disclosure.deferred.publish_results`):
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
    n_int, n_cmp = n_group[INTERVENTION], n_group[COMPARISON]
    statements = {}
    ch_int = change[change["group"] == INTERVENTION] if len(change) else change
    for o in outcomes:
        if not len(ch_int):
            continue
        name = cohort_label(o)
        full = rtm_statement(ch_int, outcome=o, did=did, label=name)
        if did is not None:  # a small comparison cohort: the intervention cohort's change alone
            full = SmallChoice(
                (n_cmp,),
                rtm_statement(ch_int, outcome=o, did=None, label=name)
                + " The comparison cohort has {few} patients, so its change is not shown.",
                full,
            )
        statements[o] = ProseCounts(
            SmallChoice(
                (n_int,),
                "The intervention cohort has {few} patients, so its before/after change is not shown.",
                full,
            )
        )

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
    window_rows = typed_records(summary, counts=["patients", "person_years", *outcomes])
    for row, rec in zip(window_rows, summary.to_dict("records"), strict=True):
        for o in outcomes:
            # rates from the published (rounded) counts, so the exact count cannot be recovered from them
            row[f"{o}_per_person_year"] = Resting(FromPublished(_rate, (rec[o], rec["person_years"])), ())

    change_rows: list[dict[str, Any]] = []
    if len(change):
        sizes_per_row = change["group"].map(n_group).to_list()
        change_rows = typed_records(
            change,
            counts=["n"],
            blank=[(["_cohort_n"], ESTIMATE_FIELDS, "not shown: {few} patients")],
            n_columns={"_cohort_n": sizes_per_row},
            overrides=_proportion_overrides(change, windows, outcomes, conf),
        )
    did_rows: list[dict[str, Any]] = []
    if did is not None:
        # rows of the treated cohort alone rest on it alone; every other row (the comparison cohort's change
        # and the differences) rests on both cohorts
        treated = did["term"].astype(str).str.endswith("_treated").to_numpy(dtype=bool)
        did_rows = typed_records(
            did,
            counts=["n"],
            blank=[
                (["_n_treated", "_n_comparison"], ESTIMATE_FIELDS, "not shown: a cohort has {few} patients")
            ],
            n_columns={
                "_n_treated": [n_int] * len(did),
                "_n_comparison": [None if t else n_cmp for t in treated],
            },
        )
    exclusions = [
        {
            "rule": key,
            "column": EXCLUSION_RULES[key][0],
            "patients": ExactCount(k),
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
        "groups": [{"group": g, "patients": ExactCount(n_group[g])} for g in (INTERVENTION, COMPARISON)],
        "excluded_patients": ExactCount(sum(excluded.values())),
        "exclusions": exclusions,
        "windows": window_rows,
        "change": change_rows,
        "did": did_rows,
        "statements": statements,
    }
