"""Questionnaire outcomes for a protocol: scoring, paired change, reliable change, Talking Therapies
outcomes, trajectories, attrition and internal consistency, as exact results with typed values (counts,
statistics resting on n people, shares from published counts, prose quoting counts): the run publishes them in
one pass (:func:`evaltoolkit.disclosure.deferred.publish_results`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure import ESTIMATE_FIELDS, Policy
from evaltoolkit.disclosure.deferred import ExactCount, ProseCounts, ShareOf, WilsonOf, typed_records
from evaltoolkit.errors import EvalToolkitError
from evaltoolkit.protocol import Protocol
from evaltoolkit.protocol.schema import InstrumentSpec
from evaltoolkit.report._data import LoadedData

__all__ = ["outcome_name", "run_measures"]


def strip_python_advice(message: str) -> str:
    """``message`` without a closing "; pass rc= ..." (advice for Python callers; no protocol key).

    Examples
    --------
    >>> strip_python_advice("phq9: no stored reliability; pass rc= or reliability= (and optionally sd=)")
    'phq9: no stored reliability'
    """
    return re.sub(r";? pass [^;()]*(\([^)]*\))?[^;]*$", "", message).strip()


def outcome_name(spec: InstrumentSpec) -> str:
    """The outcome identifier of a scale: ``phq9`` for a total, ``cbi_personal`` for a subscale."""
    return spec.key if spec.scale == "total" else f"{spec.key}_{spec.scale}"


def _small(values: Any, rule: Policy) -> np.ndarray:
    """Which exact counts the policy counts as too few (1–7 by default), as a boolean array: an analysis
    choice (see the reliable-change threshold), not disclosure control, which happens in one pass later."""
    return np.array([rule.is_small(v) for v in values], dtype=bool)


NOT_SHOWN = "not shown: {few} people"
"""Note added to the method of an estimate resting on too few people (``{few}``: the policy's words)."""


def _valid_counts(cva: pd.DataFrame, analysed: pd.DataFrame) -> dict[str, list[int]]:
    """Per row of the complete-vs-available table, the people with a valid pre and post score its naive and
    mixed-model contrasts rest on (0 for the complete-case row, which rests on its own ``n`` only)."""
    valid = analysed.set_index("outcome")
    pre, post = [], []
    for r in cva.itertuples(index=False):
        own = r.term == "complete_case" or r.outcome not in valid.index
        pre.append(0 if own else int(valid.loc[r.outcome, "n_valid_pre"]))
        post.append(0 if own else int(valid.loc[r.outcome, "n_valid_post"]))
    return {"_valid_pre": pre, "_valid_post": post}


def _scores(protocol: Protocol, data: LoadedData) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Long table ``subject, occasion, [time], outcome, value`` (NaN = no valid score), instrument facts."""
    from evaltoolkit.rom import get_instrument, score

    om = protocol.outcome_measures
    assert om is not None
    raw = data.extracts[om.source].data
    ids = [om.subject, om.occasion, *([om.time] if om.time else [])]
    parts, facts = [], {}
    for spec in om.instruments:
        inst = get_instrument(spec.key)
        scored = score(raw, spec.key, keep_columns=ids, prorate=spec.prorate)
        value = scored[spec.scale].astype("float64")
        if spec.scale == "total":
            value = value.where(scored["valid"].astype(bool))
        name = outcome_name(spec)
        part = scored[ids].copy()
        part["outcome"] = name
        part["value"] = value.to_numpy()
        parts.append(part)
        scale = inst.scales[spec.scale]
        facts[name] = {
            "outcome": name,
            "key": spec.key,
            "scale": spec.scale,
            "label": spec.label or (inst.name if spec.scale == "total" else f"{inst.name}: {scale.label}"),
            "direction": inst.direction,
            "primary": spec.primary,
            "score_range": list(inst.scale_range(spec.scale, scale)),
            "prorate": spec.prorate,
            "licence": inst.licence.text,
            "citation": inst.citation,
        }
    return pd.concat(parts, ignore_index=True), facts


def _wide(long: pd.DataFrame, subject: str, occasion: str, pre: str, post: str, outcome: str) -> pd.DataFrame:
    d = long[(long["outcome"] == outcome) & long[occasion].isin([pre, post])]
    wide = d.pivot_table(index=subject, columns=occasion, values="value", aggfunc="first", dropna=False)
    wide = wide.reindex(columns=[pre, post])
    wide.columns = ["pre", "post"]
    return wide.reset_index()


def _by_site(
    protocol: Protocol, data: LoadedData, long: pd.DataFrame, kw: dict[str, Any], conf: float
) -> list[dict[str, Any]]:
    """The mean change of each primary scale (or the first, when none is primary) at each site, when the
    extract has a ``site`` column naming two or more sites: the input of the certainty rating's
    inconsistency domain (:mod:`evaltoolkit.report._synthesis`). A person counts at the site of their
    first row. A site with fewer than two complete pairs is left out; an estimate resting on too few
    people is blank. Rows: ``site`` plus the columns of :func:`~evaltoolkit.prepost.paired_change`.
    """
    from evaltoolkit.prepost import paired_change

    om = protocol.outcome_measures
    assert om is not None
    raw = data.extracts[om.source].data
    if "site" not in raw.columns:
        return []
    site_of = raw.dropna(subset=["site"]).groupby(om.subject, sort=False)["site"].first()
    if site_of.nunique() < 2:
        return []
    chosen = [outcome_name(s) for s in om.instruments if s.primary] or [outcome_name(om.instruments[0])]
    sub = long[long["outcome"].isin(chosen)].assign(_site=lambda d: d[om.subject].map(site_of))
    parts = []
    for site in sorted(site_of.unique(), key=str):
        here = sub[sub["_site"] == site].drop(columns="_site")
        for name in chosen:
            one = here[here["outcome"] == name]
            valid = one[one[om.occasion].isin([om.pre, om.post])].dropna(subset=["value"])
            both = valid.groupby(om.subject)[om.occasion].nunique()
            if int((both >= 2).sum()) < 2:
                continue
            t = paired_change(one, **kw, conf_level=conf, p_adjust="none")
            parts.append(t[t["term"] == "mean_change"].assign(site=str(site)))
    if not parts:
        return []
    table = pd.concat(parts, ignore_index=True)
    return typed_records(table, counts=["n"], blank=[(["n"], ESTIMATE_FIELDS, NOT_SHOWN)])


def run_measures(
    protocol: Protocol, data: LoadedData, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Every outcome-measure analysis the protocol asks for, as a JSON-ready dictionary.

    Keys: ``settings``, ``instruments`` (facts per outcome), ``analysed`` (analysed n of N started),
    ``paired`` (:func:`~evaltoolkit.prepost.paired_change`), ``reliable_change`` (Jacobson–Truax category
    counts and percentages), ``talking_therapies``, ``attrition``, ``complete_vs_available``,
    ``trajectories`` (estimates and the fitted curve), ``internal_consistency``, ``by_site`` (the mean
    change of each primary scale per site, when the extract names two or more sites), ``notes``. Every
    count is published per the suppression rule; percentages are computed from the published counts.
    """
    from evaltoolkit.prepost import (
        analysed_n,
        attrition_table,
        complete_vs_available,
        fit_trajectories,
        paired_change,
    )
    from evaltoolkit.prepost._common import FIT_WARNINGS, record_warnings
    from evaltoolkit.rom import change_summary, internal_consistency, reliable_change

    om = protocol.outcome_measures
    assert om is not None
    rule = protocol.disclosure_policy()
    conf = protocol.analysis.conf_level if protocol.analysis is not None else 0.95
    p_adjust = om.p_adjust
    if progress is not None:
        progress("outcome measures: scoring")
    long, facts = _scores(protocol, data)
    kw: dict[str, Any] = {
        "subject": om.subject,
        "time": om.occasion,
        "value": "value",
        "pre": om.pre,
        "post": om.post,
        "outcome": "outcome",
    }
    notes: list[str] = []
    if progress is not None:
        progress("outcome measures: paired change")
    analysed = analysed_n(long, **kw)
    paired = paired_change(long, **kw, conf_level=conf, p_adjust=p_adjust)
    out: dict[str, Any] = {
        "settings": {
            "source": om.source,
            "pre": om.pre,
            "post": om.post,
            "time": om.time,
            "time_unit": om.time_unit,
            "p_adjust": p_adjust,
            "criterion": om.change.criterion,
            "sd_multiplier": om.change.sd_multiplier,
        },
        "instruments": [facts[k] for k in facts],
        "analysed": typed_records(
            analysed.drop(columns=["statement"]),
            counts=["n_started", "n_valid_pre", "n_valid_post", "n_analysed"],
        ),
        "paired": typed_records(paired, counts=["n"], blank=[(["n"], ESTIMATE_FIELDS, NOT_SHOWN)]),
    }
    for row, exact in zip(out["analysed"], analysed.itertuples(index=False), strict=True):
        row["proportion_analysed"] = ShareOf(int(exact.n_analysed), int(exact.n_started))
    out["by_site"] = _by_site(protocol, data, long, kw, conf)

    ic_rows: list[dict[str, Any]] = []
    alphas: dict[str, float] = {}
    if om.internal_consistency:
        raw = data.extracts[om.source].data
        base = raw[raw[om.occasion] == om.pre]
        for spec in om.instruments:
            try:
                ic = internal_consistency(base, spec.key, scales=[spec.scale], conf_level=conf)
            except EvalToolkitError as exc:
                notes.append(f"{outcome_name(spec)}: internal consistency not computed ({exc})")
                continue
            # the reliable-change threshold uses the unrounded alpha, and only one from enough people to be
            # published (an analysis choice that follows the policy's threshold); the published one is rounded
            usable = ic["estimate"].where(~_small(ic["n"], rule))
            alphas.update(
                {outcome_name(spec): float(a) for a in usable if a is not None and math.isfinite(a)}
            )
            for r in typed_records(
                ic, counts=["n"], blank=[(["n"], ["estimate", "ci_lower", "ci_upper"], "")]
            ):
                ic_rows.append({"outcome": outcome_name(spec), **r})
    out["internal_consistency"] = ic_rows

    # reliable and clinically significant change
    rc_rows: list[dict[str, Any]] = []
    if om.change.reliable_change:
        for spec in om.instruments:
            name = outcome_name(spec)
            wide = _wide(long, om.subject, om.occasion, om.pre, om.post, name)
            alpha = {"reliability": float(alphas[name])} if name in alphas else None
            attempts = [
                (om.change.criterion, {}),
                (om.change.criterion, alpha),
                ("none", {}),
                ("none", alpha),
            ]
            rc, used, errors = None, {}, []
            for criterion, extra in attempts:
                if extra is None:
                    continue
                try:
                    rc = reliable_change(
                        wide,
                        spec.key,
                        pre_column="pre",
                        post_column="post",
                        scale=spec.scale,
                        criterion=criterion,
                        sd_multiplier=om.change.sd_multiplier,
                        **extra,
                    )
                except EvalToolkitError as exc:
                    errors.append(str(exc))
                    continue
                used = extra
                break
            if rc is None:
                notes.append(f"{name}: reliable change not computed ({strip_python_advice(errors[-1])})")
                continue
            if used:
                notes.append(
                    f"{name}: no published reliable-change value or stored reliability; the threshold uses "
                    "this "
                    f"sample's Cronbach's alpha at {om.pre} ({used['reliability']:.2f})"
                )
            if str(rc["criterion"].iloc[0]) == "none":
                notes.append(
                    f"{name}: no clinical cut-off or norms, so reliable change only (no 'recovered')"
                )
            summ = change_summary(rc)
            classified = summ[summ["category"] != "not classified"]
            total = int(classified["n"].sum())
            for r in summ.itertuples(index=False):
                row = {
                    "outcome": name,
                    "category": str(r.category),
                    "n": ExactCount(int(r.n)),
                    "n_classified": ExactCount(total),
                    "percent": None
                    if r.category == "not classified"
                    else ShareOf(int(r.n), total, percent=True),
                    "rc_threshold": float(rc["rc_threshold"].iloc[0]) if len(rc) else None,
                    "rc_source": ProseCounts(str(rc["rc_source"].iloc[0])) if len(rc) else None,
                    "cutoff": float(rc["cutoff"].iloc[0])
                    if len(rc) and pd.notna(rc["cutoff"].iloc[0])
                    else None,
                    "criterion": str(rc["criterion"].iloc[0]) if len(rc) else None,
                }
                rc_rows.append(row)
    out["reliable_change"] = rc_rows

    # NHS Talking Therapies
    tt_rows: list[dict[str, Any]] = []
    if om.talking_therapies is not None:
        from evaltoolkit.rom import talking_therapies_outcomes, talking_therapies_summary

        p = _wide(long, om.subject, om.occasion, om.pre, om.post, om.talking_therapies.phq9)
        g = _wide(long, om.subject, om.occasion, om.pre, om.post, om.talking_therapies.gad7)
        both = p.merge(g, on=om.subject, how="outer", suffixes=("_phq9", "_gad7"))
        tto = talking_therapies_outcomes(
            both, phq9_pre="pre_phq9", phq9_post="post_phq9", gad7_pre="pre_gad7", gad7_post="post_gad7"
        )
        summ = talking_therapies_summary(tto, conf_level=conf)
        for r in summ.itertuples(index=False):
            num, den = int(r.numerator), int(r.denominator)
            tt_rows.append(
                {
                    "indicator": r.indicator,
                    "numerator": ExactCount(num),
                    "denominator": ExactCount(den),
                    "proportion": ShareOf(num, den),
                    "ci_lower": WilsonOf(num, den, conf, "lower"),
                    "ci_upper": WilsonOf(num, den, conf, "upper"),
                    "conf_level": conf,
                    "denominator_definition": r.denominator_definition,
                    "method": (
                        "NHS Talking Therapies definitions; rate and Wilson interval from the published "
                        "counts"
                    ),
                }
            )
    out["talking_therapies"] = tt_rows

    if om.attrition:
        if progress is not None:
            progress("outcome measures: attrition")
        att = attrition_table(long, **kw, conf_level=conf)
        out["attrition"] = typed_records(
            att,
            counts=["n_started", "n_valid_pre", "n_completers", "n_dropouts"],
            blank=[
                (["n_completers"], ["mean_completers", "sd_completers"], ""),
                (["n_dropouts"], ["mean_dropouts", "sd_dropouts"], ""),
                (
                    ["n_completers", "n_dropouts"],
                    [*ESTIMATE_FIELDS, "smd"],
                    "not shown: {few} completers or drop-outs",
                ),
            ],
        )
        cva = complete_vs_available(long, **kw, conf_level=conf)
        out["complete_vs_available"] = typed_records(
            cva,
            counts=["n"],
            blank=[
                (["n", "_valid_pre", "_valid_post"], ESTIMATE_FIELDS, "not shown: it rests on {few} people")
            ],
            n_columns=_valid_counts(cva, analysed),
        )
    else:
        out["attrition"], out["complete_vs_available"] = [], []

    if om.trajectories and om.time:
        if progress is not None:
            progress("outcome measures: trajectories (mixed models)")
        with record_warnings(FIT_WARNINGS) as caught:  # other warnings pass through the caller's filters
            fit = fit_trajectories(
                long,
                subject=om.subject,
                time=om.time,
                value="value",
                outcome="outcome",
                time_unit=om.time_unit,
                conf_level=conf,
                p_adjust=p_adjust,
            )
        notes += sorted({f"trajectories: {w.message}" for w in caught})
        for name, extra in sorted(fit.notes.items()):
            notes += [f"trajectories ({name}): {n}" for n in extra]
        out["trajectories"] = {
            "estimates": typed_records(
                fit.estimates, counts=["n"], blank=[(["n"], ESTIMATE_FIELDS, NOT_SHOWN)]
            ),
            "curve": typed_records(
                fit.curve, counts=["observed_n"], blank=[(["observed_n"], ["observed_mean"], "")]
            ),
            "random_slopes": dict(sorted(fit.random_slopes.items())),
        }
    else:
        out["trajectories"] = None

    out["notes"] = [ProseCounts(n) for n in notes]
    return out
