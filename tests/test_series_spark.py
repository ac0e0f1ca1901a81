"""The series builders on Apache Spark (local mode): identical results to the embedded DuckDB engine.

Parity is checked on the two bundled synthetic datasets (stacked, so each builder runs once), on random
spells and events drawn by hypothesis across month, year and leap-day boundaries with open spells and
same-day ties, and on hand-worked cases (time zones, month-end windows) whose expected values are written
out below. One local Spark session serves the whole module.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install evaltoolkit[spark])")

import evaltoolkit.series as s
from evaltoolkit.errors import SeriesInputError

pytestmark = [
    # pyspark's socket-based collect leaves its socket to the garbage collector: harmless, and reported
    # by Python only because the tests turn every warning on.
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    # The bundled extracts have attendances and spells without a patient id, on purpose; the warning
    # saying so is tested in test_series_repeat.py and test_series_frequent.py.
    pytest.mark.filterwarnings("ignore:.*row\\(s\\) have no 'patient_id':UserWarning"),
]

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {"air": ROOT / "synthetic_data", "crisis": ROOT / "synthetic_data" / "crisis_pathway"}
CENSOR = "2025-06-01"  # after every admission in both bundled extracts (their extract date is 2025-04-01)
TZ_KEY = "spark.sql.session.timeZone"


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session: 2 cores, 2 shuffle partitions, no UI, logs at ERROR."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no "hostname resolves to a loopback" warning
    session = (
        SparkSession.builder.master("local[2]")
        .appName("evaltoolkit-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.adaptive.enabled", "false")  # tiny data: skip re-planning
        .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC")  # one small heap: no parallel GC threads
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def to_spark(spark, frame: pd.DataFrame) -> object:
    """A Spark DataFrame with the rows of ``frame`` in order (through Arrow: pandas 3 strings convert)."""
    return spark.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))


def same(spark_result: pd.DataFrame, duckdb_result: pd.DataFrame) -> None:
    """Same rows, columns and dtypes; integers equal; floats equal to 1e-12."""
    pd.testing.assert_frame_equal(spark_result, duckdb_result, check_exact=False, rtol=1e-12, atol=1e-12)


def _read(path: Path, ds: str) -> pd.DataFrame:
    out = pd.read_csv(path, dtype={"patient_id": "str", "site": "str"})
    out.insert(0, "dataset", ds)
    if "patient_id" in out:  # patients of the two datasets must not be linked to each other
        out["patient_id"] = (ds + "-" + out["patient_id"]).where(out["patient_id"].notna())
    return out


@pytest.fixture(scope="module")
def bundled() -> dict[str, pd.DataFrame]:
    """Both bundled datasets stacked, with a ``dataset`` column; dates stay ISO text, as in the CSV files."""
    return {
        kind: pd.concat([_read(d / f"{kind}.csv", ds) for ds, d in DATASETS.items()], ignore_index=True)
        for kind in ("attendances", "spells", "cohort", "population")
    }


BY = ["dataset", "site"]

BUILDERS: dict[str, Callable[..., pd.DataFrame]] = {
    "count_events": lambda d, **k: s.count_events(d["attendances"], date="arrival", by=BY, **k),
    "bed_days": lambda d, **k: s.bed_days(
        d["spells"],
        admitted="admitted",
        discharged="discharged",
        by=BY,
        censor_at=CENSOR,
        split_open=True,
        **k,
    ),
    "length_of_stay": lambda d, **k: s.length_of_stay(
        d["spells"], admitted="admitted", discharged="discharged", censor_at=CENSOR, **k
    ),
    "los_by_period": lambda d, **k: s.los_by_period(
        d["spells"], admitted="admitted", discharged="discharged", by=BY, freq="QS", **k
    ),
    "reattendances": lambda d, **k: s.reattendances(
        d["attendances"], subject="patient_id", date="arrival", **k
    ),
    "reattendance_series": lambda d, **k: s.reattendance_series(
        d["attendances"], subject="patient_id", date="arrival", by=BY, within=7, **k
    ),
    "readmissions": lambda d, **k: s.readmissions(
        d["spells"], subject="patient_id", admitted="admitted", discharged="discharged", **k
    ),
    "readmission_series": lambda d, **k: s.readmission_series(
        d["spells"], subject="patient_id", admitted="admitted", discharged="discharged", by=BY, **k
    ),
    "frequent_attenders": lambda d, **k: s.frequent_attenders(
        d["attendances"], subject="patient_id", date="arrival", window_months=3, threshold=3, **k
    ),
    "frequent_attender_series": lambda d, **k: s.frequent_attender_series(
        d["attendances"], subject="patient_id", date="arrival", window_months=3, threshold=3, by=BY, **k
    ),
    "patient_windows": lambda d, **k: s.patient_windows(
        d["cohort"], attendances=d["attendances"], spells=d["spells"], censor_at=CENSOR, end="end_date", **k
    ),
}

# Half the builders get the pandas frames with engine="spark" (uploaded numbered); the other half get Spark
# DataFrames, whose rows are numbered by Spark (ties in repeat use are broken by that order).
AS_SPARK_FRAMES = {"count_events", "length_of_stay", "readmissions", "readmission_series"}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_bundled_data_identical_on_spark(spark, bundled, name: str) -> None:
    build = BUILDERS[name]
    expected = build(bundled)
    if name in AS_SPARK_FRAMES:
        frames = {k: to_spark(spark, v) for k, v in bundled.items()}
        got = build(frames)
    else:
        got = build(bundled, engine="spark")
    assert len(expected) > 0
    same(got, expected)


def test_rates_identical_on_spark(spark, bundled) -> None:
    air = bundled["attendances"].query("dataset == 'air'")
    pop = bundled["population"].query("dataset == 'air'").drop(columns="dataset")
    air = air[air["site"].isin(pop["site"])]  # the extract has rows with an unknown site code, on purpose
    counts = s.count_events(air, date="arrival", by="site", start="2019-04-01", end="2025-04-01")
    pop["period"] = pd.to_datetime(pop["period"])
    expected = s.rates(counts, pop)
    same(s.rates(to_spark(spark, counts), to_spark(spark, pop)), expected)
    # Hand check of one row: count / population * 100,000.
    row = expected.iloc[0]
    assert row["rate"] == pytest.approx(row["count"] / row["population"] * 1e5, rel=1e-12)


def test_ibis_table_on_pyspark_runs_there(spark, bundled) -> None:
    import ibis

    con = ibis.pyspark.connect(spark)
    to_spark(spark, bundled["spells"]).createOrReplaceTempView("et_test_spells")
    try:
        table = con.table("et_test_spells")
        args = {"admitted": "admitted", "discharged": "discharged", "by": "site", "censor_at": CENSOR}
        same(s.bed_days(table, **args), s.bed_days(bundled["spells"], **args))
    finally:
        spark.catalog.dropTempView("et_test_spells")


def test_files_read_by_spark(spark, bundled, tmp_path) -> None:
    air = DATASETS["air"]
    same(
        s.count_events(air / "attendances.csv", date="arrival", by="site", engine="spark"),
        s.count_events(air / "attendances.csv", date="arrival", by="site"),
    )
    parquet = tmp_path / "spells.parquet"
    spells = bundled["spells"].assign(
        admitted=lambda d: pd.to_datetime(d["admitted"]), discharged=lambda d: pd.to_datetime(d["discharged"])
    )
    spells.to_parquet(parquet, index=False)
    args = {"admitted": "admitted", "discharged": "discharged", "censor_at": CENSOR, "by": "site"}
    same(s.bed_days(parquet, engine="spark", **args), s.bed_days(parquet, **args))


def test_error_messages_name_the_same_rows(spark, bundled) -> None:
    """Row numbers in messages: 0-based positions for in-memory input and Spark DataFrames (in the
    DataFrame's order), spreadsheet rows for CSV files, whichever engine runs."""
    args = {"admitted": "admitted", "discharged": "discharged", "censor_at": "2025-04-01"}
    spells = bundled["spells"]
    with pytest.raises(SeriesInputError) as duck:
        s.bed_days(spells, **args)
    assert "open spells admitted after censor_at" in str(duck.value)
    for data, kw in ((spells, {"engine": "spark"}), (to_spark(spark, spells), {})):
        with pytest.raises(SeriesInputError) as on_spark:
            s.bed_days(data, **args, **kw)
        assert str(on_spark.value) == str(duck.value)
    csv = DATASETS["air"] / "spells.csv"
    with pytest.raises(SeriesInputError) as duck_csv:
        s.bed_days(csv, **args)
    with pytest.raises(SeriesInputError) as spark_csv:
        s.bed_days(csv, engine="spark", **args)
    assert "spreadsheet rows of spells.csv" in str(spark_csv.value)
    assert str(spark_csv.value) == str(duck_csv.value)


def test_partial_dates_refused_on_both_engines(spark) -> None:
    """Spark's cast reads "2024-01" and "2024" as dates, DuckDB's does not: both engines refuse them."""
    events = pd.DataFrame({"arrival": ["2024-01-05", "2024-01", "2024", "2024-1-7"]})
    with pytest.raises(SeriesInputError) as duck:
        s.count_events(events, date="arrival")
    with pytest.raises(SeriesInputError) as on_spark:
        s.count_events(events, date="arrival", engine="spark")
    assert "unparseable dates" in str(duck.value) and "at row(s) 1, 2 (" in str(duck.value)
    assert str(on_spark.value) == str(duck.value)


def test_engine_keyword_is_checked(spark) -> None:
    events = pd.DataFrame({"arrival": pd.to_datetime(["2024-01-05"])})
    with pytest.raises(SeriesInputError, match="engine must be 'duckdb'"):
        s.count_events(events, date="arrival", engine="polars")
    with pytest.raises(SeriesInputError, match="engine='duckdb' was given a Spark DataFrame"):
        s.count_events(to_spark(spark, events), date="arrival", engine="duckdb")


def test_engine_spark_without_pyspark_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if pyspark were not installed
    with pytest.raises(SeriesInputError, match=r"engine='spark' needs pyspark: install evaltoolkit\[spark\]"):
        s.count_events(pd.DataFrame({"arrival": ["2024-01-05"]}), date="arrival", engine="spark")


def test_session_time_zone_is_kept_and_dates_do_not_shift(spark, monkeypatch) -> None:
    """Spark TIMESTAMP values count on the calendar day the caller's session shows. Ibis switches the
    session to UTC while it works; the caller's zone comes back afterwards. Expected counts by hand."""
    monkeypatch.setenv("TZ", "America/New_York")  # the Python process in yet another zone
    time.tzset()
    before = spark.conf.get(TZ_KEY)
    spark.conf.set(TZ_KEY, "Europe/London")
    try:
        shown = [
            "2024-02-29 23:30:00",  # leap day, late evening (GMT)
            "2024-03-31 23:59:00",  # the night the clocks went forward (BST = UTC+1)
            "2024-06-30 23:30:00",  # BST: 22:30 UTC
            "2024-07-01 00:30:00",  # BST: 23:30 UTC on 30 June -> would move to June in UTC
            "2024-12-31 23:30:00",  # GMT, year end
            "2025-01-01 00:10:00",
        ]
        rows = ", ".join(f"(TIMESTAMP '{v}', 'p{i % 2}')" for i, v in enumerate(shown))
        frame = spark.sql(f"SELECT * FROM VALUES {rows} AS t(arrival, patient_id)")
        out = s.count_events(frame, date="arrival", start="2024-02-01", end="2025-02-01")
        expected = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1]  # Feb..Jan, from the wall-clock dates above
        assert out["count"].tolist() == expected
        assert spark.conf.get(TZ_KEY) == "Europe/London"
        flags = s.reattendances(frame, subject="patient_id", date="arrival", within=1, censor_at="2025-02-01")
        assert flags["arrival"].tolist() == [pd.Timestamp(v) for v in shown]
        # p0: 29 Feb -> 30 Jun 122 days; p1: 31 Mar -> 1 Jul 92; p0: 30 Jun -> 31 Dec 184;
        # p1: 1 Jul -> 1 Jan 184
        assert flags["days_to_next"].tolist()[:4] == [122, 92, 184, 184]
        assert spark.conf.get(TZ_KEY) == "Europe/London"
    finally:
        spark.conf.set(TZ_KEY, before)
        monkeypatch.undo()  # the process's own TZ back
        time.tzset()


def test_month_end_windows_by_hand(spark) -> None:
    """Month arithmetic clamps to month ends on both engines (31 Aug - 18 months = 28 Feb)."""
    cohort = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d"],
            "index_date": pd.to_datetime(["2024-02-29", "2023-08-31", "2024-03-31", "2024-12-31"]),
        }
    )
    att = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "d"],
            "arrival": pd.to_datetime(["2022-08-29", "2022-08-28", "2022-02-28", "2026-06-29"]),
        }
    )
    got = s.patient_windows(to_spark(spark, cohort), attendances=to_spark(spark, att), censor_at="2027-01-01")
    same(got, s.patient_windows(cohort, attendances=att, censor_at="2027-01-01"))
    starts = got.loc[got["window"] == "before", "window_start"].dt.strftime("%Y-%m-%d").tolist()
    ends = got.loc[got["window"] == "after", "window_end"].dt.strftime("%Y-%m-%d").tolist()
    assert starts == ["2022-08-29", "2022-02-28", "2022-09-30", "2023-06-30"]
    assert ends == ["2025-08-29", "2025-02-28", "2025-09-30", "2026-06-30"]
    assert got["attendances"].tolist() == [1, 0, 1, 0, 0, 0, 0, 1]


# --------------------------------------------------------------------------- random spells and events

# Days around the boundaries that go wrong: month ends, a year end, the 2024 leap day, a 30-day month.
ANCHORS = [dt.date(2023, 12, 29), dt.date(2024, 2, 27), dt.date(2024, 3, 30), dt.date(2024, 4, 29)]
FEW = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def random_spells(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 30))
    rows = []
    for _ in range(n):
        base = draw(st.sampled_from(ANCHORS))
        admitted = dt.datetime.combine(base, dt.time(draw(st.integers(0, 23)))) + dt.timedelta(
            days=draw(st.integers(0, 5))
        )
        stay = draw(st.one_of(st.none(), st.integers(0, 70)))  # None = open spell
        rows.append(
            {
                "patient_id": draw(st.sampled_from(["p1", "p2", "p3"])),  # few patients: readmissions, ties
                "site": draw(st.sampled_from(["A", "B"])),
                "admitted": admitted,
                "discharged": None if stay is None else admitted + dt.timedelta(days=stay, hours=1),
            }
        )
    frame = pd.DataFrame(rows)
    for c in ("admitted", "discharged"):
        frame[c] = pd.to_datetime(frame[c])
    return frame


@st.composite
def random_events(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    days = [
        draw(st.sampled_from(ANCHORS))
        + dt.timedelta(days=draw(st.integers(0, 5)) + 31 * draw(st.integers(0, 3)))
        for _ in range(n)
    ]
    return pd.DataFrame(
        {
            "patient_id": [draw(st.sampled_from(["p1", "p2", "p3", None])) for _ in range(n)],
            "site": [draw(st.sampled_from(["A", "B"])) for _ in range(n)],
            # ISO text, some with a time: parsed by each engine
            "arrival": [d.isoformat() + draw(st.sampled_from(["", " 00:00:00", " 23:59:59"])) for d in days],
        }
    )


@FEW
@given(spells=random_spells(), freq=st.sampled_from(["MS", "W-MON", "QS", "YS-APR"]))
def test_random_spells_identical(spark, spells: pd.DataFrame, freq: str) -> None:
    censor = (spells["admitted"].max().normalize() + pd.Timedelta(days=1)).date()
    dates = {"admitted": "admitted", "discharged": "discharged"}
    for build in (
        lambda **k: s.bed_days(spells, **dates, freq=freq, by="site", censor_at=censor, split_open=True, **k),
        lambda **k: s.los_by_period(spells, **dates, freq=freq, **k),
        lambda **k: s.readmissions(spells, subject="patient_id", **dates, within=3, censor_at=censor, **k),
    ):
        same(build(engine="spark"), build())


@FEW
@given(events=random_events(), freq=st.sampled_from(["MS", "W-MON", "QS-FEB", "YS"]))
def test_random_events_identical(spark, events: pd.DataFrame, freq: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*have no 'patient_id'", category=UserWarning)
        for build in (
            lambda **k: s.count_events(events, date="arrival", freq=freq, by="site", **k),
            lambda **k: s.reattendances(events, subject="patient_id", date="arrival", within=2, **k),
            lambda **k: s.frequent_attender_series(
                events, subject="patient_id", date="arrival", window_months=2, threshold=2, **k
            ),
        ):
            same(build(engine="spark"), build())
