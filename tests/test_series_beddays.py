"""Tests for evaltoolkit.series.bed_days (midnights convention, split across periods)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series import bed_days

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAY = dt.timedelta(days=1)


def spells_frame(rows: list[tuple[str, str | None]], **extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "admitted": pd.to_datetime([a for a, _ in rows], format="ISO8601"),
            "discharged": pd.to_datetime([d for _, d in rows], format="ISO8601"),
            **extra,
        }
    )


def beds(spells: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    return bed_days(spells, admitted="admitted", discharged="discharged", **kwargs)  # type: ignore[arg-type]


def by_month(out: pd.DataFrame, column: str = "bed_days") -> dict[str, int]:
    return {p.strftime("%Y-%m"): int(v) for p, v in zip(out["period"], out[column], strict=True)}


def naive_floor(d: dt.date, freq: str) -> dt.date:
    if freq == "MS":
        return dt.date(d.year, d.month, 1)
    if freq == "W-MON":
        return d - dt.timedelta(days=d.weekday())
    if freq == "QS":
        return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return dt.date(d.year, 1, 1)


def naive_bed_days(
    spells: list[tuple[dt.date, dt.date | None]], start: dt.date, end: dt.date, censor: dt.date, freq: str
) -> Counter:
    """Day-by-day reference: every night d with admitted <= d < discharged (or censor), inside the window."""
    tally: Counter = Counter()
    for admitted, discharged in spells:
        night = admitted
        last = discharged if discharged is not None else censor
        while night < last:
            if start <= night < end:
                tally[naive_floor(night, freq)] += 1
            night += DAY
    return tally


# --------------------------------------------------------------------------- hand-worked cases


def test_month_boundary_split() -> None:
    # Nights of 30 Jan, 31 Jan (January) and 1 Feb (February).
    out = beds(spells_frame([("2024-01-30 14:00", "2024-02-02 10:00")]))
    assert by_month(out) == {"2024-01": 2, "2024-02": 1}


def test_year_boundary_split() -> None:
    # Nights of 30 Dec, 31 Dec (December 2023) and 1 Jan (January 2024).
    out = beds(spells_frame([("2023-12-30", "2024-01-02")]))
    assert by_month(out) == {"2023-12": 2, "2024-01": 1}


def test_leap_day() -> None:
    # Nights of 27, 28, 29 Feb 2024 (February) and 1 Mar (March).
    out = beds(spells_frame([("2024-02-27", "2024-03-02")]))
    assert by_month(out) == {"2024-02": 3, "2024-03": 1}


def test_same_day_spell_is_zero() -> None:
    out = beds(spells_frame([("2024-01-10 02:00", "2024-01-10 23:00")]))
    assert by_month(out) == {"2024-01": 0}


def test_open_spell_censored_at_extract_date() -> None:
    spells = spells_frame([("2024-01-30", None), ("2024-01-01", "2024-01-03")])
    out = beds(spells, censor_at="2024-03-05", split_open=True)
    # Open spell: nights 30 Jan .. 4 Mar = 2 (Jan) + 29 (Feb) + 4 (Mar); closed spell: 2 nights in Jan.
    assert by_month(out) == {"2024-01": 4, "2024-02": 29, "2024-03": 4}
    assert by_month(out, "open_bed_days") == {"2024-01": 2, "2024-02": 29, "2024-03": 4}
    assert list(out.columns) == ["period", "bed_days", "open_bed_days"]


def test_spell_admitted_before_start_counts_nights_inside() -> None:
    out = beds(spells_frame([("2023-11-20", "2024-01-04")]), start="2024-01-01", end="2024-02-01")
    # Only the nights of 1, 2, 3 January fall inside the window.
    assert by_month(out) == {"2024-01": 3}


def test_spell_spanning_the_whole_window() -> None:
    out = beds(spells_frame([("2023-06-01", "2025-01-01")]), start="2024-01-01", end="2024-04-01")
    assert by_month(out) == {"2024-01": 31, "2024-02": 29, "2024-03": 31}


def test_window_end_mid_month_clips_nights() -> None:
    out = beds(spells_frame([("2024-01-25", "2024-02-20")]), start="2024-01-01", end="2024-02-10")
    # Nights 25–31 Jan (7) and 1–9 Feb (9); the night of 10 Feb is outside [start, end).
    assert by_month(out) == {"2024-01": 7, "2024-02": 9}


def test_weekly_split() -> None:
    # Sunday 7 Jan 2024 → Tuesday 9 Jan: the night of 7 Jan is in the week of Mon 1 Jan, 8 Jan in the next.
    out = beds(spells_frame([("2024-01-07", "2024-01-09")]), freq="W-MON")
    assert out["period"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-08"]))
    assert out["bed_days"].tolist() == [1, 1]


def test_quarterly_split() -> None:
    out = beds(spells_frame([("2024-03-30", "2024-04-03")]), freq="QS")
    assert out["bed_days"].tolist() == [2, 2]


def test_zero_filled_gap_months() -> None:
    out = beds(spells_frame([("2024-01-10", "2024-01-12"), ("2024-04-10", "2024-04-11")]))
    assert by_month(out) == {"2024-01": 2, "2024-02": 0, "2024-03": 0, "2024-04": 1}


def test_default_end_covers_last_censored_night() -> None:
    out = beds(spells_frame([("2024-01-30", None)]), censor_at="2024-04-01")
    # Last night counted is 31 March, so the default window ends on 1 April.
    assert by_month(out) == {"2024-01": 2, "2024-02": 29, "2024-03": 31}


def test_by_and_levels() -> None:
    spells = spells_frame([("2024-01-30", "2024-02-02"), ("2024-02-01", "2024-02-03")], site=["A", "B"])
    out = beds(spells, by="site", levels={"site": ["A", "B", "C"]})
    assert out["site"].tolist() == ["A", "A", "B", "B", "C", "C"]
    assert out["bed_days"].tolist() == [2, 1, 0, 2, 0, 0]


def test_string_dates_and_input_not_mutated() -> None:
    spells = pd.DataFrame({"admitted": ["2024-01-30"], "discharged": ["2024-02-02 09:00:00"]})
    before = spells.copy()
    assert by_month(beds(spells)) == {"2024-01": 2, "2024-02": 1}
    pd.testing.assert_frame_equal(spells, before)


# --------------------------------------------------------------------------- errors


def test_open_spells_without_censor_name_rows() -> None:
    spells = spells_frame([("2024-01-01", "2024-01-02"), ("2024-01-05", None), ("2024-01-06", None)])
    with pytest.raises(SeriesInputError, match=r"open spells.*censor_at.*2 row\(s\), at row\(s\) 1, 2"):
        beds(spells)


def test_discharge_before_admission_names_rows() -> None:
    spells = spells_frame([("2024-01-05", "2024-01-04"), ("2024-01-05", "2024-01-06")])
    with pytest.raises(SeriesInputError, match=r"before the admission date.*row\(s\) 0\b"):
        beds(spells)


def test_missing_admission_dates_name_rows() -> None:
    spells = spells_frame([("2024-01-05", "2024-01-06"), (None, "2024-01-06")])
    with pytest.raises(SeriesInputError, match=r"'admitted' \(admitted=\) has missing dates.*row\(s\) 1\b"):
        beds(spells)


def test_unparseable_discharge_names_rows() -> None:
    spells = pd.DataFrame({"admitted": ["2024-01-05", "2024-01-06"], "discharged": ["soon", None]})
    with pytest.raises(SeriesInputError, match=r"'discharged'.*unparseable.*row\(s\) 0\b"):
        beds(spells, censor_at="2024-02-01")


def test_open_spell_admitted_after_censor() -> None:
    spells = spells_frame([("2024-03-05", None)])
    with pytest.raises(SeriesInputError, match="after censor_at"):
        beds(spells, censor_at="2024-03-01")


def test_missing_column() -> None:
    spells = spells_frame([("2024-01-05", "2024-01-06")]).rename(columns={"discharged": "disch"})
    with pytest.raises(SeriesInputError, match=r"'discharged' \(given as discharged=\)"):
        beds(spells)


# --------------------------------------------------------------------------- input forms


def test_parquet_and_csv_paths_match_dataframe(tmp_path) -> None:
    rng = np.random.default_rng(3)
    n = 200
    admitted = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    los = pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    discharged = (admitted + los).to_series().reset_index(drop=True)
    discharged[rng.random(n) < 0.1] = pd.NaT
    spells = pd.DataFrame(
        {"site": rng.choice(["S1", "S2"], n), "admitted": admitted, "discharged": discharged}
    )
    spells.to_parquet(tmp_path / "s.parquet", index=False)
    spells.to_csv(tmp_path / "s.csv", index=False)
    kwargs = {"by": "site", "censor_at": "2024-06-01", "split_open": True, "start": "2023-03-01"}
    expected = beds(spells, **kwargs)
    pd.testing.assert_frame_equal(beds(tmp_path / "s.parquet", **kwargs), expected)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(beds(tmp_path / "s.csv", **kwargs), expected)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

day0 = dt.date(2022, 11, 1)
spell_strategy = st.tuples(
    st.integers(min_value=0, max_value=500),  # admission day offset
    st.one_of(st.none(), st.integers(min_value=0, max_value=120)),  # LOS in days, None = open
)


@FAST
@given(
    raw=st.lists(spell_strategy, min_size=1, max_size=25),
    start_offset=st.integers(min_value=0, max_value=450),
    span=st.integers(min_value=1, max_value=400),
    freq=st.sampled_from(["MS", "W-MON", "QS", "YS"]),
)
def test_bed_days_equal_naive_day_by_day_loop(
    raw: list[tuple[int, int | None]], start_offset: int, span: int, freq: str
) -> None:
    censor = day0 + dt.timedelta(days=560)
    spells = [
        (day0 + dt.timedelta(days=a), None if los is None else day0 + dt.timedelta(days=a + los))
        for a, los in raw
    ]
    start = day0 + dt.timedelta(days=start_offset)
    end = start + dt.timedelta(days=span)
    frame = pd.DataFrame(
        {
            "admitted": pd.to_datetime([a for a, _ in spells]) + pd.Timedelta(hours=13),
            "discharged": pd.to_datetime([d for _, d in spells]) + pd.Timedelta(hours=9),
        }
    )
    out = beds(frame, start=start, end=end, censor_at=censor, freq=freq, split_open=True)
    reference = naive_bed_days(spells, start, end, censor, freq)
    got = {p.date(): int(v) for p, v in zip(out["period"], out["bed_days"], strict=True)}
    assert {p: v for p, v in got.items() if v} == {p: v for p, v in reference.items() if v}
    assert (out["bed_days"] >= 0).all() and (out["open_bed_days"] <= out["bed_days"]).all()
    # Sum over periods = sum of LOS (nights) clipped to the window.
    clipped = sum(max(0, (min(d if d is not None else censor, end) - max(a, start)).days) for a, d in spells)
    assert int(out["bed_days"].sum()) == clipped
    open_reference = naive_bed_days([s for s in spells if s[1] is None], start, end, censor, freq)
    assert int(out["open_bed_days"].sum()) == sum(open_reference.values())


@FEWER
@given(raw=st.lists(spell_strategy, min_size=1, max_size=25), seed=st.integers(min_value=0, max_value=1000))
def test_invariant_to_row_order(raw: list[tuple[int, int | None]], seed: int) -> None:
    frame = pd.DataFrame(
        {
            "admitted": [pd.Timestamp(day0) + pd.Timedelta(days=a) for a, _ in raw],
            "discharged": [
                pd.NaT if los is None else pd.Timestamp(day0) + pd.Timedelta(days=a + los) for a, los in raw
            ],
            "site": ["A" if i % 3 else "B" for i in range(len(raw))],
        }
    )
    shuffled = frame.sample(frac=1, random_state=seed)
    before = shuffled.copy(deep=True)
    kwargs = {"by": "site", "censor_at": "2024-06-01"}
    pd.testing.assert_frame_equal(beds(frame, **kwargs), beds(shuffled, **kwargs))
    pd.testing.assert_frame_equal(shuffled, before)
