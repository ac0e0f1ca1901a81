"""Placebo and robustness checks and the fit guards in protocol runs (results.json, report, limitations)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from evaltoolkit.protocol import load_protocol, validate_protocol
from evaltoolkit.report import run_protocol
from evaltoolkit.report.document import build_report, render_markdown

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ROOT / "protocols"


@pytest.fixture(scope="module")
def default_run(evaluations):
    return evaluations["project_air"].results


@pytest.fixture(scope="module")
def custom_run():
    protocol = load_protocol(PROTOCOLS / "project_air.yaml")
    analysis = protocol.analysis.model_copy(
        update={
            "robustness": protocol.analysis.robustness.model_copy(
                update={
                    "in_space": False,
                    "leave_one_out": False,
                    # inside the pre-period of Sites B and C; after Site A's go-live (2021-04-01)
                    "placebo_dates": [dt.date(2020, 6, 1), dt.date(2021, 6, 1)],
                }
            ),
            "exclude_bed_day_warmup": False,
        }
    )
    return run_protocol(protocol.model_copy(update={"analysis": analysis})).results


def test_protocol_keys_validate_and_misspellings_are_reported():
    raw = yaml.safe_load((PROTOCOLS / "project_air.yaml").read_text(encoding="utf-8"))
    raw["analysis"]["robustness"] = {"in_time": True, "placebo_date": ["2020-06-01"]}
    raw["analysis"]["exclude_bed_day_warmup"] = "sometimes"
    found = {p.path: p.message for p in validate_protocol(raw, base_dir=PROTOCOLS)}
    assert "did you mean 'placebo_dates'" in found["analysis.robustness.placebo_date"]
    assert "analysis.exclude_bed_day_warmup" in found
    raw["analysis"]["robustness"] = {"placebo_dates": ["01/06/2020"]}
    del raw["analysis"]["exclude_bed_day_warmup"]
    found = {p.path: p.message for p in validate_protocol(raw, base_dir=PROTOCOLS)}
    assert "ISO 8601" in found["analysis.robustness.placebo_dates[0]"]


def test_default_checks_in_results_json(default_run):
    rob = default_run["its"]["robustness"]
    # project_air: one control site (RD4) and three intervention sites: every check runs by default
    assert rob["settings"] == {
        "in_time": True,
        "in_space": True,
        "leave_one_out": True,
        "placebo_dates": None,
    }
    rows = [r for r in rob["checks"] if r["series"] == "pd_ed_attendances"]
    checks = [
        (r["site"], r["check"], r["label"])
        for r in rows
        if r["term"] in ("level_change", "cumulative_effect")
    ]
    assert checks == [
        ("RA1", "original", "primary analysis"),
        ("RA1", "in_time_placebo", "placebo at 2020-04-01"),  # middle of RA1's 24 pre-period months
        ("RA1", "in_space_placebo", "control site RD4 as if live at RA1's go-live (single series)"),
        ("RB2", "original", "primary analysis"),
        ("RB2", "in_time_placebo", "placebo at 2020-08-01"),  # middle of 2019-04 .. 2021-12 (33 months)
        ("RB2", "in_space_placebo", "control site RD4 as if live at RB2's go-live (single series)"),
        ("RC3", "original", "primary analysis"),
        ("RC3", "in_time_placebo", "placebo at 2021-01-01"),  # middle of 2019-04 .. 2022-09 (42 months)
        ("RC3", "in_space_placebo", "control site RD4 as if live at RC3's go-live (single series)"),
        (None, "leave_one_out", "without site RA1"),
        (None, "leave_one_out", "without site RB2"),
        (None, "leave_one_out", "without site RC3"),
    ]
    fit = next(f for f in default_run["its"]["fits"] if f["primary"] and f["series"] == "pd_ed_attendances")
    original = next(r for r in rows if r["check"] == "original" and r["term"] == "level_change")
    assert original["rate_ratio"] == pytest.approx(fit["level_change"]["rate_ratio"], rel=1e-12)
    placebo = next(r for r in rows if r["check"] == "in_time_placebo" and r["site"] == "RA1")
    assert placebo["n_periods"] == 24  # RA1's pre-period only (2019-04 .. 2021-03)
    # leave-one-site-out equals combining the other two sites' own cumulative effects
    combined = next(
        c for c in default_run["its"]["combined"] if c["series"] == "pd_ed_attendances" and c["primary"]
    )
    site_fits = {
        f["site"]: f["cumulative"]
        for f in default_run["its"]["fits"]
        if f["primary"] and f["series"] == "pd_ed_attendances"
    }
    without_a = next(r for r in rows if r["label"] == "without site RA1")
    by_hand = sum(site_fits[s]["fitted_total"] - site_fits[s]["counterfactual_total"] for s in ("RB2", "RC3"))
    assert without_a["estimate"] == pytest.approx(by_hand, rel=1e-5)  # results.json: 6 significant digits
    total = sum(site_fits[s]["fitted_total"] - site_fits[s]["counterfactual_total"] for s in site_fits)
    assert combined["estimate"] == pytest.approx(total, rel=1e-5)


def test_report_section_table_figure_and_guards(default_run):
    text = render_markdown(build_report(default_run))
    assert "## Placebo and robustness checks" in text
    assert "Placebo and robustness checks of the primary analysis." in text
    assert (
        "an **in-time placebo**: a fake go-live in the middle of each site's pre-implementation period"
        in text
    )
    assert "figures/robustness" in text
    # the bed-day series at Site A: 21 fitted pre-period months (3 warm-up months out) for a 24-month horizon
    fit = next(
        f
        for f in default_run["its"]["fits"]
        if f["primary"] and f["series"] == "pd_bed_days" and f["site"] == "RA1"
    )
    guards = {g["guard"]: g for g in fit["guards"]}
    assert guards["short_pre_period"]["measured"] == 21 and guards["short_pre_period"]["limit"] == 24
    assert any(
        "the pre-period has 21 periods but the horizon 2023-03-01 is 24 periods" in w for w in fit["warnings"]
    )
    # the model-checks table lists the guard for that fit (never "none" when a guard fired)
    checks_section = text.split("## Model checks")[1].split("\n## ")[0]
    row = next(
        line
        for line in checks_section.splitlines()
        if "RA1" in line and "periods before go-live (fitted)" in line and "bed-days" in line.lower()
    )
    assert "| 21 |" in row and row.rstrip().endswith("| yes |") and "(24)" in row
    ids = {x["id"] for x in default_run["limitations"]}
    assert "extrapolation" in ids
    lim = next(x for x in default_run["limitations"] if x["id"] == "extrapolation")
    assert lim["text"].startswith("For ") and " at RA1" in lim["text"]
    # methods text: the warm-up months and how their number was derived
    assert (
        "those months are left out of the fits; the number of months is where the share of bed-days" in text
    )
    assert "the first 3 months" in text


def test_custom_settings_placebo_dates_and_warmup_kept(custom_run, default_run):
    rob = custom_run["its"]["robustness"]
    assert rob["settings"]["in_space"] is False and rob["settings"]["leave_one_out"] is False
    checks = {r["check"] for r in rob["checks"]}
    assert checks == {"original", "in_time_placebo"}
    ed = [r for r in rob["checks"] if r["series"] == "pd_ed_attendances" and r["check"] == "in_time_placebo"]
    ra1 = [r for r in ed if r["site"] == "RA1"]
    assert len(ra1) == 1 and ra1[0]["status"] == "failed"
    assert ra1[0]["note"].startswith("analysis.robustness.placebo_dates: placebo_dates: ")
    assert "is not inside the pre-period (2019-04-01 to 2021-03-01" in ra1[0]["note"]
    rb2 = sorted({r["label"] for r in ed if r["site"] == "RB2"})
    assert rb2 == ["placebo at 2020-06-01", "placebo at 2021-06-01"]

    # warm-up kept: 3 more fitted months for the bed-day series, a warning in the checks and the limitations
    def pre(results):
        return next(
            f["pre_points"]
            for f in results["its"]["fits"]
            if f["primary"] and f["series"] == "pd_bed_days" and f["site"] == "RA1"
        )

    assert pre(custom_run) == pre(default_run) + 3
    assert custom_run["its"]["bed_day_warmup"] == {"excluded": False, "periods": {"pd_bed_days": 3}}
    warm = [c for c in custom_run["data"]["series_checks"] if c["check"] == "bed_day_warmup"]
    assert (
        "They are KEPT in the interrupted-time-series fits (the protocol sets "
        "analysis.exclude_bed_day_warmup: false)" in warm[0]["message"]
    )
    lim = {x["id"]: x for x in custom_run["limitations"]}
    assert "analysis.exclude_bed_day_warmup" in lim["bed_day_warmup_kept"]["text"]
    text = render_markdown(build_report(custom_run))
    assert "those months are KEPT in the fits, as the protocol asks" in text
