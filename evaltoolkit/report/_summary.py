"""The plain-language summary and the automatic limitations, generated from the results alone.

Both are pure functions of the ``results`` dictionary (results.json), so re-rendering a report from a
results folder gives the same words. The wording is fixed; only the numbers change.
"""

from __future__ import annotations

import math
from typing import Any

from evaltoolkit.disclosure.estimates import few_words
from evaltoolkit.disclosure.guard import results_policy
from evaltoolkit.report._format import change_phrase, fmt_num, money, money_exact, relative_phrase
from evaltoolkit.report._synthesis import findings, model_checks, sensitivity_facts

__all__ = ["change_words", "limitations", "lower_first", "summary_sentences"]


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an abbreviation (``ED attendances`` stays).

    Examples
    --------
    >>> lower_first("Admissions of people"), lower_first("ED attendances")
    ('admissions of people', 'ED attendances')
    """
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def _series(results: dict[str, Any]) -> list[dict[str, Any]]:
    return list(results.get("series") or [])


def _headline_series(results: dict[str, Any]) -> list[dict[str, Any]]:
    series = _series(results)
    primary = [s for s in series if s.get("primary")]
    return primary or series[:1]


def _combined(results: dict[str, Any], series: str, method_id: str = "m0") -> dict[str, Any] | None:
    its = results.get("its") or {}
    for c in its.get("combined", []):
        if c["series"] == series and c["method_id"] == method_id:
            return c
    return None


def _excludes_zero(lo: float | None, hi: float | None) -> bool:
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def _site_phrase(x: dict[str, Any]) -> str:
    rel, lo, hi = x.get("relative_change"), x.get("relative_ci_lower"), x.get("relative_ci_upper")
    if rel is None or lo is None or hi is None:
        return f"{x['site']} not estimated"
    return f"{x['site']} {relative_phrase(rel, lo, hi).replace('95% CI ', '')}"


def _sensitivity_text(f: dict[str, Any]) -> str:
    sens = f["sensitivity"]
    if not sens:
        return ""
    agree = [s for s in sens if s["agrees"]]
    bad = [s for s in sens if not s["agrees"]]
    p_ex = f["excludes_no_change"]
    if not bad:
        what = "excluded no change" if p_ex else "included no change"
        return (
            f" All {len(sens)} pre-specified sensitivity analyses agreed: same direction, and each interval "
            f"{what}."
        )
    parts = []
    for s in bad:
        phrase = relative_phrase(s["relative_change"], s["relative_ci_lower"], s["relative_ci_upper"])
        head = f"{s['method']}: {phrase}"
        if not s["same_direction"]:
            parts.append(f"{head}, the other direction")
        elif p_ex and not s["excludes_no_change"]:
            parts.append(f"{head}, which cannot exclude no change")
        else:
            parts.append(f"{head}, which excludes no change")
    text = (
        f" Of {len(sens)} pre-specified sensitivity analyses, {len(agree)} agreed; " + "; ".join(parts) + "."
    )
    if any(s["controlled"] for s in bad):
        text += (
            " The controlled analysis compares with a site without the service, so it allows for changes "
            "that affected every site (such as other services starting at the same time); where it cannot "
            "exclude no change, the uncontrolled estimate may include such changes."
        )
    return text


def _its_sentence(results: dict[str, Any], f: dict[str, Any], s: dict[str, Any]) -> str | None:
    c = f["primary"]
    conf = results.get("conf_level", 0.95)
    horizon = results["its"]["horizon_months"]
    sites = ", ".join(c["sites"])
    rel, lo, hi = c.get("relative_change"), c.get("relative_ci_lower"), c.get("relative_ci_upper")
    if rel is None or lo is None or hi is None:
        return None
    if s["measure"] == "mean_los":
        verb = "was"
        est, a, b = c["estimate"], c["ci_lower"], c["ci_upper"]
        tail = (
            f"on average {fmt_num(abs(est), 1)} {s['unit']} {'shorter' if est < 0 else 'longer'} "
            f"({conf * 100:g}% CI {fmt_num(a, 1)} to {fmt_num(b, 1)})"
        )
    else:
        verb = "were"
        tail = change_phrase(c["estimate"], c["ci_lower"], c["ci_upper"], s["unit"], conf)
    text = (
        f"{s['label']} {verb} {relative_phrase(rel, lo, hi, conf)} than the pre-implementation trend "
        "predicted "
        f"over the first {horizon} months after go-live (sites {sites} combined): {tail}."
    )
    if not f["excludes_no_change"]:
        text += " The interval includes no change, so the data are also consistent with no effect."
    if len(f["sites"]) > 1:
        text += " By site: " + "; ".join(_site_phrase(x) for x in f["sites"]) + "."
        h = f.get("heterogeneity")
        if h:
            text += " " + h["text"]
            if f.get("sites_disagree"):
                text += " The combined figure should be read with the sites' own estimates."
    text += _sensitivity_text(f)
    cert = f["certainty"]
    concerns = [d["domain"] for d in cert["domains"] if d["serious"]]
    text += f" Certainty: {cert['rating']}" + (
        f" (starting from {cert['start']}; serious concerns about {_and(concerns)}; see 'How sure are we')."
        if concerns
        else f" ({cert['start_reason']}; no serious concern)."
    )
    return text


def _and(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _unit_words(unit: str) -> str:
    """``bed_day`` → ``bed-day`` (the unit-cost table's keys read as words)."""
    return unit.replace("_", "-")


def price_words(c: dict[str, Any]) -> str:
    """The unit cost of a costed series in words: one figure, or the two figures of a range."""
    cur, unit = c["currency"], _unit_words(c["unit"])
    if c.get("range"):
        lo, hi = c["range"]
        return f"{money_exact(lo, cur)} to {money_exact(hi, cur)} per {unit} (drawn uniformly between them)"
    return f"{money_exact(c['value'], cur)} per {unit} ({c['price_year']} prices)"


def _beds(x: float) -> str:
    """``4.7 fewer`` / ``0.7 more`` beds."""
    return f"{fmt_num(abs(x), 1)} {'fewer' if x < 0 else 'more'}"


def _cost_sentences(results: dict[str, Any]) -> list[str]:
    out = []
    conf = f"{results.get('conf_level', 0.95) * 100:g}% CI"
    for c in results.get("costs") or []:
        if c.get("estimate") is None:
            continue
        cur = c["currency"]
        est, lo, hi = c["estimate"], c["ci_lower"], c["ci_upper"]
        if lo < 0 and hi < 0:
            ci = f"{money(-hi, cur)} to {money(-lo, cur)} less"
        elif lo > 0 and hi > 0:
            ci = f"{money(lo, cur)} to {money(hi, cur)} more"
        else:
            ci = f"{money(-lo, cur)} less to {money(hi, cur)} more"
        text = (
            f"Valued at {price_words(c)}, the change in {lower_first(c['series_label'])} amounts to about "
            f"{money(abs(est), cur)} {'less' if est < 0 else 'more'} over the same period ({conf} {ci})."
        )
        b = c.get("beds_equivalent")
        if b and b.get("estimate") is not None:
            text += (
                f" As beds at {b['occupancy'] * 100:g}% occupancy over the {round(b['days'] / 365.25 * 12)} "
                f"months, sites combined: {_beds(b['estimate'])} ({conf} {_beds(b['ci_lower'])} to "
                f"{_beds(b['ci_upper'])}), {b['label']}."
            )
        out.append(text + (f" {c['note']}" if c.get("note") else ""))
    net = net_cost_sentence(results)
    return out + ([net] if net else [])


def net_cost_sentence(results: dict[str, Any]) -> str | None:
    """The service cost against the costed changes (net cost, return per pound); ``None`` without a
    ``service_cost`` in the protocol."""
    e = results.get("economics")
    if not e:
        return None
    conf = f"{results.get('conf_level', 0.95) * 100:g}% CI"
    sc, net, ret = e["service_cost"], e["net_cost"], e["return_per_pound"]
    cur = sc["currency"]
    source = f"; {lower_first(sc['source'].rstrip('.'))}" if sc.get("source") else ""
    return (
        f"The service costs {money(sc['over_horizon'], cur)} over the {sc['horizon_months']} months "
        f"({sc['price_year']} prices{source}). Net of the costed changes, it "
        + (
            f"releases about {money(-net['estimate'], cur)} more than it costs"
            if net["estimate"] < 0
            else f"costs about {money(net['estimate'], cur)} more than it releases"
        )
        + f" ({conf} {net_interval(net['ci_lower'], net['ci_upper'], cur)}): "
        f"{fmt_num(ret['estimate'], 2)} released per {money_exact(1, cur)} spent "
        f"({conf} {fmt_num(ret['ci_lower'], 2)} to {fmt_num(ret['ci_upper'], 2)}). Money released is "
        "capacity for other patients, not cash, unless beds or staff are removed."
    )


def net_interval(lo: float, hi: float, currency: str) -> str:
    """The interval of a net cost in words (negative: more released than spent).

    Examples
    --------
    >>> net_interval(-3_600_000, 840_000, "GBP")
    '£840,000 net cost to £3.6 million released net'
    >>> net_interval(-900_000, -120_000, "GBP"), net_interval(50_000, 90_000, "GBP")
    ('£120,000 to £900,000 released net', '£50,000 to £90,000 net cost')
    """
    if hi < 0:
        return f"{money(-hi, currency)} to {money(-lo, currency)} released net"
    if lo > 0:
        return f"{money(lo, currency)} to {money(hi, currency)} net cost"
    return f"{money(hi, currency)} net cost to {money(-lo, currency)} released net"


def service_cost_words(results: dict[str, Any]) -> str | None:
    """The protocol's service cost as given: amount, range, price year and note (the source is in
    :func:`net_cost_sentence`)."""
    e = results.get("economics")
    if not e:
        return None
    sc = e["service_cost"]
    cur = sc["currency"]
    per = " a year" if sc["per"] == "year" else " in total"
    rng = ""
    if sc.get("range"):
        lo, hi = sorted(sc["range"])
        rng = f" (range {money_exact(lo, cur)} to {money_exact(hi, cur)}, drawn uniformly)"
    text = f"Service cost: {money_exact(sc['amount'], cur)}{per}{rng} at {sc['price_year']} prices"
    if sc.get("note"):
        text += f": {lower_first(sc['note'].rstrip('.'))}"
    return text + "."


def net_cost_bracket_sentence(results: dict[str, Any]) -> str | None:
    """The net cost with the costed outcomes perfectly positively dependent (their draws paired by rank),
    a bracket on the main analysis, which draws them independently; ``None`` with one costed outcome."""
    e = results.get("economics")
    if not e or not e.get("comonotone"):
        return None
    conf = f"{results.get('conf_level', 0.95) * 100:g}% CI"
    cur = e["service_cost"]["currency"]
    ind, com = e["net_cost"], e["comonotone"]["net_cost"]
    ret = e["comonotone"]["return_per_pound"]
    wider = (com["ci_upper"] - com["ci_lower"]) > (ind["ci_upper"] - ind["ci_lower"])
    return (
        "The outcomes are drawn independently; if they move together (each outcome's draws paired by rank, "
        f"perfectly positively correlated), the interval {'widens' if wider else 'changes'} to "
        f"{net_interval(com['ci_lower'], com['ci_upper'], cur)} ({conf}; independent: "
        f"{net_interval(ind['ci_lower'], ind['ci_upper'], cur)}), and "
        f"{fmt_num(ret['ci_lower'], 2)} to {fmt_num(ret['ci_upper'], 2)} released per "
        f"{money_exact(1, cur)} spent."
    )


def change_words(est: float, lo: float, hi: float, conf: float = 0.95, extra: str | None = None) -> str:
    """A change in score points in words.

    Examples
    --------
    >>> change_words(-3.87, -4.67, -3.07)
    'fell by 3.9 points (95% CI 3.1 to 4.7)'
    >>> change_words(0.4, -0.2, 1.0, extra="d_z 0.10")
    'changed by 0.4 points (95% CI -0.2 to 1.0; d_z 0.10)'
    """
    tail = f"; {extra}" if extra else ""
    level = f"{conf * 100:g}% CI"
    if lo < 0 and hi < 0:
        return f"fell by {fmt_num(-est, 1)} points ({level} {fmt_num(-hi, 1)} to {fmt_num(-lo, 1)}{tail})"
    if lo > 0 and hi > 0:
        return f"rose by {fmt_num(est, 1)} points ({level} {fmt_num(lo, 1)} to {fmt_num(hi, 1)}{tail})"
    return f"changed by {fmt_num(est, 1)} points ({level} {fmt_num(lo, 1)} to {fmt_num(hi, 1)}{tail})"


def _shown(n: Any, results: dict[str, Any]) -> str:
    if n is None:
        return "an unknown number"
    if n == "*":
        return few_words(results_policy(results))
    return f"{n:,}" if isinstance(n, int) else str(n)


def _measure_sentences(results: dict[str, Any]) -> list[str]:
    om = results.get("outcome_measures")
    if not om:
        return []
    conf = results.get("conf_level", 0.95)
    facts = {f["outcome"]: f for f in om["instruments"]}
    chosen = [f for f in om["instruments"] if f.get("primary")] or om["instruments"]
    analysed = {a["outcome"]: a for a in om["analysed"]}
    out = []
    for f in chosen:
        name = f["outcome"]
        rows = {r["term"]: r for r in om["paired"] if r["outcome"] == name}
        mc, dz = rows.get("mean_change"), rows.get("d_z")
        a = analysed.get(name)
        if mc is None or a is None or mc.get("estimate") is None:
            continue  # no paired change, or not shown (it rests on 1–7 people)
        share = a.get("proportion_analysed")
        share_text = f" ({share * 100:.0f}%)" if isinstance(share, float) else ""
        better = (mc["estimate"] < 0) == (facts[name]["direction"] == "higher_is_worse")
        who = "staff" if om["settings"]["source"] == "staff_survey" else "people"
        text = (
            f"{f['label']}: of {_shown(a['n_started'], results)} {who} who started, "
            f"{_shown(a['n_analysed'], results)}{share_text} had "
            f"valid scores at both {om['settings']['pre']} and {om['settings']['post']}; among them the "
            "mean score "
            + change_words(
                mc["estimate"],
                mc["ci_lower"],
                mc["ci_upper"],
                conf,
                extra=(f"Cohen's d_z {fmt_num(dz['estimate'], 2)}" if dz else None),
            )
            + f", {'an improvement' if better else 'a worsening'}"
        )
        if not _excludes_zero(mc["ci_lower"], mc["ci_upper"]):
            text += " (the interval includes no change)"
        text += "."
        cats = {r["category"]: r for r in om["reliable_change"] if r["outcome"] == name}
        if cats and cats.get("improved", {}).get("percent") is not None:
            imp = (cats["recovered"].get("percent") or 0) + (cats["improved"].get("percent") or 0)
            rec = cats["recovered"].get("percent") if cats["recovered"].get("criterion") != "none" else None
            det = cats["deteriorated"].get("percent")
            text += (
                f" {imp:.0f}% showed reliable improvement"
                + (f" ({rec:.0f}% also crossed the clinical cut-off: recovered)" if rec is not None else "")
                + (f" and {det:.0f}% reliably deteriorated" if det is not None else "")
                + " (Jacobson–Truax)."
            )
        out.append(text)
    tt = {r["indicator"]: r for r in om.get("talking_therapies") or []}
    if tt.get("recovery", {}).get("proportion") is not None:
        r, ri = tt["recovery"], tt.get("reliable_improvement", {})
        text = (
            "By NHS Talking Therapies definitions (PHQ-9 with GAD-7), "
            f"{r['proportion'] * 100:.0f}% of those at caseness "
            f"at the start recovered ({conf * 100:g}% CI {r['ci_lower'] * 100:.0f}% to "
            f"{r['ci_upper'] * 100:.0f}%)"
        )
        if ri.get("proportion") is not None:
            text += f" and {ri['proportion'] * 100:.0f}% showed reliable improvement"
        out.append(text + ".")
    traj = om.get("trajectories")
    if traj:
        for f in chosen[:1]:
            end = next(
                (
                    r
                    for r in traj["estimates"]
                    if r["outcome"] == f["outcome"] and r["term"] == "change_at_end"
                ),
                None,
            )
            if end is not None:
                out.append(
                    "Using every available score, including those of people who left early (a mixed "
                    "model), the "
                    f"mean {f['label'].split(' (')[0]} score "
                    + change_words(end["estimate"], end["ci_lower"], end["ci_upper"], conf)
                    + " by the end."
                )
    return out


def _quality_sentence(results: dict[str, Any]) -> str | None:
    inputs = results.get("data", {}).get("inputs") or []
    if not inputs:
        return None
    parts = []
    for i in inputs:
        parts.append(
            f"{i['kind']}: {_shown(i['rows_read'], results)} rows read, "
            f"{_shown(i['rows_excluded'], results)} excluded"
        )
    return (
        "Data quality: every row excluded or corrected by a documented rule is counted in the appendix ("
        + "; ".join(parts)
        + ")."
    )


def summary_sentences(results: dict[str, Any]) -> list[str]:
    """The plain-language summary, one sentence (or short paragraph) per finding, headline first."""
    out: list[str] = []
    if results.get("its"):
        specs = {s["name"]: s for s in _series(results)}
        for f in (results.get("synthesis") or {}).get("findings") or findings(results):
            sentence = _its_sentence(results, f, specs[f["series"]])
            if sentence:
                out.append(sentence)
        out += _cost_sentences(results)
    cohort = results.get("cohort")
    if cohort and cohort.get("statements"):
        from evaltoolkit.report._format import cohort_label

        first = cohort["settings"]["outcomes"][0]
        if first in cohort["statements"]:
            out.append(
                f"People selected at a crisis ({cohort['settings']['before_months']} months before vs "
                f"{cohort['settings']['after_months']} months after the index date), {cohort_label(first)}: "
                + cohort["statements"][first]
            )
    out += _measure_sentences(results)
    q = _quality_sentence(results)
    if q:
        out.append(q)
    return out


def _fits(results: dict[str, Any], primary: bool | None = True) -> list[dict[str, Any]]:
    its = results.get("its") or {}
    return [f for f in its.get("fits", []) if primary is None or f["primary"] == primary]


def _warmup_months(check: dict[str, Any]) -> str:
    """'the first 3 months from 2019-04-01' from a bed_day_warmup finding."""
    n = check.get("n_periods")
    return (f"the first {n} months" if n else "the first months") + (
        f" from {check['period']}" if check.get("period") else ""
    )


def limitations(results: dict[str, Any]) -> list[dict[str, str]]:
    """Limitations flagged automatically from the results and the protocol, each ``{id, title, text}``."""
    out: list[dict[str, str]] = []
    opts = (results.get("protocol") or {}).get("report") or {}
    min_pre = int(opts.get("min_pre_months", 12))
    max_missing = float(opts.get("max_missing_fraction", 0.2))

    def add(id_: str, title: str, text: str) -> None:
        out.append({"id": id_, "title": title, "text": text})

    labels = {s["name"]: s["label"] for s in _series(results)}
    freq = {s["name"]: s.get("frequency", "MS") for s in _series(results)}
    prim = [f for f in _fits(results) if f.get("status") in ("ok", "warning")]
    # the same checks, thresholds and flags as the model-checks table (evaltoolkit.report._synthesis)
    checks = (results.get("synthesis") or {}).get("model_checks") or model_checks(results)

    def flagged(check: str) -> list[dict[str, Any]]:
        return [c for c in checks if c["check"] == check and c["flagged"]]

    def where(rows: list[dict[str, Any]]) -> str:
        return "; ".join(f"{lower_first(labels.get(c['series'], c['series']))} at {c['site']}" for c in rows)

    few = flagged("points")
    if few:
        add(
            "few_pre_points",
            "Few points before go-live",
            "The pre-implementation trend rests on less than "
            + f"{min_pre} months of data for "
            + "; ".join(
                f"{lower_first(labels.get(c['series'], c['series']))} at {c['site']} "
                f"({c['measured'].split(' / ')[0]} "
                f"{ {'MS': 'months', 'W-MON': 'weeks'}.get(freq.get(c['series'], 'MS'), 'quarters') })"
                for c in few
            )
            + ". Trends estimated from short baselines are fragile, and the counterfactual extrapolates "
            "them; treat "
            "these estimates with caution.",
        )
    auto = flagged("residual_autocorrelation")
    if auto:
        after_ar = [c for c in auto if "after the AR error model" in c["label"]]
        nw = [
            m["label"]
            for m in (results.get("its") or {}).get("methods", [])
            if m["options"].get("se_type") == "newey-west"
            or m["options"].get("method") in ("gls-reml", "gls-ml", "arima", "prais-winsten")
        ]
        add(
            "autocorrelation",
            "Autocorrelation",
            "The residuals of the primary model show autocorrelation (p < 0.05; the model-checks table) for "
            + where(auto)
            + (
                ". For the analyses whose primary method models AR errors this is autocorrelation left "
                "after that model (a longer memory or seasonality); their intervals may be too narrow."
                if after_ar
                else ". Autocorrelated errors make model-based intervals too narrow"
                + (
                    f"; the sensitivity analysis '{nw[0]}' allows for it."
                    if nw
                    else "; no sensitivity analysis allows for it."
                )
            ),
        )
    if prim and not any((f.get("diagnostics") or {}).get("seasonal_terms") for f in prim):
        add(
            "seasonality_not_modelled",
            "Seasonality not modelled",
            "The primary model has no seasonal terms. If attendances or admissions vary by season, a "
            "go-live in a "
            "high or low season can be mistaken for an effect.",
        )
    over = flagged("overdispersion")
    if over:
        add(
            "overdispersion",
            "Overdispersion",
            "The Poisson model's dispersion exceeds 1.5 for "
            + where(over)
            + "; its intervals are too narrow (see the quasi-Poisson or negative binomial analyses).",
        )
    far = flagged("extrapolation") + [
        c
        for c in flagged("short_pre_period")
        if (c["series"], c["site"]) not in {(x["series"], x["site"]) for x in flagged("extrapolation")}
    ]
    if far:
        add(
            "extrapolation",
            "Counterfactual extrapolated far",
            "For "
            + where(far)
            + " the pre-implementation trend is projected further than it was observed: the pre-period is "
            "shorter than the horizon, or the trend continued to the end of the horizon leaves the range "
            "seen before go-live by more than that range itself. The estimated change then rests on the "
            "straight-line assumption more than on the data; read it with the placebo checks.",
        )
    guarded = flagged("autocorrelation_for_method")
    if guarded:
        add(
            "autocorrelation_for_method",
            "Autocorrelation the primary method does not allow for",
            "The primary model's errors are more autocorrelated than its method allows for (a positive "
            "lag-1 residual autocorrelation of 0.3 or more, or a significant one, for a method that assumes "
            "independent errors; or an AR estimate of 0.8 or more, where short series bias it) for "
            + where(guarded)
            + ". Its intervals are likely too narrow (Turner et al. 2021).",
        )
    rob = ((results.get("its") or {}).get("robustness") or {}).get("checks") or []
    placebo_fits = {(c["series"], c["site"]) for c in flagged("placebo")}
    flagged_rows = [
        r
        for r in rob
        if (r.get("series"), r.get("site")) in placebo_fits
        and r.get("check") in ("in_time_placebo", "in_space_placebo")
        and r.get("significant")
        and r.get("term") in ("level_change", "diff_level_change", "slope_change", "diff_slope_change")
    ]
    if flagged_rows:
        add(
            "placebo",
            "Placebo checks found a change where there was no intervention",
            "The interval of a placebo analysis excludes no change for "
            + "; ".join(
                dict.fromkeys(
                    f"{lower_first(labels.get(r['series'], r['series']))} ({r['label']}, {r['term']})"
                    for r in flagged_rows
                )
            )
            + ". A change at a fake go-live, or at a site without the service, suggests a break in the "
            "pre-period, a shared shock or a model that does not fit; the estimated effect may not be the "
            "service's.",
        )
    warm = (results.get("its") or {}).get("bed_day_warmup") or {}
    kept = (
        {k: v for k, v in (warm.get("periods") or {}).items() if v} if warm.get("excluded") is False else {}
    )
    if kept:
        add(
            "bed_day_warmup_kept",
            "Bed-day warm-up months kept in the fits",
            "The protocol keeps the bed-day warm-up months in the models (analysis.exclude_bed_day_warmup: "
            "false): "
            + "; ".join(f"{lower_first(labels.get(s, s))}: the first {n} months" for s, n in kept.items())
            + ". Their bed-days are too low because spells admitted before the window are missing, which "
            "inflates the pre-period trend and the estimated change.",
        )
    failed = [f for f in _fits(results, None) if f.get("status") == "failed"]
    if failed:
        add(
            "failed_fits",
            "Analyses that could not be fitted",
            "; ".join(
                f"{f['method']} for {lower_first(labels.get(f['series'], f['series']))} at {f['site']}: "
                f"{f['message']}"
                for f in failed
            ),
        )
    disagree = []
    for s in _series(results):
        facts = sensitivity_facts(results, s["name"])
        if facts is None:
            continue
        for c in facts["sensitivity"]:
            if not c["agrees"]:
                disagree.append(f"{lower_first(s['label'])} ({c['method']})")
    if disagree:
        add(
            "method_sensitivity",
            "Conclusions depend on the method",
            "The direction, or whether the interval excludes no change, differs from the primary analysis "
            "under: "
            + "; ".join(disagree)
            + ". Turner et al. (2021) found such disagreement between methods in 4–25% of published "
            "series; the "
            "primary analysis was pre-specified.",
        )
    co = (results.get("intervention") or {}).get("co_interventions") or []
    if results.get("its") or results.get("cohort"):
        if co:
            add(
                "co_interventions",
                "Other changes at the same time",
                "The protocol lists other changes during the evaluation: "
                + "; ".join(x.rstrip(".") for x in co)
                + ". An interrupted time series cannot separate the service from changes that began at the "
                "same "
                "time; a control series helps only if they also affected the control sites.",
            )
        else:
            add(
                "co_interventions",
                "Other changes at the same time",
                "No co-interventions were declared in the protocol. Any other change that began around "
                "go-live "
                "would be attributed to the service.",
            )
    cohort = results.get("cohort")
    if cohort:
        comp = cohort["settings"].get("comparison") == "control_sites"
        add(
            "regression_to_the_mean",
            "Regression to the mean",
            "The cohort was selected at a crisis, when use of services is unusually high, so it would fall "
            "afterwards even without the service. "
            + (
                "The comparison cohort, selected the same way at the control site(s), estimates this fall; "
                "the "
                "difference-in-differences relies on both cohorts being selected alike and otherwise "
                "changing alike."
                if comp
                else "There is no comparison cohort, so the before/after change overstates the effect of the "
                "service."
            ),
        )
    om = results.get("outcome_measures")
    if om:
        add(
            "no_comparison_group",
            "No comparison group for the outcome measures",
            "Scores were compared before and after the programme without a comparison group: natural "
            "recovery, "
            "regression to the mean (people often start when they feel worst) and other events can explain "
            "part of "
            "the change.",
        )
        names = {f["outcome"]: f["label"] for f in om["instruments"]}
        low = [
            f"{names.get(a['outcome'], a['outcome'])} ({a['proportion_analysed'] * 100:.0f}% analysed)"
            for a in om["analysed"]
            if isinstance(a.get("proportion_analysed"), float) and a["proportion_analysed"] < 1 - max_missing
        ]
        differ = [
            f"{names.get(a['outcome'], a['outcome'])} (standardised difference {a['smd']:.2f})"
            for a in om.get("attrition", [])
            if a.get("smd") is not None and math.isfinite(a["smd"]) and abs(a["smd"]) >= 0.2
        ]
        if low or differ:
            text = ""
            if low:
                text += (
                    f"More than {max_missing * 100:.0f}% of people who started lack a valid score at one "
                    "of the two "
                    "occasions: " + "; ".join(low) + ". "
                )
            if differ:
                text += (
                    "People who left early differed at baseline from those who completed: "
                    + "; ".join(differ)
                    + ". Complete-case results then describe completers, not everyone who started; compare "
                    "the "
                    "mixed-model estimates, which use every available score. "
                )
            add("missing_outcome_data", "Missing outcome data and attrition", text.strip())
    quality = results.get("data", {}).get("inputs") or []
    heavy = [
        i["kind"]
        for i in quality
        if isinstance(i.get("rows_read"), int)
        and isinstance(i.get("rows_excluded"), int)
        and i["rows_read"] > 0
        and i["rows_excluded"] / i["rows_read"] > 0.01
    ]
    if heavy:
        add(
            "data_quality",
            "Excluded records",
            "More than 1% of the rows of "
            + ", ".join(heavy)
            + " were excluded by data-quality rules (see the "
            "appendix); if the excluded rows differ systematically the results can be biased.",
        )
    checks = (results.get("data") or {}).get("series_checks") or []
    warmup = [c for c in checks if c.get("check") == "bed_day_warmup"]
    if warmup:
        add(
            "bed_day_warmup",
            "Bed-days at the start of the window",
            "The spells extract holds no spells admitted before the window, so the occupied bed-days of the "
            "first months are too low by construction: "
            + "; ".join(
                f"{lower_first(labels.get(c['series'], c['series']))}: {_warmup_months(c)}" for c in warmup
            )
            + ". Those months were left out of the interrupted-time-series fits (the baseline trend starts "
            "after them); an extract that includes the spells in hospital at the start would avoid this.",
        )
    partial_weeks = [
        c for c in checks if c.get("check") == "partial_period" and freq.get(c["series"]) == "W-MON"
    ]
    if partial_weeks:
        weekly = sorted({c["series"] for c in partial_weeks})
        starts = sorted({c["period"] for c in partial_weeks if c.get("period")})
        add(
            "partial_weeks",
            "Partial weeks left out",
            "Weekly series count weeks starting on Monday; a week cut by the window start or the extract "
            "date holds only some of its days, so its count is low by construction. The partial weeks "
            f"starting {', '.join(starts)} of "
            + "; ".join(lower_first(labels.get(n, n)) for n in weekly)
            + " were left out of the interrupted-time-series fits (listed in the data-quality appendix).",
        )
    odd = [c for c in checks if c.get("check") != "bed_day_warmup" and c not in partial_weeks]
    if odd:
        shown = "; ".join(
            f"{lower_first(labels.get(c['series'], c['series']))}"
            + (f" at {c['site']}" if c.get("site") else "")
            + (f" from {c['period']}" if c.get("period") else "")
            + f" ({c['check'].replace('_', ' ')})"
            for c in odd[:6]
        )
        more = f" and {len(odd) - 6} more" if len(odd) > 6 else ""
        add(
            "series_checks",
            "Unusual months in the series",
            f"The checks on the series before modelling flagged {shown}{more} (see the data-quality "
            "appendix). A month that lost records in the extract looks like a fall in activity; check these "
            "months with the information team before reading the results.",
        )
    sup = results.get("suppression") or {}
    if sup.get("rule") == "none":
        add(
            "no_suppression",
            "No small-number suppression",
            "The protocol switched small-number suppression off. Publish this report only if every count "
            "is at "
            "national level or otherwise cleared for release.",
        )
    for i, note in enumerate((results.get("data") or {}).get("notes") or []):
        # e.g. PD spells inferred from attendances because the spells extract has no pd_flag
        add("data_note" if i == 0 else f"data_note_{i + 1}", "What the extracts do not record", note)
    return out
