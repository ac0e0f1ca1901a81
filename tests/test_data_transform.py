"""Column-level fixes: joined date and time, value maps, site aliases, where filters — each change counted."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from evaltoolkit.data import (
    apply_site_aliases,
    filter_rows,
    join_date_time,
    map_values,
    quality_table,
)
from evaltoolkit.data.rules import Finding
from evaltoolkit.errors import ColumnMappingError, EvalToolkitError

TS = pd.Timestamp


def by_rule(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    return {(f.rule, f.column): f for f in findings}


# ------------------------------------------------------------------------------------------ join_date_time
def test_join_date_time_reads_every_time_form() -> None:
    raw = pd.DataFrame(
        {
            "arr_date": ["03/04/2023"] * 7,
            "arr_time": ["09:30", "9:05", "14:15:30", "1415", 930, 0.75, dt.time(23, 59)],
            "source_row": range(2, 9),
        }
    )
    before = raw.copy()
    out, findings = join_date_time(raw, "arrival", "arr_date", "arr_time", date_format="%d/%m/%Y")
    day = TS("2023-04-03")
    assert out["arrival"].tolist() == [
        day + pd.Timedelta(hours=9, minutes=30),
        day + pd.Timedelta(hours=9, minutes=5),
        day + pd.Timedelta(hours=14, minutes=15, seconds=30),
        day + pd.Timedelta(hours=14, minutes=15),
        day + pd.Timedelta(hours=9, minutes=30),  # 930 as a whole number: HHMM
        day + pd.Timedelta(hours=18),  # 0.75 of a day
        day + pd.Timedelta(hours=23, minutes=59),
    ]
    pd.testing.assert_frame_equal(raw, before)  # input not modified
    assert list(out.columns) == ["arr_date", "arr_time", "source_row", "arrival"]
    f = by_rule(findings)[("date_time_joined", "arrival")]
    assert (f.n_rows, f.n_excluded) == (0, 0)
    assert "7 rows with a readable date, 0 of them with no time" in f.detail


def test_missing_time_becomes_midnight_and_is_counted() -> None:
    raw = pd.DataFrame({"d": ["2023-04-03", "2023-04-04", "2023-04-05"], "t": ["10:00", None, " "]})
    out, findings = join_date_time(raw, "admitted", "d", "t")
    assert out["admitted"].tolist() == [TS("2023-04-03 10:00"), TS("2023-04-04"), TS("2023-04-05")]
    f = by_rule(findings)[("date_time_joined", "admitted")]
    assert (f.n_rows, f.rows, f.n_excluded) == (2, "3, 4", 0)
    assert "midnight" in f.action and "row kept" in f.action


def test_excel_time_only_cells_and_excel_serial_dates() -> None:
    raw = pd.DataFrame(
        {
            "d": [45019.0, 45020.0],  # 45019 = 2023-04-03 (44927 = 2023-01-01, + 92 days)
            "t": [dt.datetime(1899, 12, 30, 8, 15), dt.datetime(1900, 1, 1, 16, 45)],
        }
    )
    out, _ = join_date_time(raw, "arrival", "d", "t", date_format="excel")
    assert out["arrival"].tolist() == [TS("2023-04-03 08:15"), TS("2023-04-04 16:45")]


def test_unreadable_dates_and_times_are_errors_with_rows_and_examples_and_rows_are_kept() -> None:
    raw = pd.DataFrame(
        {
            "d": ["2023-04-03", "03/04/2023", "2023-04-05", None],
            "t": ["10:00", "11:00", "25:61", "12:00"],
        }
    )
    out, findings = join_date_time(raw, "arrival", "d", "t")
    assert len(out) == 4  # nothing dropped
    assert out["arrival"].isna().tolist() == [False, True, True, True]
    found = by_rule(findings)
    bad_date = found[("unparseable", "d")]
    assert (bad_date.severity, bad_date.n_rows, bad_date.rows, bad_date.n_excluded) == ("error", 1, "3", 0)
    assert "Row 3: '03/04/2023'" in bad_date.message and "3 April 2023 or 4 March 2023" in bad_date.message
    bad_time = found[("unparseable", "t")]
    assert (bad_time.severity, bad_time.n_rows, bad_time.rows) == ("error", 1, "4")
    assert "'25:61'" in bad_time.message and "could not be read as times of day" in bad_time.message
    assert "1 row with no date left missing" in found[("date_time_joined", "arrival")].detail


def test_time_format_layout() -> None:
    raw = pd.DataFrame({"d": ["2023-04-03"], "t": ["10.45"]})
    out, _ = join_date_time(raw, "arrival", "d", "t", time_format="%H.%M")
    assert out["arrival"].tolist() == [TS("2023-04-03 10:45")]
    with pytest.raises(EvalToolkitError, match=r"time_format 'HH.MM' is not a strftime layout"):
        join_date_time(raw, "arrival", "d", "t", time_format="HH.MM")


def test_join_date_time_unknown_column_names_the_columns_there_are() -> None:
    raw = pd.DataFrame({"d": ["2023-04-03"], "time": ["10:00"]})
    with pytest.raises(ColumnMappingError, match=r"'t' is not in the extract; its columns are: d, time"):
        join_date_time(raw, "arrival", "d", "t")


# ------------------------------------------------------------------------------------------ map_values
def test_map_values_yes_no_counts_changes_and_lists_values_not_in_the_map() -> None:
    raw = pd.DataFrame({"pd_flag": ["Y", "N", "y", "n", "Y", "maybe", None, "?"]})
    before = raw.copy()
    out, [f] = map_values(raw, "pd_flag", {"Y": True, "N": False})
    assert out["pd_flag"].tolist()[:6] == [True, False, True, False, True, "maybe"]
    assert pd.isna(out["pd_flag"].iloc[6]) and out["pd_flag"].iloc[7] == "?"
    pd.testing.assert_frame_equal(raw, before)
    assert (f.rule, f.column, f.n_rows, f.n_excluded, f.rows) == ("value_map", "pd_flag", 5, 0, "7, 9")
    assert "'Y' → True (3 rows)" in f.detail and "'N' → False (2 rows)" in f.detail
    assert "not in the map, kept as they are: 'maybe' (1 row), '?' (1 row)" in f.detail


def test_map_values_all_mapped_gives_a_boolean_column() -> None:
    out, [f] = map_values(pd.DataFrame({"f": ["Y", "n", None]}), "f", {"y": True, "N": False})
    assert str(out["f"].dtype) == "boolean"
    assert out["f"].tolist() == [True, False, pd.NA]
    assert f.rows == ""


def test_map_values_local_codes_and_unchanged_values_are_not_counted() -> None:
    raw = pd.DataFrame({"site": ["RK9MH", "A", 101.0, "B"]})
    out, [f] = map_values(raw, "site", {"RK9MH": "A", "A": "A", 101: "C"}, target="site_code")
    assert out["site_code"].tolist() == ["A", "A", "C", "B"]
    assert out["site"].tolist() == ["RK9MH", "A", 101.0, "B"]  # source column kept
    assert f.n_rows == 2  # 'A' → 'A' is not a change
    assert "'B' (1 row)" in f.detail


def test_map_values_case_sensitive_and_conflicting_keys() -> None:
    raw = pd.DataFrame({"x": ["a", "A"]})
    out, _ = map_values(raw, "x", {"A": 1}, ignore_case=False)
    assert out["x"].tolist() == ["a", 1]
    with pytest.raises(EvalToolkitError, match=r"keys 'Y' and 'y'.*different values"):
        map_values(raw, "x", {"Y": True, "y": False})
    with pytest.raises(EvalToolkitError, match=r"map_values\('x'\) needs a non-empty mapping"):
        map_values(raw, "x", {})
    with pytest.raises(ColumnMappingError, match=r"'flag' is not in the extract; its columns are: x"):
        map_values(raw, "flag", {"Y": True})


# ------------------------------------------------------------------------------------------ site aliases
def test_site_aliases_recode_and_count_per_code() -> None:
    raw = pd.DataFrame({"site": ["RK9MH", "RK9IP", "RK9MH", "B", "ZZZ"], "source_row": [2, 3, 5, 6, 7]})
    out, [f] = apply_site_aliases(raw, {"A": ["RK9MH", "RK9IP"], "B": "RX1"})
    assert out["site"].tolist() == ["A", "A", "A", "B", "ZZZ"]  # unknown codes left for unknown_site
    assert raw["site"].tolist()[0] == "RK9MH"
    assert (f.rule, f.n_rows, f.n_excluded, f.rows) == ("site_alias", 3, 0, "2, 3, 5")
    assert "RK9MH → A (2 rows), RK9IP → A (1 row)" in f.detail
    assert "aliases not found: RX1 (for B)" in f.detail


def test_a_local_code_claimed_by_two_sites_is_an_error() -> None:
    raw = pd.DataFrame({"site": ["X1"]})
    with pytest.raises(EvalToolkitError, match=r"local code 'X1' is listed for two sites, 'A' and 'B'"):
        apply_site_aliases(raw, {"A": ["X1"], "B": ["X1"]})
    with pytest.raises(EvalToolkitError, match=r"local code 'B' \(listed for 'A'\) is itself a site code"):
        apply_site_aliases(raw, {"A": ["B"], "B": []})
    with pytest.raises(ColumnMappingError, match=r"'unit' is not in the extract"):
        apply_site_aliases(raw, {"A": ["X1"]}, column="unit")


# ------------------------------------------------------------------------------------------ where filters
def test_filter_rows_counts_exclusions_so_input_equals_output_plus_excluded() -> None:
    raw = pd.DataFrame(
        {
            "unit": ["ED", "ED", "MIU", None, "ED"],
            "pd_flag": ["Y", "N", "Y", "Y", "Y"],
            "source_row": [2, 3, 4, 5, 6],
        }
    )
    out, [f] = filter_rows(raw, {"unit": ["ED", "UCC"], "pd_flag": "Y"})
    assert out["source_row"].tolist() == [2, 6]
    assert (f.rule, f.n_rows, f.n_excluded, f.rows) == ("where_filter", 3, 3, "3, 4, 5")
    assert len(raw) == len(out) + f.n_excluded
    assert "unit in ['ED', 'UCC'] and pd_flag is 'Y'" in f.detail
    assert "2 rows with another value, 1 row with no value" in f.detail
    table = quality_table([f], "attendances")
    assert table[["rule", "n_excluded"]].values.tolist() == [["where_filter", 3]]


def test_filter_rows_numbers_match_their_text() -> None:
    raw = pd.DataFrame({"age_band": [1.0, 2.0, 1.0]})
    out, [f] = filter_rows(raw, {"age_band": 1})
    assert len(out) == 2 and f.n_excluded == 1


def test_filter_rows_unknown_column_names_it_and_the_columns_there_are() -> None:
    raw = pd.DataFrame({"unit": ["ED"], "source_row": [2]})
    with pytest.raises(
        ColumnMappingError, match=r"where filter: column 'unti' is not in the extract; its columns are: unit$"
    ):
        filter_rows(raw, {"unti": "ED"})
    with pytest.raises(EvalToolkitError, match=r"where filter on 'unit' has an empty list"):
        filter_rows(raw, {"unit": []})
    with pytest.raises(EvalToolkitError, match=r"where needs at least one condition"):
        filter_rows(raw, {})


def test_bad_arguments_are_toolkit_errors() -> None:
    raw = pd.DataFrame({"c": ["a", "b"]})
    with pytest.raises(EvalToolkitError, match=r"where filter on 'c': give a value or a list of values"):
        filter_rows(raw, {"c": {"x": 1}})
    with pytest.raises(EvalToolkitError, match=r"join_date_time\('arrival'\) needs a pandas DataFrame"):
        join_date_time([1, 2], "arrival", "d", "t")  # type: ignore[arg-type]
    with pytest.raises(EvalToolkitError, match=r"timezone for|'Mars/Olympus' is not a known time-zone name"):
        join_date_time(
            pd.DataFrame({"d": ["2023-01-01"], "t": ["10:00"]}), "arrival", "d", "t", timezone="Mars/Olympus"
        )
