"""Tests for evaltoolkit.data.clean_extract: each fixable rule, its action, and the row accounting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaltoolkit.data import FIXABLE_RULES, QUALITY_COLUMNS, CleanExtract, clean_extract
from evaltoolkit.errors import ExtractValidationError

WINDOW = ("2023-01-01", "2024-01-01")

ATT_COLS = ["attendance_id", "patient_id", "site", "arrival", "departure"]
# Data row i is spreadsheet row i + 2 (header = row 1).
ATTENDANCES = [
    ("a1", "p1", "A", "2023-03-01 10:00", "2023-03-01 12:00"),  # row 2: clean
    ("a1", "p1", "A", "2023-03-01 10:00", "2023-03-01 12:00"),  # row 3: exact duplicate of row 2
    ("a2", "p2", "C", "2023-04-01 10:00", "2023-04-01 11:00"),  # row 4: unknown site
    ("a3", "p3", "A", "2022-12-31 23:59", "2023-01-01 01:00"),  # row 5: before window start
    ("a4", "p4", "B", "2024-01-01 00:00", "2024-01-01 02:00"),  # row 6: on the extract date
    ("a5", "p5", "B", "2023-05-01 10:00", "2023-05-01 09:00"),  # row 7: departure before arrival
    ("a6", None, "A", "2023-06-01 10:00", None),  # row 8: missing patient id
    ("a7", None, "C", "2022-01-01 10:00", None),  # row 9: unknown site (and other defects, counted once)
    ("a8", "p8", "A", "2023-12-31 23:59", "2024-01-01 01:00"),  # row 10: clean (departs after extract)
    ("a2", "p2", "C", "2023-04-01 10:00", "2023-04-01 11:00"),  # row 11: exact duplicate of row 4
]

SPELL_COLS = ["spell_id", "patient_id", "site", "admitted", "discharged"]
SPELLS = [
    ("s1", "p1", "A", "2023-02-01", "2023-02-10"),  # row 2: clean
    ("s2", "p2", "A", "2022-06-01", "2023-01-15"),  # row 3: admitted before start, discharged inside: kept
    ("s3", "p3", "A", "2022-06-01", "2022-12-31"),  # row 4: discharged before start: outside window
    ("s4", "p4", "A", "2024-01-01", None),  # row 5: admitted on the extract date: outside window
    ("s5", "p5", "A", "2023-03-01", "2023-02-01"),  # row 6: discharge before admission
    ("s6", "p6", "A", "2023-11-01", "2024-02-01"),  # row 7: discharged after extract -> open
    ("s7", "p7", "A", "2022-03-01", None),  # row 8: open since before the window: kept, stale
    ("s8", None, "A", "2023-12-01", None),  # row 9: open (31 days), missing patient id
    ("s9", "p9", "Z", "2023-05-01", "2023-05-03"),  # row 10: unknown site
    ("s1", "p1", "A", "2023-02-01", "2023-02-10"),  # row 11: exact duplicate of row 2
    ("s10", "p10", "A", "2023-06-01 00:00", "2023-06-01 12:00"),  # row 12: clean
    ("s11", "p11", "A", "2023-07-01 08:00", None),  # row 13: open 183.67 days before extract: stale (>180)
    ("s12", "p12", "A", "2023-07-05 00:00", None),  # row 14: open exactly 180 days: not stale
]


def frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def quality_row(result: CleanExtract, rule: str) -> pd.Series:
    table = result.quality
    match = table[table["rule"] == rule]
    assert len(match) == 1, f"expected one quality row for {rule}, got {len(match)}"
    return match.iloc[0]


def check_accounting(result: CleanExtract, n_rows_in: int) -> None:
    assert result.n_input == n_rows_in
    assert result.n_output == len(result.data)
    assert result.n_input == result.n_output + int(result.quality["n_excluded"].sum())


# --------------------------------------------------------------------------------------------------------
# attendances
# --------------------------------------------------------------------------------------------------------


def test_attendances_each_rule_detected_with_counts_rows_and_actions() -> None:
    raw = frame(ATTENDANCES, ATT_COLS)
    result = clean_extract(raw, "attendances", sites=["A", "B"], window=WINDOW)
    expected = {
        "exact_duplicate": (2, 2, "3, 11"),
        "unknown_site": (2, 2, "4, 9"),
        "outside_window": (2, 2, "5, 6"),
        "departure_before_arrival": (1, 0, "7"),
        "missing_patient_id": (1, 0, "8"),
    }
    for rule, (n_rows, n_excluded, rows) in expected.items():
        row = quality_row(result, rule)
        assert (row["n_rows"], row["n_excluded"], row["rows"]) == (n_rows, n_excluded, rows), rule
    assert quality_row(result, "departure_before_arrival")["action"] == "departure set to missing; row kept"
    assert quality_row(result, "unknown_site")["action"] == "excluded"
    check_accounting(result, 10)
    # Kept rows, by spreadsheet row number: 2, 7, 8, 10 (worked out by hand above).
    assert result.data["source_row"].tolist() == [2, 7, 8, 10]
    assert result.data["attendance_id"].tolist() == ["a1", "a5", "a6", "a8"]


def test_attendances_fixes_are_applied_and_flagged() -> None:
    raw = frame(ATTENDANCES, ATT_COLS)
    data = clean_extract(raw, "attendances", sites=["A", "B"], window=WINDOW).data.set_index("attendance_id")
    assert pd.isna(data.loc["a5", "departure"])
    assert data.loc["a5", "dq_departure_before_arrival"]
    assert data.loc["a1", "departure"] == pd.Timestamp("2023-03-01 12:00")
    assert data.loc["a8", "departure"] == pd.Timestamp("2024-01-01 01:00")  # departure after extract is kept
    assert data["dq_missing_patient_id"].tolist() == [False, False, True, False]
    assert data["dq_departure_before_arrival"].sum() == 1
    assert data["arrival"].dtype == "datetime64[us]"


def test_window_is_half_open_at_the_start_and_the_extract_date() -> None:
    raw = frame(
        [
            ("x1", "p", "A", "2023-01-01 00:00", None),  # exactly at start: in
            ("x2", "p", "A", "2023-12-31 23:59:59", None),  # last second: in
            ("x3", "p", "A", "2024-01-01 00:00", None),  # at extract date: out
            ("x4", "p", "A", "2022-12-31 23:59:59", None),  # before start: out
        ],
        ATT_COLS,
    )
    result = clean_extract(raw, "attendances", window=WINDOW)
    assert result.data["attendance_id"].tolist() == ["x1", "x2"]
    assert quality_row(result, "outside_window")["rows"] == "4, 5"


def test_rules_without_settings_are_listed_as_not_checked() -> None:
    raw = frame(ATTENDANCES[:1], ATT_COLS)
    result = clean_extract(raw, "attendances")
    site = quality_row(result, "unknown_site")
    window = quality_row(result, "outside_window")
    assert pd.isna(site["n_rows"]) and site["action"] == "not checked: no sites given"
    assert pd.isna(window["n_rows"]) and window["action"] == "not checked: no window given"
    # Checked rules that found nothing appear with 0 rows.
    assert quality_row(result, "exact_duplicate")["n_rows"] == 0
    assert quality_row(result, "departure_before_arrival")["n_rows"] == 0


def test_quality_table_has_fixed_columns_and_lists_rules_in_documented_order() -> None:
    result = clean_extract(frame(ATTENDANCES, ATT_COLS), "attendances", sites=["A", "B"], window=WINDOW)
    assert list(result.quality.columns) == QUALITY_COLUMNS
    fixable = [r for r in result.quality["rule"] if r in FIXABLE_RULES["attendances"]]
    assert fixable == list(FIXABLE_RULES["attendances"])
    assert fixable == [
        "exact_duplicate",
        "unknown_site",
        "outside_window",
        "departure_before_arrival",
        "missing_patient_id",
    ]
    assert set(result.quality["extract"]) == {"attendances"}


def test_extra_columns_are_kept_and_count_for_exact_duplicates() -> None:
    raw = frame(ATTENDANCES[:2], ATT_COLS)
    raw["triage"] = ["2", "3"]  # the two rows now differ in an extra column
    # Not identical in every column, so not an exact duplicate; same attendance_id -> duplicate_key error.
    with pytest.raises(ExtractValidationError, match="duplicate_key"):
        clean_extract(raw, "attendances")
    raw["triage"] = ["2", "2"]
    result = clean_extract(raw, "attendances")
    assert quality_row(result, "exact_duplicate")["n_rows"] == 1
    assert "triage" in result.data.columns


# --------------------------------------------------------------------------------------------------------
# spells
# --------------------------------------------------------------------------------------------------------


def test_spells_each_rule_detected_with_counts_rows_and_actions() -> None:
    raw = frame(SPELLS, SPELL_COLS)
    result = clean_extract(raw, "spells", sites=["A"], window=WINDOW, max_open_days=180)
    expected = {
        "exact_duplicate": (1, 1, "11"),
        "unknown_site": (1, 1, "10"),
        "outside_window": (2, 2, "4, 5"),
        "discharge_before_admission": (1, 1, "6"),
        "discharge_after_extract": (1, 0, "7"),
        "open_spell": (5, 0, "7, 8, 9, 13, 14"),
        "stale_open_spell": (2, 0, "8, 13"),
        "missing_patient_id": (1, 0, "9"),
    }
    for rule, (n_rows, n_excluded, rows) in expected.items():
        row = quality_row(result, rule)
        assert (row["n_rows"], row["n_excluded"], row["rows"]) == (n_rows, n_excluded, rows), rule
    assert quality_row(result, "open_spell")["action"] == "kept; censored at extract date"
    assert quality_row(result, "discharge_before_admission")["action"].startswith("excluded")
    check_accounting(result, 13)
    assert result.data["source_row"].tolist() == [2, 3, 7, 8, 9, 12, 13, 14]


def test_spells_fixes_and_flags() -> None:
    raw = frame(SPELLS, SPELL_COLS)
    data = clean_extract(raw, "spells", sites=["A"], window=WINDOW, max_open_days=180).data
    data = data.set_index("spell_id")
    assert pd.isna(data.loc["s6", "discharged"]) and data.loc["s6", "dq_discharge_after_extract"]
    assert data.loc["s2", "discharged"] == pd.Timestamp("2023-01-15")
    assert data.loc["s2", "admitted"] == pd.Timestamp("2022-06-01")  # kept: bed-days inside the window
    assert sorted(data.index[data["dq_open_spell"]]) == ["s11", "s12", "s6", "s7", "s8"]
    assert sorted(data.index[data["dq_stale_open_spell"]]) == ["s11", "s7"]
    assert data["dq_open_spell"].tolist() == data["discharged"].isna().tolist()
    assert data.index[data["dq_missing_patient_id"]].tolist() == ["s8"]
    for flag in (
        "dq_open_spell",
        "dq_stale_open_spell",
        "dq_discharge_after_extract",
        "dq_missing_patient_id",
    ):
        assert data[flag].dtype == bool


def test_stale_open_spell_not_applied_by_default() -> None:
    result = clean_extract(frame(SPELLS, SPELL_COLS), "spells", sites=["A"], window=WINDOW)
    row = quality_row(result, "stale_open_spell")
    assert pd.isna(row["n_rows"]) and "max_open_days" in row["action"]
    assert not result.data["dq_stale_open_spell"].any()


def test_spells_without_window_still_count_open_spells() -> None:
    raw = frame(SPELLS, SPELL_COLS)
    result = clean_extract(raw, "spells")
    # No window: nothing outside it, discharge after extract not checked; spells open in the raw data:
    # rows 5, 8, 9, 13, 14 (row 7 has a discharge date, unchanged without an extract date).
    assert quality_row(result, "open_spell")["rows"] == "5, 8, 9, 13, 14"
    assert pd.isna(quality_row(result, "discharge_after_extract")["n_rows"])
    assert quality_row(result, "discharge_before_admission")["n_rows"] == 1
    check_accounting(result, 13)


# --------------------------------------------------------------------------------------------------------
# errors during cleaning
# --------------------------------------------------------------------------------------------------------


def bad_attendances() -> pd.DataFrame:
    return frame(
        [
            ("a1", "p1", "A", "2023-03-01 10:00", None),  # row 2 ok
            ("a2", "p2", "A", "31/02/2023", None),  # row 3 unparseable arrival
            ("a3", "p3", None, "2023-03-02 10:00", None),  # row 4 missing site
            ("a4", "p4", None, "not a date", None),  # row 5 both: counted once when excluded
            ("a5", "p5", "A", "2023-03-03 10:00", None),  # row 6 ok
        ],
        ATT_COLS,
    )


def test_errors_raise_by_default() -> None:
    with pytest.raises(ExtractValidationError) as info:
        clean_extract(bad_attendances(), "attendances")
    message = str(info.value)
    assert "unparseable (column 'arrival', rows 3, 5)" in message
    assert "missing_value (column 'site', rows 4, 5)" in message


def test_on_invalid_exclude_excludes_and_counts_each_row_once() -> None:
    result = clean_extract(bad_attendances(), "attendances", on_invalid="exclude")
    unparseable = quality_row(result, "unparseable")
    missing = quality_row(result, "missing_value")
    assert (unparseable["n_rows"], unparseable["n_excluded"]) == (2, 2)
    # Row 5 breaks both rules; it is excluded (and counted) under the first, unparseable.
    assert (missing["n_rows"], missing["n_excluded"]) == (2, 1)
    assert unparseable["action"] == "excluded (on_invalid='exclude')"
    assert result.data["source_row"].tolist() == [2, 6]
    check_accounting(result, 5)


def test_missing_required_column_raises_even_with_exclude() -> None:
    raw = frame(ATTENDANCES, ATT_COLS).drop(columns="arrival")
    with pytest.raises(ExtractValidationError, match="required column 'arrival' is missing"):
        clean_extract(raw, "attendances", on_invalid="exclude")


def test_bad_arguments_are_rejected() -> None:
    raw = frame(ATTENDANCES[:1], ATT_COLS)
    with pytest.raises(ValueError, match="on_invalid"):
        clean_extract(raw, "attendances", on_invalid="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be before the extract date"):
        clean_extract(raw, "attendances", window=("2024-01-01", "2023-01-01"))
    with pytest.raises(ValueError, match="max_open_days"):
        clean_extract(raw, "spells", max_open_days=-3)
    with pytest.raises(ValueError, match="unknown extract kind"):
        clean_extract(raw, "visits")


def test_input_frame_is_not_mutated() -> None:
    raw = frame(SPELLS, SPELL_COLS)
    before = raw.copy()
    clean_extract(raw, "spells", sites=["A"], window=WINDOW, max_open_days=180)
    pd.testing.assert_frame_equal(raw, before)


# --------------------------------------------------------------------------------------------------------
# other kinds
# --------------------------------------------------------------------------------------------------------


def test_population_exact_duplicates_excluded_and_errors_raised() -> None:
    raw = pd.DataFrame(
        {
            "site": ["A", "A", "A", "B"],
            "period": ["2023-01-01", "2023-01-01", "2023-02-01", "2023-01-01"],
            "population": ["1000", "1000", "1010", "500"],
        }
    )
    result = clean_extract(raw, "population")
    assert quality_row(result, "exact_duplicate")["n_rows"] == 1
    assert result.data["population"].tolist() == [1000, 1010, 500]
    assert str(result.data["population"].dtype) == "Int64"
    check_accounting(result, 4)
    raw.loc[1, "population"] = "990"  # now the same (site, period) with different values
    with pytest.raises(ExtractValidationError, match=r"duplicate_key \(column 'site, period', rows 2, 3\)"):
        clean_extract(raw, "population")


def test_rom_and_staff_exact_duplicates_and_numeric_items() -> None:
    rom = pd.DataFrame(
        {
            "patient_id": ["p1", "p1", "p1"],
            "occasion": ["baseline", "baseline", "end"],
            "session": ["0", "0", "9"],
            "date": ["2023-01-02", "2023-01-02", "2023-03-01"],
            "phq9_1": ["3", "3", "1"],
        }
    )
    result = clean_extract(rom, "rom_responses")
    assert result.n_output == 2 and quality_row(result, "exact_duplicate")["rows"] == "3"
    assert result.data["phq9_1"].dtype == "float64"
    staff = pd.DataFrame(
        {
            "staff_id": ["s1", "s1"],
            "wave": ["PRE", "post"],
            "date": ["2023-01-02", "2023-06-01"],
            "pss10_1": [2, 4],
        }
    )
    data = clean_extract(staff, "staff_survey").data
    assert data["wave"].tolist() == ["pre", "post"]  # case matched to the allowed values


# --------------------------------------------------------------------------------------------------------
# property: a naive row-by-row implementation agrees
# --------------------------------------------------------------------------------------------------------

SITES = ["A", "B", "C"]
START, END = pd.Timestamp(WINDOW[0]), pd.Timestamp(WINDOW[1])


def naive_clean(rows: list[tuple]) -> tuple[list[int], dict[int, object], dict[str, int]]:
    """Row-by-row reference: kept spreadsheet rows, departures after cleaning, counts per rule."""
    seen: set[tuple] = set()
    kept: list[int] = []
    departures: dict[int, object] = {}
    counts = dict.fromkeys(FIXABLE_RULES["attendances"], 0)
    for i, row in enumerate(rows):
        line = i + 2
        _, patient, site, arrival, departure = row
        if row in seen:
            counts["exact_duplicate"] += 1
            continue
        seen.add(row)
        if site not in ("A", "B"):
            counts["unknown_site"] += 1
            continue
        arrival_ts = pd.Timestamp(arrival)
        if arrival_ts < START or arrival_ts >= END:
            counts["outside_window"] += 1
            continue
        if departure is not None and pd.Timestamp(departure) < arrival_ts:
            counts["departure_before_arrival"] += 1
            departure = None
        if patient is None:
            counts["missing_patient_id"] += 1
        kept.append(line)
        departures[line] = None if departure is None else pd.Timestamp(departure)
    return kept, departures, counts


@st.composite
def attendance_rows(draw: st.DrawFn) -> list[tuple]:
    n = draw(st.integers(min_value=1, max_value=30))
    rows: list[tuple] = []
    for i in range(n):
        if rows and draw(st.booleans()) and draw(st.booleans()):
            rows.append(rows[draw(st.integers(0, len(rows) - 1))])  # exact duplicate
            continue
        arrival = pd.Timestamp("2022-11-01") + pd.Timedelta(hours=draw(st.integers(0, 24 * 500)))
        dep_hours = draw(st.one_of(st.none(), st.integers(-5, 30)))
        departure = None if dep_hours is None else str(arrival + pd.Timedelta(hours=dep_hours))
        patient = draw(st.sampled_from([None, "p1", "p2", "p3"]))
        rows.append((f"id{i}", patient, draw(st.sampled_from(SITES)), str(arrival), departure))
    return rows


@settings(max_examples=40, deadline=None)
@given(attendance_rows())
def test_clean_agrees_with_a_naive_row_by_row_implementation(rows: list[tuple]) -> None:
    raw = frame(rows, ATT_COLS)
    result = clean_extract(raw, "attendances", sites=["A", "B"], window=WINDOW)
    kept, departures, counts = naive_clean(rows)
    assert result.data["source_row"].tolist() == kept
    for rule, n in counts.items():
        assert quality_row(result, rule)["n_rows"] == n, rule
    got = dict(zip(result.data["source_row"], result.data["departure"], strict=True))
    for line, dep in departures.items():
        assert (pd.isna(got[line]) and dep is None) or got[line] == dep
    # Nothing dropped silently: every input row is kept or counted as excluded.
    excluded = set(range(2, len(rows) + 2)) - set(kept)
    assert len(excluded) == int(result.quality["n_excluded"].sum())
    assert np.all(np.diff(result.data["source_row"].to_numpy()) > 0)
