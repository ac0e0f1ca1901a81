"""Tests for the data-quality table helpers and load_extracts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaltoolkit.data import (
    QUALITY_COLUMNS,
    CleanExtract,
    clean_extract,
    combine_quality,
    find_extract_files,
    format_quality_table,
    load_extracts,
)
from evaltoolkit.errors import ExtractValidationError

WINDOW = ("2023-01-01", "2024-01-01")


def write_folder(folder: Path) -> None:
    """A small extract folder laid out like synthetic_data/ (one format per file to cover all three)."""
    (folder / "sites.csv").write_text(
        "site,site_name,go_live,implements\nA,Alpha,2023-06-01,Y\nB,Beta,,N\n", encoding="utf-8"
    )
    pd.DataFrame(
        {
            "attendance_id": ["a1", "a2", "a2", "a3", "a4"],
            "patient_id": ["p1", "p2", "p2", None, "p4"],
            "site": ["A", "B", "B", "C", "A"],
            "arrival": [
                "2023-02-01 10:00",
                "2023-03-01 11:00",
                "2023-03-01 11:00",
                "2023-04-01 12:00",
                "2022-05-01 09:00",
            ],
            "departure": ["2023-02-01 12:00", None, None, None, "2022-05-01 10:00"],
        }
    ).to_csv(folder / "attendances.csv", index=False)
    pd.DataFrame(
        {
            "SpellNo": ["s1", "s2", "s3"],
            "patient_id": ["p1", "p2", "p3"],
            "site": ["A", "A", "B"],
            "admitted": pd.to_datetime(["2023-01-10", "2023-05-01", "2023-12-20"]),
            "discharged": pd.to_datetime(["2023-01-12", None, "2024-01-03"]),
        }
    ).to_parquet(folder / "spells.parquet", index=False)
    pd.DataFrame(
        {"site": ["A", "B"], "period": ["2023-01-01", "2023-01-01"], "population": [52000, 31000]}
    ).to_excel(folder / "population.xlsx", index=False)
    (folder / "cohort.csv").write_text("patient_id,site,pd_flag,index_date,end_date\np1,A,Y,2023-02-01,\n")
    (folder / "README.md").write_text("not an extract")


def test_load_extracts_reads_and_cleans_every_file(tmp_path: Path) -> None:
    write_folder(tmp_path)
    extracts = load_extracts(tmp_path, mappings={"spells": {"SpellNo": "spell_id"}}, window=WINDOW)
    assert list(extracts) == ["attendances", "spells", "population", "cohort"]
    att = extracts["attendances"]
    # Sites come from sites.csv (A, B): a3 at site C is unknown; a4 arrives before the window; row 4
    # duplicates row 3.
    q = att.quality.set_index("rule")
    assert (
        q.loc["exact_duplicate", "rows"],
        q.loc["unknown_site", "rows"],
        q.loc["outside_window", "rows"],
    ) == (
        "4",
        "5",
        "6",
    )
    assert att.data["attendance_id"].tolist() == ["a1", "a2"]
    spells = extracts["spells"]
    assert spells.data["spell_id"].tolist() == ["s1", "s2", "s3"]
    assert spells.data["dq_discharge_after_extract"].tolist() == [False, False, True]
    assert spells.data["dq_open_spell"].tolist() == [False, True, True]
    assert extracts["population"].data["population"].tolist() == [52000, 31000]
    for result in extracts.values():
        assert result.n_input == result.n_output + int(result.quality["n_excluded"].sum())


def test_load_extracts_explicit_sites_and_mapping_file(tmp_path: Path) -> None:
    write_folder(tmp_path)
    mapping = tmp_path / "mapping.yml"
    mapping.write_text("spells:\n  SpellNo: spell_id\n")
    extracts = load_extracts(tmp_path, mappings=mapping, sites=["A", "B", "C"])
    assert extracts["attendances"].quality.set_index("rule").loc["unknown_site", "n_rows"] == 0


def test_load_extracts_reports_errors_and_bad_folders(tmp_path: Path) -> None:
    write_folder(tmp_path)
    with pytest.raises(ExtractValidationError, match="required column 'spell_id' is missing"):
        load_extracts(tmp_path)  # the spells file needs its mapping
    with pytest.raises(ValueError, match="unknown extract kinds"):
        load_extracts(tmp_path, mappings={"spels": {}})
    (tmp_path / "spells.csv").write_text("spell_id\n")
    with pytest.raises(ValueError, match="several spells files"):
        find_extract_files(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no extract files"):
        load_extracts(empty)


def small_results() -> tuple[CleanExtract, CleanExtract]:
    pop = pd.DataFrame({"site": ["A", "A"], "period": ["2023-01-01"] * 2, "population": [10, 10]})
    att = pd.DataFrame(
        {
            "attendance_id": ["a1"],
            "patient_id": [None],
            "site": ["A"],
            "arrival": ["2023-01-01 10:00"],
            "departure": [None],
        }
    )
    return clean_extract(pop, "population"), clean_extract(att, "attendances")


def test_combine_quality_stacks_tables_in_order() -> None:
    pop, att = small_results()
    table = combine_quality(pop, att)
    assert list(table.columns) == QUALITY_COLUMNS
    assert len(table) == len(pop.quality) + len(att.quality)
    assert table["extract"].tolist() == ["population"] * len(pop.quality) + ["attendances"] * len(att.quality)
    pd.testing.assert_frame_equal(combine_quality({"p": pop, "a": att}), table)
    pd.testing.assert_frame_equal(pop.combine(att), table)
    pd.testing.assert_frame_equal(combine_quality([pop.quality, att.quality]), table)
    assert combine_quality().empty
    with pytest.raises(ValueError, match="not a data-quality table"):
        combine_quality(pd.DataFrame({"x": [1]}))


def test_summary_counts() -> None:
    pop, att = small_results()
    assert pop.summary().iloc[0].tolist() == ["population", 2, 1, 1]
    assert att.summary().iloc[0].tolist() == ["attendances", 1, 0, 1]


def test_format_quality_table_markdown() -> None:
    _, att = small_results()
    text = format_quality_table(att.quality, columns=["rule", "n_rows", "action"])
    lines = text.splitlines()
    assert lines[0] == "| rule | n_rows | action |"
    assert lines[1] == "|---|---|---|"
    assert "| unknown_site | not checked | not checked: no sites given |" in lines
    assert "| exact_duplicate | 0 | excluded (first copy kept) |" in lines
    assert "| missing_patient_id | 1 | kept; flagged (left out of per-patient analyses) |" in lines
    assert len(lines) == 2 + len(att.quality)
    with pytest.raises(ValueError, match="not in the table"):
        format_quality_table(att.quality, columns=["nope"])
