"""Derived effects from one set of draws (evaltoolkit.its.derived).

Checked against: the delta method (linear quantities, where the percentile interval must reproduce the
Wald interval to Monte-Carlo error), the fit's own covariance (moments of the draws), and simulation
truth for sums over sites that share a control series (the spread of the combined estimate over
replicated data sets, and the coverage of its interval).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.its import ITSInputError, fit_its
from evaltoolkit.its.derived import (
    DERIVED_COLUMNS,
    agree,
    derived_effects,
    derived_table,
    draw_coefficients,
    totals,
    window_mask,
)

# Random replicated data sets trip the fit-time guards now and then (a noisy pre-period trend extrapolated
# over 24 months, a chance lag-1 autocorrelation); these tests are about the draws, not the guards.
pytestmark = [
    pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning"),
    pytest.mark.filterwarnings("ignore::evaltoolkit.its.AutocorrelationWarning"),
]

N_PRE, N_POST = 24, 24
GO = N_PRE + 1


def _gaussian(seed: int = 1, rho: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(1, N_PRE + N_POST + 1)
    e = np.zeros(t.size)
    for i in range(t.size):
        e[i] = (rho * e[i - 1] if i else 0) + rng.normal(0, 2)
    return pd.DataFrame({"t": t, "y": 100 + 0.3 * t - 5 * (t >= GO) + e})


def _counts(seed: int, effect: float = -0.15, shape: float | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(1, N_PRE + N_POST + 1)
    mu = np.exp(3.5 + 0.005 * t + effect * (t >= GO))
    if shape is not None:  # gamma-Poisson (negative binomial) counts
        mu = mu * rng.gamma(shape, 1 / shape, t.size)
    return pd.DataFrame({"t": t, "y": rng.poisson(mu)})


def test_linear_quantity_reproduces_the_wald_interval():
    """Gaussian OLS: the cumulative effect is linear in β, so the percentile interval of the draws is the
    t interval (the draws are widened by t/z) up to Monte-Carlo error."""
    res = fit_its(_gaussian(), outcome="y", time="t", interruptions=GO, method="ols")
    delta = res.cumulative_effect(uncertainty="delta").iloc[0]
    sim = derived_effects(res, n_draws=40_000, seed=3).set_index("term").loc["absolute_change"]
    assert sim["estimate"] == pytest.approx(delta["estimate"], rel=1e-12)
    for bound in ("ci_lower", "ci_upper"):
        assert abs(sim[bound] - delta[bound]) < 4 * sim["mc_error"], bound
    # the SD of the draws is k·SE with k = t/z
    k = res.critical_value() / 1.959963984540054
    assert sim["std_error"] == pytest.approx(k * delta["std_error"], rel=0.02)


def test_draws_have_the_fit_covariance():
    res = fit_its(_counts(2), outcome="y", time="t", interruptions=GO, family="quasipoisson", method="ols")
    (d,) = draw_coefficients(res, n_draws=50_000, seed=5)
    emp = np.cov(d.beta.T) / d.scale**2
    se = np.sqrt(np.diag(res.cov))
    np.testing.assert_allclose(emp / np.outer(se, se), res.cov / np.outer(se, se), atol=0.03)
    np.testing.assert_allclose(d.beta.mean(axis=0), res.params, atol=0.03 * se.max())


def test_count_delta_and_simulation_agree_roughly_and_simulation_is_coherent():
    res = fit_its(_counts(4), outcome="y", time="t", interruptions=GO, family="poisson", method="ols")
    delta = res.cumulative_effect(uncertainty="delta").iloc[0]
    sim = res.cumulative_effect(n_draws=20_000, seed=1).iloc[0]
    # same point estimates; intervals close (the delta method is symmetric, the draws need not be)
    assert sim["estimate"] == pytest.approx(delta["estimate"], rel=1e-12)
    assert sim["relative_change"] == pytest.approx(delta["relative_change"], rel=1e-12)
    half = (delta["ci_upper"] - delta["ci_lower"]) / 2
    assert abs(sim["ci_lower"] - delta["ci_lower"]) < 0.15 * half
    assert abs(sim["ci_upper"] - delta["ci_upper"]) < 0.15 * half
    assert sim["relative_ci_lower"] == pytest.approx(delta["relative_ci_lower"], abs=0.02)


@pytest.mark.parametrize("family", ["poisson", "quasipoisson", "negbin"])
def test_relative_and_absolute_always_agree(family):
    """Across many data sets whose effects sit near the boundary of significance, the simulation's
    relative and absolute intervals never disagree about zero (the delta method's do, sometimes)."""
    disagree_delta = 0
    for seed in range(40):
        res = fit_its(
            _counts(100 + seed, effect=-0.08, shape=8.0),
            outcome="y",
            time="t",
            interruptions=GO,
            family=family,
            method="ols",
        )
        out = derived_effects(res, n_draws=2_000, seed=seed)
        assert agree(out), seed
        p_abs, p_rel = out.set_index("term").loc[["absolute_change", "relative_change"], "p_value"]
        assert p_abs == p_rel  # the same draws on the same side of zero
        d = res.cumulative_effect(uncertainty="delta").iloc[0]
        ex_a = d["ci_lower"] > 0 or d["ci_upper"] < 0
        ex_r = d["relative_ci_lower"] > 0 or d["relative_ci_upper"] < 0
        disagree_delta += ex_a != ex_r
    assert disagree_delta >= 0  # recorded, not required: the point is the simulation never disagrees


def test_cost_is_the_same_draws_times_the_unit_cost():
    res = fit_its(_counts(7), outcome="y", time="t", interruptions=GO, family="poisson", method="ols")
    out = derived_effects(res, unit_cost=412.0, seed=2).set_index("term")
    for c in ("estimate", "ci_lower", "ci_upper", "std_error"):
        assert out.loc["cost", c] == pytest.approx(412.0 * out.loc["absolute_change", c], rel=1e-12)
    assert out.loc["cost", "p_value"] == out.loc["absolute_change", "p_value"]
    assert list(out.reset_index().columns) == list(DERIVED_COLUMNS)


def test_deterministic_and_keyed():
    res = fit_its(_counts(8), outcome="y", time="t", interruptions=GO, family="poisson", method="ols")
    a = derived_effects(res, seed=11, key="admissions/RA1")
    b = derived_effects(res, seed=11, key="admissions/RA1")
    c = derived_effects(res, seed=11, key="admissions/RB2")
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_monte_carlo_p_value_matches_the_interval():
    rng = np.random.default_rng(0)
    for _ in range(30):
        mu = rng.normal(0, 2.5)
        res = fit_its(
            _gaussian(int(rng.integers(1e6))), outcome="y", time="t", interruptions=GO, method="ols"
        )
        out = derived_effects(res, n_draws=1_000, seed=1).set_index("term").loc["absolute_change"]
        excludes = out["ci_lower"] > 0 or out["ci_upper"] < 0
        assert (out["p_value"] < 0.05) == excludes or abs(out["p_value"] - 0.05) < 0.005, mu


def test_calibrated_default_is_widened_to_its_own_interval():
    """The default (calibrated AR(1) GLS): the draws are widened by the fit's calibrated critical value,
    so the percentile interval of the cumulative effect matches the calibrated Wald interval."""
    res = fit_its(_gaussian(3, rho=0.4), outcome="y", time="t", interruptions=GO)
    assert res.ci_method == "calibrated"
    delta = res.cumulative_effect(uncertainty="delta").iloc[0]
    sim = res.cumulative_effect(n_draws=40_000, seed=2).iloc[0]
    half = (delta["ci_upper"] - delta["ci_lower"]) / 2
    assert abs(sim["ci_lower"] - delta["ci_lower"]) < 0.03 * half
    assert abs(sim["ci_upper"] - delta["ci_upper"]) < 0.03 * half


def test_bad_arguments():
    res = fit_its(_gaussian(), outcome="y", time="t", interruptions=GO, method="ols")
    with pytest.raises(ITSInputError, match="n_draws"):
        derived_effects(res, n_draws=10)
    with pytest.raises(ITSInputError, match="uncertainty"):
        res.cumulative_effect(uncertainty="bootstrap")
    with pytest.raises(ITSInputError, match="windows"):
        derived_effects([res, res], windows=[(GO, 40)])


# -- sites sharing a control series: simulation truth -----------------------------------------------------
SITES = ("A", "B", "C")


def _controlled(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    t = np.arange(1, N_PRE + N_POST + 1)
    control = 80 + 0.05 * t + rng.normal(0, 3, t.size)
    frames = {}
    for i, s in enumerate(SITES):
        site = 60 + 10 * i + 0.05 * t + rng.normal(0, 3, t.size)
        frames[s] = pd.concat(
            [
                pd.DataFrame({"t": t, "y": site, "g": s}),
                pd.DataFrame({"t": t, "y": control, "g": "control"}),
            ],
            ignore_index=True,
        )
    return frames


def _combined(rng: np.random.Generator, shared: bool) -> tuple[float, float, float, float, float]:
    fits = [
        fit_its(f, outcome="y", time="t", interruptions=GO, group="g", treated=s, method="ols")
        for s, f in _controlled(rng).items()
    ]
    draws = draw_coefficients(fits, n_draws=2_000, seed=int(rng.integers(1 << 30)), shared=shared)
    parts = [totals(d, window_mask(r)) for d, r in zip(draws, fits, strict=True)]
    out = derived_table(parts).set_index("term").loc["absolute_change"]
    delta = [r.cumulative_effect(uncertainty="delta").iloc[0] for r in fits]
    sum_sd = sum(float(x["std_error"]) for x in delta)
    indep_sd = math.sqrt(sum(float(x["std_error"]) ** 2 for x in delta))
    return out["estimate"], out["std_error"], out["ci_lower"], out["ci_upper"], sum_sd / indep_sd


def test_sites_sharing_a_control_are_combined_with_their_correlation():
    """Three sites, one shared control series, no true effect, 300 replicated data sets (OLS fits).

    Truth: the spread of the combined estimate over the replicates. The joint draws' SD must match it
    (within 12%: Monte-Carlo SE of an SD from 300 replicates is about 4%); adding variances as if
    independent is far too small, adding SDs (the old conservative rule) too large, and the joint
    interval covers near 95%.
    """
    rng = np.random.default_rng(20261205)
    rows = np.array([_combined(rng, shared=True) for _ in range(300)])
    est, sd, lo, hi = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    truth = est.std(ddof=1)
    k = (
        fit_its(  # the t/z widening of these fits' intervals
            _controlled(np.random.default_rng(0))["A"],
            outcome="y",
            time="t",
            interruptions=GO,
            group="g",
            treated="A",
            method="ols",
        ).critical_value()
        / 1.959963984540054
    )
    assert sd.mean() / k == pytest.approx(truth, rel=0.12)
    coverage = np.mean((lo <= 0) & (hi >= 0))
    assert 0.92 <= coverage <= 0.98  # MC SE 1.3 points
    # the independent and sum-of-SD rules are off by far more than the tolerance
    ratio_sum_to_indep = rows[:, 4].mean()  # ≈ √3 for three equal sites
    assert ratio_sum_to_indep > 1.6
    rng = np.random.default_rng(20261205)
    indep = np.array([_combined(rng, shared=False) for _ in range(40)])
    assert indep[:, 1].mean() / k < 0.8 * truth


def test_uncontrolled_sites_are_independent():
    fits = [
        fit_its(_counts(s), outcome="y", time="t", interruptions=GO, family="poisson", method="ols")
        for s in (1, 2)
    ]
    a, b = draw_coefficients(fits, n_draws=20_000, seed=1)
    assert not a.shared and not b.shared
    c = np.corrcoef(a.beta[:, 0], b.beta[:, 0])[0, 1]
    assert abs(c) < 0.03
