"""Run a protocol end to end: :func:`run_protocol` computes, :func:`write_outputs` writes the folder.

What a run writes (``evaltoolkit run PROTOCOL --out DIR``):

* ``results.json``: every estimate with its interval, method and n, the data-quality table, the summary
  and the limitations; the schema is documented in :mod:`evaltoolkit.report.results_schema`.
  Deterministic: the same inputs give a byte-identical file (no timestamps; sorted keys; floats rounded
  to 6 significant digits).
* ``tables/*.csv``: the published tables (deterministic).
* ``figures/*.png`` and ``figures/*.svg`` (deterministic: fixed SVG hash salt, no dates in metadata).
* ``report.md`` and ``report.html`` (standalone, figures embedded, no external resources).
* ``manifest.json``: SHA-256 of every input and of the protocol, package versions, seed, command line,
  time and step durations (the only file that changes between runs).

Every number that leaves the secure environment (results.json, tables, figure labels, report text) has
passed the protocol's small-number suppression rule (NHS default: 1–7 shown as ``*``, other counts
rounded to the nearest 5). Patient and staff identifiers never appear in the outputs.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure import assert_published, assert_published_table
from evaltoolkit.disclosure.deferred import CountSlots, ExactCount, publish_results
from evaltoolkit.errors import ProtocolError
from evaltoolkit.protocol import Protocol, load_protocol
from evaltoolkit.provenance import package_versions, sha256_file
from evaltoolkit.report._checks import (
    its_tables,
    keep_warmup,
    occasion_problems,
    published_checks,
    raise_for_errors,
    series_checks,
    sites_without_rows,
)
from evaltoolkit.report._data import build_series_table, load_data, published_series
from evaltoolkit.report._effects import derive_effects, heterogeneity
from evaltoolkit.report._format import dumps_json, jsonable, write_csv
from evaltoolkit.report._its import (
    FitRecord,
    check_horizon,
    fit_summary,
    plot_points,
    run_its,
    run_robustness,
    run_staggered,
)
from evaltoolkit.report._summary import limitations, summary_sentences
from evaltoolkit.report._synthesis import findings, model_checks, multiplicity
from evaltoolkit.report.results_schema import ESTIMATE_KEYS

__all__ = ["RESULTS_SCHEMA_VERSION", "Evaluation", "run_protocol", "write_outputs"]

RESULTS_SCHEMA_VERSION = "2.0"  # see evaltoolkit.report.results_schema for the history
"""Version of the results.json schema (see :mod:`evaltoolkit.report.results_schema`)."""

Progress = Callable[[str], None]

_REPORT_PACKAGES = ("matplotlib", "pydantic", "PyYAML", "typer")


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A completed run of a protocol.

    Attributes
    ----------
    protocol : Protocol
        The validated protocol.
    results : dict
        The publishable results (what results.json holds); see :mod:`evaltoolkit.report.results_schema`.
    tables : dict of str to DataFrame
        Published tables, by file stem (written as ``tables/<name>.csv``).
    inputs : dict of str to Path
        The extract file read, by kind (the first, when a source has several).
    timings : dict of str to float
        Seconds per step (recorded in the manifest only).
    input_files : dict of str to tuple of Path
        Every file read, by kind (recorded in the manifest).
    quality : pandas.DataFrame or None
        The exact data-quality table (every rule with its counts), for the analyst; never written.
    published_quality : list of dict
        The same table as published (counts under the protocol's policy; recorded in the manifest).
    """

    protocol: Protocol
    results: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    inputs: dict[str, Path]
    timings: dict[str, float] = field(default_factory=dict)
    input_files: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    quality: pd.DataFrame | None = None
    published_quality: list[dict[str, Any]] = field(default_factory=list)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(df.columns, row, strict=True)) for row in df.itertuples(index=False, name=None)]


def _estimate(**kw: Any) -> dict[str, Any]:
    keys = ESTIMATE_KEYS
    out = dict.fromkeys(keys)
    unknown = set(kw) - set(keys)
    if unknown:  # pragma: no cover - programming error
        raise KeyError(f"unknown estimate keys {sorted(unknown)}")
    out.update(kw)
    return out


def _change_records(
    prefix: str, cu: dict[str, Any], absolute_scale: str, base: dict[str, Any]
) -> list[dict[str, Any]]:
    """The relative and absolute change over the horizon as two estimate records (ids ``prefix/...``)."""
    return [
        _estimate(
            id=f"{prefix}/relative_change",
            term="relative_change",
            estimate=cu["relative_change"],
            ci_lower=cu["relative_ci_lower"],
            ci_upper=cu["relative_ci_upper"],
            scale="fitted / counterfactual − 1 over the horizon",
            **base,
        ),
        _estimate(
            id=f"{prefix}/absolute_change",
            term="absolute_change",
            estimate=cu["estimate"],
            std_error=cu["std_error"],
            ci_lower=cu["ci_lower"],
            ci_upper=cu["ci_upper"],
            p_value=cu["p_value"],
            scale=absolute_scale,
            **base,
        ),
    ]


def _protocol_block(protocol: Protocol) -> dict[str, Any]:
    path = protocol.path
    return {
        "name": protocol.name,
        "title": protocol.title,
        "version": protocol.version,
        "registration": protocol.registration,
        "authors": list(protocol.authors),
        "question": protocol.question,
        "seed": protocol.seed,
        "data_kind": protocol.data.kind,
        "schema_version": protocol.schema_version,
        "file": path.name if path is not None else None,
        "sha256": sha256_file(path) if path is not None else None,
        "design": protocol.design.model_dump(mode="json"),
        "analysis": protocol.analysis.model_dump(mode="json") if protocol.analysis is not None else None,
        "cohort": protocol.cohort.model_dump(mode="json") if protocol.cohort is not None else None,
        "outcome_measures": (
            protocol.outcome_measures.model_dump(mode="json")
            if protocol.outcome_measures is not None
            else None
        ),
        "report": protocol.report.model_dump(mode="json"),
    }


def _suppression_block(protocol: Protocol) -> dict[str, Any]:
    """The policy as results.json records it: its name, thresholds, description and published source."""
    policy = protocol.disclosure_policy()
    source = policy.source
    return {
        "rule": protocol.suppression.rule,
        "low": policy.low,
        "high": policy.high,
        "round_to": None if policy.exact else policy.round_to,
        "description": policy.describe(),
        "source": None if source is None else {"title": source.title, "url": source.url},
    }


def _quality_block(data: Any) -> dict[str, Any]:
    """Inputs (files, hashes, rows read, excluded and kept) and the data-quality table, with typed counts."""
    inputs = []
    for kind, ex in data.extracts.items():
        files = data.inputs.get(kind) or (data.files[kind],)
        record = {
            "kind": kind,
            "file": ", ".join(p.name for p in files),
            "sha256": sha256_file(files[0]),
            "rows_read": ExactCount(ex.n_input),
            "rows_excluded": ExactCount(ex.n_excluded),
            "rows_kept": ExactCount(ex.n_output),
        }
        if len(files) > 1:  # several files stacked: each with its own hash
            record["files"] = [{"file": p.name, "sha256": sha256_file(p)} for p in files]
        inputs.append(record)
    out: dict[str, Any] = {"inputs": inputs, "quality": _quality_records(data.quality)}
    if data.notes:
        out["notes"] = list(data.notes)
    return out


def _its_block(
    protocol: Protocol, tables: dict[str, pd.DataFrame], progress: Progress | None
) -> dict[str, Any]:
    """Analyses (every fit), then derived effects (one set of draws per outcome × method), then the
    published ITS block of results.json."""
    assert protocol.analysis is not None
    records = run_its(protocol, tables, progress)
    stag_records = run_staggered(protocol, tables, progress)
    if progress is not None:
        progress("derived effects (joint draws per outcome and method)")
    n_draws = protocol.analysis.draws
    effects = derive_effects(records, seed=protocol.seed, n_draws=n_draws)
    stag_effects = derive_effects(stag_records, seed=protocol.seed, n_draws=n_draws)
    specs = {s.name: s for s in protocol.series}

    def site_change(r: FitRecord) -> dict[str, Any] | None:
        e = effects.get((r.series, r.method_index))
        return None if e is None else e.site_changes.get(r.site)

    fits = [fit_summary(r, diagnostics=r.primary, cumulative=site_change(r)) for r in records]
    methods = [
        {"id": f"m{i}", "label": label, "primary": i == 0, "options": opts}
        for i, (label, opts) in enumerate(protocol.methods())
    ]
    combined = []
    sites = [s.code for s in protocol.intervention_sites]
    for spec in protocol.series:
        for m in methods:
            index = int(m["id"][1:])
            recs = [r for r in records if r.series == spec.name and r.method_index == index]
            row: dict[str, Any] = {
                "series": spec.name,
                "method_id": m["id"],
                "method": m["label"],
                "primary": m["primary"],
                "sites": sites,
                "horizon_months": protocol.analysis.horizon_months,
            }
            if any(r.status == "duplicate" for r in recs):
                row.update(
                    status="duplicate", message=next(r.message for r in recs if r.status == "duplicate")
                )
            elif any(r.result is None for r in recs):
                bad = [f"{r.site}: {r.message}" for r in recs if r.result is None]
                row.update(status="failed", message="; ".join(bad))
            else:
                row.update(
                    status="ok",
                    message="",
                    controlled=any(r.controlled for r in recs),
                    **effects[(spec.name, index)].combined(),
                )
            combined.append(row)
    staggered = []
    for r in stag_records:
        row = {
            "series": r.series,
            "method_id": f"m{r.method_index}",
            "method": r.label,
            "primary": r.primary,
            "sites": sites,
            "horizon_months": protocol.analysis.horizon_months,
            "status": r.status if r.result is not None else "failed",
            "message": r.message,
            "warnings": list(r.warnings),
        }
        if r.result is not None:
            assert r.windows is not None
            summary = fit_summary(r, diagnostics=False)
            row.update(
                controlled=True,
                level_change=summary["level_change"],
                slope_change=summary["slope_change"],
                **stag_effects[(r.series, r.method_index)].combined(),
            )
            row["interval"] = "one staggered model: sites and controls fitted together; " + row["interval"]
        staggered.append(row)
    plots = []
    for r in records:
        if r.primary and r.result is not None:
            plots.append(
                {
                    "series": r.series,
                    "site": r.site,
                    "interruption": r.interruption,
                    "transition": int(r.options["transition"]),
                    "frequency": specs[r.series].frequency,
                    "points": plot_points(r, tables[r.series], specs[r.series]),
                }
            )
    if progress is not None:
        progress("placebo and robustness checks")
    het = [
        heterogeneity(effects[(spec.name, 0)], spec.label)
        for spec in protocol.series
        if (spec.name, 0) in effects and len(effects[(spec.name, 0)].sites) >= 2
    ]
    return {
        "horizon_months": protocol.analysis.horizon_months,
        "conf_level": protocol.analysis.conf_level,
        "heterogeneity": [h for h in het if h is not None],
        "draws": {
            "n_draws": n_draws,
            "seed": protocol.seed,
            "method": (
                "every derived figure of one outcome and method (site and combined changes, relative and "
                f"absolute, costs) comes from one set of {n_draws:,} draws of the site fits' coefficients, "
                "drawn jointly (sites sharing the control series are correlated as their estimates are); "
                "percentile intervals, Monte-Carlo p-values"
            ),
        },
        "methods": methods,
        "fits": fits,
        "combined": combined,
        "staggered": staggered,
        "plots": plots,
        "robustness": run_robustness(protocol, tables, records, effects),
        "_effects": effects,
    }


def _money_row(table: pd.DataFrame, term: str) -> dict[str, Any]:
    row = table.set_index("term").loc[term]
    return {k: row[k] for k in ("estimate", "ci_lower", "ci_upper", "p_value", "std_error")}


def _costs(protocol: Protocol, its: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Money from the same draws as the effects: per costed series the cost of the change (a unit-cost
    range drawn uniformly), beds-equivalent for bed-days (capacity released), a one-way sensitivity table;
    with a service cost, the net cost and the return per pound over the horizon (costed series summed)."""
    import zlib

    from evaltoolkit.economics import ChangeDraws, beds_equivalent, cost_draws, cost_of_change, tornado

    effects = its["_effects"]
    conf = protocol.analysis.conf_level if protocol.analysis is not None else 0.95
    horizon = its["horizon_months"]
    out = []
    summed: list[_Costed] = []
    for spec in protocol.series:
        if spec.unit_cost is None:
            continue
        uc = protocol.unit_costs[spec.unit_cost]
        c = next((x for x in its["combined"] if x["series"] == spec.name and x["method_id"] == "m0"), None)
        ok = c is not None and c.get("status") == "ok"
        row: dict[str, Any] = {
            "series": spec.name,
            "series_label": spec.label,
            "unit_cost": spec.unit_cost,
            "value": uc.value,
            "currency": uc.currency,
            "price_year": uc.price_year,
            "unit": uc.unit,
            "source": uc.source,
            "note": uc.note,
            "range": list(uc.bounds) if uc.bounds is not None else None,
            "estimate": None,
            "ci_lower": None,
            "ci_upper": None,
            "p_value": None,
            "beds_equivalent": None,
            "sensitivity": [],
        }
        if ok:
            eff = effects[(spec.name, 0)]
            tot = eff.totals[eff.sites[0]]
            for site in eff.sites[1:]:
                tot = tot + eff.totals[site]
            est, d = tot.absolute(per_period=True)
            draws = ChangeDraws(est, d, conf, "the effect's draws, sites combined")
            seed = (protocol.seed + zlib.crc32(spec.name.encode())) % 2**32
            money = cost_of_change(draws, uc.price(), seed=seed)
            row.update(_money_row(money, "cost"))
            row["method"] = (
                "primary method, sites combined, cumulative over the horizon × unit cost; the same draws as "
                "the change in the outcome"
                + (" (unit cost drawn uniformly between the two figures)" if uc.bounds is not None else "")
            )
            summed.append(
                _Costed(
                    spec.name,
                    spec.short_label or spec.label,
                    float(row["estimate"]),
                    cost_draws(d, uc.price(), seed=seed),
                    draws,
                    uc.price(),
                )
            )
            if spec.measure == "bed_days":
                beds = protocol.beds
                days = horizon * 365.25 / 12  # beds across the sites combined, over the horizon
                b = beds_equivalent(
                    draws,
                    days=days,
                    occupancy=beds.occupancy if beds is not None else 0.85,
                    removed=bool(beds is not None and beds.removed),
                ).iloc[0]
                row["beds_equivalent"] = {
                    "estimate": b["estimate"],
                    "ci_lower": b["ci_lower"],
                    "ci_upper": b["ci_upper"],
                    "occupancy": beds.occupancy if beds is not None else 0.85,
                    "days": days,
                    "n_sites": len(eff.sites),
                    "label": b["label"],
                }
            t = tornado(draws, uc.price(), horizon=(horizon / 2, horizon * 1.5), base_horizon=horizon)
            row["sensitivity"] = t.to_dict("records")
        out.append(row)
    return out, _net(protocol, out, summed, horizon, conf)


@dataclass(frozen=True)
class _Costed:
    """One costed outcome for the net cost: its cost at the estimates and per draw, its activity draws
    and its unit cost (for the one-way sensitivity of the net cost)."""

    series: str
    label: str
    estimate: float
    cost: np.ndarray
    activity: Any
    price: Any


def _net(
    protocol: Protocol,
    costs: list[dict[str, Any]],
    summed: list[_Costed],
    horizon: int,
    conf: float,
) -> dict[str, Any] | None:
    """Net cost and return per pound: the service cost over the horizon plus the summed cost draws, the
    outcomes drawn independently (the main analysis) and, as a bracket, perfectly positively dependent
    (each outcome's cost draws sorted and paired by rank); and the one-way sensitivity of the net cost."""
    svc = protocol.service_cost
    if svc is None or not summed:
        return None
    from evaltoolkit.economics import combine_draws, draw_range, tornado
    from evaltoolkit.its.derived import summarise_draws

    est = float(sum(c.estimate for c in summed))
    d = combine_draws([c.cost for c in summed])
    n_sites = len([s for s in protocol.sites if s.role == "intervention"])
    cost = svc.for_months(horizon)
    if isinstance(cost, tuple):
        s = draw_range(cost[0], cost[1], d.size, seed=protocol.seed)
        s_mid = sum(cost) / 2
    else:
        s, s_mid = np.full(d.size, float(cost)), float(cost)
    net = summarise_draws("net_cost", s_mid + est, s + d, conf)
    ret = summarise_draws("return_per_pound", -est / s_mid, -d / s, conf)
    keys = ("estimate", "std_error", "ci_lower", "ci_upper", "p_value")
    out: dict[str, Any] = {
        "service_cost": {
            "amount": svc.amount,
            "per": svc.per,
            "range": svc.range,
            "currency": svc.currency,
            "price_year": svc.price_year,
            "source": svc.source,
            "note": svc.note,
            "over_horizon": s_mid,
            "horizon_months": horizon,
            "n_sites": n_sites,
        },
        "series": [c["series"] for c in costs if c["estimate"] is not None],
        "net_cost": {k: net[k] for k in keys},
        "return_per_pound": {k: ret[k] for k in keys},
        "method": (
            "service cost over the horizon plus the cost of the change in each costed outcome, draw by draw "
            "(outcomes drawn independently; a service-cost range drawn uniformly); percentile intervals"
        ),
        "comonotone": None,
        "sensitivity": [],
    }
    if len(summed) > 1:
        # bracket: the outcomes moving together (each outcome's cost draws sorted, paired by rank); the
        # service-cost draws stay independent of them
        dc = combine_draws([c.cost for c in summed], dependence="comonotone")
        net_c = summarise_draws("net_cost", s_mid + est, s + dc, conf)
        ret_c = summarise_draws("return_per_pound", -est / s_mid, -dc / s, conf)
        out["comonotone"] = {
            "net_cost": {k: net_c[k] for k in keys},
            "return_per_pound": {k: ret_c[k] for k in keys},
            "method": (
                "the same draws, each outcome's cost draws sorted and paired by rank (the outcomes perfectly "
                "positively dependent: the widest interval any positive dependence gives)"
            ),
        }
    t = tornado(
        {c.series: c.activity for c in summed},
        {c.series: c.price for c in summed},
        service_cost=cost,
        horizon=(horizon / 2, horizon * 1.5),
        base_horizon=horizon,
        labels={c.series: c.label for c in summed},
        conf_level=conf,
    )
    out["sensitivity"] = t.to_dict("records")
    return out


def _estimates(results: dict[str, Any]) -> list[dict[str, Any]]:
    conf = results["conf_level"]
    out: list[dict[str, Any]] = []
    its = results.get("its")
    if its:
        for f in its["fits"]:
            if f["status"] not in ("ok", "warning"):
                continue
            base = {
                "analysis": "its",
                "outcome": f["series"],
                "group": f["site"],
                "method": f["method"],
                "primary": f["primary"],
                "conf_level": conf,
                "n": None,
                "n_unit": None,
            }
            cu = f["cumulative"]
            out += _change_records(f"its/{f['series']}/{f['site']}/{f['method_id']}", cu, cu["scale"], base)
            for term in ("level_change", "slope_change"):
                t = f.get(term) or {}
                if not t:
                    continue
                ratio = "rate_ratio" in t
                out.append(
                    _estimate(
                        id=f"its/{f['series']}/{f['site']}/{f['method_id']}/{term}",
                        term=term,
                        estimate=t["rate_ratio"] if ratio else t["estimate"],
                        std_error=None if ratio else t["std_error"],
                        ci_lower=t["rate_ratio_ci_lower"] if ratio else t["ci_lower"],
                        ci_upper=t["rate_ratio_ci_upper"] if ratio else t["ci_upper"],
                        p_value=t["p_value"],
                        scale="rate ratio" if ratio else "outcome units",
                        **base,
                    )
                )
        for c in its["combined"]:
            if c["status"] != "ok":
                continue
            base = {
                "analysis": "its_combined",
                "outcome": c["series"],
                "group": "+".join(c["sites"]),
                "method": c["method"],
                "primary": c["primary"],
                "conf_level": conf,
            }
            scale = "total over the horizon" if c.get("relative_change") is not None else "outcome units"
            out += _change_records(f"its_combined/{c['series']}/{c['method_id']}", c, scale, base)
    for cost in results.get("costs") or []:
        if cost["estimate"] is None:
            continue
        out.append(
            _estimate(
                id=f"cost/{cost['series']}",
                analysis="cost",
                outcome=cost["series"],
                group="all intervention sites",
                method=cost["method"],
                primary=True,
                term="cost_change",
                estimate=cost["estimate"],
                ci_lower=cost["ci_lower"],
                ci_upper=cost["ci_upper"],
                conf_level=conf,
                scale=f"{cost['currency']}, {cost['price_year']} prices",
            )
        )
    cohort = results.get("cohort")
    if cohort:
        for r in cohort["change"]:
            out.append(_prepost_estimate("mirror_change", r, r.get("group"), "patients"))
        for r in cohort["did"]:
            out.append(_prepost_estimate("mirror_did", r, "intervention vs comparison", "patients"))
    om = results.get("outcome_measures")
    if om:
        unit = "staff" if om["settings"]["source"] == "staff_survey" else "patients"
        for r in om["paired"]:
            out.append(_prepost_estimate("paired_change", r, "all", unit))
        for r in om.get("complete_vs_available") or []:
            out.append(_prepost_estimate("complete_vs_available", r, "all", unit))
        traj = om.get("trajectories")
        for r in (traj or {}).get("estimates", []):
            out.append(_prepost_estimate("trajectory", r, "all", unit))
        for r in om.get("talking_therapies") or []:
            out.append(
                _estimate(
                    id=f"talking_therapies/{r['indicator']}",
                    analysis="talking_therapies",
                    outcome="phq9+gad7",
                    group="all",
                    method=r["method"],
                    primary=False,
                    term=r["indicator"],
                    estimate=r["proportion"],
                    ci_lower=r["ci_lower"],
                    ci_upper=r["ci_upper"],
                    conf_level=r["conf_level"],
                    n=r["denominator"],
                    n_unit=unit,
                    scale="proportion",
                )
            )
    return out


def _prepost_estimate(analysis: str, r: dict[str, Any], group: Any, unit: str) -> dict[str, Any]:
    return _estimate(
        id=f"{analysis}/{r['outcome']}/{group}/{r['term']}".replace(" ", "_"),
        analysis=analysis,
        outcome=r["outcome"],
        group=group,
        method=r.get("method"),
        primary=False,
        term=r["term"],
        estimate=r.get("estimate"),
        std_error=r.get("std_error"),
        ci_lower=r.get("ci_lower"),
        ci_upper=r.get("ci_upper"),
        conf_level=r.get("conf_level"),
        p_value=r.get("p_value"),
        p_adjusted=r.get("p_adjusted"),
        n=r.get("n"),
        n_unit=unit,
        scale="rate ratio" if "ratio" in str(r["term"]) else "outcome units",
    )


def _series_table(protocol: Protocol, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The outcome series as they will be published (typed values)."""
    parts = [published_series(tables[s.name], s) for s in protocol.series]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _tables(protocol: Protocol, results: dict[str, Any], series: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    q = results["data"]["quality"]
    out["data_quality"] = pd.DataFrame(
        q, columns=["extract", "rule", "column", "n_rows", "n_excluded", "action"]
    )
    out["data_inputs"] = pd.DataFrame(results["data"]["inputs"])
    if len(series):
        out["series_published"] = series
    its = results.get("its")
    if its:
        rows = []
        for f in its["fits"]:
            cu = f.get("cumulative") or {}
            lv, sl = f.get("level_change") or {}, f.get("slope_change") or {}
            diag = f.get("diagnostics") or {}
            rows.append(
                {
                    "series": f["series"],
                    "site": f["site"],
                    "method": f["method"],
                    "primary": f["primary"],
                    "status": f["status"],
                    "family": f["family"],
                    "controlled": f["controlled"],
                    "horizon_start": f["horizon_start"],
                    "horizon_end": f["horizon_end"],
                    "relative_change": cu.get("relative_change"),
                    "relative_ci_lower": cu.get("relative_ci_lower"),
                    "relative_ci_upper": cu.get("relative_ci_upper"),
                    "absolute_change": cu.get("estimate"),
                    "absolute_ci_lower": cu.get("ci_lower"),
                    "absolute_ci_upper": cu.get("ci_upper"),
                    "absolute_scale": cu.get("scale"),
                    "level_change": lv.get("rate_ratio", lv.get("estimate")),
                    "level_change_ci_lower": lv.get("rate_ratio_ci_lower", lv.get("ci_lower")),
                    "level_change_ci_upper": lv.get("rate_ratio_ci_upper", lv.get("ci_upper")),
                    "slope_change": sl.get("rate_ratio", sl.get("estimate")),
                    "slope_change_ci_lower": sl.get("rate_ratio_ci_lower", sl.get("ci_lower")),
                    "slope_change_ci_upper": sl.get("rate_ratio_ci_upper", sl.get("ci_upper")),
                    "change_scale": "rate ratio" if "rate_ratio" in lv else "outcome units",
                    "n_periods": f.get("n_periods"),
                    "pre_points": f.get("pre_points"),
                    "post_points": f.get("post_points"),
                    "dispersion": f.get("dispersion"),
                    "autocorrelation_p": diag.get("autocorrelation_p"),
                    "message": "; ".join(filter(None, [f.get("message"), *f.get("warnings", [])])),
                }
            )
        out["its_fits"] = pd.DataFrame(rows)
        out["its_combined"] = pd.DataFrame(
            [
                {k: v for k, v in c.items() if k != "sites"} | {"sites": "+".join(c["sites"])}
                for c in its["combined"]
            ]
        )
    if results.get("costs"):
        out["costs"] = pd.DataFrame(results["costs"])
    cohort = results.get("cohort")
    if cohort:
        out["cohort_windows"] = pd.DataFrame(cohort["windows"])
        out["cohort_change"] = pd.DataFrame(cohort["change"])
        if cohort["did"]:
            out["cohort_did"] = pd.DataFrame(cohort["did"])
    om = results.get("outcome_measures")
    if om:
        for key in (
            "analysed",
            "paired",
            "reliable_change",
            "talking_therapies",
            "attrition",
            "complete_vs_available",
            "internal_consistency",
        ):
            if om.get(key):
                out[f"measures_{key}"] = pd.DataFrame(om[key])
        if om.get("trajectories"):
            out["measures_trajectories"] = pd.DataFrame(om["trajectories"]["estimates"])
            out["measures_trajectory_curve"] = pd.DataFrame(om["trajectories"]["curve"])
    out["estimates"] = pd.DataFrame(results["estimates"])
    return {k: _json_round(v) for k, v in out.items()}


def _json_round(df: pd.DataFrame) -> pd.DataFrame:
    """Apply the results.json rounding to a table, so CSV and JSON show the same numbers."""
    if df.empty:
        return df
    return pd.DataFrame(jsonable(_records(df)), columns=list(df.columns))


def run_protocol(
    protocol: Protocol | str | Path,
    *,
    progress: Progress | None = None,
) -> Evaluation:
    """Run an evaluation protocol end to end and return its publishable results.

    Parameters
    ----------
    protocol : Protocol, str or Path
        A validated protocol or the path of a protocol YAML file.
    progress : callable, optional
        Called with a short message at each step (the command line prints them on stderr).

    Returns
    -------
    Evaluation
        ``results`` (the content of results.json), published ``tables``, the ``inputs`` read and step
        ``timings``. Write it with :func:`write_outputs`.

    Raises
    ------
    ProtocolError
        The protocol file is invalid, or its horizon is not a whole number of periods of a quarterly
        series.
    ExtractValidationError
        An extract has errors (every problem listed), every row of an extract was excluded, or an
        outcome series cannot be modelled: no events at a site, mostly missing, or empty periods before
        the data start or after the data end (:mod:`evaltoolkit.series.checks`); the message names the
        cause and the protocol key to change. Nothing is fitted then. The warm-up months of a bed-day
        series (spells admitted before the window absent) are left out of its fits and listed in
        ``results["data"]["series_checks"]``.

    Examples
    --------
    >>> from evaltoolkit.report import run_protocol, write_outputs
    >>> evaluation = run_protocol("protocols/leadership_programme.yaml")  # doctest: +SKIP
    >>> evaluation.results["summary"][0]  # doctest: +SKIP
    'PSS-10 perceived stress: of 200 staff who started, 140 (70%) had valid scores at both pre and post; ...'
    >>> paths = write_outputs(evaluation, "output/leadership_programme")  # doctest: +SKIP
    """
    if not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    def say(msg: str) -> None:
        if progress is not None:
            progress(msg)

    check_horizon(protocol)
    say("reading and validating extracts")
    data = load_data(protocol)
    occasions = occasion_problems(protocol, data)
    if occasions:
        raise ProtocolError("\n".join(occasions))
    step("load")
    from evaltoolkit import __version__

    results: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "generator": {"package": "evaltoolkit", "version": __version__},
        "protocol": _protocol_block(protocol),
        "intervention": protocol.intervention.model_dump(mode="json"),
        "sites": [s.model_dump(mode="json") for s in protocol.sites],
        "window": protocol.data.window.model_dump(mode="json") if protocol.data.window is not None else None,
        "conf_level": protocol.analysis.conf_level if protocol.analysis is not None else 0.95,
        "suppression": _suppression_block(protocol),
        "data": {**_quality_block(data), "series_checks": []},
        "series": [s.model_dump(mode="json") for s in protocol.series],
        "its": None,
        "costs": [],
        "economics": None,
        "cohort": None,
        "outcome_measures": None,
    }
    sites = [s.code for s in protocol.sites]
    series_tables: dict[str, pd.DataFrame] = {}
    warmup: dict[str, list[Any]] = {}
    if protocol.series:
        say("building outcome series")
        try:
            series_tables = {s.name: build_series_table(s, data, sites) for s in protocol.series}
        except ValueError as exc:  # EvalToolkitError is a ValueError
            empty = sites_without_rows(protocol, data)
            if empty:  # the cause first: a protocol site the extracts do not hold
                raise ProtocolError("\n".join([*empty, f"and so: {exc}"])) from exc
            raise
        say("checking the series before modelling")
        slots = CountSlots()  # counts quoted in the checks' messages: published with everything else
        checks = series_checks(protocol, data, series_tables, count_format=slots)
        if len(checks.errors):
            raise_for_errors(series_checks(protocol, data, series_tables))  # exact figures for the analyst
        exclude = protocol.analysis is None or protocol.analysis.exclude_bed_day_warmup
        if not exclude:
            checks = keep_warmup(checks)
        warmup = dict(checks.warmup)
        results["data"]["series_checks"] = [
            {**c, "message": slots.text(c["message"])} for c in published_checks(checks)
        ]
        step("series")
        results["its"] = _its_block(protocol, its_tables(series_tables, checks, exclude_warmup=exclude), say)
        results["its"]["bed_day_warmup"] = {
            "excluded": bool(exclude),
            "periods": {name: len(p) for name, p in checks.warmup.items()},
        }
        results["costs"], results["economics"] = _costs(protocol, results["its"])
        del results["its"]["_effects"]  # the draws stay in this run; results.json holds their summaries
        step("its")
    if protocol.cohort is not None:
        from evaltoolkit.report._cohort import run_cohort

        results["cohort"] = run_cohort(protocol, data, say)
        results["data"]["quality"] += [
            {
                "extract": "cohort",
                "rule": x["rule"],
                "column": x["column"],
                "n_rows": x["patients"],
                "n_excluded": x["patients"],
                "action": x["action"],
            }
            for x in results["cohort"]["exclusions"]
        ]
        step("cohort")
    if protocol.outcome_measures is not None:
        from evaltoolkit.report._measures import run_measures

        results["outcome_measures"] = run_measures(protocol, data, say)
        step("outcome_measures")
    # disclosure control: the stages' typed values (exact counts, statistics resting on n people, shares of
    # published counts, prose quoting counts) are published here, in one pass, before any synthesis or text
    n_quality = len(data.quality)  # the reading and cleaning rules (the cohort's exclusions follow them)
    exact_series = _series_table(protocol, series_tables) if series_tables else pd.DataFrame()
    if protocol.outcome_measures is not None and not protocol.series:  # monthly starts, for the SPC view
        from evaltoolkit.report._spc import rom_starts_table

        exact_series = rom_starts_table(protocol, data.extracts[protocol.outcome_measures.source].data)
    results, series = publish_results((results, exact_series), protocol.disclosure_policy())
    results = jsonable(results)
    if results.get("its"):  # SPC view of the published primary series (after disclosure: see _spc)
        from evaltoolkit.report._spc import spc_block

        results["spc"] = jsonable(spc_block(protocol, series, warmup))
    elif results.get("outcome_measures"):  # programmes judged on outcome measures: people starting
        from evaltoolkit.report._spc import rom_spc_block

        results["spc"] = jsonable(rom_spc_block(series))
    results["estimates"] = jsonable(_estimates(results))
    if results.get("its"):
        results["synthesis"] = jsonable(
            {
                "model_checks": model_checks(results),
                "findings": findings(results),
                "multiplicity": multiplicity(results),
            }
        )
    if results.get("outcome_measures") or results.get("cohort"):  # before-and-after certainty ratings
        from evaltoolkit.report._synthesis import cohort_findings, measure_findings

        results.setdefault("synthesis", {})
        if results.get("outcome_measures"):
            results["synthesis"]["measure_findings"] = jsonable(measure_findings(results))
        if results.get("cohort"):
            results["synthesis"]["cohort_findings"] = jsonable(cohort_findings(results))
    if protocol.service_cost is not None and results.get("outcome_measures") and not results.get("its"):
        from evaltoolkit.report._per_person import per_person_block  # on the published counts

        results["cost_per_person"] = jsonable(per_person_block(protocol, results))
    results["summary"] = summary_sentences(results)
    results["limitations"] = limitations(results)
    tables = _tables(protocol, results, series)
    step("summary")
    return Evaluation(
        protocol=protocol,
        results=results,
        tables=tables,
        inputs=dict(data.files),
        timings=timings,
        input_files=dict(data.inputs),
        quality=data.quality,
        published_quality=results["data"]["quality"][:n_quality],
    )


def write_outputs(
    evaluation: Evaluation,
    out: str | Path,
    *,
    command: str | None = None,
    progress: Progress | None = None,
    html: bool = True,
) -> dict[str, Path]:
    """Write an :class:`Evaluation` to a folder: results.json, tables, figures, report and manifest.

    Parameters
    ----------
    evaluation : Evaluation
        From :func:`run_protocol`.
    out : str or Path
        Output folder (created if needed; files of a previous run are overwritten).
    command : str, optional
        Command line recorded in the manifest (default: this process's arguments).
    progress : callable, optional
        Called with a short message at each step.
    html : bool, default True
        Also write the standalone ``report.html``.

    Returns
    -------
    dict of str to Path
        Every file written, by a short name (``results``, ``manifest``, ``report_md``, ``table:<name>``,
        ``figure:<name>.<ext>``…).
    """
    from evaltoolkit.report.document import build_report, render_html, render_markdown
    from evaltoolkit.report.figures import save_figures

    policy = evaluation.protocol.disclosure_policy()
    assert_published(evaluation.results, policy)
    for name, table in evaluation.tables.items():
        assert_published_table(table, policy, name=name)
    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    # files of an earlier run that this run would not write again must not linger
    for old in [
        *(out / "tables").glob("*.csv"),
        *(out / "figures").glob("*.png"),
        *(out / "figures").glob("*.svg"),
    ]:
        old.unlink()
    say = progress or (lambda _m: None)
    clock = time.perf_counter()
    paths: dict[str, Path] = {}
    results = evaluation.results
    paths["results"] = out / "results.json"
    paths["results"].write_text(dumps_json(results), encoding="utf-8")
    for name, table in sorted(evaluation.tables.items()):
        paths[f"table:{name}"] = write_csv(table, out / "tables" / f"{name}.csv")
    say("drawing figures")
    figs = save_figures(
        results,
        out / "figures",
        formats=tuple(evaluation.protocol.report.formats),
        dpi=evaluation.protocol.report.dpi,
    )
    paths.update({f"figure:{p.name}": p for p in figs})
    say("rendering the report")
    report = build_report(results)
    paths["report_md"] = out / "report.md"
    paths["report_md"].write_text(render_markdown(report, figure_dir="figures"), encoding="utf-8")
    if html:
        paths["report_html"] = out / "report.html"
        paths["report_html"].write_text(render_html(report, figure_dir=out / "figures"), encoding="utf-8")
    write_seconds = round(time.perf_counter() - clock, 3)
    protocol = evaluation.protocol
    manifest = {
        "tool": "evaltoolkit run",
        "command": command if command is not None else shlex.join(["evaltoolkit", *sys.argv[1:]]),
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": protocol.seed,
        "protocol": {
            "file": str(protocol.path) if protocol.path is not None else None,
            "sha256": sha256_file(protocol.path) if protocol.path is not None else None,
            "name": protocol.name,
            "version": protocol.version,
        },
        "inputs": _manifest_inputs(evaluation),
        "data_quality": _manifest_quality(evaluation),
        "outputs": {
            p.relative_to(out).as_posix(): sha256_file(p)
            for p in sorted(paths.values(), key=lambda x: x.as_posix())
        },
        "packages": package_versions() | package_versions(_REPORT_PACKAGES),
        "timings_seconds": {**evaluation.timings, "write": write_seconds},
        "results_schema_version": RESULTS_SCHEMA_VERSION,
    }
    paths["manifest"] = out / "manifest.json"
    paths["manifest"].write_text(
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return paths


def _manifest_inputs(evaluation: Evaluation) -> dict[str, Any]:
    """Manifest ``inputs``: per kind the (first) file and its SHA-256, and ``files``: every file read."""
    out: dict[str, Any] = {}
    for kind, path in sorted(evaluation.inputs.items()):
        files = evaluation.input_files.get(kind) or (path,)
        out[kind] = {
            "file": str(path),
            "sha256": sha256_file(path),
            "files": [{"file": str(p), "sha256": sha256_file(p)} for p in files],
        }
    return out


def _manifest_quality(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Manifest ``data_quality``: every reading and cleaning rule with its counts (no row numbers).

    Each record is ``{extract, rule, column, n_rows, n_excluded, action}``, counts published under the
    protocol's suppression rule (like every file of the output folder); with the extracts' rows read
    (``results.json`` ``data.inputs``) they account for every raw row.
    """
    return list(evaluation.published_quality)


def _quality_records(q: pd.DataFrame) -> list[dict[str, Any]]:
    """The data-quality table as records (no row numbers; typed counts)."""
    return [
        {
            "extract": r.extract,
            "rule": r.rule,
            "column": r.column,
            "n_rows": None if pd.isna(r.n_rows) else ExactCount(int(r.n_rows)),
            "n_excluded": None if pd.isna(r.n_excluded) else ExactCount(int(r.n_excluded)),
            "action": r.action,
        }
        for r in q.itertuples(index=False)
    ]
