"""Tests for evaltoolkit.its.power: batched estimators against statsmodels and R, and simulation summaries."""

from __future__ import annotations

import importlib
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.sandwich_covariance import S_hac_simple
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from evaltoolkit.errors import EvalToolkitError
from evaltoolkit.its.power import power

# the module itself (evaltoolkit.its may re-export the function `power`, which shadows the submodule name)
pw = importlib.import_module("evaltoolkit.its.power")

SICILY = Path("/work/shared/reference/sicily.csv")
if not SICILY.exists():  # pragma: no cover - repository checkout without the shared folder
    SICILY = Path(__file__).resolve().parents[2] / "shared" / "reference" / "sicily.csv"


def mc_tol(p: float, n: int, z: float = 4.0) -> float:
    """Tolerance of z binomial standard errors for a proportion p estimated from n simulations."""
    return z * math.sqrt(p * (1 - p) / n)


def design(n_pre: int, n_post: int) -> np.ndarray:
    """Segmented design written out independently: intercept, time 0..n-1, post, time since interruption."""
    rows = []
    for t in range(n_pre + n_post):
        post = 1.0 if t >= n_pre else 0.0
        rows.append([1.0, float(t), post, (t - n_pre) * post])
    return np.array(rows)


def ar1_series(rng: np.random.Generator, n_series: int, n: int, phi: float) -> np.ndarray:
    """Naive loop AR(1) errors, for feeding the fitters."""
    e = np.zeros((n_series, n))
    e[:, 0] = rng.standard_normal(n_series)
    for t in range(1, n):
        e[:, t] = phi * e[:, t - 1] + rng.standard_normal(n_series)
    return e


@pytest.fixture(scope="module")
def sicily() -> pd.DataFrame:
    d = pd.read_csv(SICILY)
    d["rate"] = d["aces"] / d["stdpop"] * 1e5
    return d


# ------------------------------------------------------------------------- batched OLS vs statsmodels


def test_design_matches_itsa_coding() -> None:
    x, terms = pw._design(3, 4, "level+slope")
    assert terms == ["intercept", "pre_slope", "level_change", "slope_change"]
    np.testing.assert_array_equal(x, design(3, 4))
    # slope_change is 0 in the first post period (Stata itsa), level_change switches on there
    assert x[3].tolist() == [1.0, 3.0, 1.0, 0.0]
    assert pw._design(3, 4, "level")[1] == ["intercept", "pre_slope", "level_change"]
    assert pw._design(3, 4, "slope")[1] == ["intercept", "pre_slope", "slope_change"]


@pytest.mark.parametrize("lags", [1, 2, 3])
def test_batched_ols_and_newey_west_equal_statsmodels(lags: int) -> None:
    rng = np.random.default_rng(11)
    x = design(15, 12)
    y = 50 + x @ np.array([0.0, 0.4, -5.0, 0.3]) + 3 * ar1_series(rng, 4, 27, 0.5)
    model = pw._fit_ols(x, y, "model", None)
    nw = pw._fit_ols(x, y, "newey-west", lags)
    assert model.df == nw.df == 27 - 4
    for i in range(y.shape[0]):
        ref = sm.OLS(y[i], x).fit()
        hac = sm.OLS(y[i], x).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
        np.testing.assert_allclose(model.estimate[i], ref.params, rtol=1e-10)
        np.testing.assert_allclose(model.std_error[i], ref.bse, rtol=1e-10)
        np.testing.assert_allclose(nw.estimate[i], hac.params, rtol=1e-10)
        np.testing.assert_allclose(nw.std_error[i], hac.bse, rtol=1e-10)


def test_newey_west_reproduces_r_sandwich_on_sicily(sicily: pd.DataFrame) -> None:
    # sicily_reference.md (h): OLS rate ~ time + smokban + tsl0, NeweyWest(lag=1, prewhite=FALSE, adjust=TRUE)
    t = sicily["time"].to_numpy(float)
    x = np.column_stack([np.ones(59), t, sicily["smokban"], np.maximum(t - 37, 0)])
    fit = pw._fit_ols(x, sicily["rate"].to_numpy()[None, :], "newey-west", 1)
    np.testing.assert_allclose(fit.estimate[0], [194.10874, 1.0358486, -24.717143, 0.12722044], rtol=1e-6)
    np.testing.assert_allclose(fit.std_error[0], [3.8613118, 0.16642318, 6.6360273, 0.41050313], rtol=1e-6)


# ------------------------------------------------------------------ AR(1) estimators vs R references


def sicily_x(sicily: pd.DataFrame, slope: bool) -> np.ndarray:
    t = sicily["time"].to_numpy(float)
    cols = [np.ones(59), t, sicily["smokban"].to_numpy(float)]
    if slope:
        cols.append(np.maximum(t - 36, 0))
    return np.column_stack(cols)


def test_prais_winsten_reproduces_reference(sicily: pd.DataFrame) -> None:
    # sicily_reference.md (f): iterated Prais-Winsten, rate ~ time + smokban + tsl
    fit = pw._fit_prais_winsten(sicily_x(sicily, True), sicily["rate"].to_numpy()[None, :])
    assert fit.valid[0]
    assert fit.phi is not None
    np.testing.assert_allclose(fit.phi[0], 0.20283706, rtol=1e-6)
    np.testing.assert_allclose(fit.estimate[0], [194.11456, 1.0312235, -24.323705, 0.10927126], rtol=1e-6)
    np.testing.assert_allclose(fit.std_error[0], [5.8503734, 0.27445968, 9.0294058, 0.60464955], rtol=1e-6)


@pytest.mark.parametrize(
    ("reml", "slope", "phi", "estimate", "std_error"),
    [
        # sicily_reference.md (e): nlme::gls(rate ~ ..., correlation = corAR1(form = ~ time))
        (False, True, 0.19966772, [194.11424, 1.0313316, -24.335024, 0.10964543],
         [5.8293532, 0.27350408, 9.0030129, 0.60251668]),
        (True, True, 0.28382830, [194.12575, 1.0279538, -23.988328, 0.098366414],
         [6.4663883, 0.30231225, 9.7750731, 0.66702439]),
        (False, False, 0.20090740, [193.68122, 1.0551036, -23.723416], [5.2811718, 0.23831188, 8.2967817]),
        (True, False, 0.26110300, [193.71369, 1.0515883, -23.545027], [5.6627588, 0.25380318, 8.8157336]),
    ],
)  # fmt: skip
def test_gls_ar1_reproduces_nlme(
    sicily: pd.DataFrame, reml: bool, slope: bool, phi: float, estimate: list[float], std_error: list[float]
) -> None:
    x = sicily_x(sicily, slope)
    fit = pw._fit_gls_ar1(x, sicily["rate"].to_numpy()[None, :], reml=reml)
    assert fit.phi is not None
    assert fit.df == 59 - x.shape[1]
    # tolerances from sicily_reference.md: nlme's phi is optimiser-dependent at ~1e-7
    np.testing.assert_allclose(fit.phi[0], phi, rtol=1e-5)
    np.testing.assert_allclose(fit.estimate[0], estimate, rtol=1e-6)
    np.testing.assert_allclose(fit.std_error[0], std_error, rtol=1e-5)


def test_gls_batch_equals_one_series_at_a_time() -> None:
    # every series gets its own phi: the batched search must not couple series
    rng = np.random.default_rng(5)
    x = design(20, 20)
    y = x @ np.array([10.0, 0.2, 3.0, -0.1]) + ar1_series(rng, 6, 40, 0.6)
    both = pw._fit_gls_ar1(x, y, reml=True)
    assert both.phi is not None
    for i in range(6):
        one = pw._fit_gls_ar1(x, y[i : i + 1], reml=True)
        assert one.phi is not None
        # the profile likelihood is flat at its maximum, so phi is determined to ~sqrt(machine eps)
        np.testing.assert_allclose(both.phi[i], one.phi[0], rtol=1e-6)
        np.testing.assert_allclose(both.std_error[i], one.std_error[0], rtol=1e-6)
    assert np.ptp(both.phi) > 0.1


def test_gls_ml_maximises_the_likelihood_of_statsmodels_glsar_form() -> None:
    # Independent check of the ML objective: the exact Gaussian AR(1) log-likelihood from the full
    # covariance matrix, maximised on a fine grid, peaks where the batched search says.
    rng = np.random.default_rng(8)
    x = design(12, 12)
    y = x @ np.array([5.0, 0.1, 1.0, 0.0]) + ar1_series(rng, 1, 24, 0.4)
    fit = pw._fit_gls_ar1(x, y, reml=False)
    assert fit.phi is not None

    def loglik(phi: float) -> float:
        n = 24
        idx = np.arange(n)
        corr = phi ** np.abs(idx[:, None] - idx[None, :])
        cinv = np.linalg.inv(corr)
        beta = np.linalg.solve(x.T @ cinv @ x, x.T @ cinv @ y[0])
        r = y[0] - x @ beta
        sigma2 = r @ cinv @ r / n
        return -0.5 * n * math.log(sigma2) - 0.5 * np.linalg.slogdet(corr)[1]

    grid = np.linspace(-0.95, 0.95, 3801)
    best = grid[np.argmax([loglik(p) for p in grid])]
    assert abs(fit.phi[0] - best) < 1e-3


# ------------------------------------------------------------------------- count GLMs vs statsmodels


def count_data(seed: int, n_series: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = design(18, 18)
    log_offset = np.log(np.linspace(900.0, 1300.0, 36))
    mu = np.exp(x @ np.array([-3.0, 0.01, -0.2, 0.01]) + log_offset)
    y = rng.poisson(mu * rng.gamma(8.0, 1 / 8.0, size=(n_series, 36))).astype(float)
    return x, y, log_offset


@pytest.mark.parametrize(
    ("family", "se"), [("poisson", "model"), ("quasipoisson", "model"), ("poisson", "newey-west")]
)
def test_batched_poisson_irls_equals_statsmodels_glm(family: str, se: str) -> None:
    x, y, off = count_data(1)
    fit = pw._fit_counts(x, y, off, family, se, 2)
    assert fit.valid.all()
    assert math.isinf(fit.df)
    for i in range(y.shape[0]):
        model = sm.GLM(y[i], x, family=sm.families.Poisson(), offset=off)
        if se == "newey-west":
            ref = model.fit(cov_type="HAC", cov_kwds={"maxlags": 2, "use_correction": True}, tol=1e-13)
        elif family == "quasipoisson":
            ref = model.fit(scale="X2", tol=1e-13)
        else:
            ref = model.fit(tol=1e-13)
        np.testing.assert_allclose(fit.estimate[i], ref.params, rtol=1e-8)
        np.testing.assert_allclose(fit.std_error[i], ref.bse, rtol=1e-8)


def test_poisson_and_quasipoisson_reproduce_r_on_sicily(sicily: pd.DataFrame) -> None:
    # sicily_reference.md (a), (b): glm(aces ~ offset(log(stdpop)) + smokban + time, poisson / quasipoisson)
    x = np.column_stack([np.ones(59), sicily["smokban"], sicily["time"]]).astype(float)
    y = sicily["aces"].to_numpy(float)[None, :]
    off = np.log(sicily["stdpop"].to_numpy())
    est = [-6.2431509, -0.11162844, 0.0049449920]
    pois = pw._fit_counts(x, y, off, "poisson", "model", None)
    quasi = pw._fit_counts(x, y, off, "quasipoisson", "model", None)
    np.testing.assert_allclose(pois.estimate[0], est, rtol=1e-7)
    np.testing.assert_allclose(pois.std_error[0], [0.011189363, 0.017224782, 0.00049923001], rtol=1e-6)
    np.testing.assert_allclose(quasi.std_error[0], [0.021109637, 0.032495941, 0.00094183771], rtol=1e-6)


def test_batched_negative_binomial_equals_statsmodels() -> None:
    x, y, off = count_data(2, n_series=3)
    fit = pw._fit_counts(x, y, off, "negbin", "model", None)
    nw = pw._fit_counts(x, y, off, "negbin", "newey-west", 2)
    assert fit.valid.all()
    for i in range(y.shape[0]):
        with warnings.catch_warnings():
            # statsmodels' convergence chatter on the BFGS start value
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = sm.NegativeBinomial(y[i], x, offset=off).fit(disp=0, method="bfgs", maxiter=1000)
            joint = sm.NegativeBinomial(y[i], x, offset=off).fit(
                start_params=start.params, disp=0, method="newton", maxiter=200, tol=1e-14
            )
        alpha = joint.params[-1]
        assert 0.01 < alpha < 1  # interior optimum, so the comparison is meaningful
        np.testing.assert_allclose(fit.estimate[i], joint.params[:-1], rtol=1e-7)
        # glm.nb-style SEs: GLM with alpha fixed at its ML value
        glm = sm.GLM(y[i], x, family=sm.families.NegativeBinomial(alpha=alpha), offset=off)
        np.testing.assert_allclose(fit.std_error[i], glm.fit(tol=1e-13).bse, rtol=1e-6)
        # Newey-West with the expected-information bread (R sandwich on glm.nb, fit_its), built here from
        # statsmodels pieces: GLM covariance as bread, GLM score contributions, statsmodels' HAC meat
        res = glm.fit(tol=1e-13)
        meat = S_hac_simple(res.model.score_obs(res.params), nlags=2)
        cov = res.cov_params() @ meat @ res.cov_params() * 36 / (36 - 4)
        np.testing.assert_allclose(nw.std_error[i], np.sqrt(np.diag(cov)), rtol=1e-6)


def test_count_fit_with_collapsed_segment_is_not_valid() -> None:
    x = design(6, 6)
    y = np.array([[3, 4, 2, 5, 3, 4, 0, 0, 0, 0, 0, 0], [3, 4, 2, 5, 3, 4, 2, 1, 3, 2, 1, 2]], dtype=float)
    fit = pw._fit_counts(x, y, np.zeros(12), "poisson", "model", None)
    assert fit.valid.tolist() == [False, True]


# ------------------------------------------------------------------------------------ simulation


def test_simulated_gaussian_errors_have_stated_sd_and_autocorrelation() -> None:
    x, _ = pw._design(30, 30, "level+slope")
    coef = np.array([0.0, 0.5, 4.0, -0.2])
    y = pw._simulate(
        np.random.default_rng(0), family="gaussian", x_full=x, coef=coef, baseline=100.0, sd=3.0,
        dispersion=0.0, ar=0.6, log_offset=np.zeros(60), n_sims=20000,
    )  # fmt: skip
    e = y - (100.0 + x @ coef)
    # marginal SD is sd at every time point (stationary start), lag-1 correlation is ar
    np.testing.assert_allclose(e.std(axis=0)[[0, 30, 59]], 3.0, rtol=0.03)
    lag1 = np.mean([np.corrcoef(e[:, t], e[:, t + 1])[0, 1] for t in (0, 29, 58)])
    assert abs(lag1 - 0.6) < 0.02


@pytest.mark.parametrize("ar", [0.0, 0.5])
def test_simulated_counts_have_negative_binomial_mean_and_variance(ar: float) -> None:
    x, _ = pw._design(5, 5, "level+slope")
    off = np.log(np.full(10, 2.0))
    y = pw._simulate(
        np.random.default_rng(1), family="negbin", x_full=x, coef=np.array([0.0, 0.0, math.log(0.5), 0.0]),
        baseline=10.0, sd=math.nan, dispersion=0.3, ar=ar, log_offset=off, n_sims=40000,
    )  # fmt: skip
    for t, mu in [(0, 20.0), (9, 10.0)]:  # baseline x offset, halved after the interruption
        assert abs(y[:, t].mean() - mu) < 4 * math.sqrt((mu + 0.3 * mu**2) / 40000)
        np.testing.assert_allclose(y[:, t].var(), mu + 0.3 * mu**2, rtol=0.05)
    corr = np.corrcoef(y[:, 1], y[:, 2])[0, 1]
    assert (abs(corr) < 0.02) if ar == 0.0 else (0.2 < corr < 0.5)


# ------------------------------------------------------------------------------ power(): behaviour


def test_type_one_error_near_alpha_for_iid_gaussian_ols() -> None:
    n_sims = 4000
    res = power(n_pre=12, n_post=12, sd=2.0, n_sims=n_sims, seed=3)
    assert res["term"].tolist() == ["level_change", "slope_change"]
    assert (res["n_valid"] == n_sims).all()
    for _, row in res.iterrows():
        assert abs(row["power"] - 0.05) < mc_tol(0.05, n_sims)
        assert abs(row["coverage"] - 0.95) < mc_tol(0.05, n_sims)
        assert row["true_value"] == 0.0
        assert math.isnan(row["relative_bias"])


@pytest.mark.parametrize(("n_pre", "n_post", "delta"), [(24, 24, 6.0), (8, 16, 4.0)])
def test_power_matches_noncentral_t(n_pre: int, n_post: int, delta: float) -> None:
    sd, n_sims = 5.0, 3000
    x = design(n_pre, n_post)
    df = n_pre + n_post - 4
    se_true = sd * math.sqrt(np.linalg.inv(x.T @ x)[2, 2])
    crit = stats.t.ppf(0.975, df)
    nc = delta / se_true
    expected = stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
    res = power(n_pre=n_pre, n_post=n_post, level_change=delta, sd=sd, n_sims=n_sims, seed=4)
    row = res.set_index("term").loc["level_change"]
    assert abs(row["power"] - expected) < mc_tol(expected, n_sims)
    # model SE is unbiased for the sampling SD under iid errors
    assert abs(row["empirical_sd"] / se_true - 1) < 0.05
    assert abs(row["bias"]) < 4 * se_true / math.sqrt(n_sims)


def test_unsupported_combination_in_grid_names_method_and_se() -> None:
    with pytest.raises(EvalToolkitError, match=r"method='gls-reml' with se_type='newey-west'"):
        power(
            n_pre=24,
            n_post=24,
            sd=1.0,
            method=["ols", "gls-reml"],
            se_type=["model", "newey-west"],
            n_sims=10,
        )


def test_autocorrelation_type_one_error_by_method() -> None:
    n_sims = 2000
    common = {"n_pre": 24, "n_post": 24, "sd": 1.0, "ar": 0.6, "n_sims": n_sims, "seed": 5}
    ols = (
        power(**common, se_type=["model", "newey-west"], lags=2)
        .query("term == 'level_change'")
        .set_index("se_type")
    )
    reml = power(**common, method="gls-reml").query("term == 'level_change'").iloc[0]
    t1_model = ols.loc["model", "power"]
    t1_nw = ols.loc["newey-west", "power"]
    assert t1_model > 0.05 + mc_tol(0.05, n_sims)  # model SEs ignore autocorrelation
    assert t1_nw < t1_model - 0.03  # Newey-West corrects part of it (still above nominal in short series)
    assert reml["power"] < t1_nw  # REML AR(1) comes closest to nominal (Turner et al. 2021)
    assert 0.0 < reml["mean_ar_estimate"] < 0.6  # ... although phi is underestimated
    assert math.isnan(ols.loc["model", "mean_ar_estimate"])
    # the same simulated series feed both SE types: identical estimates, so identical bias and empirical SD
    assert ols.loc["model", "bias"] == ols.loc["newey-west", "bias"]
    assert ols.loc["model", "empirical_sd"] == ols.loc["newey-west", "empirical_sd"]


def test_power_summary_equals_statsmodels_loop_on_same_series() -> None:
    n_sims, seed = 60, 9
    res = power(
        n_pre=10, n_post=14, level_change=1.5, slope_change=0.2, baseline=3.0, pre_slope=0.1, sd=2.0,
        ar=0.3, se_type="newey-west", lags=2, n_sims=n_sims, seed=seed, conf_level=0.9,
    )  # fmt: skip
    x = design(10, 14)
    y = pw._simulate(
        np.random.default_rng(seed), family="gaussian", x_full=x, coef=np.array([0.0, 0.1, 1.5, 0.2]),
        baseline=3.0, sd=2.0, dispersion=0.0, ar=0.3, log_offset=np.zeros(24), n_sims=n_sims,
    )  # fmt: skip
    est, lo, hi = [], [], []
    for i in range(n_sims):
        f = sm.OLS(y[i], x).fit(cov_type="HAC", cov_kwds={"maxlags": 2, "use_correction": True}, use_t=True)
        ci = f.conf_int(alpha=0.1)
        est.append(f.params[2:])
        lo.append(ci[2:, 0])
        hi.append(ci[2:, 1])
    est_a, lo_a, hi_a = np.array(est), np.array(lo), np.array(hi)
    truth = np.array([1.5, 0.2])
    got = res.set_index("term")
    for j, term in enumerate(["level_change", "slope_change"]):
        row = got.loc[term]
        assert row["power"] == pytest.approx(np.mean((lo_a[:, j] > 0) | (hi_a[:, j] < 0)))
        assert row["coverage"] == pytest.approx(np.mean((lo_a[:, j] <= truth[j]) & (truth[j] <= hi_a[:, j])))
        assert row["mean_estimate"] == pytest.approx(est_a[:, j].mean(), rel=1e-10)
        assert row["rmse"] == pytest.approx(np.sqrt(np.mean((est_a[:, j] - truth[j]) ** 2)), rel=1e-10)
        assert row["empirical_sd"] == pytest.approx(est_a[:, j].std(ddof=1), rel=1e-10)
        assert row["relative_bias"] == pytest.approx((est_a[:, j].mean() - truth[j]) / truth[j], rel=1e-8)


def test_same_seed_same_table_and_grid_layout() -> None:
    kwargs = {"n_pre": [6, 12], "n_post": 12, "level_change": [0.0, 2.0], "sd": 1.5, "n_sims": 50}
    a = power(**kwargs, seed=1)
    b = power(**kwargs, seed=1)
    c = power(**kwargs, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["mean_estimate"].equals(c["mean_estimate"])
    assert len(a) == 2 * 2 * 2
    expected = [
        (n_pre, level, term)
        for n_pre in (6, 12)
        for level in (0.0, 2.0)
        for term in ("level_change", "slope_change")
    ]
    assert list(a[["n_pre", "level_change", "term"]].itertuples(index=False, name=None)) == expected
    assert a["lags"].isna().all()
    assert str(a["lags"].dtype) == "Int64"
    # common random numbers: the effect size shifts every estimate by exactly the effect
    lvl = a[a["term"] == "level_change"].set_index(["n_pre", "level_change"])["mean_estimate"]
    assert lvl.loc[(6, 2.0)] - lvl.loc[(6, 0.0)] == pytest.approx(2.0, abs=1e-9)


def test_power_increases_along_a_grid() -> None:
    res = power(n_pre=12, n_post=12, level_change=[1.0, 2.0, 3.0, 4.0], sd=2.0, n_sims=400, seed=6)
    curve = res.loc[res["term"] == "level_change", "power"].to_numpy()
    assert np.all(np.diff(curve) > 0)


def test_newey_west_lags_grid_and_model_rows() -> None:
    res = power(n_pre=10, n_post=10, sd=1.0, se_type=["model", "newey-west"], lags=[1, 3], n_sims=30)
    assert res["se_type"].tolist() == ["model"] * 2 + ["newey-west"] * 4
    assert res["lags"].isna().tolist() == [True] * 2 + [False] * 4
    assert res["lags"].dropna().tolist() == [1, 1, 3, 3]


def test_poisson_type_one_error_and_overdispersion() -> None:
    n_sims = 2000
    common = {"n_pre": 24, "n_post": 24, "baseline": 40.0, "pre_slope": 0.005, "n_sims": n_sims, "seed": 7}
    pois = power(**common, family="poisson").set_index("term")
    for term in ("level_change", "slope_change"):
        assert abs(pois.loc[term, "power"] - 0.05) < mc_tol(0.05, n_sims)
    over = {**common, "dispersion": 0.05}  # variance 40 + 0.05 * 1600 = 3x Poisson
    naive = power(**over, family="poisson").set_index("term")
    quasi = power(**over, family="quasipoisson").set_index("term")
    negbin = power(**over, family="negbin").set_index("term")
    assert naive.loc["level_change", "power"] > 0.15  # Poisson SEs ignore the overdispersion
    assert abs(quasi.loc["level_change", "power"] - 0.05) < mc_tol(0.05, n_sims) + 0.01
    assert abs(negbin.loc["level_change", "power"] - 0.05) < mc_tol(0.05, n_sims) + 0.01
    assert (negbin["n_valid"] == n_sims).all()
    assert negbin["dispersion"].eq(0.05).all()
    assert negbin["sd"].isna().all()


def test_offset_is_a_rate_denominator() -> None:
    # a rate of 0.02 per person with 2,000 people gives the same expected count as a baseline of 40
    common = {"n_pre": 12, "n_post": 12, "level_change": -0.2, "family": "poisson", "n_sims": 300, "seed": 8}
    with_offset = power(**common, baseline=0.02, offset=2000.0)
    counts = power(**common, baseline=40.0)
    cols = ["power", "mean_estimate", "coverage", "mean_std_error"]
    pd.testing.assert_frame_equal(with_offset[cols], counts[cols])
    # a growing population: power() with offset array equals a hand-built count model of the same means
    pop = np.linspace(1000.0, 3000.0, 24)
    grow = power(**common, baseline=0.02, offset=pop)
    assert grow["mean_estimate"].iloc[0] == pytest.approx(-0.2, abs=0.03)


def test_sparse_counts_report_invalid_fits() -> None:
    res = power(n_pre=4, n_post=4, baseline=0.4, level_change=math.log(0.3), family="poisson", n_sims=500)
    row = res.set_index("term").loc["level_change"]
    assert 0 < row["n_valid"] < 500
    assert math.isfinite(row["mean_estimate"])


def test_effect_level_only_reports_level_term_and_misspecification_bias() -> None:
    n_sims = 1000
    res = power(n_pre=12, n_post=12, slope_change=0.5, sd=1.0, effect="level", n_sims=n_sims, seed=2)
    assert res["term"].tolist() == ["level_change"]
    # omitting a real slope change: E[beta_hat] = (X'X)^-1 X' E[y] for the level-only design
    full = design(12, 12)
    x = full[:, :3]
    expected_bias = (np.linalg.solve(x.T @ x, x.T @ (full[:, 3] * 0.5)))[2]
    assert abs(expected_bias) > 0.2
    row = res.iloc[0]
    assert abs(row["bias"] - expected_bias) < 4 * row["empirical_sd"] / math.sqrt(n_sims)


def test_input_is_not_mutated() -> None:
    levels = [0.0, 1.0]
    off = np.linspace(100, 200, 20)
    before = off.copy()
    power(n_pre=10, n_post=10, level_change=levels, sd=1.0, n_sims=5)
    power(n_pre=10, n_post=10, baseline=0.1, offset=off, family="poisson", n_sims=5)
    assert levels == [0.0, 1.0]
    np.testing.assert_array_equal(off, before)


# ----------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_pre": 2}, "n_pre must be at least 3"),
        ({"n_post": [12, 2]}, "n_post must be at least 3"),
        ({"n_pre": 12.5}, "n_pre must be an integer"),
        ({"sd": -1.0}, "sd must be positive"),
        ({"sd": None}, "sd .* is required"),
        ({"sd": float("nan")}, "sd must be finite"),
        ({"ar": 1.0}, "ar must lie strictly between -1 and 1"),
        ({"n_sims": 1}, "n_sims must be at least 2"),
        ({"conf_level": 95}, "conf_level must be between 0 and 1"),
        ({"family": "binomial"}, "family must be one of"),
        ({"method": "arima"}, "method='arima' is not supported in power"),
        ({"method": "glm"}, "method must be one of"),
        ({"se_type": "robust"}, "se_type must be one of"),
        ({"effect": "ramp"}, "effect must be one of"),
        (
            {"method": "prais-winsten", "se_type": "newey-west"},
            r"method='prais-winsten' with se_type='newey-west'",
        ),
        ({"lags": 2}, "lags is used only with se_type='newey-west'"),
        ({"se_type": "newey-west", "lags": 30}, "lags must be smaller than"),
        ({"se_type": "newey-west"}, "se_type='newey-west' needs lags"),
        ({"se_type": "newey-west", "lags": -1}, "lags must be at least 0"),
        ({"dispersion": 0.1}, "dispersion applies to count families only"),
        ({"level_change": []}, "level_change must not be an empty list"),
        ({"level_change": "big"}, "level_change must be a number"),
    ],
)
def test_bad_gaussian_input_names_the_argument(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"n_pre": 12, "n_post": 12, "sd": 1.0, "n_sims": 10}
    args.update(kwargs)
    with pytest.raises(EvalToolkitError, match=match):
        power(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"baseline": None}, "baseline .* is required"),
        ({"baseline": 0.0}, "baseline must be positive"),
        ({"sd": 1.0}, "sd applies to family='gaussian' only"),
        ({"dispersion": -0.1}, "dispersion must be non-negative"),
        ({"ar": 0.3}, "needs dispersion > 0"),
        (
            {"method": "gls-reml"},
            r"method='gls-reml' with se_type='model' is not supported for family='poisson'",
        ),
        ({"offset": [1.0, 2.0]}, "offset has 2 values"),
        ({"offset": -5.0}, "offset must be one positive"),
    ],
)
def test_bad_count_input_names_the_argument(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"n_pre": 12, "n_post": 12, "baseline": 20.0, "family": "poisson", "n_sims": 10}
    args.update(kwargs)
    with pytest.raises(EvalToolkitError, match=match):
        power(**args)  # type: ignore[arg-type]


def test_offset_rejected_for_gaussian() -> None:
    with pytest.raises(EvalToolkitError, match="offset applies to count families only"):
        power(n_pre=12, n_post=12, sd=1.0, offset=100.0, n_sims=10)


def test_supported_analyses_all_run() -> None:
    for family, method, se in pw.SUPPORTED_ANALYSES:
        extra: dict[str, object] = (
            {"sd": 1.0} if family == "gaussian" else {"baseline": 30.0, "dispersion": 0.05}
        )
        if se == "newey-west":
            extra["lags"] = 1
        res = power(n_pre=8, n_post=8, family=family, method=method, se_type=se, n_sims=20, ar=0.2, **extra)  # type: ignore[arg-type]
        assert len(res) == 2
        assert (res["n_valid"] > 15).all()
        assert res[["power", "coverage", "mean_std_error"]].notna().all().all()


def test_chunked_fitting_equals_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = {"n_pre": 10, "n_post": 10, "sd": 1.0, "ar": 0.3, "method": "gls-reml", "n_sims": 250, "seed": 4}
    whole = power(**kwargs)
    monkeypatch.setattr(pw, "_CHUNK", 64)
    chunked = power(**kwargs)
    pd.testing.assert_frame_equal(whole, chunked, check_exact=False, rtol=1e-8)
