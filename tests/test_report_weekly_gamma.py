"""Protocols with weekly series (``frequency: W-MON``, partial weeks left out of the fits) and mean length
of stay analysed with ``family: gamma``.

The fixture protocol ``tests/fixtures/weekly/weekly_protocol.yaml`` runs on the bundled synthetic data with
the window 2019-05-01 (a Wednesday) to 2025-04-01 (a Tuesday), so the first week (from Monday 2019-04-29)
and the last week (from Monday 2025-03-31) are partial. Expected dates below are worked out by hand with
the calendar (``datetime``), not by the code under test.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from typer.testing import CliRunner

from evaltoolkit.cli import app
from evaltoolkit.protocol import load_protocol, validate_protocol
from evaltoolkit.report._data import build_series_table, load_data
from evaltoolkit.report._its import WEEKLY_PERIOD, run_its

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "tests" / "fixtures" / "weekly" / "weekly_protocol.yaml"
POPULATION = ROOT / "synthetic_data" / "population.csv"

FIRST_WHOLE_WEEK = dt.date(2019, 5, 6)  # the Monday after Wednesday 2019-05-01
LAST_WHOLE_WEEK = dt.date(2025, 3, 24)  # the last Monday whose week ends before Tuesday 2025-04-01
PARTIAL_WEEKS = {"2019-04-29", "2025-03-31"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("weekly")
    res = CliRunner().invoke(app, ["run", str(PROTOCOL), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_weekly_run_follows_the_results_schema(run):
    from evaltoolkit.report import RESULTS_SCHEMA, check_results

    _, results = run
    assert check_results(results) == []
    jsonschema.validate(results, RESULTS_SCHEMA)


def test_weekly_series_fit_whole_weeks_only(run):
    _, results = run
    fits = [f for f in results["its"]["fits"] if f["series"] == "ed_attendances_weekly"]
    n_weeks = (LAST_WHOLE_WEEK - FIRST_WHOLE_WEEK).days // 7 + 1
    assert n_weeks == 308
    assert fits and all(f["status"] in ("ok", "warning") and f["n_periods"] == n_weeks for f in fits)
    for plot in results["its"]["plots"]:
        if plot["series"] != "ed_attendances_weekly":
            continue
        fitted = [p["period"] for p in plot["points"] if p["in_fit"]]
        assert fitted[0].startswith(str(FIRST_WHOLE_WEEK)) and fitted[-1].startswith(str(LAST_WHOLE_WEEK))
        assert not PARTIAL_WEEKS & {p["period"][:10] for p in plot["points"]}


def test_partial_weeks_are_flagged_in_the_series_checks_and_the_report(run):
    folder, results = run
    checks = [c for c in results["data"]["series_checks"] if c["series"] == "ed_attendances_weekly"]
    partial = {(c["site"], c["period"]) for c in checks if c["check"] == "partial_period"}
    assert partial == {(s, w) for s in ("RA1", "RB2", "RD4") for w in PARTIAL_WEEKS}
    for c in checks:
        if c["check"] == "partial_period":
            assert "left out of the interrupted-time-series fits" in c["message"]
            assert (
                "covers 5 of its 7 days" if c["period"] == "2019-04-29" else "covers 1 of its 7 days"
            ) in (c["message"])
    # the low count of a partial week is not reported a second time as a gap in the extract
    assert not [c for c in checks if c["check"] == "abnormal_count" and c["period"] in PARTIAL_WEEKS]
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "**Partial weeks left out.**" in report
    assert (
        "The partial weeks starting 2019-04-29, 2025-03-31 of ED attendances (all patients), weekly" in report
    )
    assert "weekly (weeks starting on Monday; a partial first or last week is left out of the fits)" in report
    quality = pd.read_csv(folder / "tables" / "data_quality.csv")
    assert len(quality)  # the data-quality table is still written (row counts checked elsewhere)


def test_weekly_interruption_and_horizon(run):
    _, results = run
    fits = {
        f["site"]: f
        for f in results["its"]["fits"]
        if f["series"] == "ed_attendances_weekly" and f["primary"]
    }
    # RA1 goes live on Thursday 2021-04-01: the first post week starts Monday 2021-04-05; RB2 on Saturday
    # 2022-01-01: Monday 2022-01-03. Horizon 12 months: weeks starting before 2022-04-05 (resp. 2023-01-03).
    for site, first, bound in (
        ("RA1", dt.date(2021, 4, 5), dt.date(2022, 4, 5)),
        ("RB2", dt.date(2022, 1, 3), dt.date(2023, 1, 3)),
    ):
        f = fits[site]
        assert f["interruption"].startswith(str(first)) and f["horizon_start"].startswith(str(first))
        n = math.ceil((bound - first).days / 7)
        assert f["cumulative"]["n_periods"] == n == 53
        assert f["horizon_end"].startswith(str(first + dt.timedelta(weeks=n - 1)))
        assert f["pre_points"] == (first - FIRST_WHOLE_WEEK).days // 7
        assert f["diagnostics"]["seasonal_terms"] == ["sin_1", "cos_1"]


def test_weekly_population_is_that_of_the_month_holding_the_thursday(run):
    folder, _ = run
    pop = pd.read_csv(POPULATION, parse_dates=["period"])
    pub = pd.read_csv(folder / "tables" / "series_published.csv", parse_dates=["period"])
    pub = pub[(pub["series"] == "ed_attendances_weekly") & (pub["site"] == "RA1")].set_index("period")

    def month_pop(month: str) -> float:
        return float(pop.loc[(pop["site"] == "RA1") & (pop["period"] == month), "population"].iloc[0])

    # week from Monday 2019-07-29: its Thursday is 1 August -> August's population
    assert pub.loc["2019-07-29", "population"] == month_pop("2019-08-01")
    # week from Monday 2019-09-23: Thursday 26 September -> September
    assert pub.loc["2019-09-23", "population"] == month_pop("2019-09-01")


def test_weekly_fourier_terms_use_the_mean_year():
    protocol = load_protocol(PROTOCOL)
    data = load_data(protocol)
    sites = [s.code for s in protocol.sites]
    spec = next(s for s in protocol.series if s.name == "ed_attendances_weekly")
    protocol = protocol.model_copy(update={"series": [spec]})
    records = run_its(protocol, {spec.name: build_series_table(spec, data, sites)})
    assert pytest.approx(365.25 / 7) == WEEKLY_PERIOD
    for rec in records:
        assert rec.result is not None and rec.result.design.period == pytest.approx(52.17857142857143)


def test_mean_los_uses_gamma_with_ratio_intervals_that_stay_positive(run):
    folder, results = run
    fits = [f for f in results["its"]["fits"] if f["series"] == "mean_los"]
    assert fits and all(f["family"] == "gamma" and f["status"] == "ok" for f in fits)
    for f in fits:
        lc = f["level_change"]
        # results.json keeps 6 significant digits
        assert lc["rate_ratio_ci_lower"] > 0
        assert lc["rate_ratio"] == pytest.approx(math.exp(lc["estimate"]), rel=1e-5)
        assert f["cumulative"]["relative_ci_lower"] > -1
        assert f["method_description"].startswith("gamma GLM (log link")
    for c in results["its"]["combined"]:
        if c["series"] == "mean_los" and c.get("status") == "ok":
            assert -1 < c["relative_ci_lower"] < c["relative_change"] < c["relative_ci_upper"]
    svg = (folder / "figures" / "its_mean_los.svg").read_text(encoding="utf-8")
    assert "mean length of stay (days)" in svg and "days per quarter" not in svg
    assert "attendances per week" in (folder / "figures" / "its_ed_attendances_weekly.svg").read_text(
        encoding="utf-8"
    )


# -- protocol validation ------------------------------------------------------------------------------
def _raw() -> dict:
    import yaml

    return yaml.safe_load(PROTOCOL.read_text(encoding="utf-8"))


def _paths(problems) -> dict[str, str]:
    return {p.path: p.message for p in problems}


def test_unknown_weekly_anchor_is_refused_naming_the_key():
    raw = _raw()
    raw["series"][0]["frequency"] = "W-SUN"
    found = _paths(validate_protocol(raw, base_dir=PROTOCOL.parent))
    assert "W-MON" in found["series[0].frequency"]


def test_gamma_family_rules():
    raw = _raw()
    raw["series"][0]["family"] = "gamma"  # a count series
    raw["series"][1]["family"] = "poisson"  # a mean
    found = _paths(validate_protocol(raw, base_dir=PROTOCOL.parent))
    assert "gamma models a positive mean (measure mean_los), not measure count" in found["series[0].family"]
    assert (
        "must be gamma (log link, the default) or gaussian for measure mean_los" in found["series[1].family"]
    )
    ar = copy.deepcopy(_raw())
    ar["series"] = [ar["series"][1]]  # only the mean length of stay (gamma by default)
    ar["analysis"]["primary"] = {"label": "REML", "family": "gaussian", "method": "gls-reml"}
    ar["analysis"]["sensitivity"] = []
    found = _paths(validate_protocol(ar, base_dir=PROTOCOL.parent))
    assert "series mean_los (mean_los) use family gamma" in found["analysis.primary.method"]
    assert "set family: gaussian on a mean_los series" in found["analysis.primary.method"]
    ar["series"][0]["family"] = "gaussian"  # the advice, followed
    assert "analysis.primary.method" not in _paths(validate_protocol(ar, base_dir=PROTOCOL.parent))


def test_a_gamma_method_on_count_series_is_refused():
    raw = _raw()
    raw["analysis"]["primary"]["family"] = "gamma"
    found = _paths(validate_protocol(raw, base_dir=PROTOCOL.parent))
    msg = found["analysis.primary.family"]
    assert "series ed_attendances_weekly are counts" in msg and "set family: gamma on the mean_los" in msg


def test_newey_west_lags_for_weekly_series_count_weeks():
    raw = _raw()
    raw["series"] = [raw["series"][0]]  # the weekly series only
    raw["data"]["window"]["extract_date"] = "2019-07-01"  # 61 days after 2019-05-01: 8 weeks (2 months)
    raw["analysis"]["sensitivity"] = [{"label": "NW", "se_type": "newey-west", "lags": 7}]
    assert "analysis.sensitivity[0].lags" not in _paths(validate_protocol(raw, base_dir=PROTOCOL.parent))
    raw["analysis"]["sensitivity"][0]["lags"] = 8
    found = _paths(validate_protocol(raw, base_dir=PROTOCOL.parent))
    assert "number of periods in the window (8)" in found["analysis.sensitivity[0].lags"]
