"""Building blocks of the report: combining sites, publishing tables and text, automatic limitations."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from statsmodels.stats.proportion import proportion_confint

from evaltoolkit.data import CleanExtract
from evaltoolkit.disclosure import publish_count, publish_text_counts
from evaltoolkit.disclosure.deferred import publish_results
from evaltoolkit.errors import ProtocolError
from evaltoolkit.its import fit_its
from evaltoolkit.its.derived import derived_effects, draw_coefficients, total_contrast, totals
from evaltoolkit.protocol import load_protocol
from evaltoolkit.protocol.schema import SeriesSpec
from evaltoolkit.report import build_report, render_markdown, run_protocol
from evaltoolkit.report._data import LoadedData, build_series_table, published_series
from evaltoolkit.report._effects import change
from evaltoolkit.report._its import horizon_window, interruption_period
from evaltoolkit.report._summary import limitations

RULE = {"low": 1, "high": 7, "round_to": 5}


def _site(seed: int, level: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2019-01-01", periods=48, freq="MS")
    t = np.arange(48)
    post = t >= 24
    mu = 2000 * np.exp(-3.0 + 0.004 * t + level * post)
    return pd.DataFrame({"period": months, "count": rng.poisson(mu), "population": 2000.0})


def _fit(frame: pd.DataFrame):
    return fit_its(
        frame,
        outcome="count",
        time="period",
        interruptions="2021-01-01",
        family="quasipoisson",
        offset="population",
    )


def _window(res, start, end):
    f = res.design.frame
    time = pd.to_datetime(f["time"])
    return f["treated"].to_numpy(bool) & ((time >= start) & (time <= end)).to_numpy()


def test_one_site_change_equals_the_library_derived_effects():
    """The report's derived-effects stage gives the same numbers as the analyst's derived_effects() with
    the same draws (same seed and key)."""
    res = _fit(_site(1, -0.2))
    start, end = pd.Timestamp("2021-01-01"), pd.Timestamp("2022-12-01")
    mask = _window(res, start, end)
    (d,) = draw_coefficients(res, n_draws=5_000, seed=4, key="k", contrasts=[total_contrast(res, mask)])
    mine = change([totals(d, mask)], 0.95, text="")
    lib = derived_effects(res, start=start, end=end, n_draws=5_000, seed=4, key="k").set_index("term")
    assert mine["estimate"] == pytest.approx(lib.loc["absolute_change", "estimate"], rel=1e-12)
    assert mine["ci_lower"] == pytest.approx(lib.loc["absolute_change", "ci_lower"], rel=1e-12)
    assert mine["relative_ci_upper"] == pytest.approx(lib.loc["relative_change", "ci_upper"], rel=1e-12)
    # and the delta method (kept as a check) is close
    delta = res.cumulative_effect(start=start, end=end, uncertainty="delta").iloc[0]
    assert mine["estimate"] == pytest.approx(delta["estimate"], rel=1e-12)
    assert mine["relative_change"] == pytest.approx(delta["relative_change"], rel=1e-12)
    half = (delta["ci_upper"] - delta["ci_lower"]) / 2
    assert abs(mine["ci_lower"] - delta["ci_lower"]) < 0.15 * half  # the draws' interval is skewed


def test_two_independent_sites_add_in_every_draw():
    a, b = _fit(_site(2, -0.2)), _fit(_site(3, -0.1))
    start, end = pd.Timestamp("2021-01-01"), pd.Timestamp("2022-12-01")
    ca = a.cumulative_effect(start=start, end=end, uncertainty="delta").iloc[0]
    cb = b.cumulative_effect(start=start, end=end, uncertainty="delta").iloc[0]
    da, db = draw_coefficients([a, b], n_draws=20_000, seed=1)
    ta, tb = totals(da, _window(a, start, end)), totals(db, _window(b, start, end))
    both = change([ta, tb], 0.95, text="")
    assert both["estimate"] == pytest.approx(ca["estimate"] + cb["estimate"])
    # independent fits: the SD of the sum is the root sum of squares of the (widened) delta SEs, to
    # Monte-Carlo and delta-method error
    sd = math.hypot(da.scale * ca["std_error"], db.scale * cb["std_error"])
    assert both["std_error"] == pytest.approx(sd, rel=0.05)
    total_f = ca["fitted_total"] + cb["fitted_total"]
    total_c = ca["counterfactual_total"] + cb["counterfactual_total"]
    assert both["relative_change"] == pytest.approx(total_f / total_c - 1)


def test_interruption_and_horizon():
    assert interruption_period(pd.Timestamp("2022-10-01"), "QS") == pd.Timestamp("2022-10-01")
    assert interruption_period(pd.Timestamp("2022-11-01"), "QS") == pd.Timestamp("2023-01-01")
    last = pd.Timestamp("2025-03-01")
    assert horizon_window(pd.Timestamp("2021-04-01"), 24, "MS", last) == (
        pd.Timestamp("2021-04-01"),
        pd.Timestamp("2023-03-01"),
    )
    assert horizon_window(pd.Timestamp("2021-04-01"), 24, "QS", last)[1] == pd.Timestamp("2023-01-01")
    assert horizon_window(pd.Timestamp("2024-01-01"), 24, "MS", last)[1] == last


def test_published_series_suppresses_counts_and_derives_rates_from_them():
    table = pd.DataFrame(
        {
            "series": "s",
            "site": "A",
            "period": pd.date_range("2020-01-01", periods=4, freq="MS"),
            "value": [0, 3, 12, 13],
            "n_events": [0, 3, 12, 13],
            "population": [1000.0] * 4,
        }
    )
    spec = SeriesSpec(name="s", label="S", unit="events", source="attendances", per=1000)
    out = publish_results(published_series(table, spec), RULE)
    assert out["value"].tolist() == ["0", "*", "10", "15"]
    rate = out["rate_per_1000"].tolist()
    assert rate[0] == 0 and math.isnan(rate[1]) and rate[2:] == [10.0, 15.0]
    los = table.assign(value=[np.nan, 4.5, 6.0, 8.0])
    spec_los = SeriesSpec(
        name="s", label="S", unit="days", source="spells", measure="mean_los", denominator=None
    )
    out = publish_results(published_series(los, spec_los), RULE)
    assert out["discharges"].tolist() == ["0", "*", "10", "15"]
    assert math.isnan(out["value"].iloc[1]) and out["value"].iloc[2] == 6.0  # a mean of 1–7 spells is blank


def test_publishing_counts_and_counts_in_prose():
    assert [publish_count(v, RULE) for v in (0, 1, 7, 8, 22, 23, 1234)] == [0, "*", "*", 10, 20, 25, 1235]
    assert publish_count(5, None) == 5
    with pytest.raises(ValueError):
        publish_count(2.5, RULE)
    text = "Among 79 patients (n = 4); 12 complete cases; SD 9.762; 3.5 patients"
    assert publish_text_counts(text, RULE) == (
        "Among about 80 patients (n < 8); about 10 complete cases; SD 9.762; 3.5 patients"
    )


def _fit_record(**kw):
    base = {
        "series": "s",
        "site": "A",
        "method_id": "m0",
        "method": "primary",
        "primary": True,
        "family": "quasipoisson",
        "status": "ok",
        "pre_points": 24,
        "dispersion": 1.2,
        "diagnostics": {"autocorrelation_p": 0.5, "seasonal_terms": ["sin_1", "cos_1"]},
    }
    return base | kw


def _results(fits, **kw):
    base = {
        "series": [{"name": "s", "label": "Attendances", "frequency": "MS"}],
        "its": {
            "fits": fits,
            "combined": [],
            "methods": [{"label": "NW", "options": {"se_type": "newey-west", "method": "ols"}}],
        },
        "intervention": {"co_interventions": []},
        "protocol": {"report": {"min_pre_months": 12, "max_missing_fraction": 0.2}},
        "data": {"inputs": []},
        "suppression": {"rule": "nhs"},
    }
    return base | kw


def test_limitations_are_flagged_from_the_results():
    clean = {x["id"] for x in limitations(_results([_fit_record()]))}
    assert clean == {"co_interventions"}  # none declared: still flagged, with different wording
    flagged = limitations(
        _results(
            [
                _fit_record(
                    pre_points=6,
                    family="poisson",
                    dispersion=2.5,
                    diagnostics={"autocorrelation_p": 0.01, "seasonal_terms": []},
                )
            ],
            intervention={"co_interventions": ["A new crisis line."]},
            suppression={"rule": "none"},
        )
    )
    ids = {x["id"]: x["text"] for x in flagged}
    assert set(ids) == {
        "few_pre_points",
        "autocorrelation",
        "seasonality_not_modelled",
        "overdispersion",
        "co_interventions",
        "no_suppression",
    }
    assert "attendances at A (6 months)" in ids["few_pre_points"]
    assert "'NW' allows for it" in ids["autocorrelation"]
    assert (
        "A new crisis line;" not in ids["co_interventions"] and "A new crisis line" in ids["co_interventions"]
    )


# -- helpers for small protocols run end to end -------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]


def _protocol_file(tmp_path: Path, base: str, **changes) -> Path:
    """A copy of a ready protocol with top-level sections replaced, its data folder being tmp_path/data."""
    spec = yaml.safe_load((ROOT / "protocols" / f"{base}.yaml").read_text(encoding="utf-8"))
    spec.update(changes)
    spec["data"]["folder"] = "data"
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _rounded(n: int) -> int | str:
    """The NHS rule written out: 0 stays 0, 1–7 is '*', else the nearest multiple of 5 (halves up)."""
    if n == 0:
        return 0
    return "*" if n <= 7 else int(math.floor(n / 5 + 0.5) * 5)


# -- before/after cohort: an end date on the index date, and a comparison cohort of 1–7 patients ------------
@pytest.fixture(scope="module")
def small_cohort_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cohort")
    (tmp / "data").mkdir()
    for name in ("attendances.csv", "spells.csv"):
        (tmp / "data" / name).symlink_to(ROOT / "synthetic_data" / name)
    cohort = pd.read_csv(ROOT / "synthetic_data" / "cohort.csv", dtype=str)
    # the first intervention patient's follow-up ends on the index date (e.g. died that day): zero exposure
    first = cohort.index[cohort["site"] == "RA1"][0]
    cohort.loc[first, "end_date"] = cohort.loc[first, "index_date"]
    # only five comparison patients, all with follow-up to the extract date
    control = cohort.index[cohort["site"] == "RD4"]
    cohort = cohort.drop(index=control[5:])
    cohort.loc[control[:5], "end_date"] = np.nan
    cohort.to_csv(tmp / "data" / "cohort.csv", index=False)
    path = _protocol_file(
        tmp,
        "project_air",
        name="small_cohort",
        series=[],
        analysis=None,
        unit_costs={},
        data={
            "folder": "data",
            "window": {"start": "2019-04-01", "extract_date": "2025-04-01"},
            "max_open_days": 365,
            "sources": {k: {"file": f"{k}.csv"} for k in ("attendances", "spells", "cohort")},
        },
    )
    return run_protocol(path), cohort, cohort.loc[first, "patient_id"]


def test_zero_exposure_patient_is_excluded_and_counted_not_a_crash(small_cohort_run):
    evaluation, cohort, dropped = small_cohort_run
    c = evaluation.results["cohort"]
    n_intervention = int(cohort["site"].isin(["RA1", "RB2", "RC3"]).sum())
    groups = {g["group"]: g["patients"] for g in c["groups"]}
    assert groups == {"intervention": _rounded(n_intervention - 1), "comparison": "*"}
    reasons = {x["rule"]: x["patients"] for x in c["exclusions"]}
    assert reasons == {"no_cohort_group": 0, "empty_after_window": "*", "empty_before_window": 0}
    assert c["excluded_patients"] == "*"
    quality = {(q["extract"], q["rule"]): q for q in evaluation.results["data"]["quality"]}
    row = quality[("cohort", "empty_after_window")]
    assert row["n_excluded"] == "*" and "no time after the index date" in row["action"]
    # the patient's identifier appears nowhere in what is published
    published = json.dumps(evaluation.results) + "".join(t.to_csv() for t in evaluation.tables.values())
    assert dropped not in published
    text = render_markdown(build_report(evaluation.results))
    assert "Left out of the before/after analysis" in text and "fewer than 8 patients, no time after" in text


def test_estimates_of_a_cohort_of_one_to_seven_patients_are_blank(small_cohort_run):
    evaluation, _, _ = small_cohort_run
    c = evaluation.results["cohort"]
    comparison = [r for r in c["change"] if r["group"] == "comparison"]
    assert comparison and all(r["n"] == "*" for r in comparison)
    for r in comparison:
        assert all(r[k] is None for k in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value")), r
        assert "not shown" in r["method"]
    treated = [r for r in c["change"] if r["group"] == "intervention" and r["term"] == "mean_change"]
    assert treated and all(r["estimate"] is not None for r in treated)
    for r in c["did"]:  # the treated cohort's own rows stay; everything resting on the comparison is blank
        assert (r["estimate"] is None) == (not r["term"].endswith("_treated")), r
    assert all(r["df"] is None for r in c["change"] + c["did"])  # n − 1 would give the exact n away
    assert "fewer than 8 patients" in c["statements"]["attendances"]
    windows = {(w["group"], w["window"]): w for w in c["windows"]}
    # five comparison patients followed for a full year each: 5 person-years, shown as *, so no rate
    assert windows[("comparison", "before")]["person_years"] == "*"
    assert windows[("comparison", "before")]["attendances_per_person_year"] is None
    # the report renders (blank estimates shown as dashes) and no estimate is published for them
    assert all(e["estimate"] is None for e in evaluation.results["estimates"] if e["group"] == "comparison")
    assert "cohort" in {s.id for s in build_report(evaluation.results).sections}


def test_any_event_proportions_come_from_the_published_counts(small_cohort_run):
    evaluation, _, _ = small_cohort_run
    rows = {
        r["term"]: r
        for r in evaluation.results["cohort"]["change"]
        if r["group"] == "intervention" and r["outcome"] == "attendances"
    }
    n = rows["proportion_before"]["n"]
    for term in ("proportion_before", "proportion_after"):
        k = int(re.search(r"\((\d+) of \d+\)", rows[term]["method"]).group(1))
        # published to 2 decimals (round_published)
        assert k % 5 == 0 and rows[term]["estimate"] == pytest.approx(k / n, abs=0.0051)
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert (rows[term]["ci_lower"], rows[term]["ci_upper"]) == pytest.approx((lo, hi), abs=0.0051)


# -- outcome measures: one drop-out, and an outcome with five complete cases ---------------------------------
@pytest.fixture(scope="module")
def one_dropout_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("measures")
    (tmp / "data").mkdir()
    rng = np.random.default_rng(7)
    rows = []
    for i in range(20):
        for occasion, session in (("baseline", 0), ("end", 9)):
            if occasion == "end" and i == 19:
                continue  # the only drop-out: a baseline score and nothing after
            row = {"patient_id": f"Q{i:07d}", "site": "RA1", "occasion": occasion, "session": session}
            row["date"] = "2023-01-02" if session == 0 else "2023-03-06"
            row |= {f"phq9_{j}": int(rng.integers(0, 4)) for j in range(1, 10)}
            # GAD-7 at the end only for the first five people: five complete cases
            if occasion == "baseline" or i < 5:
                row |= {f"gad7_{j}": int(rng.integers(0, 4)) for j in range(1, 8)}
            rows.append(row)
    rom = pd.DataFrame(rows)
    rom.to_csv(tmp / "data" / "rom_responses.csv", index=False)
    om = yaml.safe_load((ROOT / "protocols" / "change_programme.yaml").read_text())["outcome_measures"]
    om |= {
        "instruments": [{"key": "phq9", "primary": True}, {"key": "gad7"}],
        "talking_therapies": None,
        "trajectories": False,
    }
    path = _protocol_file(tmp, "change_programme", name="one_dropout", outcome_measures=om)
    return run_protocol(path), rom


def test_averages_of_one_to_seven_people_are_blank(one_dropout_run):
    evaluation, rom = one_dropout_run
    om = evaluation.results["outcome_measures"]
    phq = [f"phq9_{j}" for j in range(1, 10)]
    base = rom[rom["occasion"] == "baseline"].set_index("patient_id")[phq].sum(axis=1)
    end = rom[rom["occasion"] == "end"].set_index("patient_id")[phq].sum(axis=1)
    completers = base[end.index]
    att = {a["outcome"]: a for a in om["attrition"]}["phq9"]
    assert (att["n_completers"], att["n_dropouts"]) == (20, "*")  # 19 → 20; 1 → *
    # means and SDs are published to 2 decimals
    assert att["mean_completers"] == pytest.approx(completers.mean(), abs=0.0051)
    assert att["sd_completers"] == pytest.approx(completers.std(ddof=1), abs=0.0051)
    # the one drop-out's baseline score is not published, nor anything it could be worked out from
    for key in ("mean_dropouts", "sd_dropouts", "estimate", "std_error", "ci_lower", "ci_upper", "smd"):
        assert att[key] is None, key
    assert att["df"] is None and "not shown" in att["method"]
    paired = {(r["outcome"], r["term"]): r for r in om["paired"]}
    mc = paired[("phq9", "mean_change")]
    assert mc["n"] == 20 and mc["estimate"] == pytest.approx((end - completers).mean(), abs=0.0051)
    gad = [r for (o, _), r in paired.items() if o == "gad7"]  # five complete cases
    assert gad and all(r["n"] == "*" and r["estimate"] is None and r["ci_lower"] is None for r in gad)
    cva = {(r["outcome"], r["term"]): r for r in om["complete_vs_available"]}
    assert cva[("gad7", "complete_case")]["estimate"] is None
    assert cva[("gad7", "all_available_naive")]["estimate"] is None  # five end scores
    assert cva[("phq9", "complete_case")]["estimate"] == pytest.approx(mc["estimate"], rel=1e-5)
    assert all(r["df"] is None for r in om["paired"] + om["complete_vs_available"])
    text = render_markdown(build_report(evaluation.results))  # blank values render as dashes
    assert "| Generalized Anxiety Disorder 7-item scale | lower | – | – | – | p not available |" in text


# -- quarterly population ----------------------------------------------------------------------------------
def _quarterly_data(months: pd.DatetimeIndex, window: tuple[str, str]) -> LoadedData:
    att = pd.DataFrame(
        {"site": ["A"] * 3, "arrival": pd.to_datetime(["2020-02-10", "2020-04-01", "2020-06-30"])}
    )
    pop = pd.DataFrame({"site": "A", "period": months, "population": 1000.0 + 10 * np.arange(len(months))})
    empty = pd.DataFrame()
    return LoadedData(
        extracts={
            "attendances": CleanExtract(att, empty, len(att), len(att), "attendances"),
            "population": CleanExtract(pop, empty, len(pop), len(pop), "population"),
        },
        files={},
        quality=empty,
        window=(pd.Timestamp(window[0]), pd.Timestamp(window[1])),
    )


QUARTERLY = SeriesSpec(
    name="q", label="Q", unit="attendances", source="attendances", frequency="QS", pd_only=False, per=1000
)


def test_quarterly_population_is_the_mean_of_every_month_of_the_quarter():
    months = pd.date_range("2020-01-01", "2020-06-01", freq="MS")  # 1000, 1010, …, 1050
    out = build_series_table(QUARTERLY, _quarterly_data(months, ("2020-01-01", "2020-07-01")), ["A"])
    assert out["population"].tolist() == [1010.0, 1040.0]  # (1000+1010+1020)/3, (1030+1040+1050)/3
    assert out["value"].tolist() == [1, 2]
    # a window opening mid-quarter needs (and averages) only the quarter's months inside it
    out = build_series_table(QUARTERLY, _quarterly_data(months[1:], ("2020-02-01", "2020-07-01")), ["A"])
    assert out["population"].tolist() == [1005.0, 1030.0]  # (1000+1010)/2 over Feb–Mar; Apr–Jun


def test_quarter_with_a_missing_month_is_an_error_naming_site_quarter_and_month():
    months = pd.date_range("2020-01-01", "2020-06-01", freq="MS").delete(4)  # no May 2020
    with pytest.raises(ValueError, match=r"series q: .*every month.*1 site-quarter.*A 2020Q2 \(no 2020-05\)"):
        build_series_table(QUARTERLY, _quarterly_data(months, ("2020-01-01", "2020-07-01")), ["A"])


# -- horizon of a quarterly series ------------------------------------------------------------------------
def test_horizon_not_a_whole_number_of_quarters_is_a_protocol_error(tmp_path):
    start, last = pd.Timestamp("2021-04-01"), pd.Timestamp("2025-01-01")
    assert horizon_window(start, 12, "QS", last) == (start, pd.Timestamp("2022-01-01"))  # four quarters
    assert horizon_window(start, 10, "MS", last)[1] == pd.Timestamp("2022-01-01")  # months: any horizon
    with pytest.raises(ProtocolError, match="not a whole number of quarters"):
        horizon_window(start, 10, "QS", last)
    spec = yaml.safe_load((ROOT / "protocols" / "project_air.yaml").read_text())
    spec["analysis"]["horizon_months"] = 10
    path = _protocol_file(tmp_path, "project_air", analysis=spec["analysis"])  # no data folder: fails first
    # The protocol validator reports it before anything runs (run_protocol checks it again).
    with pytest.raises(ProtocolError, match=r"quarterly.*nearest: 9 or 12") as e:
        load_protocol(path, check_files=False)
    quarterly = [i for i, s in enumerate(spec["series"]) if s.get("frequency") == "QS"]
    assert {p[0] for p in e.value.problems} >= {f"series[{i}].frequency" for i in quarterly}


# -- warnings recorded from ITS fits -------------------------------------------------------------------------
def test_its_fit_records_fit_warnings_and_lets_deprecations_through(monkeypatch):
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    from evaltoolkit.its import ShortSeriesWarning
    from evaltoolkit.report import _its

    def noisy_fit(frame, **kwargs):
        warnings.warn("only 4 points before", ShortSeriesWarning, stacklevel=2)
        warnings.warn("maximum likelihood did not converge", ConvergenceWarning, stacklevel=2)
        warnings.warn("keyword renamed", FutureWarning, stacklevel=2)
        return "fitted"

    monkeypatch.setattr(_its, "fit_its", noisy_fit)
    opts = {
        "method": "ols",
        "se_type": "model",
        "lags": None,
        "seasonality": None,
        "effect": "level+slope",
        "transition": 0,
        "transition_shape": "exclude",
        "conf_level": 0.95,
        "nw_adjust": True,
        "use_t": None,
        "controlled": False,
    }
    args = (pd.DataFrame(), opts, "gaussian", pd.Timestamp("2021-01-01"), "A", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # as pytest's filterwarnings = error
        with pytest.raises(FutureWarning, match="keyword renamed"):
            _its._fit(*args)
    with pytest.warns(FutureWarning, match="keyword renamed"):
        result, error, notes = _its._fit(*args)
    assert (result, error) == ("fitted", "")
    assert notes == ["maximum likelihood did not converge", "only 4 points before"]
