# ruff: noqa: E501  (R reference numbers are quoted verbatim from sicily_reference.md)
"""Tests for evaltoolkit.its.compare (compare_methods) and the power() ↔ fit_its cross-check.

Reference numbers are R's (``../shared/reference/sicily_reference.md``, R 4.2.2: stats::lm/glm, MASS::glm.nb,
sandwich::NeweyWest(prewhite = FALSE, adjust = TRUE), nlme::gls, stats::arima), typed in here, with the
tolerances of that file. The Sicily data are the copy shipped with the book (``book/its/sicily.csv``, md5
checked against the tutorial's file).

R's tutorial coding puts ``tsl = I(time - 36) * smokban`` (1 in the first post month); ours (Stata itsa) is 0
there. The slope change is the same in both codings and our level change is R's ``smokban + tsl``.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import math
import warnings
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaltoolkit.its import (
    DEFAULT_COUNT_METHODS,
    DEFAULT_GAUSSIAN_METHODS,
    ARBoundaryWarning,
    ITSInputError,
    ITSWarning,
    MethodComparison,
    compare_methods,
    parse_method,
    power,
)
from evaltoolkit.its import (
    fit_its as _fit_its,
)

# expected values here are the classical OLS/GLM fits (R lm/glm), whatever the default method
fit_its = partial(_fit_its, method="ols")

# the module (the package attribute evaltoolkit.its.power is the function)
pw = importlib.import_module("evaltoolkit.its.power")

ROOT = Path(__file__).resolve().parents[1]
SICILY_CSV = ROOT / "book" / "its" / "sicily.csv"


@pytest.fixture(scope="module")
def sicily() -> pd.DataFrame:
    raw = SICILY_CSV.read_bytes()
    assert hashlib.md5(raw).hexdigest().startswith("13ec52ee")  # the tutorial's file, unchanged
    d = pd.read_csv(SICILY_CSV)
    d["rate"] = d["aces"] / d["stdpop"] * 1e5
    return d


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------------------------------ parse_method


@pytest.mark.parametrize(
    ("spec", "label", "options"),
    [
        ("ols", "ols", {"method": "ols"}),
        ("OLS + Newey-West(lags=2)", "ols+newey-west(lags=2)", {"method": "ols", "se_type": "newey-west", "lags": 2}),
        ("ols+nw(lags=1, adjust=false)", "ols+newey-west(lags=1, adjust=False)",
         {"method": "ols", "se_type": "newey-west", "lags": 1, "nw_adjust": False}),
        ("gls-reml(ar_order=2)", "gls-reml(ar_order=2)", {"method": "gls-reml", "ar_order": 2}),
        ("arima", "arima", {"method": "arima"}),
        ("prais-winsten", "prais-winsten", {"method": "prais-winsten"}),
        ("quasipoisson", "quasipoisson", {"family": "quasipoisson", "method": "ols"}),
        ("negbin+newey-west(lags=3)", "negbin+newey-west(lags=3)",
         {"family": "negbin", "method": "ols", "se_type": "newey-west", "lags": 3}),
        ({"label": "REML AR(2)", "method": "gls-reml", "ar_order": 2}, "REML AR(2)", {"method": "gls-reml", "ar_order": 2}),
        ({"family": "poisson"}, "family=poisson", {"family": "poisson"}),
    ],
)  # fmt: skip
def test_parse_method(spec, label, options):
    parsed = parse_method(spec)
    assert parsed.label == label
    assert dict(parsed.options) == options


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("lasso", "'lasso' is not a method"),
        ("ols+newey-west", "needs its lags"),
        ("ols+newey-west(lag=1)", "option 'lag' is not allowed"),
        ("ols+newey-west(lags=one)", "cannot read the value"),
        ("ols+arima", "only 'newey-west"),
        ("ols+nw(lags=1)+nw(lags=2)", "Newey–West twice"),
        ("ols+", "cannot read method spec"),
        ("poisson(ar_order=2)", "'ar_order' is not allowed"),
        ({"methd": "ols"}, "unknown keyword"),
        ({"method": "lasso"}, "method='lasso' is not supported"),
        (3, "a string or a dict"),
    ],
)
def test_parse_method_errors_name_the_spec(spec, match):
    with pytest.raises(ITSInputError, match=match):
        parse_method(spec)


# ------------------------------------------------------------------------- compare_methods against R


# slope_change (R's tsl) per method, level + slope model rate ~ time + smokban + tsl:
# (estimate, se, rtol on the estimate, rtol on the SE, absolute tolerance on the estimate in SE units)
R_SLOPE = {
    "ols": (0.12722044, 0.50287331, 1e-6, 1e-6, 0.0),
    "ols+newey-west(lags=1)": (0.12722044, 0.41050313, 1e-6, 1e-6, 0.0),
    "ols+newey-west(lags=2)": (0.12722044, 0.44430071, 1e-6, 1e-6, 0.0),
    "ols+newey-west(lags=3)": (0.12722044, 0.44081576, 1e-6, 1e-6, 0.0),
    "gls-ml": (0.10964543, 0.60251668, 1e-6, 1e-5, 0.0),
    "gls-reml": (0.098366414, 0.66702439, 1e-6, 1e-5, 0.0),
    "prais-winsten": (0.10927126, 0.60464955, 1e-6, 1e-6, 0.0),
    # stats::arima stops ~1e-5 short of the exact ML optimum and uses a finite-difference Hessian
    # (the tolerances of tests/test_its_sicily.py)
    "arima": (0.10964978, 0.58192481, 3e-5, 1e-5, 1e-4),
}
# R's level change in its own coding (smokban with tsl): ours minus slope_change
R_LEVEL_TSL = {
    "ols": -24.844364,
    "ols+newey-west(lags=1)": -24.844364,
    "ols+newey-west(lags=2)": -24.844364,
    "ols+newey-west(lags=3)": -24.844364,
    "gls-ml": -24.335024,
    "gls-reml": -23.988328,
    "prais-winsten": -24.323705,
    "arima": -24.334932,
}


def test_gaussian_methods_reproduce_r_on_sicily(sicily):
    cmp = compare_methods(sicily, outcome="rate", time="time", interruptions=37, methods=list(R_SLOPE))
    t = cmp.table()
    assert list(t["method"].unique()) == list(R_SLOPE)  # given order kept
    assert t["term"].tolist() == ["level_change", "slope_change"] * len(R_SLOPE)
    assert (t["status"] == "ok").all()
    by = t.set_index(["method", "term"])
    for method, (est, se, rtol_est, rtol_se, atol_in_se) in R_SLOPE.items():
        row = by.loc[(method, "slope_change")]
        np.testing.assert_allclose(row["estimate"], est, rtol=rtol_est, atol=atol_in_se * se, err_msg=method)
        np.testing.assert_allclose(row["std_error"], se, rtol=rtol_se, err_msg=method)
        level = by.loc[(method, "level_change")]
        atol = atol_in_se * (level["std_error"] + row["std_error"])
        np.testing.assert_allclose(
            level["estimate"] - row["estimate"], R_LEVEL_TSL[method], rtol=3e-6, atol=atol, err_msg=method
        )
    # the OLS + Newey-West level change with our coding is printed in R's section (h) directly
    row = by.loc[("ols+newey-west(lags=1)", "level_change")]
    np.testing.assert_allclose([row["estimate"], row["std_error"]], [-24.717143, 6.6360273], rtol=1e-6)
    np.testing.assert_allclose([row["ci_lower"], row["ci_upper"]], [-38.016039, -11.418247], rtol=1e-6)
    assert row["df"] == 55
    # AR(1) estimates of the AR methods (nlme phi, Prais-Winsten rho, arima ar1)
    ar1 = t.drop_duplicates("method").set_index("method")["ar1"]
    np.testing.assert_allclose(
        ar1[["gls-ml", "gls-reml", "prais-winsten"]], [0.19966772, 0.28382830, 0.20283706], rtol=1e-5
    )
    np.testing.assert_allclose(ar1["arima"], 0.19966844, rtol=1e-5)
    assert ar1[["ols", "ols+newey-west(lags=1)"]].isna().all()
    # arima uses normal quantiles, the others t(55)
    assert by.loc[("arima", "level_change"), "df"] == math.inf
    assert by.loc[("gls-reml", "level_change"), "df"] == 55


def test_count_methods_reproduce_r_on_sicily(sicily):
    # step change + 2 harmonic pairs, offset log(stdpop): R model3 (Poisson, quasi-Poisson) and (c2) glm.nb
    cmp = compare_methods(
        sicily, outcome="aces", time="time", interruptions=37, offset="stdpop", seasonality=2, period=12,
        effect="level", family="poisson", methods=["poisson", "quasipoisson", "negbin"],
    )  # fmt: skip
    t = cmp.table().set_index("method")
    assert list(t.columns[-7:]) == [
        "rate_ratio", "rate_ratio_ci_lower", "rate_ratio_ci_upper", "ar1", "significant", "status", "note"
    ]  # fmt: skip
    ref = {
        "poisson": (-0.12208679, 0.017972143, 0.85443782, 0.91680357, 1e-6),
        "quasipoisson": (-0.12208679, 0.027031099, 0.83940097, 0.93322699, 1e-6),
        "negbin": (-0.12308613, 0.025429262, 0.84119939, 0.92937247, 1e-5),
    }
    for method, (est, se, rr_lo, rr_hi, rtol_se) in ref.items():
        row = t.loc[method]
        assert row["term"] == "level_change"
        np.testing.assert_allclose(row["estimate"], est, rtol=1e-6, err_msg=method)
        np.testing.assert_allclose(row["std_error"], se, rtol=rtol_se, err_msg=method)
        np.testing.assert_allclose(row["rate_ratio"], math.exp(est), rtol=1e-6)
        np.testing.assert_allclose(
            [row["rate_ratio_ci_lower"], row["rate_ratio_ci_upper"]], [rr_lo, rr_hi], rtol=3e-6
        )
    # the tutorial's headline: seasonally adjusted RR 0.885 (0.839-0.933) is the quasi-Poisson row
    assert round(t.loc["quasipoisson", "rate_ratio"], 3) == 0.885


def test_default_methods_follow_the_family(sicily):
    gauss = compare_methods(sicily, outcome="rate", time="time", interruptions=37)
    assert gauss.labels == DEFAULT_GAUSSIAN_METHODS
    counts = compare_methods(
        sicily, outcome="aces", time="time", interruptions=37, offset="stdpop", family="quasipoisson"
    )
    assert counts.labels == DEFAULT_COUNT_METHODS
    # Newey-West SEs ignore the dispersion, so Poisson and quasi-Poisson NW rows are identical
    nw = compare_methods(
        sicily, outcome="aces", time="time", interruptions=37, offset="stdpop", family="poisson",
        methods=["poisson+newey-west(lags=1)", "quasipoisson+newey-west(lags=1)"],
    ).table()  # fmt: skip
    np.testing.assert_allclose(nw["std_error"].to_numpy()[:2], nw["std_error"].to_numpy()[2:], rtol=1e-12)


def test_table_rows_equal_individual_fits(sicily):
    methods = ["ols", {"label": "REML", "method": "gls-reml"}, "ols+newey-west(lags=2)"]
    design = {"outcome": "rate", "time": "time", "interruptions": 37, "seasonality": 1, "period": 12}
    cmp = compare_methods(sicily, **design, methods=methods)
    t = cmp.table(terms="all")
    for label, opts in [
        ("ols", {}),
        ("REML", {"method": "gls-reml"}),
        ("ols+newey-west(lags=2)", {"se_type": "newey-west", "lags": 2}),
    ]:
        single = fit_its(sicily, **design, **opts).coefficients()
        mine = t[t["method"] == label].reset_index(drop=True)
        assert mine["term"].tolist() == single["term"].tolist() == [
            "intercept", "pre_slope", "level_change", "slope_change", "sin_1", "cos_1"
        ]  # fmt: skip
        cols = ["estimate", "std_error", "statistic", "df", "p_value", "ci_lower", "ci_upper"]
        pd.testing.assert_frame_equal(mine[cols], single[cols], check_exact=True)
        assert cmp[label].coefficients().equals(single)
    # significant is p < 1 - conf_level, computed here from the p-values
    assert t["significant"].tolist() == (t["p_value"] < 0.05).tolist()


def test_controlled_design_defaults_leave_out_arima():
    rng = np.random.default_rng(5)
    n = 30
    t = np.arange(1, n + 1)
    rows = []
    for g, eff in (("A", -5.0), ("B", 0.0)):
        y = 40 + 0.2 * t + eff * (t >= 16) + rng.normal(0, 1.5, n)
        rows.append(pd.DataFrame({"t": t, "g": g, "y": y}))
    df = pd.concat(rows, ignore_index=True)
    cmp = compare_methods(df, outcome="y", time="t", interruptions=16, group="g", treated="A")
    assert "arima" not in cmp.labels
    assert cmp.table()["term"].unique().tolist() == ["diff_level_change", "diff_slope_change"]
    assert (cmp.table()["status"] == "ok").all()


# ------------------------------------------------------------------------------ failures and warnings


def random_walk_frame() -> pd.DataFrame:
    # a short random walk: REML puts the AR(1) estimate at the boundary (phi -> 1), ML does not
    y = 50 + np.cumsum(np.random.default_rng(3).normal(size=20))
    return pd.DataFrame({"t": np.arange(1, 21), "y": y})


def test_boundary_warning_is_kept_in_the_table_and_reissued():
    df = random_walk_frame()
    with pytest.warns(ARBoundaryWarning, match=r"^\[gls-reml\] gls-reml: the AR estimate is at the boundary"):
        cmp = compare_methods(df, outcome="y", time="t", interruptions=11, methods=["gls-ml", "gls-reml"])
    t = cmp.table().drop_duplicates("method").set_index("method")
    assert t.loc["gls-ml", "status"] == "ok"
    assert t.loc["gls-ml", "note"] == ""
    assert t.loc["gls-reml", "status"] == "warning"
    assert "boundary of stationarity" in t.loc["gls-reml", "note"]
    assert t.loc["gls-reml", "ar1"] > 0.99
    assert cmp.warnings[1] == cmp["gls-reml"].warnings  # the fit's own record, unchanged
    assert np.isfinite(t.loc["gls-reml", "estimate"])  # kept, not dropped


def test_only_fit_warnings_are_recorded_others_pass_through(monkeypatch):
    # A dependency's DeprecationWarning during a fit is not a property of the fit: it must reach the
    # caller's filters (pytest turns it into an error) instead of becoming a note in the table.
    compare_module = importlib.import_module("evaltoolkit.its.compare")
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    def noisy_fit(data, **kwargs):
        warnings.warn("old keyword is deprecated", DeprecationWarning, stacklevel=2)
        warnings.warn("optimiser stopped early", ConvergenceWarning, stacklevel=2)
        return fit_its(data, **kwargs)

    monkeypatch.setattr(compare_module, "fit_its", noisy_fit)
    df = random_walk_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with pytest.raises(DeprecationWarning, match="old keyword is deprecated"):
            compare_methods(df, outcome="y", time="t", interruptions=11, methods=["ols"])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cmp = compare_methods(df, outcome="y", time="t", interruptions=11, methods=["ols"])
    shown = {(w.category, str(w.message)) for w in seen}
    assert (DeprecationWarning, "old keyword is deprecated") in shown  # passed through unchanged
    assert (ConvergenceWarning, "[ols] optimiser stopped early") in shown  # recorded and re-issued
    assert cmp.warnings == (("optimiser stopped early",),)
    assert "deprecated" not in cmp.table()["note"].iloc[0]


def test_failed_method_is_reported_not_dropped():
    df = random_walk_frame().assign(g="A")
    df = pd.concat([df, df.assign(g="B", y=df["y"] * 0.5 + 3)], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ITSWarning)
        cmp = compare_methods(df, outcome="y", time="t", interruptions=11, group="g", treated="A",
                              methods=["ols", "prais-winsten(ar_order=2)"])  # fmt: skip
    t = cmp.table()
    assert t["method"].tolist() == ["ols", "ols", "prais-winsten(ar_order=2)", "prais-winsten(ar_order=2)"]
    failed = t[t["method"] == "prais-winsten(ar_order=2)"]
    assert (failed["status"] == "failed").all()
    assert failed["estimate"].isna().all() and failed["significant"].isna().all()
    assert failed["note"].str.contains("ITSInputError: method='prais-winsten' is AR\\(1\\) only").all()
    assert cmp.results[1] is None and cmp.errors[1] is not None
    with pytest.raises(KeyError, match="failed"):
        cmp["prais-winsten(ar_order=2)"]
    assert "prais-winsten(ar_order=2): failed" in repr(cmp)
    # the agreement summary counts only fitted methods
    assert cmp.agreement()["n_methods"].tolist() == [1, 1]


def test_every_method_failing_raises_the_design_error(sicily):
    with pytest.raises(ITSInputError, match=r"every method failed.*column\(s\) 'nope' not found"):
        compare_methods(sicily, outcome="nope", time="time", interruptions=37, methods=["ols", "gls-reml"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"methods": ["ols"], "se": "newey-west"}, "se belong in the method specs"),
        ({"methods": ["ols"], "method": "gls-reml"}, "method belong in the method specs"),
        ({"methods": ["ols"], "outcom": "rate"}, r"unknown keyword\(s\) \['outcom'\]"),
        ({"methods": ["ols", "OLS"]}, "duplicated method label"),
        ({"methods": []}, "at least one method"),
    ],
)
def test_bad_arguments(sicily, kwargs, match):
    design = {"outcome": "rate", "time": "time", "interruptions": 37}
    design.update({k: v for k, v in kwargs.items() if k == "outcom"})
    if "outcom" in kwargs:
        design.pop("outcome")
    with pytest.raises(ITSInputError, match=match):
        compare_methods(sicily, **design, **{k: v for k, v in kwargs.items() if k != "outcom"})


def test_input_not_mutated(sicily):
    before = sicily.copy()
    compare_methods(sicily, outcome="rate", time="time", interruptions=37, methods=["ols", "gls-ml"])
    pd.testing.assert_frame_equal(sicily, before)


def test_missing_term_is_flagged(sicily):
    cmp = compare_methods(
        sicily, outcome="rate", time="time", interruptions=37,
        methods=["ols", {"label": "step only", "method": "ols", "effect": "level"}],
    )  # fmt: skip
    t = cmp.table().set_index(["method", "term"])
    assert math.isnan(t.loc[("step only", "slope_change"), "estimate"])
    assert t.loc[("step only", "slope_change"), "note"] == "term 'slope_change' is not in this model"
    assert t.loc[("step only", "slope_change"), "status"] == "ok"


# ----------------------------------------------------------------------------------- agreement, plots


def test_agreement_counts_pairwise_significance_disagreements(sicily):
    cmp = compare_methods(sicily, outcome="rate", time="time", interruptions=37, methods=list(R_SLOPE))
    t = cmp.table()
    a = cmp.agreement().set_index("term")
    for term, g in t.groupby("term"):
        sig = (g["p_value"] < 0.05).tolist()
        pairs = list(itertools.combinations(sig, 2))
        assert a.loc[term, "n_methods"] == len(sig) == 8
        assert a.loc[term, "n_significant"] == sum(sig)
        assert a.loc[term, "pairwise_disagreement"] == pytest.approx(
            sum(x != y for x, y in pairs) / len(pairs)
        )
        assert a.loc[term, "estimate_min"] == g["estimate"].min()
        assert a.loc[term, "p_value_max"] == g["p_value"].max()
    # every method finds the Sicily level change significant and no slope change (R: p 0.0005-0.017; 0.76-0.88)
    assert a.loc["level_change", "n_significant"] == 8
    assert a.loc["slope_change", "n_significant"] == 0


def test_forest_plot_one_row_per_method(sicily):
    cmp = compare_methods(sicily, outcome="rate", time="time", interruptions=37,
                          methods=["ols", "ols+newey-west(lags=1)", "gls-reml"])  # fmt: skip
    ax = cmp.plot()
    assert [tl.get_text() for tl in ax.get_yticklabels()] == ["ols", "ols+newey-west(lags=1)", "gls-reml"]
    assert ax.get_xscale() == "linear"
    ref = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(ref) == 1 and list(ref[0].get_xdata()) == [0, 0]
    # each method's CI segment spans its table CI
    t = cmp.table("level_change")
    segments = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and ln.get_linestyle() == "-"]
    np.testing.assert_allclose([s.get_xdata() for s in segments], t[["ci_lower", "ci_upper"]].to_numpy())
    _fig, axes = plt.subplots(1, 2)
    assert cmp.plot(axes[1], term="slope_change") is axes[1]
    assert "slope_change" in axes[1].get_title()


def test_forest_plot_counts_on_rate_ratio_scale_and_failed_rows(sicily):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ITSWarning)
        cmp = compare_methods(sicily, outcome="aces", time="time", interruptions=37, offset="stdpop",
                              family="quasipoisson", methods=["poisson", "quasipoisson", "prais-winsten"])  # fmt: skip
    assert cmp.table()["status"].tolist()[-1] == "failed"  # prais-winsten is Gaussian only
    ax = cmp.plot()
    assert ax.get_xscale() == "log"
    ref = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert list(ref[0].get_xdata()) == [1, 1]
    assert [tl.get_text() for tl in ax.get_yticklabels()][-1] == "prais-winsten (failed)"
    assert any("failed" in txt.get_text() for txt in ax.texts)
    with pytest.raises(ITSInputError, match="count models"):
        compare_methods(sicily, outcome="rate", time="time", interruptions=37, methods=["ols"]).plot(
            exponentiate=True
        )


def test_to_dict_is_json_safe(sicily):
    cmp = compare_methods(sicily, outcome="rate", time="time", interruptions=37, methods=["ols", "arima"])
    d = cmp.to_dict()
    assert isinstance(cmp, MethodComparison)
    assert [m["label"] for m in d["methods"]] == ["ols", "arima"]
    assert d["design"] == {"outcome": "rate", "time": "time", "interruptions": 37}
    assert d["table"][0]["method"] == "ols" and d["table"][0]["term"] == "level_change"
    assert d["table"][0]["lags"] is None
    json.dumps(d, allow_nan=False)


# ------------------------------------------------------------------------- power() agrees with fit_its

N_PRE = N_POST = 12
GAUSS_DESIGN = {
    "baseline": 20.0,
    "pre_slope": 0.2,
    "level_change": 3.0,
    "slope_change": -0.1,
    "sd": 2.0,
    "ar": 0.4,
}
COUNT_DESIGN = {"baseline": 30.0, "pre_slope": 0.01, "level_change": -0.2, "slope_change": 0.005,
                "dispersion": 0.05, "ar": 0.3}  # fmt: skip
N_SIMS = 6
SEED = 7


def simulated_series(family: str) -> np.ndarray:
    """The series power() simulates for one grid point: default_rng(seed), then _simulate (see power())."""
    d = GAUSS_DESIGN if family == "gaussian" else COUNT_DESIGN
    x, _ = pw._design(N_PRE, N_POST, "level+slope")
    return pw._simulate(
        np.random.default_rng(SEED),
        family=family,
        x_full=x,
        coef=np.array([0.0, d["pre_slope"], d["level_change"], d["slope_change"]]),
        baseline=d["baseline"],
        sd=d.get("sd", math.nan),
        dispersion=d.get("dispersion", 0.0),
        ar=d["ar"],
        log_offset=np.zeros(N_PRE + N_POST),
        n_sims=N_SIMS,
    )


@pytest.mark.parametrize(
    ("family", "method", "se"), pw.SUPPORTED_ANALYSES, ids=["/".join(a) for a in pw.SUPPORTED_ANALYSES]
)
# simulated series fitted in bulk: guards fire by chance on some; this test compares numbers only
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.AutocorrelationWarning")
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning")
def test_power_simulations_equal_fit_its_on_the_same_series(family, method, se):
    """Every supported analysis: power()'s per-series estimates and SEs, and its summary, equal fit_its.

    power() codes time from 0 and fit_its from 1, so only the intercepts differ (by pre_slope); the slope and
    change terms, and their SEs, must agree: to rounding for the closed-form and IRLS fits; to the convergence
    tolerances of the iterative ones (Prais-Winsten, negative binomial theta: 1e-6); for GLS to 1e-5 SE on the
    estimates and 1e-4 relative on the SEs: power maximises the (restricted) likelihood in phi by golden
    section, fit_its by its own optimiser, and the SE is the most phi-sensitive number.
    """
    lags = 2 if se == "newey-west" else None
    y = simulated_series(family)
    n = N_PRE + N_POST
    fits = []
    for i in range(N_SIMS):
        df = pd.DataFrame({"t": np.arange(n), "y": y[i]})
        fits.append(fit_its(df, outcome="y", time="t", interruptions=N_PRE, family=family, method=method,
                            se_type=se, lags=lags).coefficients().set_index("term"))  # fmt: skip
    terms = ["pre_slope", "level_change", "slope_change"]
    est = np.array([f.loc[terms, "estimate"].to_numpy() for f in fits])
    sem = np.array([f.loc[terms, "std_error"].to_numpy() for f in fits])

    # 1. per series, the batched estimator inside power()
    x, _ = pw._design(N_PRE, N_POST, "level+slope")
    batch = pw._fit_batch(x, y, np.zeros(n), family, method, se, lags)
    assert batch.valid.all()
    gls = method in ("gls-ml", "gls-reml")
    iterative = method == "prais-winsten" or family == "negbin"
    tol_est, tol_se = (1e-5, 1e-4) if gls else (1e-6, 1e-6) if iterative else (1e-9, 1e-8)
    np.testing.assert_allclose(batch.estimate[:, 1:], est, rtol=0, atol=tol_est * sem.min())
    np.testing.assert_allclose(batch.std_error[:, 1:], sem, rtol=tol_se)
    # intercepts: fit_its's (t = 1 first) is power's (t = 0 first) minus pre_slope
    icpt = np.array([f.loc["intercept", "estimate"] for f in fits])
    np.testing.assert_allclose(batch.estimate[:, 0] - batch.estimate[:, 1], icpt, rtol=max(tol_est, 1e-9))

    # 2. the public power() summary equals the same summary of the fit_its fits
    d = GAUSS_DESIGN if family == "gaussian" else COUNT_DESIGN
    out = power(n_pre=N_PRE, n_post=N_POST, family=family, method=method, se_type=se, lags=lags, n_sims=N_SIMS,
                seed=SEED, **d).set_index("term")  # fmt: skip
    crit = stats.t.ppf(0.975, n - 4) if family == "gaussian" else stats.norm.ppf(0.975)
    for j, term in ((1, "level_change"), (2, "slope_change")):
        row = out.loc[term]
        truth = d[term]
        assert row["n_valid"] == N_SIMS
        np.testing.assert_allclose(row["mean_estimate"], est[:, j].mean(), rtol=1e-6)
        np.testing.assert_allclose(row["mean_std_error"], sem[:, j].mean(), rtol=tol_se)
        np.testing.assert_allclose(row["empirical_sd"], est[:, j].std(ddof=1), rtol=1e-5)
        assert row["power"] == np.mean(np.abs(est[:, j]) > crit * sem[:, j])
        assert row["coverage"] == np.mean(np.abs(est[:, j] - truth) <= crit * sem[:, j])
