"""The messy trust extract (tests/fixtures/trust) runs end to end through a protocol alone.

Expected counts come from the fixture's generator (``expected.json``, computed from its own records) and
from reading the raw files here with the standard library (csv, openpyxl), never from evaltoolkit.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from evaltoolkit.cli import app
from evaltoolkit.protocol import load_protocol
from evaltoolkit.report._data import load_data

TRUST = Path(__file__).parent / "fixtures" / "trust"
PROTOCOL = TRUST / "trust_protocol.yaml"
EXPECTED = json.loads((TRUST / "expected.json").read_text(encoding="utf-8"))


def _csv_rows(path: Path, delimiter: str) -> int:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.reader(fh, delimiter=delimiter) if any(c.strip() for c in r)]
    return len(rows) - 1  # header


def _sheet_rows() -> dict[str, int]:
    book = load_workbook(TRUST / "core10_returns.xlsx", read_only=True)
    out = {}
    for ws in book.worksheets:
        rows = [r for r in ws.iter_rows(min_row=4, values_only=True) if any(v is not None for v in r)]
        out[ws.title] = len(rows)
    book.close()
    return out


RAW_ROWS = {
    "attendances": _csv_rows(TRUST / "ed_attendances_2022-23.csv", ",")
    + _csv_rows(TRUST / "ed_attendances_2024.csv", ";"),
    "spells": _csv_rows(TRUST / "inpatient_spells.csv", ","),
    "population": _csv_rows(TRUST / "population_mid_year.csv", ","),
    "rom_responses": sum(_sheet_rows().values()),
}


@pytest.fixture(scope="module")
def loaded():
    return load_data(load_protocol(PROTOCOL))


def test_raw_row_counts_match_the_generator() -> None:
    att = EXPECTED["attendances"]
    assert RAW_ROWS["attendances"] == att["rows_file_1"] + att["rows_file_2"]
    assert RAW_ROWS["spells"] == EXPECTED["spells"]["rows"]
    assert RAW_ROWS["population"] == EXPECTED["population"]["rows"]
    assert RAW_ROWS["rom_responses"] == EXPECTED["rom_responses"]["rows"]


@pytest.mark.parametrize("kind", ["attendances", "spells", "rom_responses"])
def test_quality_table_accounts_for_every_raw_row(loaded, kind: str) -> None:
    ex = loaded.extracts[kind]
    q = loaded.quality[loaded.quality["extract"] == kind]
    assert ex.n_input == RAW_ROWS[kind]  # summed across files and sheets
    assert ex.n_input == ex.n_output + int(q["n_excluded"].sum())
    assert len(ex.data) == ex.n_output
    read = q[q["rule"] == "rows_read"].iloc[0]
    assert int(read["n_rows"]) == RAW_ROWS[kind]


def test_population_annual_rows_are_accounted_for(loaded) -> None:
    ex = loaded.extracts["population"]
    q = loaded.quality[loaded.quality["extract"] == "population"].set_index("rule")
    assert int(q.loc["rows_read", "n_rows"]) == RAW_ROWS["population"] == 10
    assert int(q.loc["annual_population", "n_rows"]) == 10
    assert ex.n_output == EXPECTED["population"]["site_months"] == 72  # 36 months x 2 sites
    assert ex.n_input == ex.n_output + int(q["n_excluded"].sum())


def test_rule_counts_match_what_the_generator_injected(loaded) -> None:
    q = loaded.quality.set_index(["extract", "rule"])
    att = EXPECTED["attendances"]
    for rule in (
        "duplicate_across_files",
        "where_filter",
        "exact_duplicate",
        "unknown_site",
        "outside_window",
    ):
        assert int(q.loc[("attendances", rule), "n_excluded"]) == att[rule], rule
    assert loaded.extracts["attendances"].n_output == att["kept"]
    sp = EXPECTED["spells"]
    for rule in ("outside_window", "discharge_before_admission"):
        assert int(q.loc[("spells", rule), "n_excluded"]) == sp[rule], rule
    assert int(q.loc[("spells", "open_spell"), "n_rows"]) == sp["open_spell"]
    assert loaded.extracts["spells"].n_output == sp["kept"]


def test_the_files_and_sheets_are_named_in_the_table(loaded) -> None:
    q = loaded.quality.set_index(["extract", "rule"])
    detail = q.loc[("attendances", "rows_read"), "detail"]
    att = EXPECTED["attendances"]
    assert f"ed_attendances_2022-23.csv: {att['rows_file_1']}" in detail
    assert f"ed_attendances_2024.csv: {att['rows_file_2']}" in detail
    sheets = q.loc[("rom_responses", "rows_read"), "detail"]
    for name, n in _sheet_rows().items():
        assert f"core10_returns.xlsx sheet {name!r}: {n}" in sheets
    assert set(loaded.extracts["attendances"].data["source_file"]) == {
        "ed_attendances_2022-23.csv",
        "ed_attendances_2024.csv",
    }


def test_values_are_read_as_the_protocol_says(loaded) -> None:
    att = loaded.extracts["attendances"].data
    # ED00001 in the raw file: arrival date and time in two columns, day first
    with (TRUST / "ed_attendances_2022-23.csv").open(encoding="utf-8-sig", newline="") as fh:
        first = next(
            r
            for r in csv.DictReader(fh)
            if r["AttendanceType"] == "Unplanned" and r["ArrivalDate"][3:5] == "05"
        )
    row = att.loc[att["attendance_id"] == first["AttendanceRef"]].iloc[0]
    day, month, year = first["ArrivalDate"].split("/")
    assert row["arrival"].strftime("%Y-%m-%d %H:%M") == f"{year}-{month}-{day} {first['ArrivalTime']}"
    assert row["pd_flag"] == (first["PD_Diagnosis"].upper() == "Y")
    spells = loaded.extracts["spells"].data
    assert set(spells["site"]) == {"RX101", "RX102"}  # local unit codes aliased
    assert set(spells["admission_method"]) == {"emergency", "elective"}
    rom = loaded.extracts["rom_responses"].data
    assert set(rom["occasion"]) == {"Baseline", "Session 4", "Session 8"}
    assert [f"core10_{i}" for i in range(1, 11)] == [c for c in rom.columns if c.startswith("core10_")]


def test_pd_flag_on_spells_is_used_directly(loaded) -> None:
    spells = loaded.extracts["spells"].data
    assert int(spells["pd_flag"].sum()) == EXPECTED["spells"]["pd_kept"]
    assert loaded.notes == ()  # nothing inferred from attendances


def test_validate_and_run_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["validate", str(PROTOCOL)])
    assert done.exit_code == 0, done.output
    assert "ed_attendances_2022-23.csv, ed_attendances_2024.csv" in done.output
    out = tmp_path / "run"
    done = runner.invoke(app, ["run", str(PROTOCOL), "--out", str(out), "--quiet", "--no-html"])
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = [Path(f["file"]).name for f in manifest["inputs"]["attendances"]["files"]]
    assert files == ["ed_attendances_2022-23.csv", "ed_attendances_2024.csv"]
    rules = {(r["extract"], r["rule"]) for r in manifest["data_quality"]}
    wanted = {
        ("attendances", "duplicate_across_files"),
        ("attendances", "where_filter"),
        ("spells", "site_alias"),
        ("rom_responses", "item_map"),
        ("population", "annual_population"),
    }
    assert wanted <= rules
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    names = {i["kind"]: i["file"] for i in results["data"]["inputs"]}
    assert names["attendances"] == "ed_attendances_2022-23.csv, ed_attendances_2024.csv"
    assert (out / "report.md").exists()


def test_series_from_the_protocol(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["series", "--protocol", str(PROTOCOL), "--out", str(tmp_path)])
    assert done.exit_code == 0, done.output
    with (tmp_path / "series.csv").open(encoding="utf-8", newline="") as fh:
        series = list(csv.DictReader(fh))
    assert len(series) == 72  # 36 months x 2 sites
    admitted = sum(int(r["admissions"]) for r in series)
    spells_in_window = EXPECTED["spells"]["kept"]
    assert admitted <= spells_in_window  # spells admitted before the window count for bed-days only
    pd_admissions = sum(int(r["admissions_pd"]) for r in series)
    assert pd_admissions == _pd_spells_admitted_in_window()  # the spells' own flag, not inferred


def _pd_spells_admitted_in_window() -> int:
    """From the raw file: PD spells admitted in [2022-04-01, 2025-04-01), not discharged before admission."""
    import datetime as dt

    start, end = dt.date(2022, 4, 1), dt.date(2025, 4, 1)
    n = 0
    with (TRUST / "inpatient_spells.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            admit = dt.datetime.strptime(r["AdmitDate"], "%d/%m/%Y").date()
            out = dt.datetime.strptime(r["DischargeDate"], "%d/%m/%Y").date() if r["DischargeDate"] else None
            n += r["PD"] == "Y" and start <= admit < end and (out is None or out >= admit)
    return n
