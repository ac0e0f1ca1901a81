"""Per-patient before/after (mirror-image) analysis of a protocol's cohort, with a comparison cohort."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from evaltoolkit.protocol import Protocol
from evaltoolkit.report._data import LoadedData
from evaltoolkit.report._format import publish_count, publish_text_counts

__all__ = ["run_cohort"]

INTERVENTION = "intervention"
COMPARISON = "comparison"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(df.columns, row, strict=True)) for row in df.itertuples(index=False, name=None)]


def _publish_table(df: pd.DataFrame, columns: list[str], rule: dict[str, int] | None) -> pd.DataFrame:
    out = df.copy()
    for c in columns:
        if c in out.columns:
            out[c] = [publish_count(v, rule) for v in out[c]]
    if "method" in out.columns:
        out["method"] = [publish_text_counts(str(v), rule) for v in out["method"]]
    return out


def run_cohort(
    protocol: Protocol, data: LoadedData, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Mirror-image windows, change in the intervention cohort, and difference-in-differences against
    the comparison cohort (patients selected the same way at the control sites).

    Returns a JSON-ready dictionary (counts published per the protocol's suppression rule):
    ``description``, ``settings``, ``groups`` (patients per cohort), ``windows`` (events, person-years and
    rates per cohort and window), ``change`` (:func:`~evaltoolkit.prepost.mirror_change` of each cohort),
    ``did`` (:func:`~evaltoolkit.prepost.mirror_did`) and ``statements`` (plain words per outcome, with the
    regression-to-the-mean caveat, from :func:`~evaltoolkit.prepost.rtm_statement`).
    """
    from evaltoolkit.prepost import mirror_change, mirror_did, mirror_windows, rtm_statement

    assert protocol.cohort is not None and protocol.design.before_after is not None
    ba = protocol.design.before_after
    rule = protocol.suppression_args()
    conf = protocol.analysis.conf_level if protocol.analysis is not None else 0.95
    if progress is not None:
        progress("before/after cohort: windows")
    cohort = data.extracts["cohort"].data
    role = {s.code: (INTERVENTION if s.role == "intervention" else COMPARISON) for s in protocol.sites}
    group = cohort["site"].map(role)
    if protocol.cohort.comparison == "none":
        group = group.where(group == INTERVENTION)
    excluded = int(group.isna().sum())
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
    windows = windows.merge(
        cohort[["patient_id", "group"]], on="patient_id", how="left", validate="many_to_one"
    )
    outcomes = list(ba.outcomes)
    kw: dict[str, Any] = {"outcomes": outcomes, "count_model": ba.count_model, "conf_level": conf}
    if progress is not None:
        progress("before/after cohort: change and difference-in-differences")
    change_parts = []
    for g in (INTERVENTION, COMPARISON):
        sub = windows[windows["group"] == g]
        if sub["patient_id"].nunique() >= 2:
            change_parts.append(mirror_change(sub, **kw).assign(group=g))
    change = pd.concat(change_parts, ignore_index=True) if change_parts else pd.DataFrame()
    did = None
    if windows["group"].nunique() == 2:
        did = mirror_did(windows, group="group", treated=INTERVENTION, **kw)
    statements = {}
    ch_int = change[change["group"] == INTERVENTION] if len(change) else change
    for o in outcomes:
        if len(ch_int):
            statements[o] = publish_text_counts(rtm_statement(ch_int, outcome=o, did=did), rule)
    summary = (
        windows.groupby(["group", "window"], sort=False)
        .agg(
            patients=("patient_id", "nunique"),
            exposure_days=("exposure_days", "sum"),
            **{o: (o, "sum") for o in outcomes},
        )
        .reset_index()
    )
    summary["person_years"] = summary.pop("exposure_days") / 365.25
    published = _publish_table(summary, ["patients", *outcomes], rule)
    for o in outcomes:
        # rates from the published (rounded) counts, so the exact count cannot be recovered from them
        shown = pd.to_numeric(published[o].where(published[o] != "*"), errors="coerce")
        published[f"{o}_per_person_year"] = shown / published["person_years"]
    groups = cohort.groupby("group").size()
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
            {"group": g, "patients": publish_count(int(groups.get(g, 0)), rule)}
            for g in (INTERVENTION, COMPARISON)
        ],
        "excluded_patients": publish_count(excluded, rule),
        "windows": _records(published),
        "change": _records(_publish_table(change, ["n"], rule)) if len(change) else [],
        "did": _records(_publish_table(did, ["n"], rule)) if did is not None else [],
        "statements": statements,
    }
