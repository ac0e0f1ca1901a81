"""Tests for evaltoolkit.series.frequent_attenders and frequent_attender_series."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series import frequent_attender_series, frequent_attenders

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def attendances(rows: list[tuple[str | None, str]], **extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {"patient_id": [p for p, _ in rows], "arrival": pd.to_datetime([d for _, d in rows]), **extra}
    )


def month_number(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def test_at_window_counts_the_twelve_months_before() -> None:
    att = attendances(
        [
            ("p1", "2023-02-09"),  # just before the window [2023-02-10, 2024-02-10)
            ("p1", "2023-02-10"),
            ("p1", "2023-06-01"),
            ("p1", "2023-09-01"),
            ("p1", "2023-12-01"),
            ("p1", "2024-02-09"),
            ("p1", "2024-02-10"),  # on `at`: excluded
            ("p2", "2020-01-01"),  # seen, but nothing in the window
        ]
    )
    out = frequent_attenders(att, subject="patient_id", date="arrival", at="2024-02-10")
    assert out["patient_id"].tolist() == ["p1", "p2"]
    assert out["attendances"].tolist() == [5, 0]
    assert out["frequent"].tolist() == [True, False]
    assert out["window_start"].tolist() == [pd.Timestamp("2023-02-10")] * 2
    assert out["window_end"].tolist() == [pd.Timestamp("2024-02-10")] * 2


def test_at_month_end_clamps() -> None:
    att = attendances([("p1", "2023-02-28"), ("p1", "2023-02-27")])
    out = frequent_attenders(
        att, subject="patient_id", date="arrival", at="2024-02-29", window_months=12, threshold=1
    )
    # 29 Feb 2024 − 12 months = 28 Feb 2023 (clamped): 28 Feb is in, 27 Feb is out.
    assert out["window_start"].iloc[0] == pd.Timestamp("2023-02-28")
    assert out["attendances"].tolist() == [1]


def test_max_over_calendar_month_windows() -> None:
    # Five attendances within 361 days, but spread over 13 calendar months (Jan 2023 – Jan 2024).
    att = attendances(
        [
            ("p1", "2023-01-15"),
            ("p1", "2023-04-01"),
            ("p1", "2023-07-01"),
            ("p1", "2023-10-01"),
            ("p1", "2024-01-10"),
        ]
    )
    out = frequent_attenders(att, subject="patient_id", date="arrival")
    # Any 12 consecutive calendar months hold at most 4; the earliest such run is Nov 2022 – Oct 2023.
    assert out["attendances"].tolist() == [4]
    assert not out["frequent"].iloc[0]
    assert out["window_start"].iloc[0] == pd.Timestamp("2022-11-01")
    assert out["window_end"].iloc[0] == pd.Timestamp("2023-11-01")


def test_by_site_and_missing_ids_warn() -> None:
    att = attendances(
        [("p1", "2024-01-01"), ("p1", "2024-01-02"), ("p1", "2024-01-03"), (None, "2024-01-04")],
        site=["A", "A", "B", "A"],
    )
    with pytest.warns(UserWarning, match=r"1 events row\(s\) have no 'patient_id'"):
        out = frequent_attenders(att, subject="patient_id", date="arrival", by="site", threshold=2)
    assert out[["site", "patient_id", "attendances", "frequent"]].values.tolist() == [
        ["A", "p1", 2, True],
        ["B", "p1", 1, False],
    ]


def test_argument_checks() -> None:
    att = attendances([("p1", "2024-01-01")])
    with pytest.raises(ValueError, match="threshold"):
        frequent_attenders(att, subject="patient_id", date="arrival", threshold=0)
    with pytest.raises(ValueError, match="month-based"):
        frequent_attender_series(att, subject="patient_id", date="arrival", freq="W-MON")
    with pytest.raises(SeriesInputError, match="patient"):
        frequent_attenders(att, subject="pid", date="arrival")


def test_series_hand_worked() -> None:
    att = attendances(
        [("p1", "2024-01-05"), ("p1", "2024-02-10"), ("p1", "2024-03-15"), ("p2", "2024-02-01")]
    )
    out = frequent_attender_series(att, subject="patient_id", date="arrival", threshold=2, window_months=2)
    # Windows (2 months ending with the period): Dec–Jan, Jan–Feb, Feb–Mar.
    assert out["attenders"].tolist() == [1, 2, 2]
    assert out["frequent_attenders"].tolist() == [0, 1, 1]
    assert out["window_complete"].tolist() == [False, True, True]


def test_series_quarterly_window_ends_with_quarter() -> None:
    att = attendances([("p1", "2023-04-01"), ("p1", "2023-06-30"), ("p1", "2023-07-01")])
    out = frequent_attender_series(
        att, subject="patient_id", date="arrival", threshold=2, window_months=3, freq="QS", start="2023-04-01"
    )
    # Q2 (Apr–Jun) holds 2 attendances, Q3 holds 1.
    assert out["period"].tolist() == [pd.Timestamp("2023-04-01"), pd.Timestamp("2023-07-01")]
    assert out["frequent_attenders"].tolist() == [1, 0]


@FAST
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["p1", "p2", "p3", "p4"]), st.integers(min_value=0, max_value=700)),
        min_size=1,
        max_size=40,
    ),
    threshold=st.integers(min_value=1, max_value=4),
    window=st.integers(min_value=1, max_value=12),
)
def test_against_naive_month_windows(rows: list[tuple[str, int]], threshold: int, window: int) -> None:
    day0 = dt.date(2022, 1, 1)
    dates = [day0 + dt.timedelta(days=d) for _, d in rows]
    att = pd.DataFrame({"patient_id": [p for p, _ in rows], "arrival": pd.to_datetime(dates)})
    per_patient = frequent_attenders(
        att, subject="patient_id", date="arrival", threshold=threshold, window_months=window
    )
    months: dict[str, Counter] = {}
    for (p, _), d in zip(rows, dates, strict=True):
        months.setdefault(p, Counter())[month_number(d)] += 1
    for p, row in zip(per_patient["patient_id"], per_patient.itertuples(), strict=True):
        counts = months[p]
        best = max(
            sum(counts[m] for m in range(t - window + 1, t + 1)) for t in range(min(counts), max(counts) + 1)
        )
        assert row.attendances == best
        assert row.frequent == (best >= threshold)
    series = frequent_attender_series(
        att, subject="patient_id", date="arrival", threshold=threshold, window_months=window
    )
    for period, n_frequent, n_att in zip(
        series["period"], series["frequent_attenders"], series["attenders"], strict=True
    ):
        t = month_number(period.date())
        totals = {p: sum(c[m] for m in range(t - window + 1, t + 1)) for p, c in months.items()}
        assert n_frequent == sum(v >= threshold for v in totals.values())
        assert n_att == sum(v >= 1 for v in totals.values())
    # The per-patient maximum says whether a patient is ever frequent in the monthly series' data range.
    assert per_patient["frequent"].sum() >= series["frequent_attenders"].max()
