"""Design construction of :mod:`evaltoolkit.its`: term coding, segments, seasonality, controlled designs.

Expected columns are written out by hand from the coding rules (Stata itsa convention).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.its import build_its_design


def frame(n: int = 12, **extra: object) -> pd.DataFrame:
    return pd.DataFrame({"t": np.arange(1, n + 1), "y": np.linspace(10.0, 20.0, n), **extra})


def test_level_and_slope_coding_matches_stata_itsa():
    d = build_its_design(frame(10), outcome="y", time="t", interruptions=5)
    assert d.terms == ("intercept", "pre_slope", "level_change", "slope_change")
    np.testing.assert_array_equal(d.X["pre_slope"], np.arange(1, 11))
    # first post-interruption period t = 5: level on, time since interruption 0 there
    np.testing.assert_array_equal(d.X["level_change"], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(d.X["slope_change"], [0, 0, 0, 0, 0, 1, 2, 3, 4, 5])
    assert d.segment_points == (4, 6)
    np.testing.assert_array_equal(d.frame["segment"], [0] * 4 + [1] * 6)
    assert d.effect_terms == ("level_change", "slope_change")
    # the counterfactual matrix zeroes exactly the intervention terms
    assert (d.X_counterfactual[["level_change", "slope_change"]] == 0).all().all()
    pd.testing.assert_frame_equal(
        d.X_counterfactual[["intercept", "pre_slope"]], d.X[["intercept", "pre_slope"]]
    )


@pytest.mark.parametrize(
    ("effect", "terms"),
    [
        ("level", ("intercept", "pre_slope", "level_change")),
        ("slope", ("intercept", "pre_slope", "slope_change")),
    ],
)
def test_effect_option_selects_terms(effect, terms):
    assert build_its_design(frame(), outcome="y", time="t", interruptions=6, effect=effect).terms == terms


def test_multiple_interruptions_get_suffixes():
    d = build_its_design(frame(15), outcome="y", time="t", interruptions=[5, 11])
    assert d.terms == (
        "intercept", "pre_slope", "level_change", "slope_change", "level_change_2", "slope_change_2",
    )  # fmt: skip
    np.testing.assert_array_equal(d.X["level_change_2"], [0] * 10 + [1] * 5)
    np.testing.assert_array_equal(d.X["slope_change_2"], [0] * 10 + [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(d.X["slope_change"], [0] * 4 + list(range(11)))
    assert d.segment_points == (4, 6, 5)
    assert d.interruption_terms == (("level_change", "slope_change"), ("level_change_2", "slope_change_2"))


def test_transition_exclude_moves_the_post_segment_start():
    d = build_its_design(frame(14), outcome="y", time="t", interruptions=5, transition=2)
    # periods 5 and 6 are the phase-in: excluded; post segment starts at 7 with time since = 0
    np.testing.assert_array_equal(d.frame["in_fit"], [True] * 4 + [False] * 2 + [True] * 8)
    np.testing.assert_array_equal(d.frame["in_transition"], [False] * 4 + [True] * 2 + [False] * 8)
    np.testing.assert_array_equal(d.X["level_change"], [0] * 6 + [1] * 8)
    np.testing.assert_array_equal(d.X["slope_change"], [0] * 6 + list(range(8)))
    assert d.post_start_t == (7,) and d.interruption_t == (5,)
    assert d.segment_points == (4, 8)


def test_transition_ramp_rises_linearly_through_the_phase_in():
    d = build_its_design(
        frame(14), outcome="y", time="t", interruptions=5, transition=2, transition_shape="ramp"
    )
    np.testing.assert_allclose(d.X["level_change"], [0, 0, 0, 0, 1 / 3, 2 / 3] + [1] * 8)
    np.testing.assert_array_equal(d.X["slope_change"], [0] * 6 + list(range(8)))
    assert d.frame["in_fit"].all()
    assert d.segment_points == (4, 10)


def test_controlled_design_follows_itsa_multiple_group_terms():
    a = frame(8).assign(site="A")
    b = frame(8).assign(site="B")
    c = frame(8).assign(site="C")
    data = pd.concat([b, a, c], ignore_index=True)  # unsorted groups
    d = build_its_design(data, outcome="y", time="t", interruptions=5, group="site", treated="B")
    assert d.terms == (
        "intercept", "pre_slope", "level_change", "slope_change",
        "diff_intercept", "diff_pre_slope", "diff_level_change", "diff_slope_change",
    )  # fmt: skip
    assert d.effect_terms == ("diff_level_change", "diff_slope_change")
    # rows sorted by group then time; the 'row' column points back to the input
    assert d.frame["group"].tolist() == ["A"] * 8 + ["B"] * 8 + ["C"] * 8
    np.testing.assert_array_equal(d.frame["row"].to_numpy()[:8], np.arange(8, 16))
    z = (d.frame["group"] == "B").to_numpy(dtype=float)
    np.testing.assert_array_equal(d.X["diff_intercept"], z)
    np.testing.assert_array_equal(d.X["diff_pre_slope"], z * np.tile(np.arange(1, 9), 3))
    np.testing.assert_array_equal(d.X["diff_slope_change"], z * np.tile([0, 0, 0, 0, 0, 1, 2, 3], 3))
    # counterfactual keeps the controls' own changes for the treated series
    assert (d.X_counterfactual["level_change"] == d.X["level_change"]).all()
    assert (d.X_counterfactual["diff_level_change"] == 0).all()


def test_monthly_dates_fourier_uses_calendar_month():
    data = pd.DataFrame({"m": pd.date_range("2020-04-01", periods=24, freq="MS"), "y": np.arange(24.0)})
    d = build_its_design(data, outcome="y", time="m", interruptions="2021-04-01", seasonality=1)
    assert d.freq == "month" and d.period == 12.0
    month = np.r_[np.arange(4, 13), np.arange(1, 13), np.arange(1, 4)]
    np.testing.assert_allclose(d.X["sin_1"], np.sin(2 * np.pi * month / 12))
    np.testing.assert_allclose(d.X["cos_1"], np.cos(2 * np.pi * month / 12))
    np.testing.assert_array_equal(d.X["pre_slope"], np.arange(1, 25))  # t counts months from the first


def test_month_indicators():
    data = pd.DataFrame({"m": pd.date_range("2019-01-01", periods=36, freq="MS"), "y": np.arange(36.0)})
    d = build_its_design(data, outcome="y", time="m", interruptions="2020-07-01", seasonality="month")
    assert d.seasonal_terms == tuple(f"month_{k}" for k in range(2, 13))
    np.testing.assert_array_equal(d.X["month_3"], np.tile(np.eye(12)[2], 3))


def test_weekly_dates_default_period_52_and_position_harmonics():
    data = pd.DataFrame({"w": pd.date_range("2021-01-04", periods=120, freq="7D"), "y": np.arange(120.0)})
    d = build_its_design(data, outcome="y", time="w", interruptions=data["w"][60], seasonality=2)
    assert d.freq == "week" and d.period == 52.0
    t = np.arange(1, 121)
    np.testing.assert_allclose(d.X["sin_2"], np.sin(2 * np.pi * 2 * t / 52))


def test_quarterly_and_month_end_dates():
    q = pd.DataFrame({"q": pd.date_range("2015-01-01", periods=16, freq="QS"), "y": np.arange(16.0)})
    dq = build_its_design(q, outcome="y", time="q", interruptions="2017-01-01")
    assert dq.freq == "quarter" and dq.interruption_t == (9,)
    me = pd.DataFrame({"m": pd.date_range("2020-01-31", periods=12, freq="ME"), "y": np.arange(12.0)})
    dm = build_its_design(me, outcome="y", time="m", interruptions="2020-07-31")
    assert dm.freq == "month" and dm.interruption_t == (7,)


def test_integer_fourier_needs_period_and_uses_t():
    d = build_its_design(frame(24), outcome="y", time="t", interruptions=13, seasonality=1, period=6)
    np.testing.assert_allclose(d.X["cos_1"], np.cos(2 * np.pi * np.arange(1, 25) / 6))


def test_year_column_is_reindexed_from_one():
    data = pd.DataFrame({"year": np.arange(2001, 2013), "y": np.arange(12.0)})
    d = build_its_design(data, outcome="y", time="year", interruptions=2007)
    np.testing.assert_array_equal(d.X["pre_slope"], np.arange(1, 13))
    assert d.interruption_t == (7,) and d.time_of(7) == 2007


def test_covariates_and_offset_carried():
    data = frame(12, pop=np.full(12, 1000.0), temp=np.arange(12.0) % 5, holiday=[True, False] * 6)
    d = build_its_design(
        data,
        outcome="y",
        time="t",
        interruptions=7,
        family="quasipoisson",
        offset="pop",
        covariates=["temp", "holiday"],
    )
    assert d.terms[-2:] == ("temp", "holiday")
    np.testing.assert_array_equal(d.X["holiday"], [1.0, 0.0] * 6)
    np.testing.assert_array_equal(d.frame["offset"], np.full(12, 1000.0))


def test_input_is_not_mutated():
    data = frame(12).iloc[::-1]
    before = data.copy()
    build_its_design(data, outcome="y", time="t", interruptions=7)
    pd.testing.assert_frame_equal(data, before)
