"""Bad input to :func:`evaltoolkit.its.fit_its`: a clear error naming column and rows, or an explicit warning.

Never a silent fit.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.errors import EvalToolkitError
from evaltoolkit.its import ExtrapolationWarning, ITSInputError, ShortSeriesWarning
from evaltoolkit.its import fit_its as _fit_its

# expected values here are the classical OLS/GLM fits (R lm/glm), whatever the default method
fit_its = partial(_fit_its, method="ols")


def series(n: int = 24, start: str = "2020-01-01") -> pd.DataFrame:
    t = np.arange(1, n + 1)
    return pd.DataFrame(
        {
            "month": pd.date_range(start, periods=n, freq="MS"),
            "t": t,
            "count": (40 + t + 3 * (t % 3)).astype("int64"),
            "pop": np.full(n, 5000.0),
        }
    )


def test_errors_are_toolkit_value_errors():
    assert issubclass(ITSInputError, EvalToolkitError) and issubclass(ITSInputError, ValueError)


def test_too_few_points_before_or_after():
    with pytest.raises(ITSInputError, match=r"too few points before the first interruption: 2 \(at least 3"):
        fit_its(series(), outcome="count", time="t", interruptions=3)
    with pytest.raises(ITSInputError, match=r"too few points after interruption 23: 2"):
        fit_its(series(), outcome="count", time="t", interruptions=23)
    with pytest.raises(ITSInputError, match=r"too few points: 6 fitted periods for 6 terms"):
        fit_its(series(6), outcome="count", time="t", interruptions=4, seasonality=1, period=12)


def test_interruption_outside_the_data():
    with pytest.raises(
        ITSInputError, match=r"interruption '2023-01-01' is outside the data.*2020-01-01 to 2021-12-01"
    ):
        fit_its(series(), outcome="count", time="month", interruptions="2023-01-01")
    with pytest.raises(ITSInputError, match="interruption 0 is outside the data"):
        fit_its(series(), outcome="count", time="t", interruptions=0)


def test_interruption_inside_a_period_starts_at_the_next_period():
    # an event date inside a period: the first period starting on or after it is the first post period
    inside = fit_its(series(), outcome="count", time="month", interruptions="2021-01-15")
    exact = fit_its(series(), outcome="count", time="month", interruptions="2021-02-01")
    assert inside.design.interruptions == (pd.Timestamp("2021-02-01"),)
    np.testing.assert_allclose(inside.params, exact.params)
    # after the start of the last period: the message names the next period start, beyond the data
    with pytest.raises(ITSInputError, match=r"'2021-12-15' is outside.*would be 2022-01-01, after the last"):
        fit_its(series(), outcome="count", time="month", interruptions="2021-12-15")


def test_interruptions_in_order_and_distinct():
    with pytest.raises(ITSInputError, match="increasing time order"):
        fit_its(series(), outcome="count", time="t", interruptions=[15, 8])


def test_non_positive_offset_names_rows():
    data = series()
    data.loc[[4, 9], "pop"] = [0.0, -3.0]
    with pytest.raises(ITSInputError, match=r"offset column 'pop' must be positive.*rows 4, 9"):
        fit_its(data, outcome="count", time="t", interruptions=13, family="poisson", offset="pop")
    data.loc[[4, 9], "pop"] = [np.nan, 1.0]
    with pytest.raises(ITSInputError, match=r"row 4 \(0-based"):
        fit_its(data, outcome="count", time="t", interruptions=13, family="poisson", offset="pop")


def test_offset_with_gaussian_is_rejected():
    with pytest.raises(ITSInputError, match="offset= applies to count families"):
        fit_its(series(), outcome="count", time="t", interruptions=13, offset="pop")


def test_missing_periods_are_listed():
    data = series().drop(index=[5, 6]).reset_index(drop=True)
    with pytest.raises(
        ITSInputError, match=r"missing periods in time column 'month': 2020-06-01, 2020-07-01"
    ):
        fit_its(data, outcome="count", time="month", interruptions="2021-01-01")
    with pytest.raises(ITSInputError, match=r"missing periods in time column 't': 6, 7"):
        fit_its(data, outcome="count", time="t", interruptions=13)


def test_duplicated_periods_name_rows():
    data = pd.concat([series(), series().iloc[[3]]], ignore_index=True)
    with pytest.raises(ITSInputError, match=r"duplicated periods in time column 't'.*rows 3, 24"):
        fit_its(data, outcome="count", time="t", interruptions=13)


def test_non_numeric_outcome_names_rows():
    data = series().astype({"count": object})
    data.loc[7, "count"] = "n/a"
    with pytest.raises(ITSInputError, match=r"outcome column 'count' is not numeric.*row 7.*'n/a'"):
        fit_its(data, outcome="count", time="t", interruptions=13)
    data = series().astype({"count": str})
    with pytest.raises(ITSInputError, match=r"'count' is not numeric .*pandas\.to_numeric"):
        fit_its(data, outcome="count", time="t", interruptions=13)


def test_missing_outcome_is_never_dropped():
    data = series().astype({"count": "float64"})
    data.loc[[2, 20], "count"] = np.nan
    with pytest.raises(ITSInputError, match=r"missing values in rows 2, 20.*never drops rows"):
        fit_its(data, outcome="count", time="t", interruptions=13)


def test_count_families_need_non_negative_whole_counts():
    data = series().astype({"count": "float64"})
    data.loc[3, "count"] = -1
    with pytest.raises(ITSInputError, match=r"non-negative counts.*row 3"):
        fit_its(data, outcome="count", time="t", interruptions=13, family="poisson")
    data.loc[3, "count"] = 2.5
    with pytest.raises(ITSInputError, match=r"whole-number counts.*row 3"):
        fit_its(data, outcome="count", time="t", interruptions=13, family="negbin")
    fit_its(data, outcome="count", time="t", interruptions=13, family="quasipoisson")  # allowed


def test_missing_columns():
    with pytest.raises(ITSInputError, match=r"column\(s\) 'visits' not found"):
        fit_its(series(), outcome="visits", time="t", interruptions=13)


def test_bad_time_values():
    data = series().astype({"t": "float64"})
    data.loc[4, "t"] = 4.5
    with pytest.raises(ITSInputError, match=r"whole numbers.*row 4"):
        fit_its(data, outcome="count", time="t", interruptions=13)
    data = series().astype({"month": object})
    data.loc[2, "month"] = "not a date"
    with pytest.raises(ITSInputError, match=r"neither numbers nor dates in row 2"):
        fit_its(data, outcome="count", time="month", interruptions="2021-01-01")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"family": "binomial"}, r"family='binomial' is not supported; choose one of 'gaussian'"),
        ({"method": "gls"}, r"method='gls' is not supported"),
        ({"se_type": "robust"}, r"se_type='robust' is not supported"),
        ({"effect": "step"}, r"effect='step' is not supported"),
        ({"transition": 1, "transition_shape": "linear"}, r"transition_shape='linear'"),
        ({"se_type": "newey-west"}, r"needs lags=L"),
        ({"lags": 2}, r"lags= is only used with se_type='newey-west'"),
        ({"method": "gls-reml", "se_type": "newey-west", "lags": 1}, r"applies to method='ols'"),
        ({"method": "prais-winsten", "family": "poisson"}, r"models AR errors for Gaussian outcomes"),
        ({"method": "gls-reml", "family": "negbin"}, r"models AR errors for Gaussian outcomes"),
        ({"method": "prais-winsten", "ar_order": 2}, r"AR\(1\) only"),
        ({"ar_order": 0}, r"ar_order must be a positive whole number"),
        ({"conf_level": 95}, r"conf_level must be strictly between 0 and 1"),
        ({"seasonality": 2}, r"needs period="),
        ({"seasonality": 6, "period": 12}, r"need period > 12"),
        ({"seasonality": "month"}, r"seasonality='month' needs a monthly, weekly or daily date column"),
        ({"period": 12}, r"period= is only used with seasonality="),
        ({"treated": "A"}, r"treated= needs group="),
        ({"transition": -1}, r"transition must be a non-negative whole number"),
        ({"transition": 12}, r"leaves no post-interruption periods"),
    ],
)
def test_option_errors(kwargs, message):
    with pytest.raises(ITSInputError, match=message):
        fit_its(series(), outcome="count", time="t", interruptions=13, **kwargs)


def test_controlled_design_errors():
    a = series().assign(site="A")
    b = series().assign(site="B")
    both = pd.concat([a, b], ignore_index=True)
    with pytest.raises(ITSInputError, match=r"group= needs treated="):
        fit_its(both, outcome="count", time="t", interruptions=13, group="site")
    with pytest.raises(ITSInputError, match=r"treated value\(s\) \['Z'\] not found"):
        fit_its(both, outcome="count", time="t", interruptions=13, group="site", treated="Z")
    with pytest.raises(ITSInputError, match=r"at least one control group"):
        fit_its(both, outcome="count", time="t", interruptions=13, group="site", treated=["A", "B"])
    short = pd.concat([a, b.iloc[:-1]], ignore_index=True)
    with pytest.raises(ITSInputError, match=r"cover different periods"):
        fit_its(short, outcome="count", time="t", interruptions=13, group="site", treated="B")
    with pytest.raises(ITSInputError, match=r"ma_order=1 \(MA errors\) needs method='arima'"):
        fit_its(both, outcome="count", time="t", interruptions=13, group="site", treated="B", ma_order=1)
    # the same period twice within a group is a duplicate, across groups it is not
    dup = pd.concat([both, b.iloc[[0]]], ignore_index=True)
    with pytest.raises(
        ITSInputError, match=r"duplicated periods in time column 't' within a group of 'site'"
    ):
        fit_its(dup, outcome="count", time="t", interruptions=13, group="site", treated="B")


def test_collinear_covariate():
    data = series().assign(copy_of_t=lambda d: 2.0 * d["t"])
    with pytest.raises(ITSInputError, match=r"rank deficient: term\(s\) \['copy_of_t'\]"):
        fit_its(data, outcome="count", time="t", interruptions=13, covariates="copy_of_t")


def test_short_segments_warn_and_are_recorded():
    with pytest.warns((ShortSeriesWarning, ExtrapolationWarning)) as record:
        res = fit_its(series(12), outcome="count", time="t", interruptions=6)
    short = [str(w.message)[:12] for w in record if w.category is ShortSeriesWarning]
    assert short == ["only 5 point", "only 7 point"]  # pre and post
    # 5 pre-period points for a 7-period post period: the short-pre-period guard fires too, and is recorded
    guard = [str(w.message) for w in record if w.category is ExtrapolationWarning]
    assert guard == [
        "the pre-period has 5 periods but the horizon 12 is 7 periods after the first "
        "interruption: the counterfactual is extrapolated further than the trend was observed"
    ]
    assert len(res.warnings) == 3 and "only 5 points before the first interruption" in res.warnings[0]
    assert res.warnings[2] == guard[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_its(series(16), outcome="count", time="t", interruptions=9)  # 8 and 8: no warning
