"""Checks on a series before modelling (evaltoolkit.series.checks) and the protocol-level 'fail loudly'
checks: data that do not match the protocol stop `validate` (exit 1) and `run` with the cause named."""

from __future__ import annotations

import math
from pathlib import Path

import jsonschema  # a dev dependency
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from evaltoolkit.cli import app
from evaltoolkit.errors import ExtractValidationError, SeriesInputError
from evaltoolkit.series import count_events
from evaltoolkit.series.checks import CHECK_COLUMNS, bed_day_warmup, check_event_dates, check_series

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthetic_data"
runner = CliRunner()


def _monthly(values, start="2023-01-01") -> pd.DataFrame:
    return pd.DataFrame(
        {"period": pd.date_range(start, periods=len(values), freq="MS"), "value": np.asarray(values, float)}
    )


# -- check_series on hand-built series ---------------------------------------------------------------------
def test_a_gap_month_is_flagged_with_its_poisson_tail_probability():
    values = [20] * 12
    values[5] = 1
    found = check_series(_monthly(values), by=None, name="admissions")
    assert list(found.columns) == CHECK_COLUMNS
    assert found["check"].tolist() == ["abnormal_count"]
    row = found.iloc[0]
    assert row["severity"] == "warning"
    assert row["period"] == pd.Timestamp("2023-06-01")
    assert row["observed"] == 1 and row["expected"] == 20
    # constant neighbours: dispersion 1, so P(Y <= 1 | Poisson(20)) = e^-20 (1 + 20), by hand
    assert row["p_value"] == pytest.approx(math.exp(-20) * 21, rel=1e-9)
    assert "admissions" in row["message"] and "2023-06" in row["message"] and "gap" in row["message"]


def test_a_doubled_month_is_flagged_as_possibly_duplicated():
    values = [20] * 12
    values[7] = 45
    found = check_series(_monthly(values), by=None)
    assert found["check"].tolist() == ["abnormal_count"]
    assert found["period"].iloc[0] == pd.Timestamp("2023-08-01")
    assert "duplicated" in found["message"].iloc[0]


def test_a_month_slightly_low_is_not_flagged():
    values = [20] * 12
    values[5] = 12  # P(Poisson(20) <= 12) = 0.039: ordinary variation
    assert check_series(_monthly(values), by=None).empty


def test_an_all_zero_series_is_an_error_naming_the_site():
    s = pd.concat([_monthly([0] * 12).assign(site="RA1"), _monthly([5] * 12).assign(site="RB2")])
    found = check_series(s, name="pd_admissions")
    assert found["check"].tolist() == ["all_zero"]
    row = found.iloc[0]
    assert row["severity"] == "error" and row["site"] == "RA1"
    assert "pd_admissions at RA1" in row["message"] and "no events in any of the 12 periods" in row["message"]


def test_a_mostly_missing_mean_series_is_an_error():
    values = [np.nan] * 8 + [10.0, 12.0, 9.0, 11.0]
    found = check_series(_monthly(values), by=None, measure="mean", name="mean_los")
    assert found["check"].tolist() == ["mostly_missing"]
    assert found["severity"].iloc[0] == "error"
    assert "8 of 12 periods have no value" in found["message"].iloc[0]


def test_an_extract_date_after_the_last_event_gives_after_data_end():
    # the events stop after August; the window runs to the end of December: four months of zeros
    values = [20] * 8 + [0] * 4
    found = check_series(_monthly(values), by=None, name="attendances")
    assert found["check"].tolist() == ["after_data_end"]
    row = found.iloc[0]
    assert row["severity"] == "error" and row["period"] == pd.Timestamp("2023-09-01")
    assert row["p_value"] == pytest.approx(math.exp(-20) ** 4)  # P(0 | Poisson(20)) four times
    assert "last 4 periods (2023-09 to 2023-12)" in row["message"] and "extract date" in row["message"]


def test_a_window_starting_before_the_data_gives_before_data_start():
    found = check_series(_monthly([0, 0, 0] + [15] * 9), by=None)
    assert found["check"].tolist() == ["before_data_start"]
    assert found["period"].iloc[0] == pd.Timestamp("2023-01-01")
    assert "first 3 periods" in found["message"].iloc[0]


def test_a_plausible_trailing_zero_is_not_an_error():
    # mean 2 a month: one empty month has probability e^-2 = 0.14
    assert check_series(_monthly([2, 1, 3, 2, 2, 1, 2, 3, 2, 0]), by=None).empty


def test_partial_first_and_last_periods_from_the_window():
    found = check_series(_monthly([20] * 6), by=None, start="2023-01-15", end="2023-06-10")
    assert found["check"].tolist() == ["partial_period", "partial_period"]
    first, last = found.iloc[0], found.iloc[1]
    assert first["period"] == pd.Timestamp("2023-01-01") and (first["observed"], first["expected"]) == (
        17,
        31,
    )
    assert last["period"] == pd.Timestamp("2023-06-01") and (last["observed"], last["expected"]) == (9, 30)
    assert "starts on 2023-01-15" in first["message"] and "ends on 2023-06-10" in last["message"]


def test_check_series_names_a_missing_column():
    with pytest.raises(SeriesInputError, match=r"\['count'\] not in the series"):
        check_series(_monthly([1, 2]), value="count", by=None)


def test_last_month_thinning_near_the_extract_date():
    # 2 events a day through 12 May, then none until the extract date 1 June
    days = pd.date_range("2024-01-01", "2024-05-12 23:00", freq="12h")
    events = pd.DataFrame({"arrival": days, "site": "RA1"})
    found = check_event_dates(events, date="arrival", by="site", start="2024-01-01", end="2024-06-01")
    assert found["check"].tolist() == ["partial_last_period"]
    row = found.iloc[0]
    # May: 24 events, all on days 1-12; the second half (from 16 May) is 16 of 31 days:
    # P(0 of 24 in it) = (15/31)^24
    assert row["observed"] == 0 and row["expected"] == pytest.approx(24 * 16 / 31)
    assert row["p_value"] == pytest.approx((15 / 31) ** 24)
    assert "RA1" in row["message"] and "2024-05" in row["message"]


def test_steady_events_give_no_partial_period():
    days = pd.date_range("2024-01-01", "2024-05-31 23:00", freq="12h")
    found = check_event_dates(
        pd.DataFrame({"arrival": days}), date="arrival", start="2024-01-01", end="2024-06-01"
    )
    assert found.empty


# -- false-positive rate --------------------------------------------------------------------------------
def test_false_positive_rate_on_simulated_series_without_gaps():
    rng = np.random.default_rng(20261121)
    periods = pd.date_range("2019-04-01", periods=72, freq="MS")
    t = np.arange(72)
    frames = []
    for base in (3, 8, 20, 60, 200):
        for rep in range(40):
            shock = np.zeros(72)
            for i in range(1, 72):
                shock[i] = 0.6 * shock[i - 1] + rng.normal(0, 0.05)
            mu = base * np.exp(
                0.02 / 12 * t + 0.08 * np.cos(2 * np.pi * (t - 5) / 12) + np.log(0.8) * (t >= 36)
            )
            y = rng.poisson(mu * np.exp(shock) * rng.gamma(60, 1 / 60, 72))
            frames.append(pd.DataFrame({"period": periods, "value": y, "site": f"{base}_{rep}"}))
    found = check_series(pd.concat(frames, ignore_index=True))
    assert set(found["severity"]) <= {"warning"}  # no spurious error
    rate = len(found) / (200 * 72)
    assert rate < 1e-3, found


def test_no_abnormal_month_in_the_bundled_synthetic_series():
    from evaltoolkit.data import load_extracts

    ex = load_extracts(DATA, window=("2019-04-01", "2025-04-01"))
    att, sp = ex["attendances"].data, ex["spells"].data
    window = {"start": "2019-04-01", "end": "2025-04-01"}
    for frame, date in ((att, "arrival"), (sp, "admitted")):
        for pd_only in (False, True):
            events = frame if not pd_only or "pd_flag" not in frame else frame[frame["pd_flag"]]
            counts = count_events(
                events, date=date, by="site", levels={"site": ["RA1", "RB2", "RC3", "RD4"]}, **window
            )
            found = check_series(counts, value="count", **window)
            assert found.empty, found["message"].tolist()
            assert check_event_dates(events, date=date, by="site", **window).empty


# -- bed-day warm-up ------------------------------------------------------------------------------------
def _exponential_spells(
    mean: float, *, first: str, last: str = "2024-12-31", per_day: int = 20, seed: int = 1
):
    """Admissions at midnight, ``per_day`` a day; exponential length of stay (continuous)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, last, freq="D").repeat(per_day)
    los = rng.exponential(mean, len(days))
    return pd.DataFrame({"admitted": days, "discharged": days + pd.to_timedelta(los, unit="D")})


def test_warmup_matches_the_exponential_length_of_stay_by_hand():
    mean = 20.0
    spells = _exponential_spells(mean, first="2023-01-01")
    table = bed_day_warmup(
        spells, admitted="admitted", discharged="discharged", start="2023-01-01", end="2025-01-01"
    )
    # midnights: the whole days of stay are floor(LOS), P(floor(LOS) > i) = q^(i+1), q = exp(-1/mean),
    # so the share of night d that belongs to spells admitted before the start is q^(d+1); a month is the
    # mean over its nights: q^(a+1) (1 - q^n) / (n (1 - q)) for nights a .. a+n-1
    q = math.exp(-1 / mean)

    def month(a: int, n: int) -> float:
        return q ** (a + 1) * (1 - q**n) / (n * (1 - q))

    expected = [month(0, 31), month(31, 28), month(59, 31)]  # 0.496, 0.111, 0.026
    assert table["period"].tolist() == list(pd.date_range("2023-01-01", periods=3, freq="MS"))
    assert table["missing_share"].tolist() == pytest.approx(expected, abs=0.01)
    assert table["warm_up"].tolist() == [True, True, False]  # threshold 5%: two months affected
    assert int(table["warm_up"].sum()) == 2


def test_no_warmup_when_spells_admitted_before_the_window_are_present():
    spells = _exponential_spells(20.0, first="2022-01-01")
    table = bed_day_warmup(
        spells, admitted="admitted", discharged="discharged", start="2023-01-01", end="2025-01-01"
    )
    assert table["warm_up"].sum() == 0
    assert table["missing_share"].tolist() == [0.0]


def test_warmup_with_an_explicit_first_admission_day():
    # the extract holds admissions from 10 days before the start: the shares start at q^(d + 10 + 1)
    mean = 20.0
    spells = _exponential_spells(mean, first="2022-12-22")
    table = bed_day_warmup(
        spells,
        admitted="admitted",
        discharged="discharged",
        start="2023-01-01",
        end="2025-01-01",
        admissions_from="2022-12-22",
    )
    q = math.exp(-1 / mean)
    jan = q ** (0 + 10 + 1) * (1 - q**31) / (31 * (1 - q))
    assert table["missing_share"].iloc[0] == pytest.approx(jan, abs=0.01)


def test_warmup_needs_spells_inside_the_window():
    spells = _exponential_spells(5.0, first="2020-01-01", last="2020-12-31")
    with pytest.raises(SeriesInputError, match="no spell is admitted inside the window 2023-01-01"):
        bed_day_warmup(
            spells, admitted="admitted", discharged="discharged", start="2023-01-01", end="2024-01-01"
        )


# -- protocol level: validate and run ---------------------------------------------------------------------
def _protocol(tmp_path: Path, *, start="2019-04-01", end="2021-04-01", spells=None, keep_until="2021-04-01"):
    """A small protocol (admissions and bed-days, all patients) on a trimmed copy of the synthetic data."""
    data = tmp_path / "data"
    data.mkdir()
    sp = pd.read_csv(DATA / "spells.csv", dtype=str) if spells is None else spells
    if spells is None:
        sp = sp[sp["admitted"] < keep_until]
    sp.to_csv(data / "spells.csv", index=False)
    pd.read_csv(DATA / "population.csv", dtype=str).to_csv(data / "population.csv", index=False)
    raw = yaml.safe_load((ROOT / "protocols" / "project_air.yaml").read_text(encoding="utf-8"))
    raw.pop("cohort")
    raw["design"].pop("before_after", None)
    raw["data"] = {
        "folder": "data",
        "window": {"start": start, "extract_date": end},
        "sources": {"spells": {"file": "spells.csv"}, "population": {"file": "population.csv"}},
    }
    go = pd.Timestamp(start) + pd.DateOffset(months=12)
    for s in raw["sites"]:
        if s["role"] == "intervention":
            s["go_live"] = go.date()
    series = [s for s in raw["series"] if s["name"] in ("pd_admissions", "pd_bed_days")]
    for s in series:
        s["pd_only"] = False
        s.pop("unit_cost", None)
    raw["series"] = series
    raw["analysis"]["sensitivity"] = []
    raw["analysis"]["horizon_months"] = 12
    raw["unit_costs"] = {}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _validate(path: Path):
    return runner.invoke(app, ["validate", str(path)])


def test_validate_passes_on_the_small_protocol_and_reports_the_warmup(tmp_path):
    result = _validate(_protocol(tmp_path))
    assert result.exit_code == 0, result.output
    assert "warning bed_day_warmup" in result.output
    assert "pd_bed_days" in result.output and "first 3 months" in result.output


def test_unknown_site_code_on_every_spell_fails_validate_naming_the_code(tmp_path):
    sp = pd.read_csv(DATA / "spells.csv", dtype=str)
    sp = sp[sp["admitted"] < "2021-04-01"].assign(site="RK9MH")
    path = _protocol(tmp_path, spells=sp)
    result = _validate(path)
    assert result.exit_code == 1, result.output
    # 6 exact duplicates go first, every other spell to unknown_site
    assert f"all {len(sp):,} spells excluded: 6 by rule exact_duplicate" in result.output
    assert f"{len(sp) - 6:,} by rule unknown_site: site code RK9MH" in result.output
    assert "is not in sites (the protocol's sites[].code: RA1, RB2, RC3, RD4)" in result.output
    text = " ".join(result.output.split())
    assert "sites[].code" in text and "data.sources.spells.site_aliases" in text
    # following the advice: the local code mapped to a protocol site, no spell is excluded as unknown
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["data"].setdefault("sources", {}).setdefault("spells", {"file": "spells.csv"})
    raw["data"]["sources"]["spells"]["site_aliases"] = {"RA1": ["RK9MH"]}
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    followed = _validate(path)
    out = followed.output.replace(str(tmp_path), "TMP")  # the test's own folder name holds the words
    assert "by rule unknown_site" not in out and "unknown_site (site)" not in out, out
    assert f"site_alias (site): {len(sp)} rows, 0 excluded" in " ".join(out.split()), out


def test_window_after_the_data_fails_validate(tmp_path):
    sp = pd.read_csv(DATA / "spells.csv", dtype=str)
    # closed spells at the protocol's sites only: every one lies outside the window
    sp = sp[sp["discharged"].notna() & sp["site"].isin(["RA1", "RB2", "RC3", "RD4"])].drop_duplicates()
    path = _protocol(tmp_path, start="2026-01-01", end="2028-01-01", spells=sp)
    result = _validate(path)
    assert result.exit_code == 1, result.output
    assert f"all {len(sp):,} spells excluded by rule outside_window" in result.output
    last = pd.to_datetime(sp["admitted"]).max()
    assert f"admitted dates run from 2019-04-01 to {last:%Y-%m-%d}" in result.output
    assert "data.window is 2026-01-01 to 2028-01-01" in result.output
    assert "change data.window.start or data.window.extract_date" in result.output


def test_window_after_the_data_with_open_spells_kept_fails_validate(tmp_path):
    # open spells admitted before the window are kept for their bed-days, but no admission is inside it
    path = _protocol(tmp_path, start="2026-01-01", end="2028-01-01", keep_until="2025-04-01")
    result = _validate(path)
    assert result.exit_code == 1, result.output
    assert "no admitted date lies inside data.window (2026-01-01 to 2028-01-01" in result.output
    assert "data.window.start or data.window.extract_date" in result.output


def test_extract_date_after_the_last_event_fails_validate_and_run(tmp_path):
    # spells end on 2020-12-31; the window runs to 2021-04-01: three months with no data
    path = _protocol(tmp_path, keep_until="2021-01-01")
    result = _validate(path)
    assert result.exit_code == 1, result.output
    assert "error after_data_end" in result.output
    assert "2021-01 to 2021-03" in result.output and "data.window.extract_date" in result.output
    from evaltoolkit.report import run_protocol

    with pytest.raises(ExtractValidationError) as info:
        run_protocol(path)
    message = str(info.value)
    assert "nothing was fitted" in message and "after_data_end" in message
    assert "pd_admissions at RA1" in message and "data.window.extract_date" in message
    assert "boundary" not in message


def test_a_site_with_no_rows_fails_with_all_zero_naming_the_site(tmp_path):
    sp = pd.read_csv(DATA / "spells.csv", dtype=str)
    sp = sp[(sp["admitted"] < "2021-04-01") & (sp["site"] != "RB2")]
    path = _protocol(tmp_path, spells=sp)
    result = _validate(path)
    assert result.exit_code == 1, result.output
    assert "error all_zero" in result.output
    assert "pd_admissions at RB2: no events in any of the 24 periods" in result.output
    assert "no rows with site RB2 (sites[].code)" in result.output


def test_run_publishes_the_checks_and_leaves_the_warmup_months_out_of_the_bed_day_fits(tmp_path):
    from evaltoolkit.report import RESULTS_SCHEMA, run_protocol
    from evaltoolkit.report.document import build_report, render_markdown
    from evaltoolkit.report.results_schema import SERIES_CHECK_KEYS, check_results

    results = run_protocol(_protocol(tmp_path)).results
    assert check_results(results) == []
    checks = results["data"]["series_checks"]
    warm = [c for c in checks if c["check"] == "bed_day_warmup"]
    assert len(warm) == 1 and set(warm[0]) == set(SERIES_CHECK_KEYS)
    n = warm[0]["n_periods"]
    assert warm[0]["series"] == "pd_bed_days" and warm[0]["period"] == "2019-04-01" and n >= 1
    fits = {(f["series"], f["site"]): f for f in results["its"]["fits"] if f["method_id"] == "m0"}
    # 24 months in the window: the admissions are fitted on all of them, the bed-days without the warm-up
    assert fits[("pd_admissions", "RA1")]["n_periods"] == 24
    assert fits[("pd_bed_days", "RA1")]["n_periods"] == 24 - n
    assert fits[("pd_bed_days", "RA1")]["pre_points"] == 12 - n
    limitation = next(x for x in results["limitations"] if x["id"] == "bed_day_warmup")
    assert f"the first {n} months from 2019-04-01" in limitation["text"]
    assert "left out of the interrupted-time-series fits" in limitation["text"]
    markdown = render_markdown(build_report(results), figure_dir="figures")
    assert "Checks on the series before modelling" in markdown
    # the report names the check and the series in words; the ids stay in results.json (checked above)
    table = markdown.split("**Checks on the series before modelling.**")[1].split("\n## ")[0]
    assert "| PD occupied bed-days | all | 2019-04-01 | bed-day warm-up months | the spells extract" in table
    assert "bed\\_day\\_warmup" not in table and "pd\\_bed\\_days" not in table
    jsonschema.validate(results, RESULTS_SCHEMA)


def test_validate_folder_with_an_extract_date_after_the_data_exits_1(tmp_path):
    att = pd.read_csv(DATA / "attendances.csv", dtype=str)
    att[att["arrival"] < "2024-10-01"].to_csv(tmp_path / "attendances.csv", index=False)
    result = runner.invoke(
        app, ["validate", str(tmp_path), "--start", "2019-04-01", "--extract-date", "2025-04-01"]
    )
    assert result.exit_code == 1, result.output
    assert "error after_data_end: series attendances at RA1: no events in the last 6 periods" in result.output
    assert "(2024-10 to 2025-03)" in result.output


def test_validate_folder_reports_the_bed_day_warmup(tmp_path):
    sp = pd.read_csv(DATA / "spells.csv", dtype=str)
    sp.to_csv(tmp_path / "spells.csv", index=False)
    result = runner.invoke(
        app, ["validate", str(tmp_path), "--start", "2019-04-01", "--extract-date", "2025-04-01"]
    )
    assert result.exit_code == 0, result.output
    assert "warning bed_day_warmup: series spells" in result.output
    assert "first 3 months are too low by construction" in result.output


def test_run_command_stops_before_modelling_when_the_extract_date_is_after_the_data(tmp_path):
    path = _protocol(tmp_path, keep_until="2021-01-01")
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1, result.output
    assert "after_data_end" in result.output and "data.window.extract_date" in result.output
    assert not (tmp_path / "out" / "results.json").exists()


def test_check_results_names_a_series_check_record_with_wrong_keys():
    from evaltoolkit.report.results_schema import check_results

    bad = {"schema_version": "1.0", "data": {"series_checks": [{"series": "x", "check": "abnormal_count"}]}}
    problems = check_results(bad)
    expected = "['series', 'site', 'period', 'check', 'severity', 'n_periods', 'message']"
    assert f"data.series_checks[0] has keys ['check', 'series']; expected {expected}" in problems


def test_months_missing_inside_the_series_are_an_error():
    values = [20] * 6 + [0, 0, 0] + [20] * 6
    found = check_series(_monthly(values), by=None, name="attendances")
    assert found["check"].tolist() == ["no_data_gap"]
    row = found.iloc[0]
    assert row["severity"] == "error" and row["period"] == pd.Timestamp("2023-07-01")
    assert row["p_value"] == pytest.approx(math.exp(-20) ** 3)
    assert "no events in 3 consecutive periods (2023-07 to 2023-09)" in row["message"]


def test_a_count_series_mostly_without_data_is_mostly_missing():
    # data only in the first 4 of 12 months: 8 empty months after the data end (67%)
    found = check_series(_monthly([20] * 4 + [0] * 8), by=None, name="attendances")
    assert found["check"].tolist() == ["mostly_missing", "after_data_end"]  # whole-series findings first
    assert set(found["severity"]) == {"error"}
    assert "8 of 12 periods have no data (more than 50%)" in found["message"].iloc[0]


def test_series_protocol_stops_before_writing_when_the_extract_date_is_after_the_data(tmp_path):
    path = _protocol(tmp_path, keep_until="2021-01-01")
    out = tmp_path / "out"
    result = runner.invoke(app, ["series", "--protocol", str(path), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    assert "error after_data_end: series pd_admissions at RA1" in result.output
    assert "2021-01 to 2021-03" in result.output and "data.window.extract_date" in result.output
    assert not out.exists()


def test_series_folder_with_an_extract_date_after_the_data_says_so_first(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    att = pd.read_csv(DATA / "attendances.csv", dtype=str)
    att[att["arrival"] < "2024-10-01"].to_csv(data / "attendances.csv", index=False)
    pop = pd.read_csv(DATA / "population.csv", dtype=str)
    pop[pop["period"] < "2024-10-01"].to_csv(data / "population.csv", index=False)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["series", str(data), "--start", "2019-04-01", "--extract-date", "2025-04-01", "--out", str(out)],
    )
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "error after_data_end: series attendances at RA1: no events in the last 6 periods" in text
    assert "the extract date is after the data end" in text
    last = pd.to_datetime(att.loc[att["arrival"] < "2024-10-01", "arrival"]).max()
    assert (
        f"The last arrival date in the folder is {last:%Y-%m-%d}: give the extract date with --extract-date"
        in text
    )
    assert text.index("after_data_end") < text.index("and so:"), text
    assert not out.exists()
