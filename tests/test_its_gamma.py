# ruff: noqa: E501  (the R reference numbers below are pasted verbatim, one R vector per line)
"""``family="gamma"`` (gamma GLM, log link) against R, and two issue-11 defects: negative binomial on large
counts (no false "did not converge") and ``diagnostics()`` on long series (no overflow).

Reference numbers (R 4.2, stats::glm, MASS, sandwich), printed by the scripts in ``tests/r/`` and pasted
here; their outputs are kept beside them (``*.out``):

* ``tests/r/gamma_reference.R``: ``glm(y ~ t + level + slope [+ s1 + c1], family = Gamma(link = "log"))``
  with ``glm.control(epsilon = 1e-14)`` (R's default 1e-8 stops ~1e-6 short of the optimum), on (a) a
  seeded synthetic quarterly mean length of stay and (b) the Sicily rate ``aces / stdpop * 10^5``.
  ``summary.glm`` SEs (Pearson χ²/(n-p) dispersion), t p-values on the residual df, deviance and
  ``sandwich::NeweyWest(fit, lag = 1, prewhite = FALSE, adjust = TRUE)`` SEs.
* ``tests/r/negbin_large_reference.R``: ``MASS::glm.nb`` on a seeded NB2 series of ~45,000 a month.
* ``tests/r/dw_long_reference.R``: exact Durbin–Watson p-values for 300 and 600 points (Imhof's formula
  in R, checked by Monte Carlo; ``lmtest::dwtest``'s exact pan algorithm fails at these lengths).

Coding as evaltoolkit (Stata itsa): ``level = t >= T``, ``slope = pmax(t - T, 0)``. Tolerance 1e-6 relative.
"""

from __future__ import annotations

import math
import warnings
from functools import partial

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaltoolkit.its import fit_its as _fit_its
from evaltoolkit.its import power
from evaltoolkit.its.errors import ITSInputError

# expected values here are the classical OLS/GLM fits (R lm/glm), whatever the default method
fit_its = partial(_fit_its, method="ols")

RTOL = 1e-6

# fmt: off
# (a) gamma_reference.R: quarterly mean LOS from 2015-01-01, 16 + 16 quarters, change at 2019-01-01 (t = 17).
LOS = [37.2244, 27.4637, 30.1682, 33.3409, 24.1100, 33.6670, 32.5248, 26.2597, 34.8054, 43.6678, 29.2461, 43.2968, 31.6249, 35.0345, 34.9524, 30.9907, 27.4070, 35.4890, 23.0764, 31.0686, 27.7303, 32.7292, 34.0112, 31.8441, 31.4496, 31.5123, 28.3432, 25.7744, 39.0124, 24.5192, 32.4894, 48.5299]

# sicily.csv (Lopez Bernal et al. 2017; see tests/test_its_sicily.py), Jan 2002 - Nov 2006, ban from Jan 2005.
ACES = [728, 659, 791, 734, 757, 726, 760, 740, 720, 814, 795, 858, 887, 766, 851, 769, 781, 756, 766, 752, 765, 831, 879, 928, 914, 808, 937, 840, 916, 828, 845, 818, 860, 839, 887, 886, 831, 796, 833, 820, 877, 758, 767, 738, 781, 843, 850, 908, 1021, 859, 976, 888, 962, 838, 810, 876, 843, 936, 912]
STDPOP = [379875.3, 376495.5, 377040.8, 377116.4, 377383.4, 374113.1, 379513.3, 376295.5, 374653.2, 378485.6, 375955.5, 378349.7, 376762.4, 379032.3, 379360.4, 376162.0, 377972.4, 381830.7, 379888.6, 380872.2, 380966.9, 381240.4, 382104.9, 381802.7, 381656.3, 383680.0, 383504.2, 386462.9, 383783.1, 380836.8, 383483.0, 380906.2, 382926.8, 384052.4, 384449.6, 383428.4, 388153.2, 388373.2, 386470.1, 386033.2, 383686.4, 385509.3, 385901.9, 386516.6, 388436.5, 383255.2, 390148.7, 385874.9, 391613.6, 391750.4, 394005.6, 391364.9, 391664.6, 389022.3, 391878.5, 388575.3, 392989.0, 390018.8, 390712.3]

# R output of gamma_reference.R, in term order intercept, pre_slope, level_change, slope_change[, sin_1, cos_1].
R_GAMMA = {
    "a1": {
        "coef": [3.42178604961541, 0.0087789191535933, -0.229537637991842, 0.0056418595104544],
        "se": [0.0897427266491966, 0.0092809718433775, 0.121364455089387, 0.0131252762529073],
        "p_t": [1.11550591191926e-25, 0.352288980528309, 0.0689700648426735, 0.670597088199099],
        "dispersion": 0.0292863890415725,
        "deviance": 0.807538338582154,
        "df_resid": 28,
        "nw_se": [0.0646640947670434, 0.00615348297290649, 0.0832456833150599, 0.0124152023511961],
    },
    "a2": {
        "coef": [3.4148356197237, 0.00959458320768835, -0.241870942085616, 0.00549528567139498, 0.0296544363599661, -0.00212219822076169],
        "se": [0.0930012514871205, 0.00964440527296577, 0.126870013439098, 0.0134739184009272, 0.044458511589129, 0.044458511589129],
        "p_t": [6.22348545202727e-24, 0.328986037894943, 0.0677019484159379, 0.686725663666535, 0.510640138844582, 0.962292740681664],
        "dispersion": 0.0308629011027235,
        "deviance": 0.794208614262503,
        "df_resid": 26,
        "nw_se": [0.0597845439944448, 0.0058074698095866, 0.0831860163376818, 0.0127106554212142, 0.0327304077037237, 0.0519228725056181],
    },
    "b1": {
        "coef": [5.27038861081501, 0.00491305786526402, -0.115258076768949, 0.000397936580303355],
        "se": [0.0224613377195234, 0.00105864158781019, 0.0348482971473727, 0.00232875471184339],
        "p_t": [3.20373819417448e-84, 2.19163070128916e-05, 0.00166363882782083, 0.864945567833036],
        "dispersion": 0.0043540050144494,
        "deviance": 0.235201326902923,
        "df_resid": 55,
        "nw_se": [0.019177326027752, 0.000807285723535461, 0.0306920293346467, 0.00187136700618997],
    },
    "b2": {
        "coef": [5.26153912239662, 0.00536856752634727, -0.141219914504429, 0.001624480213115, 0.0382759733070096, 0.0377478302136014],
        "se": [0.0186351479825193, 0.00088301198591262, 0.0296562429005938, 0.00191987225148731, 0.0103828432300304, 0.0100136970856048],
        "p_t": [6.79542423174804e-86, 1.35097513694273e-07, 1.52601190011267e-05, 0.401279013108262, 0.00053587206129071, 0.000412816372176581],
        "dispersion": 0.00289486568101784,
        "deviance": 0.154356775711349,
        "df_resid": 53,
        "nw_se": [0.0235840978606204, 0.000983714024332453, 0.0244895609236497, 0.00163222309766133, 0.00812306498692207, 0.0106364818078919],
    },
}
# fmt: on


def los_frame() -> pd.DataFrame:
    return pd.DataFrame({"quarter": pd.date_range("2015-01-01", periods=32, freq="QS"), "mean_los": LOS})


def sicily_frame() -> pd.DataFrame:
    df = pd.DataFrame(
        {"month": pd.date_range("2002-01-01", periods=59, freq="MS"), "aces": ACES, "stdpop": STDPOP}
    )
    df["rate"] = df["aces"] / df["stdpop"] * 1e5
    return df


def fit_case(key: str, **kwargs: object):
    if key.startswith("a"):
        data, outcome, time, when = los_frame(), "mean_los", "quarter", "2019-01-01"
    else:
        data, outcome, time, when = sicily_frame(), "rate", "month", "2005-01-01"
    season = {"seasonality": 1} if key.endswith("2") else {}
    return fit_its(data, outcome=outcome, time=time, interruptions=when, family="gamma", **season, **kwargs)


@pytest.mark.parametrize("key", sorted(R_GAMMA))
def test_gamma_matches_r_summary_glm(key):
    ref = R_GAMMA[key]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_case(key)
    assert res.use_t and res.df_resid == ref["df_resid"]
    coefs = res.coefficients()
    np.testing.assert_allclose(coefs["estimate"], ref["coef"], rtol=RTOL)
    np.testing.assert_allclose(coefs["std_error"], ref["se"], rtol=RTOL)
    np.testing.assert_allclose(coefs["p_value"], ref["p_t"], rtol=RTOL)
    assert (coefs["df"] == ref["df_resid"]).all()
    assert res.dispersion == pytest.approx(ref["dispersion"], rel=RTOL)
    assert res.deviance == pytest.approx(ref["deviance"], rel=RTOL)
    assert res.diagnostics().dispersion == pytest.approx(ref["dispersion"], rel=RTOL)
    assert res.converged and res.warnings == ()


@pytest.mark.parametrize("key", sorted(R_GAMMA))
def test_gamma_newey_west_matches_sandwich(key):
    res = fit_case(key, se_type="newey-west", lags=1)
    np.testing.assert_allclose(res.coefficients()["std_error"], R_GAMMA[key]["nw_se"], rtol=RTOL)
    np.testing.assert_allclose(res.params, R_GAMMA[key]["coef"], rtol=RTOL)


def test_gamma_effects_are_ratios_whose_interval_stays_positive():
    ref = R_GAMMA["a1"]
    b0, b1, b2, _ = ref["coef"]
    q = stats.t.ppf(0.975, ref["df_resid"])
    res = fit_case("a1")
    eff = res.effects(at=0, uncertainty="delta")
    rel = eff.loc[eff["term"] == "relative_change"].iloc[0]
    # At the first post period the fitted/counterfactual ratio of means is exp(level_change).
    assert rel["estimate"] == pytest.approx(math.exp(b2) - 1, rel=RTOL)
    assert rel["ci_lower"] == pytest.approx(math.exp(b2 - q * ref["se"][2]) - 1, rel=RTOL)
    assert rel["ci_upper"] == pytest.approx(math.exp(b2 + q * ref["se"][2]) - 1, rel=RTOL)
    assert rel["rate_ratio"] == pytest.approx(math.exp(b2), rel=RTOL)
    assert rel["ci_lower"] > -1  # a mean LOS can never fall by 100% or more
    absolute = eff.loc[eff["term"] == "absolute_change"].iloc[0]
    assert absolute["estimate"] == pytest.approx(
        math.exp(b0 + 17 * b1 + b2) - math.exp(b0 + 17 * b1), rel=RTOL
    )
    pred = res.predictions()
    assert (pred["counterfactual_ci_lower"] > 0).all() and (pred["fitted_ci_lower"] > 0).all()
    cum = res.cumulative_effect()
    assert (
        -1
        < cum["relative_ci_lower"].iloc[0]
        < cum["relative_change"].iloc[0]
        < cum["relative_ci_upper"].iloc[0]
    )
    assert cum["observed_total"].iloc[0] == pytest.approx(sum(LOS[16:]), rel=1e-12)
    assert res.log_link and not res.is_count
    assert "gamma GLM (log link" in res.summary().as_text()


def test_gamma_compare_nested_is_an_f_test_on_the_deviance():
    full, reduced = fit_case("a2"), fit_case("a1")
    a1, a2 = R_GAMMA["a1"], R_GAMMA["a2"]
    expected = (a1["deviance"] - a2["deviance"]) / 2 / a2["dispersion"]  # R anova(..., test = "F")
    out = full.compare_nested(reduced).iloc[0]
    assert out["test"] == "F" and out["statistic"] == pytest.approx(expected, rel=RTOL)
    assert out["p_value"] == pytest.approx(stats.f.sf(expected, 2, 26), rel=1e-5)


def test_gamma_refuses_non_positive_outcomes_naming_the_rows():
    df = los_frame()
    df.loc[[3, 20], "mean_los"] = [0.0, -1.5]
    with pytest.raises(
        ITSInputError, match=r"family='gamma'.*'mean_los' is zero or negative in rows? .*3.*20"
    ):
        fit_its(df, outcome="mean_los", time="quarter", interruptions="2019-01-01", family="gamma")
    assert df.loc[3, "mean_los"] == 0.0  # input untouched


def test_gamma_refuses_an_offset():
    df = los_frame().assign(discharges=100)
    with pytest.raises(ITSInputError, match=r"offset= does not apply to family='gamma'.*'discharges'"):
        fit_its(
            df,
            outcome="mean_los",
            time="quarter",
            interruptions="2019-01-01",
            family="gamma",
            offset="discharges",
        )


@pytest.mark.parametrize("method", ["gls-reml", "prais-winsten", "arima"])
def test_gamma_refuses_ar_methods(method):
    with pytest.raises(
        ITSInputError, match=rf"method='{method}' models AR errors.*family='gamma'.*se_type='newey-west'"
    ):
        fit_its(
            los_frame(),
            outcome="mean_los",
            time="quarter",
            interruptions="2019-01-01",
            family="gamma",
            method=method,
        )


def test_power_and_profile_intervals_refuse_gamma():
    with pytest.raises(
        ITSInputError, match=r"power\(\) does not simulate family='gamma'.*family='gaussian' on the log"
    ):
        power(n_pre=12, n_post=12, level_change=0.1, family="gamma", sd=0.1, n_sims=10)
    with pytest.raises(ITSInputError, match=r"profile_conf_int is for count families, not family='gamma'"):
        fit_case("a1").profile_conf_int()


# ------------------------------------------------------------------------ negative binomial, large counts
# fmt: off
# negbin_large_reference.R: rnbinom(48, size = 250, mu = 45000 exp(...)), set.seed(45000), months from 2018-01.
NB_Y = [42747, 44446, 47957, 46352, 44702, 43347, 48249, 47727, 44164, 45190, 43270, 46634, 45312, 45494, 51823, 38698, 48364, 49770, 48331, 47074, 45373, 40324, 47858, 40686, 42298, 46903, 44086, 44362, 42970, 42309, 45858, 48763, 43704, 44072, 44596, 46219, 42960, 44667, 49731, 43692, 45044, 44715, 48718, 49805, 44908, 50354, 46998, 49567]
NB_R = {
    "coef": [10.7289341635699, -0.000138872959342721, -0.0457696635902797, 0.00450027568476902],
    "se": [0.024028929846402, 0.00168167939926573, 0.03296968626381, 0.00237824644837111],
    "theta": 309.567581860239,
    "theta_se": 63.5878145339385,
    "twologlik": -891.090629905113,
    "deviance": 48.0274888854098,
}
# fmt: on


def test_negbin_on_large_counts_converges_without_warning_and_matches_glm_nb():
    df = pd.DataFrame({"month": pd.date_range("2018-01-01", periods=48, freq="MS"), "admissions": NB_Y})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the defect: a spurious "the GLM fit did not converge" ITSWarning
        res = fit_its(df, outcome="admissions", time="month", interruptions="2020-01-01", family="negbin")
    assert res.converged and res.warnings == ()
    np.testing.assert_allclose(res.params, NB_R["coef"], rtol=RTOL)
    np.testing.assert_allclose(res.coefficients()["std_error"], NB_R["se"], rtol=RTOL)
    assert res.theta == pytest.approx(NB_R["theta"], rel=RTOL)
    assert res.theta_std_error == pytest.approx(NB_R["theta_se"], rel=RTOL)
    assert 2 * res.loglik == pytest.approx(NB_R["twologlik"], rel=RTOL)
    assert res.deviance == pytest.approx(NB_R["deviance"], rel=RTOL)


def test_poisson_on_large_counts_converges():
    df = pd.DataFrame({"month": pd.date_range("2018-01-01", periods=48, freq="MS"), "admissions": NB_Y})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_its(
            df, outcome="admissions", time="month", interruptions="2020-01-01", family="quasipoisson"
        )
    assert res.converged and res.warnings == ()


# --------------------------------------------------------------------------- diagnostics on long series
# dw_long_reference.R: exact Durbin-Watson p by Imhof's formula in R (Monte Carlo 0.235860 and 0.235260, SE 0.0013).
DW_R = {300: (1.93725136135035, 0.236178681132343), 600: (1.95172263460203, 0.237434955805329)}


@pytest.mark.parametrize("n", [300, 600])
def test_diagnostics_on_long_series_do_not_overflow(n):
    t = np.arange(1, n + 1)
    y = 10 + 0.01 * t + 2 * (t > n / 2) + np.sin(2.3 * t) + 0.8 * np.sin(0.37 * t) + 0.5 * np.cos(1.1 * t)
    res = fit_its(pd.DataFrame({"t": t, "y": y}), outcome="y", time="t", interruptions=n // 2 + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the defect: RuntimeWarning "overflow encountered in exp"
        diag = res.diagnostics()
    dw = diag.tests.set_index("test").loc["durbin_watson"]
    assert dw["statistic"] == pytest.approx(DW_R[n][0], rel=1e-10)
    assert dw["p_value"] == pytest.approx(DW_R[n][1], rel=1e-6)
    assert np.isfinite(diag.tests["p_value"]).all()


def test_compare_methods_defaults_for_gamma():
    from evaltoolkit.its import DEFAULT_GAMMA_METHODS, compare_methods

    cmp = compare_methods(
        los_frame(), outcome="mean_los", time="quarter", interruptions="2019-01-01", family="gamma"
    )
    assert [s.label for s in cmp.specs] == list(DEFAULT_GAMMA_METHODS)
    table = cmp.table("level_change").set_index("method")
    ref = R_GAMMA["a1"]
    assert table.loc["gamma", "std_error"] == pytest.approx(ref["se"][2], rel=RTOL)
    assert table.loc["gamma+newey-west(lags=1)", "std_error"] == pytest.approx(ref["nw_se"][2], rel=RTOL)
    assert table.loc["gamma", "rate_ratio"] == pytest.approx(math.exp(ref["coef"][2]), rel=RTOL)
    assert cmp.has_counts  # log-link: rate-ratio columns (ratios of means)


def test_report_totals_of_a_gamma_fit_are_sums_of_mean_stays():
    from evaltoolkit.its.derived import draw_coefficients, totals
    from evaltoolkit.report._effects import change

    b0, b1, b2, b3 = R_GAMMA["a1"]["coef"]
    t = np.arange(17, 21)  # 2019-01-01 to 2019-10-01: the first four post quarters
    fitted = np.exp(b0 + b1 * t + b2 + b3 * (t - 17)).sum()
    counterfactual = np.exp(b0 + b1 * t).sum()
    res = fit_case("a1")
    time = pd.to_datetime(res.design.frame["time"])
    mask = ((time >= "2019-01-01") & (time <= "2019-10-01")).to_numpy()
    (draws,) = draw_coefficients(res, n_draws=2_000, seed=1)
    out = change([totals(draws, mask)], 0.95, text="")
    assert out["n_periods"] == 4
    assert out["relative_change"] == pytest.approx(fitted / counterfactual - 1, rel=RTOL)
    # the absolute change is the mean difference per quarter, in days
    assert out["estimate"] == pytest.approx((fitted - counterfactual) / 4, rel=RTOL)
    assert out["relative_ci_lower"] > -1
