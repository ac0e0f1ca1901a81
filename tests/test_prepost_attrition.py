"""Tests for attrition tables, "analysed n of N" and complete-case vs all-available estimates.

Oracles: counts and means by hand, scipy's Welch t test, the exact equality of the mixed-model
occasion contrast and the paired mean change when nobody is missing, and the drop-out mechanism of
synthetic_data/truth.json (drop-outs are more severe, so completers' end vs everyone's baseline
overstates improvement).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaltoolkit.prepost import (
    ANALYSED_COLUMNS,
    ATTRITION_COLUMNS,
    ESTIMATE_COLUMNS,
    PrePostInputError,
    analysed_n,
    attrition_table,
    complete_vs_available,
    paired_change,
)

DATA = Path(__file__).resolve().parents[1] / "synthetic_data"

KW = {"subject": "id", "time": "occ", "value": "score", "pre": "pre", "post": "post"}


@pytest.fixture
def small() -> pd.DataFrame:
    # ids 1-4 complete; 5 and 6 drop out; 7 has an invalid baseline but a post score; 8 only a mid score
    rows = [
        (1, "pre", 10), (1, "mid", 9), (1, "post", 7),
        (2, "pre", 12), (2, "mid", 11), (2, "post", 9),
        (3, "pre", 9), (3, "mid", 8), (3, "post", 8),
        (4, "pre", 11), (4, "mid", 10), (4, "post", 6),
        (5, "pre", 16), (5, "mid", 15),
        (6, "pre", 18),
        (7, "pre", None), (7, "post", 12),
        (8, "mid", 13),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["id", "occ", "score"])


def test_analysed_n(small) -> None:
    out = analysed_n(small, **KW)
    assert list(out.columns) == list(ANALYSED_COLUMNS)
    row = out.iloc[0]
    assert (row["n_started"], row["n_valid_pre"], row["n_valid_post"], row["n_analysed"]) == (8, 6, 5, 4)
    assert row["proportion_analysed"] == 0.5
    assert row["statement"] == (
        "Analysed 4 of 8 who started (50.0%): 2 without a valid pre score, 2 more without a valid post score."
    )


def test_attrition_table_matches_scipy(small) -> None:
    out = attrition_table(small, **KW)
    assert list(out.columns) == list(ATTRITION_COLUMNS)
    row = out.iloc[0]
    comp, drop = np.array([10, 12, 9, 11.0]), np.array([16, 18.0])
    # n_started: any row (ids 1-8, as in analysed_n); n_valid_pre: the comparison's base (ids 1-6)
    assert (row["n_started"], row["n_valid_pre"], row["n_completers"], row["n_dropouts"]) == (8, 6, 4, 2)
    assert (row["mean_completers"], row["mean_dropouts"]) == (10.5, 17.0)
    ref = stats.ttest_ind(drop, comp, equal_var=False)
    assert row["estimate"] == 6.5
    assert (row["statistic"], row["p_value"], row["df"]) == pytest.approx((ref.statistic, ref.pvalue, ref.df))
    ci = ref.confidence_interval(0.95)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((ci.low, ci.high))
    pooled = np.sqrt((3 * comp.var(ddof=1) + 1 * drop.var(ddof=1)) / 4)
    assert row["smd"] == pytest.approx(6.5 / pooled)


def test_n_started_means_the_same_in_both_tables(small) -> None:
    # one meaning: subjects with any row for the outcome; the comparison's base is n_valid_pre
    two = pd.concat(
        [small.assign(outcome="a"), small[small["id"] != 8].assign(outcome="b")], ignore_index=True
    )
    flow = analysed_n(two, outcome="outcome", **KW).set_index("outcome")
    att = attrition_table(two, outcome="outcome", **KW).set_index("outcome")
    assert att["n_started"].tolist() == flow["n_started"].tolist() == [8, 7]
    assert att["n_valid_pre"].tolist() == flow["n_valid_pre"].tolist() == [6, 6]
    assert (att["n_completers"] + att["n_dropouts"] == att["n_valid_pre"]).all()
    assert att["n_completers"].tolist() == flow["n_analysed"].tolist()
    assert all(att[c].dtype == "int64" for c in ("n_started", "n_valid_pre", "n_completers", "n_dropouts"))


def test_attrition_without_completers_or_dropouts(small) -> None:
    nobody = small[small["occ"] != "post"].copy()
    nobody.loc[len(nobody)] = (9, "post", None)  # the post occasion exists but no valid score
    row = attrition_table(nobody, **KW).iloc[0]
    assert (row["n_completers"], row["n_dropouts"]) == (0, 6)
    assert np.isnan(row["estimate"]) and np.isnan(row["smd"]) and "not compared" in row["method"]
    everyone = small[small["id"].isin([1, 2, 3, 4])]
    row = attrition_table(everyone, **KW).iloc[0]
    assert (row["n_completers"], row["n_dropouts"]) == (4, 0) and np.isnan(row["p_value"])
    with pytest.raises(PrePostInputError, match="no completers"):
        paired_change(nobody, **KW)


def test_complete_vs_available_by_hand(small) -> None:
    out = complete_vs_available(small, **KW)
    assert list(out.columns) == list(ESTIMATE_COLUMNS)
    assert out["term"].tolist() == ["complete_case", "all_available_naive", "mixed_model"]
    cc = out.iloc[0]
    assert cc["estimate"] == pytest.approx(np.mean([7 - 10, 9 - 12, 8 - 9, 6 - 11])) and cc["n"] == 4
    naive = out.iloc[1]
    post, pre = np.array([7, 9, 8, 6, 12.0]), np.array([10, 12, 9, 11, 16, 18.0])
    ref = stats.ttest_ind(post, pre, equal_var=False)
    assert naive["estimate"] == pytest.approx(post.mean() - pre.mean())
    assert naive["p_value"] == pytest.approx(ref.pvalue) and naive["n"] == 7
    mixed = out.iloc[2]
    assert mixed["n"] == 8 and "3 occasions" in mixed["method"]
    # drop-outs started higher: the naive comparison overstates the fall, the mixed model does not
    assert naive["estimate"] < mixed["estimate"] and naive["estimate"] < cc["estimate"]


def test_mixed_model_equals_paired_change_without_missing_data() -> None:
    rng = np.random.default_rng(5)
    pre = rng.normal(20, 5, 40)
    post = pre - 3 + rng.normal(0, 3, 40)
    data = pd.DataFrame(
        {
            "id": np.repeat(np.arange(40), 2),
            "occ": ["pre", "post"] * 40,
            "score": np.column_stack([pre, post]).ravel(),
        }
    )
    out = complete_vs_available(data, **KW).set_index("term")
    assert out.loc["mixed_model", "estimate"] == pytest.approx(out.loc["complete_case", "estimate"], rel=1e-6)
    assert out.loc["all_available_naive", "estimate"] == pytest.approx(out.loc["complete_case", "estimate"])


def test_inputs_not_mutated(small) -> None:
    copy = small.copy()
    attrition_table(small, **KW)
    analysed_n(small, **KW)
    complete_vs_available(small, **KW)
    pd.testing.assert_frame_equal(small, copy)


# ------------------------------------------------------------------------------------------ synthetic truth
@pytest.fixture(scope="module")
def synthetic() -> dict:
    from evaltoolkit.data import load_extracts
    from evaltoolkit.rom import score

    ex = load_extracts(DATA, window=("2019-04-01", "2025-04-01"), max_open_days=365)
    rom = pd.concat(
        [
            score(ex["rom_responses"].data, k, keep_columns=["patient_id", "occasion"]).assign(outcome=k)
            for k in ("phq9", "gad7", "core10")
        ],
        ignore_index=True,
    )
    staff = score(ex["staff_survey"].data, "cbi", keep_columns=["staff_id", "wave"])
    return {"rom": rom, "staff": staff, "truth": json.loads((DATA / "truth.json").read_text())}


ROM_KW = {"subject": "patient_id", "time": "occasion", "value": "total", "pre": "baseline", "post": "end"}


def test_dropouts_were_more_severe_at_baseline(synthetic) -> None:
    out = attrition_table(synthetic["rom"], outcome="outcome", **ROM_KW).set_index("outcome")
    rom_truth = synthetic["truth"]["rom"]["realised"]
    assert rom_truth["mean_baseline_severity_dropouts"] > rom_truth["mean_baseline_severity_completers"]
    for k in ("phq9", "gad7", "core10"):
        assert out.loc[k, "ci_lower"] > 0 and out.loc[k, "smd"] > 0.2


def test_naive_all_available_overstates_improvement(synthetic) -> None:
    out = complete_vs_available(synthetic["rom"], outcome="outcome", **ROM_KW)
    inst = synthetic["truth"]["rom"]["instruments"]
    for k in ("phq9", "gad7", "core10"):
        rows = out[out["outcome"] == k].set_index("term")["estimate"]
        truth = (
            inst[k]["expected_scored_total_by_session"][9] - inst[k]["expected_scored_total_by_session"][0]
        )
        assert (
            rows["all_available_naive"] < rows["complete_case"]
            and rows["all_available_naive"] < rows["mixed_model"]
        )
        # uses intermediate sessions: more subjects than the complete cases
        assert out[(out["outcome"] == k) & (out["term"] == "mixed_model")]["n"].iloc[0] > 250
        assert abs(rows["mixed_model"] - truth) < 0.2 * abs(truth)
    flow = analysed_n(synthetic["rom"], outcome="outcome", **ROM_KW).set_index("outcome")
    assert (flow["n_started"] == synthetic["truth"]["rom"]["patients"]).all()
    assert (flow["n_valid_post"] <= synthetic["truth"]["rom"]["realised"]["completers"]).all()


def test_staff_attrition_by_burnout(synthetic) -> None:
    # truth: more burnt-out staff (higher CBI) are more likely to miss the post wave
    out = attrition_table(
        synthetic["staff"], subject="staff_id", time="wave", value="personal", pre="pre", post="post"
    )
    row = out.iloc[0]
    assert row["n_started"] == synthetic["truth"]["staff_survey"]["staff"]
    assert row["n_completers"] == synthetic["truth"]["staff_survey"]["with_post"]
    assert row["estimate"] > 0 and row["ci_lower"] > 0
