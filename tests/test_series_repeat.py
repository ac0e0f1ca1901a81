"""Tests for re-attendance and readmission flags and series."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series import readmission_series, readmissions, reattendance_series, reattendances

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def attendances(rows: list[tuple[str | None, str]], **extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [p for p, _ in rows],
            "arrival": pd.to_datetime([d for _, d in rows], format="ISO8601"),
            **extra,
        }
    )


def spells(rows: list[tuple[str | None, str, str | None]], **extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [p for p, _, _ in rows],
            "admitted": pd.to_datetime([a for _, a, _ in rows], format="ISO8601"),
            "discharged": pd.to_datetime([d for _, _, d in rows], format="ISO8601"),
            **extra,
        }
    )


# --------------------------------------------------------------------------- re-attendance


def test_reattendance_boundaries_and_same_day() -> None:
    att = attendances(
        [
            ("p1", "2024-01-01 09:00"),
            ("p1", "2024-01-29 10:00"),  # 28 days after 1 Jan: re-attended within 28
            ("p1", "2024-02-26 10:00"),  # 28 days after 29 Jan
            ("p1", "2024-03-25 10:00"),  # 28 days after 26 Feb -> 2024 is a leap year: 26 Feb + 28 = 25 Mar
            ("p2", "2024-01-10 08:00"),
            ("p2", "2024-02-08 08:00"),  # 29 days later: not within 28
            ("p3", "2024-01-15 23:00"),
            ("p3", "2024-01-15 08:00"),  # same day, earlier time: this one is first
        ]
    )
    out = reattendances(att, subject="patient_id", date="arrival", censor_at="2024-12-31")
    assert out["days_to_next"].iloc[:3].tolist() == [28, 28, 28]
    assert out["days_to_next"].iloc[3] is pd.NA
    assert out["reattended_within"].tolist() == [True, True, True, False, False, False, False, True]
    assert out["days_to_next"].iloc[5] is pd.NA and out["days_to_next"].iloc[4] == 29
    assert out["days_to_next"].iloc[7] == 0  # 08:00 attendance followed the same day at 23:00
    assert not out["censored"].any()
    assert list(out.columns) == [
        "patient_id",
        "arrival",
        "days_to_next",
        "reattended_within",
        "censored",
        "patient_missing",
    ]


def test_within_parameter_changes_threshold() -> None:
    att = attendances([("p1", "2024-01-01"), ("p1", "2024-01-08")])
    assert reattendances(att, subject="patient_id", date="arrival", within=7)[
        "reattended_within"
    ].tolist() == [True, False]
    assert reattendances(att, subject="patient_id", date="arrival", within=6)[
        "reattended_within"
    ].tolist() == [False, False]


def test_censoring_of_last_days_before_extract_end() -> None:
    att = attendances([("p1", "2024-03-03"), ("p1", "2024-03-04"), ("p2", "2024-03-04")])
    out = reattendances(att, subject="patient_id", date="arrival", within=28, censor_at="2024-04-01")
    # 3 Mar + 28 days = 31 Mar, the last day covered: complete follow-up. 4 Mar + 28 = 1 Apr: censored.
    assert out["censored"].tolist() == [False, True, True]
    assert out["reattended_within"].tolist() == [True, False, False]


def test_default_censor_is_day_after_last_attendance() -> None:
    att = attendances([("p1", "2024-01-01"), ("p2", "2024-01-10")])
    out = reattendances(att, subject="patient_id", date="arrival", within=5)
    # censor_at defaults to 11 Jan: 1 Jan + 5 = 6 Jan < 11 Jan (complete); 10 Jan + 5 >= 11 Jan (censored).
    assert out["censored"].tolist() == [False, True]


def test_missing_patient_ids_flagged_not_dropped() -> None:
    att = attendances([(None, "2024-01-01"), ("p1", "2024-01-02"), (None, "2024-01-03")])
    with pytest.warns(UserWarning, match=r"2 events row\(s\) have no 'patient_id'"):
        out = reattendances(att, subject="patient_id", date="arrival", censor_at="2024-12-01")
    assert len(out) == 3
    assert out["patient_missing"].tolist() == [True, False, True]
    # Rows without an id are never linked to each other.
    assert out["reattended_within"].tolist() == [False, False, False]
    assert out["days_to_next"].isna().all()


def test_reattendances_input_order_and_file_input(tmp_path) -> None:
    att = attendances(
        [("p2", "2024-01-05"), ("p1", "2024-01-01"), ("p1", "2024-01-03")], attendance_id=["c", "a", "b"]
    )
    before = att.copy()
    out = reattendances(att, subject="patient_id", date="arrival", censor_at="2024-06-01")
    assert out["attendance_id"].tolist() == ["c", "a", "b"]
    assert out["reattended_within"].tolist() == [False, True, False]
    pd.testing.assert_frame_equal(att, before)
    att.to_csv(tmp_path / "att.csv", index=False)
    from_csv = reattendances(
        tmp_path / "att.csv", subject="patient_id", date="arrival", censor_at="2024-06-01"
    )
    assert from_csv["attendance_id"].tolist() == ["c", "a", "b"]
    assert from_csv["reattended_within"].tolist() == [False, True, False]


def test_reattendance_errors() -> None:
    att = attendances([("p1", "2024-01-01")])
    with pytest.raises(ValueError, match="within"):
        reattendances(att, subject="patient_id", date="arrival", within=-1)
    with pytest.raises(SeriesInputError, match=r"'person' \(given as subject=\)"):
        reattendances(att, subject="person", date="arrival")
    bad = att.assign(arrival=[pd.NaT])
    with pytest.raises(SeriesInputError, match=r"'arrival'.*missing.*row\(s\) 0"):
        reattendances(bad, subject="patient_id", date="arrival")


def test_reattendance_series_hand_worked() -> None:
    att = attendances(
        [
            ("p1", "2024-01-03"),  # re-attends 20 Jan: eligible, reattended
            ("p1", "2024-01-20"),  # no further: eligible, not reattended
            ("p2", "2024-01-10"),  # eligible, not reattended
            (None, "2024-01-11"),  # patient missing
            ("p3", "2024-02-25"),  # 25 Feb + 28 >= 1 Mar: censored
            ("p3", "2024-02-26"),  # censored, even though... nothing follows
        ],
        site=["A", "A", "A", "A", "B", "B"],
    )
    with pytest.warns(UserWarning, match="no 'patient_id'"):
        out = reattendance_series(
            att, subject="patient_id", date="arrival", by="site", censor_at="2024-03-01"
        )
    assert list(out.columns) == [
        "period",
        "site",
        "count",
        "patient_missing",
        "censored",
        "eligible",
        "reattended",
        "proportion",
    ]
    a_jan = out[(out["site"] == "A") & (out["period"] == "2024-01-01")].iloc[0]
    assert (
        a_jan["count"],
        a_jan["patient_missing"],
        a_jan["censored"],
        a_jan["eligible"],
        a_jan["reattended"],
    ) == (
        4,
        1,
        0,
        3,
        1,
    )
    assert a_jan["proportion"] == pytest.approx(1 / 3)
    b_feb = out[(out["site"] == "B") & (out["period"] == "2024-02-01")].iloc[0]
    assert (b_feb["count"], b_feb["censored"], b_feb["eligible"], b_feb["reattended"]) == (2, 2, 0, 0)
    assert pd.isna(b_feb["proportion"])
    assert (out["count"] == out["patient_missing"] + out["censored"] + out["eligible"]).all()
    assert len(out) == 4


def test_series_uses_follow_up_after_window_end() -> None:
    att = attendances([("p1", "2024-01-30"), ("p1", "2024-02-05")])
    out = reattendance_series(
        att,
        subject="patient_id",
        date="arrival",
        start="2024-01-01",
        end="2024-02-01",
        censor_at="2024-06-01",
    )
    assert out["count"].tolist() == [1]
    assert out["reattended"].tolist() == [1]


@FAST
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.integers(min_value=0, max_value=120)),
        min_size=1,
        max_size=25,
    ),
    within=st.integers(min_value=0, max_value=40),
)
def test_reattendance_matches_naive_loop(rows: list[tuple[str, int]], within: int) -> None:
    day0 = dt.date(2024, 1, 1)
    att = pd.DataFrame(
        {
            "patient_id": [p for p, _ in rows],
            "arrival": [
                pd.Timestamp(day0 + dt.timedelta(days=d)) + pd.Timedelta(minutes=i)
                for i, (_, d) in enumerate(rows)
            ],
        }
    )
    censor = day0 + dt.timedelta(days=100)
    out = reattendances(att, subject="patient_id", date="arrival", within=within, censor_at=censor)
    for i, (p, d) in enumerate(rows):
        later = [d2 for j, (p2, d2) in enumerate(rows) if p2 == p and (d2, j) > (d, i)]
        expected = bool(later) and min(later) - d <= within
        assert out["reattended_within"].iloc[i] == expected
        assert out["censored"].iloc[i] == (d + within >= 100)


# --------------------------------------------------------------------------- readmission


def test_readmissions_hand_worked() -> None:
    sp = spells(
        [
            ("p1", "2024-01-01", "2024-01-10"),  # next admission 7 Feb = 28 days after 10 Jan: readmitted
            (
                "p1",
                "2024-02-07",
                "2024-02-09",
            ),  # next admission 9 Feb, same day as discharge: readmitted (0 days)
            ("p1", "2024-02-09", "2024-02-20"),  # no next
            ("p2", "2024-01-01", "2024-01-31"),  # next admission 29 Feb = 29 days later: not within 28
            ("p2", "2024-02-29", None),  # open
            ("p3", "2024-01-01", "2024-03-01"),  # overlapping next spell (admitted before this discharge)
            ("p3", "2024-02-01", "2024-02-05"),
        ]
    )
    out = readmissions(
        sp, subject="patient_id", admitted="admitted", discharged="discharged", censor_at="2024-12-01"
    )
    assert out["readmitted_within"].tolist() == [True, True, False, False, False, False, False]
    assert (
        out["days_to_next"].iloc[0] == 28
        and out["days_to_next"].iloc[1] == 0
        and out["days_to_next"].iloc[3] == 29
    )
    assert out["days_to_next"].iloc[5] == -29  # shows the overlap
    assert out["open"].tolist() == [False, False, False, False, True, False, False]
    assert out["censored"].tolist() == [False, False, False, False, True, False, False]


def test_readmission_censoring_and_series() -> None:
    sp = spells(
        [
            ("p1", "2024-01-01", "2024-01-05"),  # readmitted 20 Jan
            ("p1", "2024-01-20", "2024-01-22"),  # not readmitted; 22 Jan + 28 < 1 Mar
            ("p2", "2024-02-01", "2024-02-02"),  # 2 Feb + 28 = 1 Mar = censor_at: censored
            ("p3", "2024-01-03", None),  # open: not a discharge, not an index event
        ],
        site=["A", "A", "A", "B"],
    )
    out = readmission_series(
        sp,
        subject="patient_id",
        admitted="admitted",
        discharged="discharged",
        by="site",
        censor_at="2024-03-01",
    )
    a = out[out["site"] == "A"].reset_index(drop=True)
    assert a["discharges"].tolist() == [2, 1]
    assert a["censored"].tolist() == [0, 1]
    assert a["eligible"].tolist() == [2, 0]
    assert a["readmitted"].tolist() == [1, 0]
    assert a["proportion"].iloc[0] == 0.5 and pd.isna(a["proportion"].iloc[1])
    b = out[out["site"] == "B"]
    assert b["discharges"].sum() == 0


def test_readmissions_missing_patient_warns() -> None:
    sp = spells([(None, "2024-01-01", "2024-01-05"), ("p1", "2024-01-02", "2024-01-03")])
    with pytest.warns(UserWarning, match=r"1 spells row\(s\) have no 'patient_id'"):
        out = readmissions(sp, subject="patient_id", admitted="admitted", discharged="discharged")
    assert out["patient_missing"].tolist() == [True, False]
    assert len(out) == 2
