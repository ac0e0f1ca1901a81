"""The command line: commands, help, exit codes (0 ok, 1 invalid data or protocol, 2 usage) and progress."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from evaltoolkit.cli import app

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ROOT / "protocols"
DATA = ROOT / "synthetic_data"

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_help_lists_every_command():
    result = _invoke("--help")
    assert result.exit_code == 0
    for command in ("synth", "validate", "series", "run", "score", "report", "book"):
        assert command in result.output
    assert "0 ok, 1 invalid data or protocol, 2 usage" in " ".join(result.output.split())
    for command in ("run", "score", "report", "book", "validate"):
        assert _invoke(command, "--help").exit_code == 0


def test_usage_errors_exit_2():
    assert _invoke("no-such-command").exit_code == 2
    assert _invoke("run", PROTOCOLS / "project_air.yaml").exit_code == 2  # --out missing
    assert _invoke("run", "missing.yaml", "--out", "x").exit_code == 2
    assert _invoke("validate", "missing.yaml").exit_code == 2
    assert _invoke("validate").exit_code == 2
    assert _invoke("report", "no_such_folder").exit_code == 2


def test_validate_protocol_ok_and_with_its_data():
    result = _invoke("validate", PROTOCOLS / "change_programme.yaml")
    assert result.exit_code == 0, result.output
    assert "protocol" in result.output and "ok" in result.output
    assert "rom_responses (rom_responses.csv): ok; 2475 rows read" in result.output
    result = _invoke("validate", "--protocol", PROTOCOLS / "project_air.yaml", "--no-data")
    assert result.exit_code == 0
    assert "attendances" not in result.output


def test_validate_invalid_protocol_exits_1_listing_every_problem(tmp_path):
    raw = yaml.safe_load((PROTOCOLS / "project_air.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = str(DATA)
    raw["design"]["transition"] = -2
    raw["sites"][0]["role"] = "treated"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    result = _invoke("validate", path)
    assert result.exit_code == 1
    assert "has 2 problems" in result.output
    assert "design.transition: must be ≥ 0 (got -2)" in result.output
    assert "sites[0].role: must be one of 'intervention' or 'control' (got 'treated')" in result.output
    assert _invoke("run", path, "--out", tmp_path / "out").exit_code == 1
    assert not (tmp_path / "out").exists()


def test_invalid_data_behind_a_valid_protocol_exits_1(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    survey = pd.read_csv(DATA / "staff_survey.csv", dtype=str)
    survey.loc[3, "date"] = "31/02/2024"  # unparseable
    survey.to_csv(data / "staff_survey.csv", index=False)
    raw = yaml.safe_load((PROTOCOLS / "leadership_programme.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = str(data)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    result = _invoke("validate", path)
    assert result.exit_code == 1
    assert "date" in result.output and "5" in result.output  # the column and the spreadsheet row (header = 1)
    result = _invoke("run", path, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 1


def test_validate_folder_still_works(tmp_path):
    assert _invoke("validate", DATA).exit_code == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "population.csv").write_text("site,period,population\nA,2023-01-15,-5\n")
    assert _invoke("validate", bad).exit_code == 1


@pytest.mark.slow
def test_run_then_report_then_python_m(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaltoolkit",
            "run",
            str(PROTOCOLS / "leadership_programme.yaml"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "outcome measures: paired change" in done.stderr  # progress goes to stderr
    assert "wrote" in done.stdout and "[" not in done.stdout.splitlines()[-1]
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"]["name"] == "leadership_programme"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"].startswith("evaltoolkit run ")
    before = (out / "report.md").read_bytes()
    (out / "report.md").unlink()
    result = _invoke("report", out, "--no-redraw")
    assert result.exit_code == 0, result.output
    assert (out / "report.md").read_bytes() == before
    # --no-redraw without the figures: exit 1 naming the missing files and the option that draws them
    figures = sorted(p.name for p in (out / "figures").glob("*.svg"))
    shutil.rmtree(out / "figures")
    result = _invoke("report", out, "--no-redraw")
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "figures lacks" in text and figures[0] in text and "--redraw" in text
    assert _invoke("report", out, "--redraw").exit_code == 0  # the advice works
    assert sorted(p.name for p in (out / "figures").glob("*.svg")) == figures
    # a results.json of another schema version is refused with exit 1
    results["schema_version"] = "0.1"
    (out / "results.json").write_text(json.dumps(results))
    result = _invoke("report", out)
    assert result.exit_code == 1
    assert "schema_version" in result.output
    (out / "results.json").unlink()
    assert _invoke("report", out).exit_code == 2


def test_score_command(tmp_path):
    rows = pd.DataFrame({"id": ["a", "b", "c"]})
    items = {"a": [1] * 9, "b": [3, 3, 3, 3, 3, 3, 3, 3, 2], "c": [0, 1, 2, 3, 0, 1, 2, 3, None]}
    for i in range(9):
        rows[f"phq9_{i + 1}"] = [items[k][i] for k in ("a", "b", "c")]
    src = tmp_path / "phq.csv"
    rows.to_csv(src, index=False)
    out = tmp_path / "scores.csv"
    result = _invoke("score", src, "--instrument", "phq9", "--out", out)
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert scored["total"].tolist()[:2] == [9.0, 26.0]  # 9 × 1; 8 × 3 + 2
    assert pd.isna(scored["total"].iloc[2]) and not scored["valid"].iloc[2]  # PHQ-9: no missing item allowed
    assert "source_row" in scored.columns and scored["id"].tolist() == ["a", "b", "c"]
    rows.loc[0, "phq9_1"] = 7  # out of range 0–3
    rows.to_csv(src, index=False)
    result = _invoke("score", src, "--instrument", "phq9", "--out", out)
    assert result.exit_code == 1
    assert "phq9_1" in result.output
    assert _invoke("score", src, "--instrument", "phq99", "--out", out).exit_code == 2
    assert _invoke("score", tmp_path / "none.csv", "--instrument", "phq9", "--out", out).exit_code == 2
    result = _invoke("score", src, "--instrument", "phq9", "--out", out, "--invalid", "missing")
    assert result.exit_code == 0


def test_book_check_and_pages(tmp_path):
    assert _invoke("book", "--check", "--book-dir", ROOT / "book", "--protocols", PROTOCOLS).exit_code == 0
    book, protocols = tmp_path / "book", tmp_path / "protocols"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_build"))
    shutil.copytree(PROTOCOLS, protocols)
    page = book / "reports" / "project_air.md"
    page.write_text(page.read_text() + "\nhand edit\n")
    result = _invoke("book", "--check", "--book-dir", book, "--protocols", protocols)
    assert result.exit_code == 1
    assert "project_air.md" in result.output
    result = _invoke("book", "--pages-only", "--book-dir", book, "--protocols", protocols)
    assert result.exit_code == 0
    assert page.read_text() == (ROOT / "book" / "reports" / "project_air.md").read_text()
    assert _invoke("book", "--book-dir", tmp_path / "nope").exit_code == 2


def test_a_deprecated_protocol_key_is_shown_as_one_warning_line(tmp_path):
    text = (ROOT / "protocols" / "project_air.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    raw["data"]["folder"] = str(ROOT / "synthetic_data")
    raw["analysis"]["primary"]["se"] = raw["analysis"]["primary"].pop("se_type", "model")
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path), "--no-data"])
    assert result.exit_code == 0, result.output
    expected = "warning: protocol analysis method: the protocol key se: is deprecated, use se_type:"
    assert expected in result.output
    assert "Traceback" not in result.output and "DeprecationWarning" not in result.output


def test_score_reads_every_sheet_of_a_workbook_with_its_item_map(tmp_path):
    # The trust fixture's CORE-10 workbook: one sheet per session, a title row above the header (row 3),
    # items Q1..Q10. Expected counts from the generator's record (expected.json), not from the scorer.
    book = ROOT / "tests" / "fixtures" / "trust" / "core10_returns.xlsx"
    expected = json.loads((ROOT / "tests" / "fixtures" / "trust" / "expected.json").read_text())
    out = tmp_path / "scores.csv"
    args = ["score", str(book), "-i", "core10", "--sheet", "*", "--sheet-column", "occasion"]
    args += ["--header-row", "3", "--item-map", "Q{n}=core10_{n}", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    rom = expected["rom_responses"]
    assert len(scored) == rom["rows"] == 92
    per_sheet = {k.removeprefix("rows_"): v for k, v in rom.items() if k.startswith("rows_")}
    assert scored["occasion"].value_counts().to_dict() == per_sheet


def test_synth_preset_unknown_is_a_usage_error_and_known_names_the_preset(tmp_path):
    bad = _invoke("synth", "--out", tmp_path / "x", "--preset", "nope")
    assert bad.exit_code == 2
    assert "--preset must be one of project_air, crisis_pathway" in bad.output
    assert "Traceback" not in bad.output
