"""Protocol files: the ready protocols validate; mistakes are reported all at once with key paths."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from evaltoolkit.errors import EvalToolkitError
from evaltoolkit.protocol import (
    Problem,
    ProtocolError,
    format_problems,
    load_protocol,
    protocol_from_dict,
    protocol_json_schema,
    validate_protocol,
)

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ROOT / "protocols"
READY = ("project_air", "change_programme", "leadership_programme", "crisis_pathway")


def _raw(name: str) -> dict:
    return yaml.safe_load((PROTOCOLS / f"{name}.yaml").read_text(encoding="utf-8"))


def _paths(problems: list[Problem]) -> dict[str, str]:
    return {p.path: p.message for p in problems}


@pytest.mark.parametrize("name", READY)
def test_ready_protocols_validate_with_their_data_files(name):
    assert validate_protocol(PROTOCOLS / f"{name}.yaml") == []
    protocol = load_protocol(PROTOCOLS / f"{name}.yaml")
    assert protocol.name == name
    # data.folder is relative to the protocol file, not to the working directory
    bundled = ROOT / "synthetic_data"
    assert protocol.data_folder().resolve() in (bundled.resolve(), (bundled / name).resolve())


def test_several_mistakes_are_reported_together_with_their_paths():
    raw = _raw("project_air")
    raw["design"]["transition"] = -1  # out of range
    raw["sites"][0]["go_live"] = None  # intervention site without go-live (cross-section rule)
    raw["sites"][3]["role"] = "controll"  # not an allowed value
    raw["analysis"]["sensitivity"][2]["lags"] = None  # newey-west without lags
    raw["series"][0]["unit_cost"] = "ed_attendence"  # not defined under unit_costs
    raw["series"][1]["frequncy"] = "MS"  # misspelt key
    raw["unit_costs"]["mh_bed_day"]["value"] = -3
    problems = validate_protocol(raw, base_dir=PROTOCOLS)
    found = _paths(problems)
    assert found["design.transition"] == "must be ≥ 0 (got -1)"
    assert "'intervention' or 'control'" in found["sites[3].role"] and "'controll'" in found["sites[3].role"]
    assert "did you mean 'frequency'" in found["series[1].frequncy"]
    assert "allowed keys here" in found["series[1].frequncy"]
    assert found["unit_costs.mh_bed_day.value"] == "must be > 0 (got -3)"
    assert "required for an intervention site" in found["sites[0].go_live"]
    assert "required with se_type: newey-west" in found["analysis.sensitivity[2].lags"]
    assert "'ed_attendence' is not defined" in found["series[0].unit_cost"]
    assert "ed_attendance" in found["series[0].unit_cost"]  # what is allowed
    assert len(problems) == 7


def test_protocol_error_lists_every_problem(tmp_path):
    raw = _raw("leadership_programme")
    raw["outcome_measures"]["instruments"][0]["key"] = "pss11"
    raw["outcome_measures"]["instruments"][4]["scale"] = "total"  # CBI has no total
    raw["seed"] = -5
    raw["data"]["folder"] = str(ROOT / "synthetic_data")
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    exc = info.value
    assert isinstance(exc, ValueError) and isinstance(exc, EvalToolkitError)
    paths = [p.path for p in exc.problems]
    assert paths == ["seed", "outcome_measures.instruments[0].key", "outcome_measures.instruments[4].scale"]
    text = str(exc)
    assert "has 3 problems" in text
    assert "did you mean 'pss10'" in text
    assert "scales: personal, work, client" in text
    assert all(f"  - {p}:" in text for p in paths)


def test_yaml_syntax_error_and_duplicate_keys_are_reported_with_lines(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntitle: [unclosed\n", encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"not valid YAML \(line \d+, column \d+\)"):
        load_protocol(bad)
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\ntitle: t\nname: b\n", encoding="utf-8")
    with pytest.raises(ProtocolError, match="duplicate key 'name' \\(first on line 1\\)"):
        load_protocol(dup)
    with pytest.raises(FileNotFoundError):
        load_protocol(tmp_path / "missing.yaml")


def test_relative_data_folder_resolves_against_the_protocol_file(tmp_path):
    (tmp_path / "protocols").mkdir()
    data = tmp_path / "extracts"
    data.mkdir()
    shutil.copy(ROOT / "synthetic_data" / "staff_survey.csv", data / "staff_survey.csv")
    raw = _raw("leadership_programme")
    raw["data"]["folder"] = "../extracts"
    path = tmp_path / "protocols" / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert load_protocol(path).data_folder().resolve() == data.resolve()
    raw["data"]["folder"] = "../nowhere"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    problems = _paths(validate_protocol(path))
    assert "does not exist" in problems["data.folder"]
    assert validate_protocol(path, check_files=False) == []


def test_missing_source_file_and_needed_extract_are_reported(tmp_path):
    raw = _raw("project_air")
    raw["data"]["folder"] = str(ROOT / "synthetic_data")
    raw["data"]["sources"]["cohort"]["file"] = "cohort_2024.csv"
    del raw["data"]["sources"]["population"]
    found = _paths(validate_protocol(raw))
    assert "'cohort_2024.csv' does not exist" in found["data.sources.cohort.file"]
    assert "no population extract" in found["data.sources"]


def test_cross_section_rules():
    raw = _raw("project_air")
    raw["data"]["folder"] = str(ROOT / "synthetic_data")
    raw["sites"] = [s for s in raw["sites"] if s["role"] == "intervention"]  # no control site left
    raw["sites"][1]["go_live"] = "2022-01-15"  # not a month start
    raw["analysis"]["primary"]["method"] = "prais-winsten"  # AR errors for counts (only gls-* fit counts)
    raw["analysis"]["horizon_months"] = 36  # RC3 has only 30 months after go-live
    raw["series"][3]["denominator"] = "population"  # a mean has no denominator
    raw["series"][0]["where"] = {"colour": "red"}
    found = _paths(validate_protocol(raw))
    assert "first day of the go-live month" in found["sites[1].go_live"]
    assert "Gaussian outcomes" in found["analysis.primary.method"]
    assert "pd_ed_attendances" in found["analysis.primary.method"]
    assert "30 months available" in found["analysis.horizon_months"]
    assert "must be empty for measure mean_los" in found["series[3].denominator"]
    assert "not a column of attendances" in found["series[0].where.colour"]
    assert "needs at least one site with role: control" in found["analysis.sensitivity[0].controlled"]
    assert "control_sites needs at least one site" in found["cohort.comparison"]


def test_suppression_rule_nhs_is_fixed_and_custom_is_checked():
    raw = _raw("leadership_programme")
    raw["data"]["folder"] = str(ROOT / "synthetic_data")
    raw["suppression"] = {"rule": "nhs", "high": 4}
    assert "use rule: custom" in _paths(validate_protocol(raw))["suppression.high"]
    raw["suppression"] = {"rule": "custom", "low": 5, "high": 3, "round_to": 5}
    assert _paths(validate_protocol(raw))["suppression.high"] == "must be ≥ suppression.low (5)"
    raw["suppression"] = {"rule": "custom", "low": 1, "high": 4, "round_to": 1}
    protocol = protocol_from_dict(raw)
    assert protocol.suppression_args() == {"low": 1, "high": 4, "round_to": 1}
    raw["suppression"] = {"rule": "none"}
    assert protocol_from_dict(raw).suppression_args() is None


def test_sensitivity_methods_override_only_what_they_set():
    protocol = load_protocol(PROTOCOLS / "project_air.yaml")
    methods = dict(protocol.methods())
    primary = methods["Segmented regression per site, AR(1) errors, calibrated intervals"]
    assert (primary["family"], primary["se_type"], primary["lags"], primary["controlled"]) == (
        "quasipoisson",
        "model",
        None,
        False,
    )
    # method left empty: the toolkit's default per family (calibrated AR(1) GLS for counts)
    assert primary["method"] is None and primary["ci_method"] is None
    assert primary["seasonality"] == 1 and primary["transition"] == 0  # from design
    nw = methods["Newey–West standard errors (2 lags)"]
    assert (nw["family"], nw["se_type"], nw["lags"]) == ("quasipoisson", "newey-west", 2)
    assert methods["Negative binomial"] == {**primary, "family": "negbin"}
    assert methods["Controlled ITS (control site RD4)"] == {**primary, "controlled": True}
    assert methods["Three-month phase-in excluded"] == {**primary, "transition": 3}
    classical = methods["Quasi-Poisson GLM, independent errors (classical)"]
    assert classical == {**primary, "method": "ols"}


def test_explicit_null_seasonality_in_a_sensitivity_method_means_none():
    raw = _raw("project_air")
    raw["data"]["folder"] = str(ROOT / "synthetic_data")
    raw["analysis"]["sensitivity"] = [{"label": "No seasonal terms", "seasonality": None}]
    methods = protocol_from_dict(raw).methods()
    assert methods[0][1]["seasonality"] == 1
    assert methods[1][1]["seasonality"] is None
    raw["analysis"]["sensitivity"] = [{"label": "bad", "seasonality": 9}]
    assert (
        "number of Fourier pairs from 1 to 6"
        in _paths(validate_protocol(raw))["analysis.sensitivity[0].seasonality"]
    )


def test_nothing_to_analyse_and_missing_sections():
    problems = validate_protocol({"name": "demo", "title": "Demo"}, check_files=False)
    assert [p.path for p in problems] == ["question", "intervention", "sites", "data"]
    assert all(p.message == "is required" for p in problems)
    raw = _raw("leadership_programme")
    del raw["outcome_measures"]
    found = _paths(validate_protocol(raw, check_files=False))
    assert "nothing to analyse" in found["protocol"]


def test_json_schema_documents_every_section():
    schema = protocol_json_schema()
    assert set(schema["properties"]) >= {
        "intervention",
        "sites",
        "data",
        "cohort",
        "series",
        "design",
        "analysis",
        "outcome_measures",
        "suppression",
        "unit_costs",
        "report",
    }
    tidier = schema["$defs"]["Intervention"]["properties"]
    assert tidier["why"]["description"].startswith("TIDieR 2")
    assert len([k for k in tidier if tidier[k].get("description", "").startswith("TIDieR")]) == 12


def test_protocol_is_immutable_and_round_trips():
    protocol = load_protocol(PROTOCOLS / "change_programme.yaml")
    with pytest.raises(ValueError):
        protocol.name = "other"  # type: ignore[misc]
    again = protocol_from_dict(copy.deepcopy(protocol.model_dump(mode="json")), base_dir=PROTOCOLS)
    assert again.model_dump() == protocol.model_dump()


def test_quarterly_series_need_a_horizon_of_whole_quarters():
    raw = _raw("project_air")
    raw["analysis"]["horizon_months"] = 20
    found = _paths(validate_protocol(raw, base_dir=PROTOCOLS))
    quarterly = [i for i, s in enumerate(raw["series"]) if s.get("frequency") == "QS"]
    assert quarterly, "project_air.yaml has a quarterly series"
    for i in quarterly:
        msg = found[f"series[{i}].frequency"]
        assert "horizon_months = 20" in msg and "18 or 21" in msg
    raw["analysis"]["horizon_months"] = 21
    assert not any(p.endswith(".frequency") for p in _paths(validate_protocol(raw, base_dir=PROTOCOLS)))


def test_the_same_problem_found_from_several_keys_is_listed_once():
    raw = _raw("project_air")
    raw["sites"] = [s for s in raw["sites"] if s["role"] != "control"]
    raw["design"]["controlled"] = True
    problems = validate_protocol(raw, base_dir=PROTOCOLS)
    texts = [str(p) for p in problems]
    assert texts.count("design.controlled: needs at least one site with role: control") == 1, texts
    assert len(texts) == len(set(texts))
    assert "analysis.sensitivity[0].controlled: needs at least one site with role: control" in texts
    assert format_problems(problems).startswith(f"protocol has {len(problems)} problem")


def test_a_number_where_text_is_needed_says_to_quote_it():
    raw = _raw("project_air")
    raw["sites"][0]["code"] = 101
    found = _paths(validate_protocol(raw, base_dir=PROTOCOLS))
    assert found["sites[0].code"] == 'must be text (got 101): write it in quotes, e.g. code: "101"'


def test_a_date_layout_that_is_not_strftime_is_a_problem_before_any_file_is_read():
    raw = _raw("project_air")
    raw["data"]["sources"]["spells"]["date_format"] = "%Q"
    raw["data"]["sources"]["attendances"]["date_format"] = {"arrival": "dd/mm/yyyy"}
    found = _paths(validate_protocol(raw, base_dir=PROTOCOLS, check_files=False))
    assert found["data.sources.spells.date_format"].startswith("'%Q' is not a valid strftime layout")
    assert "'arrival'" in found["data.sources.attendances.date_format"]
    assert "dd/mm/yyyy" in found["data.sources.attendances.date_format"]
