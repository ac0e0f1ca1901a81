"""The synthesis: what the analyses say together, per primary outcome, with how sure we can be.

A pure function of the exact results (after the derived-effects stage, before disclosure control). It
builds, once, the facts that the summary, the effects tables, the model-checks table and the limitations
all read, so they cannot contradict each other:

* :func:`model_checks`: every check of every primary fit (measured value, threshold, flag), the same
  rows the diagnostics table shows and the limitations cite;
* :func:`findings`: per primary outcome, the primary combined estimate, each site's estimate, the site
  heterogeneity, every sensitivity analysis by name (direction; whether it excludes no change), and a
  **certainty rating** with the reasons;
* :func:`multiplicity`: how many estimates, which are confirmatory, and Holm-adjusted p-values of the
  confirmatory ones.

Certainty rating of a service-use series (documented in the book's guide, "How sure are we?")
    Adapted from GRADE (Guyatt et al. 2011) with the risk-of-bias items for interrupted time series of the
    Cochrane EPOC group (EPOC 2017); it is a transparent rule, not a formal GRADE assessment.

    1. **Starting level** from the design of the primary analysis: ``high`` for a controlled interrupted
       time series with at least 8 points before and after go-live at every site (the EPOC
       recommendation); ``moderate`` for an uncontrolled one with at least 8 points; ``low`` with fewer
       (at least 3, the EPOC minimum).
    2. **One level down** for each domain with a serious concern (never below ``very low``):

       * *risk of bias*: any EPOC item at high risk (e.g. co-interventions declared in the protocol and
         a primary analysis without a control series);
       * *imprecision*: the interval includes no change, or its bound nearest to no change is less than a
         quarter of the estimate (the data barely exclude a trivial effect);
       * *inconsistency*: a pre-specified sensitivity analysis disagrees on the direction or on whether
         the interval excludes no change, or the sites disagree by :func:`evaltoolkit.its.sites_disagree`
         (Q-test p < 0.10; or a prediction interval for a new site that includes no change while the
         pooled interval excludes it; or two sites' intervals on opposite sides of no change);
       * *model checks*: a flag of the primary model at any site (residual autocorrelation the method
         does not remove, extrapolation beyond the range observed, a placebo check finding a change, too
         few points before go-live).

Certainty rating of a questionnaire outcome measured before and after (:func:`measure_findings`)
    The same plain words and the same structure: a starting level from the design, one level down for each
    domain with a serious concern, never below ``very low``. Each finding is the paired mean change from
    the first to the last occasion among complete cases (the summary's figure).

    1. **Starting level** ``low``: an observational before-and-after comparison without a comparison group
       has no counterfactual (natural recovery, regression to the mean and other events are not separated
       from the programme; GRADE starts observational evidence low). With a comparison group selected the
       same way (a difference-in-differences, as the cohort's :func:`cohort_findings`), the starting level
       is ``moderate``.
    2. **One level down** for each domain with a serious concern:

       * *regression to the mean* (a risk of bias): the analysed people's mean score at the first occasion
         is at or beyond the instrument's clinical cut-off on its clinical side (at or above it when a
         higher score is worse; at or below it when a higher score is better), so the group was, on
         average, selected when unwell and would tend to improve anyway. No cut-off (no norms): not
         judged, and said so;
       * *attrition* (a risk of bias): the share of people who started without a valid score on both
         occasions is more than the protocol's ``report.max_missing_fraction`` (default 20%; the same
         rule as the limitation "Missing outcome data and attrition"); exactly 20% is not serious;
       * *imprecision*: the interval includes no change (a bound of exactly 0 counts as including it), or
         includes the instrument's reliable-change threshold (the smallest change that counts as reliable
         for one person, published or from the sample's reliability; a bound exactly at the threshold
         counts as including it) in either direction, so the data cannot say whether the average change
         reaches that size. An interval wholly below the threshold is precise: the change is smaller than
         a reliable individual change, which the reason states;
       * *inconsistency*: the mixed model using every available score (the pre-specified attrition
         sensitivity analysis) differs from the complete-case change in direction or in whether its
         interval excludes no change; or, where the extract names two or more sites, the sites' mean
         changes disagree by :func:`evaltoolkit.its.sites_disagree` (the ITS rule: Q-test p < 0.10, a
         prediction interval including no change while the pooled interval excludes it, or two sites'
         intervals on opposite sides of no change) on the identity scale.

Certainty rating of the cohort's before-and-after comparison (:func:`cohort_findings`)
    Per cohort outcome, the finding is the difference-in-differences (ratio of rate ratios) when there is a
    comparison cohort, else the intervention cohort's rate ratio. Starting level ``moderate`` with a
    comparison cohort selected the same way, ``low`` without. Down one level for *regression to the mean*
    (a cohort selected at a crisis without a comparison cohort; with one, the comparison estimates it),
    *attrition* (the share of cohort patients left out of the analysis more than ``max_missing_fraction``)
    and *imprecision* (the interval of the ratio includes 1, a bound exactly at 1 included).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CERTAINTY_LEVELS",
    "EPOC_ITEMS",
    "cohort_findings",
    "findings",
    "measure_findings",
    "model_checks",
    "multiplicity",
    "sensitivity_facts",
]

CERTAINTY_LEVELS: tuple[str, ...] = ("very low", "low", "moderate", "high")
"""Certainty ratings, lowest first."""

EPOC_ITEMS: tuple[tuple[str, str], ...] = (
    ("independent_of_other_changes", "Was the intervention independent of other changes?"),
    ("shape_prespecified", "Was the shape of the intervention effect pre-specified?"),
    ("data_collection_unaffected", "Was the intervention unlikely to affect data collection?"),
    ("allocation_concealed", "Was knowledge of the allocated interventions adequately prevented?"),
    ("incomplete_data_addressed", "Were incomplete outcome data adequately addressed?"),
    ("no_selective_reporting", "Was the study free from selective outcome reporting?"),
    ("no_other_bias", "Was the study free from other risks of bias?"),
)
"""The Cochrane EPOC risk-of-bias items for interrupted time series (EPOC 2017), key and question."""

RECOMMENDED_POINTS = 8
MINIMUM_POINTS = 3
AUTOCORRELATION_ALPHA = 0.05
OVERDISPERSION_LIMIT = 1.5
IMPRECISION_FRACTION = 0.25


def _excludes(lo: Any, hi: Any) -> bool:
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def _sign(x: Any) -> int:
    return 0 if x is None or x == 0 else (1 if x > 0 else -1)


def _labels(results: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["label"] for s in results.get("series") or []}


def _months_per_period(code: str) -> float:
    return {"MS": 1.0, "W-MON": 12 / (365.25 / 7)}.get(code, 3.0)


def _models_autocorrelation(f: dict[str, Any]) -> bool:
    """Whether a fit's method allows for autocorrelated errors (AR/ARMA errors or Newey–West SEs)."""
    desc = str(f.get("method_description") or "")
    se = str(f.get("se_description") or "")
    return any(w in desc for w in ("AR(", "ARIMA", "Prais")) or "Newey" in se


# -- model checks ---------------------------------------------------------------------------------------
def model_checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every check of every primary fit: ``{series, site, check, label, measured, threshold, flagged,
    text}``. The diagnostics table shows these rows and the limitations cite the flagged ones."""
    its = results.get("its") or {}
    opts = (results.get("protocol") or {}).get("report") or {}
    min_pre = int(opts.get("min_pre_months", 12))
    freq = {s["name"]: s.get("frequency", "MS") for s in results.get("series") or []}
    rob = (its.get("robustness") or {}).get("checks") or []
    out: list[dict[str, Any]] = []
    for f in its.get("fits", []):
        if not f["primary"] or f.get("status") not in ("ok", "warning"):
            continue
        base = {"series": f["series"], "site": f["site"]}
        pre, post = f.get("pre_points"), f.get("post_points")
        months = (pre or 0) * _months_per_period(freq.get(f["series"], "MS"))
        out.append(
            {
                **base,
                "check": "points",
                "label": "points before / after go-live",
                "measured": f"{pre} / {post}",
                "threshold": f"at least {min_pre} months before; EPOC minimum {MINIMUM_POINTS} each side, "
                f"{RECOMMENDED_POINTS} recommended",
                "flagged": pre is not None and months < min_pre,
            }
        )
        diag = f.get("diagnostics") or {}
        p = diag.get("autocorrelation_p")
        models_ar = _models_autocorrelation(f)
        out.append(
            {
                **base,
                "check": "residual_autocorrelation",
                "label": "residual autocorrelation (Breusch–Godfrey / Ljung–Box, smallest p)"
                + (" after the AR error model" if models_ar else ""),
                "measured": p,
                "threshold": f"p < {AUTOCORRELATION_ALPHA}",
                "flagged": p is not None and p < AUTOCORRELATION_ALPHA,
                "lag1": diag.get("acf_lag1"),
            }
        )
        guards = {g.get("guard"): g for g in f.get("guards") or []}
        g = guards.get("autocorrelation")
        out.append(
            {
                **base,
                "check": "autocorrelation_for_method",
                "label": "autocorrelation the method does not allow for",
                "measured": None if g is None else g.get("measured"),
                "threshold": "lag-1 residual autocorrelation ≥ 0.3 (independent-error methods) or AR ≥ 0.8",
                "flagged": g is not None,
            }
        )
        g = guards.get("short_pre_period")
        out.append(
            {
                **base,
                "check": "short_pre_period",
                "label": "periods before go-live (fitted) vs periods of the horizon",
                "measured": None if g is None else g.get("measured"),
                "threshold": "fewer fitted pre-period periods than the horizon"
                + ("" if g is None or g.get("limit") is None else f" ({g['limit']:g})"),
                "flagged": g is not None,
            }
        )
        g = guards.get("extrapolation")
        out.append(
            {
                **base,
                "check": "extrapolation",
                "label": "counterfactual within the range seen before go-live",
                "measured": None if g is None else g.get("measured"),
                "threshold": "horizon value inside the pre-period range widened by that range",
                "flagged": g is not None,
            }
        )
        if f.get("family") == "poisson":
            d = f.get("dispersion")
            out.append(
                {
                    **base,
                    "check": "overdispersion",
                    "label": "Poisson dispersion",
                    "measured": d,
                    "threshold": f"> {OVERDISPERSION_LIMIT}",
                    "flagged": d is not None and d > OVERDISPERSION_LIMIT,
                }
            )
        seasonal = diag.get("seasonal_terms") or []
        out.append(
            {
                **base,
                "check": "seasonality",
                "label": "seasonal terms",
                "measured": ", ".join(seasonal) or "none",
                "threshold": "modelled when the protocol asks for it",
                "flagged": False,
            }
        )
        placebo = [
            r
            for r in rob
            if r.get("series") == f["series"]
            and r.get("site") == f["site"]
            and r.get("check") in ("in_time_placebo", "in_space_placebo")
            and r.get("significant")
            and r.get("term") in ("level_change", "diff_level_change", "slope_change", "diff_slope_change")
        ]
        out.append(
            {
                **base,
                "check": "placebo",
                "label": "placebo checks (fake go-live, control sites)",
                "measured": f"{len(placebo)} found a change" if placebo else "none found a change",
                "threshold": "interval excludes no change",
                "flagged": bool(placebo),
            }
        )
    return out


# -- sensitivity ----------------------------------------------------------------------------------------
def sensitivity_facts(results: dict[str, Any], series: str) -> dict[str, Any] | None:
    """The primary combined estimate of one outcome and every sensitivity analysis compared with it."""
    its = results.get("its") or {}
    rows = [c for c in its.get("combined", []) if c["series"] == series]
    primary = next((c for c in rows if c["method_id"] == "m0"), None)
    if primary is None or primary.get("status") != "ok" or primary.get("relative_change") is None:
        return None
    p_ex = _excludes(primary.get("relative_ci_lower"), primary.get("relative_ci_upper"))
    sens = []
    for c in rows:
        if c["method_id"] == "m0" or c.get("status") != "ok" or c.get("relative_change") is None:
            continue
        ex = _excludes(c.get("relative_ci_lower"), c.get("relative_ci_upper"))
        same = _sign(c["relative_change"]) == _sign(primary["relative_change"])
        sens.append(
            {
                "method_id": c["method_id"],
                "method": c["method"],
                "controlled": bool(c.get("controlled")),
                "relative_change": c["relative_change"],
                "relative_ci_lower": c.get("relative_ci_lower"),
                "relative_ci_upper": c.get("relative_ci_upper"),
                "excludes_no_change": ex,
                "same_direction": same,
                "agrees": same and ex == p_ex,
            }
        )
    return {"primary": primary, "excludes_no_change": p_ex, "sensitivity": sens}


# -- risk of bias and certainty -------------------------------------------------------------------------
def _epoc(results: dict[str, Any], controlled: bool, series_flags: list[str]) -> list[dict[str, str]]:
    co = (results.get("intervention") or {}).get("co_interventions") or []
    protocol = results.get("protocol") or {}
    inputs = (results.get("data") or {}).get("inputs") or []
    heavy = [
        i["kind"]
        for i in inputs
        if isinstance(i.get("rows_read"), int)
        and isinstance(i.get("rows_excluded"), int)
        and i["rows_read"] > 0
        and i["rows_excluded"] / i["rows_read"] > 0.01
    ]
    if not co:
        ind = ("low", "no other change declared in the protocol")
    elif controlled:
        ind = ("unclear", "other changes declared; the primary analysis has a control series")
    else:
        ind = ("high", "other changes declared in the protocol: " + "; ".join(x.rstrip(".") for x in co))
    answers = {
        "independent_of_other_changes": ind,
        "shape_prespecified": ("low", "level and slope change and the horizon fixed in the protocol"),
        "data_collection_unaffected": ("low", "routine records from the same source before and after"),
        "allocation_concealed": ("low", "objective routine outcomes (attendances, admissions, bed-days)"),
        "incomplete_data_addressed": (
            ("unclear", "more than 1% of rows excluded from " + ", ".join(heavy))
            if heavy
            else ("low", "every exclusion counted; under 1% of rows")
        ),
        "no_selective_reporting": (
            ("low", f"pre-specified protocol, registered as {protocol.get('registration')}")
            if protocol.get("registration")
            else ("unclear", "pre-specified protocol, not registered")
        ),
        "no_other_bias": (
            ("unclear", "; ".join(series_flags)) if series_flags else ("low", "no model check flagged")
        ),
    }
    return [
        {"item": key, "question": q, "risk": answers[key][0], "reason": answers[key][1]}
        for key, q in EPOC_ITEMS
    ]


def _heterogeneity(results: dict[str, Any], series: str) -> dict[str, Any] | None:
    for h in (results.get("its") or {}).get("heterogeneity") or []:
        if h.get("series") == series:
            return h
    return None


def _sites_disagree(h: dict[str, Any] | None) -> bool:
    """The library's rule (:func:`evaltoolkit.its.sites_disagree`), computed in the derived-effects stage."""
    return bool(h and h.get("sites_disagree"))


def _rate(
    results: dict[str, Any], series: str, facts: dict[str, Any], checks: list[dict[str, Any]]
) -> dict[str, Any]:
    labels = {
        "points": "too few points before go-live",
        "residual_autocorrelation": "residual autocorrelation",
        "autocorrelation_for_method": "autocorrelation the method does not allow for",
        "extrapolation": "counterfactual extrapolated beyond the range observed",
        "short_pre_period": "pre-period shorter than the horizon",
        "overdispersion": "overdispersion",
        "placebo": "a placebo check found a change",
    }
    its = results.get("its") or {}
    fits = [f for f in its.get("fits", []) if f["series"] == series and f["primary"]]
    controlled = bool(fits) and all(f.get("controlled") for f in fits)
    points = [min(f.get("pre_points") or 0, f.get("post_points") or 0) for f in fits]
    enough = bool(points) and min(points) >= RECOMMENDED_POINTS
    if controlled and enough:
        start, why = "high", "controlled interrupted time series, at least 8 points before and after"
    elif enough:
        start, why = (
            "moderate",
            "interrupted time series without a control series, at least 8 points each side",
        )
    else:
        start, why = "low", "interrupted time series with fewer than 8 points on one side at some site"
    flags = sorted(
        {
            f"{labels.get(c['check'], c['check'])} at {c['site']}"
            for c in checks
            if c["series"] == series and c["flagged"] and c["check"] in labels
        }
    )
    epoc = _epoc(results, controlled, flags)
    domains = []
    high_risk = [e for e in epoc if e["risk"] == "high"]
    domains.append(
        {
            "domain": "risk of bias",
            "serious": bool(high_risk),
            "reason": "; ".join(f"{e['question']} High risk: {e['reason']}" for e in high_risk)
            or "no EPOC item at high risk",
        }
    )
    p = facts["primary"]
    est, lo, hi = p["relative_change"], p.get("relative_ci_lower"), p.get("relative_ci_upper")
    if not facts["excludes_no_change"]:
        imp = (True, "the interval includes no change")
    else:
        near = min(abs(lo), abs(hi)) if lo is not None and hi is not None else 0.0
        if est and near < IMPRECISION_FRACTION * abs(est):
            imp = (True, "the interval's bound nearest to no change is under a quarter of the estimate")
        else:
            imp = (False, "the interval excludes no change and trivial effects")
    domains.append({"domain": "imprecision", "serious": imp[0], "reason": imp[1]})
    bad = [s for s in facts["sensitivity"] if not s["agrees"]]
    h = _heterogeneity(results, series)
    reasons = []
    if bad:
        reasons.append(
            "sensitivity analyses that disagree with the primary analysis: "
            + "; ".join(
                s["method"]
                + (" (opposite direction)" if not s["same_direction"] else "")
                + (
                    " (cannot exclude no change)"
                    if facts["excludes_no_change"] and not s["excludes_no_change"]
                    else (
                        " (excludes no change)"
                        if s["excludes_no_change"] and not facts["excludes_no_change"]
                        else ""
                    )
                )
                for s in bad
            )
        )
    if _sites_disagree(h):
        assert h is not None
        reasons.append(f"sites differ: {h['text']}")
    domains.append(
        {
            "domain": "inconsistency",
            "serious": bool(reasons),
            "reason": "; ".join(reasons) or "sensitivity analyses and sites agree",
        }
    )
    domains.append(
        {
            "domain": "model checks",
            "serious": bool(flags),
            "reason": "; ".join(flags) or "no check of the primary model flagged",
        }
    )
    level = CERTAINTY_LEVELS.index(start) - sum(d["serious"] for d in domains)
    rating = CERTAINTY_LEVELS[max(level, 0)]
    return {"rating": rating, "start": start, "start_reason": why, "domains": domains, "epoc": epoc}


def findings(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per primary outcome: the primary combined estimate, the sites, heterogeneity, every sensitivity
    analysis compared with the primary one, and the certainty rating with its reasons."""
    series = results.get("series") or []
    headline = [s for s in series if s.get("primary")] or series[:1]
    checks = model_checks(results)
    its = results.get("its") or {}
    out = []
    for s in headline:
        facts = sensitivity_facts(results, s["name"])
        if facts is None:
            continue
        sites = [
            {
                "site": f["site"],
                "relative_change": (f.get("cumulative") or {}).get("relative_change"),
                "relative_ci_lower": (f.get("cumulative") or {}).get("relative_ci_lower"),
                "relative_ci_upper": (f.get("cumulative") or {}).get("relative_ci_upper"),
                "excludes_no_change": _excludes(
                    (f.get("cumulative") or {}).get("relative_ci_lower"),
                    (f.get("cumulative") or {}).get("relative_ci_upper"),
                ),
            }
            for f in its.get("fits", [])
            if f["series"] == s["name"] and f["primary"] and f.get("cumulative")
        ]
        h = _heterogeneity(results, s["name"])
        out.append(
            {
                "series": s["name"],
                "label": s["label"],
                **facts,
                "sites": sites,
                "heterogeneity": h,
                "sites_disagree": _sites_disagree(h),
                "certainty": _rate(results, s["name"], facts, checks),
            }
        )
    return out


def multiplicity(results: dict[str, Any]) -> dict[str, Any]:
    """How many estimates the report gives, which are confirmatory, and Holm-adjusted p-values of the
    confirmatory ones (the primary method, all sites combined, for each primary outcome)."""
    estimates = results.get("estimates") or []
    primary_series = {s["name"] for s in results.get("series") or [] if s.get("primary")}
    confirmatory = [
        e
        for e in estimates
        if e.get("analysis") == "its_combined"
        and e.get("primary")
        and e.get("term") == "relative_change"
        and (e.get("outcome") in primary_series or not primary_series)
    ]
    ids = {e["id"] for e in confirmatory}
    # p-values of the confirmatory estimates: those of their absolute change (same draws, same p)
    p = {
        e["id"].rsplit("/", 1)[0]: e.get("p_value")
        for e in estimates
        if e.get("analysis") == "its_combined" and e.get("term") == "absolute_change"
    }
    rows = [
        {"id": e["id"], "outcome": e["outcome"], "p_value": p.get(e["id"].rsplit("/", 1)[0])}
        for e in confirmatory
    ]
    valid = sorted((r for r in rows if r["p_value"] is not None), key=lambda r: r["p_value"])
    m = len(valid)
    running = 0.0
    for i, r in enumerate(valid):
        running = max(running, min(1.0, (m - i) * r["p_value"]))
        r["p_holm"] = running
    n_other = sum(1 for e in estimates if e["id"] not in ids)
    return {
        "n_confirmatory": len(confirmatory),
        "n_other": n_other,
        "confirmatory": rows,
        "expected_false_positives": round(n_other * (1 - float(results.get("conf_level", 0.95))), 1),
    }


# -- before-and-after outcomes (questionnaires, the cohort) --------------------------------------------------
MISSING_FRACTION = 0.2
"""Default share of people without follow-up above which attrition is a serious concern (the protocol's
``report.max_missing_fraction``)."""

SITE_P_THRESHOLD = 0.10
"""Level of the Q test of the sites' mean changes (as for the service-use series)."""


def _rated(start: str, why: str, domains: list[dict[str, Any]]) -> dict[str, Any]:
    level = CERTAINTY_LEVELS.index(start) - sum(bool(d["serious"]) for d in domains)
    return {
        "rating": CERTAINTY_LEVELS[max(level, 0)],
        "start": start,
        "start_reason": why,
        "domains": domains,
    }


def _includes(lo: float, hi: float, x: float) -> bool:
    return lo <= x <= hi


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if abs(x) < 10 else f"{x:.1f}".rstrip("0").rstrip(".")


def _max_missing(results: dict[str, Any]) -> float:
    opts = (results.get("protocol") or {}).get("report") or {}
    return float(opts.get("max_missing_fraction", MISSING_FRACTION))


def _measure_sites(om: dict[str, Any], outcome: str, conf: float) -> tuple[list[dict[str, Any]], Any]:
    """The sites' published mean changes of one outcome and their heterogeneity (``None`` with < 2)."""
    from evaltoolkit.its import site_heterogeneity

    rows = [
        r
        for r in om.get("by_site") or []
        if r.get("outcome") == outcome
        and r.get("term", "mean_change") == "mean_change"
        and r.get("estimate") is not None
        and r.get("std_error") is not None
        and r["std_error"] > 0
    ]
    sites = [
        {
            "site": r["site"],
            "estimate": r["estimate"],
            "ci_lower": r.get("ci_lower"),
            "ci_upper": r.get("ci_upper"),
            "std_error": r["std_error"],
            "n": r.get("n"),
        }
        for r in rows
    ]
    if len(sites) < 2:
        return sites, None
    het = site_heterogeneity(
        [s["estimate"] for s in sites],
        [s["std_error"] for s in sites],
        [s["site"] for s in sites],
        scale="identity",
        conf_level=conf,
    )
    return sites, het


def _site_words(het: Any) -> dict[str, Any]:
    """The heterogeneity of the sites' mean changes in words: its statistics without signed numbers."""
    from evaltoolkit.report._format import difference_phrase

    head = het.describe().split(";")[0].rstrip(".")
    pi = het.prediction_interval
    text = head
    if pi is not None:
        mid = (pi[0] + pi[1]) / 2
        words = difference_phrase(mid, pi[0], pi[1], 1, more="higher", fewer="lower")
        text += f"; the 95% prediction interval for a new site's mean score runs {words.split('(')[1][:-1]}"
    return {
        "text": text + ".",
        "q_p_value": het.q_p_value,
        "i2": het.i2,
        "tau2": het.tau2,
        "prediction": None if pi is None else [float(pi[0]), float(pi[1])],
    }


def measure_findings(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per primary questionnaire outcome (or the first, when none is primary): the paired mean change, the
    threshold it is judged against, the sites, and the certainty rating with its reasons (rules in the
    module docstring). A pure function of the published results; ``[]`` without outcome measures.

    Each finding: ``{outcome, label, direction, estimate, ci_lower, ci_upper, n, excludes_no_change,
    improved, rc_threshold, sites, heterogeneity, sites_disagree, certainty: {rating, start, start_reason,
    domains: [{domain, serious, reason}]}}``.
    """
    from evaltoolkit.its import sites_disagree

    om = results.get("outcome_measures") or {}
    if not om:
        return []
    conf = float(results.get("conf_level", 0.95))
    max_missing = _max_missing(results)
    chosen = [f for f in om.get("instruments") or [] if f.get("primary")] or (om.get("instruments") or [])[:1]
    out = []
    for inst in chosen:
        o = inst["outcome"]
        terms = {r["term"]: r for r in om.get("paired") or [] if r["outcome"] == o}
        ch = terms.get("mean_change")
        if ch is None or ch.get("estimate") is None or ch.get("ci_lower") is None:
            continue
        est, lo, hi = ch["estimate"], ch["ci_lower"], ch["ci_upper"]
        worse_up = inst.get("direction") == "higher_is_worse"
        improved = (est < 0) if worse_up else (est > 0)
        domains: list[dict[str, Any]] = []
        # regression to the mean
        rc = next((r for r in om.get("reliable_change") or [] if r["outcome"] == o), None)
        cutoff = None if rc is None else rc.get("cutoff")
        base = (terms.get("mean_pre") or {}).get("estimate")
        if cutoff is None or base is None:
            rtm = (
                False,
                "not judged: the instrument has no clinical cut-off (or the baseline mean is not shown)",
            )
        else:
            clinical = base >= cutoff if worse_up else base <= cutoff
            side = "at or above" if worse_up else "at or below"
            pre = (om.get("settings") or {}).get("pre", "baseline")
            if clinical:
                rtm = (
                    True,
                    f"the mean {pre} score ({_num(base)}) is {side} the clinical cut-off ({_num(cutoff)}): "
                    "people started when unwell and would tend to improve without the programme",
                )
            else:
                rtm = (
                    False,
                    f"the mean {pre} score ({_num(base)}) is {'below' if worse_up else 'above'} the clinical "
                    f"cut-off ({_num(cutoff)})",
                )
        domains.append({"domain": "regression to the mean", "serious": rtm[0], "reason": rtm[1]})
        # attrition
        a = next((r for r in om.get("analysed") or [] if r["outcome"] == o), None)
        share = None if a is None else a.get("proportion_analysed")
        if not isinstance(share, (int, float)):
            att = (False, "not judged: the share analysed is not shown")
        else:
            missing = 1 - share
            started = a.get("n_started")
            words = f"{missing * 100:.0f}% of {started} who started lack a score on both occasions"
            if share < 1 - max_missing:
                att = (True, f"{words} (more than {max_missing * 100:g}%)")
            else:
                att = (False, f"{words} (not more than {max_missing * 100:g}%)")
        domains.append({"domain": "attrition", "serious": att[0], "reason": att[1]})
        # imprecision
        t = None if rc is None else rc.get("rc_threshold")
        if _includes(lo, hi, 0.0):
            imp = (True, "the interval includes no change")
        elif t is not None and (_includes(lo, hi, t) or _includes(lo, hi, -t)):
            imp = (
                True,
                f"the interval includes the reliable-change threshold ({_num(t)} points): the data cannot "
                "say whether the average change reaches it",
            )
        elif t is not None:
            smaller = max(abs(lo), abs(hi)) < t
            imp = (
                False,
                "the interval excludes no change, and every change in it is "
                + ("smaller" if smaller else "larger")
                + f" than the reliable-change threshold ({_num(t)} points)"
                + (
                    ": the average change is smaller than a reliable change for one person" if smaller else ""
                ),
            )
        else:
            imp = (False, "the interval excludes no change (no reliable-change threshold to judge against)")
        domains.append({"domain": "imprecision", "serious": imp[0], "reason": imp[1]})
        # inconsistency: the mixed model, and the sites
        reasons = []
        mm = next(
            (
                r
                for r in om.get("complete_vs_available") or []
                if r["outcome"] == o and r["term"] == "mixed_model" and r.get("estimate") is not None
            ),
            None,
        )
        ex = _excludes(lo, hi)
        if mm is not None:
            mm_ex = _excludes(mm.get("ci_lower"), mm.get("ci_upper"))
            if _sign(mm["estimate"]) != _sign(est):
                reasons.append(
                    "the mixed model using every available score changes in the opposite direction"
                )
            elif mm_ex != ex:
                reasons.append(
                    "the mixed model using every available score "
                    + ("cannot exclude no change" if ex else "excludes no change")
                )
        sites, het = _measure_sites(om, o, conf)
        disagree = het is not None and sites_disagree(het, p_threshold=SITE_P_THRESHOLD)
        het_facts = None if het is None else _site_words(het)
        if disagree:
            assert het_facts is not None
            reasons.append(f"sites differ: {het_facts['text']}")
        if reasons:
            inc = (True, "; ".join(reasons))
        else:
            inc = (
                False,
                ("the mixed model agrees" if mm is not None else "no sensitivity analysis")
                + ("; sites agree" if het is not None else "; no comparison of sites (fewer than 2 sites)"),
            )
        domains.append({"domain": "inconsistency", "serious": inc[0], "reason": inc[1]})
        out.append(
            {
                "outcome": o,
                "label": inst["label"],
                "direction": inst.get("direction"),
                "estimate": est,
                "ci_lower": lo,
                "ci_upper": hi,
                "n": ch.get("n"),
                "excludes_no_change": ex,
                "improved": bool(improved),
                "rc_threshold": t,
                "sites": sites,
                "heterogeneity": het_facts,
                "sites_disagree": bool(disagree),
                "certainty": _rated(
                    "low",
                    "a before-and-after comparison without a comparison group: no counterfactual",
                    domains,
                ),
            }
        )
    return out


def cohort_findings(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per outcome of the before/after cohort: the difference-in-differences (or, without a comparison
    cohort, the intervention cohort's rate ratio) and its certainty rating (rules in the module docstring).
    ``[]`` without a cohort.

    Each finding: ``{outcome, term, estimate, ci_lower, ci_upper, excludes_no_change, comparison,
    certainty}``.
    """
    c = results.get("cohort") or {}
    if not c:
        return []
    comparison = (c.get("settings") or {}).get("comparison") == "control_sites" and bool(c.get("did"))
    groups = {g["group"]: g.get("patients") for g in c.get("groups") or []}
    analysed = sum(v for v in groups.values() if isinstance(v, int))
    left = c.get("excluded_patients")
    max_missing = _max_missing(results)
    out = []
    for o in (c.get("settings") or {}).get("outcomes") or []:
        if comparison:
            term = "ratio_of_rate_ratios"
            row = next((r for r in c["did"] if r["outcome"] == o and r["term"] == term), None)
        else:
            term = "rate_ratio"
            row = next(
                (
                    r
                    for r in c.get("change") or []
                    if r["outcome"] == o and r["term"] == term and r.get("group") == "intervention"
                ),
                None,
            )
        if row is None or row.get("estimate") is None or row.get("ci_lower") is None:
            continue
        est, lo, hi = row["estimate"], row["ci_lower"], row["ci_upper"]
        domains: list[dict[str, Any]] = []
        if comparison:
            rtm = (False, "the comparison cohort, selected the same way, estimates the fall after a crisis")
        else:
            rtm = (True, "selected at a crisis without a comparison cohort: use would fall anyway")
        domains.append({"domain": "regression to the mean", "serious": rtm[0], "reason": rtm[1]})
        if isinstance(left, int) and analysed + left > 0:
            share = left / (analysed + left)
            words = f"{share * 100:.0f}% of cohort patients left out of the analysis"
            serious = share > max_missing
            att = (serious, f"{words} ({'more' if serious else 'not more'} than {max_missing * 100:g}%)")
        else:
            att = (False, "not judged: the number left out is not shown")
        domains.append({"domain": "attrition", "serious": att[0], "reason": att[1]})
        if _includes(lo, hi, 1.0):
            imp = (True, "the interval of the ratio includes 1 (no change)")
        else:
            imp = (False, "the interval of the ratio excludes 1 (no change)")
        domains.append({"domain": "imprecision", "serious": imp[0], "reason": imp[1]})
        start, why = (
            ("moderate", "a comparison cohort selected the same way: difference-in-differences")
            if comparison
            else ("low", "a before-and-after comparison without a comparison cohort")
        )
        out.append(
            {
                "outcome": o,
                "term": term,
                "estimate": est,
                "ci_lower": lo,
                "ci_upper": hi,
                "excludes_no_change": not _includes(lo, hi, 1.0),
                "comparison": comparison,
                "certainty": _rated(start, why, domains),
            }
        )
    return out
