"""Certainty ratings of before-and-after outcomes (questionnaires, the crisis cohort) from hand-made results.

Each downgrade is hit exactly at its threshold and just short of it. The expected ratings are written by hand
from the rules in :mod:`evaltoolkit.report._synthesis` (start low without a comparison group, moderate with
one; one level down per serious domain, never below very low). The site rule's Q test is checked against the
chi-square critical value written out by hand: with two sites of standard error 1, Q = d² / 2, and
P(χ²₁ > Q) < 0.10 exactly when Q > 1.6449² = 2.7055, i.e. when the sites' mean changes differ by more than
2.3262 points (d = 2.33: Q = 2.7145, p = 0.0994; d = 2.32: Q = 2.6912, p = 0.1009).
"""

from __future__ import annotations

import copy

import pytest

from evaltoolkit.report._synthesis import cohort_findings, measure_findings
from evaltoolkit.report._verdict import CERTAINTY_WORDS, NOT_RATED, verdict


def _measures(
    *,
    pre: float = 9.9,
    cutoff: float | None = 10.0,
    direction: str = "higher_is_worse",
    share: float | None = 0.8,
    est: float = -4.0,
    lo: float = -5.0,
    hi: float = -3.0,
    rc: float | None = 6.0,
    mixed: tuple[float, float, float] | None = (-4.1, -5.0, -3.2),
    sites: list[tuple[str, float, float]] | None = None,
    max_missing: float | None = None,
) -> dict:
    """Results with one primary questionnaire outcome 'x' whose every domain is, by default, not serious:
    baseline mean 9.9 under the cut-off 10, 20% without follow-up (not more than 20%), an interval that
    excludes no change and lies wholly under the reliable-change threshold 6, and an agreeing mixed model."""
    om = {
        "settings": {"pre": "baseline", "post": "end"},
        "instruments": [{"outcome": "x", "label": "X scale", "direction": direction, "primary": True}],
        "analysed": [{"outcome": "x", "n_started": 100, "proportion_analysed": share}],
        "paired": [
            {"outcome": "x", "term": "mean_pre", "estimate": pre},
            {"outcome": "x", "term": "mean_change", "estimate": est, "ci_lower": lo, "ci_upper": hi, "n": 80},
        ],
        "reliable_change": [{"outcome": "x", "category": "recovered", "cutoff": cutoff, "rc_threshold": rc}],
        "complete_vs_available": (
            []
            if mixed is None
            else [
                {
                    "outcome": "x",
                    "term": "mixed_model",
                    "estimate": mixed[0],
                    "ci_lower": mixed[1],
                    "ci_upper": mixed[2],
                }
            ]
        ),
        "by_site": [
            {
                "outcome": "x",
                "term": "mean_change",
                "site": s,
                "estimate": y,
                "std_error": se,
                "ci_lower": y - 1.96 * se,
                "ci_upper": y + 1.96 * se,
                "n": 40,
            }
            for s, y, se in sites or []
        ],
    }
    report = {} if max_missing is None else {"max_missing_fraction": max_missing}
    return {"conf_level": 0.95, "protocol": {"report": report}, "outcome_measures": om}


def _rate(**kw) -> tuple[str, dict[str, bool]]:
    (f,) = measure_findings(_measures(**kw))
    c = f["certainty"]
    return c["rating"], {d["domain"]: d["serious"] for d in c["domains"]}


def test_nothing_serious_stays_at_the_low_start():
    (f,) = measure_findings(_measures())
    c = f["certainty"]
    assert c["start"] == "low" and c["rating"] == "low"
    assert [d["domain"] for d in c["domains"]] == [
        "regression to the mean",
        "attrition",
        "imprecision",
        "inconsistency",
    ]
    assert not any(d["serious"] for d in c["domains"])
    assert "smaller than a reliable change for one person" in c["domains"][2]["reason"]


@pytest.mark.parametrize(
    ("pre", "direction", "cutoff", "serious"),
    [
        (10.0, "higher_is_worse", 10.0, True),  # at the cut-off: at caseness
        (9.99, "higher_is_worse", 10.0, False),  # just short
        (17.0, "higher_is_better", 17.0, True),  # wellbeing at the cut-off (low is unwell)
        (17.01, "higher_is_better", 17.0, False),
    ],
)
def test_regression_to_the_mean_at_and_short_of_the_cut_off(pre, direction, cutoff, serious):
    est, lo, hi = (-4.0, -5.0, -3.0) if direction == "higher_is_worse" else (4.0, 3.0, 5.0)
    mixed = (est, lo, hi)
    rating, dom = _rate(pre=pre, direction=direction, cutoff=cutoff, est=est, lo=lo, hi=hi, mixed=mixed)
    assert dom["regression to the mean"] is serious
    assert rating == ("very low" if serious else "low")


def test_regression_to_the_mean_is_not_judged_without_a_cut_off():
    (f,) = measure_findings(_measures(pre=30.0, cutoff=None))
    d = f["certainty"]["domains"][0]
    assert not d["serious"] and d["reason"].startswith("not judged")


@pytest.mark.parametrize(
    ("share", "max_missing", "serious"),
    [
        (0.8, None, False),  # exactly 20% without follow-up: not more than 20%
        (0.79, None, True),  # 21%
        (0.7, 0.3, False),  # the protocol's own threshold, 30%: exactly at it
        (0.69, 0.3, True),
    ],
)
def test_attrition_at_and_over_the_threshold(share, max_missing, serious):
    rating, dom = _rate(share=share, max_missing=max_missing)
    assert dom["attrition"] is serious
    assert rating == ("very low" if serious else "low")


@pytest.mark.parametrize(
    ("lo", "hi", "serious"),
    [
        (-5.0, 0.0, True),  # a bound exactly at no change: includes it
        (-5.0, -0.01, False),  # just excludes it
        (-6.0, -3.0, True),  # a bound exactly at the reliable-change threshold (6): includes it
        (-5.99, -3.0, False),  # wholly smaller than the threshold
        (-9.0, -7.0, False),  # wholly beyond the threshold: precise, and larger
        (6.0, 7.0, True),  # a worsening interval touching the threshold on the other side
    ],
)
def test_imprecision_at_and_short_of_no_change_and_the_reliable_change(lo, hi, serious):
    est = (lo + hi) / 2
    rating, dom = _rate(est=est, lo=lo, hi=hi, mixed=None)
    assert dom["imprecision"] is serious
    assert rating == ("very low" if serious else "low")


def test_imprecision_without_a_reliable_change_threshold_uses_no_change_only():
    rating, dom = _rate(lo=-9.0, hi=-0.5, est=-4.0, rc=None)
    assert not dom["imprecision"] and rating == "low"


@pytest.mark.parametrize(
    ("mixed", "serious"),
    [
        ((-3.0, -6.0, 0.0), True),  # the mixed model's interval reaches no change: it cannot exclude it
        ((-3.0, -6.0, -0.01), False),
        ((0.5, 0.1, 0.9), True),  # the opposite direction
    ],
)
def test_inconsistency_with_the_mixed_model(mixed, serious):
    rating, dom = _rate(mixed=mixed)
    assert dom["inconsistency"] is serious
    assert rating == ("very low" if serious else "low")


@pytest.mark.parametrize(
    ("second", "serious"),
    [
        (-4.33, True),  # d = 2.33: Q = 2.7145, p = 0.0994 < 0.10
        (-4.32, False),  # d = 2.32: Q = 2.6912, p = 0.1009
    ],
)
def test_inconsistency_across_sites_at_the_q_test_threshold(second, serious):
    (f,) = measure_findings(_measures(sites=[("A", -2.0, 1.0), ("B", second, 1.0)]))
    dom = {d["domain"]: d for d in f["certainty"]["domains"]}
    assert dom["inconsistency"]["serious"] is serious
    assert f["sites_disagree"] is serious
    assert f["heterogeneity"]["q_p_value"] == pytest.approx(0.0994 if serious else 0.1009, abs=5e-5)
    assert ("sites differ" in dom["inconsistency"]["reason"]) is serious


def test_one_site_cannot_be_compared():
    (f,) = measure_findings(_measures(sites=[("A", -2.0, 1.0)]))
    assert f["heterogeneity"] is None and not f["sites_disagree"]


def test_never_below_very_low():
    rating, dom = _rate(pre=12.0, share=0.5, lo=-5.0, hi=0.0, est=-2.5, mixed=(1.0, 0.2, 1.8))
    assert all(dom.values()) and rating == "very low"


def test_inputs_are_not_modified():
    r = _measures(sites=[("A", -2.0, 1.0), ("B", -3.0, 1.0)])
    before = copy.deepcopy(r)
    measure_findings(r)
    assert r == before


def _cohort(
    *, comparison: bool = True, lo: float = 0.6, hi: float = 0.99, left: int = 20, analysed: int = 80
):
    did = [
        {
            "outcome": "attendances",
            "term": "ratio_of_rate_ratios",
            "estimate": 0.8,
            "ci_lower": lo,
            "ci_upper": hi,
        }
    ]
    change = [
        {
            "outcome": "attendances",
            "term": "rate_ratio",
            "group": "intervention",
            "estimate": 0.8,
            "ci_lower": lo,
            "ci_upper": hi,
        }
    ]
    return {
        "protocol": {"report": {}},
        "cohort": {
            "settings": {
                "outcomes": ["attendances"],
                "comparison": "control_sites" if comparison else "none",
            },
            "groups": [
                {"group": "intervention", "patients": analysed},
                {"group": "comparison", "patients": 0},
            ],
            "excluded_patients": left,
            "did": did if comparison else [],
            "change": change,
        },
    }


@pytest.mark.parametrize(
    ("kw", "rating"),
    [
        ({}, "moderate"),  # comparison cohort: starts moderate; 20 of 100 left out is not more than 20%
        ({"hi": 1.0}, "low"),  # the ratio's interval reaches 1
        ({"left": 21, "analysed": 79}, "low"),  # 21% left out
        ({"comparison": False}, "very low"),  # starts low, and regression to the mean is serious
        ({"comparison": False, "hi": 1.0}, "very low"),  # never below very low
    ],
)
def test_cohort_ratings_by_hand(kw, rating):
    (f,) = cohort_findings(_cohort(**kw))
    assert f["certainty"]["rating"] == rating
    assert f["certainty"]["start"] == ("moderate" if kw.get("comparison", True) else "low")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["change_programme", "leadership_programme"])
def test_rom_protocols_rate_every_primary_outcome_in_the_verdict(evaluations, name):
    from evaltoolkit.report import build_report, render_markdown

    r = evaluations[name].results
    rated = r["synthesis"]["measure_findings"]
    primary = [i["label"] for i in r["outcome_measures"]["instruments"] if i["primary"]]
    assert [f["label"] for f in rated] == primary
    rows = verdict(r)["rows"]
    assert [row["outcome"] for row in rows] == primary
    for row, f in zip(rows, rated, strict=True):
        assert row["certainty"].startswith(CERTAINTY_WORDS[f["certainty"]["rating"]] + " Starting from low")
        assert NOT_RATED not in row["certainty"]
        for d in f["certainty"]["domains"]:
            assert (d["domain"] in row["certainty"]) is d["serious"]
    md = render_markdown(build_report(r))
    sure = md.split("## How sure are we")[1].split("\n## ")[0]
    for f in rated:
        assert f"**{f['label']}: {f['certainty']['rating']} certainty.**" in sure
        assert (
            f"| attrition | {'yes: one level down' if f['certainty']['domains'][1]['serious'] else 'no'} |"
            in sure
        )
