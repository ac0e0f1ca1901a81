"""Tests for validate_extract / check_extract: every problem reported at once, with columns and rows."""

from __future__ import annotations

import pandas as pd
import pytest

from evaltoolkit.data import PROBLEM_COLUMNS, check_extract, read_extract, validate_extract
from evaltoolkit.errors import ColumnMappingError, ExtractValidationError

ATT_COLS = ["attendance_id", "patient_id", "site", "arrival", "departure", "sex"]


def three_error_attendances() -> pd.DataFrame:
    # Row numbers: data row i is spreadsheet row i + 2.
    return pd.DataFrame(
        [
            ("a1", "p1", "A", "2023-03-01 10:00", "2023-03-01 12:00", "F"),  # row 2 ok
            ("a2", "p2", "A", "01/03/2023 10:00", None, "M"),  # row 3 unparseable arrival
            ("a3", "p3", None, "2023-03-02 10:00", None, "F"),  # row 4 missing site
            ("a4", "p4", "B", "2023-03-02 11:00", None, "X"),  # row 5 sex not allowed
            ("a5", "p5", "B", "tomorrow", None, "female"),  # row 6 unparseable arrival, sex not allowed
            ("a6", None, "B", "2023-03-03 11:00", "2023-03-03 10:00", "U"),  # row 7 two fixable defects
        ],
        columns=ATT_COLS,
    )


def test_three_different_errors_are_reported_in_one_exception() -> None:
    with pytest.raises(ExtractValidationError) as info:
        check_extract(three_error_attendances(), "attendances")
    err = info.value
    assert isinstance(err, ValueError)
    message = str(err)
    assert message.startswith("attendances extract has 3 problem(s) to fix")
    assert "header is row 1, the first data row is row 2" in message
    assert "unparseable (column 'arrival', rows 3, 6)" in message
    assert "'01/03/2023 10:00', 'tomorrow'" in message
    assert "missing_value (column 'site', rows 4)" in message
    assert "not_allowed (column 'sex', rows 5, 6)" in message
    assert "['F', 'M', 'U']" in message
    # Fixable defects are mentioned but are not errors.
    assert "departure_before_arrival (1)" in message and "missing_patient_id (1)" in message
    problems = err.problems
    assert list(problems.columns) == PROBLEM_COLUMNS
    errors = problems[problems["severity"] == "error"]
    assert errors[["rule", "column", "n_rows", "rows"]].values.tolist() == [
        ["unparseable", "arrival", 2, "3, 6"],
        ["missing_value", "site", 1, "4"],
        ["not_allowed", "sex", 2, "5, 6"],
    ]


def test_validate_returns_the_table_without_raising() -> None:
    problems = validate_extract(three_error_attendances(), "attendances")
    assert list(problems["severity"]) == ["error", "error", "error", "fixable", "fixable"]
    fixable = problems[problems["severity"] == "fixable"].set_index("rule")
    assert fixable.loc["departure_before_arrival", "rows"] == "7"
    assert fixable.loc["missing_patient_id", "rows"] == "7"
    assert (
        "clean_extract: departure set to missing; row kept"
        in fixable.loc["departure_before_arrival", "message"]
    )
    with pytest.raises(ExtractValidationError):
        validate_extract(three_error_attendances(), "attendances", raise_on_error=True)


def test_clean_extract_gives_an_empty_problem_table() -> None:
    raw = three_error_attendances().iloc[[0]]
    problems = check_extract(raw, "attendances")
    assert problems.empty and list(problems.columns) == PROBLEM_COLUMNS


def test_missing_required_columns_are_named_with_a_mapping_hint() -> None:
    raw = three_error_attendances().rename(columns={"arrival": "Arrival"}).drop(columns="attendance_id")
    with pytest.raises(ExtractValidationError) as info:
        check_extract(raw, "attendances")
    message = str(info.value)
    assert "required column 'attendance_id' is missing" in message
    assert "did you mean 'Arrival'? map it with mapping={'Arrival': 'arrival'}" in message
    # Other problems are still reported alongside.
    assert "missing_value (column 'site', rows 4)" in message


def test_duplicate_keys_with_different_values_are_errors() -> None:
    raw = pd.DataFrame(
        {
            "spell_id": ["s1", "s2", "s1", "s3", "s3"],
            "patient_id": ["p1", "p2", "p1", "p3", "p3"],
            "site": ["A", "A", "A", "A", "A"],
            "admitted": ["2023-01-01", "2023-01-02", "2023-01-01", "2023-01-05", "2023-01-05"],
            "discharged": ["2023-01-03", None, "2023-01-04", "2023-01-06", "2023-01-06"],
        }
    )
    problems = validate_extract(raw, "spells").set_index("rule")
    # Rows 2 and 4 share s1 but differ; rows 5 and 6 are identical (an exact duplicate, fixable).
    assert problems.loc["duplicate_key", "rows"] == "2, 4"
    assert problems.loc["duplicate_key", "severity"] == "error"
    assert problems.loc["exact_duplicate", "rows"] == "6"
    assert problems.loc["exact_duplicate", "severity"] == "fixable"


def test_population_rules() -> None:
    raw = pd.DataFrame(
        {
            "site": ["A", "A", "A", "B", "B", "B"],
            "period": ["2023-01-01", "2023-02-15", "2023-03-01", "2023-01-01", "2023-01-01", "2023-02-01"],
            "population": [1000, 1000, 0, -4, 300, 310],
        }
    )
    problems = validate_extract(raw, "population")
    found = {r.rule: (r.column, r.n_rows, r.rows) for r in problems.itertuples()}
    assert found == {
        "duplicate_key": ("site, period", 2, "5, 6"),
        "non_positive_population": ("population", 2, "4, 5"),
        "period_not_month_start": ("period", 1, "3"),
    }


def test_cohort_rules() -> None:
    raw = pd.DataFrame(
        {
            "patient_id": ["p1", "p2", "p2", None],
            "site": ["A", "A", "B", "A"],
            "pd_flag": ["Y", "maybe", "N", "Y"],
            "index_date": ["2023-01-10", "2023-02-01", "2023-03-01", "2023-04-01"],
            "end_date": ["2023-01-01", None, None, None],
        }
    )
    problems = validate_extract(raw, "cohort")
    found = {(r.rule, r.column): r.rows for r in problems.itertuples()}
    assert found == {
        ("unparseable", "pd_flag"): "3",
        ("missing_value", "patient_id"): "5",
        ("duplicate_key", "patient_id"): "3, 4",
        ("end_before_index", "end_date"): "2",
    }


def test_rom_and_staff_rules() -> None:
    rom = pd.DataFrame(
        {
            "patient_id": ["p1", "p1", "p2"],
            "occasion": ["baseline", "baseline", "baseline"],
            "session": ["0", "zero", "0"],
            "date": ["2023-01-01", "2023-01-08", "2023-01-01"],
            "phq9_1": ["2", "3", "two"],
            "phq9_2": ["9", "1", "1"],  # out of range, but item ranges are checked by the ROM module
        }
    )
    found = {(r.rule, r.column): r.rows for r in validate_extract(rom, "rom_responses").itertuples()}
    assert found == {
        ("unparseable", "session"): "3",
        ("unparseable", "phq9_1"): "4",
        ("duplicate_key", "patient_id, occasion"): "2, 3",
    }
    staff = pd.DataFrame(
        {"staff_id": ["s1", "s2"], "wave": ["pre", "during"], "date": ["2023-01-01", "2023-01-01"]}
    )
    problems = validate_extract(staff, "staff_survey")
    assert problems[["rule", "column", "rows"]].values.tolist() == [["not_allowed", "wave", "3"]]


def test_fixable_counts_match_clean_with_settings() -> None:
    raw = pd.DataFrame(
        {
            "spell_id": ["s1", "s2", "s3"],
            "patient_id": ["p1", "p2", "p3"],
            "site": ["A", "Z", "A"],
            "admitted": ["2023-01-01", "2023-01-02", "2020-01-01"],
            "discharged": ["2023-01-03", None, None],
        }
    )
    problems = validate_extract(
        raw, "spells", sites=["A"], window=("2022-01-01", "2024-01-01"), max_open_days=365
    )
    found = {r.rule: r.rows for r in problems.itertuples()}
    # Row 3 (site Z) is excluded as unknown before its open spell could be counted.
    assert found == {"unknown_site": "3", "open_spell": "4", "stale_open_spell": "4"}


def test_validate_uses_row_numbers_recorded_by_read_extract() -> None:
    raw = pd.DataFrame(
        {
            "site": ["A", "A", "A"],
            "period": ["2023-01-01", "2023-02-01", "bad"],
            "population": ["1", "2", "3"],
        }
    )
    df = read_extract(raw, "population")
    subset = df.iloc[[1, 2]]  # filtering keeps the original row numbers
    problems = validate_extract(subset, "population")
    assert problems[["rule", "column", "rows"]].values.tolist() == [["unparseable", "period", "4"]]
    assert "'bad'" in problems["message"].iloc[0]


def test_validate_does_not_mutate_input() -> None:
    raw = three_error_attendances()
    before = raw.copy()
    validate_extract(raw, "attendances", sites=["A"], window=("2023-01-01", "2024-01-01"))
    pd.testing.assert_frame_equal(raw, before)


def test_row_list_is_capped_at_five() -> None:
    raw = pd.DataFrame(
        {"site": ["A"] * 8, "period": [f"2023-{m:02d}-02" for m in range(1, 9)], "population": 5}
    )
    problems = validate_extract(raw, "population")
    assert problems.loc[0, "n_rows"] == 8
    assert problems.loc[0, "rows"] == "2, 3, 4, 5, 6, ..."


def test_repeated_column_names_are_rejected_clearly() -> None:
    raw = pd.DataFrame([["A", "B", "2023-01-01", 5]], columns=["site", "site", "period", "population"])
    with pytest.raises(ColumnMappingError, match=r"several columns called \['site'\]"):
        validate_extract(raw, "population")


def test_concatenated_read_outputs_keep_their_unparseable_values() -> None:
    first = read_extract(
        pd.DataFrame({"site": ["A", "B"], "period": ["x", "2023-01-01"], "population": [1, 2]}), "population"
    )
    second = read_extract(
        pd.DataFrame({"site": ["C", "D"], "period": ["y", "z"], "population": [1, 2]}), "population"
    )
    both = pd.concat([first, second], ignore_index=True)
    problems = validate_extract(both, "population")
    assert problems[["rule", "column", "n_rows", "rows"]].values.tolist() == [
        ["unparseable", "period", 3, "2, 2, 3"]
    ]
    assert "'x', 'y', 'z'" in problems.loc[0, "message"]
