"""Tests for evaltoolkit.series.rates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series import count_events, rates


def series(counts: list[int], site: str = "A") -> pd.DataFrame:
    periods = pd.date_range("2024-01-01", periods=len(counts), freq="MS")
    return pd.DataFrame({"period": periods, "site": site, "count": counts})


def population(values: list[int], site: str = "A") -> pd.DataFrame:
    periods = pd.date_range("2024-01-01", periods=len(values), freq="MS")
    return pd.DataFrame({"site": site, "period": periods, "population": values})


def test_rate_and_exact_poisson_interval_against_published_values() -> None:
    # Exact (Garwood) 95% limits for a Poisson count, as tabulated (e.g. Ulm 1990, Am J Epidemiol):
    # k=0: (0, 3.689); k=1: (0.0253, 5.572); k=5: (1.623, 11.668); k=10: (4.795, 18.390).
    out = rates(series([0, 1, 5, 10]), population([10_000] * 4), per=10_000)
    assert out["rate"].tolist() == [0.0, 1.0, 5.0, 10.0]
    np.testing.assert_allclose(out["rate_ci_lower"], [0.0, 0.0253, 1.6235, 4.7954], atol=6e-4)
    np.testing.assert_allclose(out["rate_ci_upper"], [3.6889, 5.5716, 11.6683, 18.3904], atol=6e-4)
    assert list(out.columns) == [
        "period",
        "site",
        "count",
        "population",
        "rate",
        "rate_ci_lower",
        "rate_ci_upper",
    ]


def test_interval_matches_gamma_formulation_at_other_level() -> None:
    out = rates(series([3, 40]), population([2_000, 2_000]), per=1_000, conf_level=0.9)
    k = np.array([3, 40])
    lower = stats.gamma.ppf(0.05, k) / 2_000 * 1_000
    upper = stats.gamma.ppf(0.95, k + 1) / 2_000 * 1_000
    np.testing.assert_allclose(out["rate_ci_lower"], lower, rtol=1e-10)
    np.testing.assert_allclose(out["rate_ci_upper"], upper, rtol=1e-10)
    assert out["rate"].tolist() == [1.5, 20.0]


def test_date_periods_in_denominators_match_timestamps_and_sorting() -> None:
    counts = pd.concat([series([2, 4], site="B"), series([1, 3], site="A")], ignore_index=True)
    pop = pd.DataFrame(
        {
            "site": ["A", "A", "B", "B", "B"],
            "period": [
                dt.date(2024, 1, 1),
                dt.date(2024, 2, 1),
                dt.date(2024, 1, 1),
                dt.date(2024, 2, 1),
                dt.date(2024, 3, 1),
            ],
            "population": [1000, 1000, 2000, 2000, 2000],
        }
    )
    out = rates(counts, pop, per=1000)
    assert out["site"].tolist() == ["A", "A", "B", "B"]
    assert out["rate"].tolist() == [1.0, 3.0, 1.0, 2.0]


def test_works_with_count_events_output() -> None:
    att = pd.DataFrame(
        {"site": ["A", "A", "B"], "arrival": pd.to_datetime(["2024-01-03", "2024-02-03", "2024-01-09"])}
    )
    counts = count_events(att, date="arrival", by="site")
    pop = pd.concat([population([500, 500], "A"), population([250, 250], "B")])
    out = rates(counts, pop, per=1000)
    assert out["rate"].tolist() == [2.0, 2.0, 4.0, 0.0]


def test_missing_denominator_names_periods_and_groups() -> None:
    counts = pd.concat([series([1, 2]), series([3], site="C")], ignore_index=True)
    with pytest.raises(
        SeriesInputError, match=r"no denominator for 2 count row\(s\).*period=2024-02-01, site=A.*site=C"
    ):
        rates(counts, population([100]))


def test_bad_denominators_and_counts() -> None:
    with pytest.raises(SeriesInputError, match="zero or negative"):
        rates(series([1]), population([0]))
    dup = pd.concat([population([100]), population([200])])
    with pytest.raises(SeriesInputError, match="repeated keys"):
        rates(series([1]), dup)
    with pytest.raises(SeriesInputError, match="whole number"):
        rates(series([1]).assign(count=[1.5]), population([100]))
    with pytest.raises(SeriesInputError, match=r"no column\(s\) \['population'\]"):
        rates(series([1]), population([100]).rename(columns={"population": "pop"}))
    with pytest.raises(ValueError, match="conf_level"):
        rates(series([1]), population([100]), conf_level=95)


def test_inputs_not_mutated() -> None:
    counts, pop = series([1, 2]), population([100, 100]).assign(period=lambda d: d["period"].dt.date)
    c0, p0 = counts.copy(), pop.copy()
    rates(counts, pop)
    pd.testing.assert_frame_equal(counts, c0)
    pd.testing.assert_frame_equal(pop, p0)
