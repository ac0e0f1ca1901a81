"""Behaviour of fits and of :class:`evaltoolkit.its.ITSResult`, checked against independent computations.

Second methods: statsmodels (OLS, GLM, HAC, ARIMA likelihood, residual tests), hand-built designs,
naive loops and finite-difference gradients. Seeded synthetic series only.
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
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import linalg, optimize, stats
from statsmodels.stats.diagnostic import acorr_breusch_godfrey, acorr_ljungbox
from statsmodels.stats.stattools import durbin_watson
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.stattools import acf, pacf

from evaltoolkit.its import ARBoundaryWarning, ITSResult, ITSSummary, ITSWarning
from evaltoolkit.its import fit_its as _fit_its

# expected values here are the classical OLS/GLM fits (R lm/glm), whatever the default method
fit_its = partial(_fit_its, method="ols")


def gaussian_series(n: int = 48, seed: int = 1, phi: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1)
    e = rng.normal(0, 2.0, n)
    for i in range(1, n):
        e[i] += phi * e[i - 1]
    y = 100 + 0.8 * t - 9 * (t >= 25) - 0.3 * np.maximum(t - 25, 0) + e
    return pd.DataFrame({"month": pd.date_range("2018-01-01", periods=n, freq="MS"), "t": t, "y": y})


def count_series(n: int = 48, seed: int = 2, overdispersion: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1)
    pop = 20000 + 50 * t + rng.integers(0, 500, n)
    rate = np.exp(-6.0 + 0.004 * t - 0.15 * (t >= 25) - 0.01 * np.maximum(t - 25, 0))
    if overdispersion:  # gamma-Poisson mixture: variance mu + overdispersion * mu^2
        rate = rate * rng.gamma(1 / overdispersion, overdispersion, n)
    y = rng.poisson(rate * pop)
    return pd.DataFrame({"t": t, "admissions": y, "pop": pop.astype(float)})


# --- estimation against statsmodels and hand-built designs ------------------------------------------


def test_ols_matches_statsmodels_including_prediction_intervals():
    df = gaussian_series()
    res = fit_its(df, outcome="y", time="month", interruptions="2020-01-01")
    t = df["t"].to_numpy()
    X = np.column_stack([np.ones(48), t, t >= 25, np.maximum(t - 25, 0)]).astype(float)
    ols = sm.OLS(df["y"].to_numpy(), X).fit()
    np.testing.assert_allclose(res.params, ols.params, rtol=1e-10)
    np.testing.assert_allclose(res.coefficients()["std_error"], ols.bse, rtol=1e-10)
    np.testing.assert_allclose(res.coefficients()["p_value"], ols.pvalues, rtol=1e-8)
    frame = ols.get_prediction(X).summary_frame(alpha=0.05)
    pred = res.predictions()
    np.testing.assert_allclose(pred["fitted"], frame["mean"], rtol=1e-10)
    np.testing.assert_allclose(pred["fitted_ci_lower"], frame["mean_ci_lower"], rtol=1e-10)
    # counterfactual: the pre-period line continued
    Xc = X.copy()
    Xc[:, 2:] = 0
    cf = ols.get_prediction(Xc).summary_frame(alpha=0.05)
    np.testing.assert_allclose(pred["counterfactual_ci_upper"], cf["mean_ci_upper"], rtol=1e-10)
    assert list(pred.columns) == [
        "time", "t", "segment", "in_transition", "in_fit", "excluded", "observed", "fitted",
        "fitted_ci_lower", "fitted_ci_upper", "counterfactual", "counterfactual_ci_lower",
        "counterfactual_ci_upper",
    ]  # fmt: skip


def test_conf_level_scales_intervals_by_the_quantile_ratio():
    df = gaussian_series()
    a = fit_its(df, outcome="y", time="t", interruptions=25).coefficients()
    b = fit_its(df, outcome="y", time="t", interruptions=25, conf_level=0.9).coefficients()
    ratio = stats.t.ppf(0.95, 44) / stats.t.ppf(0.975, 44)
    np.testing.assert_allclose(
        b["ci_upper"] - b["estimate"], ratio * (a["ci_upper"] - a["estimate"]), rtol=1e-10
    )


# a numerical check on a trending series with a long post period: the extrapolation guard fires by
# design (the guards are tested in tests/test_its_robustness.py)
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning")
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.AutocorrelationWarning")
def test_multiple_interruptions_match_hand_built_design():
    df = gaussian_series(60, seed=5)
    res = fit_its(df, outcome="y", time="t", interruptions=[20, 41])
    t = df["t"].to_numpy().astype(float)
    X = np.column_stack([np.ones(60), t, t >= 20, np.maximum(t - 20, 0), t >= 41, np.maximum(t - 41, 0)])
    beta = np.linalg.lstsq(X.astype(float), df["y"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(res.params, beta, rtol=1e-9)
    eff = res.effects(uncertainty="delta").set_index("term")
    # post slope after the second interruption = pre + both slope changes
    np.testing.assert_allclose(eff.loc["post_slope_2", "estimate"], beta[1] + beta[3] + beta[5], rtol=1e-10)


def test_transition_exclude_equals_dropping_the_phase_in_rows():
    df = gaussian_series(seed=7)
    res = fit_its(df, outcome="y", time="t", interruptions=25, transition=3)
    keep = ~df["t"].between(25, 27)
    t = df.loc[keep, "t"].to_numpy().astype(float)
    X = np.column_stack([np.ones(t.size), t, t >= 28, np.maximum(t - 28, 0)])
    ols = sm.OLS(df.loc[keep, "y"].to_numpy(), X).fit()
    np.testing.assert_allclose(res.params, ols.params, rtol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), ols.bse, rtol=1e-10)
    pred = res.predictions()
    assert pred.loc[~pred["in_fit"], "fitted"].isna().all() and pred["counterfactual"].notna().all()
    assert res.n_obs == 45 and res.df_resid == 41


def test_transition_ramp_matches_hand_built_ramp():
    df = gaussian_series(seed=8)
    res = fit_its(df, outcome="y", time="t", interruptions=25, transition=3, transition_shape="ramp")
    t = df["t"].to_numpy().astype(float)
    ramp = np.clip((t - 24) / 4, 0, 1)  # 1/4, 2/4, 3/4 at 25..27, 1 from 28
    X = np.column_stack([np.ones(48), t, ramp, np.maximum(t - 28, 0)])
    np.testing.assert_allclose(res.params, np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)[0], rtol=1e-9)


def controlled_data(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(1, 31)
    rows = []
    for site, z in (("north", 0), ("south", 1), ("west", 0)):
        y = (
            20
            + 0.3 * t
            + z * (2 + 0.1 * t)
            - 3 * z * (t >= 16)
            - 0.2 * z * np.maximum(t - 16, 0)
            + rng.normal(0, 1, 30)
        )
        rows.append(pd.DataFrame({"t": t, "site": site, "y": y}))
    return pd.concat(rows, ignore_index=True)


def test_controlled_its_matches_itsa_regression_and_panel_hac():
    df = controlled_data()
    res = fit_its(df, outcome="y", time="t", interruptions=16, group="site", treated="south")
    d = df.assign(z=(df["site"] == "south").astype(float), x=(df["t"] >= 16).astype(float))
    d["xt"] = d["x"] * (d["t"] - 16)
    ols = smf.ols("y ~ t + x + xt + z + z:t + z:x + z:xt", data=d.sort_values(["site", "t"])).fit()
    ours = res.coefficients().set_index("term")["estimate"]
    mapping = {
        "intercept": "Intercept", "pre_slope": "t", "level_change": "x", "slope_change": "xt",
        "diff_intercept": "z", "diff_pre_slope": "z:t",
        "diff_level_change": "z:x", "diff_slope_change": "z:xt",
    }  # fmt: skip
    for our, theirs in mapping.items():
        assert ours[our] == pytest.approx(ols.params[theirs], rel=1e-9, abs=1e-10)
    # Newey-West within each series (statsmodels hac-panel with the 'hac' small-sample factor)
    nw = fit_its(
        df,
        outcome="y",
        time="t",
        interruptions=16,
        group="site",
        treated="south",
        se_type="newey-west",
        lags=2,
    )
    X = nw.design.X.to_numpy(dtype=float)
    panel = sm.OLS(nw.design.frame["outcome"].to_numpy(), X).fit(
        cov_type="hac-panel",
        cov_kwds={"groups": nw.design.frame["series"].to_numpy(), "maxlags": 2, "use_correction": "hac"},
    )
    np.testing.assert_allclose(np.sqrt(np.diag(nw.cov)), panel.bse, rtol=1e-10)
    eff = res.effects(at=[0], uncertainty="delta").set_index("term")
    b = res.params
    np.testing.assert_allclose(eff.loc["diff_post_slope", "estimate"], b[5] + b[7], rtol=1e-10)
    np.testing.assert_allclose(eff.loc["post_slope", "estimate"], b[1] + b[3] + b[5] + b[7], rtol=1e-10)
    np.testing.assert_allclose(eff.loc["absolute_change", "estimate"], b[6], rtol=1e-10)
    # counterfactual of control series is their fit; of the treated series, fitted minus the diff_ terms
    pred = res.predictions()
    controls = pred["group"] != "south"
    np.testing.assert_allclose(pred.loc[controls, "counterfactual"], pred.loc[controls, "fitted"])
    south = pred[~controls]
    gap = (south["fitted"] - south["counterfactual"]).to_numpy()
    h = np.maximum(south["t"].to_numpy() - 16, 0)
    np.testing.assert_allclose(gap, (south["t"].to_numpy() >= 16) * (b[6] + b[7] * h), atol=1e-9)
    assert res.counterfactual()["group"].eq("south").all() and len(res.counterfactual()) == 15


def test_poisson_newey_west_matches_statsmodels_glm_hac():
    df = count_series()
    res = fit_its(
        df,
        outcome="admissions",
        time="t",
        interruptions=25,
        family="poisson",
        offset="pop",
        se_type="newey-west",
        lags=3,
    )
    model = sm.GLM(
        df["admissions"].to_numpy(),
        res.design.X.to_numpy(dtype=float),
        family=sm.families.Poisson(),
        offset=np.log(df["pop"].to_numpy()),
    )
    glm = model.fit(cov_type="HAC", cov_kwds={"maxlags": 3, "use_correction": True})
    np.testing.assert_allclose(res.params, glm.params, rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), glm.bse, rtol=1e-8)


# a numerical check on a seasonal series fitted without AR errors: the autocorrelation guard fires by
# design (the guards are tested in tests/test_its_robustness.py)
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.AutocorrelationWarning")
def test_month_indicators_match_formula_dummies():
    df = gaussian_series(seed=11)
    df["y"] = df["y"] + 5 * np.sin(df["t"])
    res = fit_its(df, outcome="y", time="month", interruptions="2020-01-01", seasonality="month")
    d = df.assign(m=df["month"].dt.month, x=(df["t"] >= 25).astype(float), xt=np.maximum(df["t"] - 25, 0))
    ols = smf.ols("y ~ t + x + xt + C(m)", data=d).fit()
    np.testing.assert_allclose(res.params[:4], ols.params[["Intercept", "t", "x", "xt"]], rtol=1e-9)
    np.testing.assert_allclose(
        res.coefficients().set_index("term").loc["month_7", "estimate"], ols.params["C(m)[T.7]"], rtol=1e-9
    )


# --- AR error models --------------------------------------------------------------------------------


# a numerical check on a trending series with a long post period: the extrapolation guard fires by
# design (the guards are tested in tests/test_its_robustness.py)
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning")
def test_gls_ml_with_a_gap_matches_a_dense_implementation():
    df = gaussian_series(60, seed=4, phi=0.5)
    res = fit_its(df, outcome="y", time="t", interruptions=25, transition=2, method="gls-ml")
    keep = ~df["t"].between(25, 26)
    t = df.loc[keep, "t"].to_numpy().astype(float)
    y = df.loc[keep, "y"].to_numpy()
    X = np.column_stack([np.ones(t.size), t, t >= 27, np.maximum(t - 27, 0)])
    n = t.size

    def negll(phi: float) -> float:
        R = phi ** np.abs(t[:, None] - t[None, :])  # AR(1) correlation at the true lags, across the gap
        Ri = np.linalg.inv(R)
        b = np.linalg.solve(X.T @ Ri @ X, X.T @ Ri @ y)
        r = y - X @ b
        return n / 2 * np.log(r @ Ri @ r / n) + 0.5 * np.linalg.slogdet(R)[1]

    phi = optimize.minimize_scalar(negll, bounds=(-0.95, 0.95), method="bounded", options={"xatol": 1e-10}).x
    assert res.ar_params[0] == pytest.approx(phi, abs=1e-6)
    R = phi ** np.abs(t[:, None] - t[None, :])
    Ri = np.linalg.inv(R)
    b = np.linalg.solve(X.T @ Ri @ X, X.T @ Ri @ y)
    np.testing.assert_allclose(res.params, b, rtol=1e-6)


# a numerical check on a trending series with a long post period: the extrapolation guard fires by
# design (the guards are tested in tests/test_its_robustness.py)
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning")
def test_ar2_exact_likelihood_agrees_with_statsmodels_arima():
    df = gaussian_series(72, seed=9, phi=0.4)
    res = fit_its(df, outcome="y", time="t", interruptions=25, method="arima", ar_order=2)
    X = res.design.X.to_numpy(dtype=float)
    model = ARIMA(df["y"].to_numpy(), exog=X[:, 1:], order=(2, 0, 0), trend="c")
    params = np.r_[res.params, res.ar_params, res.sigma**2]  # sigma = innovation SD for arima
    assert model.loglike(params) == pytest.approx(res.loglik, rel=1e-9)
    with warnings.catch_warnings():  # statsmodels' own optimiser may warn; we only compare optima
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = model.fit()
    assert theirs.llf <= res.loglik + 1e-6
    gls = fit_its(df, outcome="y", time="t", interruptions=25, method="gls-ml", ar_order=2)
    np.testing.assert_allclose(gls.params, res.params, rtol=1e-9)
    assert res.ar_parameters()["std_error"].notna().all()


def test_boundary_ar_estimate_warns_and_is_recorded():
    rng = np.random.default_rng(20)
    t = np.arange(1, 41)
    y = 50 + 0.05 * (t - 20) ** 2 + rng.normal(0, 0.1, 40)  # curved trend fitted with straight segments
    df = pd.DataFrame({"t": t, "y": y})
    with pytest.warns(ARBoundaryWarning, match="boundary of stationarity"):
        res = fit_its(df, outcome="y", time="t", interruptions=21, method="gls-reml", effect="level")
    assert abs(res.ar_params[0]) >= 0.99
    assert any("boundary" in w for w in res.warnings)
    assert any("boundary" in w for w in res.diagnostics().warnings)


# a numerical check on a trending series with a long post period: the extrapolation guard fires by
# design (the guards are tested in tests/test_its_robustness.py)
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning")
def test_prais_winsten_with_two_series_restarts_at_each_series():
    df = controlled_data(seed=6)
    res = fit_its(
        df, outcome="y", time="t", interruptions=16, group="site", treated="south", method="prais-winsten"
    )
    # rho from the converged residuals: lag-1 pairs within each series only
    e = res.design.frame["outcome"].to_numpy() - res.design.X.to_numpy(dtype=float) @ res.params
    e = e.reshape(3, 30)
    rho = np.sum(e[:, 1:] * e[:, :-1]) / np.sum(e[:, :-1] ** 2)
    assert res.ar_params[0] == pytest.approx(rho, abs=1e-7)
    # and the coefficients are GLS at that rho with a block-diagonal AR(1) correlation
    X = res.design.X.to_numpy(dtype=float)
    y = res.design.frame["outcome"].to_numpy()
    block = rho ** np.abs(np.subtract.outer(np.arange(30), np.arange(30)))
    Ri = np.linalg.inv(linalg.block_diag(block, block, block))
    np.testing.assert_allclose(res.params, np.linalg.solve(X.T @ Ri @ X, X.T @ Ri @ y), rtol=1e-6)


# --- effects and cumulative effects ------------------------------------------------------------------


# a numerical check on a trending series with a long post period: the extrapolation guard fires by
# design (the guards are tested in tests/test_its_robustness.py)
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning")
def test_gaussian_effects_by_hand():
    df = gaussian_series(seed=12)
    res = fit_its(df, outcome="y", time="t", interruptions=25)
    b, V = res.params, res.cov
    q = stats.t.ppf(0.975, res.df_resid)
    eff = res.effects(at=[0, 6], uncertainty="delta")
    slope = eff[eff["term"] == "post_slope"].iloc[0]
    se = math.sqrt(V[1, 1] + V[3, 3] + 2 * V[1, 3])
    assert slope["estimate"] == pytest.approx(b[1] + b[3]) and slope["std_error"] == pytest.approx(se)
    assert slope["ci_lower"] == pytest.approx(b[1] + b[3] - q * se)
    row = eff[(eff["term"] == "absolute_change") & (eff["horizon"] == 6)].iloc[0]
    assert row["estimate"] == pytest.approx(b[2] + 6 * b[3])
    assert row["std_error"] == pytest.approx(math.sqrt(V[2, 2] + 36 * V[3, 3] + 12 * V[2, 3]))
    assert row["time"] == 31
    rel = eff[(eff["term"] == "relative_change") & (eff["horizon"] == 6)].iloc[0]
    fitted = b[0] + 31 * b[1] + b[2] + 6 * b[3]
    counterfactual = b[0] + 31 * b[1]
    assert rel["estimate"] == pytest.approx(fitted / counterfactual - 1)


def numerical_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h * max(1.0, abs(x[i]))
        g[i] = (f(x + e) - f(x - e)) / (2 * e[i])
    return g


def test_count_effects_and_cumulative_effect_by_loops():
    df = count_series(seed=13)
    res = fit_its(df, outcome="admissions", time="t", interruptions=25, family="poisson", offset="pop")
    b, V = res.params, res.cov
    pop = df["pop"].to_numpy()
    t = df["t"].to_numpy()

    def mu(beta: np.ndarray, i: int, with_effect: bool) -> float:
        x = [1.0, t[i], float(t[i] >= 25) * with_effect, max(t[i] - 25, 0) * with_effect]
        return math.exp(np.dot(beta, x)) * pop[i]

    eff = res.effects(at=[3], uncertainty="delta").set_index("term")
    i = 27  # t = 28 = horizon 3
    rr = math.exp(b[2] + 3 * b[3])
    assert eff.loc["relative_change", "rate_ratio"] == pytest.approx(rr)
    assert eff.loc["relative_change", "estimate"] == pytest.approx(rr - 1)
    se_log = math.sqrt(V[2, 2] + 9 * V[3, 3] + 6 * V[2, 3])
    assert eff.loc["relative_change", "rate_ratio_ci_upper"] == pytest.approx(
        math.exp(b[2] + 3 * b[3] + 1.959964 * se_log), rel=1e-6
    )
    diff = mu(b, i, True) - mu(b, i, False)
    assert eff.loc["absolute_change", "estimate"] == pytest.approx(diff)
    g = numerical_gradient(lambda beta: mu(beta, i, True) - mu(beta, i, False), b)
    assert eff.loc["absolute_change", "std_error"] == pytest.approx(math.sqrt(g @ V @ g), rel=1e-5)

    def total(beta: np.ndarray) -> float:
        s = 0.0
        for j in range(len(df)):  # naive loop over the post periods
            if t[j] >= 25:
                s += mu(beta, j, True) - mu(beta, j, False)
        return s

    cum = res.cumulative_effect(uncertainty="delta").iloc[0]
    assert cum["estimate"] == pytest.approx(total(b))
    g = numerical_gradient(total, b)
    assert cum["std_error"] == pytest.approx(math.sqrt(g @ V @ g), rel=1e-5)
    assert cum["n_periods"] == 24 and cum["start"] == 25 and cum["end"] == 48
    assert cum["observed_total"] == df.loc[df["t"] >= 25, "admissions"].sum()
    assert cum["relative_change"] == pytest.approx(cum["fitted_total"] / cum["counterfactual_total"] - 1)
    part = res.cumulative_effect(start=30, end=35, uncertainty="delta").iloc[0]
    assert part["n_periods"] == 6
    assert part["estimate"] == pytest.approx(sum(mu(b, j, True) - mu(b, j, False) for j in range(29, 35)))


# --- tests of hypotheses and diagnostics ------------------------------------------------------------


def test_compare_nested_and_wald_test_match_statsmodels():
    df = gaussian_series(seed=14)
    full = fit_its(df, outcome="y", time="t", interruptions=25)
    reduced = fit_its(df, outcome="y", time="t", interruptions=25, effect="level")
    t = df["t"].to_numpy().astype(float)
    X = np.column_stack([np.ones(48), t, t >= 25, np.maximum(t - 25, 0)])
    big = sm.OLS(df["y"].to_numpy(), X).fit()
    small = sm.OLS(df["y"].to_numpy(), X[:, :3]).fit()
    f, p, _ = big.compare_f_test(small)
    row = full.compare_nested(reduced).iloc[0]
    assert row["statistic"] == pytest.approx(f) and row["p_value"] == pytest.approx(p)
    w = full.wald_test(["level_change", "slope_change"]).iloc[0]
    ft = big.f_test(np.eye(4)[2:])
    assert w["statistic"] == pytest.approx(float(np.squeeze(ft.fvalue))) and w["p_value"] == pytest.approx(
        float(ft.pvalue)
    )


# diagnostics are checked on autocorrelated trending series: both guards fire by design (the guards are
# tested in tests/test_its_robustness.py)
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.AutocorrelationWarning")
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning")
def test_diagnostics_match_statsmodels_tests():
    df = gaussian_series(seed=15, phi=0.4)
    res = fit_its(df, outcome="y", time="month", interruptions="2020-01-01")
    t = df["t"].to_numpy().astype(float)
    X = np.column_stack([np.ones(48), t, t >= 25, np.maximum(t - 25, 0)])
    ols = sm.OLS(df["y"].to_numpy(), X).fit()
    diag = res.diagnostics()  # monthly: lags default to 12
    tests = diag.tests.set_index("test")
    assert tests.loc["durbin_watson", "statistic"] == pytest.approx(durbin_watson(ols.resid))
    lb = acorr_ljungbox(ols.resid, lags=[12])
    assert tests.loc["ljung_box_12", "statistic"] == pytest.approx(lb["lb_stat"].iloc[0])
    assert tests.loc["ljung_box_12", "p_value"] == pytest.approx(lb["lb_pvalue"].iloc[0])
    lm, lm_p, _, _ = acorr_breusch_godfrey(ols, nlags=12, result_object=False)
    assert tests.loc["breusch_godfrey_12", "statistic"] == pytest.approx(lm)
    assert tests.loc["breusch_godfrey_12", "p_value"] == pytest.approx(lm_p)
    np.testing.assert_allclose(diag.acf["acf"], acf(ols.resid, nlags=12, fft=False)[1:], atol=1e-12)
    np.testing.assert_allclose(diag.acf["pacf"], pacf(ols.resid, nlags=12, method="ldb")[1:], atol=1e-10)
    seg = diag.segments
    assert seg["n_points"].tolist() == [24, 24] and seg["meets_recommended"].all()
    assert seg["start"].tolist() == [pd.Timestamp("2018-01-01"), pd.Timestamp("2020-01-01")]
    assert diag.dispersion is None
    assert "durbin_watson" in diag.as_text()


def test_negbin_without_overdispersion_warns():
    t = np.arange(1, 25)
    df = pd.DataFrame({"t": t, "n": 50 + (t % 2)})  # far less variable than Poisson
    with pytest.warns(ITSWarning, match="no overdispersion"):
        res = fit_its(df, outcome="n", time="t", interruptions=13, family="negbin")
    assert math.isinf(res.theta)
    pois = fit_its(df, outcome="n", time="t", interruptions=13, family="poisson")
    np.testing.assert_allclose(res.params, pois.params, rtol=1e-10, atol=1e-12)


def test_quasipoisson_dispersion_and_diagnostics():
    df = count_series(seed=16)
    res = fit_its(df, outcome="admissions", time="t", interruptions=25, family="quasipoisson", offset="pop")
    model = sm.GLM(
        df["admissions"].to_numpy(),
        res.design.X.to_numpy(dtype=float),
        family=sm.families.Poisson(),
        offset=np.log(df["pop"].to_numpy()),
    )
    glm = model.fit(scale="X2")
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), glm.bse, rtol=1e-8)
    assert res.diagnostics().dispersion == pytest.approx(glm.scale)


# --- reporting ---------------------------------------------------------------------------------------


def test_result_is_immutable_and_input_untouched():
    df = gaussian_series()
    before = df.copy()
    res = fit_its(df, outcome="y", time="month", interruptions="2020-01-01")
    pd.testing.assert_frame_equal(df, before)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.method = "arima"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        res.params[0] = 0.0
    table = res.coefficients()
    table.loc[0, "estimate"] = 0.0
    assert res.coefficients().loc[0, "estimate"] != 0.0


def test_summary_and_to_dict_are_complete_and_json_safe():
    df = count_series(seed=17, overdispersion=0.02)
    res = fit_its(df, outcome="admissions", time="t", interruptions=25, family="negbin", offset="pop")
    assert 10 < res.theta < 200  # true theta 50
    summary = res.summary()
    assert isinstance(summary, ITSSummary)
    text = summary.as_text()
    for needle in ("level_change", "slope_change", "rate_ratio", "cumulative_effect", "Stata itsa", "theta"):
        assert needle in text
    assert "<table" in summary.as_html() and summary._repr_html_() == summary.as_html()
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["model"]["family"] == "negbin" and d["fit"]["theta"] == pytest.approx(res.theta)
    assert [c["term"] for c in d["coefficients"]] == list(res.terms)
    assert d["effects"][0]["horizon"] is None and d["effects"][0]["time"] is None
    assert d["cumulative_effect"]["n_periods"] == 24
    dated = fit_its(gaussian_series(), outcome="y", time="month", interruptions="2020-01-01").to_dict()
    assert dated["model"]["interruptions"] == ["2020-01-01"]
    assert dated["coefficients"][0]["df"] == 44
    json.dumps(dated, allow_nan=False)


def test_repr_names_the_fit():
    res = fit_its(gaussian_series(), outcome="y", time="t", interruptions=25, method="gls-reml")
    assert repr(res).startswith("ITSResult(outcome='y', family='gaussian', method='gls-reml'")
    assert isinstance(res, ITSResult)


def test_plot_returns_axes_and_draws_the_parts():
    df = count_series(seed=18)
    res = fit_its(df, outcome="admissions", time="t", interruptions=25, family="poisson", offset="pop")
    fig, ax = plt.subplots()
    try:
        out = res.plot(ax=ax, per=1e5)
        assert out is ax
        labels = [line.get_label() for line in ax.get_lines()]
        assert {"observed", "fitted", "counterfactual", "interruption"} <= set(labels)
        obs = next(line for line in ax.get_lines() if line.get_label() == "observed")
        np.testing.assert_allclose(obs.get_ydata(), df["admissions"] / df["pop"] * 1e5)
        assert len(ax.collections) == 1  # the counterfactual band
    finally:
        plt.close(fig)
    ctl = fit_its(
        controlled_data(),
        outcome="y",
        time="t",
        interruptions=16,
        group="site",
        treated="south",
        transition=2,
    )
    ax2 = ctl.plot()
    try:
        labels = {line.get_label() for line in ax2.get_lines()}
        assert {"observed (treated)", "observed (control)", "transition (not fitted)"} <= labels
    finally:
        plt.close(ax2.figure)
