"""Placebo and robustness checks (evaltoolkit.its.robustness_checks), ITSResult.refit and the fit guards.

Series are simulated with a known structure; where an estimate is exact, the data are straight lines plus
the pattern (0.4, -0.4, -0.4, 0.4), which is orthogonal to a line on any segment whose length is a multiple
of 4 (so OLS returns the lines' coefficients exactly: hand-computable values).
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaltoolkit.its import (
    AutocorrelationWarning,
    ExtrapolationWarning,
    ITSInputError,
    ITSWarning,
    RobustnessChecks,
    ShortSeriesWarning,
    robustness_checks,
)
from evaltoolkit.its import (
    fit_its as _fit_its,
)

# expected values here are the classical OLS/GLM fits (R lm/glm), whatever the default method
fit_its = partial(_fit_its, method="ols")

PATTERN = np.array([0.4, -0.4, -0.4, 0.4])


def line_series(n_pre: int, n_post: int, *, level: float = -6.0, slope: float = 1.0) -> pd.DataFrame:
    t = np.arange(1, n_pre + n_post + 1)
    y = 50 + slope * t + level * (t > n_pre) + np.tile(PATTERN, len(t) // 4)
    return pd.DataFrame({"month": pd.date_range("2020-01-01", periods=len(t), freq="MS"), "y": y})


def controlled(n_controls: int, n: int = 28, at: int = 17) -> pd.DataFrame:
    """Treated series A (level change -5 at ``at``) and controls on one straight line (the pooled control
    series of a controlled ITS has one intercept and slope), all plus the pattern."""
    t = np.arange(1, n + 1)
    e = np.tile(PATTERN, n // 4)
    rows = [pd.DataFrame({"t": t, "site": "A", "y": 30 + 0.5 * t - 5 * (t >= at) + e})]
    for k in range(n_controls):
        rows.append(pd.DataFrame({"t": t, "site": "BCDE"[k], "y": 20 + 0.2 * t + e}))
    return pd.concat(rows, ignore_index=True)


# --- refit ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"method": "gls-reml"},
        {"se_type": "newey-west", "lags": 1},
    ],
)
def test_refit_without_changes_reproduces_the_fit_exactly(options):
    rng = np.random.default_rng(1)
    df = line_series(24, 12).assign(y=lambda d: d["y"] + rng.normal(0, 1, len(d)))
    res = fit_its(df, outcome="y", time="month", interruptions="2022-01-01", **options)
    again = res.refit()
    assert np.array_equal(again.params, res.params)
    assert np.array_equal(again.cov, res.cov)
    assert again.warnings == res.warnings


def test_refit_of_counts_is_exact_and_changes_apply():
    rng = np.random.default_rng(2)
    t = np.arange(1, 37)
    df = pd.DataFrame({"t": t, "n": rng.poisson(np.exp(3 + 0.01 * t - 0.3 * (t >= 19)))})
    res = fit_its(df, outcome="n", time="t", interruptions=19, family="quasipoisson")
    assert np.array_equal(res.refit().params, res.params)
    level_only = res.refit(effect="level")
    assert level_only.terms == ("intercept", "pre_slope", "level_change")
    assert res.terms == ("intercept", "pre_slope", "level_change", "slope_change")  # unchanged


def test_refit_uses_a_private_copy_of_the_data():
    df = line_series(12, 8)
    res = fit_its(df, outcome="y", time="month", interruptions="2021-01-01")
    df.loc[:, "y"] = 0.0  # the caller edits the frame after fitting
    assert np.array_equal(res.refit().params, res.params)


def test_results_stay_picklable_and_refit_after_unpickling():
    import pickle

    res = fit_its(line_series(12, 8), outcome="y", time="month", interruptions="2021-01-01")
    again = pickle.loads(pickle.dumps(res))
    assert np.array_equal(again.refit().params, res.params)


def test_refit_rejects_unknown_keywords_and_results_not_from_fit_its():
    res = fit_its(line_series(12, 8), outcome="y", time="month", interruptions="2021-01-01")
    with pytest.raises(ITSInputError, match=r"refit\(\): unknown fit_its keyword\(s\) \['methd'\]"):
        res.refit(methd="gls-reml")
    bare = dataclasses.replace(res, _fit_kwargs=None)
    with pytest.raises(ITSInputError, match="refit\\(\\) needs a result made by fit_its"):
        bare.refit()
    with pytest.raises(ITSInputError, match="robustness_checks needs a result made by fit_its"):
        robustness_checks(bare)


# --- in-time placebo --------------------------------------------------------------------------------------
def _noise_series(rng: np.random.Generator, n_pre: int = 24, n_post: int = 12, pre_break: float = 0.0):
    t = np.arange(1, n_pre + n_post + 1)
    y = 20 + 0.3 * t + pre_break * (t >= 13) - 4 * (t > n_pre) + rng.normal(0, 1, t.size)
    return pd.DataFrame({"t": t, "y": y})


def test_in_time_placebo_covers_zero_at_the_nominal_rate_without_a_pre_period_break():
    rng = np.random.default_rng(20261204)
    n_series, covered = 200, 0
    for _ in range(n_series):
        with warnings.catch_warnings():
            # random series: the guards fire by chance on a few of them; not what is tested here
            warnings.simplefilter("ignore", AutocorrelationWarning)
            warnings.simplefilter("ignore", ExtrapolationWarning)
            res = fit_its(_noise_series(rng), outcome="y", time="t", interruptions=25)
        t = robustness_checks(res).table()
        row = t[(t["check"] == "in_time_placebo") & (t["term"] == "level_change")].iloc[0]
        assert row["label"] == "placebo at 13" and row["n"] == 24  # middle of the pre-period, pre data only
        covered += bool(row["ci_lower"] <= 0 <= row["ci_upper"])
    coverage = covered / n_series
    mc_se = math.sqrt(0.95 * 0.05 / n_series)  # OLS with iid errors: exact 95% intervals
    assert abs(coverage - 0.95) < 3 * mc_se, coverage


def test_in_time_placebo_detects_a_break_at_the_placebo_date_and_says_so():
    rng = np.random.default_rng(7)
    with warnings.catch_warnings():
        # the unmodelled pre-period break leaves autocorrelated residuals: that guard may fire here
        warnings.simplefilter("ignore", AutocorrelationWarning)
        res = fit_its(_noise_series(rng, pre_break=5.0), outcome="y", time="t", interruptions=25)
    checks = robustness_checks(res)
    t = checks.table()
    row = t[(t["check"] == "in_time_placebo") & (t["term"] == "level_change")].iloc[0]
    assert row["ci_lower"] > 0 and bool(row["significant"])
    assert abs(row["estimate"] - 5.0) < 4 * row["std_error"]
    signs = checks.warning_signs()
    assert len(signs) >= 1 and signs[0].startswith("in-time placebo (placebo at 13): level_change")
    assert "excludes 0 — a warning sign" in signs[0]
    assert "Warning signs:" in checks.summary() and "excludes 0" in checks.summary()


def test_in_time_placebo_never_uses_the_post_period():
    df = line_series(24, 12)
    res = fit_its(df, outcome="y", time="month", interruptions="2022-01-01")
    checks = robustness_checks(res, placebo_dates=["2021-01-01", "2021-05-01"])
    placebo = checks["placebo at 2021-01-01"]
    assert placebo is not None
    assert placebo.design.frame["time"].max() == pd.Timestamp("2021-12-01")  # last pre-period month
    assert placebo.n_obs == 24
    t = checks.table()
    # no break and no slope change in the pre-period line: both placebo effects are exactly 0
    placebo_rows = t[t["check"] == "in_time_placebo"]
    assert list(placebo_rows["label"]) == ["placebo at 2021-01-01"] * 2 + ["placebo at 2021-05-01"] * 2
    np.testing.assert_allclose(placebo_rows["estimate"], 0.0, atol=1e-9)
    assert checks.warning_signs() == [] and "No placebo interval excludes 0" in checks.summary()


def test_placebo_date_outside_the_pre_period_is_refused_with_the_range():
    res = fit_its(line_series(24, 12), outcome="y", time="month", interruptions="2022-01-01")
    with pytest.raises(ITSInputError) as err:
        robustness_checks(res, placebo_dates="2022-03-01")
    msg = str(err.value)
    assert "placebo_dates: '2022-03-01' is not inside the pre-period (2020-01-01 to 2021-12-01" in msg
    assert "the real interruption being 2022-01-01" in msg


def test_a_placebo_that_cannot_be_fitted_is_kept_as_failed():
    with pytest.warns(ShortSeriesWarning, match="only 4 points after interruption 2020-09-01"):
        res = fit_its(line_series(8, 4), outcome="y", time="month", interruptions="2020-09-01")
    with pytest.raises(ITSInputError):  # the pre-period's 2nd month: only 1 point before it
        robustness_checks(res, placebo_dates="2020-01-01")
    t = robustness_checks(res, placebo_dates="2020-03-01").table()
    failed = t[t["check"] == "in_time_placebo"].iloc[0]
    assert failed["status"] == "failed" and "ITSInputError" in failed["note"]
    assert math.isnan(failed["estimate"])


# --- in-space placebo and leave-one-out -------------------------------------------------------------------
def test_in_space_placebo_and_leave_one_out_with_three_controls():
    df = controlled(3)
    res = fit_its(df, outcome="y", time="t", interruptions=17, group="site", treated="A")
    checks = robustness_checks(res, in_time=False)
    t = checks.table()
    assert list(t["check"].unique()) == ["original", "in_space_placebo", "leave_one_out"]
    space = t[t["check"] == "in_space_placebo"]
    assert list(space["label"].unique()) == [f"control {c} as treated (vs other controls)" for c in "BCD"]
    assert set(space["term"]) == {"diff_level_change", "diff_slope_change"}
    np.testing.assert_allclose(space["estimate"], 0.0, atol=1e-9)  # straight-line controls: no change
    # each in-space fit leaves the treated series out: 3 series of 24
    assert (space["n"] == 84).all()
    loo = t[(t["check"] == "leave_one_out") & (t["term"] == "diff_level_change")]
    assert list(loo["label"]) == ["without control B", "without control C", "without control D"]
    np.testing.assert_allclose(loo["estimate"], -5.0, atol=1e-9)  # the treated series' true change
    original = t[(t["check"] == "original") & (t["term"] == "diff_level_change")].iloc[0]
    coef = res.coefficients().set_index("term").loc["diff_level_change"]
    assert original["estimate"] == coef["estimate"] and original["ci_lower"] == coef["ci_lower"]
    assert original["n"] == 112
    assert df.shape == (112, 3)  # input unchanged


def test_in_space_placebo_with_one_control_is_a_single_series_its():
    res = fit_its(controlled(1), outcome="y", time="t", interruptions=17, group="site", treated="A")
    t = robustness_checks(res, in_time=False).table()
    space = t[t["check"] == "in_space_placebo"]
    assert list(space["label"].unique()) == ["control B as treated (single series)"]
    assert list(space["term"]) == ["level_change", "slope_change"]
    np.testing.assert_allclose(space["estimate"], 0.0, atol=1e-9)
    assert (space["n"] == 28).all()
    assert "leave_one_out" not in set(t["check"])  # one control: nothing to leave out


def test_single_series_has_no_in_space_or_leave_one_out_rows():
    res = fit_its(line_series(24, 12), outcome="y", time="month", interruptions="2022-01-01")
    t = robustness_checks(res).table()
    assert set(t["check"]) == {"original", "in_time_placebo"}


# --- table, plot, dictionary -----------------------------------------------------------------------------
def test_table_columns_and_rate_ratios_for_counts():
    rng = np.random.default_rng(3)
    t = np.arange(1, 49)
    df = pd.DataFrame({"t": t, "n": rng.poisson(np.exp(3 + 0.005 * t - 0.3 * (t >= 25)))})
    res = fit_its(df, outcome="n", time="t", interruptions=25, family="poisson")
    table = robustness_checks(res).table()
    assert list(table.columns[:10]) == [
        "check",
        "label",
        "term",
        "estimate",
        "std_error",
        "ci_lower",
        "ci_upper",
        "p_value",
        "n",
        "method",
    ]
    assert {"rate_ratio", "rate_ratio_ci_lower", "rate_ratio_ci_upper"} <= set(table.columns)
    np.testing.assert_allclose(table["rate_ratio"], np.exp(table["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(table["rate_ratio_ci_upper"], np.exp(table["ci_upper"]), rtol=1e-12)
    assert set(table["method"]) == {"poisson"}


def test_plot_to_dict_and_repr():
    res = fit_its(controlled(3), outcome="y", time="t", interruptions=17, group="site", treated="A")
    checks = robustness_checks(res)
    assert isinstance(checks, RobustnessChecks)
    fig, ax = plt.subplots()
    out = checks.plot(ax=ax)
    assert out is ax
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels[0] == "original" and labels[-1] == "without control D"
    assert len(labels) == 1 + 1 + 3 + 3  # original, in-time placebo, 3 in-space, 3 left out
    plt.close(fig)
    with pytest.raises(ITSInputError, match=r"plot\(term=\.\.\.\) takes 'level_change' or 'slope_change'"):
        checks.plot(term="diff_level_change")
    d = checks.to_dict()
    json.dumps(d)
    assert d["checks"][0]["check"] == "original" and d["warning_signs"] == []
    assert repr(checks) == (
        "RobustnessChecks('y': in_time_placebo=1, in_space_placebo=3, leave_one_out=3; warning signs: 0)"
    )


# --- guards -----------------------------------------------------------------------------------------------
def test_a_well_behaved_fit_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_its(line_series(12, 8), outcome="y", time="month", interruptions="2021-01-01")
    assert res.warnings == ()
    assert not res.guards()["fired"].any()


def test_extrapolation_guard_by_hand():
    # pre: y = 51..62 on t = 1..12 plus the pattern, so observed 51.4 .. 62.4 and fitted 51 .. 62:
    # lo = 51, hi = 62.4, spread = 11.4, widened range [39.6, 73.8]; the counterfactual at t = 36 is 86
    df = line_series(12, 24)
    with pytest.warns(ExtrapolationWarning) as record:
        res = fit_its(df, outcome="y", time="month", interruptions="2021-01-01")
    g = res.guards().set_index("guard")
    assert g.loc["extrapolation", "fired"]
    assert g.loc["extrapolation", "value"] == pytest.approx((86 - 62.4) / 11.4, rel=1e-9)
    messages = [str(w.message) for w in record]
    assert any(
        "the counterfactual at the horizon 2022-12-01 (86) lies outside the pre-period's range [51, 62.4] "
        "widened by its spread on each side [39.6, 73.8]" in m
        for m in messages
    )
    # 12 pre-period months, 24 months to the horizon: the short-pre-period guard fires too
    assert g.loc["short_pre_period", "fired"]
    assert (g.loc["short_pre_period", "value"], g.loc["short_pre_period", "threshold"]) == (12.0, 24.0)
    assert any(
        "the pre-period has 12 periods but the horizon 2022-12-01 is 24 periods" in m for m in messages
    )
    assert all(m in res.warnings for m in messages)
    assert any(m in res.diagnostics().warnings for m in messages)
    assert any(n.startswith("Warning: the counterfactual at the horizon") for n in res.summary().notes)


def test_cumulative_effect_checks_its_own_horizon():
    with pytest.warns(ExtrapolationWarning):
        res = fit_its(line_series(12, 24), outcome="y", time="month", interruptions="2021-01-01")
    # horizon 2021-08-01 (8 months, counterfactual 70 inside [39.6, 73.8]): silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res.cumulative_effect(end="2021-08-01")
    assert not res.guards(horizon="2021-08-01")["fired"].any()
    # horizon 2022-06-01 (18 months, counterfactual 80 outside; 12 < 18 pre-period months): both guards
    with pytest.warns(ExtrapolationWarning) as record:
        res.cumulative_effect(end="2022-06-01")
    texts = [str(w.message) for w in record]
    assert any("at the horizon 2022-06-01 (80)" in m for m in texts)
    assert any("the horizon 2022-06-01 is 18 periods" in m for m in texts)


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    e = np.empty(n)
    e[0] = rng.normal(0, 1 / math.sqrt(1 - phi**2))
    for i in range(1, n):
        e[i] = phi * e[i - 1] + rng.normal()
    return e


def test_autocorrelation_guard_for_ols_with_r1_computed_independently():
    rng = np.random.default_rng(11)
    t = np.arange(1, 49)
    y = 20 + 0.2 * t - 3 * (t >= 25) + _ar1(rng, 48, 0.7)
    df = pd.DataFrame({"t": t, "y": y})
    with pytest.warns(AutocorrelationWarning) as record:
        res = fit_its(df, outcome="y", time="t", interruptions=25)
    X = np.column_stack([np.ones(48), t, t >= 25, np.maximum(t - 25, 0)])
    e = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    r1 = float(np.sum(e[1:] * e[:-1]) / np.sum(e**2))
    assert r1 >= 0.3
    g = res.guards().set_index("guard")
    assert g.loc["autocorrelation", "value"] == pytest.approx(r1, rel=1e-9)
    assert f"lag-1 residual autocorrelation is {r1:.3f}" in str(record[0].message)
    assert "se_type='newey-west'" in str(record[0].message)  # the advice names real keywords
    # the keywords it names are accepted and allow for autocorrelation: no autocorrelation guard
    nw = res.refit(se_type="newey-west", lags=1)
    assert "autocorrelation" not in set(nw.guards()["guard"])


def test_autocorrelation_guard_for_ar_methods_at_0_8():
    rng = np.random.default_rng(5)
    t = np.arange(1, 49)
    y = 20 + 0.1 * t - 3 * (t >= 25) + 3 * _ar1(rng, 48, 0.95)
    df = pd.DataFrame({"t": t, "y": y})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", ITSWarning)
        res = fit_its(df, outcome="y", time="t", interruptions=25, method="gls-reml")
    phi = res.ar_params[0]
    g = res.guards().set_index("guard")
    assert g.loc["autocorrelation", "value"] == pytest.approx(phi, rel=1e-12)
    fired = [w for w in record if w.category is AutocorrelationWarning]
    assert bool(g.loc["autocorrelation", "fired"]) == (0.8 <= phi < 0.99) == (len(fired) == 1)
    assert 0.8 <= phi < 0.99, phi  # this seed: a high but not boundary estimate
    assert f"AR persistence estimate is {phi:.3f} (≥ 0.8)" in str(fired[0].message)
