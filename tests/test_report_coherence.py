"""One coherent answer: derived figures agree, and the summary, tables, model checks and limitations never
contradict each other (every ready protocol, and hand-made results where a controlled analysis disagrees)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from evaltoolkit.report import build_report, render_markdown
from evaltoolkit.report._summary import limitations, summary_sentences
from evaltoolkit.report._synthesis import findings, model_checks, multiplicity

ROOT = Path(__file__).resolve().parents[1]
READY = ("project_air", "change_programme", "leadership_programme", "crisis_pathway")


@pytest.fixture(scope="module")
def results(evaluations):
    return {name: evaluations[name].results for name in READY}


def _excludes(lo, hi) -> bool:
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def _sign(x) -> int:
    return (x > 0) - (x < 0)


def _families(results: dict) -> dict[str, dict[str, dict]]:
    """Estimates grouped by everything but their term: relative/absolute pairs of one fit or combination."""
    fam: dict[str, dict[str, dict]] = {}
    for e in results["estimates"]:
        if e["term"] in ("relative_change", "absolute_change"):
            fam.setdefault(e["id"].rsplit("/", 1)[0], {})[e["term"]] = e
    return fam


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_relative_absolute_and_money_agree(results, name):
    r = results[name]
    fam = _families(r)
    pairs = 0
    for key, f in fam.items():
        if len(f) < 2 or f["absolute_change"]["ci_lower"] is None:
            continue
        a, rel = f["absolute_change"], f["relative_change"]
        pairs += 1
        assert _sign(a["estimate"]) == _sign(rel["estimate"]), key
        assert _excludes(a["ci_lower"], a["ci_upper"]) == _excludes(rel["ci_lower"], rel["ci_upper"]), key
    if r.get("its"):
        # every fit and combination was checked: at least 3 outcomes × (3 sites + combined) × 4 methods
        assert pairs >= 48
    for c in r.get("costs") or []:
        if c["estimate"] is None:
            continue
        comb = next(x for x in r["its"]["combined"] if x["series"] == c["series"] and x["method_id"] == "m0")
        assert _sign(c["estimate"]) == _sign(comb["estimate"])
        assert _excludes(c["ci_lower"], c["ci_upper"]) == _excludes(comb["ci_lower"], comb["ci_upper"])
        if c["range"] is None:
            # the same draws times the unit cost (to the 6 significant digits of results.json)
            assert c["ci_lower"] == pytest.approx(comb["ci_lower"] * c["value"], rel=1e-5)
        else:
            # a unit cost drawn between low and high: the estimate is the change × the middle of the range
            assert c["estimate"] == pytest.approx(comb["estimate"] * sum(c["range"]) / 2, rel=1e-5)
        b = c["beds_equivalent"]
        if b is not None:
            # beds = bed-days / (days × occupancy), by hand; the same draws, so the same direction
            occ = b["occupancy"]
            assert b["estimate"] == pytest.approx(comb["estimate"] / (730.5 * occ), rel=1e-5)
            assert b["ci_lower"] == pytest.approx(comb["ci_lower"] / (730.5 * occ), rel=1e-5)
            assert b["label"] == "capacity released" and b["estimate"] < 0
    e = r.get("economics")
    if e:
        costs = [c["estimate"] for c in r["costs"] if c["estimate"] is not None]
        svc = e["service_cost"]["over_horizon"]
        assert svc == pytest.approx(e["service_cost"]["amount"] * 2)  # per year, 24-month horizon
        assert e["net_cost"]["estimate"] == pytest.approx(svc + sum(costs), rel=1e-5)
        assert e["return_per_pound"]["estimate"] == pytest.approx(-sum(costs) / svc, rel=1e-5)
        # net cost below zero exactly when more than a pound comes back per pound spent, draw by draw
        assert (e["net_cost"]["ci_upper"] < 0) == (e["return_per_pound"]["ci_lower"] > 1)
        _check_net_sensitivity(r, e)
    for rob in ((r.get("its") or {}).get("robustness") or {}).get("checks") or []:
        if rob["check"] == "leave_one_out" and rob["ci_lower"] is not None:
            assert _excludes(rob["ci_lower"], rob["ci_upper"]) == _excludes(
                rob["relative_ci_lower"], rob["relative_ci_upper"]
            )


def _check_net_sensitivity(r: dict, e: dict) -> None:
    """The net cost's one-way sensitivity and its outcomes-move-together bracket, by hand from the
    published figures (results.json keeps 6 significant digits)."""
    costed = [c for c in r["costs"] if c["estimate"] is not None]
    comb = {x["series"]: x for x in r["its"]["combined"] if x["method_id"] == "m0"}
    svc = e["service_cost"]
    net = e["net_cost"]["estimate"]
    rows = e["sensitivity"]
    assert rows and all(x["outcome"] == "net_cost" for x in rows)
    assert all(x["base"] == pytest.approx(net, rel=1e-5) for x in rows)
    by = {(x["parameter"], x["series"]): x for x in rows}
    for c in costed:
        mid = sum(c["range"]) / 2 if c["range"] else c["value"]
        rest = net - c["estimate"]  # the service and the other outcomes at their base values
        a = by[("activity_change", c["series"])]
        # the effect at its confidence limits: the combined change's interval (the same draws)
        lo, hi = comb[c["series"]]["ci_lower"], comb[c["series"]]["ci_upper"]
        assert (a["input_low"], a["input_high"]) == (pytest.approx(lo, rel=1e-5), pytest.approx(hi, rel=1e-5))
        assert a["outcome_low"] == pytest.approx(rest + lo * mid, rel=1e-5, abs=1)
        assert a["outcome_high"] == pytest.approx(rest + hi * mid, rel=1e-5, abs=1)
        if c["range"]:
            u = by[("unit_cost", c["series"])]
            est_change = c["estimate"] / mid
            assert u["outcome_low"] == pytest.approx(rest + est_change * min(c["range"]), rel=1e-5, abs=1)
            assert u["outcome_high"] == pytest.approx(rest + est_change * max(c["range"]), rel=1e-5, abs=1)
        # the effect's row moves the net cost the same way the effect moves the activity
        assert (a["outcome_high"] - a["outcome_low"]) * (hi - lo) >= 0
    if svc["range"]:
        srow = by[("service_cost", None)]
        f = svc["horizon_months"] / 12 if svc["per"] == "year" else 1
        assert srow["outcome_low"] == pytest.approx(
            net - svc["over_horizon"] + min(svc["range"]) * f, rel=1e-5
        )
        assert srow["outcome_high"] == pytest.approx(
            net - svc["over_horizon"] + max(svc["range"]) * f, rel=1e-5
        )
    h = by[("horizon", None)]
    # half and one and a half times the horizon: every change and the service cost in proportion
    assert (h["input_low"], h["input_high"]) == (svc["horizon_months"] / 2, svc["horizon_months"] * 1.5)
    assert (h["outcome_low"], h["outcome_high"]) == (
        pytest.approx(net / 2, rel=1e-5),
        pytest.approx(net * 1.5, rel=1e-5),
    )
    com = e["comonotone"]
    if len(costed) < 2:
        assert com is None
        return
    # the bracket moves only the interval: the same estimates, a wider interval (perfectly correlated
    # outcomes give the sum its largest spread), and the net cost and the return still agree draw by draw
    cn, cr = com["net_cost"], com["return_per_pound"]
    assert cn["estimate"] == pytest.approx(net, rel=1e-6)
    assert cr["estimate"] == pytest.approx(e["return_per_pound"]["estimate"], rel=1e-6)
    assert cn["ci_lower"] < e["net_cost"]["ci_lower"] and cn["ci_upper"] > e["net_cost"]["ci_upper"]
    assert (cn["ci_upper"] < 0) == (cr["ci_lower"] > 1)
    # the sorted cost draws add quantile by quantile, so with the service cost fixed the bracket's limits
    # would be the service cost plus the costs' own limits; every service-cost draw lies in its range, so
    # (draw by draw, hence quantile by quantile) the limits lie within that sum at the range's ends
    s_lo, s_hi = _service_range(svc)
    for lim in ("ci_lower", "ci_upper"):
        total = sum(c[lim] for c in costed)
        assert s_lo + total - 1 <= cn[lim] <= s_hi + total + 1, lim


def _service_range(svc: dict) -> tuple[float, float]:
    f = svc["horizon_months"] / 12 if svc["per"] == "year" else 1
    if not svc["range"]:
        return svc["over_horizon"], svc["over_horizon"]
    return min(svc["range"]) * f, max(svc["range"]) * f


def _check_words(r: dict) -> None:
    """The summary, the limitations and the model-checks table say the same things."""
    summary = " ".join(r["summary"])
    lim = {x["id"]: x["text"] for x in r["limitations"]}
    for f in r["synthesis"]["findings"]:
        bad = [s for s in f["sensitivity"] if not s["agrees"]]
        for s in bad:
            assert s["method"] in summary, s["method"]
            assert s["method"] in lim.get("method_sensitivity", ""), s["method"]
        if bad:
            assert "agreed; " in summary
        rating = f["certainty"]["rating"]
        assert f"Certainty: {rating}" in summary
    if not any(not s["agrees"] for f in r["synthesis"]["findings"] for s in f["sensitivity"]):
        assert "method_sensitivity" not in lim
    assert "Every pre-specified sensitivity analysis gave an estimate in the same direction" not in summary
    flagged = {c["check"] for c in r["synthesis"]["model_checks"] if c["flagged"]}
    mapping = {
        "residual_autocorrelation": "autocorrelation",
        "extrapolation": "extrapolation",
        "autocorrelation_for_method": "autocorrelation_for_method",
        "overdispersion": "overdispersion",
        "points": "few_pre_points",
        "placebo": "placebo",
    }
    for check, lid in mapping.items():
        if check == "extrapolation":
            assert (bool(flagged & {"extrapolation", "short_pre_period"})) == (lid in lim)
            continue
        assert (check in flagged) == (lid in lim), (check, lid)


@pytest.mark.slow
def test_project_air_summary_limitations_and_checks_agree(results):
    r = results["project_air"]
    _check_words(r)
    # the controlled analysis cannot exclude no change for ED attendances: the summary says so, by name
    ed = next(f for f in r["synthesis"]["findings"] if f["series"] == "pd_ed_attendances")
    controlled = [s for s in ed["sensitivity"] if s["controlled"]]
    assert controlled and not controlled[0]["excludes_no_change"] and ed["excludes_no_change"]
    sentence = next(s for s in r["summary"] if s.startswith("ED attendances"))
    assert f"{controlled[0]['method']}: " in sentence and "cannot exclude no change" in sentence
    # the model-checks table shows the flags the limitations use
    md = render_markdown(build_report(r))
    checks_md = md.split("## Model checks")[1].split("\n## ")[0]
    n_flagged = sum(c["flagged"] for c in r["synthesis"]["model_checks"])
    assert checks_md.count("| yes |") == n_flagged > 0
    assert "warnings: none" not in md


def _with_controlled(r: dict, rel: float, lo: float, hi: float) -> dict:
    """Results in which the controlled sensitivity analysis of the first outcome says something else."""
    out = copy.deepcopy(r)
    first = out["synthesis"]["findings"][0]["series"]
    for c in out["its"]["combined"]:
        if c["series"] == first and c.get("controlled") and c["method_id"] != "m0":
            c.update(relative_change=rel, relative_ci_lower=lo, relative_ci_upper=hi)
    out.pop("synthesis")
    out["synthesis"] = json.loads(
        json.dumps(
            {"model_checks": model_checks(out), "findings": findings(out), "multiplicity": multiplicity(out)}
        )
    )
    out["summary"] = summary_sentences(out)
    out["limitations"] = limitations(out)
    return out


@pytest.mark.slow
def test_a_controlled_analysis_in_the_other_direction_is_reported(results):
    r = _with_controlled(results["project_air"], 0.20, 0.05, 0.40)
    _check_words(r)
    f = r["synthesis"]["findings"][0]
    s = next(x for x in f["sensitivity"] if x["controlled"])
    assert not s["same_direction"] and not s["agrees"]
    assert "the other direction" in r["summary"][0]
    inc = next(d for d in f["certainty"]["domains"] if d["domain"] == "inconsistency")
    assert inc["serious"] and "opposite direction" in inc["reason"]


@pytest.mark.slow
def test_when_every_analysis_agrees_the_summary_says_so(results):
    r = copy.deepcopy(results["project_air"])
    first = r["synthesis"]["findings"][0]
    p = first["primary"]
    for c in r["its"]["combined"]:
        if c["series"] == first["series"] and c["method_id"] != "m0" and c.get("status") == "ok":
            c.update(
                relative_change=p["relative_change"],
                relative_ci_lower=p["relative_ci_lower"],
                relative_ci_upper=p["relative_ci_upper"],
            )
    r = _with_controlled(r, p["relative_change"], p["relative_ci_lower"], p["relative_ci_upper"])
    _check_words(r)
    assert "pre-specified sensitivity analyses agreed" in r["summary"][0]


def test_certainty_rules_by_hand():
    """The rating from hand-made facts: start moderate (uncontrolled, 8+ points), minus one per domain."""
    fits = [
        {
            "series": "s",
            "site": site,
            "primary": True,
            "status": "ok",
            "controlled": False,
            "pre_points": 24,
            "post_points": 24,
            "family": "quasipoisson",
            "options": {"method": None},
            "cumulative": {"relative_change": -0.2, "relative_ci_lower": -0.3, "relative_ci_upper": -0.1},
            "diagnostics": {"autocorrelation_p": 0.4, "seasonal_terms": []},
            "guards": [],
        }
        for site in ("A", "B")
    ]
    comb = {
        "series": "s",
        "method_id": "m0",
        "method": "primary",
        "status": "ok",
        "sites": ["A", "B"],
        "relative_change": -0.2,
        "relative_ci_lower": -0.3,
        "relative_ci_upper": -0.1,
    }
    results = {
        "series": [{"name": "s", "label": "S", "primary": True, "frequency": "MS"}],
        "its": {"fits": fits, "combined": [comb], "robustness": {"checks": []}},
        "intervention": {"co_interventions": []},
        "protocol": {"registration": "ISRCTN0000", "report": {}},
        "data": {"inputs": []},
    }
    (f,) = findings(results)
    assert f["certainty"]["start"] == "moderate"
    assert f["certainty"]["rating"] == "moderate"  # nothing serious: bound 0.1 ≥ 0.25 × 0.2
    results["intervention"]["co_interventions"] = ["a crisis line opened"]
    (f,) = findings(results)
    assert f["certainty"]["rating"] == "low"  # risk of bias
    comb["relative_ci_upper"] = 0.02
    (f,) = findings(results)
    assert f["certainty"]["rating"] == "very low"  # and imprecision
    for x in fits:
        x["controlled"] = True
    (f,) = findings(results)
    # controlled: starts high; co-interventions now 'unclear' (a control series); imprecision remains
    assert f["certainty"]["start"] == "high" and f["certainty"]["rating"] == "moderate"


def test_net_cost_bracket_by_hand():
    """The report's net cost from two outcomes' draws: independent as drawn, comonotone by rank, against
    numbers computed here from the same draws (quantiles of sorted draws add exactly)."""
    from types import SimpleNamespace

    import numpy as np

    from evaltoolkit.economics import ChangeDraws
    from evaltoolkit.protocol import ServiceCost
    from evaltoolkit.report.run import _Costed, _net

    rng = np.random.default_rng(5)
    ed = rng.normal(-700, 300, 4_000)  # attendances
    bd = rng.normal(-1_700, 1_600, 4_000)  # bed-days
    c_ed, c_bd = ed * 280.0, bd * 700.0  # fixed unit costs
    summed = [
        _Costed("ed", "ED", -700 * 280.0, c_ed, ChangeDraws(-700.0, ed), 280.0),
        _Costed("bd", "bed-days", -1_700 * 700.0, c_bd, ChangeDraws(-1_700.0, bd), 700.0),
    ]
    protocol = SimpleNamespace(
        service_cost=ServiceCost(amount=360_000, currency="GBP", price_year="2024/25"),
        sites=[SimpleNamespace(role="intervention")] * 3,
        seed=1,
    )
    costs = [{"series": "ed", "estimate": -196_000.0}, {"series": "bd", "estimate": -1_190_000.0}]
    e = _net(protocol, costs, summed, 24, 0.95)
    svc = 720_000.0  # £360,000 a year over 24 months
    assert e["net_cost"]["estimate"] == pytest.approx(svc - 196_000 - 1_190_000)
    q = [0.025, 0.975]
    ind = svc + np.quantile(c_ed + c_bd, q)  # drawn independently: added position by position
    com = svc + np.quantile(c_ed, q) + np.quantile(c_bd, q)  # perfectly correlated: quantiles add
    assert [e["net_cost"]["ci_lower"], e["net_cost"]["ci_upper"]] == pytest.approx(ind, rel=1e-12)
    cn = e["comonotone"]["net_cost"]
    assert [cn["ci_lower"], cn["ci_upper"]] == pytest.approx(com, rel=1e-12)
    assert cn["ci_upper"] - cn["ci_lower"] > e["net_cost"]["ci_upper"] - e["net_cost"]["ci_lower"]
    ret = e["comonotone"]["return_per_pound"]
    assert [ret["ci_lower"], ret["ci_upper"]] == pytest.approx(
        -(np.quantile(c_ed, q[::-1]) + np.quantile(c_bd, q[::-1])) / svc, rel=1e-12
    )
    # one costed outcome: no bracket
    assert _net(protocol, costs[:1], summed[:1], 24, 0.95)["comonotone"] is None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["project_air", "crisis_pathway"])
def test_the_worth_section_gives_pounds_net_cost_sensitivity_and_bracket(results, name):
    """Pounds only, the service cost labelled with its source, the net-cost table and chart, and the
    bracket sentence quoting the published bracket (rounded as the prose rounds money)."""
    from evaltoolkit.report._format import money

    r = results[name]
    md = render_markdown(build_report(r))
    worth = md.split("## What it is worth")[1].split("\n## ")[0]
    assert "AUD" not in md and "UNVERIFIED" not in md
    assert {c["currency"] for c in r["costs"]} == {"GBP"} and r["economics"]["service_cost"][
        "currency"
    ] == "GBP"
    assert "figures/tornado_net_cost.svg" in worth
    assert "| Input | Low value | High value | Net, input low | Net, input high |" in worth
    n_rows = len(r["economics"]["sensitivity"])
    table = worth.split("| Input |")[1].split("\n\n")[0]
    assert table.count("\n|") == n_rows + 1  # the separator line and one line per input
    com = r["economics"]["comonotone"]["net_cost"]
    assert "if they move together" in worth
    # the bracket's upper limit is a net cost here (the interval crosses break-even), its lower a release
    assert com["ci_lower"] < 0 < com["ci_upper"]
    assert (
        f"{money(com['ci_upper'], 'GBP')} net cost to {money(-com['ci_lower'], 'GBP')} released net" in worth
    )
    source = r["economics"]["service_cost"]["source"]
    assert "synthetic example" in source and source.lower() in md.lower()
