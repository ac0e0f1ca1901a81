"""Cost per person for the outcome-measure protocols: from the published counts, in the verdict and the
"What it is worth" section; not shown when a count it divides by is suppressed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from evaltoolkit.protocol import load_protocol
from evaltoolkit.report import build_report, render_markdown
from evaltoolkit.report._per_person import per_person_block
from evaltoolkit.report._verdict import verdict

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["change_programme", "leadership_programme"])
def test_cost_per_person_is_the_cost_over_the_published_counts(evaluations, name):
    results = evaluations[name].results
    block = results["cost_per_person"]
    sc = block["service_cost"]
    assert sc["per"] == "total" and sc["source"].startswith("Assumption of the synthetic example")
    lo, hi = sorted(sc["range"])
    om = results["outcome_measures"]
    primary = [i["outcome"] for i in om["instruments"] if i["primary"]]
    assert primary and {r["outcome"] for r in block["rows"]} == set(primary)
    for outcome in primary:
        rows = {r["term"]: r for r in block["rows"] if r["outcome"] == outcome}
        started = next(a["n_started"] for a in om["analysed"] if a["outcome"] == outcome)
        rc = [r for r in om["reliable_change"] if r["outcome"] == outcome]
        parts = [r["n"] for r in rc if r["category"] in ("recovered", "improved")]
        if "*" in parts:  # a suppressed count: only the cost per person who started, and the reason
            assert set(rows) == {"per_person_started"}
            assert rows["per_person_started"]["estimate"] == pytest.approx(sc["amount"] / started, rel=1e-5)
            label = next(i["label"] for i in om["instruments"] if i["outcome"] == outcome)
            assert f"{label}: cost per reliable improvement not shown" in " ".join(block["notes"])
            continue
        improved = sum(parts)
        classified = rc[0]["n_classified"]
        assert all(isinstance(v, int) for v in (started, improved, classified))  # published, not suppressed
        # results.json keeps 6 significant digits: rel=1e-5
        assert rows["per_person_started"]["estimate"] == pytest.approx(sc["amount"] / started, rel=1e-5)
        assert rows["per_person_started"]["ci_lower"] == pytest.approx(lo / started, rel=1e-5)
        assert rows["per_observed_improvement"]["estimate"] == pytest.approx(
            sc["amount"] / improved, rel=1e-5
        )
        p = improved / classified
        p_lo, p_hi = proportion_confint(
            improved, classified, alpha=1 - results["conf_level"], method="wilson"
        )
        alike = rows["per_improvement_missing_alike"]
        assert alike["estimate"] == pytest.approx(sc["amount"] / (started * p), rel=1e-5)
        assert (alike["ci_lower"], alike["ci_upper"]) == pytest.approx(
            (lo / (started * p_hi), hi / (started * p_lo)), rel=1e-5
        )
        # the upper bound is above the figure that assumes the missing improved alike
        assert rows["per_observed_improvement"]["estimate"] >= alike["estimate"]


def test_verdict_and_worth_section_show_the_cost_per_person(evaluations):
    results = evaluations["change_programme"].results
    rows = verdict(results)["rows"]
    assert rows and all("per person who started" in r["worth"] for r in rows)
    assert all("Not costed" not in r["worth"] for r in rows)
    text = render_markdown(build_report(results), figure_dir=None)
    section = text.split("## What it is worth", 1)[1].split("\n## ", 1)[0]
    assert "per person seen to improve reliably (upper bound)" in section
    assert "£300,000 in total (range £240,000 to £360,000)" in section


def test_a_suppressed_count_means_no_cost_per_person(evaluations):
    protocol = load_protocol(ROOT / "protocols" / "change_programme.yaml")
    results = copy.deepcopy(evaluations["change_programme"].results)
    for r in results["outcome_measures"]["reliable_change"]:
        if r["outcome"] == "phq9" and r["category"] == "improved":
            r["n"] = "*"
    block = per_person_block(protocol, results)
    phq_rows = [r["term"] for r in block["rows"] if r["outcome"] == "phq9"]
    assert phq_rows == ["per_person_started"]
    assert block["notes"] == [
        "PHQ-9 depression: cost per reliable improvement not shown, because the number who improved is "
        "suppressed (a small number; showing the cost per improvement would reveal it)."
    ]
    phq = next(
        r for r in verdict({**results, "cost_per_person": block})["rows"] if r["outcome"].startswith("PHQ")
    )
    assert phq["worth"].startswith("£1,000 per person who started; cost per reliable improvement not shown")
