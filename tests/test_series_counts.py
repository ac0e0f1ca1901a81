"""Tests for evaltoolkit.series.count_events (and the shared window/period/input machinery)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series import count_events

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ts(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, format="ISO8601"))


def naive_floor(d: dt.date, freq: str) -> dt.date:
    """Independent period floor, written from the calendar definitions."""
    if freq == "MS":
        return dt.date(d.year, d.month, 1)
    if freq == "W-MON":
        return d - dt.timedelta(days=d.weekday())
    if freq == "QS":
        return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    if freq == "YS":
        return dt.date(d.year, 1, 1)
    raise AssertionError(freq)


def naive_next(d: dt.date, freq: str) -> dt.date:
    if freq == "W-MON":
        return d + dt.timedelta(days=7)
    months = {"MS": 1, "QS": 3, "YS": 12}[freq]
    m = d.month - 1 + months
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def naive_periods(start: dt.date, end: dt.date, freq: str) -> list[dt.date]:
    out, p = [], naive_floor(start, freq)
    while p < end:
        out.append(p)
        p = naive_next(p, freq)
    return out


# --------------------------------------------------------------------------- hand-worked cases


def test_monthly_counts_with_zero_filled_gap() -> None:
    att = pd.DataFrame({"arrival": ts(["2024-01-31 23:59", "2024-01-01 00:00", "2024-04-02 08:00"])})
    out = count_events(att, date="arrival")
    # Jan: two events (date-times count on their calendar date), Feb and Mar: none, Apr: one.
    assert out["period"].tolist() == list(
        pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"])
    )
    assert out["count"].tolist() == [2, 0, 0, 1]
    assert list(out.columns) == ["period", "count"]
    assert out["count"].dtype == np.int64
    assert str(out["period"].dtype).startswith("datetime64")
    assert isinstance(out.index, pd.RangeIndex)


def test_weekly_periods_start_on_monday() -> None:
    # 2024-01-01 is a Monday; 2024-01-07 a Sunday; 2024-01-08 the next Monday.
    att = pd.DataFrame({"arrival": ts(["2024-01-07", "2024-01-08", "2024-01-01", "2024-01-24"])})
    out = count_events(att, date="arrival", freq="W-MON")
    assert out["period"].dt.day_of_week.eq(0).all()
    assert out["period"].tolist() == list(
        pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"])
    )
    assert out["count"].tolist() == [2, 1, 0, 1]


def test_weekly_window_starting_midweek_floors_to_monday() -> None:
    # start Wednesday 3 Jan: the first period is the week of Monday 1 Jan, but the event on 2 Jan is
    # before start and is not counted.
    att = pd.DataFrame({"arrival": ts(["2024-01-02", "2024-01-03", "2024-01-10"])})
    out = count_events(att, date="arrival", freq="W-MON", start="2024-01-03", end="2024-01-15")
    assert out["period"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-08"]))
    assert out["count"].tolist() == [1, 1]


def test_quarters_years_and_financial_years() -> None:
    att = pd.DataFrame({"arrival": ts(["2023-03-31", "2023-04-01", "2023-12-31", "2024-01-01"])})
    q = count_events(att, date="arrival", freq="QS")
    assert q["period"].tolist() == list(
        pd.to_datetime(["2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01", "2024-01-01"])
    )
    assert q["count"].tolist() == [1, 1, 0, 1, 1]
    y = count_events(att, date="arrival", freq="YS")
    assert y["count"].tolist() == [3, 1]
    # UK financial years start 1 April: 31 Mar 2023 is in FY 2022/23, the rest in FY 2023/24.
    fy = count_events(att, date="arrival", freq="YS-APR")
    assert fy["period"].tolist() == list(pd.to_datetime(["2022-04-01", "2023-04-01"]))
    assert fy["count"].tolist() == [1, 3]


def test_window_is_half_open_and_end_mid_month_keeps_partial_period() -> None:
    att = pd.DataFrame(
        {"arrival": ts(["2023-12-31", "2024-01-01", "2024-02-14", "2024-02-15", "2024-03-01"])}
    )
    out = count_events(att, date="arrival", start="2024-01-01", end="2024-02-15")
    # Events before start and on/after end are not counted; February is a partial period.
    assert out["period"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-02-01"]))
    assert out["count"].tolist() == [1, 1]


def test_window_wider_than_data_is_zero_filled() -> None:
    att = pd.DataFrame({"arrival": ts(["2024-02-10"])})
    out = count_events(att, date="arrival", start="2023-11-01", end="2024-05-01")
    assert out["count"].tolist() == [0, 0, 0, 1, 0, 0]


def test_by_groups_zero_filled_on_observed_combinations() -> None:
    att = pd.DataFrame(
        {
            "site": ["B", "A", "A", "B"],
            "sex": ["F", "F", "M", "F"],
            "arrival": ts(["2024-01-05", "2024-01-06", "2024-03-01", "2024-03-02"]),
        }
    )
    out = count_events(att, date="arrival", by=["site", "sex"])
    # Observed combinations: (A,F), (A,M), (B,F) × Jan, Feb, Mar; sorted by site, sex, period.
    assert list(out.columns) == ["period", "site", "sex", "count"]
    assert out[["site", "sex"]].drop_duplicates().values.tolist() == [["A", "F"], ["A", "M"], ["B", "F"]]
    assert out["count"].tolist() == [1, 0, 0, 0, 0, 1, 1, 0, 1]
    assert len(out) == 9


def test_levels_force_sites_without_events() -> None:
    att = pd.DataFrame({"site": ["A", "A"], "arrival": ts(["2024-01-05", "2024-02-06"])})
    out = count_events(att, date="arrival", by="site", levels={"site": ["A", "B", "C"]})
    assert out["site"].tolist() == ["A", "A", "B", "B", "C", "C"]
    assert out["count"].tolist() == [1, 1, 0, 0, 0, 0]


def test_levels_must_cover_observed_values() -> None:
    att = pd.DataFrame({"site": ["A", "Z"], "arrival": ts(["2024-01-05", "2024-02-06"])})
    with pytest.raises(SeriesInputError, match=r"'site'.*\['Z'\]"):
        count_events(att, date="arrival", by="site", levels={"site": ["A", "B"]})
    with pytest.raises(ValueError, match="not by columns"):
        count_events(att, date="arrival", by="site", levels={"sex": ["F"]})


def test_missing_group_value_is_its_own_group() -> None:
    att = pd.DataFrame({"site": ["A", None, None], "arrival": ts(["2024-01-05", "2024-01-06", "2024-02-01"])})
    out = count_events(att, date="arrival", by="site")
    assert len(out) == 4
    assert out["count"].sum() == 3
    missing = out[out["site"].isna()]
    assert missing["count"].tolist() == [1, 1]


def test_string_iso_dates_are_parsed() -> None:
    att = pd.DataFrame({"arrival": ["2024-01-05", "2024-01-06 10:30:00", "2024-02-01"]})
    out = count_events(att, date="arrival")
    assert out["count"].tolist() == [2, 1]


def test_date_objects_are_accepted() -> None:
    att = pd.DataFrame({"arrival": [dt.date(2024, 1, 5), dt.date(2024, 3, 1)]})
    assert count_events(att, date="arrival")["count"].tolist() == [1, 0, 1]


# --------------------------------------------------------------------------- errors


def test_missing_column_names_it() -> None:
    att = pd.DataFrame({"arrival": ts(["2024-01-05"])})
    with pytest.raises(SeriesInputError, match=r"'arrivl' \(given as date=\)"):
        count_events(att, date="arrivl")
    with pytest.raises(SeriesInputError, match=r"'site' \(given as by=\)"):
        count_events(att, date="arrival", by="site")


def test_nat_dates_raise_with_rows() -> None:
    att = pd.DataFrame(
        {"arrival": ts(["2024-01-05", None, "2024-01-07", None, None, None, None, None, None])}
    )
    with pytest.raises(SeriesInputError) as err:
        count_events(att, date="arrival")
    msg = str(err.value)
    assert "'arrival'" in msg and "missing" in msg
    assert "7 row(s)" in msg
    assert "row(s) 1, 3, 4, 5, 6, ..." in msg


def test_unparseable_strings_raise_with_rows() -> None:
    att = pd.DataFrame({"arrival": ["2024-01-05", "31/01/2024", "2024-02-01", "not a date"]})
    with pytest.raises(SeriesInputError, match=r"'arrival'.*unparseable.*2 row\(s\), at row\(s\) 1, 3"):
        count_events(att, date="arrival")


def test_non_date_column_type_is_rejected() -> None:
    att = pd.DataFrame({"arrival": [1, 2, 3]})
    with pytest.raises(SeriesInputError, match=r"'arrival' has type int64"):
        count_events(att, date="arrival")


def test_timezone_aware_dates_are_rejected() -> None:
    att = pd.DataFrame({"arrival": pd.to_datetime(["2024-01-05 10:00"]).tz_localize("UTC")})
    with pytest.raises(SeriesInputError, match="time-zone"):
        count_events(att, date="arrival")


@pytest.mark.parametrize("freq", ["M", "D", "W", "W-SUN", "QS-XYZ", "2MS", 7])
def test_unknown_freq_is_rejected(freq: object) -> None:
    att = pd.DataFrame({"arrival": ts(["2024-01-05"])})
    with pytest.raises(ValueError, match=r"not supported|must be a string"):
        count_events(att, date="arrival", freq=freq)  # type: ignore[arg-type]


def test_bad_window_arguments() -> None:
    att = pd.DataFrame({"arrival": ts(["2024-01-05"])})
    with pytest.raises(ValueError, match="empty"):
        count_events(att, date="arrival", start="2024-02-01", end="2024-01-01")
    with pytest.raises(ValueError, match="time of day"):
        count_events(att, date="arrival", start="2024-01-01 10:00")
    with pytest.raises(ValueError, match="not a date"):
        count_events(att, date="arrival", start="first of May")


def test_empty_input_needs_a_window() -> None:
    att = pd.DataFrame({"arrival": pd.Series([], dtype="datetime64[us]")})
    with pytest.raises(SeriesInputError, match="start= and end="):
        count_events(att, date="arrival")
    out = count_events(att, date="arrival", start="2024-01-01", end="2024-03-01")
    assert out["count"].tolist() == [0, 0]


def test_unsupported_input_type_and_path(tmp_path) -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        count_events([1, 2], date="arrival")  # type: ignore[arg-type]
    other = tmp_path / "events.xlsx"
    other.write_bytes(b"")
    with pytest.raises(SeriesInputError, match=r"must end in \.parquet"):
        count_events(other, date="arrival")
    with pytest.raises(FileNotFoundError):
        count_events("no/such/file.parquet", date="arrival")


# --------------------------------------------------------------------------- input forms


@pytest.fixture
def extract() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 300
    days = rng.integers(0, 400, n)
    arrival = (
        pd.Timestamp("2023-03-01")
        + pd.to_timedelta(days, unit="D")
        + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")
    )
    return pd.DataFrame(
        {
            "attendance_id": [f"a{i}" for i in range(n)],
            "site": rng.choice(["S1", "S2", "S3"], n),
            "arrival": arrival.floor("s"),
        }
    )


def test_dataframe_parquet_csv_arrow_ibis_give_identical_results(extract: pd.DataFrame, tmp_path) -> None:
    parquet = tmp_path / "att.parquet"
    csv = tmp_path / "att.csv"
    extract.to_parquet(parquet, index=False)
    extract.to_csv(csv, index=False)
    kwargs = {"date": "arrival", "by": "site", "start": "2023-04-01", "end": "2024-03-01"}
    expected = count_events(extract, **kwargs)
    for other in (
        parquet,
        str(parquet),
        csv,
        pa.Table.from_pandas(extract, preserve_index=False),
        ibis.memtable(pa.Table.from_pandas(extract, preserve_index=False)),
    ):
        pd.testing.assert_frame_equal(count_events(other, **kwargs), expected)
    # And the numbers themselves, from an independent pandas count.
    inside = extract[(extract["arrival"] >= "2023-04-01") & (extract["arrival"] < "2024-03-01")]
    ref = inside.groupby(["site", inside["arrival"].dt.to_period("M")]).size()
    got = expected.set_index(["site", expected["period"].dt.to_period("M")])["count"]
    assert (got.loc[ref.index] == ref).all()
    assert got.sum() == len(inside)


def test_csv_with_a_bad_date_late_in_the_file_names_its_row(extract: pd.DataFrame, tmp_path) -> None:
    bad = extract.astype({"arrival": "str"})
    bad.loc[250, "arrival"] = "2023-13-45"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    # a file: spreadsheet rows (header = row 1), so the 0-based position 250 is row 252
    with pytest.raises(
        SeriesInputError, match=r"unparseable.*1 row\(s\), at row\(s\) 252 \(spreadsheet rows of bad.csv"
    ):
        count_events(path, date="arrival")
    # the same frame in memory: 0-based positions, said as such
    with pytest.raises(SeriesInputError, match=r"at row\(s\) 250 \(0-based row positions in the events"):
        count_events(bad, date="arrival")


def test_input_frame_not_mutated(extract: pd.DataFrame) -> None:
    before = extract.copy(deep=True)
    count_events(extract, date="arrival", by="site")
    pd.testing.assert_frame_equal(extract, before)


# --------------------------------------------------------------------------- properties

dates = st.dates(min_value=dt.date(2019, 12, 1), max_value=dt.date(2021, 3, 31))
freqs = st.sampled_from(["MS", "W-MON", "QS", "YS"])


@FAST
@given(
    events=st.lists(dates, min_size=1, max_size=40),
    start=dates,
    span=st.integers(min_value=1, max_value=500),
    freq=freqs,
)
def test_counts_match_a_naive_tally(events: list[dt.date], start: dt.date, span: int, freq: str) -> None:
    end = start + dt.timedelta(days=span)
    att = pd.DataFrame({"arrival": pd.to_datetime(events)})
    out = count_events(att, date="arrival", freq=freq, start=start, end=end)
    inside = [d for d in events if start <= d < end]
    # Total = number of events inside the window.
    assert out["count"].sum() == len(inside)
    # Every period present, once, in order.
    assert [p.date() for p in out["period"]] == naive_periods(start, end, freq)
    # Counts non-negative and equal to a naive tally by period.
    assert (out["count"] >= 0).all()
    tally = Counter(naive_floor(d, freq) for d in inside)
    assert dict(zip([p.date() for p in out["period"]], out["count"], strict=True)) == {
        p: tally.get(p, 0) for p in naive_periods(start, end, freq)
    }


@FEWER
@given(
    events=st.lists(st.tuples(dates, st.sampled_from(["A", "B", "C"])), min_size=1, max_size=40),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_result_invariant_to_row_order(events: list[tuple[dt.date, str]], seed: int) -> None:
    att = pd.DataFrame({"arrival": pd.to_datetime([d for d, _ in events]), "site": [s for _, s in events]})
    shuffled = att.sample(frac=1, random_state=seed)
    before = shuffled.copy(deep=True)
    a = count_events(att, date="arrival", by="site")
    b = count_events(shuffled, date="arrival", by="site")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(shuffled, before)
    # Zero-filled spine: every observed site × every period.
    assert len(a) == att["site"].nunique() * a["period"].nunique()
