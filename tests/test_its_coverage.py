"""The ITS coverage study: scenario generators against their known truth, and a reduced re-run of the study
against its committed results (benchmarks/coverage/results), with Monte-Carlo tolerances.

Expected values come from theory (stationary AR/ARMA moments, Poisson/NB/log-normal moments) or from the
committed full study, compared within a stated number of Monte-Carlo standard errors. Replicates here use a
different base seed from the committed study, so they are independent of it.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.its._simulate import (
    Scenario,
    arma_stationary,
    rep_rng,
    simulate,
    simulate_controlled,
    simulate_counts,
    simulate_gaussian,
)

ROOT = Path(__file__).resolve().parents[1]
COVERAGE = ROOT / "benchmarks" / "coverage"
TEST_SEED = 777  # not the study's seed: independent replicates


def _load_runner():
    spec = importlib.util.spec_from_file_location("coverage_run", COVERAGE / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def runner():
    return _load_runner()


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    files = sorted((COVERAGE / "results").glob("*.csv"))
    assert files, "the committed coverage study CSVs are missing (benchmarks/coverage/results)"
    return pd.concat((pd.read_csv(f) for f in files), ignore_index=True)


def _committed_value(df: pd.DataFrame, method: str, n: int, rho: float, estimand: str = "level_change"):
    row = df[
        (df["kind"] == "gaussian")
        & (df["method"] == method)
        & (df["n"] == n)
        & np.isclose(df["rho"], rho)
        & (df["estimand"] == estimand)
    ]
    assert len(row) == 1
    return row.iloc[0]


# -- generators ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ar", "ma", "rho1", "var"),
    [
        # AR(1): ρ1 = φ, variance 1/(1-φ²)
        ((0.6,), (), 0.6, 1 / (1 - 0.36)),
        # AR(2): ρ1 = φ1/(1-φ2); γ0 = (1-φ2) / ((1+φ2)((1-φ2)² - φ1²))
        ((0.5, 0.2), (), 0.5 / 0.8, 0.8 / (1.2 * (0.8**2 - 0.25))),
        # ARMA(1,1): ρ1 = (1+φθ)(φ+θ)/(1+2φθ+θ²); γ0 = (1+2φθ+θ²)/(1-φ²)
        ((0.5,), (0.3,), (1.15 * 0.8) / (1 + 0.3 + 0.09), (1 + 0.3 + 0.09) / 0.75),
    ],
)
def test_arma_generator_matches_theory(ar, ma, rho1, var):
    rng = np.random.default_rng(11)
    reps, n = 3000, 30
    x = np.stack([arma_stationary(rng, n, ar, ma) for _ in range(reps)])
    # stationary from the first value: Var(x_1) over independent replicates (SE ≈ var·√(2/R))
    v1 = float(np.var(x[:, 0], ddof=1))
    assert abs(v1 - var) < 4 * var * math.sqrt(2 / reps)
    # and at the end
    assert abs(float(np.var(x[:, -1], ddof=1)) - var) < 4 * var * math.sqrt(2 / reps)
    # lag-1 autocorrelation at a fixed pair of times over replicates (SE ≈ (1-ρ²)/√R for a bivariate normal)
    r = float(np.corrcoef(x[:, 9], x[:, 10])[0, 1])
    assert abs(r - rho1) < 4 * (1 - rho1**2) / math.sqrt(reps)
    # zero mean
    assert abs(float(x[:, 0].mean())) < 4 * math.sqrt(var / reps)


def test_gaussian_scenario_mean_and_effects():
    """y minus the known mean (10 + 0.05 t + effects in σ units) has mean 0 and lag-1 autocorrelation ρ."""
    sc = Scenario(kind="gaussian", n=24, split="1:2", ar=(0.4,), level=1.5, slope=-0.2, seed=TEST_SEED)
    assert sc.first_post == 9 and sc.fit_kwargs()["interruptions"] == 9
    t = np.arange(1, 25)
    post = t >= 9
    mean = 10 + 0.05 * t + 1.5 * post - 0.2 * (t - 9) * post
    u = np.stack([simulate_gaussian(sc, rep_rng(sc, r))["y"].to_numpy() - mean for r in range(2000)])
    sd_mean = math.sqrt(1 / (1 - 0.16) / 2000)
    assert np.all(np.abs(u.mean(axis=0)) < 4.5 * sd_mean)  # 24 periods, each within 4.5 MC SEs
    pooled = float(np.mean([np.corrcoef(u[:, k], u[:, k + 1])[0, 1] for k in range(23)]))
    assert abs(pooled - 0.4) < 4 * (1 - 0.16) / math.sqrt(2000 * 23 / 3)  # pairs overlap: conservative n
    # reproducible per replicate
    assert simulate(sc, rep_rng(sc, 5)).equals(simulate(sc, rep_rng(sc, 5)))
    assert not simulate(sc, rep_rng(sc, 5)).equals(simulate(sc, rep_rng(sc, 6)))


@pytest.mark.parametrize(
    ("dist", "shock_sd", "mean", "var"),
    [
        ("poisson", 0.0, 50.0, 50.0),
        ("negbin", 0.0, 50.0, 50.0 + 50.0**2 / 20),  # NB2, θ = 20
        # log-normal mixing: E = μ e^{σ²/2}, Var = E + μ² e^{σ²} (e^{σ²} - 1)
        (
            "poisson",
            0.3,
            50 * math.exp(0.045),
            50 * math.exp(0.045) + 2500 * math.exp(0.09) * (math.exp(0.09) - 1),
        ),
    ],
)
def test_count_generator_mean_and_variance(dist, shock_sd, mean, var):
    # independent shocks (ar 0) and no seasonality: every period is an independent draw
    sc = Scenario(
        kind="count",
        n=40,
        ar=(0.0,),
        count_dist=dist,
        shock_sd=shock_sd,
        season_amp=0.0,
        baseline=50.0,
        seed=TEST_SEED,
    )
    y = np.concatenate([simulate_counts(sc, rep_rng(sc, r))["y"].to_numpy() for r in range(300)]).astype(
        float
    )
    assert abs(y.mean() - mean) < 4 * math.sqrt(var / y.size)
    assert abs(y.var(ddof=1) / var - 1) < 0.08  # relative SE of a variance ≈ √((κ-1)/R) < 0.02 here


def test_count_latent_shocks_autocorrelated():
    sc = Scenario(kind="count", n=60, ar=(0.6,), shock_sd=0.2, season_amp=0.0, seed=TEST_SEED)
    logs = np.stack([np.log(simulate_counts(sc, rep_rng(sc, r))["mu"].to_numpy() / 50) for r in range(500)])
    assert abs(float(logs.std()) - 0.2) < 0.01  # marginal SD of the latent shocks
    r1 = float(np.corrcoef(logs[:, :-1].ravel(), logs[:, 1:].ravel())[0, 1])
    assert abs(r1 - 0.6) < 0.03


def test_controlled_generator_shares_a_common_shock():
    sc = Scenario(kind="controlled", n=20, ar=(0.0,), n_controls=3, seed=TEST_SEED)
    df = simulate_controlled(sc, rep_rng(sc, 0))
    assert sorted(df["series"].unique()) == ["control1", "control2", "control3", "treated"]
    assert sc.fit_kwargs()["group"] == "series" and set(sc.truths()) == {
        "diff_level_change",
        "diff_slope_change",
    }
    # corr(treated, control) in a period = common variance / total = 1 / (1 + 1); with ρ = 0 the periods are
    # independent, so 400 replicates × 20 periods give 8,000 independent pairs
    # rows are stacked series by series (treated first), 20 periods each
    a = np.stack([simulate_controlled(sc, rep_rng(sc, r))["y"].to_numpy().reshape(4, 20) for r in range(400)])
    treated, control = a[:, 0].ravel(), a[:, 1].ravel()
    assert abs(float(np.corrcoef(treated, control)[0, 1]) - 0.5) < 4 * (1 - 0.25) / math.sqrt(treated.size)


# -- the study -----------------------------------------------------------------------------------------------


def test_committed_study_is_complete(runner, committed):
    names = {sc.name for sc, _ in runner.grid("reduced")}
    assert names == set(committed["scenario"])
    needed = {"bias", "bias_mcse", "emp_se", "model_se", "coverage", "coverage_mcse", "power", "power_mcse"}
    assert needed <= set(committed.columns)
    assert {
        "failures",
        "n_warned",
        "seconds_per_fit",
        "method_used",
        "se_type_used",
        "ci_method_used",
    } <= set(committed.columns)
    g = committed[committed["kind"] == "gaussian"]
    assert {"ols", "ols+nw", "prais-winsten", "gls-reml", "arima", "default"} <= set(g["method"])
    assert (g["reps"] == 1000).all()
    assert (committed["failures"] <= 0.01 * committed["reps"]).all()
    # the null is true: no method is biased beyond 4 MC SEs anywhere
    assert (committed["bias"].abs() < 4 * committed["bias_mcse"] + 1e-9).all()


def test_gls_reml_coverage_reproduces(runner, committed):
    """gls-reml, n = 48, ρ = 0.4: independent replicates agree with the committed value within 3 MC SEs."""
    ref = _committed_value(committed, "gls-reml", 48, 0.4)
    sc = Scenario(kind="gaussian", n=48, ar=(0.4,), seed=TEST_SEED)
    reps = 300
    out = runner.run_scenario(sc, reps, ["gls-reml"]).set_index("estimand")
    got = out.loc["level_change"]
    assert got["failures"] == 0
    se = math.sqrt(got["coverage_mcse"] ** 2 + ref["coverage_mcse"] ** 2)
    assert abs(got["coverage"] - ref["coverage"]) < 3 * se
    assert got["coverage"] >= 0.88
    assert ref["coverage"] >= 0.88
    assert got["method_used"] == "gls-reml"


def test_ols_undercovers_with_autocorrelation(runner, committed):
    """OLS ignores ρ = 0.6: its 95% CI for the level change covers clearly less than 85%."""
    assert _committed_value(committed, "ols", 96, 0.6)["coverage"] < 0.85
    sc = Scenario(kind="gaussian", n=96, ar=(0.6,), seed=TEST_SEED)
    out = runner.run_scenario(sc, 300, ["ols"]).set_index("estimand")
    got = out.loc["level_change"]
    assert got["coverage"] < 0.85
    # without autocorrelation OLS is nominal (within 3 MC SEs of 95%)
    sc0 = Scenario(kind="gaussian", n=48, ar=(0.0,), seed=TEST_SEED)
    got0 = runner.run_scenario(sc0, 300, ["ols"]).set_index("estimand").loc["level_change"]
    assert abs(got0["coverage"] - 0.95) < 3 * math.sqrt(0.95 * 0.05 / 300)


def test_runner_records_failures_and_the_default(runner, tmp_path):
    """Failures are counted, not fatal; the default spec records what the library did; resume skips files."""
    sc = Scenario(kind="count", n=24, ar=(0.2,), seed=TEST_SEED)
    specs = {
        "broken": {"family": "quasipoisson", "method": "no-such-method"},
        **runner.methods_for(sc, ["default"]),
    }
    out = runner.run_scenario(sc, 3, specs=specs)
    broken = out[out["method"] == "broken"].iloc[0]
    assert broken["failures"] == 3 and broken["n_ok"] == 0 and "ITSInputError" in broken["failure_kinds"]
    default = out[out["method"] == "default"].iloc[0]
    assert default["failures"] == 0 and default["method_used"] != ""
    # command line: one CSV per scenario; --resume leaves finished files alone
    assert (
        runner.main(
            ["--grid", "reduced", "--reps", "2", "--methods", "ols", "poisson", "--out", str(tmp_path)]
        )
        == 0
    )
    files = sorted(tmp_path.glob("*.csv"))
    assert len(files) == len(runner.grid("reduced"))
    stamp = files[0].stat().st_mtime_ns
    assert runner.main(["--grid", "reduced", "--reps", "2", "--resume", "--out", str(tmp_path)]) == 0
    assert files[0].stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("kind", "n", "rho", "reps", "floor"),
    [
        # Gaussian AR(1), the hardest short series of the guarantee (n = 24, ρ = 0.6): 300 replicates,
        # MC SE about 1.3 points; the classical methods cover 82-92% here (committed study)
        ("gaussian", 24, 0.6, 300, 0.92),
        # counts with latent AR(1) shocks (SD 0.15, stronger than the study's) plus Poisson noise, ρ = 0.6:
        # 150 replicates, MC SE about 1.8 points; quasi-Poisson covers about 80% here
        ("count", 48, 0.6, 150, 0.905),
    ],
)
def test_default_method_covers_where_the_classical_methods_fall_short(runner, kind, n, rho, reps, floor):
    """The toolkit's default (only family= given) against simulation truth, with Monte-Carlo tolerances:
    at least nominal minus about 2 MC SEs, and not wildly conservative (at most 99%)."""
    extra = {"shock_sd": 0.15} if kind == "count" else {}
    sc = Scenario(kind=kind, n=n, ar=(rho,), seed=TEST_SEED, **extra)
    out = runner.run_scenario(sc, reps, ["default"]).set_index("estimand")
    for estimand in ("level_change", "slope_change"):
        row = out.loc[estimand]
        assert row["method_used"] == "gls-reml" and row["ci_method_used"] == "calibrated"
        assert row["failures"] == 0
        assert floor <= row["coverage"] <= 0.99, (estimand, row["coverage"])
