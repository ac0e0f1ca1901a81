"""Tests for evaltoolkit.prepost.fit_trajectories (MixedLM with random intercepts and slopes).

Oracles: in a balanced design with random intercepts only, the GLS fixed slope equals the ordinary
least-squares slope of all scores on time (np.polyfit); invariance to linear rescaling of the score;
recovery of a simulated slope; and the true weekly change of synthetic_data/truth.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.prepost import (
    CURVE_COLUMNS,
    ESTIMATE_COLUMNS,
    PrePostInputError,
    TrajectoryFit,
    fit_trajectories,
)

DATA = Path(__file__).resolve().parents[1] / "synthetic_data"


def simulate(
    n: int = 60, weeks: int = 6, slope: float = -1.0, slope_sd: float = 0.0, seed: int = 1
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n), weeks)
    week = np.tile(np.arange(weeks), n)
    u0 = rng.normal(0, 4, n)[ids]
    u1 = rng.normal(0, slope_sd, n)[ids] if slope_sd else 0.0
    score = 25 + u0 + (slope + u1) * week + rng.normal(0, 1.5, n * weeks)
    return pd.DataFrame({"id": ids, "week": week, "score": score})


def get(fit: TrajectoryFit, term: str, outcome: str = "value") -> pd.Series:
    t = fit.estimates
    sel = t[(t["term"] == term) & (t["outcome"] == outcome)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_balanced_random_intercept_slope_equals_ols() -> None:
    d = simulate()
    fit = fit_trajectories(d, subject="id", time="week", value="score", random_slopes=False)
    assert list(fit.estimates.columns) == list(ESTIMATE_COLUMNS)
    assert fit.estimates["term"].tolist() == ["mean_at_start", "change_per_week", "change_at_end"]
    b1, b0 = np.polyfit(d["week"], d["score"], 1)
    assert get(fit, "change_per_week")["estimate"] == pytest.approx(b1, rel=1e-5)
    assert get(fit, "mean_at_start")["estimate"] == pytest.approx(b0, rel=1e-5)
    assert get(fit, "change_at_end")["estimate"] == pytest.approx(5 * b1, rel=1e-5)
    assert get(fit, "change_at_end")["std_error"] == pytest.approx(
        5 * get(fit, "change_per_week")["std_error"]
    )
    assert fit.random_slopes == {"value": False}
    assert (fit.estimates["n"] == 60).all()


def test_rescaling_the_score_rescales_the_estimates() -> None:
    d = simulate(slope_sd=0.4)
    a = fit_trajectories(d, subject="id", time="week", value="score")
    b = fit_trajectories(d.assign(score=10 * d["score"] + 5), subject="id", time="week", value="score")
    for term in ("change_per_week", "change_at_end"):
        for col in ("estimate", "std_error", "ci_lower", "ci_upper"):
            assert get(b, term)[col] == pytest.approx(10 * get(a, term)[col], rel=1e-4)
        assert get(b, term)["p_value"] == pytest.approx(get(a, term)["p_value"], rel=1e-3, abs=1e-12)


def test_random_slopes_recover_simulated_slope() -> None:
    d = simulate(n=150, slope=-0.8, slope_sd=0.5, seed=7)
    fit = fit_trajectories(d, subject="id", time="week", value="score")
    assert fit.random_slopes == {"value": True} and fit.notes == {"value": ()}
    row = get(fit, "change_per_week")
    assert row["ci_lower"] < -0.8 < row["ci_upper"]
    assert "random intercepts and slopes" in row["method"] and "random slope SD" in row["method"]
    # random slopes widen the interval compared with an intercept-only model of the same data
    narrow = get(
        fit_trajectories(d, subject="id", time="week", value="score", random_slopes=False), "change_per_week"
    )
    assert row["std_error"] > narrow["std_error"]


def test_curve_matches_fixed_effects_and_observed_means() -> None:
    d = simulate()
    d.loc[d.sample(frac=0.2, random_state=2).index, "score"] = np.nan
    fit = fit_trajectories(
        d, subject="id", time="week", value="score", random_slopes=False, time_unit="session"
    )
    c = fit.curve
    assert list(c.columns) == list(CURVE_COLUMNS)
    start = get(fit, "mean_at_start", "value")["estimate"]
    slope = get(fit, "change_per_session")["estimate"]
    assert c["estimate"].to_numpy() == pytest.approx(start + slope * c["time"].to_numpy())
    obs = d.dropna().groupby("week")["score"].agg(["mean", "size"])
    assert c["observed_mean"].to_numpy() == pytest.approx(obs["mean"].to_numpy())
    assert c["observed_n"].tolist() == obs["size"].tolist()
    assert (c["ci_lower"] < c["estimate"]).all() and (c["estimate"] < c["ci_upper"]).all()
    assert "rows without a valid score not used" in get(fit, "change_per_session")["method"]


def test_start_end_and_two_time_points() -> None:
    d = simulate()
    fit = fit_trajectories(d, subject="id", time="week", value="score", start=1, end=3, random_slopes=False)
    assert get(fit, "change_at_end")["estimate"] == pytest.approx(2 * get(fit, "change_per_week")["estimate"])
    two = d[d["week"].isin([0, 5])]
    fit = fit_trajectories(two, subject="id", time="week", value="score")
    assert fit.random_slopes == {"value": False}
    assert "fewer than three time points" in fit.notes["value"][0]
    # with two occasions and nobody missing, the end change is the mean paired change
    wide = two.pivot(index="id", columns="week", values="score")
    assert get(fit, "change_at_end")["estimate"] == pytest.approx((wide[5] - wide[0]).mean(), rel=1e-6)


def test_errors() -> None:
    d = simulate(n=5, weeks=3)
    text = d.astype({"week": object})
    text.loc[2, "week"] = "two"
    with pytest.raises(PrePostInputError, match=r"'week' is not a number.*row\(s\) 2"):
        fit_trajectories(text, subject="id", time="week", value="score")
    with pytest.raises(PrePostInputError, match=r"more than one row per id × week.*row\(s\) 0, 15"):
        fit_trajectories(
            pd.concat([d, d.iloc[[0]]], ignore_index=True), subject="id", time="week", value="score"
        )
    with pytest.raises(PrePostInputError, match="at least 2"):
        fit_trajectories(d[d["week"] == 0], subject="id", time="week", value="score")
    with pytest.raises(PrePostInputError, match="must be after start"):
        fit_trajectories(d, subject="id", time="week", value="score", start=2, end=1)
    with pytest.raises(PrePostInputError, match="every valid score is the same"):
        fit_trajectories(d.assign(score=3.0), subject="id", time="week", value="score")
    with pytest.raises(PrePostInputError, match="time_unit"):
        fit_trajectories(d, subject="id", time="week", value="score", time_unit="per week!")
    copy = d.copy()
    fit_trajectories(d, subject="id", time="week", value="score")
    pd.testing.assert_frame_equal(d, copy)


def test_change_programme_weekly_change_matches_truth() -> None:
    from evaltoolkit.data import load_extracts
    from evaltoolkit.rom import score

    ex = load_extracts(DATA, window=("2019-04-01", "2025-04-01"), max_open_days=365)
    truth = json.loads((DATA / "truth.json").read_text())["rom"]
    long = pd.concat(
        [
            score(ex["rom_responses"].data, k, keep_columns=["patient_id", "session"]).assign(outcome=k)
            for k in ("phq9", "gad7")
        ],
        ignore_index=True,
    )
    fit = fit_trajectories(long, subject="patient_id", time="session", value="total", outcome="outcome")
    assert fit.random_slopes == {"phq9": True, "gad7": True}
    for k in ("phq9", "gad7"):
        expected = np.array(truth["instruments"][k]["expected_scored_total_by_session"])
        end = get(fit, "change_at_end", k)
        assert end["ci_lower"] < expected[9] - expected[0] < end["ci_upper"]
        weekly = np.polyfit(np.arange(10), expected, 1)[0]
        assert get(fit, "change_per_week", k)["estimate"] == pytest.approx(weekly, rel=0.15)
        assert get(fit, "mean_at_start", k)["estimate"] == pytest.approx(expected[0], rel=0.1)
        assert end["n"] > 250  # drop-outs contribute until they leave
