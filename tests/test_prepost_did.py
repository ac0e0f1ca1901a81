"""Tests for evaltoolkit.prepost.mirror_did (comparison-cohort difference-in-differences).

Oracles: pooled rates by hand (a saturated Poisson model with independence working correlation
reproduces them exactly), scipy's Welch t test, the true service effect of synthetic_data/truth.json
worked out day by day, and a larger simulated dataset with no true effect in which regression to the
mean must appear in both cohorts and cancel in the difference.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaltoolkit.prepost import (
    DID_TERMS,
    ESTIMATE_COLUMNS,
    RTM_CAVEAT,
    PrePostInputError,
    mirror_change,
    mirror_did,
    mirror_windows,
    rtm_statement,
)

DATA = Path(__file__).resolve().parents[1] / "synthetic_data"

TREATED = ([6, 4, 5, 3, 8, 2, 5, 7], [2, 2, 1, 1, 3, 1, 2, 2])
COMPARISON = ([6, 4, 5, 3, 7, 2], [3, 3, 3, 2, 4, 1])


def frame(days: int = 365) -> pd.DataFrame:
    rows = []
    for arm, (before, after) in (("service", TREATED), ("control", COMPARISON)):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            pid = f"{arm[0]}{i}"
            rows.append((pid, arm, "before", days, b))
            rows.append((pid, arm, "after", days, a))
    return pd.DataFrame(rows, columns=["patient_id", "arm", "window", "exposure_days", "attendances"])


def get(table: pd.DataFrame, term: str, outcome: str = "attendances") -> pd.Series:
    sel = table[(table["term"] == term) & (table["outcome"] == outcome)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_schema_and_terms() -> None:
    out = mirror_did(frame(), group="arm", treated="service")
    assert list(out.columns) == list(ESTIMATE_COLUMNS)
    assert out["term"].tolist() == list(DID_TERMS)
    assert out["n"].tolist() == [8, 6, 14, 8, 6, 14]


def test_ratio_terms_equal_pooled_rates_with_independence() -> None:
    out = mirror_did(frame(), group="arm", treated="service", correlation="independence", days_per_year=365)
    rr_t = sum(TREATED[1]) / sum(TREATED[0])
    rr_c = sum(COMPARISON[1]) / sum(COMPARISON[0])
    assert get(out, "rate_ratio_treated")["estimate"] == pytest.approx(rr_t)
    assert get(out, "rate_ratio_comparison")["estimate"] == pytest.approx(rr_c)
    did = get(out, "ratio_of_rate_ratios")
    assert did["estimate"] == pytest.approx(rr_t / rr_c)
    assert did["ci_lower"] < did["estimate"] < did["ci_upper"]
    # the comparison cohort's rate ratio is the same as a mirror_change on that cohort alone
    alone = mirror_change(frame()[lambda d: d["arm"] == "control"], correlation="independence")
    assert get(out, "rate_ratio_comparison")["estimate"] == pytest.approx(
        get(alone, "rate_ratio")["estimate"]
    )
    # exchangeable gives nearly the same point estimate here
    exch = mirror_did(frame(), group="arm", treated="service")
    assert get(exch, "ratio_of_rate_ratios")["estimate"] == pytest.approx(rr_t / rr_c, rel=0.1)


def test_additive_terms_match_scipy() -> None:
    out = mirror_did(frame(), group="arm", treated="service", days_per_year=365)
    dt = np.subtract(TREATED[1], TREATED[0]).astype(float)
    dc = np.subtract(COMPARISON[1], COMPARISON[0]).astype(float)
    assert get(out, "mean_change_treated")["estimate"] == pytest.approx(dt.mean())
    assert get(out, "mean_change_comparison")["p_value"] == pytest.approx(
        stats.ttest_rel(COMPARISON[1], COMPARISON[0]).pvalue
    )
    row = get(out, "difference_in_mean_change")
    ref = stats.ttest_ind(dt, dc, equal_var=False)
    assert row["estimate"] == pytest.approx(dt.mean() - dc.mean())
    assert row["statistic"] == pytest.approx(ref.statistic) and row["p_value"] == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((ci.low, ci.high))
    assert row["df"] == pytest.approx(ref.df)


def test_errors() -> None:
    w = frame()
    with pytest.raises(PrePostInputError, match="no column"):
        mirror_did(w, group="site", treated="service")
    with pytest.raises(
        PrePostInputError, match=r"exactly two values.*found 1.*no comparison cohort.*RTM_CAVEAT"
    ):
        mirror_did(w[w["arm"] == "service"], group="arm", treated="service")
    three = w.copy()
    three.loc[three["patient_id"] == "c0", "arm"] = "other"
    with pytest.raises(PrePostInputError, match="exactly two values"):
        mirror_did(three, group="arm", treated="service")
    with pytest.raises(PrePostInputError, match="treated='A' is not a value"):
        mirror_did(w, group="arm", treated="A")
    varies = w.copy()
    varies.loc[1, "arm"] = "control"
    with pytest.raises(PrePostInputError, match=r"differs between a patient's two windows.*row\(s\) 0, 1"):
        mirror_did(varies, group="arm", treated="service")
    small = w[~w["patient_id"].isin(["c1", "c2", "c3", "c4", "c5"])]
    with pytest.raises(PrePostInputError, match="comparison cohort has 1 patient"):
        mirror_did(small, group="arm", treated="service")
    copy = w.copy()
    mirror_did(w, group="arm", treated="service")
    pd.testing.assert_frame_equal(w, copy)


def test_no_events_in_a_cohort_window_is_documented() -> None:
    w = frame()
    w.loc[(w["arm"] == "control") & (w["window"] == "after"), "attendances"] = 0
    out = mirror_did(w, group="arm", treated="service")
    assert out.loc[out["term"].str.contains("ratio"), "estimate"].isna().all()
    assert "comparison after-window" in get(out, "ratio_of_rate_ratios")["method"]
    assert np.isfinite(get(out, "difference_in_mean_change")["estimate"])


def test_rtm_statement_wording() -> None:
    w = frame()
    treated = mirror_change(w[w["arm"] == "service"])
    alone = rtm_statement(treated, outcome="attendances")
    assert alone.endswith(RTM_CAVEAT) and "Among 8 patients" in alone
    did = mirror_did(w, group="arm", treated="service")
    both = rtm_statement(treated, outcome="attendances", did=did)
    assert RTM_CAVEAT not in both
    assert "comparison cohort (6 patients)" in both and "regression to the mean" in both
    net = get(did, "ratio_of_rate_ratios")
    assert (
        f"rate ratio of {net['estimate']:.2f} (95% CI {net['ci_lower']:.2f} to {net['ci_upper']:.2f})" in both
    )
    with pytest.raises(PrePostInputError, match="no 'rate_before' row for outcome 'beds'"):
        rtm_statement(treated, outcome="beds")


# ------------------------------------------------------------------------------------------ synthetic truth
def true_effect_ratio(windows: pd.DataFrame, cohort: pd.DataFrame, truth: dict) -> float:
    """Mean over treated patients of (mean true multiplier after) / (mean true multiplier before).

    The multiplier of a calendar month at an implementing site is exp(level · post + slope · months since
    go-live) (truth["model"]["time_coding"]); every day of each window is visited.
    """
    eff = truth["effects"]["attendances_pd"]
    level, slope = eff["level_change_log"], eff["slope_change_log_per_month"]
    go_live = {s["site"]: s["go_live"] for s in truth["sites"]}
    site = cohort.set_index("patient_id")["site"]
    ratios = []
    for pid, w in windows.groupby("patient_id"):
        g = go_live[site[pid]]
        if g is None:
            continue
        g0 = pd.Timestamp(g)
        means = {}
        for _, row in w.iterrows():
            days = pd.date_range(row["window_start"], row["window_end"] - pd.Timedelta(days=1), freq="D")
            months = (days.year - g0.year) * 12 + (days.month - g0.month)
            post = months >= 0
            means[row["window"]] = float(np.mean(np.exp(level * post + slope * np.where(post, months, 0))))
        ratios.append(means["after"] / means["before"])
    return float(np.mean(ratios))


@pytest.fixture(scope="module")
def bundled() -> dict:
    from evaltoolkit.data import load_extracts

    ex = load_extracts(DATA, window=("2019-04-01", "2025-04-01"), max_open_days=365)
    cohort = ex["cohort"].data
    w = mirror_windows(cohort, attendances=ex["attendances"].data, censor_at="2025-04-01", end="end_date")
    w = w.merge(cohort[["patient_id", "site"]], on="patient_id", validate="many_to_one")
    w["arm"] = np.where(w["site"] == "RD4", "comparison", "service")
    truth = json.loads((DATA / "truth.json").read_text())
    return {"windows": w, "cohort": cohort, "truth": truth}


def test_bundled_data_comparison_cohort_removes_most_of_the_bias(bundled) -> None:
    w, truth = bundled["windows"], bundled["truth"]
    effect = true_effect_ratio(w[w["arm"] == "service"], bundled["cohort"], truth)
    assert 0.85 < effect < 0.97  # most before-windows are already after go-live: a modest true effect
    out = mirror_did(w, group="arm", treated="service", outcomes="attendances")
    naive = get(out, "rate_ratio_treated")
    rtm = get(out, "rate_ratio_comparison")
    did = get(out, "ratio_of_rate_ratios")
    truth_naive = truth["regression_to_the_mean"]["naive_before_after"]
    assert naive["estimate"] == pytest.approx(truth_naive["implementing"]["ratio_after_to_before"], abs=0.03)
    assert rtm["estimate"] == pytest.approx(truth_naive["control"]["ratio_after_to_before"], abs=0.03)
    # the naive before/after estimate excludes the true effect; the difference-in-differences does not
    assert naive["ci_upper"] < effect
    assert did["ci_lower"] < effect < did["ci_upper"]
    assert abs(math.log(did["estimate"] / effect)) < abs(math.log(naive["estimate"] / effect)) / 5


def test_simulated_no_effect_rtm_in_both_cohorts_cancels() -> None:
    """Two identical sites, one 'implementing' with no true effect, large pools (about 950 patients)."""
    from evaltoolkit.synth import SiteSpec, SynthConfig, generate

    sites = (
        SiteSpec("RA1", "A", "2021-04-01", 300_000, 0.006, 0.0),
        SiteSpec("RD4", "D", None, 300_000, 0.006, 0.0),
    )
    cfg = SynthConfig(
        sites=sites,
        pd_patients_per_site=4000,
        ed_pd_rate_per_100k=88.0,
        spell_pd_rate_per_100k=1.0,
        other_patients_per_site=200,
        ed_other_rate_per_100k=1.0,
        spell_other_rate_per_100k=0.5,
        ed_level_rr=1.0,
        ed_slope_rr_per_month=1.0,
        rom_patients=10,
        staff_n=10,
    )
    data = generate(cfg, seed=0)
    att = data.attendances
    clean = att[~att.duplicated()]
    clean = clean[clean["patient_id"].notna() & (clean["site"] != cfg.unknown_site_code)]
    clean = clean[
        (clean["arrival"] >= pd.Timestamp(cfg.start)) & (clean["arrival"] < pd.Timestamp(cfg.extract_date))
    ]
    cohort = data.cohort
    w = mirror_windows(cohort, attendances=clean, censor_at=cfg.extract_date, end="end_date")
    w = w.merge(cohort[["patient_id", "site"]], on="patient_id", validate="many_to_one")
    empty = set(w.loc[w["exposure_days"] == 0, "patient_id"])
    w = w[~w["patient_id"].isin(empty)]
    assert len(empty) < 5 and w["patient_id"].nunique() > 800
    out = mirror_did(w, group="site", treated="RA1", outcomes="attendances")
    for term in ("rate_ratio_treated", "rate_ratio_comparison"):
        assert get(out, term)["ci_upper"] < 0.8  # regression to the mean in both cohorts
    did = get(out, "ratio_of_rate_ratios")
    assert did["ci_lower"] < 1 < did["ci_upper"]
    assert abs(math.log(did["estimate"])) < abs(math.log(get(out, "rate_ratio_treated")["estimate"])) / 3
