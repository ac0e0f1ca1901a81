"""Tests for evaltoolkit.series.length_of_stay and los_by_period."""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series import length_of_stay, los_by_period

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame(rows: list[tuple[str, str | None]], **extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "admitted": pd.to_datetime([a for a, _ in rows], format="ISO8601"),
            "discharged": pd.to_datetime([d for _, d in rows], format="ISO8601"),
            **extra,
        }
    )


# --------------------------------------------------------------------------- length_of_stay


def test_length_of_stay_per_spell() -> None:
    spells = frame(
        [
            ("2024-01-30 22:00", "2024-02-02 08:00"),
            ("2024-02-27", "2024-03-02"),
            ("2024-03-01", "2024-03-01"),
            ("2024-03-10", None),
        ],
        spell_id=["s1", "s2", "s3", "s4"],
    )
    before = spells.copy()
    out = length_of_stay(spells, admitted="admitted", discharged="discharged")
    # 30 Jan → 2 Feb = 3 days; 27 Feb → 2 Mar 2024 (leap year) = 4; same day = 0; open = unknown.
    assert out["los_days"].tolist()[:3] == [3, 4, 0]
    assert out["los_days"].isna().tolist() == [False, False, False, True]
    assert out["open"].tolist() == [False, False, False, True]
    assert str(out["los_days"].dtype) == "Int64"
    assert list(out.columns) == ["admitted", "discharged", "spell_id", "los_days", "open"]
    pd.testing.assert_frame_equal(spells, before)


def test_length_of_stay_censored_open_spells() -> None:
    spells = frame([("2024-03-10", None)])
    out = length_of_stay(spells, admitted="admitted", discharged="discharged", censor_at="2024-04-01")
    assert out["los_days"].tolist() == [22]
    assert out["open"].tolist() == [True]


def test_length_of_stay_keeps_input_order_and_resets_index(tmp_path) -> None:
    spells = frame([("2024-01-05", "2024-01-07"), ("2023-01-01", "2023-01-11")], spell_id=["b", "a"])
    spells.index = [10, 20]
    out = length_of_stay(spells, admitted="admitted", discharged="discharged")
    assert out["spell_id"].tolist() == ["b", "a"]
    assert out["los_days"].tolist() == [2, 10]
    assert isinstance(out.index, pd.RangeIndex)
    spells.to_parquet(tmp_path / "s.parquet", index=False)
    from_file = length_of_stay(tmp_path / "s.parquet", admitted="admitted", discharged="discharged")
    assert from_file["spell_id"].tolist() == ["b", "a"]
    assert from_file["los_days"].tolist() == [2, 10]


def test_length_of_stay_refuses_to_overwrite_columns() -> None:
    spells = frame([("2024-01-05", "2024-01-07")], los_days=[99])
    with pytest.raises(SeriesInputError, match="los_days"):
        length_of_stay(spells, admitted="admitted", discharged="discharged")


def test_length_of_stay_negative_names_row() -> None:
    spells = frame([("2024-01-05", "2024-01-07"), ("2024-01-05", "2024-01-01")])
    with pytest.raises(SeriesInputError, match=r"before the admission date.*row\(s\) 1\b"):
        length_of_stay(spells, admitted="admitted", discharged="discharged")


# --------------------------------------------------------------------------- los_by_period


def test_los_by_period_hand_worked() -> None:
    spells = frame(
        [
            ("2024-01-05", "2024-01-09"),  # Jan admission, Jan discharge, LOS 4
            ("2024-01-20", "2024-02-03"),  # Jan admission, Feb discharge, LOS 14
            ("2024-01-25", None),  # Jan admission, open
            ("2024-02-10", "2024-02-11"),  # Feb admission, Feb discharge, LOS 1
            ("2024-02-12", "2024-02-15"),  # Feb admission, Feb discharge, LOS 3
        ]
    )
    out = los_by_period(spells, admitted="admitted", discharged="discharged", end="2024-04-01")
    assert list(out.columns) == [
        "period",
        "admissions",
        "discharges",
        "mean_los_discharged",
        "median_los_discharged",
        "mean_los_admitted",
        "median_los_admitted",
        "open_admitted",
    ]
    assert out["admissions"].tolist() == [3, 2, 0]
    assert out["discharges"].tolist() == [1, 3, 0]
    assert out["open_admitted"].tolist() == [1, 0, 0]
    np.testing.assert_array_equal(out["mean_los_discharged"], [4.0, (14 + 1 + 3) / 3, np.nan])
    np.testing.assert_array_equal(out["median_los_discharged"], [4.0, 3.0, np.nan])
    np.testing.assert_array_equal(out["mean_los_admitted"], [9.0, 2.0, np.nan])
    np.testing.assert_array_equal(out["median_los_admitted"], [9.0, 2.0, np.nan])


def test_los_by_period_discharges_of_spells_admitted_before_start() -> None:
    spells = frame([("2023-10-01", "2024-01-15"), ("2024-01-02", "2024-01-04")])
    out = los_by_period(
        spells, admitted="admitted", discharged="discharged", start="2024-01-01", end="2024-02-01"
    )
    # Both discharged in January (one admitted long before the window): mean of 106 and 2.
    assert out["discharges"].tolist() == [2]
    assert out["admissions"].tolist() == [1]
    assert out["mean_los_discharged"].tolist() == [54.0]


def test_los_by_period_by_site_with_levels() -> None:
    spells = frame([("2024-01-05", "2024-01-09"), ("2024-01-05", "2024-01-06")], site=["A", "B"])
    out = los_by_period(
        spells, admitted="admitted", discharged="discharged", by="site", levels={"site": ["A", "B", "C"]}
    )
    assert out["site"].tolist() == ["A", "B", "C"]
    assert out["mean_los_discharged"].tolist()[:2] == [4.0, 1.0]
    assert np.isnan(out["mean_los_discharged"].iloc[2])
    assert out["discharges"].tolist() == [1, 1, 0]


dates = st.integers(min_value=0, max_value=300)


@FAST
@given(raw=st.lists(st.tuples(dates, st.one_of(st.none(), st.integers(0, 90))), min_size=1, max_size=30))
def test_los_by_period_matches_pandas_reference(raw: list[tuple[int, int | None]]) -> None:
    day0 = dt.date(2023, 1, 1)
    adm = [day0 + dt.timedelta(days=a) for a, _ in raw]
    dis = [None if los is None else day0 + dt.timedelta(days=a + los) for a, los in raw]
    spells = pd.DataFrame({"admitted": pd.to_datetime(adm), "discharged": pd.to_datetime(dis)})
    start, end = dt.date(2023, 2, 1), dt.date(2023, 9, 1)
    out = los_by_period(spells, admitted="admitted", discharged="discharged", start=start, end=end)
    for period, row in zip(out["period"], out.itertuples(), strict=True):
        p = period.date()
        nxt = (period + pd.offsets.MonthBegin(1)).date()
        by_dis = [(d - a).days for a, d in zip(adm, dis, strict=True) if d is not None and p <= d < nxt]
        by_adm = [a for a in adm if p <= a < nxt]
        closed_adm = [(d - a).days for a, d in zip(adm, dis, strict=True) if p <= a < nxt and d is not None]
        assert row.discharges == len(by_dis)
        assert row.admissions == len(by_adm)
        assert row.open_admitted == len(by_adm) - len(closed_adm)
        if by_dis:
            assert row.mean_los_discharged == pytest.approx(statistics.fmean(by_dis), rel=1e-12)
            assert row.median_los_discharged == statistics.median(by_dis)
        else:
            assert np.isnan(row.mean_los_discharged) and np.isnan(row.median_los_discharged)
        if closed_adm:
            assert row.median_los_admitted == statistics.median(closed_adm)
        else:
            assert np.isnan(row.mean_los_admitted)
