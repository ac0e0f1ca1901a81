"""Reliable and clinically significant change, checked by hand arithmetic.

Oracles: the spec's worked example (§3: SD 7.5, r .80 → S_diff 4.7434, 1.96·S_diff 9.297, RC for
75 → 100 = 5.27), its CORE-10 criterion c (10.46), the NHS Talking Therapies reliable-change values
(PHQ-9 6, GAD-7 4) and the Jacobson–Truax formulas written out below.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.rom import RomInputError, change_summary, load_definition, reliable_change

DAS = load_definition(
    {
        "key": "das_demo",
        "name": "Dyadic-adjustment-like demo scale (0-150, higher is better)",
        "n_items": 30,
        "response": {"min": 0, "max": 5},
        "direction": "higher_is_better",
        "scales": {"total": {"label": "total", "method": "sum"}},
        "licence": {"text": "test only"},
        "citation": "Jacobson & Truax 1991 worked example inputs (SD 7.5, r .80)",
    }
)


COLS = {"pre_column": "pre", "post_column": "post"}  # the score columns made by pair()


def pair(pre, post, **extra):
    return pd.DataFrame({"pre": pre, "post": post, **extra})


def test_jacobson_truax_worked_example():
    se = 7.5 * math.sqrt(1 - 0.80)
    s_diff = math.sqrt(2 * se**2)
    assert round(se, 4) == 3.3541 and round(s_diff, 4) == 4.7434 and round(1.96 * s_diff, 3) == 9.297
    out = reliable_change(pair([75.0], [100.0]), DAS, **COLS, sd=7.5, reliability=0.80,
                          criterion="none")  # fmt: skip
    assert round(out["rci"].iloc[0], 2) == 5.27
    assert out["rc_threshold"].iloc[0] == pytest.approx(9.297, abs=5e-4)
    assert bool(out["reliable"].iloc[0]) and out["category"].iloc[0] == "improved"  # higher is better
    assert pd.isna(out["clinically_significant"].iloc[0]) and out["criterion"].iloc[0] == "none"
    assert "computed" in out["rc_source"].iloc[0]
    # the same change downwards is a reliable deterioration on a higher-is-better scale
    down = reliable_change(pair([100.0], [75.0]), DAS, **COLS, sd=7.5, reliability=0.8,
                           criterion="none")  # fmt: skip
    assert down["category"].iloc[0] == "deteriorated" and round(down["rci"].iloc[0], 2) == -5.27
    # with a cut-off, crossing it from the clinical side (<= 97 here) while improving reliably = recovered
    rec = reliable_change(pair([75.0, 95.0], [100.0, 96.0]), DAS, **COLS, sd=7.5,
                          reliability=0.8, cutoff=97)  # fmt: skip
    assert rec["category"].tolist() == ["recovered", "unchanged"]
    assert rec["clinically_significant"].tolist() == [True, False]


def test_computed_thresholds_must_be_exceeded_published_ones_reached():
    # z 2 × SD 5 × sqrt(2 × (1 − 0.5)) = 10 exactly
    d = pair([30.0, 30.0, 30.0], [40.0, 40.5, 20.0])
    out = reliable_change(d, DAS, **COLS, sd=5, reliability=0.5, z=2, criterion="none")
    assert out["rc_threshold"].iloc[0] == 10
    assert out["reliable"].tolist() == [False, True, False]  # |change| must exceed 10
    ge = reliable_change(d, DAS, **COLS, sd=5, reliability=0.5, z=2, comparison=">=",
                         criterion="none")  # fmt: skip
    assert ge["reliable"].tolist() == [True, True, True]


@pytest.mark.parametrize(
    ("key", "pre", "posts", "reliable"),
    [
        ("phq9", 20, [14, 15, 26, 25], [True, False, True, False]),  # reduction of 6 / 5; rise of 6 / 5
        ("gad7", 15, [11, 12, 19, 18], [True, False, True, False]),  # 4 / 3
        ("core10", 20, [14, 15, 26, 25], [True, False, True, False]),  # 6 (90 % CI)
        ("core_om", 20, [15, 16, 25, 24], [True, False, True, False]),  # 5
    ],
)
def test_published_reliable_change_values(key, pre, posts, reliable):
    out = reliable_change(pair([pre] * 4, posts), key, **COLS)
    assert out["reliable"].tolist() == reliable
    assert out["category"].astype(str).tolist()[2] == "deteriorated"
    assert "published" in out["rc_source"].iloc[0]


def test_rci_with_a_published_value_is_scaled_by_its_z():
    out = reliable_change(pair([20.0], [14.0]), "core10", **COLS, criterion="cutoff")
    assert out["rci"].iloc[0] == pytest.approx(1.645 * -6 / 6)
    phq = reliable_change(pair([20.0], [14.0]), "phq9", **COLS)
    assert phq["rci"].iloc[0] == pytest.approx(1.96 * -6 / 6)


def test_core10_criterion_c_from_the_manual_norms_is_the_default():
    c = (4.8 * 19.7 + 7.7 * 4.7) / (4.8 + 7.7)
    assert round(c, 2) == 10.46
    d = pair([25.0, 25.0, 25.0], [10.0, 11.0, 18.0])
    out = reliable_change(d, "core10", **COLS)
    assert out["criterion"].iloc[0] == "c" and out["cutoff"].iloc[0] == pytest.approx(c)
    assert out["clinically_significant"].tolist() == [True, False, False]
    assert out["category"].astype(str).tolist() == ["recovered", "improved", "improved"]
    pub = reliable_change(d, "core10", **COLS, criterion="cutoff")
    # published cut-off 11: 11 itself is in the clinical range, so 25 -> 11 is improved, not recovered
    assert pub["cutoff"].iloc[0] == 11
    assert pub["category"].astype(str).tolist() == ["recovered", "improved", "improved"]


def test_criteria_a_and_b_respect_direction():
    norms = {"functional": (10.0, 4.0), "dysfunctional": (30.0, 6.0)}
    d = pair([30.0, 30.0], [17.0, 19.0])
    a = reliable_change(d, "k10", **COLS, norms=norms, criterion="a", rc=5)
    assert a["cutoff"].iloc[0] == 30 - 2 * 6  # = 18: below it is out of the dysfunctional range
    assert a["clinically_significant"].tolist() == [True, False]
    b = reliable_change(d, "k10", **COLS, norms=norms, criterion="b", rc=5, sd_multiplier=1.96)
    assert b["cutoff"].iloc[0] == pytest.approx(10 + 1.96 * 4)  # = 17.84
    assert b["clinically_significant"].tolist() == [True, False]
    c = reliable_change(d, "k10", **COLS, norms=norms, rc=5)  # auto with both norms -> c
    assert c["criterion"].iloc[0] == "c" and c["cutoff"].iloc[0] == pytest.approx((4 * 30 + 6 * 10) / 10)
    # WEMWBS (higher is better): b = M0 - 2 s0 with the stored (recalled) norms 50.7 / 8.79
    w = reliable_change(pair([30.0, 30.0], [35.0, 33.0]), "wemwbs", **COLS, criterion="b", rc=2)
    assert w["cutoff"].iloc[0] == pytest.approx(50.7 - 2 * 8.79)
    assert w["clinically_significant"].tolist() == [True, False]
    assert w["category"].astype(str).tolist() == ["recovered", "improved"]


def test_higher_is_better_cutoff_uses_the_clinical_side():
    # ReQoL-10: < 24 is the clinical range; 24 itself is the general-population range
    d = pair([20.0, 20.0, 24.0], [24.0, 23.0, 30.0])
    out = reliable_change(d, "reqol10", **COLS, rc=3)
    assert out["clinically_significant"].tolist() == [True, False, False]
    assert out["category"].astype(str).tolist() == ["recovered", "improved", "improved"]


def test_sd_from_the_pre_scores_and_stored_reliability():
    pre = [2.5, 2.0, 1.2, 3.1, 2.2, 1.8]
    post = [1.0, 1.9, 1.3, 1.0, 2.4, 2.9]
    out = reliable_change(pair(pre, post), "bsl23", **COLS, criterion="none")
    sd = statistics.stdev(pre)
    threshold = 1.96 * sd * math.sqrt(2 * (1 - 0.935))  # alpha 0.935 stored for BSL-23
    assert out["rc_threshold"].iloc[0] == pytest.approx(threshold)
    naive = []
    for a, b in zip(pre, post, strict=True):
        ch = b - a
        naive.append("improved" if -ch > threshold else "deteriorated" if ch > threshold else "unchanged")
    assert out["category"].astype(str).tolist() == naive
    assert out["rci"].tolist() == pytest.approx(
        [(b - a) / (sd * math.sqrt(2 * 0.065)) for a, b in zip(pre, post, strict=True)]
    )
    given = reliable_change(pair(pre, post), "bsl23", **COLS, sd=1.0, reliability=0.9,
                            criterion="none")  # fmt: skip
    assert given["rc_threshold"].iloc[0] == pytest.approx(1.96 * math.sqrt(2 * 0.1))


def test_subscale_facts_are_used():
    out = reliable_change(pair([24.0], [8.0]), "dass21", **COLS, scale="depression", rc=6)
    assert out["cutoff"].iloc[0] == 10 and out["category"].iloc[0] == "recovered"
    with pytest.raises(RomInputError, match="no scale 'mood'"):
        reliable_change(pair([24.0], [8.0]), "dass21", **COLS, scale="mood")


def test_missing_scores_keep_the_row():
    d = pair([16.0, np.nan, 16.0], [9.0, 5.0, np.nan], id=["a", "b", "c"])
    before = d.copy()
    out = reliable_change(d, "phq9", **COLS)
    pd.testing.assert_frame_equal(d, before)
    assert out["id"].tolist() == ["a", "b", "c"]
    assert out["category"].iloc[0] == "recovered" and out["category"].isna().tolist() == [False, True, True]
    assert out["reliable"].isna().tolist() == [False, True, True]
    assert out["clinically_significant"].isna().tolist() == [False, True, True]
    assert np.isnan(out["change"].iloc[1])


def test_errors_name_columns_and_rows():
    with pytest.raises(
        RomInputError, match=r"pre column 'pre': 1 values outside the score range 0–27 at rows 3"
    ):
        reliable_change(pair([10, 30], [5, 5]), "phq9", **COLS)
    with pytest.raises(RomInputError, match=r"post column 'post': 1 non-numeric values at rows 2"):
        reliable_change(pair([10, 12], ["x", 5]), "phq9", **COLS)
    with pytest.raises(RomInputError, match="'after' is not in the data"):
        reliable_change(pair([10], [5]), "phq9", pre_column="pre", post_column="after")
    with pytest.raises(RomInputError, match="no clinical cut-off and no norms"):
        reliable_change(pair([2.0], [1.0]), "bsl23", **COLS)
    with pytest.raises(RomInputError, match="pass rc= or reliability="):
        reliable_change(pair([20.0], [10.0]), "honos", **COLS, criterion="none")
    with pytest.raises(RomInputError, match="not both"):
        reliable_change(pair([20.0], [10.0]), "phq9", **COLS, rc=5, sd=3)
    with pytest.raises(RomInputError, match="already has columns"):
        reliable_change(pair([20.0], [10.0], change=[1]), "phq9", **COLS)
    with pytest.raises(RomInputError, match="criterion must be"):
        reliable_change(pair([20.0], [10.0]), "phq9", **COLS, criterion="d")  # type: ignore[arg-type]
    with pytest.raises(RomInputError, match="needs functional and dysfunctional norms"):
        reliable_change(pair([20.0], [10.0]), "phq9", **COLS, criterion="c")
    with pytest.raises(RomInputError, match="two pre scores"):
        reliable_change(pair([2.0], [1.0]), "bsl23", **COLS, criterion="none")


def test_change_summary_counts_match_a_naive_tally():
    rng = np.random.default_rng(3)
    pre = rng.integers(5, 28, 300).astype(float)
    post = np.clip(pre + rng.integers(-12, 8, 300), 0, 27).astype(float)
    pre[::37] = np.nan
    site = rng.choice(["A", "B"], 300)
    out = reliable_change(pair(pre, post, site=site), "phq9", **COLS)
    summary = change_summary(out, by="site")
    for s in ("A", "B"):
        tally = {"recovered": 0, "improved": 0, "unchanged": 0, "deteriorated": 0, "not classified": 0}
        for a, b, g in zip(pre, post, site, strict=True):
            if g != s:
                continue
            if np.isnan(a):
                tally["not classified"] += 1
            elif a - b >= 6:
                tally["recovered" if a >= 10 and b < 10 else "improved"] += 1
            elif b - a >= 6:
                tally["deteriorated"] += 1
            else:
                tally["unchanged"] += 1
        got = summary[summary["site"] == s].set_index("category")
        assert got["n"].to_dict() == tally
        classified = sum(v for k, v in tally.items() if k != "not classified")
        assert got.loc["recovered", "percent"] == pytest.approx(100 * tally["recovered"] / classified)
    with pytest.raises(RomInputError, match="reliable_change"):
        change_summary(pair([1], [2]))
