"""Dates are never guessed: one layout per column, both readings of dd/mm text, offsets converted or refused.

Expected values are worked out by hand in the comments (calendar arithmetic, Excel serials, UK clocks).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from typer.testing import CliRunner

from evaltoolkit.cli import app
from evaltoolkit.data import (
    parse_column,
    parse_date,
    parse_frame,
    parse_window,
    read_extract,
    validate_extract,
)
from evaltoolkit.errors import ColumnMappingError, EvalToolkitError, ExtractValidationError, SeriesInputError
from evaltoolkit.its import build_its_design
from evaltoolkit.its.errors import ITSInputError
from evaltoolkit.prepost import mirror_windows
from evaltoolkit.prepost.errors import PrePostInputError
from evaltoolkit.protocol import DataSource, validate_protocol
from evaltoolkit.schemas import Column, get_schema
from evaltoolkit.series import count_events, patient_windows

ARRIVAL = Column("arrival", "datetime")
TS = pd.Timestamp


def attendances(arrivals: list[object], departures: list[object] | None = None) -> pd.DataFrame:
    n = len(arrivals)
    return pd.DataFrame(
        {
            "attendance_id": [f"a{i}" for i in range(n)],
            "patient_id": [f"p{i}" for i in range(n)],
            "site": ["A"] * n,
            "arrival": arrivals,
            "departure": departures if departures is not None else [None] * n,
        }
    )


def unparseable(problems: pd.DataFrame, column: str) -> pd.DataFrame:
    return problems[(problems["rule"] == "unparseable") & (problems["column"] == column)]


# ------------------------------------------------------------------------------------------ layouts
def test_day_first_layout_reads_every_row_by_that_layout() -> None:
    raw = pd.Series(["03/04/2023 10:05", "31/12/2022 23:59", "1/2/2023 00:00"])
    values = parse_column(raw, ARRIVAL, date_format="%d/%m/%Y %H:%M").values
    # 3 April (not 4 March), 31 December, 1 February
    assert values.tolist() == [TS("2023-04-03 10:05"), TS("2022-12-31 23:59"), TS("2023-02-01 00:00")]


def test_dd_mm_text_without_a_layout_is_not_parsed_and_the_message_gives_both_readings_and_the_fix() -> None:
    raw = attendances(["2023-01-05 10:00", "03/04/2023 10:00", "04/05/2023 11:00"])
    parsed = parse_column(raw["arrival"], ARRIVAL)
    assert parsed.values.isna().tolist() == [False, True, True]
    assert parsed.bad.tolist() == [False, True, True]
    problem = unparseable(validate_extract(raw, "attendances"), "arrival")
    assert problem[["n_rows", "rows"]].values.tolist() == [[2, "3, 4"]]
    message = problem["message"].iloc[0]
    assert "'arrival'" in message
    assert "Row 3: '03/04/2023 10:00'" in message  # the example and its spreadsheet row
    assert "3 April 2023 or 4 March 2023" in message  # the two readings
    assert "day/month order is never guessed" in message
    assert "data.sources.attendances.date_format" in message
    assert "CLI option --date-format '%d/%m/%Y %H:%M'" in message
    assert "date_format='%d/%m/%Y %H:%M'" in message
    assert "mixes layouts" in message  # the first row was ISO 8601


def test_following_the_advice_in_the_message_fixes_the_column() -> None:
    raw = attendances(["03/04/2023 10:00", "04/05/2023 11:00"])
    message = unparseable(validate_extract(raw, "attendances"), "arrival")["message"].iloc[0]
    assert "date_format='%d/%m/%Y %H:%M'" in message
    # The advice names a Python keyword that exists and a protocol key that exists:
    assert "data.sources.attendances.date_format: '%d/%m/%Y %H:%M'" in message
    assert "date_format" in DataSource.model_fields
    problems = validate_extract(raw, "attendances", date_format="%d/%m/%Y %H:%M")
    assert unparseable(problems, "arrival").empty
    parsed, _, _ = parse_frame(raw, get_schema("attendances"), date_format="%d/%m/%Y %H:%M")
    assert parsed["arrival"].tolist() == [TS("2023-04-03 10:00"), TS("2023-05-04 11:00")]


def test_dd_mm_text_with_only_one_valid_reading_is_still_not_guessed() -> None:
    raw = attendances(["25/12/2023"])
    message = unparseable(validate_extract(raw, "attendances"), "arrival")["message"].iloc[0]
    assert "can only be 25 December 2023 (day first)" in message
    assert "date_format: '%d/%m/%Y'" in message


def test_month_first_text_gets_a_month_first_suggestion() -> None:
    raw = attendances(["12/25/2023", "01/02/2023"])
    message = unparseable(validate_extract(raw, "attendances"), "arrival")["message"].iloc[0]
    assert "'%m/%d/%Y'" in message  # 25 cannot be a month, so the layout suggested is month first


def test_a_batch_in_another_layout_is_reported_with_its_count_and_an_example() -> None:
    dd_mm = [f"{d:02d}/03/2023 10:00" for d in range(1, 29)] * 30  # 840 rows, day first
    iso = ["2023-04-03 09:00"] * 120  # 120 rows in ISO 8601
    raw = attendances(dd_mm + iso)
    problems = validate_extract(raw, "attendances", date_format="%d/%m/%Y %H:%M")
    problem = unparseable(problems, "arrival")
    assert problem["n_rows"].tolist() == [120]
    message = problem["message"].iloc[0]
    assert message.startswith("120 rows in 'arrival' could not be read as dates")
    assert "Row 842: '2023-04-03 09:00'" in message  # first ISO row: position 840 → spreadsheet row 842
    assert "does not match the column's date format '%d/%m/%Y %H:%M'" in message
    assert "it is ISO 8601" in message
    parsed, bad, _ = parse_frame(raw, get_schema("attendances"), date_format="%d/%m/%Y %H:%M")
    assert int(bad["arrival"].sum()) == 120 and parsed["arrival"].iloc[840:].isna().all()


def test_without_a_layout_the_dd_mm_majority_is_reported_as_mixing_layouts() -> None:
    raw = attendances(["03/04/2023"] * 5 + ["2023-04-03"] * 2)
    problem = unparseable(validate_extract(raw, "attendances"), "arrival")
    assert problem["n_rows"].tolist() == [5]
    assert "while 2 other rows of the column were read" in problem["message"].iloc[0]


def test_per_column_layouts() -> None:
    raw = attendances(["03/04/2023 10:00"], ["2023-04-03 12:30"])
    fmt = {"arrival": "%d/%m/%Y %H:%M"}  # departure stays ISO 8601
    parsed, bad, _ = parse_frame(raw, get_schema("attendances"), date_format=fmt)
    assert parsed[["arrival", "departure"]].iloc[0].tolist() == [
        TS("2023-04-03 10:00"),
        TS("2023-04-03 12:30"),
    ]
    assert not bad.to_numpy().any()
    assert unparseable(validate_extract(raw, "attendances", date_format=fmt), "arrival").empty


def test_per_column_layout_for_an_unknown_column_names_it_and_the_date_columns() -> None:
    raw = attendances(["2023-04-03"])
    with pytest.raises(ColumnMappingError, match=r"\['arival'\].*date columns: arrival, departure"):
        parse_frame(raw, get_schema("attendances"), date_format={"arival": "%d/%m/%Y"})


def test_a_layout_written_in_words_is_refused_with_the_strftime_spelling() -> None:
    with pytest.raises(
        EvalToolkitError, match=r"'dd/mm/yyyy HH:MM' is not a strftime layout.*'%d/%m/%Y %H:%M'"
    ):
        parse_column(pd.Series(["03/04/2023 10:00"]), ARRIVAL, date_format="dd/mm/yyyy HH:MM")


# ------------------------------------------------------------------------------------------ Excel serials
def test_excel_serial_dates_1900_system() -> None:
    # 44927 = 2023-01-01 (day 0 = 1899-12-30); .75 of a day = 18:00; 61 = 1900-03-01; 60 is Excel's
    # phantom 29 February 1900 and is refused.
    raw = pd.Series([44927, 44927.75, 61, 60], dtype="float64")
    parsed = parse_column(raw, ARRIVAL, date_format="excel")
    assert parsed.values.tolist()[:3] == [TS("2023-01-01"), TS("2023-01-01 18:00"), TS("1900-03-01")]
    assert parsed.bad.tolist() == [False, False, False, True]


def test_excel_layout_passes_native_datetimes_and_reads_serials_in_text() -> None:
    raw = pd.Series([dt.datetime(2023, 5, 1, 9, 30), "45047.5", "2023-05-01"], dtype=object)
    parsed = parse_column(raw, ARRIVAL, date_format="excel")
    # 45047 = 2023-05-01 (44927 + 120 days: Jan 31 + Feb 28 + Mar 31 + Apr 30 = 120)
    assert parsed.values.tolist()[:2] == [TS("2023-05-01 09:30"), TS("2023-05-01 12:00")]
    assert parsed.bad.tolist() == [False, False, True]  # ISO text in an 'excel' column is another layout


def test_numbers_are_not_dates_unless_the_layout_is_excel() -> None:
    raw = attendances([44927.0, 44928.0])
    problem = unparseable(validate_extract(raw, "attendances"), "arrival")
    assert problem["n_rows"].tolist() == [2]
    assert "is a number, not a date" in problem["message"].iloc[0]
    assert "'excel'" in problem["message"].iloc[0]


# ------------------------------------------------------------------------------------------ time zones
def test_offsets_are_refused_without_a_timezone_with_the_column_an_example_and_the_fix() -> None:
    raw = attendances(["2023-03-26T01:30:00+01:00", "2023-03-26 05:00"])
    problem = unparseable(validate_extract(raw, "attendances"), "arrival")
    assert problem[["n_rows", "rows"]].values.tolist() == [[1, "2"]]
    message = problem["message"].iloc[0]
    assert "'arrival'" in message and "Row 2: '2023-03-26T01:30:00+01:00'" in message
    assert "time-zone offset" in message
    assert "data.sources.attendances.timezone: 'Europe/London'" in message
    assert "CLI option --timezone Europe/London" in message
    assert "Python keyword timezone='Europe/London'" in message


def test_offsets_are_converted_to_the_stated_zone_before_periods_are_assigned() -> None:
    raw = pd.Series(
        [
            "2023-03-26T01:30:00+01:00",  # 00:30 UTC; UK clocks go forward at 01:00 UTC → 00:30 GMT
            "2023-03-26T01:30:00Z",  # 01:30 UTC → 02:30 BST
            "2023-03-31T23:30:00-01:00",  # 1 April 00:30 UTC → 01:30 BST on 1 April (March if dropped)
            "2023-06-01 08:00",  # no offset: already London wall time
        ]
    )
    parsed = parse_column(raw, ARRIVAL, timezone="Europe/London")
    assert parsed.values.tolist() == [
        TS("2023-03-26 00:30"),
        TS("2023-03-26 02:30"),
        TS("2023-04-01 01:30"),
        TS("2023-06-01 08:00"),
    ]
    assert parsed.n_tz_converted == 3
    assert parsed.values.dt.month.tolist() == [3, 3, 4, 6]
    assert unparseable(
        validate_extract(attendances(raw.tolist()), "attendances", timezone="Europe/London"), "arrival"
    ).empty


def test_time_zone_aware_columns_are_converted_or_refused() -> None:
    aware = pd.Series(pd.to_datetime(["2023-07-01T10:00:00Z"]))
    assert parse_column(aware, ARRIVAL).bad.tolist() == [True]
    # 10:00 UTC in July is 11:00 BST
    assert parse_column(aware, ARRIVAL, timezone="Europe/London").values.tolist() == [TS("2023-07-01 11:00")]


def test_unknown_time_zone_name() -> None:
    with pytest.raises(
        EvalToolkitError, match=r"'Europe/Londres' is not a known time-zone name.*Europe/London"
    ):
        parse_column(pd.Series(["2023-01-01"]), ARRIVAL, timezone="Europe/Londres")


def test_read_extract_records_the_dd_mm_text_so_validation_still_gives_the_readings() -> None:
    df = read_extract(attendances(["2023-01-05", "07/08/2023"]), "attendances")
    message = unparseable(validate_extract(df, "attendances"), "arrival")["message"].iloc[0]
    assert "Row 3: '07/08/2023'" in message and "7 August 2023 or 8 July 2023" in message


# ------------------------------------------------------------------------------------------ single dates
def test_parse_date_reads_iso_text_and_date_objects() -> None:
    assert parse_date("2021-04-01", what="x") == TS("2021-04-01")
    assert parse_date(dt.date(2021, 4, 1), what="x") == TS("2021-04-01")
    assert parse_date("01/04/2021", what="x", date_format="%d/%m/%Y") == TS("2021-04-01")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            "01/04/2021",
            ["go_live '01/04/2021'", "1 April 2021 or 4 January 2021", "2021-04-01 or 2021-01-04"],
        ),
        ("25/12/2021", ["go_live '25/12/2021'", "can only be 25 December 2021", "2021-12-25"]),
        (20210401, ["go_live must be a date", "number 20210401"]),
        (None, ["go_live is missing"]),
        ("", ["go_live is empty"]),
        ("2021-04-01T00:00+01:00", ["go_live '2021-04-01T00:00+01:00' has a time-zone offset"]),
        ("soon", ["go_live 'soon' is not a date in ISO 8601"]),
    ],
)
def test_parse_date_refuses_with_what_the_value_and_the_readings(value: object, words: list[str]) -> None:
    with pytest.raises(EvalToolkitError) as info:
        parse_date(value, what="go_live")
    for word in words:
        assert word in str(info.value)


def test_parse_date_raises_the_callers_exception_class() -> None:
    with pytest.raises(SeriesInputError, match="start '01/04/2021'"):
        parse_date("01/04/2021", what="start", error=SeriesInputError)


def test_window_text_is_iso_only() -> None:
    assert parse_window(("2021-04-01", "2024-01-01")) == (TS("2021-04-01"), TS("2024-01-01"))
    with pytest.raises(EvalToolkitError, match=r"window start '01/04/2021'.*1 April 2021 or 4 January 2021"):
        parse_window(("01/04/2021", "2024-01-01"))
    with pytest.raises(EvalToolkitError, match=r"window end \(extract date\) '31/12/2023'.*31 December 2023"):
        validate_extract(attendances(["2023-01-05"]), "attendances", window=("2023-01-01", "31/12/2023"))


def test_cli_start_in_dd_mm_exits_2_with_the_readings(tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["validate", str(tmp_path), "--start", "01/04/2021", "--extract-date", "2024-01-01"]
    )
    assert result.exit_code == 2
    assert "--start '01/04/2021'" in result.output and "1 April 2021 or 4 January 2021" in result.output
    result = runner.invoke(
        app, ["series", str(tmp_path), "--out", str(tmp_path / "o"), "--extract-date", "2024-01-01"]
    )
    assert result.exit_code == 2
    assert "--extract-date needs --start too" in result.output


def test_series_window_bounds_are_iso_only() -> None:
    events = pd.DataFrame({"arrival": pd.to_datetime(["2024-01-05", "2024-02-10"])})
    counts = count_events(events, date="arrival", start="2024-01-01", end="2024-03-01")
    assert counts["count"].tolist() == [1, 1]
    with pytest.raises(SeriesInputError, match=r"start '01/02/2024'.*1 February 2024 or 2 January 2024"):
        count_events(events, date="arrival", start="01/02/2024", end="2024-03-01")


# ------------------------------------------------------------------------------------------ cohorts and ITS
def test_cohort_index_dates_in_dd_mm_are_refused_not_month_swapped() -> None:
    cohort = pd.DataFrame({"patient_id": ["p1", "p2"], "index_date": ["2023-01-15", "03/04/2023"]})
    with pytest.raises(PrePostInputError) as info:
        mirror_windows(cohort, before_months=2, after_months=2)
    message = str(info.value)
    assert "column 'index_date'" in message and "first at row 1 (0-based row position)" in message
    assert "3 April 2023 or 4 March 2023" in message and "data.sources.cohort.date_format" in message
    with pytest.raises(
        SeriesInputError, match=r"'index_date'.*row 1 \(0-based.*3 April 2023 or 4 March 2023"
    ):
        patient_windows(cohort, before_months=2, after_months=2)


def test_cohort_index_dates_in_iso_text_still_work() -> None:
    cohort = pd.DataFrame({"patient_id": ["p1"], "index_date": ["2023-03-10"]})
    windows = mirror_windows(cohort, before_months=1, after_months=1)
    # index day before: before = [2023-02-11, 2023-03-11), after = [2023-03-11, 2023-04-11)
    assert windows["window_start"].tolist() == [TS("2023-02-11"), TS("2023-03-11")]


def its_frame(months: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"month": months, "y": [float(i) for i in range(len(months))]})


def test_its_time_column_of_dd_mm_text_is_refused_not_month_swapped() -> None:
    months = [f"01/{m:02d}/2022" for m in range(1, 13)]  # 1 January .. 1 December, day first
    with pytest.raises(ITSInputError) as info:
        build_its_design(its_frame(months), outcome="y", time="month", interruptions="2022-07-01")
    message = str(info.value)
    assert "column 'month'" in message and "first at row 0" in message
    assert "'01/01/2022'" in message
    # An example with two different readings comes second: 1 February 2022 or 2 January 2022.
    with pytest.raises(ITSInputError, match=r"1 February 2022 or 2 January 2022"):
        build_its_design(its_frame(months[1:]), outcome="y", time="month", interruptions="2022-07-01")


def test_its_time_column_of_iso_text_and_interruption_text() -> None:
    months = [f"2022-{m:02d}-01" for m in range(1, 13)]
    design = build_its_design(its_frame(months), outcome="y", time="month", interruptions="2022-07-01")
    assert design.time_kind == "date"
    # 1 July 2022 is the 7th month: interruption at t = 7 (t = 1 is January)
    assert design.interruptions == (TS("2022-07-01"),) and design.interruption_t == (7,)
    with pytest.raises(ITSInputError, match=r"interruption .*'01/07/2022'.*1 July 2022 or 7 January 2022"):
        build_its_design(its_frame(months), outcome="y", time="month", interruptions="01/07/2022")


# ------------------------------------------------------------------------------------------ protocol dates
def test_protocol_dates_are_iso_only(tmp_path) -> None:
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1] / "protocols"
    raw = yaml.safe_load((root / "project_air.yaml").read_text(encoding="utf-8"))
    raw["sites"][0]["go_live"] = "01/04/2021"
    raw["sites"][1]["go_live"] = 20210401
    raw["data"]["window"]["start"] = "2019-04-01"  # ISO text is fine
    raw["data"]["window"]["extract_date"] = "2025-02-30"
    found = {p.path: p.message for p in validate_protocol(raw, base_dir=root)}
    assert "1 April 2021 or 4 January 2021" in found["sites[0].go_live"]
    assert "write 2021-04-01 or 2021-01-04" in found["sites[0].go_live"]
    assert "numbers are not read as dates" in found["sites[1].go_live"]
    assert "not a real date: '2025-02-30'" in found["data.window.extract_date"]
    assert "data.window.start" not in found


def test_series_builders_refuse_text_offsets_instead_of_dropping_them() -> None:
    # 23:30 at UTC-1 on 31 March is 00:30 UTC on 1 April: dropping the offset would count it in March.
    events = pd.DataFrame({"arrival": ["2023-03-31T23:30:00-01:00", "2023-03-15 10:00"]})
    with pytest.raises(SeriesInputError) as info:
        count_events(events, date="arrival")
    message = str(info.value)
    assert "'arrival'" in message and "1 row(s), at row(s) 0" in message
    assert "has date-times with a time-zone offset, e.g. '2023-03-31T23:30:00-01:00'" in message
    assert "never dropped" in message and "timezone='Europe/London'" in message


def test_rates_denominator_periods_in_dd_mm_text_are_refused() -> None:
    from evaltoolkit.series import rates

    counts = pd.DataFrame(
        {"site": ["A", "A"], "period": pd.to_datetime(["2024-01-01", "2024-02-01"]), "count": [1, 2]}
    )
    pop = pd.DataFrame({"site": ["A", "A"], "period": ["01/02/2024", "2024-01-01"], "population": [100, 200]})
    with pytest.raises(
        SeriesInputError, match=r"denominators: column 'period'.*1 February 2024 or 2 January 2024"
    ):
        rates(counts, pop)
    pop["period"] = ["2024-02-01", "2024-01-01"]
    out = rates(counts, pop)
    assert out.sort_values("period")["population"].tolist() == [200, 100]


def test_its_result_periods_given_as_text_are_iso_only() -> None:
    from evaltoolkit.its import fit_its

    months = pd.date_range("2020-01-01", periods=36, freq="MS")
    y = [10.0 + 0.1 * i + (3.0 if i >= 18 else 0.0) + (0.5 if i % 2 else -0.5) for i in range(36)]
    result = fit_its(
        pd.DataFrame({"month": months, "y": y}), outcome="y", time="month", interruptions="2021-07-01",
        method="ols",  # alternating noise: an AR fit would sit at the boundary; dates are the point here
    )  # fmt: skip
    with pytest.raises(ITSInputError, match=r"start '01/07/2021'.*1 July 2021 or 7 January 2021"):
        result.cumulative_effect(start="01/07/2021")
    iso = result.cumulative_effect(start="2021-07-01", end="2021-12-01")
    assert iso["n_periods"].tolist() == [6]  # July to December 2021


def test_offsets_converted_are_counted_in_the_data_quality_table() -> None:
    from evaltoolkit.data import clean_extract
    from evaltoolkit.data.rules import Context, run_pipeline

    raw = attendances(["2023-03-26T01:30:00+01:00", "2023-03-26T01:30:00Z", "2023-03-27 09:00"])
    result = run_pipeline(raw, "attendances", Context(timezone="Europe/London"))
    found = {f.rule: f for f in result.findings}
    converted = found["timezone_converted"]
    assert (converted.n_rows, converted.n_excluded) == (2, 0)
    assert "converted to Europe/London" in converted.action and "arrival 2" in converted.detail
    assert result.data["arrival"].tolist() == [
        TS("2023-03-26 00:30"),
        TS("2023-03-26 02:30"),
        TS("2023-03-27 09:00"),
    ]
    clean = clean_extract(raw, "attendances", timezone="Europe/London")
    row = clean.quality[clean.quality["rule"] == "timezone_converted"].iloc[0]
    assert (row["n_rows"], row["n_excluded"]) == (2, 0)
    assert clean.n_input == clean.n_output == 3
    with pytest.raises(
        ExtractValidationError, match=r"unparseable \(column 'arrival', rows 2, 3\).*timezone="
    ):
        clean_extract(raw, "attendances")  # refused without a zone


def test_a_layout_that_matches_no_row_is_reported_as_the_wrong_layout() -> None:
    iso = unparseable(
        validate_extract(attendances(["2023-01-05", "2023-01-06"]), "attendances", date_format="%d/%m/%Y"),
        "arrival",
    )["message"].iloc[0]
    assert "no row of the column matches '%d/%m/%Y'" in iso
    assert "the dates are ISO 8601, the default: remove the layout" in iso
    us = unparseable(
        validate_extract(attendances(["12/25/2023", "12/24/2023"]), "attendances", date_format="%d/%m/%Y"),
        "arrival",
    )["message"].iloc[0]
    assert "it can only be 25 December 2023, read month first" in us
    assert "date_format='%m/%d/%Y'" in us
    timed = unparseable(
        validate_extract(attendances(["03/04/2023 10:00"]), "attendances", date_format="%d/%m/%Y"), "arrival"
    )["message"].iloc[0]
    assert "it has a time of day, which the layout does not" in timed
    assert "date_format='%d/%m/%Y %H:%M'" in timed


def test_rows_in_another_layout_after_read_extract_are_explained_without_the_layout() -> None:
    raw = attendances(["03/04/2023", "04/04/2023", "2023-04-05"])
    df = read_extract(raw, "attendances", date_format="%d/%m/%Y")
    assert df["arrival"].tolist()[:2] == [TS("2023-04-03"), TS("2023-04-04")]
    problem = unparseable(validate_extract(df, "attendances"), "arrival")
    assert problem[["n_rows", "rows"]].values.tolist() == [[1, "4"]]
    message = problem["message"].iloc[0]
    assert "Row 4: '2023-04-05' is ISO 8601, but the column was read with another date layout" in message
    assert "while 2 other rows of the column were read" in message


def test_parse_date_refuses_several_values() -> None:
    with pytest.raises(EvalToolkitError, match=r"window start must be one date such as 2021-04-01, got list"):
        parse_date(["2021-04-01", "2021-05-01"], what="window start")


def test_a_stated_month_first_layout_on_day_first_values_says_the_order_is_wrong() -> None:
    from evaltoolkit.data import validate_extract as validate

    raw = attendances(["27/01/2023 10:00", "05/01/2023 11:00", "14/02/2023 09:00"])
    problems = validate(raw, "attendances", date_format={"arrival": "%m/%d/%Y %H:%M"})
    message = unparseable(problems, "arrival")["message"].iloc[0]
    # 27/01 and 14/02 cannot be month first; 05/01 was read (as 1 May), probably wrongly
    assert "Row 2: '27/01/2023 10:00' does not match the column's date format '%m/%d/%Y %H:%M'" in message
    assert "puts the month first, but these values can only be read the other way round" in message
    assert "the 1 other row it did read may have day and month swapped" in message
    assert "protocol key data.sources.attendances.date_format: '%d/%m/%Y %H:%M'" in message
    assert "--date-format 'arrival=%d/%m/%Y %H:%M'" in message
