"""Tests for reading extracts: file formats, column mapping, type parsing, row numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evaltoolkit.data import (
    apply_mapping,
    clean_extract,
    load_mapping,
    read_extract,
    read_sites,
    suggest_mapping,
    validate_extract,
)
from evaltoolkit.errors import ColumnMappingError, ExtractValidationError

# A raw attendances extract with the user's own column names and some fixable defects.
USER_ATTENDANCES = pd.DataFrame(
    {
        "EC_Ident": ["001", "002", "002", "003", "004", "005"],
        "Der_Pseudo_NHS_Number": ["P01", "P02", "P02", None, "P04", "P05"],
        "Site Code": ["A", "A", "A", "B", "A", "B"],
        "Arrival": [
            "2023-01-05 10:00",
            "2023-02-01 09:30",
            "2023-02-01 09:30",
            "2023-03-01 00:15",
            "2022-12-01 08:00",
            "2023-04-10 23:50",
        ],
        "Departure": [
            "2023-01-05 14:00",
            "2023-02-01 08:00",
            "2023-02-01 08:00",
            None,
            "2022-12-01 09:00",
            "2023-04-11 03:00",
        ],
        "Sex": ["f", "M", "M", "U", "F", "m"],
        "PD": ["Y", "n", "n", "1", "0", "true"],
        "Triage": ["2", "3", "3", "1", "2", "4"],
    }
)
MAPPING = {
    "EC_Ident": "attendance_id",
    "Der_Pseudo_NHS_Number": "patient_id",
    "Site Code": "site",
    "Arrival": "arrival",
    "Departure": "departure",
    "Sex": "sex",
    "PD": "pd_flag",
}
WINDOW = ("2023-01-01", "2024-01-01")


def test_mapping_renames_keeps_extras_and_parses_types() -> None:
    df = read_extract(USER_ATTENDANCES, "attendances", mapping=MAPPING)
    assert list(df.columns) == [*MAPPING.values(), "Triage", "source_row"]
    assert df["attendance_id"].tolist() == ["001", "002", "002", "003", "004", "005"]  # leading zeros kept
    assert df["arrival"].dtype == "datetime64[us]"
    assert df["arrival"].iloc[3] == pd.Timestamp(2023, 3, 1, 0, 15)
    assert df["sex"].tolist() == ["F", "M", "M", "U", "F", "M"]
    assert df["pd_flag"].tolist() == [True, False, False, True, False, True]
    assert str(df["pd_flag"].dtype) == "boolean"
    assert df["Triage"].tolist() == ["2", "3", "3", "1", "2", "4"]  # extra column untouched
    assert df["source_row"].tolist() == [2, 3, 4, 5, 6, 7]


def test_read_extract_does_not_mutate_its_input() -> None:
    raw = USER_ATTENDANCES.copy()
    raw.attrs["note"] = "mine"
    read_extract(raw, "attendances", mapping=MAPPING)
    pd.testing.assert_frame_equal(raw, USER_ATTENDANCES)
    assert raw.attrs == {"note": "mine"}


def test_mapping_mistakes_are_all_listed() -> None:
    bad = {"EC_Ident": "attendance_id", "Arival": "arrival", "Site Code": "sitee", "Sex": "attendance_id"}
    with pytest.raises(ColumnMappingError) as info:
        read_extract(USER_ATTENDANCES, "attendances", mapping=bad)
    message = str(info.value)
    assert "'Arival', which is not in the extract (did you mean 'Arrival'?)" in message
    assert "'sitee', which is not a canonical attendances column (did you mean 'site'?)" in message
    assert "would all be called 'attendance_id'" in message
    assert isinstance(info.value, ValueError)


def test_mapping_from_json_and_yaml_files_keyed_by_kind(tmp_path: Path) -> None:
    json_path = tmp_path / "mapping.json"
    json_path.write_text(json.dumps({"attendances": MAPPING, "spells": {"ADMIDATE": "admitted"}}))
    yaml_path = tmp_path / "mapping.yml"
    yaml_path.write_text("attendances:\n" + "".join(f"  {k!r}: {v}\n" for k, v in MAPPING.items()))
    from_dict = read_extract(USER_ATTENDANCES, "attendances", mapping=MAPPING)
    for path in (json_path, yaml_path):
        pd.testing.assert_frame_equal(read_extract(USER_ATTENDANCES, "attendances", mapping=path), from_dict)
    assert load_mapping(json_path, "spells") == {"ADMIDATE": "admitted"}
    assert load_mapping(json_path, "population") == {}


def test_suggest_and_apply_mapping() -> None:
    suggested = suggest_mapping(list(USER_ATTENDANCES.columns), "attendances")
    # Only names equal to canonical ones ignoring case/spaces/underscores: "Site Code" is not "site".
    assert suggested == {"Arrival": "arrival", "Departure": "departure", "Sex": "sex"}
    out = apply_mapping(USER_ATTENDANCES, "attendances", suggested)
    assert {"arrival", "departure", "sex", "Site Code"} <= set(out.columns)


def write_all_formats(raw: pd.DataFrame, folder: Path) -> list[Path]:
    paths = [folder / "x.csv", folder / "x.xlsx", folder / "x.parquet"]
    raw.to_csv(paths[0], index=False)
    raw.to_excel(paths[1], index=False)
    raw.to_parquet(paths[2], index=False)
    return paths


def test_csv_xlsx_parquet_round_trips_give_identical_cleaned_data(tmp_path: Path) -> None:
    results = []
    for path in write_all_formats(USER_ATTENDANCES, tmp_path):
        df = read_extract(path, "attendances", mapping=MAPPING)
        results.append(clean_extract(df, "attendances", window=WINDOW))
    from_frame = clean_extract(
        read_extract(USER_ATTENDANCES, "attendances", mapping=MAPPING), "attendances", window=WINDOW
    )
    for result in results:
        pd.testing.assert_frame_equal(result.data, from_frame.data)
        pd.testing.assert_frame_equal(result.quality, from_frame.quality)
    # By hand: row 4 duplicates row 3; row 6 arrives before the window; rows 3 departs before arrival.
    assert from_frame.data["source_row"].tolist() == [2, 3, 5, 7]
    assert from_frame.data["departure"].isna().tolist() == [False, True, True, False]


def test_xlsx_with_native_dates_and_numbers_matches_csv(tmp_path: Path) -> None:
    typed = pd.DataFrame(
        {
            "site": ["A", "A", "B"],
            "period": pd.to_datetime(["2023-01-01", "2023-02-01", "2023-01-01"]),
            "population": [1200, 1210, 800],
        }
    )
    typed.to_excel(tmp_path / "p.xlsx", index=False)
    typed.to_csv(tmp_path / "p.csv", index=False)
    typed.to_parquet(tmp_path / "p.parquet", index=False)
    frames = [read_extract(tmp_path / f"p.{ext}", "population") for ext in ("xlsx", "csv", "parquet")]
    for df in frames[1:]:
        pd.testing.assert_frame_equal(df, frames[0])
    assert frames[0]["population"].tolist() == [1200, 1210, 800]
    expected_periods = pd.to_datetime(["2023-01-01", "2023-02-01", "2023-01-01"]).tolist()
    assert frames[0]["period"].tolist() == expected_periods


def test_xlsx_sheet_selection(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="notes", index=False)
        pd.DataFrame({"site": ["A"], "period": ["2023-01-01"], "population": [5]}).to_excel(
            writer, sheet_name="pop", index=False
        )
    df = read_extract(path, "population", sheet="pop")
    assert df["population"].tolist() == [5]
    with pytest.raises(ValueError, match=r"sheet= applies to \.xlsx files only"):
        read_extract(USER_ATTENDANCES, "attendances", sheet="pop")


def test_csv_row_numbers_match_file_lines_even_with_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "spells.csv"
    lines = [
        "spell_id,patient_id,site,admitted,discharged",  # line 1
        "s1,p1,A,2023-01-01,2023-01-03",  # line 2
        "",  # line 3 (blank)
        "s2,p2,A,2023-13-01,",  # line 4: month 13
        "s3,p3,A,2023-02-01,yesterday",  # line 5
    ]
    path.write_text("\n".join(lines) + "\n")
    df = read_extract(path, "spells")
    assert df["source_row"].tolist() == [2, 4, 5]
    problems = validate_extract(df, "spells")
    table = problems.set_index("column")
    assert table.loc["admitted", "rows"] == "4"
    assert table.loc["discharged", "rows"] == "5"
    assert "'2023-13-01'" in table.loc["admitted", "message"]
    assert "'yesterday'" in table.loc["discharged", "message"]


def test_unparseable_values_become_problems_not_tracebacks() -> None:
    raw = pd.DataFrame(
        {
            "site": ["A", "A", "A", "B"],
            "period": ["2023-01-01", "31/02/2023", "2023-03-01", "2023-01-01"],
            "population": ["100", "100", "12.5", "lots"],
        }
    )
    df = read_extract(raw, "population")  # no exception here
    assert df["period"].isna().tolist() == [False, True, False, False]
    problems = validate_extract(df, "population")
    found = {(r.rule, r.column): (r.n_rows, r.rows) for r in problems.itertuples()}
    assert found == {("unparseable", "period"): (1, "3"), ("unparseable", "population"): (2, "4, 5")}
    with pytest.raises(
        ExtractValidationError, match=r"could not be read as whole numbers, e\.g\. '12\.5', 'lots'"
    ):
        clean_extract(df, "population")


def test_unparseable_values_fixed_after_reading_are_not_reported() -> None:
    raw = pd.DataFrame({"site": ["A"], "period": ["Jan 2023"], "population": ["10"]})
    df = read_extract(raw, "population")
    assert len(validate_extract(df, "population")) == 1
    df.loc[0, "period"] = pd.Timestamp("2023-01-01")
    assert validate_extract(df, "population").empty


def test_date_format_option() -> None:
    raw = pd.DataFrame({"site": ["A"], "period": ["01/02/2023"], "population": ["10"]})
    df = read_extract(raw, "population", date_format="%d/%m/%Y")
    assert df["period"].iloc[0] == pd.Timestamp("2023-02-01")


def test_time_zone_offsets_are_refused_not_dropped_without_a_timezone() -> None:
    raw = pd.DataFrame(
        {
            "attendance_id": ["a", "b"],
            "patient_id": ["p", "q"],
            "site": ["A", "A"],
            "arrival": ["2023-07-01T10:00:00+01:00", "2023-01-01T10:00:00+00:00"],
            "departure": [None, None],
        }
    )
    df = read_extract(raw, "attendances")
    # Dropping the offsets would silently keep wall times from different zones; they are refused instead.
    assert df["arrival"].isna().all()
    problems = validate_extract(df, "attendances")
    row = problems[problems["rule"] == "unparseable"].iloc[0]
    assert (row["column"], row["n_rows"], row["rows"]) == ("arrival", 2, "2, 3")
    assert "time-zone offset" in row["message"] and "data.sources.attendances.timezone" in row["message"]


def test_read_sites(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("site,site_name,go_live,implements\nA,Alpha,2021-07-01,Y\nB,Beta,,N\n")
    sites = read_sites(path)
    assert sites["site"].tolist() == ["A", "B"]
    assert sites["go_live"].iloc[0] == pd.Timestamp("2021-07-01") and pd.isna(sites["go_live"].iloc[1])
    assert sites["implements"].tolist() == [True, False]
    path.write_text("site,go_live\nA,2021-07-01\nA,soon\n")
    with pytest.raises(ExtractValidationError) as info:
        read_sites(path)
    assert "go_live: 1 value(s) unreadable (rows 3)" in str(info.value)
    assert "site: duplicated codes in rows 2, 3" in str(info.value)


def test_unsupported_file_type(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("a")
    with pytest.raises(ValueError, match=r"expected a \.csv, \.xlsx or \.parquet file"):
        read_extract(path, "spells")
    with pytest.raises(FileNotFoundError):
        read_extract(tmp_path / "missing.csv", "spells")


def test_unparseable_value_in_a_nullable_column_is_never_lost() -> None:
    raw = pd.DataFrame(
        {
            "attendance_id": ["a1", "a2", "a3"],
            "patient_id": ["p1", "p2", "p3"],
            "site": ["A", "A", "A"],
            "arrival": ["2023-01-05 10:00", "2023-01-06 10:00", "2023-01-07 10:00"],
            "departure": [
                "2023-01-05 12:00",
                "noon",
                None,
            ],  # row 3: unreadable, though departure may be empty
        }
    )
    df = read_extract(raw, "attendances")
    assert pd.isna(df.loc[1, "departure"])
    # Filtering and concatenation keep the record of the original text.
    combined = pd.concat([df.iloc[[0]], df.iloc[[1, 2]]], ignore_index=True)
    problems = validate_extract(combined, "attendances")
    assert problems[["rule", "column", "rows"]].values.tolist() == [["unparseable", "departure", "3"]]
    assert "'noon'" in problems.loc[0, "message"]
    with pytest.raises(ExtractValidationError, match="departure"):
        clean_extract(combined, "attendances")
    result = clean_extract(combined, "attendances", on_invalid="exclude")
    assert result.data["source_row"].tolist() == [2, 4]
    assert "source_unparseable" not in result.data.columns
