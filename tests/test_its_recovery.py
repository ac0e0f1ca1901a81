"""Recovery of the synthetic data's injected effects by evaltoolkit.its.

The bundled data (``synthetic_data/``, seed 20261121) were drawn from the count model in
``synthetic_data/truth.json`` ("model"): per site and month,

    count ~ Poisson(mu * G),  G ~ Gamma(shape 60, mean 1),
    log mu = log(population) + log(rate / 1e5) + site offset + 0.02 t / 12 + 0.08 cos(2 pi (month - 6) / 12)
             + u + [PD stream] (level_change_log * post + slope_change_log_per_month * months_since),
    u = 0.6 u[-1] + N(0, 0.05^2)   (AR(1) site shock),

with t = 0 in the first month and ``post``/``months_since`` switching on in the go-live month (0 months since
go-live there) - the Stata itsa coding that fit_its uses, so ``level_change`` is the injected level change.
The annual cosine is one Fourier pair (``seasonality=1``), the population enters as the offset.

(a) The bundled series: a controlled ITS per implementing site (control site RD4) for PD ED attendances and
    PD admissions must cover the injected level and slope changes at the 95% rate.
(b) A coverage study: 200 replicate datasets from the generator's own site-month count function (the
    function that made the bundled data: checked below), three implementing sites each (600 series).

Findings pinned by (b). Naive Poisson SEs undercover: the counts are overdispersed (gamma shape 60). With the
AR(1) shock, the best-calibrated analyses - quasi-Poisson, and GLS-REML AR(1) on the log rate - come close to
but stay below 0.95. For the record, 15,000 replicate series (seeds 1001-6000, this file's coverage_study):
Poisson 0.853, quasi-Poisson 0.926, REML 0.936 (quasi-Poisson with Newey-West lag 1: 0.88-0.915 by site,
from an exploratory run). The reason: an AR(1) shock under Poisson noise is ARMA(1,1) on the log scale; the
fitted AR(1) coefficient (about 0.03) misses its persistent part, so the SEs are about 5-8% too small - the
under-estimated autocorrelation and too-narrow CIs that Turner et al. (2021) report. With the shock switched
off (``ar_sigma=0``, everything else unchanged) quasi-Poisson and REML coverage is nominal (0.947 in 15,000),
Poisson's still 0.893. Hence the pre-specified analysis of (a): quasi-Poisson with model SEs (Newey-West
undercovers with 72 monthly points and six coefficients). This 200-seed study: Poisson 0.818, quasi-Poisson
0.902, REML 0.913 with the shock; 0.882, 0.942, 0.950 without.

The 600 coverage fits use the batched estimators of evaltoolkit.its.power (closed-form IRLS/GLS in numpy); the
first replicates are refitted with fit_its here and must agree (tests/test_its_compare.py checks the same
estimators against fit_its for every analysis power() supports).
"""

from __future__ import annotations

import importlib
import json
import math
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaltoolkit.its import AutocorrelationWarning, ExtrapolationWarning
from evaltoolkit.its import fit_its as _fit_its
from evaltoolkit.pipeline import build_series
from evaltoolkit.synth import SynthConfig
from evaltoolkit.synth._common import make_grid
from evaltoolkit.synth._events import effect_log, make_population, site_month_counts

# expected values here are the classical OLS/GLM fits (R lm/glm), whatever the default method
fit_its = partial(_fit_its, method="ols")

# The bundled series have 24 pre- and 48 post-months, so the short-pre-period guard (ExtrapolationWarning)
# fires on every fit by design; this file checks estimates and coverage, the guards are tested in
# tests/test_its_robustness.py.
pytestmark = pytest.mark.filterwarnings("ignore::evaltoolkit.its.ExtrapolationWarning")

pw = importlib.import_module("evaltoolkit.its.power")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthetic_data"
TRUTH = json.loads((DATA / "truth.json").read_text())
GO_LIVE = {s["site"]: s["go_live"] for s in TRUTH["sites"] if s["implements"]}
CONTROL = [s["site"] for s in TRUTH["sites"] if not s["implements"]]
OUTCOMES = {"ed_attendances_pd": "attendances_pd", "admissions_pd": "spells_pd"}  # series column: truth key
Z95 = float(stats.norm.ppf(0.975))


def binom_tail_at_most(k: int, n: int, p: float) -> float:
    return float(stats.binom.cdf(k, n, p))


# ------------------------------------------------------------------------------- (a) the bundled series


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    s = build_series(DATA).series
    return s.assign(population=s["population"].astype("float64"))


@pytest.fixture(scope="module")
def controlled_fits(series: pd.DataFrame) -> dict[tuple[str, str], object]:
    fits = {}
    for site, go_live in GO_LIVE.items():
        d = series[series["site"].isin([site, *CONTROL])]
        for outcome in OUTCOMES:
            fits[(site, outcome)] = fit_its(
                d,
                outcome=outcome,
                time="period",
                interruptions=go_live,
                family="quasipoisson",
                offset="population",
                seasonality=1,
                group="site",
                treated=site,
            )
    return fits


def test_design_matches_the_truth(series: pd.DataFrame, controlled_fits) -> None:
    assert CONTROL == ["RD4"] and sorted(GO_LIVE) == ["RA1", "RB2", "RC3"]
    assert len(series) == 4 * TRUTH["window"]["months"]
    for site, info in ((s["site"], s) for s in TRUTH["sites"] if s["implements"]):
        res = controlled_fits[(site, "ed_attendances_pd")]
        # points before / from go-live in the fit equal the generator's months before / from go-live
        assert res.design.segment_points == (info["months_before_go_live"], info["months_from_go_live"])
        # the go-live month is the first with level_change = 1 and slope_change = 0 (itsa coding)
        f, X = res.design.frame, res.design.X
        first = f.index[(f["group"] == site) & (f["time"] == pd.Timestamp(info["go_live"]))][0]
        assert X.loc[first, "diff_level_change"] == 1 and X.loc[first, "diff_slope_change"] == 0
        nxt = f.index[(f["group"] == site) & (f["t"] == f.loc[first, "t"] + 1)][0]
        assert X.loc[nxt, "diff_slope_change"] == 1


def test_bundled_series_recover_injected_level_and_slope_changes(controlled_fits) -> None:
    """diff_level_change / diff_slope_change 95% CIs cover the injected values at the expected rate.

    Six intervals per term (3 sites x 2 outcomes). At a true 95% rate, P(4 or fewer of 6 cover) = 0.033, so
    at least 5 must cover.
    """
    covered = {"level": 0, "slope": 0}
    for (_site, outcome), res in controlled_fits.items():
        eff = TRUTH["effects"][OUTCOMES[outcome]]
        c = res.coefficients().set_index("term")
        for kind, term, true in (
            ("level", "diff_level_change", eff["level_change_log"]),
            ("slope", "diff_slope_change", eff["slope_change_log_per_month"]),
        ):
            row = c.loc[term]
            covered[kind] += bool(row["ci_lower"] <= true <= row["ci_upper"])
            # the rate-ratio columns are the same interval on the ratio scale
            assert row["rate_ratio_ci_lower"] == pytest.approx(math.exp(row["ci_lower"]))
        assert TRUTH["effects"][OUTCOMES[outcome]]["level_change_rr"] == pytest.approx(
            math.exp(eff["level_change_log"]), abs=1e-6
        )
    assert binom_tail_at_most(4, 6, 0.95) < 0.05
    assert covered["level"] >= 5, covered
    assert covered["slope"] >= 5, covered


def test_bundled_series_recover_the_rate_ratio_after_24_months(controlled_fits) -> None:
    # effects(at=24): fitted / counterfactual for the treated site 24 months after go-live; truth.json gives
    # the true ratio exp(level + 24 * slope)
    covered = 0
    for (_site, outcome), res in controlled_fits.items():
        eff = TRUTH["effects"][OUTCOMES[outcome]]
        true = eff["rate_ratio_after_24_months"]
        assert true == pytest.approx(
            math.exp(eff["level_change_log"] + 24 * eff["slope_change_log_per_month"]), rel=1e-5
        )
        row = res.effects(at=24).set_index("term").loc["relative_change"]
        c = res.coefficients().set_index("term")["estimate"]
        assert row["rate_ratio"] == pytest.approx(
            math.exp(c["diff_level_change"] + 24 * c["diff_slope_change"]), rel=1e-9
        )
        covered += bool(row["rate_ratio_ci_lower"] <= true <= row["rate_ratio_ci_upper"])
    assert covered >= 5


# --------------------------------------------------------------------------------- (b) coverage study

N_SEEDS = 200
SEEDS = range(1, N_SEEDS + 1)  # the bundled data use seed 20261121, not in this range


def generator(ar_sigma: float | None = None):
    cfg = SynthConfig() if ar_sigma is None else SynthConfig(ar_sigma=ar_sigma)
    grid = make_grid(cfg)
    pop = make_population(cfg, grid)
    eff, _, _ = effect_log(cfg, grid, cfg.ed_level_rr, cfg.ed_slope_rr_per_month)

    def draw(seed: int) -> np.ndarray:
        rates = {"pd": cfg.ed_pd_rate_per_100k, "other": cfg.ed_other_rate_per_100k}
        return site_month_counts(cfg, grid, pop, seed, "ed_rates", rates, {"pd": eff})["pd"]

    return cfg, grid, pop, draw


def test_site_month_count_function_made_the_bundled_data() -> None:
    _cfg, _grid, _pop, draw = generator()
    counts = draw(TRUTH["seed"]).sum(axis=1)
    realised = TRUTH["realised"]["attendances"]["clean_pd_by_site"]
    assert counts.tolist() == [realised[s] for s in ("RA1", "RB2", "RC3", "RD4")]


def coverage_study(ar_sigma: float | None) -> dict[str, dict[str, np.ndarray]]:
    """Level-change estimates, SEs and CI hits for every (seed, implementing site) and analysis."""
    cfg, grid, pop, draw = generator(ar_sigma)
    true = math.log(cfg.ed_level_rr)
    counts = np.stack([draw(seed) for seed in SEEDS]).astype("float64")  # (seed, site, month)
    periods = pd.to_datetime(grid.month_start)
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for s, site in enumerate(c.code for c in cfg.sites):
        if site not in GO_LIVE:
            continue
        y = counts[:, s, :]
        assert (y > 0).all()  # log rates are defined
        frame = pd.DataFrame({"period": periods, "n": y[0], "pop": pop[s].astype("float64")})
        frame["log_rate"] = np.log(frame["n"] / frame["pop"] * 1e5)
        common = {"time": "period", "interruptions": GO_LIVE[site], "seasonality": 1}
        ref = fit_its(frame, outcome="n", offset="pop", family="poisson", **common)
        X = ref.design.X.to_numpy(dtype="float64")
        j = ref.terms.index("level_change")
        n, k = X.shape
        log_pop = np.log(pop[s].astype("float64"))
        log_rate = np.log(y / pop[s] * 1e5)
        fits = {
            "poisson": (pw._fit_counts(X, y, log_pop, "poisson", "model", None), Z95),
            "quasipoisson": (pw._fit_counts(X, y, log_pop, "quasipoisson", "model", None), Z95),
            "gls-reml": (pw._fit_gls_ar1(X, log_rate, reml=True), float(stats.t.ppf(0.975, n - k))),
        }
        # the batched fits are fit_its's fits (first replicates refitted; CIs rebuilt the same way)
        for i in range(3):
            frame = frame.assign(n=y[i], log_rate=log_rate[i])
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                # 24 pre / 48 post months, AR shocks in some replicates: the guards fire by design here
                warnings.simplefilter("ignore", ExtrapolationWarning)
                warnings.simplefilter("ignore", AutocorrelationWarning)
                singles = {
                    "poisson": fit_its(frame, outcome="n", offset="pop", family="poisson", **common),
                    "quasipoisson": fit_its(
                        frame, outcome="n", offset="pop", family="quasipoisson", **common
                    ),
                    "gls-reml": fit_its(frame, outcome="log_rate", method="gls-reml", **common),
                }
            for name, res in singles.items():
                fit, q = fits[name]
                row = res.coefficients().set_index("term").loc["level_change"]
                tol = 1e-5 if name == "gls-reml" else 1e-8
                assert fit.estimate[i, j] == pytest.approx(row["estimate"], abs=tol * row["std_error"])
                assert fit.std_error[i, j] == pytest.approx(row["std_error"], rel=10 * tol)
                lo, hi = (
                    fit.estimate[i, j] - q * fit.std_error[i, j],
                    fit.estimate[i, j] + q * fit.std_error[i, j],
                )
                assert [lo, hi] == pytest.approx(
                    [row["ci_lower"], row["ci_upper"]], abs=10 * tol * row["std_error"]
                )
        for name, (fit, q) in fits.items():
            assert fit.valid.all()
            est, se = fit.estimate[:, j], fit.std_error[:, j]
            acc = out.setdefault(name, {"estimate": [], "std_error": [], "covered": []})
            acc["estimate"].append(est)
            acc["std_error"].append(se)
            acc["covered"].append(np.abs(est - true) <= q * se)
    return {m: {k: np.concatenate(v) for k, v in d.items()} for m, d in out.items()}


@pytest.fixture(scope="module")
def study_ar() -> dict[str, dict[str, np.ndarray]]:
    return coverage_study(None)


@pytest.fixture(scope="module")
def study_no_ar() -> dict[str, dict[str, np.ndarray]]:
    return coverage_study(0.0)


def mc_se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("which", ["study_ar", "study_no_ar"])
def test_level_change_is_recovered_without_bias(which: str, request: pytest.FixtureRequest) -> None:
    true = math.log(SynthConfig().ed_level_rr)
    for name, r in request.getfixturevalue(which).items():
        est = r["estimate"]
        assert est.size == 3 * N_SEEDS
        # within 4 Monte Carlo SEs of the injected value (the log-rate GLS carries a small Jensen bias,
        # E log(count) - log(mean) differs by ~1/(2 mu) between segments: < 0.003 here)
        assert abs(est.mean() - true) < 4 * est.std(ddof=1) / math.sqrt(est.size) + (
            0.003 if "gls" in name else 0
        )


def test_naive_poisson_undercovers(study_ar, study_no_ar) -> None:
    for study in (study_ar, study_no_ar):
        cov = study["poisson"]["covered"]
        # the whole 99.9% binomial interval lies below 0.95: the SEs ignore overdispersion
        assert cov.mean() + 3.29 * mc_se(cov.mean(), cov.size) < 0.95
        # and the model SE is clearly smaller than the estimates' spread (gamma shape 60, means of 25-40 a
        # month: variance mu + mu^2 / 60, so Poisson SEs are about sqrt(1 / (1 + mu / 60)) = 0.8 of the truth)
        assert study["poisson"]["std_error"].mean() < 0.9 * study["poisson"]["estimate"].std(ddof=1)


def test_coverage_is_nominal_without_the_ar_shock(study_no_ar) -> None:
    # generator with ar_sigma = 0: the fitted models are then (approximately) correct
    for name in ("quasipoisson", "gls-reml"):
        r = study_no_ar[name]
        cov = r["covered"].mean()
        assert abs(cov - 0.95) <= 3 * mc_se(0.95, r["covered"].size), (name, cov)
        ratio = r["std_error"].mean() / r["estimate"].std(ddof=1)
        assert 0.9 < ratio < 1.1, (name, ratio)


def test_coverage_with_the_ar_shock_falls_short_as_turner_reports(study_ar) -> None:
    """With the generator's AR(1) shock, quasi-Poisson and REML coverage is near but below nominal.

    Pinned: at least 0.88 (the shortfall stays under 7 points, against ~0.85 for naive Poisson) and at most
    nominal plus Monte Carlo error; coverage improves on Poisson series by series (paired); and the reported
    SEs are smaller than the spread of the estimates, the reason for the shortfall (module docstring).
    """
    pois = study_ar["poisson"]["covered"]
    for name in ("quasipoisson", "gls-reml"):
        r = study_ar[name]
        cov = r["covered"].mean()
        assert 0.88 <= cov <= 0.95 + 3 * mc_se(0.95, r["covered"].size), (name, cov)
        gained = int((r["covered"] & ~pois).sum())
        lost = int((~r["covered"] & pois).sum())
        assert lost <= gained // 4, (name, gained, lost)
        assert cov - pois.mean() > 0.04
        assert r["std_error"].mean() < r["estimate"].std(ddof=1)
