"""Regression with ARMA(p, q) errors (``fit_its(method="arima", ma_order=q)``) against R.

Reference numbers: ``tests/r/arma_reference.R`` → ``tests/r/arma_reference.json`` (R 4.2.2, nlme 3.1-162).
Single series: ``stats::arima(y, order = c(p, 0, q), xreg = X, include.mean = FALSE, method = "ML")`` with
``optim.control = list(reltol = 1e-12)`` (R's default 1e-8 stops short of the optimum); the Sicily
smoking-ban rate and three seeded ``arima.sim`` series with a level and slope change. Controlled: two
series with shared ARMA(1,1) errors vs ``nlme::gls(correlation = corARMA(p = 1, q = 1, form = ~ t |
series), method = "ML")``.

Tolerances. Estimates: 1e-5 relative or 1e-4 SE (both optimisers stop within ~1e-10 of the same maximum
log-likelihood, ours never lower). SEs: R's ``var.coef`` comes from optim's finite-difference Hessian
(``ndeps = 1e-3``), which is up to 5e-4 (relative) off for the ARMA coefficients and 2e-5 for the
regression coefficients; we compare with it at 1e-3 / 1e-4 and, tighter (1e-5), with ``se_exact``: SEs from
a central-difference Hessian of the exact likelihood written out in R (``ARMAacf`` + ``chol``).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.its import fit_its
from evaltoolkit.its._arma import arma_acvf
from evaltoolkit.its.compare import parse_method
from evaltoolkit.its.errors import ARBoundaryWarning, ITSInputError
from evaltoolkit.protocol.schema import AnalysisSpec, DesignSpec, FitOptions, resolve_methods

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "r" / "arma_reference.json").read_text())["cases"]
TERMS = ["intercept", "pre_slope", "level_change", "slope_change"]
SINGLE = ["sicily_arma11", "sicily_ma1", "sim_arma11", "sim_ma1", "sim_ar2ma1"]


def close(got, want, rtol: float, atol: np.ndarray) -> None:
    """Elementwise ``|got - want| <= rtol |want| + atol`` (``atol`` per element: a fraction of the SE)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    bad = np.abs(got - want) > rtol * np.abs(want) + atol
    assert not bad.any(), f"got {got[bad]}, want {want[bad]} (rtol {rtol}, atol {np.asarray(atol)[bad]})"


def single_frame(case: dict) -> pd.DataFrame:
    return pd.DataFrame({"t": np.arange(1, case["n"] + 1), "y": case["y"]})


@pytest.fixture(scope="module")
def fits() -> dict:
    out = {}
    for key in SINGLE:
        c = REF[key]
        out[key] = fit_its(
            single_frame(c),
            outcome="y",
            time="t",
            interruptions=c["T"],
            method="arima",
            ar_order=c["p"],
            ma_order=c["q"],
        )
    return out


def test_sicily_fixture_is_the_tutorial_data():
    path = HERE / "fixtures" / "sicily.csv"
    assert hashlib.md5(path.read_bytes()).hexdigest() == "13ec52eec1058512180738b19ed8e548"
    sic = pd.read_csv(path)
    rate = sic["aces"] / sic["stdpop"] * 1e5
    np.testing.assert_allclose(rate, REF["sicily_arma11"]["y"], rtol=1e-15)


@pytest.mark.parametrize("key", SINGLE)
def test_single_series_matches_stats_arima(fits, key):
    c, res = REF[key], fits[key]
    p, q = c["p"], c["q"]
    names = c["coef_names"]
    assert names == [f"ar{i + 1}" for i in range(p)] + [f"ma{i + 1}" for i in range(q)] + TERMS
    r_est, r_se, r_exact = (np.array(c[k]) for k in ("coef", "se", "se_exact"))
    arma = res.ar_parameters()
    assert arma["term"].tolist() == names[: p + q]
    coefs = res.coefficients().set_index("term").loc[TERMS]
    est = np.r_[arma["estimate"], coefs["estimate"]]
    se = np.r_[arma["std_error"], coefs["std_error"]]
    close(est, r_est, 1e-5, 1e-4 * r_se)
    np.testing.assert_allclose(se[: p + q], r_se[: p + q], rtol=1e-3)  # R: optim's ndeps = 1e-3 Hessian
    np.testing.assert_allclose(se[p + q :], r_se[p + q :], rtol=1e-4)
    np.testing.assert_allclose(se, r_exact, rtol=1e-5)
    assert res.ar_params == tuple(arma["estimate"][:p]) and res.ma_params == tuple(arma["estimate"][p:])
    assert res.ma_std_errors == tuple(arma["std_error"][p:])
    assert (res.ar_order, res.ma_order) == (p, q)
    np.testing.assert_allclose(res.sigma**2, c["sigma2"], rtol=1e-6)  # innovation variance, as arima
    assert res.loglik == pytest.approx(c["loglik"], abs=1e-7)
    assert res.loglik >= c["loglik"] - 1e-9  # never a worse optimum than R's
    assert res.aic == pytest.approx(c["aic"], abs=1e-6)
    assert np.isinf(res.df_inference)  # normal-quantile inference, as R
    assert res.converged and not res.warnings


def test_controlled_matches_nlme_gls_corarma():
    c = REF["controlled_arma11"]
    n = c["n"]
    df = pd.DataFrame({"series": c["series"], "t": np.tile(np.arange(1, n + 1), 2), "y": c["y"]})
    res = fit_its(
        df, outcome="y", time="t", interruptions=c["T"], group="series", treated="treated", method="arima",
        ma_order=1,
    )  # fmt: skip
    assert list(res.terms) == c["coef_names"]
    close(res.params, c["coef"], 1e-6, 1e-5 * np.array(c["se_gls"]))
    np.testing.assert_allclose(res.ar_params + res.ma_params, c["arma"], atol=1e-5)
    assert res.loglik == pytest.approx(c["loglik"], abs=1e-7)
    assert res.aic == pytest.approx(c["aic"], abs=1e-6)
    # nlme's sigma is the marginal SD of the errors; ours the innovation SD (as arima)
    gamma0 = arma_acvf(np.array(res.ar_params), np.array(res.ma_params), 0)[0]
    np.testing.assert_allclose(res.sigma * np.sqrt(gamma0), c["sigma"], rtol=1e-6)
    # SEs: the observed information of the exact likelihood (R: central-difference Hessian at nlme's optimum)
    se = np.r_[np.sqrt(np.diag(res.cov)), res.ar_std_errors, res.ma_std_errors]
    np.testing.assert_allclose(se, c["se_exact"], rtol=1e-5)
    assert "2 independent series" in res.method_description
    # same likelihood on one series: nlme corARMA (same sign convention as arima)
    single = fit_its(
        df[df["series"] == "control"], outcome="y", time="t", interruptions=c["T"], method="arima", ma_order=1
    )
    chk = c["check_single_gls"]
    np.testing.assert_allclose(single.params, chk["coef"], rtol=1e-5)
    np.testing.assert_allclose(single.ar_params + single.ma_params, chk["arma"], atol=1e-5)
    assert single.loglik == pytest.approx(chk["loglik"], abs=1e-7)


def test_controlled_ar_only_arima_is_the_gls_ml_optimum():
    c = REF["controlled_arma11"]
    df = pd.DataFrame({"series": c["series"], "t": np.tile(np.arange(1, c["n"] + 1), 2), "y": c["y"]})
    kw = {"outcome": "y", "time": "t", "interruptions": c["T"], "group": "series", "treated": "treated"}
    arima = fit_its(df, method="arima", **kw)
    gls = fit_its(df, method="gls-ml", **kw)
    np.testing.assert_allclose(arima.params, gls.params, rtol=1e-10)
    assert arima.loglik == pytest.approx(gls.loglik, rel=1e-12)
    assert arima.ma_order == 0 and arima.ma_params == ()


def test_ma_order_zero_is_the_ar_path_and_other_methods_have_no_ma():
    c = REF["sicily_arma11"]
    df = single_frame(c)
    ar1 = fit_its(df, outcome="y", time="t", interruptions=37, method="arima")
    ar1_explicit = fit_its(df, outcome="y", time="t", interruptions=37, method="arima", ma_order=0)
    np.testing.assert_array_equal(ar1.params, ar1_explicit.params)
    assert ar1.ma_order == 0 and ar1.ma_params == () and ar1.ma_std_errors == ()
    assert ar1.ar_parameters()["term"].tolist() == ["ar1"]
    ols = fit_its(df, outcome="y", time="t", interruptions=37)
    assert ols.ma_order is None and ols.ma_params == ()


def test_reporting_lists_ma_coefficients(fits):
    res = fits["sim_arma11"]
    text = str(res.summary())
    assert f"AR coefficients     {res.ar_params[0]:.4f}" in text
    assert f"MA coefficients     {res.ma_params[0]:.4f}" in text
    assert "ARIMA(1,0,1)" in str(text)
    d = res.to_dict()
    assert d["model"]["ma_order"] == 1 and d["model"]["ar_order"] == 1
    assert d["fit"]["ma_params"] == list(res.ma_params)
    assert [r["term"] for r in d["ar_parameters"]] == ["ar1", "ma1"]
    json.dumps(d)  # serialisable


def test_refit_keeps_ma_order(fits):
    res = fits["sim_ma1"]
    again = res.refit()
    assert again.ma_order == 1 and again.ar_order == 0
    np.testing.assert_allclose(again.params, res.params, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "arima", "ma_order": -1}, r"ma_order must be a non-negative whole number, not -1"),
        ({"method": "arima", "ma_order": True}, r"ma_order must be a non-negative whole number, not True"),
        ({"method": "arima", "ma_order": 1.0}, r"ma_order must be a non-negative whole number, not 1\.0"),
        ({"method": "arima", "ma_order": "1"}, r"ma_order must be a non-negative whole number, not '1'"),
        ({"ma_order": 1}, r"ma_order=1 \(MA errors\) needs method='arima'; method='gls-reml'"),
        ({"method": "gls-reml", "ma_order": 1}, r"needs method='arima'; method='gls-reml'"),
        ({"method": "gls-ml", "ma_order": 2}, r"needs method='arima'; method='gls-ml'"),
        ({"method": "prais-winsten", "ma_order": 1}, r"needs method='arima'; method='prais-winsten'"),
        ({"method": "arima", "ar_order": 0}, r"ar_order must be a positive whole number, not 0"),
        ({"method": "arima", "ar_order": -1, "ma_order": 1}, r"ar_order must be a non-negative whole number"),
    ],
)
def test_bad_ma_order(kwargs, match):
    df = single_frame(REF["sim_ma1"])
    with pytest.raises(ITSInputError, match=match):
        fit_its(df, outcome="y", time="t", interruptions=41, **kwargs)


@pytest.mark.filterwarnings("error")
def test_near_unit_ma_root_warns():
    # over-differenced noise: e_t - e_{t-1} is MA(1) with theta = -1 (a unit MA root)
    rng = np.random.default_rng(0)
    t = np.arange(1, 81)
    y = 20 + 0.1 * t - 2 * (t >= 41) + 0.05 * np.maximum(t - 41, 0) + np.diff(rng.normal(size=81))
    df = pd.DataFrame({"t": t, "y": y})
    with pytest.warns(ARBoundaryWarning, match=r"MA estimate is at the boundary of invertibility \(ma1 = -"):
        res = fit_its(df, outcome="y", time="t", interruptions=41, method="arima", ar_order=0, ma_order=1)
    assert res.ma_params[0] < -0.99
    assert any("ma1" in w for w in res.warnings)
    # the coefficient SEs are still given (conditional on the MA estimate), the MA SE is not
    assert np.all(np.isfinite(np.diag(res.cov))) and np.isnan(res.ma_std_errors[0])
    assert "conditional" in res.se_description


def test_interior_ma_estimate_does_not_warn():
    rng = np.random.default_rng(1)
    t = np.arange(1, 81)
    a = rng.normal(size=81)
    y = 20 + 0.1 * t - 2 * (t >= 41) + a[1:] + 0.4 * a[:-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_its(pd.DataFrame({"t": t, "y": y}), outcome="y", time="t", interruptions=41, method="arima",
                      ar_order=0, ma_order=1)  # fmt: skip
    assert 0 < res.ma_params[0] < 0.9


def test_gaps_use_the_true_lags():
    # Excluded periods: the exact likelihood uses the ARMA autocovariance at the true lag, so dropping
    # periods equals fitting with those rows absent from the covariance (checked against a dense
    # construction from the autocovariances).
    c = REF["sim_arma11"]
    df = single_frame(c)
    res = fit_its(df, outcome="y", time="t", interruptions=61, method="arima", ma_order=1,
                  exclude_periods=[(80, 83)])  # fmt: skip
    keep = ~df["t"].between(80, 83).to_numpy()
    t = df["t"].to_numpy()[keep]
    y = df["y"].to_numpy()[keep]
    X = np.column_stack([np.ones_like(t), t, t >= 61, np.maximum(t - 61, 0)]).astype(float)
    g = arma_acvf(np.array(res.ar_params), np.array(res.ma_params), int(t.max() - t.min()))
    G = g[np.abs(t[:, None] - t[None, :])]
    Gi = np.linalg.inv(G)
    beta = np.linalg.solve(X.T @ Gi @ X, X.T @ Gi @ y)
    e = y - X @ beta
    n = y.size
    s2 = float(e @ Gi @ e) / n
    ll = -n / 2 * (np.log(2 * np.pi * s2) + 1) - np.linalg.slogdet(G)[1] / 2
    np.testing.assert_allclose(res.params, beta, rtol=1e-9)
    assert res.loglik == pytest.approx(ll, rel=1e-10)
    assert res.sigma**2 == pytest.approx(s2, rel=1e-9)


def test_acvf_matches_closed_forms():
    phi, theta = 0.5, 0.4
    g = arma_acvf(np.array([phi]), np.array([theta]), 3)
    g0 = (1 + 2 * phi * theta + theta**2) / (1 - phi**2)  # ARMA(1,1), Brockwell & Davis (3.3.8)
    g1 = (1 + phi * theta) * (phi + theta) / (1 - phi**2)
    np.testing.assert_allclose(g, [g0, g1, phi * g1, phi**2 * g1], rtol=1e-14)
    g = arma_acvf(np.array([]), np.array([0.3, -0.2]), 3)  # MA(2)
    np.testing.assert_allclose(g, [1 + 0.09 + 0.04, 0.3 - 0.06, -0.2, 0.0], rtol=1e-14, atol=1e-15)


def test_method_specs_and_protocol_keys():
    assert dict(parse_method("arima(1,1)").options) == {"method": "arima", "ar_order": 1, "ma_order": 1}
    assert dict(parse_method("arima(0, 2)").options) == {"method": "arima", "ar_order": 0, "ma_order": 2}
    assert dict(parse_method("arima(ma_order=1)").options) == {"method": "arima", "ma_order": 1}
    with pytest.raises(ITSInputError, match=r"arima\(p, q\)"):
        parse_method("arima(1,1,1)")
    with pytest.raises(ITSInputError, match=r"option 'ma_order' is not allowed here"):
        parse_method("gls-reml(ma_order=1)")
    assert FitOptions(label="a", method="arima(1,1)").set_keys() == {
        "method": "arima",
        "ar_order": 1,
        "ma_order": 1,
    }
    assert FitOptions(label="b", method="arima", ma_order=2).set_keys() == {"method": "arima", "ma_order": 2}


def test_protocol_sensitivity_drops_the_primary_ma_order_with_another_method():
    analysis = AnalysisSpec(
        primary=FitOptions(label="ARMA", family="gaussian", method="arima(1,1)"),
        sensitivity=[FitOptions(label="REML", method="gls-reml"), FitOptions(label="MA2", ma_order=2)],
    )
    got = [
        (label, o["method"], o["ar_order"], o["ma_order"])
        for label, o in resolve_methods(DesignSpec(), analysis)
    ]
    assert got == [("ARMA", "arima", 1, 1), ("REML", "gls-reml", 1, 0), ("MA2", "arima", 1, 2)]
