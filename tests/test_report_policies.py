"""The output-checking policy named in the protocol is the one every published number passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from evaltoolkit.disclosure import POLICIES, UKLLC
from evaltoolkit.protocol import load_protocol
from evaltoolkit.protocol.loader import validate_protocol
from evaltoolkit.protocol.schema import SUPPRESSION_RULES
from evaltoolkit.report import run_protocol, write_outputs
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
