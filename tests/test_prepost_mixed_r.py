"""Linear mixed models of evaltoolkit.prepost against lme4 and nlme (tests/r/mixed_reference.R).

Oracle: tests/r/mixed_reference.json, written by ``lme4::lmer`` and ``nlme::lme`` (REML and ML) on

* the bundled synthetic data (PHQ-9, GAD-7, CORE-10 totals by session, tests/fixtures/prepost_mixed/
  rom_scores.csv): ``score ~ time + (time | id)`` and ``score ~ time + (1 | id)`` as in
  :func:`fit_trajectories`, and ``score ~ occasion + (1 | id)`` as in the ``mixed_model`` row of
  :func:`complete_vs_available`;
* a small hand-made table (tests/fixtures/prepost_mixed/small.csv: 6 subjects, 2 without a post score)
  where standard errors from statsmodels' joint Hessian are 42 % too large.

Fixed effects and their standard errors are compared within 1e-4 relative, random-effect and residual
SDs within 1e-3 relative, the log-likelihood within 1e-4 absolute.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.prepost import VARIANCE_COLUMNS, complete_vs_available, fit_trajectories
from evaltoolkit.prepost.attrition import _occasion_contrast

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "prepost_mixed"
REFERENCE = json.loads((HERE / "r" / "mixed_reference.json").read_text())["fits"]
OUTCOMES = ("phq9", "gad7", "core10")
FE, SD, LL = 1e-4, 1e-3, 1e-4


def ref(dataset: str, outcome: str, model: str, reml: bool, package: str = "lme4") -> dict:
    hits = [
        f
        for f in REFERENCE
        if (f["dataset"], f["outcome"], f["model"], f["reml"], f["package"])
        == (dataset, outcome, model, reml, package)
    ]
    assert len(hits) == 1
    return hits[0]


@pytest.fixture(scope="module")
def rom() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "rom_scores.csv")


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "small.csv")


def row(table: pd.DataFrame, term: str, outcome: str = "value") -> pd.Series:
    sel = table[(table["term"] == term) & (table["outcome"] == outcome)]
    assert len(sel) == 1
    return sel.iloc[0]


def check_trajectory(fit, r: dict, outcome: str, slopes: bool) -> None:
    assert fit.random_slopes[outcome] is slopes
    start = row(fit.estimates, "mean_at_start", outcome)  # first time is 0: the intercept
    slope = row(fit.estimates, "change_per_week", outcome)
    end = row(fit.estimates, "change_at_end", outcome)
    assert [start["estimate"], slope["estimate"]] == pytest.approx(r["estimate"], rel=FE)
    assert [start["std_error"], slope["std_error"]] == pytest.approx(r["std_error"], rel=FE)
    span = fit.curve.loc[fit.curve["outcome"] == outcome, "time"].agg(np.ptp)
    assert end["std_error"] == pytest.approx(span * r["std_error"][1], rel=FE)
    vc = fit.variance_components.set_index("outcome").loc[outcome]
    assert vc["intercept_sd"] == pytest.approx(r["intercept_sd"], rel=SD)
    assert vc["residual_sd"] == pytest.approx(r["residual_sd"], rel=SD)
    if slopes:
        assert vc["slope_sd"] == pytest.approx(r["slope_sd"], rel=SD)
        assert vc["correlation"] == pytest.approx(r["correlation"], rel=SD)
    else:
        assert np.isnan(vc["slope_sd"]) and np.isnan(vc["correlation"])
    assert fit.loglik[outcome] == pytest.approx(r["loglik"], abs=LL)
    assert vc["loglik"] == fit.loglik[outcome]
    assert (vc["n_scores"], vc["n_subjects"]) == (r["n_scores"], r["n_subjects"])
    kind = "REML" if fit.reml else "ML"
    assert f"{kind} log-likelihood {fit.loglik[outcome]:.3f}" in slope["method"]
    # the curve's band uses the same covariance: its SE at time 0 is the intercept's
    c0 = fit.curve[(fit.curve["outcome"] == outcome) & (fit.curve["time"] == 0)].iloc[0]
    assert c0["std_error"] == pytest.approx(r["std_error"][0], rel=FE)


def test_reference_packages_agree() -> None:
    # lme4 and nlme agree on every non-singular fit, so the tolerances below test the toolkit, not R
    for f in REFERENCE:
        if f["package"] != "lme4" or f["singular"]:
            continue
        g = ref(f["dataset"], f["outcome"], f["model"], f["reml"], "nlme")
        assert g["std_error"] == pytest.approx(f["std_error"], rel=1e-5)
        assert g["intercept_sd"] == pytest.approx(f["intercept_sd"], rel=1e-5)
        assert g["loglik"] == pytest.approx(f["loglik"], abs=1e-6)


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("slopes", [True, False], ids=["slopes", "intercepts"])
def test_trajectories_match_lme4_on_bundled_data(rom, reml, slopes) -> None:
    fit = fit_trajectories(
        rom, subject="patient_id", time="session", value="total", outcome="outcome",
        random_slopes=slopes, reml=reml,
    )  # fmt: skip
    assert list(fit.variance_components.columns) == list(VARIANCE_COLUMNS) and fit.reml is reml
    for k in OUTCOMES:
        check_trajectory(fit, ref("rom", k, "slopes" if slopes else "intercepts", reml), k, slopes)


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_complete_vs_available_matches_lme4_on_bundled_data(rom, reml) -> None:
    for k in OUTCOMES:
        r = ref("rom", k, "occasions", reml)
        j = r["fixef_names"].index("occasion9")
        d = rom[rom["outcome"] == k]
        mixed = _occasion_contrast(d, "patient_id", "session", "total", 0, 9, 0.95, reml=reml)
        assert mixed["estimate"] == pytest.approx(r["estimate"][j], rel=FE)
        assert mixed["std_error"] == pytest.approx(r["std_error"][j], rel=FE)
        assert mixed["ci_upper"] - mixed["ci_lower"] == pytest.approx(
            2 * 1.959964 * r["std_error"][j], rel=FE
        )
        assert mixed["intercept_sd"] == pytest.approx(r["intercept_sd"], rel=SD)
        assert mixed["residual_sd"] == pytest.approx(r["residual_sd"], rel=SD)
        assert mixed["loglik"] == pytest.approx(r["loglik"], abs=LL)
        assert f"{'REML' if reml else 'ML'} log-likelihood {mixed['loglik']:.3f}" in mixed["method"]
    # the public function's mixed_model row is that helper's (one outcome, to keep the test quick)
    one = rom[rom["outcome"] == "gad7"]
    out = complete_vs_available(
        one, subject="patient_id", time="session", value="total", pre=0, post=9, outcome="outcome", reml=reml
    )
    r = ref("rom", "gad7", "occasions", reml)
    row_ = row(out, "mixed_model", "gad7")
    j = r["fixef_names"].index("occasion9")
    assert (row_["estimate"], row_["std_error"]) == pytest.approx(
        (r["estimate"][j], r["std_error"][j]), rel=FE
    )
    assert np.isnan(row_["df"])


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_small_table_matches_lme4(small, reml) -> None:
    kw = {"subject": "id", "value": "score"}
    fit = fit_trajectories(small, time="time", random_slopes=False, reml=reml, **kw)
    check_trajectory(fit, ref("small", "value", "intercepts", reml), "value", slopes=False)
    out = complete_vs_available(small, time="occ", pre="pre", post="post", reml=reml, **kw)
    r = ref("small", "value", "occasions", reml)
    j = r["fixef_names"].index("occasionpost")
    mixed = row(out, "mixed_model")
    assert (mixed["estimate"], mixed["std_error"]) == pytest.approx(
        (r["estimate"][j], r["std_error"][j]), rel=FE
    )
    extra = _occasion_contrast(small, "id", "occ", "score", "pre", "post", 0.95, reml=reml)
    assert (extra["intercept_sd"], extra["residual_sd"]) == pytest.approx(
        (r["intercept_sd"], r["residual_sd"]), rel=SD
    )
    assert extra["loglik"] == pytest.approx(r["loglik"], abs=LL)


def test_small_table_random_slopes(small) -> None:
    # REML: the case where the joint-Hessian SE of the slope was 42 % too large (1.2235 vs lme4's 0.8606)
    fit = fit_trajectories(small, subject="id", time="time", value="score")
    check_trajectory(fit, ref("small", "value", "slopes", True), "value", slopes=True)
    # ML: lme4's fit is singular (correlation 1, nlme does not converge); the toolkit drops the slopes
    assert ref("small", "value", "slopes", False)["singular"]
    ml = fit_trajectories(small, subject="id", time="time", value="score", reml=False)
    assert ml.random_slopes == {"value": False}
    assert "random slopes dropped" in ml.notes["value"][0]
    check_trajectory(ml, ref("small", "value", "intercepts", False), "value", slopes=False)


def test_random_intercept_sd_is_at_time_zero(rom) -> None:
    # shifting time moves the random-intercept SD (with random slopes) exactly as lme4's at the new origin:
    # var(u0 + u1·c) = sd0² + 2·c·r·sd0·sd1 + c²·sd1²
    r = ref("rom", "phq9", "slopes", True)
    d = rom[rom["outcome"] == "phq9"]
    fit = fit_trajectories(
        d.assign(session=d["session"] - 9), subject="patient_id", time="session", value="total"
    )
    c = 9.0  # time 0 of the shifted data is session 9
    sd0, sd1, rho = r["intercept_sd"], r["slope_sd"], r["correlation"]
    expected = np.sqrt(sd0**2 + 2 * c * rho * sd0 * sd1 + c**2 * sd1**2)
    vc = fit.variance_components.iloc[0]
    assert vc["intercept_sd"] == pytest.approx(expected, rel=SD)
    assert vc["slope_sd"] == pytest.approx(sd1, rel=SD)
    text = row(fit.estimates, "change_per_week")["method"]
    assert re.search(rf"random intercept SD {vc['intercept_sd']:.3g} at time 0, random slope SD", text)


def test_reml_must_be_boolean(small) -> None:
    from evaltoolkit.prepost import PrePostInputError

    with pytest.raises(PrePostInputError, match="reml must be True"):
        fit_trajectories(small, subject="id", time="time", value="score", reml="ml")  # type: ignore[arg-type]
    with pytest.raises(PrePostInputError, match="reml must be True"):
        complete_vs_available(small, subject="id", time="occ", value="score", pre="pre", post="post", reml=1)  # type: ignore[arg-type]
