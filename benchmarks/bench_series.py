"""Events → monthly series, five ways: the data generator and the contenders of ``benchmarks/benchmark.py``.

Every contender computes the same three site × month series over [2019-04-01, 2024-04-01) from the same
seeded Parquet extracts (60 months × 20 sites = 1,200 rows each):

* ``counts``: ED attendances per site and month (``count_events``);
* ``bed_days``: occupied bed-days per site and month, each night counted in its month, open spells censored at
  the extract date 2024-04-01 (``bed_days``);
* ``los``: admissions, discharges, mean and median length of stay by month of admission and of discharge, open
  admissions (``los_by_period``).

The contenders:

* ``toolkit``: ``evaltoolkit.series`` given the Parquet *paths* (DuckDB through Ibis);
* ``duckdb``: the same series written by hand in DuckDB SQL (``import duckdb`` only; results written with
  ``COPY ... TO``);
* ``pandas``: a vectorised pandas/numpy baseline;
* ``polars``: Polars, lazy (``scan_parquet``), with ``collect_all`` so shared scans are read once;
* ``spark``: hand-written Spark SQL on a local Spark session (``local[2]``) reading the Parquet files.

The harness (``benchmarks/benchmark.py``) runs each contender in its own fresh process through
``python benchmarks/bench_series.py --child KIND --data DIR --out DIR``; the child prints its import and step
timings as JSON. ``--child generate`` writes the data, ``--child compare`` checks that result folders agree.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

START = "2019-04-01"
END = "2024-04-01"  # also the extract date: open spells are censored here
LAST_MONTH = "2024-03-01"
N_SITES = 20
CHUNK = 10_000_000  # rows generated (and held in memory) at a time
OUTPUTS = ("counts", "bed_days", "los")
CONTENDERS = ("toolkit", "duckdb", "pandas", "polars", "spark")

# --------------------------------------------------------------------------- data generation


def generate(workdir: Path, n_attendances: int, n_spells: int, seed: int) -> dict[str, Path]:
    """Write seeded attendances.parquet and spells.parquet (canonical column names) into ``workdir``.

    Rows are generated in chunks of 10^7 (row groups of 10^6), so 10^8 rows need about 2 GB of memory.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    start = np.datetime64(START, "s")
    span = int((np.datetime64(END, "s") - start).astype(np.int64))
    sites = pa.array([f"S{i:02d}" for i in range(1, N_SITES + 1)])
    weights = rng.gamma(2.0, 1.0, N_SITES)
    weights /= weights.sum()
    n_patients = max(1, n_attendances // 5)

    def ids(prefix: str, numbers: np.ndarray) -> pa.Array:
        return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")

    def attendances(first: int, n: int) -> pa.Table:
        arrival = start + rng.integers(0, span, n).astype("timedelta64[s]")
        return pa.table(
            {
                "attendance_id": ids("A", np.arange(first, first + n)),
                "patient_id": ids("P", rng.integers(1, n_patients + 1, n)),
                "site": sites.take(pa.array(rng.choice(N_SITES, n, p=weights))),
                "arrival": pa.array(arrival.astype("datetime64[us]")),
            }
        )

    def spells(first: int, n: int) -> pa.Table:
        admitted = start + rng.integers(0, span, n).astype("timedelta64[s]")
        los_days = np.minimum(np.round(rng.lognormal(np.log(5.0), 1.2, n)), 200).astype(np.int64)
        jitter = rng.integers(-6 * 3600, 6 * 3600, n)
        discharged = np.maximum(admitted + (los_days * 86_400 + jitter).astype("timedelta64[s]"), admitted)
        is_open = (discharged >= np.datetime64(END, "s")) | (rng.random(n) < 0.02)
        return pa.table(
            {
                "spell_id": ids("S", np.arange(first, first + n)),
                "patient_id": ids("P", rng.integers(1, n_patients + 1, n)),
                "site": sites.take(pa.array(rng.choice(N_SITES, n, p=weights))),
                "admitted": pa.array(admitted.astype("datetime64[us]")),
                "discharged": pa.array(discharged.astype("datetime64[us]"), mask=is_open),
            }
        )

    paths = {"attendances": workdir / "attendances.parquet", "spells": workdir / "spells.parquet"}
    for name, make, total in (("attendances", attendances, n_attendances), ("spells", spells, n_spells)):
        writer = None
        for first in range(0, total, CHUNK):
            table = make(first, min(CHUNK, total - first))
            if writer is None:
                writer = pq.ParquetWriter(paths[name], table.schema)
            writer.write_table(table, row_group_size=1_000_000)
        assert writer is not None
        writer.close()
    return paths


# --------------------------------------------------------------------------- the contenders


def run_toolkit(data: Path, out: Path) -> dict[str, float]:
    """evaltoolkit.series on the Parquet paths."""
    from evaltoolkit.series import bed_days, count_events, los_by_period

    att, spells = data / "attendances.parquet", data / "spells.parquet"
    common = {"freq": "MS", "by": "site", "start": START, "end": END}
    timings = {}
    t = time.perf_counter()
    counts = count_events(att, date="arrival", **common)
    timings["counts"] = time.perf_counter() - t
    t = time.perf_counter()
    beds = bed_days(spells, admitted="admitted", discharged="discharged", censor_at=END, **common)
    timings["bed_days"] = time.perf_counter() - t
    t = time.perf_counter()
    los = los_by_period(spells, admitted="admitted", discharged="discharged", **common)
    timings["los"] = time.perf_counter() - t
    t = time.perf_counter()
    _save(out, counts, beds, los)
    timings["write"] = time.perf_counter() - t
    return timings


# The three series in SQL. DuckDB and Spark share the logic; only date functions are spelled differently.
# Each aggregate is one scan: rows outside the window are kept with a NULL period, so every site of the file
# is on the zero-filled grid without a second scan for the site list.

DUCKDB_SQL = {
    "counts": """
WITH agg AS (
  SELECT site,
         CASE WHEN arrival >= TIMESTAMP '{start}' AND arrival < TIMESTAMP '{end}'
              THEN date_trunc('month', arrival) END AS period,
         count(*) AS n
  FROM read_parquet('{att}') GROUP BY ALL),
months AS (
  SELECT unnest(generate_series(TIMESTAMP '{start}', TIMESTAMP '{last}', INTERVAL 1 MONTH)) AS period),
sites AS (SELECT DISTINCT site FROM agg)
SELECT m.period, s.site, CAST(coalesce(a.n, 0) AS BIGINT) AS count
FROM sites s CROSS JOIN months m LEFT JOIN agg a ON a.site = s.site AND a.period = m.period
ORDER BY s.site, m.period""",
    "bed_days": """
WITH s AS (
  SELECT site,
         greatest(CAST(admitted AS DATE), DATE '{start}') AS lo,
         least(coalesce(CAST(discharged AS DATE), DATE '{end}'), DATE '{end}') AS hi
  FROM read_parquet('{spells}')),
split AS (
  SELECT site, lo, hi,
         unnest(generate_series(CAST(date_trunc('month', lo) AS TIMESTAMP),
                                CAST(date_trunc('month', hi - 1) AS TIMESTAMP), INTERVAL 1 MONTH)) AS m
  FROM s WHERE lo < hi),
agg AS (
  SELECT site, m AS period,
         CAST(sum(datediff('day', greatest(CAST(lo AS TIMESTAMP), m),
                           least(CAST(hi AS TIMESTAMP), m + INTERVAL 1 MONTH))) AS BIGINT) AS bed_days
  FROM split GROUP BY ALL),
months AS (
  SELECT unnest(generate_series(TIMESTAMP '{start}', TIMESTAMP '{last}', INTERVAL 1 MONTH)) AS period),
sites AS (SELECT DISTINCT site FROM s)
SELECT m.period, s.site, coalesce(a.bed_days, 0) AS bed_days
FROM sites s CROSS JOIN months m LEFT JOIN agg a ON a.site = s.site AND a.period = m.period
ORDER BY s.site, m.period""",
    "los": """
WITH s AS (
  SELECT site, CAST(admitted AS DATE) AS a, CAST(discharged AS DATE) AS d, discharged IS NULL AS open,
         CAST(datediff('day', CAST(admitted AS DATE), CAST(discharged AS DATE)) AS DOUBLE) AS los
  FROM read_parquet('{spells}')),
adm AS (
  SELECT site,
         CASE WHEN a >= DATE '{start}' AND a < DATE '{end}'
              THEN CAST(date_trunc('month', a) AS TIMESTAMP) END AS period,
         count(*) AS admissions, avg(los) AS mean_los, quantile_cont(los, 0.5) AS median_los,
         count(*) FILTER (WHERE open) AS open_admitted
  FROM s GROUP BY ALL),
dis AS (
  SELECT site, CAST(date_trunc('month', d) AS TIMESTAMP) AS period,
         count(*) AS discharges, avg(los) AS mean_los, quantile_cont(los, 0.5) AS median_los
  FROM s WHERE NOT open AND d >= DATE '{start}' AND d < DATE '{end}' GROUP BY ALL),
months AS (
  SELECT unnest(generate_series(TIMESTAMP '{start}', TIMESTAMP '{last}', INTERVAL 1 MONTH)) AS period),
sites AS (SELECT DISTINCT site FROM adm)
SELECT m.period, s.site,
       CAST(coalesce(a.admissions, 0) AS BIGINT) AS admissions,
       CAST(coalesce(d.discharges, 0) AS BIGINT) AS discharges,
       d.mean_los AS mean_los_discharged, d.median_los AS median_los_discharged,
       a.mean_los AS mean_los_admitted, a.median_los AS median_los_admitted,
       CAST(coalesce(a.open_admitted, 0) AS BIGINT) AS open_admitted
FROM sites s CROSS JOIN months m
LEFT JOIN adm a ON a.site = s.site AND a.period = m.period
LEFT JOIN dis d ON d.site = s.site AND d.period = m.period
ORDER BY s.site, m.period""",
}


def run_duckdb(data: Path, out: Path) -> dict[str, float]:
    """The three series written by hand in DuckDB SQL, results written by DuckDB (no pandas)."""
    import duckdb

    con = duckdb.connect()
    out.mkdir(parents=True, exist_ok=True)
    files = {"att": data / "attendances.parquet", "spells": data / "spells.parquet"}
    timings = {}
    for name, sql in DUCKDB_SQL.items():
        t = time.perf_counter()
        query = sql.format(start=START, end=END, last=LAST_MONTH, **files)
        con.execute(f"COPY ({query}) TO '{out / name}.parquet' (FORMAT parquet)")
        timings[name] = time.perf_counter() - t
    return timings


def run_pandas(data: Path, out: Path) -> dict[str, float]:
    """A straightforward vectorised pandas baseline computing the same series.

    Written the way a careful analyst would: only the needed columns are read, sites are read as a
    categorical (``read_dictionary``), month keys come from numpy ``datetime64[M]``, bed-days are split
    across months with ``np.repeat`` (no row loops), and results are zero-filled onto a site × month grid.
    """
    import numpy as np
    import pandas as pd

    start, end = np.datetime64(START, "D"), np.datetime64(END, "D")
    months = pd.date_range(START, END, freq="MS", inclusive="left").astype("datetime64[us]")
    timings = {}

    def read(name: str, columns: list[str]) -> pd.DataFrame:
        return pd.read_parquet(data / name, columns=columns, read_dictionary=["site"])

    def zero_filled(sites: pd.Series, parts: list[pd.DataFrame], counts: list[str]) -> pd.DataFrame:
        grid = pd.MultiIndex.from_product([sorted(sites.cat.categories), months], names=["site", "period"])
        frame = grid.to_frame(index=False)
        for part in parts:
            part = part.astype({"site": "str"})
            frame = frame.merge(part, on=["site", "period"], how="left")
        for c in counts:
            frame[c] = frame[c].fillna(0).astype("int64")
        return frame

    def month_start(days: np.ndarray) -> np.ndarray:
        return days.astype("datetime64[M]").astype("datetime64[us]")

    t = time.perf_counter()
    att = read("attendances.parquet", ["site", "arrival"])
    day = att["arrival"].to_numpy().astype("datetime64[D]")
    inside = (day >= start) & (day < end)
    keyed = pd.DataFrame({"site": att["site"][inside], "period": month_start(day[inside])})
    grouped = keyed.groupby(["site", "period"], observed=True).size().rename("count").reset_index()
    counts = zero_filled(att["site"], [grouped], ["count"])[["period", "site", "count"]]
    del att, day, keyed
    timings["counts"] = time.perf_counter() - t

    t = time.perf_counter()
    sp = read("spells.parquet", ["site", "admitted", "discharged"])
    adm = sp["admitted"].to_numpy().astype("datetime64[D]")
    dis_raw = sp["discharged"].to_numpy()
    is_open = np.isnat(dis_raw)
    dis = np.where(is_open, end, dis_raw.astype("datetime64[D]"))  # open spells censored at the extract date
    lo, hi = np.maximum(adm, start), np.minimum(dis, end)  # nights [lo, hi) inside the window
    keep = lo < hi
    lo, hi, codes = lo[keep], hi[keep], sp["site"].cat.codes.to_numpy()[keep]
    m0 = lo.astype("datetime64[M]").astype(np.int64)
    m1 = (hi - np.timedelta64(1, "D")).astype("datetime64[M]").astype(np.int64)
    n = m1 - m0 + 1
    row = np.repeat(np.arange(len(lo)), n)
    month = m0[row] + (np.arange(len(row)) - np.repeat(np.cumsum(n) - n, n))
    ms = month.astype("datetime64[M]").astype("datetime64[D]")
    me = (month + 1).astype("datetime64[M]").astype("datetime64[D]")
    nights = (np.minimum(hi[row], me) - np.maximum(lo[row], ms)).astype(np.int64)
    split = pd.DataFrame(
        {
            "site": pd.Categorical.from_codes(codes[row], dtype=sp["site"].dtype),
            "period": ms.astype("datetime64[us]"),
            "bed_days": nights,
        }
    )
    grouped = split.groupby(["site", "period"], observed=True)["bed_days"].sum().reset_index()
    beds = zero_filled(sp["site"], [grouped], ["bed_days"])[["period", "site", "bed_days"]]
    del split, row, month, ms, me, nights
    timings["bed_days"] = time.perf_counter() - t

    t = time.perf_counter()
    los = np.where(is_open, np.nan, (dis - adm).astype(np.int64).astype(np.float64))
    frame = pd.DataFrame({"site": sp["site"], "los": los, "open": is_open})
    a_in = (adm >= start) & (adm < end)
    g = frame[a_in].assign(period=month_start(adm[a_in])).groupby(["site", "period"], observed=True)
    admitted = pd.DataFrame(
        {
            "admissions": g.size(),
            "mean_los_admitted": g["los"].mean(),
            "median_los_admitted": g["los"].median(),
            "open_admitted": g["open"].sum(),
        }
    ).reset_index()
    d_in = ~is_open & (dis >= start) & (dis < end)
    g = frame[d_in].assign(period=month_start(dis[d_in])).groupby(["site", "period"], observed=True)
    discharged = pd.DataFrame(
        {
            "discharges": g.size(),
            "mean_los_discharged": g["los"].mean(),
            "median_los_discharged": g["los"].median(),
        }
    ).reset_index()
    los_out = zero_filled(sp["site"], [admitted, discharged], ["admissions", "discharges", "open_admitted"])
    los_out = los_out[
        [
            "period",
            "site",
            "admissions",
            "discharges",
            "mean_los_discharged",
            "median_los_discharged",
            "mean_los_admitted",
            "median_los_admitted",
            "open_admitted",
        ]
    ]
    timings["los"] = time.perf_counter() - t
    t = time.perf_counter()
    _save(out, counts, beds, los_out)
    timings["write"] = time.perf_counter() - t
    return timings


def run_polars(data: Path, out: Path) -> dict[str, float]:
    """Polars, lazy: ``scan_parquet``, only the needed columns, one ``collect_all`` per series.

    Written as a careful analyst would: dates compared as dates, month keys by ``dt.truncate``, bed-days
    split across months by exploding ``date_ranges`` of month starts, zero-filled by a cross join of sites
    and months. Rows outside the window are grouped under a null period so the site list needs no second
    scan.
    """
    from datetime import date

    import polars as pl

    start, end = date.fromisoformat(START), date.fromisoformat(END)
    months = pl.DataFrame(
        {"period": pl.date_range(start, date.fromisoformat(LAST_MONTH), "1mo", eager=True)}
    ).with_columns(pl.col("period").cast(pl.Datetime("us")))
    out.mkdir(parents=True, exist_ok=True)
    timings = {}

    def zero_filled(agg: pl.DataFrame, parts: list[pl.DataFrame], counts: list[str]) -> pl.DataFrame:
        grid = agg.select(pl.col("site").unique()).join(months, how="cross")
        for part in parts:
            grid = grid.join(part.drop_nulls("period"), on=["site", "period"], how="left")
        return grid.with_columns(pl.col(counts).fill_null(0).cast(pl.Int64)).sort("site", "period")

    def month_key(day: pl.Expr) -> pl.Expr:
        return day.dt.truncate("1mo").cast(pl.Datetime("us"))

    t = time.perf_counter()
    att = pl.scan_parquet(data / "attendances.parquet").select("site", day=pl.col("arrival").dt.date())
    inside = (pl.col("day") >= start) & (pl.col("day") < end)
    agg = att.group_by("site", pl.when(inside).then(month_key(pl.col("day"))).alias("period")).agg(
        count=pl.len()
    )
    agg = agg.collect()
    counts = zero_filled(agg, [agg], ["count"]).select("period", "site", "count")
    counts.write_parquet(out / "counts.parquet")
    timings["counts"] = time.perf_counter() - t

    t = time.perf_counter()
    spells = pl.scan_parquet(data / "spells.parquet").select(
        "site",
        a=pl.col("admitted").dt.date(),
        d=pl.col("discharged").dt.date(),
    )
    nights = (
        spells.select(
            "site",
            lo=pl.max_horizontal(pl.col("a"), pl.lit(start)),
            hi=pl.min_horizontal(pl.col("d").fill_null(end), pl.lit(end)),
        )
        .filter(pl.col("lo") < pl.col("hi"))
        .with_columns(
            m=pl.date_ranges(
                pl.col("lo").dt.month_start(), (pl.col("hi") - pl.duration(days=1)).dt.month_start(), "1mo"
            )
        )
        .explode("m")
        .with_columns(
            nights=(
                pl.min_horizontal(pl.col("hi"), pl.col("m").dt.offset_by("1mo"))
                - pl.max_horizontal(pl.col("lo"), pl.col("m"))
            ).dt.total_days()
        )
        .group_by("site", period=pl.col("m").cast(pl.Datetime("us")))
        .agg(bed_days=pl.col("nights").sum())
    )
    sites = spells.select(pl.col("site").unique())
    beds_agg, site_list = pl.collect_all([nights, sites])
    beds = zero_filled(site_list, [beds_agg], ["bed_days"]).select("period", "site", "bed_days")
    beds.write_parquet(out / "bed_days.parquet")
    timings["bed_days"] = time.perf_counter() - t

    t = time.perf_counter()
    los = spells.with_columns(
        open=pl.col("d").is_null(), los=(pl.col("d") - pl.col("a")).dt.total_days().cast(pl.Float64)
    )
    a_in = (pl.col("a") >= start) & (pl.col("a") < end)
    admitted = los.group_by("site", pl.when(a_in).then(month_key(pl.col("a"))).alias("period")).agg(
        admissions=pl.len(),
        mean_los_admitted=pl.col("los").mean(),
        median_los_admitted=pl.col("los").median(),
        open_admitted=pl.col("open").sum(),
    )
    d_in = pl.col("d").is_not_null() & (pl.col("d") >= start) & (pl.col("d") < end)
    discharged = (
        los.filter(d_in)
        .group_by("site", period=month_key(pl.col("d")))
        .agg(
            discharges=pl.len(),
            mean_los_discharged=pl.col("los").mean(),
            median_los_discharged=pl.col("los").median(),
        )
    )
    admitted, discharged = pl.collect_all([admitted, discharged])
    los_out = zero_filled(admitted, [admitted, discharged], ["admissions", "discharges", "open_admitted"])
    los_out = los_out.select(
        "period",
        "site",
        "admissions",
        "discharges",
        "mean_los_discharged",
        "median_los_discharged",
        "mean_los_admitted",
        "median_los_admitted",
        "open_admitted",
    )
    los_out.write_parquet(out / "los.parquet")
    timings["los"] = time.perf_counter() - t
    return timings


SPARK_SQL = {
    "counts": """
WITH agg AS (
  SELECT site,
         CASE WHEN arrival >= TIMESTAMP '{start}' AND arrival < TIMESTAMP '{end}'
              THEN trunc(CAST(arrival AS DATE), 'MM') END AS period,
         count(*) AS n
  FROM attendances GROUP BY 1, 2),
months AS (SELECT explode(sequence(DATE '{start}', DATE '{last}', INTERVAL 1 MONTH)) AS period),
sites AS (SELECT DISTINCT site FROM agg)
SELECT m.period, s.site, CAST(coalesce(a.n, 0) AS BIGINT) AS count
FROM sites s CROSS JOIN months m LEFT JOIN agg a ON a.site = s.site AND a.period = m.period""",
    "bed_days": """
WITH s AS (
  SELECT site,
         greatest(CAST(admitted AS DATE), DATE '{start}') AS lo,
         least(coalesce(CAST(discharged AS DATE), DATE '{end}'), DATE '{end}') AS hi
  FROM spells),
split AS (
  SELECT site, lo, hi, explode(sequence(trunc(lo, 'MM'), trunc(date_sub(hi, 1), 'MM'), INTERVAL 1 MONTH)) AS m
  FROM s WHERE lo < hi),
agg AS (
  SELECT site, m AS period,
         CAST(sum(datediff(least(hi, add_months(m, 1)), greatest(lo, m))) AS BIGINT) AS bed_days
  FROM split GROUP BY 1, 2),
months AS (SELECT explode(sequence(DATE '{start}', DATE '{last}', INTERVAL 1 MONTH)) AS period),
sites AS (SELECT DISTINCT site FROM s)
SELECT m.period, s.site, coalesce(a.bed_days, 0) AS bed_days
FROM sites s CROSS JOIN months m LEFT JOIN agg a ON a.site = s.site AND a.period = m.period""",
    "los": """
WITH s AS (
  SELECT site, CAST(admitted AS DATE) AS a, CAST(discharged AS DATE) AS d, discharged IS NULL AS open,
         CAST(datediff(CAST(discharged AS DATE), CAST(admitted AS DATE)) AS DOUBLE) AS los
  FROM spells),
adm AS (
  SELECT site,
         CASE WHEN a >= DATE '{start}' AND a < DATE '{end}' THEN trunc(a, 'MM') END AS period,
         count(*) AS admissions, avg(los) AS mean_los, percentile(los, 0.5) AS median_los,
         count_if(open) AS open_admitted
  FROM s GROUP BY 1, 2),
dis AS (
  SELECT site, trunc(d, 'MM') AS period,
         count(*) AS discharges, avg(los) AS mean_los, percentile(los, 0.5) AS median_los
  FROM s WHERE NOT open AND d >= DATE '{start}' AND d < DATE '{end}' GROUP BY 1, 2),
months AS (SELECT explode(sequence(DATE '{start}', DATE '{last}', INTERVAL 1 MONTH)) AS period),
sites AS (SELECT DISTINCT site FROM adm)
SELECT m.period, s.site,
       CAST(coalesce(a.admissions, 0) AS BIGINT) AS admissions,
       CAST(coalesce(d.discharges, 0) AS BIGINT) AS discharges,
       d.mean_los AS mean_los_discharged, d.median_los AS median_los_discharged,
       a.mean_los AS mean_los_admitted, a.median_los AS median_los_admitted,
       CAST(coalesce(a.open_admitted, 0) AS BIGINT) AS open_admitted
FROM sites s CROSS JOIN months m
LEFT JOIN adm a ON a.site = s.site AND a.period = m.period
LEFT JOIN dis d ON d.site = s.site AND d.period = m.period""",
}

SPARK_DRIVER_MEMORY = "4g"


def run_spark(data: Path, out: Path) -> dict[str, float]:
    """Hand-written Spark SQL on a local session (``local[2]``, session time zone UTC), reading Parquet.

    The 1,200-row results are brought back with ``toPandas`` (Arrow) and written as Parquet. The session
    start (about the JVM) is timed as ``session``.
    """
    from pyspark.sql import SparkSession

    timings = {}
    t = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("evaltoolkit-benchmark")
        .config("spark.driver.memory", SPARK_DRIVER_MEMORY)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", str(out.parent / "spark-tmp"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    timings["session"] = time.perf_counter() - t
    spark.read.parquet(str(data / "attendances.parquet")).createOrReplaceTempView("attendances")
    spark.read.parquet(str(data / "spells.parquet")).createOrReplaceTempView("spells")
    out.mkdir(parents=True, exist_ok=True)
    for name, sql in SPARK_SQL.items():
        t = time.perf_counter()
        frame = spark.sql(sql.format(start=START, end=END, last=LAST_MONTH)).toPandas()
        frame.sort_values(["site", "period"]).to_parquet(out / f"{name}.parquet", index=False)
        timings[name] = time.perf_counter() - t
    spark.stop()
    return timings


def _save(out: Path, counts, beds, los) -> None:
    out.mkdir(parents=True, exist_ok=True)
    counts.to_parquet(out / "counts.parquet", index=False)
    beds.to_parquet(out / "bed_days.parquet", index=False)
    los.to_parquet(out / "los.parquet", index=False)


RUNNERS = {
    "toolkit": run_toolkit,
    "duckdb": run_duckdb,
    "pandas": run_pandas,
    "polars": run_polars,
    "spark": run_spark,
}
IMPORTS = {
    "toolkit": "evaltoolkit.series",
    "duckdb": "duckdb",
    "pandas": "pandas",
    "polars": "polars",
    "spark": "pyspark.sql",
}

# --------------------------------------------------------------------------- comparison


def _normalised(path: Path):
    """One result file as a frame with canonical dtypes, sorted by site and period.

    Engines differ in how they store the same values (Spark returns dates, DuckDB strings as VARCHAR,
    pandas a string dtype), so the comparison is of values: period as datetime64[us], site as str,
    counts as int64, means and medians as float64.
    """
    import pandas as pd

    frame = pd.read_parquet(path)
    frame["period"] = pd.to_datetime(frame["period"]).astype("datetime64[us]")
    frame["site"] = frame["site"].astype(str)
    for c in frame.columns:
        if c in ("period", "site"):
            continue
        frame[c] = frame[c].astype("float64" if ("mean" in c or "median" in c) else "int64")
    return frame.sort_values(["site", "period"], ignore_index=True)


def compare(reference: Path, other: Path) -> dict[str, str]:
    """Compare two result folders: per output ``"exact"``, ``"rounding <max abs diff>"`` or the error."""
    import numpy as np
    import pandas as pd

    verdicts = {}
    for name in OUTPUTS:
        x, y = _normalised(reference / f"{name}.parquet"), _normalised(other / f"{name}.parquet")
        try:
            pd.testing.assert_frame_equal(x, y, check_exact=True)
            verdicts[name] = "exact"
        except AssertionError:
            try:
                pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-12, atol=0)
            except AssertionError as exc:
                verdicts[name] = "DIFFERENT: " + " ".join(str(exc).split())[:300]
                continue
            floats = x.select_dtypes("float").columns
            worst = max(float(np.nanmax(np.abs(x[c] - y[c]))) for c in floats)
            verdicts[name] = f"rounding {worst:.2g}"
    return verdicts


def totals(folder: Path) -> dict[str, int]:
    """Totals that must equal what was generated (all arrivals and admissions fall inside the window)."""
    counts = _normalised(folder / "counts.parquet")
    los = _normalised(folder / "los.parquet")
    return {"attendances": int(counts["count"].sum()), "admissions": int(los["admissions"].sum())}


# --------------------------------------------------------------------------- child entry point


def child(kind: str, data: Path, out: Path) -> None:
    """Run one contender and print its import and step timings as JSON (the last line of stdout)."""
    import importlib

    t = time.perf_counter()
    importlib.import_module(IMPORTS[kind])
    imported = time.perf_counter() - t
    timings = RUNNERS[kind](data, out)
    print(json.dumps({"import": imported, **timings}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", required=True, choices=[*CONTENDERS, "generate", "compare"])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--spells", type=int)
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--against", nargs="*", default=[], help="contenders to compare with the first")
    args = parser.parse_args(argv)
    if args.child == "generate":
        args.data.mkdir(parents=True, exist_ok=True)
        generate(args.data, args.n, args.spells if args.spells is not None else args.n // 5, args.seed)
    elif args.child == "compare":
        first, *others = args.against
        report = {"totals": {first: totals(args.out / first)}, "verdicts": {}}
        for kind in others:
            report["verdicts"][kind] = compare(args.out / first, args.out / kind)
            report["totals"][kind] = totals(args.out / kind)
        print(json.dumps(report))
    else:
        child(args.child, args.data, args.out)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's evaltoolkit first
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")  # pyspark's pandas conversion
    raise SystemExit(main())
