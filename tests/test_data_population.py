"""Monthly population denominators from annual mid-year estimates, checked against hand calculation.

Site A: 1000 on 30 June 2021 and 1365 on 30 June 2022, 365 days apart, so the line rises exactly 1 a day.
Days after 30 June 2021: 1 January 2022 is day 185 (1 + 31 + 31 + 30 + 31 + 30 + 31), 1 February day 216,
1 June 2022 day 336. A month's value is taken at its middle: day 1 + (days in month) / 2.
"""

from __future__ import annotations

import pandas as pd
import pytest

from evaltoolkit.data import monthly_population
from evaltoolkit.errors import ColumnMappingError, EvalToolkitError

TS = pd.Timestamp


def annual() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site": ["A", "A", "B", "B", "B"],
            "year": [2021, 2022, 2021, 2022, 2023],
            "population": [1000, 1365, 2000, 1635, 2000],
        }
    )


def value(frame: pd.DataFrame, site: str, period: str) -> float:
    row = frame[(frame["site"] == site) & (frame["period"] == TS(period))]
    assert len(row) == 1
    return float(row["population"].iloc[0])


def test_mid_month_values_match_hand_calculation() -> None:
    out = monthly_population(annual(), start="2021-06-01", end="2022-08-01")
    assert list(out.columns) == ["site", "period", "population"]
    assert str(out["period"].dtype) == "datetime64[us]"
    assert value(out, "A", "2022-01-01") == pytest.approx(1200.5)  # 16 Jan 12:00 = day 185 + 15.5
    assert value(out, "A", "2022-02-01") == pytest.approx(1230.0)  # 15 Feb 00:00 = day 216 + 14
    assert value(out, "A", "2022-06-01") == pytest.approx(1351.0)  # 16 Jun 00:00 = day 336 + 15
    # B falls 365 in the year (−1 a day) to mid-2022, then rises 365 to mid-2023.
    assert value(out, "B", "2022-01-01") == pytest.approx(2000 - 200.5)
    # Before the first and after the last estimate: held constant (default).
    assert value(out, "A", "2021-06-01") == pytest.approx(1000.0)  # 16 June 2021, before 30 June
    assert value(out, "A", "2022-07-01") == pytest.approx(1365.0)  # 16 July 2022, after 30 June
    assert len(out) == 2 * 14  # June 2021 .. July 2022, per site


def test_month_start_values() -> None:
    out = monthly_population(annual(), start="2022-01-01", end="2022-03-01", at="start")
    assert value(out, "A", "2022-01-01") == pytest.approx(1185.0)  # day 185
    assert value(out, "A", "2022-02-01") == pytest.approx(1216.0)  # day 216


def test_linear_extrapolation_extends_the_nearest_line() -> None:
    out = monthly_population(annual(), start="2021-06-01", end="2022-08-01", extrapolate="linear")
    assert value(out, "A", "2021-06-01") == pytest.approx(986.0)  # 14 days before 30 June 2021
    assert value(out, "A", "2022-07-01") == pytest.approx(1381.5)  # 16.5 days after 30 June 2022


def test_extrapolated_months_are_counted() -> None:
    out, findings = monthly_population(annual(), start="2021-06-01", end="2022-08-01", with_findings=True)
    found = {f.rule: f for f in findings}
    # A: July 2021..June 2022 interpolated (12), June 2021 and July 2022 extrapolated (2).
    # B: estimates run to 30 June 2023, so only June 2021 is extrapolated (13 interpolated).
    assert found["population_interpolated"].n_rows == 12 + 13
    assert found["population_extrapolated"].n_rows == 2 + 1
    assert "months per site: A 2, B 1" in found["population_extrapolated"].detail
    assert "held constant" in found["population_extrapolated"].action
    assert all(f.n_excluded == 0 for f in findings)
    assert len(out) == 28


def test_default_range_and_areas() -> None:
    raw = annual().rename(columns={"site": "area", "year": "yr", "population": "pop"})
    out = monthly_population(raw, by="area", year="yr", population="pop")
    assert list(out.columns) == ["area", "period", "population"]
    # default: June 2021 (month of the first reference date) .. June 2023 (month of the last), per area
    per_area = out.groupby("area")["period"].agg(["min", "max", "size"])
    assert per_area.loc["A"].tolist() == [TS("2021-06-01"), TS("2023-06-01"), 25]


def test_reference_date() -> None:
    # Estimates on 1 January: 1000 on 2021-01-01, 1365 on 2022-01-01 (365 days); mid-January 2021 = day 15.5
    raw = pd.DataFrame({"site": ["A", "A"], "year": [2021, 2022], "population": [1000, 1365]})
    out = monthly_population(raw, reference="01-01", start="2021-01-01", end="2021-02-01")
    assert value(out, "A", "2021-01-01") == pytest.approx(1015.5)
    with pytest.raises(EvalToolkitError, match=r"reference '30/06' must be a month and day as 'MM-DD'"):
        monthly_population(raw, reference="30/06")


def test_one_estimate_is_constant_and_cannot_be_extrapolated_linearly() -> None:
    raw = pd.DataFrame({"site": ["A"], "year": [2021], "population": [500]})
    out = monthly_population(raw, start="2021-01-01", end="2021-04-01")
    assert out["population"].tolist() == [500.0, 500.0, 500.0]
    with pytest.raises(
        EvalToolkitError, match=r"site 'A' has one estimate \(2021\); linear extrapolation needs two"
    ):
        monthly_population(raw, start="2021-01-01", end="2021-04-01", extrapolate="linear")


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (
            {"year": [2021, "20x2"]},
            EvalToolkitError,
            r"column 'year' must hold whole years.*rows 3, e.g. '20x2'",
        ),
        ({"population": [1000, 0]}, EvalToolkitError, r"'population' must be positive numbers.*rows 3"),
        (
            {"year": [2021, 2021]},
            EvalToolkitError,
            r"site 'A' has more than one estimate for 2021 \(rows 2, 3\)",
        ),
        ({"site": ["A", None]}, EvalToolkitError, r"column 'site' is empty in rows 3"),
    ],
)
def test_bad_estimates_name_the_column_and_rows(change: dict, error: type, words: str) -> None:
    raw = pd.DataFrame({"site": ["A", "A"], "year": [2021, 2022], "population": [1000, 1365]})
    for column, values in change.items():
        raw[column] = pd.Series(values, dtype=object)
    with pytest.raises(error, match=words):
        monthly_population(raw)


def test_missing_columns_and_bad_range() -> None:
    raw = pd.DataFrame({"site": ["A"], "yr": [2021], "population": [1]})
    with pytest.raises(
        ColumnMappingError, match=r"column 'year' is missing; its columns are: site, yr, population"
    ):
        monthly_population(raw)
    ok = pd.DataFrame({"site": ["A"], "year": [2021], "population": [1]})
    with pytest.raises(EvalToolkitError, match=r"start 2021-01-15 must be the first day of a month"):
        monthly_population(ok, start="2021-01-15")
    with pytest.raises(EvalToolkitError, match=r"start '01/02/2021'.*1 February 2021 or 2 January 2021"):
        monthly_population(ok, start="01/02/2021")


def test_empty_estimates() -> None:
    with pytest.raises(EvalToolkitError, match=r"population estimates are empty"):
        monthly_population(pd.DataFrame({"site": [], "year": [], "population": []}))
