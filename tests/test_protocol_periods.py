"""Protocol keys design.exclude_periods, design.level_shifts and design.staggered: validation and a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import evaltoolkit.report.run as report_run
from evaltoolkit.its import fit_its
from evaltoolkit.protocol import validate_protocol
from evaltoolkit.report import build_report, render_markdown, run_protocol

ROOT = Path(__file__).resolve().parents[1]
COVID = {"start": "2020-03-01", "end": "2020-08-01", "reason": "COVID-19 lockdown months: services closed"}


def _raw() -> dict:
    raw = yaml.safe_load((ROOT / "protocols" / "project_air.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = str(ROOT / "synthetic_data")
    return raw


def _paths(raw: dict) -> dict[str, str]:
    return {p.path: p.message for p in validate_protocol(raw)}


def test_valid_keys_pass_validation():
    raw = _raw()
    raw["design"]["exclude_periods"] = [COVID]
    raw["design"]["level_shifts"] = [{"name": "triage", "start": "2023-06-01", "reason": "new ED triage"}]
    raw["design"]["staggered"] = True
    assert validate_protocol(raw) == []


def test_malformed_ranges_are_reported_with_their_keys():
    raw = _raw()
    raw["design"]["exclude_periods"] = [
        {"start": "2020-08-01", "end": "2020-03-01", "reason": "backwards"},
        {"start": "2020-03-01", "end": "2020-08-01"},
        {"start": "2020-13-01", "end": "2020-12-01", "reason": "not a date"},
    ]
    raw["design"]["level_shifts"] = [{"name": "Covid 19", "start": "2020-03-01", "reason": "x"}]
    found = _paths(raw)
    assert "end 2020-03-01 is before start 2020-08-01" in found["design.exclude_periods[0]"]
    assert "design.exclude_periods[1].reason" in found
    assert "design.exclude_periods[2].start" in found
    assert "design.level_shifts[0].name" in found


def test_ranges_that_cannot_be_fitted_are_reported_with_their_keys():
    raw = _raw()
    raw["design"]["exclude_periods"] = [
        {"start": "2021-02-01", "end": "2021-05-01", "reason": "covers RA1's go-live"},
        {"start": "2017-01-01", "end": "2017-06-01", "reason": "before the window"},
        {
            "start": "2019-05-01",
            "end": "2021-02-01",
            "reason": "leaves too little before RA1",
        },  # keeps 2019-04 and 2021-03
    ]
    raw["design"]["level_shifts"] = [
        {"name": "covid", "start": "2020-03-01", "reason": "x"},
        {"name": "covid", "start": "2030-03-01", "reason": "y"},
    ]
    found = _paths(raw)
    assert "covers the go-live of RA1 (2021-04-01)" in found["design.exclude_periods[0]"]
    assert "lies outside data.window (2019-04-01 to 2025-04-01" in found["design.exclude_periods[1]"]
    assert "leaves 2 month(s) before go-live at RA1" in found["design.exclude_periods[2]"]
    assert "duplicates design.level_shifts[0].name" in found["design.level_shifts[1].name"]
    assert "2030-03-01 lies outside data.window" in found["design.level_shifts[1].start"]


def test_staggered_needs_a_control_site():
    raw = _raw()
    raw["design"]["staggered"] = True
    raw["sites"] = [s for s in raw["sites"] if s["role"] == "intervention"]
    raw["cohort"] = None
    raw["analysis"]["sensitivity"] = []
    found = _paths(raw)
    assert found["design.staggered"] == "needs at least one site with role: control"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("periods")
    raw = _raw()
    raw.update(name="periods", cohort=None, unit_costs={})
    raw["series"] = [s for s in raw["series"] if s["name"] == "pd_ed_attendances"]
    raw["series"][0].pop("unit_cost", None)
    raw["analysis"]["sensitivity"] = []
    raw["analysis"]["primary"] = {
        "label": "quasi-Poisson GLM",
        "family": "quasipoisson",
        "method": "ols",
        "se_type": "model",
    }
    raw["design"].pop("before_after", None)
    raw["design"]["exclude_periods"] = [COVID]
    raw["design"]["level_shifts"] = [{"name": "triage", "start": "2023-06-01", "reason": "new ED triage"}]
    raw["design"]["staggered"] = True
    path = tmp / "periods.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    seen: dict[str, pd.DataFrame] = {}

    def spy(protocol, tables, progress=None):  # keep the series tables the staggered fits see
        seen.update(tables)
        return original(protocol, tables, progress)

    original = report_run.run_staggered
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_run, "run_staggered", spy)
        evaluation = run_protocol(path)
    return evaluation, seen


def test_excluded_periods_reach_every_fit_and_the_charts(run):
    run, _ = run
    its = run.results["its"]
    fits = [f for f in its["fits"] if f["status"] != "failed"]
    assert fits and all(f["options"]["family"] == "quasipoisson" for f in fits)
    plot = its["plots"][0]
    excluded = [pd.Timestamp(p["period"]).strftime("%Y-%m") for p in plot["points"] if p["excluded"]]
    assert excluded == ["2020-03", "2020-04", "2020-05", "2020-06", "2020-07", "2020-08"]
    assert all(p["fitted"] is None or np.isnan(p["fitted"]) for p in plot["points"] if p["excluded"])
    text = render_markdown(build_report(run.results))
    assert (
        "left out of every time-series fit, as pre-specified: COVID-19 lockdown months: services closed."
        in text
    )
    assert r"(shift\_triage) from 2023-06-01 on" in text and "new ED triage." in text


# the refit below extrapolates 48 months past a 36-month pre-period (the guard is the point elsewhere)
@pytest.mark.filterwarnings("ignore::evaltoolkit.its.errors.ExtrapolationWarning")
def test_staggered_model_is_reported_beside_the_per_site_estimates(run):
    run, seen = run
    its = run.results["its"]
    (row,) = its["staggered"]
    assert row["status"] in ("ok", "warning") and row["series"] == "pd_ed_attendances"
    assert row["interval"].startswith("one staggered model")
    assert row["level_change"]["term"] == "diff_level_change"
    # independent check: refit the model from the run's own table and sum fitted - counterfactual from
    # predictions() over each site's own 24 months from go-live, leaving out nothing (no excluded month there)
    table = seen["pd_ed_attendances"]
    frame = table[["site", "period", "value", "population"]].rename(columns={"site": "group"})
    go = {"RA1": "2021-04-01", "RB2": "2022-01-01", "RC3": "2022-10-01"}
    res = fit_its(
        frame, outcome="value", time="period", interruptions=go, group="group", family="quasipoisson",
        method="ols", offset="population", seasonality=1, exclude_periods=[("2020-03-01", "2020-08-01")],
        level_shifts={"triage": "2023-06-01"},
    )  # fmt: skip
    p = res.predictions()
    diff = 0.0
    for site, start in go.items():
        own = p[
            (p["group"] == site)
            & (p["time"] >= start)
            & (p["time"] < pd.Timestamp(start) + pd.DateOffset(months=24))
        ]
        assert len(own) == 24
        diff += float((own["fitted"] - own["counterfactual"]).sum())
    np.testing.assert_allclose(row["estimate"], diff, atol=5e-4)  # results.json keeps 3 decimals
    c = res.coefficients().set_index("term").loc["diff_level_change"]
    np.testing.assert_allclose(row["level_change"]["rate_ratio"], c["rate_ratio"], rtol=1e-3)
    assert row["n_periods"] == 24 * 3
    text = render_markdown(build_report(run.results))
    assert "one staggered model" in text
