"""Tests for evaltoolkit.series.patient_windows (per-patient before/after windows)."""

from __future__ import annotations

import pandas as pd
import pytest

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series import patient_windows


@pytest.fixture
def cohort() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["p2", "p1", "p3"],
            "site": ["A", "A", "B"],
            "index_date": pd.to_datetime(["2023-06-01", "2023-01-15", "2023-08-31"]),
            "end_date": pd.to_datetime([None, None, "2023-09-30"]),
        }
    )


@pytest.fixture
def att() -> pd.DataFrame:
    rows = [
        ("p1", "2021-07-14"),  # before p1's before-window (starts 2021-07-15)
        ("p1", "2021-07-15"),  # first day of before-window
        ("p1", "2023-01-14 23:59"),  # last day before index
        ("p1", "2023-01-15 00:01"),  # index day: after
        ("p1", "2024-07-14"),  # last day of the after-window
        ("p1", "2024-07-15"),  # after the after-window
        ("p2", "2023-07-01"),
        ("p3", "2023-09-30"),  # p3's end date: still followed up
        ("p3", "2023-10-01"),  # after p3's end date: not counted
        ("p9", "2023-01-01"),  # not in the cohort
    ]
    return pd.DataFrame(
        {
            "patient_id": [p for p, _ in rows],
            "arrival": pd.to_datetime([d for _, d in rows], format="ISO8601"),
        }
    )


@pytest.fixture
def spells() -> pd.DataFrame:
    rows = [
        ("p1", "2023-01-10", "2023-01-20"),  # straddles the index: 5 nights before, 5 after; admission before
        ("p1", "2022-03-01", "2022-03-01"),  # same-day: an admission, no nights
        ("p2", "2024-11-25", None),  # open, admitted after index: censored at 2025-01-01
        ("p3", "2023-09-28", "2023-10-05"),  # nights 28, 29, 30 Sep inside p3's window (ends 1 Oct)
    ]
    return pd.DataFrame(
        {
            "patient_id": [p for p, _, _ in rows],
            "admitted": pd.to_datetime([a for _, a, _ in rows]),
            "discharged": pd.to_datetime([d for _, _, d in rows]),
        }
    )


def windows(cohort: pd.DataFrame, att: pd.DataFrame, spells: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    return patient_windows(
        cohort,
        attendances=att,
        spells=spells,
        censor_at="2025-01-01",
        end="end_date",
        **kwargs,  # type: ignore[arg-type]
    )


def row(out: pd.DataFrame, patient: str, window: str) -> pd.Series:
    sel = out[(out["patient_id"] == patient) & (out["window"] == window)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_columns_order_and_sorting(cohort, att, spells) -> None:
    out = windows(cohort, att, spells)
    assert list(out.columns) == [
        "patient_id",
        "window",
        "window_start",
        "window_end",
        "exposure_days",
        "attendances",
        "admissions",
        "bed_days",
        "censored",
    ]
    assert out["patient_id"].tolist() == ["p1", "p1", "p2", "p2", "p3", "p3"]
    assert out["window"].tolist() == ["before", "after"] * 3
    assert isinstance(out.index, pd.RangeIndex)


def test_patient_with_full_windows(cohort, att, spells) -> None:
    out = windows(cohort, att, spells)
    before, after = row(out, "p1", "before"), row(out, "p1", "after")
    assert before["window_start"] == pd.Timestamp("2021-07-15")
    assert before["window_end"] == pd.Timestamp("2023-01-15")
    assert before["exposure_days"] == 549  # 15 Jul 2021 → 15 Jan 2023
    assert before["attendances"] == 2
    assert before["admissions"] == 2  # 10 Jan 2023 and the same-day spell of 1 Mar 2022
    assert before["bed_days"] == 5  # nights 10–14 Jan
    assert not before["censored"]
    assert after["window_start"] == pd.Timestamp("2023-01-15")
    assert after["window_end"] == pd.Timestamp("2024-07-15")
    assert after["exposure_days"] == 547
    assert after["attendances"] == 2  # index day counts in "after"; 14 Jul 2024 is the last day
    assert after["admissions"] == 0
    assert after["bed_days"] == 5  # nights 15–19 Jan
    assert not after["censored"]


def test_after_window_censored_at_extract_date_with_open_spell(cohort, att, spells) -> None:
    out = windows(cohort, att, spells)
    after = row(out, "p2", "after")
    # Full after-window would end 2024-12-01 (< censor_at): not censored; the open spell's nights run
    # from 25 Nov to 30 Nov inside the window.
    assert after["window_end"] == pd.Timestamp("2024-12-01")
    assert not after["censored"]
    assert after["admissions"] == 1
    assert after["bed_days"] == 6
    out = windows(cohort, att, spells, after_months=24)
    after = row(out, "p2", "after")
    assert after["window_end"] == pd.Timestamp("2025-01-01")  # truncated at censor_at
    assert after["censored"]
    assert after["exposure_days"] == 580  # 1 Jun 2023 → 1 Jan 2025
    assert after["bed_days"] == 37  # 25 Nov → 31 Dec 2024 inclusive


def test_end_date_truncates_and_is_still_followed_up(cohort, att, spells) -> None:
    out = windows(cohort, att, spells)
    after = row(out, "p3", "after")
    assert after["window_end"] == pd.Timestamp("2023-10-01")  # end date 30 Sep + 1 day
    assert after["exposure_days"] == 31  # 31 Aug → 30 Sep inclusive
    assert after["censored"]
    assert after["attendances"] == 1
    assert after["bed_days"] == 3
    before = row(out, "p3", "before")
    # 31 Aug 2023 − 18 months = 28 Feb 2022 (clamped to the month end).
    assert before["window_start"] == pd.Timestamp("2022-02-28")


def test_data_start_truncates_before_windows(cohort, att, spells) -> None:
    out = windows(cohort, att, spells, data_start="2022-01-01")
    before = row(out, "p1", "before")
    assert before["window_start"] == pd.Timestamp("2022-01-01")
    assert before["censored"]
    assert before["exposure_days"] == 379
    assert before["attendances"] == 1  # the 15 Jul 2021 attendance is now outside
    # p2's full before-window starts 1 Dec 2021, before data_start: truncated; p3's starts 28 Feb 2022: not.
    assert row(out, "p2", "before")["censored"]
    assert row(out, "p2", "before")["window_start"] == pd.Timestamp("2022-01-01")
    assert not row(out, "p3", "before")["censored"]


def test_sources_are_optional(cohort, att) -> None:
    out = patient_windows(cohort, attendances=att)
    assert "attendances" in out.columns and "bed_days" not in out.columns
    assert row(out, "p1", "before")["attendances"] == 2
    only_cohort = patient_windows(cohort, before_months=6, after_months=6)
    assert list(only_cohort.columns)[-5:] == [
        "window",
        "window_start",
        "window_end",
        "exposure_days",
        "censored",
    ]


def test_parquet_inputs_match(cohort, att, spells, tmp_path) -> None:
    expected = windows(cohort, att, spells)
    for name, frame in (("c", cohort), ("a", att), ("s", spells)):
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    got = windows(tmp_path / "c.parquet", tmp_path / "a.parquet", tmp_path / "s.parquet")  # type: ignore[arg-type]
    cols = [
        "patient_id",
        "window",
        "window_start",
        "window_end",
        "exposure_days",
        "attendances",
        "admissions",
        "bed_days",
        "censored",
    ]
    pd.testing.assert_frame_equal(got[cols], expected[cols], check_dtype=False)


def test_inputs_not_mutated(cohort, att, spells) -> None:
    copies = [f.copy() for f in (cohort, att, spells)]
    windows(cohort, att, spells)
    for original, copy in zip((cohort, att, spells), copies, strict=True):
        pd.testing.assert_frame_equal(original, copy)


def test_errors(cohort, att, spells) -> None:
    dup = pd.concat([cohort, cohort.iloc[[1]]], ignore_index=True)
    with pytest.raises(SeriesInputError, match=r"more than once.*2 row\(s\), at row\(s\) 1, 3"):
        windows(dup, att, spells)
    with pytest.raises(SeriesInputError, match=r"on or after censor_at.*row\(s\) 2"):
        patient_windows(cohort, censor_at="2023-08-01")
    early = cohort.assign(end_date=pd.to_datetime([None, "2022-01-01", None]))
    with pytest.raises(SeriesInputError, match=r"'end_date' is before 'index_date'.*row\(s\) 1"):
        windows(early, att, spells)
    with pytest.raises(SeriesInputError, match=r"open spells.*censor_at"):
        patient_windows(cohort, spells=spells)
    numeric = att.assign(patient_id=range(len(att)))
    with pytest.raises(SeriesInputError, match="ids match"):
        patient_windows(cohort, attendances=numeric)
    missing = cohort.assign(index_date=pd.to_datetime(["2023-06-01", None, "2023-08-31"]))
    with pytest.raises(SeriesInputError, match=r"'index_date'.*missing.*row\(s\) 1"):
        patient_windows(missing)
