"""Tests for evaltoolkit.prepost mirror-image (per-patient before/after) analysis.

Oracles: hand arithmetic on small tables, scipy for the paired t and Wilcoxon tests, statsmodels for
Wilson intervals and the McNemar test, the Newcombe paired interval of a published example, a
day-level pandas count of the windows, and the regression-to-the-mean artefact recorded in
synthetic_data/truth.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from evaltoolkit.prepost import (
    ESTIMATE_COLUMNS,
    MIRROR_TERMS,
    PrePostInputError,
    mirror_change,
    mirror_windows,
    patient_rates,
)
from evaltoolkit.prepost._common import median_interval, newcombe_paired

DATA = Path(__file__).resolve().parents[1] / "synthetic_data"


def windows_frame(
    before: list[int], after: list[int], days: tuple[int, int] = (365, 365), **extra
) -> pd.DataFrame:
    rows = []
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        rows.append(
            {"patient_id": f"p{i:02d}", "window": "before", "exposure_days": days[0], "attendances": b}
        )
        rows.append(
            {"patient_id": f"p{i:02d}", "window": "after", "exposure_days": days[1], "attendances": a}
        )
    out = pd.DataFrame(rows)
    for k, v in extra.items():
        out[k] = v
    return out


def get(table: pd.DataFrame, term: str, outcome: str = "attendances") -> pd.Series:
    sel = table[(table["term"] == term) & (table["outcome"] == outcome)]
    assert len(sel) == 1
    return sel.iloc[0]


# 14 patients, with zero and tied changes (more than 13, so scipy's Wilcoxon uses the normal approximation)
BEFORE = [5, 3, 6, 2, 4, 1, 7, 0, 3, 5, 2, 4, 6, 3]
AFTER = [2, 3, 1, 0, 2, 2, 3, 0, 1, 4, 2, 1, 2, 3]


# ------------------------------------------------------------------------------------------ schema
def test_columns_terms_and_order() -> None:
    out = mirror_change(windows_frame(BEFORE, AFTER), days_per_year=365)
    assert list(out.columns) == list(ESTIMATE_COLUMNS)
    assert out["term"].tolist() == list(MIRROR_TERMS)
    assert (out["n"] == 14).all() and (out["conf_level"] == 0.95).all()
    assert isinstance(out.index, pd.RangeIndex)
    assert out["method"].str.len().gt(10).all()


def test_means_and_paired_t_match_scipy() -> None:
    out = mirror_change(windows_frame(BEFORE, AFTER), days_per_year=365)
    b, a = np.array(BEFORE, float), np.array(AFTER, float)  # one person-year each: rates = counts
    d = a - b
    row = get(out, "mean_change")
    ref = stats.ttest_rel(a, b)
    assert row["estimate"] == pytest.approx(d.mean())
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((ci.low, ci.high))
    before = get(out, "mean_rate_before")
    half = stats.t.ppf(0.975, 13) * b.std(ddof=1) / math.sqrt(14)
    assert (before["ci_lower"], before["ci_upper"]) == pytest.approx((b.mean() - half, b.mean() + half))


def test_pingouin_agrees_with_scipy_on_the_same_inputs() -> None:
    b, a = np.array(BEFORE, float), np.array(AFTER, float)
    t = pg.ttest(a, b, paired=True).iloc[0]
    ref = stats.ttest_rel(a, b)
    assert t["T"] == pytest.approx(ref.statistic) and t["p_val"] == pytest.approx(ref.pvalue)
    w = pg.wilcoxon(a, b).iloc[0]
    ref_w = stats.wilcoxon(a, b, correction=True)
    assert w["W_val"] == pytest.approx(ref_w.statistic) and w["p_val"] == pytest.approx(ref_w.pvalue)
    # the one-sample form on the differences (what the toolkit calls) is the same test
    w1 = pg.wilcoxon(a - b).iloc[0]
    assert w1["W_val"] == pytest.approx(ref_w.statistic) and w1["p_val"] == pytest.approx(ref_w.pvalue)


def test_median_change_wilcoxon_with_ties_and_zeros() -> None:
    out = mirror_change(windows_frame(BEFORE, AFTER), days_per_year=365)
    d = np.array(AFTER, float) - np.array(BEFORE, float)  # has zeros and tied |d|
    row = get(out, "median_change")
    ref = stats.wilcoxon(d, zero_method="wilcox", correction=True)
    assert row["estimate"] == np.median(d)
    assert row["statistic"] == pytest.approx(ref.statistic) and row["p_value"] == pytest.approx(ref.pvalue)
    assert "10 non-zero" in row["method"]
    # n = 14: P(Bin(14, .5) <= 2) = 106/16384 <= 0.025 < P(<= 3) = 470/16384: the 3rd and 12th values
    s = np.sort(d)
    assert (row["ci_lower"], row["ci_upper"]) == (s[2], s[11])


def test_median_interval_by_hand() -> None:
    d = np.arange(10.0)
    # P(Bin(10, .5) <= 1) = 11/1024 <= 0.025 < P(<= 2) = 56/1024: 2nd and 9th order statistics
    assert median_interval(d, 0.95) == {"estimate": 4.5, "ci_lower": 1.0, "ci_upper": 8.0, "n": 10}
    # n = 5 cannot reach 95 %: 2 × (1/32) = 0.0625 > 0.05
    assert "ci_lower" not in median_interval(np.arange(5.0), 0.95)
    assert median_interval(np.arange(5.0), 0.90)["ci_lower"] == 0.0  # 1 − 2/32 = 0.9375 >= 0.90


def test_rate_ratio_independence_is_ratio_of_pooled_rates_unequal_exposure() -> None:
    w = windows_frame(BEFORE, AFTER)
    w.loc[w["window"] == "after", "exposure_days"] = [
        365,
        200,
        365,
        100,
        365,
        365,
        300,
        365,
        365,
        50,
        365,
        365,
        90,
        365,
    ]
    out = mirror_change(w, days_per_year=365, correlation="independence")
    yb = 14.0
    ya = w.loc[w["window"] == "after", "exposure_days"].sum() / 365
    rb, ra = sum(BEFORE) / yb, sum(AFTER) / ya
    assert get(out, "rate_before")["estimate"] == pytest.approx(rb)
    assert get(out, "rate_after")["estimate"] == pytest.approx(ra)
    rr = get(out, "rate_ratio")
    assert rr["estimate"] == pytest.approx(ra / rb)
    assert rr["ci_lower"] < rr["estimate"] < rr["ci_upper"]
    # the Wald interval is symmetric on the log scale, std_error is the log-scale SE
    q = stats.norm.ppf(0.975)
    assert math.log(rr["ci_upper"]) - math.log(rr["estimate"]) == pytest.approx(q * rr["std_error"])
    # rates use person-years: the 50-day window with 4 events is 29.2 a year
    rates = patient_rates(w, days_per_year=365)
    r = rates[(rates["patient_id"] == "p09") & (rates["window"] == "after")]["rate"].iloc[0]
    assert r == pytest.approx(4 / (50 / 365))
    assert get(out, "mean_rate_after")["estimate"] == pytest.approx(
        np.mean(np.array(AFTER) / (w.loc[w["window"] == "after", "exposure_days"].to_numpy() / 365))
    )


def test_rate_ratio_robust_se_matches_cluster_sandwich_by_hand() -> None:
    # Poisson independence GEE = Poisson GLM; sandwich A^-1 B A^-1 with per-patient score sums.
    w = windows_frame(BEFORE, AFTER)
    out = mirror_change(w, days_per_year=365, correlation="independence")
    n = len(BEFORE)
    X = np.vstack([np.column_stack([np.ones(n), np.zeros(n)]), np.column_stack([np.ones(n), np.ones(n)])])
    y = np.array(BEFORE + AFTER, float)
    mu = np.where(X[:, 1] == 1, sum(AFTER) / n, sum(BEFORE) / n)
    A = (X * mu[:, None]).T @ X
    scores = X * (y - mu)[:, None]
    per_patient = scores[:n] + scores[n:]
    B = per_patient.T @ per_patient
    V = np.linalg.inv(A) @ B @ np.linalg.inv(A)
    assert get(out, "rate_ratio")["std_error"] == pytest.approx(math.sqrt(V[1, 1]), rel=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("exchangeable", [True, False])
def test_pair_gee_matches_statsmodels_gee(alpha: float, exchangeable: bool) -> None:
    import warnings

    import statsmodels.api as sm

    from evaltoolkit.prepost._gee import fit_pair_gee

    rng = np.random.default_rng(11)
    n = 150
    treated = rng.integers(0, 2, n).astype(float)
    frailty = rng.gamma(1.5, 1 / 1.5, n)
    e0, e1 = rng.uniform(0.3, 1, n), rng.uniform(0.2, 1, n)
    y0 = rng.poisson(3 * frailty * e0)
    y1 = rng.poisson(2 * frailty * e1 * (1 - 0.3 * treated))
    one, zero = np.ones(n), np.zeros(n)
    x0 = np.column_stack([one, zero, treated, zero])
    x1 = np.column_stack([one, one, treated, treated])
    ours = fit_pair_gee(y0, y1, x0, x1, np.log(e0), np.log(e1), alpha=alpha, exchangeable=exchangeable)
    family = sm.families.Poisson() if alpha == 0 else sm.families.NegativeBinomial(alpha=alpha)
    cov = sm.cov_struct.Exchangeable() if exchangeable else sm.cov_struct.Independence()
    model = sm.GEE(
        np.column_stack([y0, y1]).ravel(),
        np.stack([x0, x1], axis=1).reshape(2 * n, -1),
        groups=np.repeat(np.arange(n), 2),
        offset=np.log(np.column_stack([e0, e1]).ravel()),
        family=family,
        cov_struct=cov,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' own iteration notices are not under test
        ref = model.fit(maxiter=200)
    assert ours.converged
    assert ours.params == pytest.approx(np.asarray(ref.params), abs=1e-8)
    assert np.sqrt(np.diag(ours.cov_params)) == pytest.approx(np.asarray(ref.bse), rel=1e-8)
    if exchangeable:
        assert ours.rho == pytest.approx(float(cov.dep_params), abs=1e-8)


def test_exchangeable_and_negbin_are_close_to_pooled() -> None:
    w = windows_frame(BEFORE, AFTER)
    pooled = sum(AFTER) / sum(BEFORE)
    for kwargs in ({"correlation": "exchangeable"}, {"count_model": "negbin"}):
        rr = get(mirror_change(w, days_per_year=365, **kwargs), "rate_ratio")
        assert rr["estimate"] == pytest.approx(pooled, rel=0.15)
        assert rr["ci_lower"] < pooled < rr["ci_upper"]
    assert (
        "negative binomial GEE (alpha" in get(mirror_change(w, count_model="negbin"), "rate_ratio")["method"]
    )


def test_any_event_proportions_wilson_newcombe_mcnemar() -> None:
    before, after = [2, 0, 1, 3, 0, 1, 0, 2, 1, 0], [0, 1, 0, 0, 2, 0, 0, 1, 0, 0]
    out = mirror_change(windows_frame(before, after), days_per_year=365)
    b, a = np.array(before) > 0, np.array(after) > 0  # 6 before, 3 after
    for term, flag in (("proportion_before", b), ("proportion_after", a)):
        row = get(out, term)
        lo, hi = proportion_confint(flag.sum(), len(flag), alpha=0.05, method="wilson")
        assert row["estimate"] == pytest.approx(flag.mean())
        assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lo, hi))
    row = get(out, "proportion_change")
    stopped, started = int((b & ~a).sum()), int((~b & a).sum())
    assert (stopped, started) == (5, 2)
    assert row["estimate"] == pytest.approx((started - stopped) / 10)
    est, lo, hi = newcombe_paired(1, 5, 2, 2, 0.95)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lo, hi))
    assert lo < est < hi
    assert row["p_value"] == pytest.approx(
        stats.binomtest(min(stopped, started), stopped + started, 0.5).pvalue
    )
    assert "exact" in row["method"]


def test_newcombe_paired_published_example() -> None:
    # Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency Tables, ch. 8 (Cavo et al.
    # 2012): table [[59, 6], [16, 80]] gives -0.0621 (95% CI -0.1186 to -0.0046) for first − second.
    est, lo, hi = newcombe_paired(59, 6, 16, 80, 0.95)  # returns second − first
    assert (-est, -hi, -lo) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)


def test_holm_across_outcomes() -> None:
    w = windows_frame(BEFORE, AFTER)
    w["admissions"] = w["attendances"] // 2
    out = mirror_change(w, days_per_year=365, outcomes=["attendances", "admissions"])
    p = out.loc[out["term"] == "mean_change", "p_value"].to_numpy()
    adj = out.loc[out["term"] == "mean_change", "p_adjusted"].to_numpy()
    lo, hi = sorted(p)
    expected = {lo: min(1, 2 * lo), hi: max(min(1, 2 * lo), hi)}
    assert adj.tolist() == pytest.approx([expected[x] for x in p])
    none = mirror_change(w, days_per_year=365, outcomes=["attendances", "admissions"], p_adjust="none")
    assert none["p_adjusted"].dropna().tolist() == none["p_value"].dropna().tolist()
    assert out.loc[out["term"] == "mean_rate_before", "p_adjusted"].isna().all()


# ------------------------------------------------------------------------------------------ edge cases
def test_all_zero_counts_are_documented_not_errors() -> None:
    out = mirror_change(windows_frame([0] * 5, [0] * 5), days_per_year=365)
    mc = get(out, "mean_change")
    assert mc["estimate"] == 0 and mc["ci_lower"] == mc["ci_upper"] == 0 and np.isnan(mc["p_value"])
    assert "t is undefined" in mc["method"]
    med = get(out, "median_change")
    assert med["estimate"] == 0 and np.isnan(med["p_value"]) and "Wilcoxon test is undefined" in med["method"]
    rr = get(out, "rate_ratio")
    assert np.isnan(rr["estimate"]) and rr["method"].startswith("undefined: no attendances")
    pc = get(out, "proportion_change")
    assert pc["estimate"] == 0 and pc["p_value"] == 1.0


def test_events_only_after_gives_nan_ratio() -> None:
    out = mirror_change(windows_frame([0, 0, 0], [1, 0, 2]), days_per_year=365)
    assert np.isnan(get(out, "rate_ratio")["estimate"])
    assert "before-window" in get(out, "rate_ratio")["method"]
    assert get(out, "mean_change")["estimate"] == pytest.approx(1.0)


def test_identical_nonzero_changes() -> None:
    out = mirror_change(windows_frame([3, 4, 5], [1, 2, 3]), days_per_year=365)
    mc = get(out, "mean_change")
    assert mc["estimate"] == -2 and mc["std_error"] == 0 and np.isnan(mc["p_value"])


def test_single_patient_and_empty_windows_raise() -> None:
    with pytest.raises(PrePostInputError, match=r"1 patient.*at least 2"):
        mirror_change(windows_frame([3], [1]))
    w = windows_frame(BEFORE, AFTER)
    w.loc[3, "exposure_days"] = 0  # p01's after-window
    with pytest.raises(
        PrePostInputError, match=r"1 patient\(s\) have an empty window.*at row\(s\) 3 .*Remove"
    ) as e:
        mirror_change(w)
    assert "p01" not in str(e.value)  # identifiers never appear in messages (they may be printed or logged)
    # positions refer to the caller's rows, not to the internally sorted table: reversed, row 3 is row 24
    with pytest.raises(PrePostInputError, match=r"at row\(s\) 24 ") as e:
        mirror_change(w.iloc[::-1].reset_index(drop=True))
    assert "p01" not in str(e.value)


def test_bad_windows_raise_with_rows() -> None:
    w = windows_frame(BEFORE, AFTER)
    with pytest.raises(PrePostInputError, match=r"no column\(s\) \['bed_days'\]"):
        mirror_change(w, outcomes=["bed_days"])
    bad = w.copy()
    bad.loc[4, "window"] = "during"
    with pytest.raises(PrePostInputError, match=r"'before' or 'after'.*row\(s\) 4"):
        mirror_change(bad)
    dup = pd.concat([w, w.iloc[[0]]], ignore_index=True)
    with pytest.raises(PrePostInputError, match=r"more than one 'before' row.*row\(s\) 0, 28"):
        mirror_change(dup)
    lonely = w.drop(index=5).reset_index(drop=True)
    with pytest.raises(PrePostInputError, match=r"1 patient\(s\) have one: 1 row\(s\), at row\(s\) 4 ") as e:
        mirror_change(lonely)
    assert "p02" not in str(e.value)
    neg = w.copy()
    neg.loc[7, "attendances"] = -1
    with pytest.raises(PrePostInputError, match=r"'attendances' is negative.*row\(s\) 7"):
        mirror_change(neg)
    text = w.astype({"attendances": object})
    text.loc[2, "attendances"] = "two"
    with pytest.raises(PrePostInputError, match=r"'attendances' is not a number.*row\(s\) 2"):
        mirror_change(text)
    with pytest.raises(PrePostInputError, match="conf_level"):
        mirror_change(w, conf_level=95)
    with pytest.raises(PrePostInputError, match="count_model"):
        mirror_change(w, count_model="zip")  # type: ignore[arg-type]
    with pytest.raises(PrePostInputError, match="must be a pandas DataFrame"):
        mirror_change(w.to_dict())  # type: ignore[arg-type]


def test_inputs_not_mutated_and_row_order_irrelevant() -> None:
    w = windows_frame(BEFORE, AFTER)
    copy = w.copy()
    out = mirror_change(w, days_per_year=365)
    pd.testing.assert_frame_equal(w, copy)
    shuffled = w.sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(mirror_change(shuffled, days_per_year=365), out)


def test_conf_level_changes_width() -> None:
    w = windows_frame(BEFORE, AFTER)
    narrow = get(mirror_change(w, conf_level=0.8), "mean_change")
    wide = get(mirror_change(w, conf_level=0.99), "mean_change")
    assert wide["ci_upper"] - wide["ci_lower"] > narrow["ci_upper"] - narrow["ci_lower"]
    assert (narrow["conf_level"], wide["conf_level"]) == (0.8, 0.99)


# ------------------------------------------------------------------------------------------ windows
@pytest.fixture
def cohort() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["a", "b"],
            "index_date": pd.to_datetime(["2023-03-10", "2023-06-01"]),
            "end_date": pd.to_datetime([None, "2023-06-01"]),  # b dies on the index date
        }
    )


@pytest.fixture
def att() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "a", "b", "b"],
            "arrival": pd.to_datetime(
                [
                    "2022-03-11",
                    "2023-03-10 08:00",
                    "2023-03-11",
                    "2024-03-10",
                    "2023-05-31",
                    "2023-06-01 09:00",
                ],
                format="ISO8601",
            ),
        }
    )


def test_index_day_conventions(cohort, att) -> None:
    counts = {}
    for mode in ("before", "after", "exclude"):
        w = mirror_windows(cohort, attendances=att, index_day=mode, end="end_date", censor_at="2025-01-01")
        counts[mode] = w.set_index(["patient_id", "window"])["attendances"].to_dict()
    # a (index 10 Mar 2023): attendances on 11 Mar 2022, the index day, 11 Mar 2023 and 10 Mar 2024.
    # before: [11 Mar 2022, 11 Mar 2023) and [11 Mar 2023, 11 Mar 2024): 2 and 2
    assert counts["before"][("a", "before")] == 2 and counts["before"][("a", "after")] == 2
    # after: [10 Mar 2022, 10 Mar 2023) and [10 Mar 2023, 10 Mar 2024): 1 and 2 (10 Mar 2024 is outside)
    assert counts["after"][("a", "before")] == 1 and counts["after"][("a", "after")] == 2
    # exclude: [10 Mar 2022, 10 Mar 2023) and [11 Mar 2023, 11 Mar 2024): 1 and 2; the index day in neither
    assert counts["exclude"][("a", "before")] == 1 and counts["exclude"][("a", "after")] == 2
    # b died on the index date: the index-day attendance is "before" and the after-window is empty
    assert counts["before"][("b", "before")] == 2 and counts["before"][("b", "after")] == 0
    w = mirror_windows(cohort, attendances=att, end="end_date", censor_at="2025-01-01")
    b_after = w[(w["patient_id"] == "b") & (w["window"] == "after")].iloc[0]
    assert b_after["exposure_days"] == 0 and b_after["censored"]
    a = w[w["patient_id"] == "a"].set_index("window")
    assert a.loc["before", "window_start"] == pd.Timestamp("2022-03-11")
    assert a.loc["after", "window_end"] == pd.Timestamp("2024-03-11")
    with pytest.raises(PrePostInputError, match=r"1 patient\(s\) have an empty window.*at row\(s\) 3 "):
        mirror_change(w)  # rows: a before, a after, b before, b after


def test_mirror_windows_errors(cohort, att) -> None:
    with pytest.raises(PrePostInputError, match="index_day"):
        mirror_windows(cohort, attendances=att, index_day="during")  # type: ignore[arg-type]
    with pytest.raises(PrePostInputError, match=r"day before censor_at.*row\(s\) 1"):
        mirror_windows(cohort, attendances=att, censor_at="2023-06-02")
    bad = cohort.assign(index_date=["2023-03-10", "not a date"])
    with pytest.raises(PrePostInputError, match=r"'index_date' is not a date.*row\(s\) 1"):
        mirror_windows(bad, attendances=att)
    copy = cohort.copy()
    mirror_windows(cohort, attendances=att, end="end_date")
    pd.testing.assert_frame_equal(cohort, copy)


# ------------------------------------------------------------------------------------------ synthetic truth
@pytest.fixture(scope="module")
def synthetic() -> dict:
    from evaltoolkit.data import load_extracts

    ex = load_extracts(DATA, window=("2019-04-01", "2025-04-01"), max_open_days=365)
    truth = json.loads((DATA / "truth.json").read_text())
    return {"cohort": ex["cohort"].data, "att": ex["attendances"].data, "truth": truth}


def test_windows_match_a_day_level_count(synthetic) -> None:
    cohort, att = synthetic["cohort"], synthetic["att"]
    w = mirror_windows(cohort, attendances=att, censor_at="2025-04-01")
    got = w.set_index(["patient_id", "window"])["attendances"]
    arrivals = att[["patient_id", "arrival"]].assign(day=att["arrival"].dt.normalize())
    for _, p in cohort.iterrows():
        start = p["index_date"] + pd.Timedelta(days=1)  # index day counts before
        days = arrivals.loc[arrivals["patient_id"] == p["patient_id"], "day"]
        before = int(((days >= start - pd.DateOffset(months=12)) & (days < start)).sum())
        after = int(((days >= start) & (days < start + pd.DateOffset(months=12))).sum())
        assert got[(p["patient_id"], "before")] == before
        assert got[(p["patient_id"], "after")] == after


def test_control_site_shows_regression_to_the_mean(synthetic) -> None:
    """The control site has no true effect, yet its crisis-selected cohort's attendances halve."""
    cohort, att, truth = synthetic["cohort"], synthetic["att"], synthetic["truth"]
    w = mirror_windows(cohort, attendances=att, censor_at="2025-04-01", end="end_date")
    control = set(cohort.loc[cohort["site"] == "RD4", "patient_id"])
    out = mirror_change(w[w["patient_id"].isin(control)], correlation="independence")
    rr = get(out, "rate_ratio")
    naive = truth["regression_to_the_mean"]["naive_before_after"]["control"]
    assert rr["n"] == naive["patients"] == 32
    # truth counts 365-day windows; these are 12 calendar months (365 or 366 days)
    assert rr["estimate"] == pytest.approx(naive["ratio_after_to_before"], abs=0.02)
    assert rr["ci_upper"] < 0.75  # a large, clearly non-null fall with no true effect
    assert truth["regression_to_the_mean"]["expected_ratio_without_selection_control"] > 1


def test_capture_warnings_records_fit_warnings_and_passes_others_through() -> None:
    import warnings

    from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

    from evaltoolkit.prepost._common import capture_warnings

    def fit() -> int:
        warnings.warn("did not converge\nsecond line", ConvergenceWarning, stacklevel=2)
        warnings.warn("Inverting hessian failed", HessianInversionWarning, stacklevel=2)
        warnings.warn("did not converge\nsecond line", ConvergenceWarning, stacklevel=2)
        warnings.warn("this keyword is deprecated", DeprecationWarning, stacklevel=2)
        return 42

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # as pytest's filterwarnings = error
        with pytest.raises(DeprecationWarning, match="deprecated"):
            capture_warnings(fit)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result, notes = capture_warnings(fit)
    assert result == 42
    # fit warnings become notes (distinct, first line), never shown; the deprecation reaches the caller
    assert notes == [
        "ConvergenceWarning: did not converge",
        "HessianInversionWarning: Inverting hessian failed",
    ]
    assert [(w.category, str(w.message)) for w in seen] == [
        (DeprecationWarning, "this keyword is deprecated")
    ]
