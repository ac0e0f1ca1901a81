"""Building blocks of the report: combining sites, publishing tables and text, automatic limitations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.its import fit_its
from evaltoolkit.protocol.schema import SeriesSpec
from evaltoolkit.report._data import published_series
from evaltoolkit.report._format import publish_count, publish_text_counts
from evaltoolkit.report._its import combine_sites, horizon_window, interruption_period, totals
from evaltoolkit.report._summary import limitations

RULE = {"low": 1, "high": 7, "round_to": 5}


def _site(seed: int, level: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2019-01-01", periods=48, freq="MS")
    t = np.arange(48)
    post = t >= 24
    mu = 2000 * np.exp(-3.0 + 0.004 * t + level * post)
    return pd.DataFrame({"period": months, "count": rng.poisson(mu), "population": 2000.0})


def _fit(frame: pd.DataFrame):
    return fit_its(
        frame,
        outcome="count",
        time="period",
        interruptions="2021-01-01",
        family="quasipoisson",
        offset="population",
    )


def test_one_site_combination_equals_the_library_cumulative_effect():
    res = _fit(_site(1, -0.2))
    start, end = pd.Timestamp("2021-01-01"), pd.Timestamp("2022-12-01")
    lib = res.cumulative_effect(start=start, end=end).iloc[0]
    mine = combine_sites([totals(res, start, end)], correlated=False)
    assert mine["estimate"] == pytest.approx(lib["estimate"], rel=1e-9)
    assert mine["ci_lower"] == pytest.approx(lib["ci_lower"], rel=1e-9)
    assert mine["relative_change"] == pytest.approx(lib["relative_change"], rel=1e-9)
    assert mine["relative_ci_lower"] == pytest.approx(lib["relative_ci_lower"], rel=1e-9)
    assert mine["relative_ci_upper"] == pytest.approx(lib["relative_ci_upper"], rel=1e-9)


def test_two_sites_add_variances_when_independent_and_sds_when_correlated():
    a, b = _fit(_site(2, -0.2)), _fit(_site(3, -0.1))
    start, end = pd.Timestamp("2021-01-01"), pd.Timestamp("2022-12-01")
    ca = a.cumulative_effect(start=start, end=end).iloc[0]
    cb = b.cumulative_effect(start=start, end=end).iloc[0]
    parts = [totals(a, start, end), totals(b, start, end)]
    ind = combine_sites(parts, correlated=False)
    cor = combine_sites(parts, correlated=True)
    assert ind["estimate"] == pytest.approx(ca["estimate"] + cb["estimate"])
    assert ind["std_error"] == pytest.approx(math.hypot(ca["std_error"], cb["std_error"]))
    assert cor["std_error"] == pytest.approx(ca["std_error"] + cb["std_error"])
    total_f = ca["fitted_total"] + cb["fitted_total"]
    total_c = ca["counterfactual_total"] + cb["counterfactual_total"]
    assert ind["relative_change"] == pytest.approx(total_f / total_c - 1)
    assert cor["relative_ci_lower"] < ind["relative_ci_lower"] < ind["relative_change"]


def test_interruption_and_horizon():
    assert interruption_period(pd.Timestamp("2022-10-01"), "QS") == pd.Timestamp("2022-10-01")
    assert interruption_period(pd.Timestamp("2022-11-01"), "QS") == pd.Timestamp("2023-01-01")
    last = pd.Timestamp("2025-03-01")
    assert horizon_window(pd.Timestamp("2021-04-01"), 24, "MS", last) == (
        pd.Timestamp("2021-04-01"),
        pd.Timestamp("2023-03-01"),
    )
    assert horizon_window(pd.Timestamp("2021-04-01"), 24, "QS", last)[1] == pd.Timestamp("2023-01-01")
    assert horizon_window(pd.Timestamp("2024-01-01"), 24, "MS", last)[1] == last


def test_published_series_suppresses_counts_and_derives_rates_from_them():
    table = pd.DataFrame(
        {
            "series": "s",
            "site": "A",
            "period": pd.date_range("2020-01-01", periods=4, freq="MS"),
            "value": [0, 3, 12, 13],
            "n_events": [0, 3, 12, 13],
            "population": [1000.0] * 4,
        }
    )
    spec = SeriesSpec(name="s", label="S", unit="events", source="attendances", per=1000)
    out = published_series(table, spec, RULE)
    assert out["value"].tolist() == ["0", "*", "10", "15"]
    rate = out["rate_per_1000"].tolist()
    assert rate[0] == 0 and math.isnan(rate[1]) and rate[2:] == [10.0, 15.0]
    los = table.assign(value=[np.nan, 4.5, 6.0, 8.0])
    spec_los = SeriesSpec(
        name="s", label="S", unit="days", source="spells", measure="mean_los", denominator=None
    )
    out = published_series(los, spec_los, RULE)
    assert out["discharges"].tolist() == ["0", "*", "10", "15"]
    assert math.isnan(out["value"].iloc[1]) and out["value"].iloc[2] == 6.0  # a mean of 1–7 spells is blank


def test_publishing_counts_and_counts_in_prose():
    assert [publish_count(v, RULE) for v in (0, 1, 7, 8, 22, 23, 1234)] == [0, "*", "*", 10, 20, 25, 1235]
    assert publish_count(5, None) == 5
    with pytest.raises(ValueError):
        publish_count(2.5, RULE)
    text = "Among 79 patients (n = 4); 12 complete cases; SD 9.762; 3.5 patients"
    assert publish_text_counts(text, RULE) == (
        "Among about 80 patients (n < 8); about 10 complete cases; SD 9.762; 3.5 patients"
    )


def _fit_record(**kw):
    base = {
        "series": "s",
        "site": "A",
        "method_id": "m0",
        "method": "primary",
        "primary": True,
        "family": "quasipoisson",
        "status": "ok",
        "pre_points": 24,
        "dispersion": 1.2,
        "diagnostics": {"autocorrelation_p": 0.5, "seasonal_terms": ["sin_1", "cos_1"]},
    }
    return base | kw


def _results(fits, **kw):
    base = {
        "series": [{"name": "s", "label": "Attendances", "frequency": "MS"}],
        "its": {
            "fits": fits,
            "combined": [],
            "methods": [{"label": "NW", "options": {"se": "newey-west", "method": "ols"}}],
        },
        "intervention": {"co_interventions": []},
        "protocol": {"report": {"min_pre_months": 12, "max_missing_fraction": 0.2}},
        "data": {"inputs": []},
        "suppression": {"rule": "nhs"},
    }
    return base | kw


def test_limitations_are_flagged_from_the_results():
    clean = {x["id"] for x in limitations(_results([_fit_record()]))}
    assert clean == {"co_interventions"}  # none declared: still flagged, with different wording
    flagged = limitations(
        _results(
            [
                _fit_record(
                    pre_points=6,
                    family="poisson",
                    dispersion=2.5,
                    diagnostics={"autocorrelation_p": 0.01, "seasonal_terms": []},
                )
            ],
            intervention={"co_interventions": ["A new crisis line."]},
            suppression={"rule": "none"},
        )
    )
    ids = {x["id"]: x["text"] for x in flagged}
    assert set(ids) == {
        "few_pre_points",
        "autocorrelation",
        "seasonality_not_modelled",
        "overdispersion",
        "co_interventions",
        "no_suppression",
    }
    assert "attendances at A (6 months)" in ids["few_pre_points"]
    assert "'NW' allows for it" in ids["autocorrelation"]
    assert (
        "A new crisis line;" not in ids["co_interventions"] and "A new crisis line" in ids["co_interventions"]
    )
