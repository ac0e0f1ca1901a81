"""Tests for evaltoolkit.prepost.paired_change and effect sizes.

Oracles: scipy for the paired t and Wilcoxon tests (pingouin is cross-checked against it), the
effect-size formulas written out by hand (Lakens 2013; Borenstein et al. 2009, eq. 4.28; Hedges' J),
the defining property of the noncentral-t interval, a coverage simulation, statsmodels' Holm
adjustment, and the true changes in synthetic_data/truth.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from evaltoolkit.prepost import (
    ESTIMATE_COLUMNS,
    PAIRED_TERMS,
    PrePostInputError,
    effect_size_intervals,
    paired_change,
    paired_scores,
)

DATA = Path(__file__).resolve().parents[1] / "synthetic_data"

PRE = np.array([20, 18, 25, 16, 22, 19, 27, 14, 21, 23, 17, 24, 20, 26, 18, 22], dtype=float)
POST = np.array([14, 15, 17, 16, 15, 12, 20, 14, 19, 15, 16, 18, 13, 21, 18, 14], dtype=float)


def long(pre=PRE, post=POST, outcome: str | None = None) -> pd.DataFrame:
    n = len(pre)
    out = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), 2),
            "occasion": ["baseline", "end"] * n,
            "score": np.column_stack([pre, post]).ravel(),
        }
    )
    if outcome:
        out["outcome"] = outcome
    return out


def get(table: pd.DataFrame, term: str, outcome: str = "value") -> pd.Series:
    sel = table[(table["term"] == term) & (table["outcome"] == outcome)]
    assert len(sel) == 1
    return sel.iloc[0]


def run(data: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return paired_change(
        data, subject="id", time="occasion", value="score", pre="baseline", post="end", **kwargs
    )


def test_schema() -> None:
    out = run(long())
    assert list(out.columns) == list(ESTIMATE_COLUMNS)
    assert out["term"].tolist() == list(PAIRED_TERMS)
    assert (out["n"] == 16).all() and (out["outcome"] == "value").all()


def test_paired_t_and_wilcoxon_match_scipy() -> None:
    out = run(long())
    t = get(out, "mean_change")
    ref = stats.ttest_rel(POST, PRE)
    ci = ref.confidence_interval(0.95)
    assert t["estimate"] == pytest.approx((POST - PRE).mean())
    assert (t["statistic"], t["p_value"], t["df"]) == pytest.approx((ref.statistic, ref.pvalue, 15))
    assert (t["ci_lower"], t["ci_upper"]) == pytest.approx((ci.low, ci.high))
    w = get(out, "median_change")
    ref_w = stats.wilcoxon(POST, PRE, correction=True)  # zeros and ties present: normal approximation
    assert (w["statistic"], w["p_value"]) == pytest.approx((ref_w.statistic, ref_w.pvalue))
    assert w["estimate"] == np.median(POST - PRE)


def test_wilcoxon_statistic_is_the_smaller_rank_sum_not_r_v() -> None:
    # R 4.x: wilcox.test(post, pre, paired = TRUE) gives V = 0, p = 0.00158119472516;
    #        wilcox.test(pre, post, paired = TRUE) gives V = 91, the same p (13 non-zero changes).
    # The toolkit reports min(W+, W-) both ways; V = W+ and W+ + W- = n(n + 1)/2.
    d = POST - PRE
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    w_plus, w_minus = ranks[nz > 0].sum(), ranks[nz < 0].sum()
    n = len(nz)
    assert (n, w_plus, w_minus) == (13, 0.0, 91.0) and w_plus + w_minus == n * (n + 1) / 2
    up = get(run(long()), "median_change")
    down = get(run(long(pre=POST, post=PRE)), "median_change")
    assert up["statistic"] == down["statistic"] == min(w_plus, w_minus) == 0.0
    r_v_up, r_v_down, r_p = 0.0, 91.0, 0.00158119472516
    assert up["statistic"] == r_v_up  # the increases have the smaller rank sum: V = statistic
    assert down["statistic"] == n * (n + 1) / 2 - r_v_down  # otherwise V = n(n + 1)/2 - statistic
    assert up["p_value"] == pytest.approx(r_p, rel=1e-9) and down["p_value"] == pytest.approx(r_p, rel=1e-9)


def test_pingouin_matches_scipy_directly() -> None:
    t = pg.ttest(POST, PRE, paired=True).iloc[0]
    ref = stats.ttest_rel(POST, PRE)
    assert (t["T"], t["p_val"], t["dof"]) == pytest.approx((ref.statistic, ref.pvalue, ref.df))
    w = pg.wilcoxon(POST, PRE).iloc[0]
    ref_w = stats.wilcoxon(POST, PRE, correction=True)
    assert (w["W_val"], w["p_val"]) == pytest.approx((ref_w.statistic, ref_w.pvalue))


def test_effect_sizes_by_hand() -> None:
    out = run(long())
    d = POST - PRE
    n = len(d)
    sd0, sd1 = PRE.std(ddof=1), POST.std(ddof=1)
    r = np.corrcoef(PRE, POST)[0, 1]
    dz = d.mean() / d.std(ddof=1)
    dav = d.mean() / ((sd0 + sd1) / 2)
    j = 1 - 3 / (4 * (n - 1) - 1)
    var_dav = (1 / n + dav**2 / (2 * n)) * 2 * (1 - r)  # Borenstein et al. (2009), eq. 4.28
    q = stats.norm.ppf(0.975)
    assert get(out, "d_z")["estimate"] == pytest.approx(dz)
    row = get(out, "d_av")
    assert row["estimate"] == pytest.approx(dav)
    assert row["std_error"] == pytest.approx(math.sqrt(var_dav))
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx(
        (dav - q * math.sqrt(var_dav), dav + q * math.sqrt(var_dav))
    )
    g = get(out, "g_av")
    assert g["estimate"] == pytest.approx(j * dav)
    assert (g["ci_lower"], g["ci_upper"]) == pytest.approx((j * row["ci_lower"], j * row["ci_upper"]))
    assert f"r = {r:.3f}" in row["method"]


def test_d_z_interval_is_the_noncentral_t_inversion() -> None:
    out = run(long())
    row = get(out, "d_z")
    n = 16
    t_obs = row["estimate"] * math.sqrt(n)
    # at the limits, the observed t is the 97.5th / 2.5th percentile of the noncentral t
    assert stats.nct.cdf(t_obs, n - 1, row["ci_lower"] * math.sqrt(n)) == pytest.approx(0.975, abs=1e-8)
    assert stats.nct.cdf(t_obs, n - 1, row["ci_upper"] * math.sqrt(n)) == pytest.approx(0.025, abs=1e-8)
    # and, for large n, it agrees with the normal approximation d ± z·sqrt(1/n + d²/(2n))
    es = effect_size_intervals(-3.0, 6.0, 8.0, 8.0, 0.5, 2000, 0.95)["d_z"]
    half = stats.norm.ppf(0.975) * math.sqrt(1 / 2000 + 0.25 / 4000)
    assert (es["ci_lower"], es["ci_upper"]) == pytest.approx((-0.5 - half, -0.5 + half), abs=2e-3)


def test_d_z_interval_coverage_by_simulation() -> None:
    rng = np.random.default_rng(20261121)
    true_dz, n, reps = 0.6, 12, 300
    hits = 0
    for _ in range(reps):
        d = rng.normal(true_dz, 1.0, n)
        es = effect_size_intervals(d.mean(), d.std(ddof=1), 1.0, 1.0, 0.5, n, 0.95)["d_z"]
        hits += es["ci_lower"] <= true_dz <= es["ci_upper"]
    assert 0.91 <= hits / reps <= 0.99


def test_extreme_d_z_still_solves() -> None:
    es = effect_size_intervals(-10.0, 0.5, 3.0, 3.0, 0.9, 40, 0.99)["d_z"]
    assert es["ci_lower"] < -20 < es["ci_upper"] < -10


def test_holm_across_outcomes_matches_statsmodels() -> None:
    rng = np.random.default_rng(3)
    parts = []
    for k, shift in (("phq9", -3.0), ("gad7", -0.5), ("core10", 0.2)):
        pre = rng.normal(15, 5, 30)
        parts.append(long(pre, pre + shift + rng.normal(0, 4, 30), outcome=k))
    data = pd.concat(parts, ignore_index=True)
    out = run(data, outcome="outcome")
    for term in ("mean_change", "median_change"):
        rows = out[out["term"] == term]
        expected = multipletests(rows["p_value"].to_numpy(), method="holm")[1]
        assert rows["p_adjusted"].to_numpy() == pytest.approx(expected)
        assert "Holm" in rows["method"].iloc[0]
    assert out.loc[out["term"] == "d_z", "p_adjusted"].isna().all()
    assert out["outcome"].unique().tolist() == ["phq9", "gad7", "core10"]
    bh = run(data, outcome="outcome", p_adjust="fdr_bh")
    rows = bh[bh["term"] == "mean_change"]
    assert rows["p_adjusted"].to_numpy() == pytest.approx(multipletests(rows["p_value"], method="fdr_bh")[1])


def test_missing_scores_and_only_complete_pairs() -> None:
    data = long()
    data.loc[3, "score"] = np.nan  # subject 1's end score
    data = data[data.index != 8].reset_index(drop=True)  # subject 4 has no end row at all
    out = run(data)
    keep = np.ones(16, bool)
    keep[[1, 4]] = False
    assert get(out, "mean_change")["n"] == 14
    assert get(out, "mean_change")["estimate"] == pytest.approx((POST - PRE)[keep].mean())
    assert get(out, "mean_pre")["estimate"] == pytest.approx(PRE[keep].mean())
    wide = paired_scores(data, subject="id", time="occasion", value="score", pre="baseline", post="end")
    assert len(wide) == 16 and int(wide["complete"].sum()) == 14
    assert wide.loc[wide["id"] == 1, "post"].isna().all()


def test_edge_cases() -> None:
    # no completers
    data = long()
    data.loc[data["occasion"] == "end", "score"] = np.nan
    with pytest.raises(PrePostInputError, match=r"'value': 0 subject\(s\).*no completers"):
        run(data)
    # a single subject
    with pytest.raises(PrePostInputError, match=r"1 subject\(s\)"):
        run(long(PRE[:1], POST[:1]))
    # identical changes: t undefined, Wilcoxon fine
    out = run(long(PRE[:5], PRE[:5] - 2))
    mc = get(out, "mean_change")
    assert mc["estimate"] == -2 and np.isnan(mc["p_value"]) and mc["ci_lower"] == mc["ci_upper"] == -2
    assert np.isnan(get(out, "d_z")["estimate"])
    # no change at all: the Wilcoxon test is undefined
    out = run(long(PRE[:5], PRE[:5]))
    assert np.isnan(get(out, "median_change")["p_value"])
    assert "undefined" in get(out, "median_change")["method"]


def test_bad_input() -> None:
    data = long()
    with pytest.raises(PrePostInputError, match="pre and post are the same"):
        paired_change(data, subject="id", time="occasion", value="score", pre="end", post="end")
    with pytest.raises(PrePostInputError, match="post='final' is not a value of 'occasion'"):
        paired_change(data, subject="id", time="occasion", value="score", pre="baseline", post="final")
    dup = pd.concat([data, data.iloc[[2]]], ignore_index=True)
    with pytest.raises(PrePostInputError, match=r"more than one row per id × occasion.*row\(s\) 2, 32"):
        run(dup)
    text = data.astype({"score": object})
    text.loc[5, "score"] = "high"
    with pytest.raises(PrePostInputError, match=r"'score' is not a number.*row\(s\) 5"):
        run(text)
    with pytest.raises(PrePostInputError, match=r"no column\(s\) \['outcome'\]"):
        run(data, outcome="outcome")
    copy = data.copy()
    run(data)
    pd.testing.assert_frame_equal(data, copy)


# ------------------------------------------------------------------------------------------ synthetic truth
@pytest.fixture(scope="module")
def synthetic() -> dict:
    from evaltoolkit.data import load_extracts
    from evaltoolkit.rom import score

    ex = load_extracts(DATA, window=("2019-04-01", "2025-04-01"), max_open_days=365)
    truth = json.loads((DATA / "truth.json").read_text())
    rom = pd.concat(
        [
            score(ex["rom_responses"].data, k, keep_columns=["patient_id", "occasion", "session"]).assign(
                outcome=k
            )
            for k in ("phq9", "gad7")
        ],
        ignore_index=True,
    )
    staff = pd.concat(
        [
            score(ex["staff_survey"].data, k, keep_columns=["staff_id", "wave"]).assign(outcome=k)
            for k in ("pss10", "mhc_sf", "ffmq15")
        ],
        ignore_index=True,
    )
    return {"rom": rom, "staff": staff, "truth": truth}


def test_change_programme_recovers_true_change(synthetic) -> None:
    out = paired_change(
        synthetic["rom"], subject="patient_id", time="occasion", value="total", pre="baseline", post="end",
        outcome="outcome",
    )  # fmt: skip
    for k in ("phq9", "gad7"):
        expected = synthetic["truth"]["rom"]["instruments"][k]["expected_scored_total_by_session"]
        true_change = expected[9] - expected[0]
        row = get(out, "mean_change", k)
        assert row["ci_lower"] < true_change < row["ci_upper"]
        assert row["p_adjusted"] < 0.001
        assert get(out, "g_av", k)["ci_upper"] < 0  # improvement on a lower-is-better scale


def test_staff_survey_recovers_true_change(synthetic) -> None:
    out = paired_change(
        synthetic["staff"],
        subject="staff_id",
        time="wave",
        value="total",
        pre="pre",
        post="post",
        outcome="outcome",
    )
    inst = synthetic["truth"]["staff_survey"]["instruments"]
    for k in ("pss10", "mhc_sf", "ffmq15"):
        true_change = inst[k]["expected_scored_total_post"] - inst[k]["expected_scored_total_pre"]
        row = get(out, "mean_change", k)
        assert row["ci_lower"] < true_change < row["ci_upper"]
        assert np.sign(get(out, "d_av", k)["estimate"]) == np.sign(inst[k]["effect_latent_sd"])
