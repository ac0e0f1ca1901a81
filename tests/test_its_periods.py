"""Event dates inside a period, excluded periods, level-shift dummies and named interruptions.

Expected estimates come from statsmodels OLS on design matrices built by hand in the tests (rows dropped
by hand for excluded periods), never from the toolkit's own design.
"""

from __future__ import annotations

import json
from functools import partial

import matplotlib
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaltoolkit.its import ITSInputError
from evaltoolkit.its import fit_its as _fit_its

# These tests check designs and R parity on short made-up series whose horizons extrapolate the pre-period
# trend, and OLS fits of series with autocorrelated noise; the guards are tested in test_its_robustness.py.
pytestmark = [
    pytest.mark.filterwarnings("ignore::evaltoolkit.its.errors.ExtrapolationWarning"),
    pytest.mark.filterwarnings("ignore::evaltoolkit.its.errors.AutocorrelationWarning"),
]

fit_its = partial(_fit_its, method="ols")  # expected values are OLS/GLM, whatever the default

matplotlib.use("Agg")

NOISE = np.tile([0.4, -0.4, -0.4, 0.4, 0.1, -0.3], 10)


def monthly(n: int = 48, start: str = "1981-01-01") -> pd.DataFrame:
    t = np.arange(1, n + 1)
    y = 50 + 0.5 * t - 6 * (t >= 25) + 0.2 * np.maximum(t - 25, 0) + NOISE[:n] + 3 * ((t >= 10) & (t <= 13))
    return pd.DataFrame({"month": pd.date_range(start, periods=n, freq="MS"), "t": t, "y": y})


def ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fit = sm.OLS(y, X).fit()
    return np.asarray(fit.params), np.asarray(fit.bse)


# ---- mid-period event dates -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("freq", "start", "given", "used", "label"),
    [
        ("MS", "1981-01-01", "1983-01-31", "1983-02-01", "1983-02"),  # the law that started on 31 January
        ("MS", "1981-01-01", "1983-01-01", "1983-01-01", None),  # a period start is used as given
        ("QS", "1979-01-01", "1983-02-15", "1983-04-01", "1983-Q2"),
        ("7D", "1982-06-07", "1982-11-03", "1982-11-08", "1982-11-08"),  # Mondays; the event on a Wednesday
    ],
)
def test_event_date_inside_a_period_uses_the_first_period_starting_on_or_after_it(
    freq, start, given, used, label
):
    df = pd.DataFrame({"time": pd.date_range(start, periods=40, freq=freq), "y": 10 + NOISE[:40]})
    df["y"] += np.arange(40) * 0.3
    res = fit_its(df, outcome="y", time="time", interruptions=given)
    assert res.design.interruptions == (pd.Timestamp(used),)
    T = int(np.flatnonzero(df["time"] == pd.Timestamp(used))[0]) + 1
    t = np.arange(1, 41)
    X = np.column_stack([np.ones(40), t, t >= T, np.maximum(t - T, 0)]).astype(float)
    np.testing.assert_allclose(res.params, ols(X, df["y"].to_numpy())[0], rtol=1e-9)
    table = res.to_dict()["model"]["interruption_table"]
    assert table == [{"name": None, "given": given, "first_post_period": used}]
    text = res.summary().as_text()
    if label is None:
        assert "→" not in text
    else:
        assert f"interruption {given} → first post period {label}" in text


def test_event_date_in_the_last_period_names_the_next_period_start():
    df = monthly()
    with pytest.raises(ITSInputError, match=r"'1984-12-20' is outside the data.*would be 1985-01-01"):
        fit_its(df, outcome="y", time="month", interruptions="1984-12-20")
    quarterly = pd.DataFrame({"q": pd.date_range("2015-01-01", periods=20, freq="QS"), "y": NOISE[:20]})
    with pytest.raises(ITSInputError, match=r"would be 2020-01-01, after the last period"):
        fit_its(quarterly, outcome="y", time="q", interruptions="2019-11-30")


def test_two_event_dates_in_one_period_are_refused_with_the_periods_used():
    with pytest.raises(
        ITSInputError, match=r"distinct.*first post-interruption periods 1983-02-01, 1983-02-01"
    ):
        fit_its(monthly(), outcome="y", time="month", interruptions=["1983-01-20", "1983-01-31"])


# ---- excluded periods -------------------------------------------------------------------------------
def test_excluded_periods_are_dropped_from_the_fit_and_kept_in_predictions():
    df = monthly()
    res = fit_its(
        df,
        outcome="y",
        time="month",
        interruptions="1983-01-01",
        exclude_periods=[("1981-10-01", "1982-01-01")],
    )
    keep = ~df["t"].between(10, 13).to_numpy()
    t = df["t"].to_numpy()
    X = np.column_stack([np.ones(48), t, t >= 25, np.maximum(t - 25, 0)]).astype(float)
    beta, se = ols(X[keep], df["y"].to_numpy()[keep])
    np.testing.assert_allclose(res.params, beta, rtol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), se, rtol=1e-9)
    assert res.n_obs == 44 and res.design.segment_points == (20, 24)
    p = res.predictions()
    assert p["excluded"].sum() == 4 and p.loc[p["excluded"], "time"].dt.strftime("%Y-%m").tolist() == [
        "1981-10", "1981-11", "1981-12", "1982-01",
    ]  # fmt: skip
    assert p.loc[p["excluded"], "fitted"].isna().all() and p.loc[p["excluded"], "observed"].notna().all()
    d = res.to_dict()
    assert d["model"]["exclude_periods"] == [{"start": "1981-10-01", "end": "1982-01-01", "n_periods": 4}]
    assert "Excluded periods    1981-10-01 to 1982-01-01 (4 periods not fitted)" in res.summary().as_text()
    json.dumps(d)
    ax = res.plot()
    assert "excluded period" in ax.get_legend_handles_labels()[1]
    matplotlib.pyplot.close(ax.figure)


def test_excluded_range_mapped_by_period_start_dates():
    # a period is excluded when its start date lies in [start, end]: mid-month bounds round inwards
    res = fit_its(
        monthly(),
        outcome="y",
        time="month",
        interruptions="1983-01-01",
        exclude_periods=("1981-09-15", "1982-01-20"),
    )
    assert res.predictions().loc[lambda p: p["excluded"], "t"].tolist() == [10, 11, 12, 13]


def test_excluded_range_errors_name_the_range():
    df = monthly()
    with pytest.raises(
        ITSInputError,
        match=r"range 1982-12-01 to 1983-03-01 covers the first post-interruption period 1983-01-01",
    ):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions="1983-01-01",
            exclude_periods=[("1982-12-01", "1983-03-01")],
        )
    with pytest.raises(
        ITSInputError,
        match=r"too few points before the first interruption: 2.*"
        r"range 1981-03-01 to 1982-12-01 leaves 2 of 24",
    ):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions="1983-01-01",
            exclude_periods=[("1981-03-01", "1982-12-01")],
        )
    with pytest.raises(
        ITSInputError, match=r"exclude_periods: range 1982-05-01 to 1982-02-01 ends before it starts"
    ):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions="1983-01-01",
            exclude_periods=[("1982-05-01", "1982-02-01")],
        )
    with pytest.raises(
        ITSInputError, match=r"exclude_periods: range 1990-01-01 to 1990-03-01 holds no period"
    ):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions="1983-01-01",
            exclude_periods=[("1990-01-01", "1990-03-01")],
        )
    with pytest.raises(ITSInputError, match=r"exclude_periods start"):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions="1983-01-01",
            exclude_periods=[("03/1982", "1982-05-01")],
        )
    with pytest.raises(
        ITSInputError, match=r"exclude_periods: the range \('1982-01-01', None\) needs an end"
    ):
        fit_its(
            df, outcome="y", time="month", interruptions="1983-01-01", exclude_periods=[("1982-01-01", None)]
        )


# ---- level shifts -----------------------------------------------------------------------------------
def test_level_shift_is_a_dummy_reported_but_not_an_effect():
    df = monthly()
    res = fit_its(
        df,
        outcome="y",
        time="month",
        interruptions="1983-01-01",
        level_shifts={"covid": ("1981-10-01", "1982-01-01")},
    )
    t = df["t"].to_numpy()
    X = np.column_stack([np.ones(48), t, t >= 25, np.maximum(t - 25, 0), (t >= 10) & (t <= 13)]).astype(float)
    beta, se = ols(X, df["y"].to_numpy())
    np.testing.assert_allclose(res.params, beta, rtol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), se, rtol=1e-9)
    c = res.coefficients().set_index("term")
    np.testing.assert_allclose(c.loc["shift_covid", "estimate"], 3.0, atol=0.5)  # simulated +3
    assert "shift_covid" not in res.design.effect_terms
    assert not res.effects()["term"].str.contains("shift").any()
    # the counterfactual keeps the shift: it is part of what would have happened anyway
    np.testing.assert_allclose(res.design.X_counterfactual["shift_covid"], res.design.X["shift_covid"])
    assert res.to_dict()["model"]["level_shifts"] == [
        {"name": "covid", "term": "shift_covid", "start": "1981-10-01", "end": "1982-01-01"}
    ]
    ax = res.plot()
    assert "level shift: covid" in ax.get_legend_handles_labels()[1]
    matplotlib.pyplot.close(ax.figure)


def test_open_ended_level_shift_runs_to_the_end():
    res = fit_its(
        monthly(),
        outcome="y",
        time="month",
        interruptions="1983-01-01",
        level_shifts={"tariff": "1984-03-01"},
    )
    assert res.design.X["shift_tariff"].tolist() == [0.0] * 38 + [1.0] * 10
    assert res.to_dict()["model"]["level_shifts"][0]["end"] is None
    assert "shift_tariff: 1984-03-01 to the end" in res.summary().as_text()


def test_level_shift_errors():
    df = monthly()
    with pytest.raises(ITSInputError, match=r"level shift name 'covid-19' must start with a letter"):
        fit_its(
            df, outcome="y", time="month", interruptions="1983-01-01", level_shifts={"covid-19": "1982-01-01"}
        )
    with pytest.raises(ITSInputError, match=r"level_shifts must be a mapping"):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions="1983-01-01",
            level_shifts=[("1982-01-01", "1982-03-01")],
        )
    with pytest.raises(ITSInputError, match=r"level_shifts\['x'\] start"):
        fit_its(df, outcome="y", time="month", interruptions="1983-01-01", level_shifts={"x": ("soon", None)})
    # a shift over the whole post period duplicates level_change: refused as collinear, naming the term
    with pytest.raises(ITSInputError, match=r"rank deficient.*shift_x"):
        fit_its(df, outcome="y", time="month", interruptions="1983-01-01", level_shifts={"x": "1983-01-01"})


# ---- named interruptions ----------------------------------------------------------------------------
def test_named_interruptions_keep_the_first_terms_and_name_the_later_ones():
    df = monthly()
    plain = fit_its(df, outcome="y", time="month", interruptions=["1982-07-01", "1983-07-01"])
    named = fit_its(
        df,
        outcome="y",
        time="month",
        interruptions=["1982-07-01", "1983-07-01"],
        interruption_names=["go_live", "expansion"],
    )
    assert plain.terms[-2:] == ("level_change_2", "slope_change_2")
    assert named.terms == (
        "intercept", "pre_slope", "level_change", "slope_change", "level_change_expansion",
        "slope_change_expansion",
    )  # fmt: skip
    np.testing.assert_allclose(named.params, plain.params)
    e = named.effects()
    assert e.loc[e["interruption"] == 2, "term"].unique().tolist() == [
        "post_slope_expansion", "absolute_change_expansion", "relative_change_expansion",
    ]  # fmt: skip
    np.testing.assert_allclose(
        e.loc[e["term"] == "post_slope_expansion", "estimate"],
        plain.effects().query("term == 'post_slope_2'")["estimate"],
    )
    assert "go_live: 1982-07-01; expansion: 1983-07-01" in named.summary().as_text()
    assert named.to_dict()["model"]["interruption_names"] == ["go_live", "expansion"]


def test_interruption_name_errors():
    df = monthly()
    with pytest.raises(ITSInputError, match=r"interruption_names has 1 name\(s\) for 2 interruption\(s\)"):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions=["1982-07-01", "1983-07-01"],
            interruption_names=["a"],
        )
    with pytest.raises(ITSInputError, match=r"interruption name 'phase 2' must start with a letter"):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions=["1982-07-01", "1983-07-01"],
            interruption_names=["a", "phase 2"],
        )
    with pytest.raises(ITSInputError, match=r"interruption_names must be distinct"):
        fit_its(
            df,
            outcome="y",
            time="month",
            interruptions=["1982-07-01", "1983-07-01"],
            interruption_names=["a", "a"],
        )


def test_cumulative_effect_bounds_inside_a_period_name_the_next_period_start():
    res = fit_its(monthly(), outcome="y", time="month", interruptions="1983-01-01")
    with pytest.raises(
        ITSInputError, match=r"start='1983-03-15' is not one of the periods.*next period starts 1983-04-01"
    ):
        res.cumulative_effect(start="1983-03-15")
