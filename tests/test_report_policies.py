"""The output-checking policy named in the protocol is the one every published number passes."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from evaltoolkit.disclosure import POLICIES, UKLLC, DisclosureError, assert_published
from evaltoolkit.protocol import load_protocol
from evaltoolkit.protocol.loader import validate_protocol
from evaltoolkit.protocol.schema import SUPPRESSION_RULES
from evaltoolkit.report import build_report, run_protocol, save_figures, write_outputs
from evaltoolkit.report.results_schema import COUNT_KEYS, check_results

ROOT = Path(__file__).resolve().parents[1]


def _protocol_file(tmp_path: Path, base: str, **changes: Any) -> Path:
    """A copy of a ready protocol with top-level sections replaced, its data folder being tmp_path/data."""
    spec = yaml.safe_load((ROOT / "protocols" / f"{base}.yaml").read_text(encoding="utf-8"))
    spec.update(changes)
    spec["data"]["folder"] = "data"
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _counts(obj: Any, path: str = "results") -> list[tuple[str, Any]]:
    """Every value under a count key (:data:`COUNT_KEYS`), at any depth, with its path."""
    out: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in COUNT_KEYS and not isinstance(v, dict | list):
                out.append((f"{path}.{k}", v))
            out += _counts(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _counts(v, f"{path}[{i}]")
    return out


def test_the_schema_names_every_registered_policy() -> None:
    assert set(SUPPRESSION_RULES) == {*POLICIES, "custom"}


def test_an_unknown_rule_is_refused_with_the_names() -> None:
    raw = yaml.safe_load((ROOT / "protocols" / "leadership_programme.yaml").read_text(encoding="utf-8"))
    raw["suppression"] = {"rule": "five_safes"}
    problems = {p.path: p.message for p in validate_protocol(raw)}
    message = problems["suppression.rule"]
    assert "five_safes" in message
    for name in ("nhs", "opensafely", "opensafely_midpoint6", "ukllc", "custom", "none"):
        assert f"'{name}'" in message


def test_a_named_policy_fixes_its_thresholds() -> None:
    raw = yaml.safe_load((ROOT / "protocols" / "leadership_programme.yaml").read_text(encoding="utf-8"))
    raw["suppression"] = {"rule": "ukllc", "high": 4}
    problems = {p.path: p.message for p in validate_protocol(raw)}
    assert "use rule: custom" in problems["suppression.high"]


@pytest.mark.parametrize("name", ["nhs", "opensafely", "opensafely_midpoint6", "ukllc", "none"])
def test_the_protocol_names_the_policy(tmp_path: Path, name: str) -> None:
    (tmp_path / "data").symlink_to(ROOT / "synthetic_data")
    protocol = load_protocol(_protocol_file(tmp_path, "leadership_programme", suppression={"rule": name}))
    assert protocol.disclosure_policy() is POLICIES[name]


def test_suppression_args_still_work(tmp_path: Path) -> None:
    (tmp_path / "data").symlink_to(ROOT / "synthetic_data")

    def args(rule: dict[str, Any]) -> Any:
        return load_protocol(
            _protocol_file(tmp_path, "leadership_programme", suppression=rule)
        ).suppression_args()

    assert args({"rule": "nhs"}) == {"low": 1, "high": 7, "round_to": 5}
    assert args({"rule": "ukllc"}) == {"low": 0, "high": 9, "round_to": 1}
    assert args({"rule": "none"}) is None
    with pytest.raises(ValueError, match="midpoint"):
        args({"rule": "opensafely_midpoint6"})


@pytest.fixture(scope="module")
def ukllc_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    tmp = tmp_path_factory.mktemp("ukllc")
    (tmp / "data").symlink_to(ROOT / "synthetic_data")
    path = _protocol_file(tmp, "leadership_programme", suppression={"rule": "ukllc"})
    evaluation = run_protocol(path)
    write_outputs(evaluation, tmp / "out", command="test", html=False)
    results = json.loads((tmp / "out" / "results.json").read_text(encoding="utf-8"))
    return results, tmp / "out"


def test_ukllc_publishes_no_count_below_10_and_does_not_round(ukllc_run) -> None:
    results, out = ukllc_run
    assert check_results(results) == []
    sup = results["suppression"]
    assert (sup["rule"], sup["low"], sup["high"], sup["round_to"]) == ("ukllc", 0, 9, 1)
    assert sup["description"] == UKLLC.describe()
    assert sup["source"]["url"] == "https://guidebook.ukllc.ac.uk/docs/user_guide/sdc"
    counts = _counts(results)
    assert len(counts) > 50
    small = [(p, v) for p, v in counts if isinstance(v, int) and v < 10]
    assert small == []  # zero included: UK LLC suppresses every count below 10
    assert all(v in ("*", None) or (isinstance(v, int) and v >= 10) for _, v in counts)
    # not rounded: the exact counts of the bundled file (357 rows; 200 staff, each with a pre form)
    survey = pd.read_csv(ROOT / "synthetic_data" / "staff_survey.csv")
    assert results["data"]["inputs"][0]["rows_read"] == len(survey) == 357
    started = {r["n_started"] for r in results["outcome_measures"]["analysed"]}
    assert started == {survey["staff_id"].nunique()} == {200}
    assert any(isinstance(v, int) and v % 5 for _, v in counts)
    # the published tables follow the same policy
    for csv in sorted((out / "tables").glob("*.csv")):
        table = pd.read_csv(csv, dtype=str)
        for col in set(table.columns) & COUNT_KEYS:
            values = pd.to_numeric(table[col].where(table[col] != "*"), errors="coerce").dropna()
            assert (values >= 10).all(), (csv.name, col, values[values < 10].tolist())


# -- the renderers' guard ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nhs_evaluation(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("nhs")
    (tmp / "data").symlink_to(ROOT / "synthetic_data")
    return run_protocol(_protocol_file(tmp, "leadership_programme"))


def _planted(results: dict[str, Any], value: Any = 3) -> dict[str, Any]:
    out = copy.deepcopy(results)
    out["data"]["inputs"][0]["rows_excluded"] = value
    return out


def test_the_published_results_pass_the_guard(nhs_evaluation, tmp_path: Path) -> None:
    results = nhs_evaluation.results
    assert_published(results)
    assert_published(results, "nhs")
    build_report(results)
    assert save_figures(results, tmp_path / "figures", formats=("svg",))
    assert "results" in write_outputs(nhs_evaluation, tmp_path / "out", command="test", html=False)


@pytest.mark.parametrize("value", [3, 1, 7, 12])  # 1-7 would be '*', 12 would be 10 under the NHS rule
def test_every_renderer_refuses_an_exact_count(nhs_evaluation, tmp_path: Path, value: int) -> None:
    planted = _planted(nhs_evaluation.results, value)
    where = rf"results\.data\.inputs\[0\]\.rows_excluded = {value} is an exact count"
    with pytest.raises(DisclosureError, match=where):
        assert_published(planted)
    with pytest.raises(DisclosureError, match=where):
        build_report(planted)
    with pytest.raises(DisclosureError, match=where):
        save_figures(planted, tmp_path / "figures", formats=("svg",))
    assert not (tmp_path / "figures").exists() or not any((tmp_path / "figures").iterdir())
    with pytest.raises(DisclosureError, match=where):
        write_outputs(dataclasses.replace(nhs_evaluation, results=planted), tmp_path / "out", command="t")
    assert not (tmp_path / "out").exists()  # nothing written


def test_the_guard_applies_each_policy() -> None:
    def results(v: Any, rule: dict[str, Any]) -> dict[str, Any]:
        return {"suppression": rule, "estimates": [{"n": 145}, {"n": v}], "protocol": {"seed": 3}}

    ukllc = {"rule": "ukllc"}
    assert_published(results(12, ukllc))  # UK LLC does not round
    assert_published(results("*", ukllc))
    for v in (0, 9):  # zero included
        with pytest.raises(DisclosureError, match=rf"results\.estimates\[1\]\.n = {v} .* the ukllc policy"):
            assert_published(results(v, ukllc))
    midpoint = {"rule": "opensafely_midpoint6"}
    # midpoint 6 by hand: ceiling(x / 6) * 6 - 3, so 10 is published as 9 and 145 as 147
    with pytest.raises(DisclosureError, match=r"estimates\[0\]\.n = 145 .* publishes it as 147"):
        assert_published(results(9, midpoint))
    with pytest.raises(DisclosureError, match=r"estimates\[1\]\.n = 10 .* publishes it as 9"):
        assert_published({"suppression": midpoint, "estimates": [{"n": 147}, {"n": 10}]})
    assert_published({"suppression": midpoint, "estimates": [{"n": 147}, {"n": 9}, {"n": 0}]})
    custom = {"rule": "custom", "low": 1, "high": 4, "round_to": 1}
    assert_published(results(5, custom))
    with pytest.raises(DisclosureError, match="publishes it as '\\*'"):
        assert_published(results(4, custom))
    assert_published(results(4, {"rule": "none"}))


def test_write_outputs_refuses_a_table_with_an_exact_count(nhs_evaluation, tmp_path: Path) -> None:
    tables = dict(nhs_evaluation.tables)
    inputs = tables["data_inputs"].copy()
    inputs["rows_excluded"] = inputs["rows_excluded"].astype(object)
    inputs.loc[inputs.index[0], "rows_excluded"] = 3
    tables["data_inputs"] = inputs
    planted = dataclasses.replace(nhs_evaluation, tables=tables)
    with pytest.raises(
        DisclosureError, match="table data_inputs, column rows_excluded, row 0: 3 is an exact"
    ):
        write_outputs(planted, tmp_path / "out", command="test", html=False)
    assert not (tmp_path / "out").exists()
