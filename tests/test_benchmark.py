"""`make benchmark` cannot rot: its series contenders still run and still agree (timings are never asserted).

The benchmark script runs at 10^4 attendances (2,000 spells) with the toolkit, hand-written DuckDB SQL, pandas
and Polars (Spark is left to `make benchmark`: its JVM start alone takes longer than this test). Its own
comparison must report every contender identical to the toolkit; the toolkit's three series are then checked
against a plain-Python row-by-row count of the generated extracts, night by night.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Polars is in the `bench` extra, not in `make test`'s install: installed, statsmodels imports it on every
# start (about 0.4 s), which would slow every process the suite starts. The Polars contender runs if present.
HAS_POLARS = importlib.util.find_spec("polars") is not None
CONTENDERS = ["toolkit", "duckdb", "pandas", *(["polars"] if HAS_POLARS else [])]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    work = tmp_path_factory.mktemp("bench")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "benchmark.py"), "--only", "series", "--sizes", "10000"]
    cmd += ["--contenders", ",".join(CONTENDERS), "--workdir", str(work)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT, timeout=300)
    return done, work


@pytest.mark.slow
def test_contenders_agree(bench_run):
    done, _ = bench_run
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = [line.split("|") for line in done.stdout.splitlines() if line.startswith("| series 10^4")]
    names = ["toolkit", "DuckDB", "pandas", "Polars"][: len(CONTENDERS)]
    assert [r[1].strip().split(": ", 1)[1].split()[0] for r in rows] == names
    assert [r[6].strip() for r in rows] == ["reference", *["identical"] * (len(names) - 1)]
    assert "machine:" in done.stdout and "peak (MB)" in done.stdout


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


@pytest.mark.slow
def test_toolkit_series_match_a_row_by_row_count(bench_run):
    done, work = bench_run
    assert done.returncode == 0, done.stderr[-3000:]
    data, out = work / "data_10000", work / "out_10000" / "toolkit"
    start, end = dt.date(2019, 4, 1), dt.date(2024, 4, 1)

    attendances = pd.read_parquet(data / "attendances.parquet", columns=["site", "arrival"])
    expected = Counter(
        (site, _month(_day(t))) for site, t in zip(attendances["site"], attendances["arrival"], strict=True)
    )
    counts = pd.read_parquet(out / "counts.parquet")
    got = {(s, _day(p)): c for s, p, c in zip(counts["site"], counts["period"], counts["count"], strict=True)}
    assert sum(got.values()) == 10_000 == len(attendances)
    assert {k: v for k, v in got.items() if v} == dict(expected)

    spells = pd.read_parquet(data / "spells.parquet", columns=["site", "admitted", "discharged"])
    nights: Counter = Counter()
    by_admission: dict = defaultdict(list)
    by_discharge: dict = defaultdict(list)
    open_admitted: Counter = Counter()
    for site, admitted, discharged in zip(
        spells["site"], spells["admitted"], spells["discharged"], strict=True
    ):
        a = _day(admitted)
        d = None if pd.isna(discharged) else _day(discharged)
        night = max(a, start)
        while night < min(d or end, end):  # each night in its month; open spells censored at the extract date
            nights[(site, _month(night))] += 1
            night += dt.timedelta(days=1)
        by_admission[(site, _month(a))].append(None if d is None else (d - a).days)
        open_admitted[(site, _month(a))] += d is None
        if d is not None and start <= d < end:
            by_discharge[(site, _month(d))].append((d - a).days)

    beds = pd.read_parquet(out / "bed_days.parquet")
    got = {(s, _day(p)): b for s, p, b in zip(beds["site"], beds["period"], beds["bed_days"], strict=True)}
    assert {k: v for k, v in got.items() if v} == dict(nights)

    los = pd.read_parquet(out / "los.parquet")
    checked = 0
    for row in los.itertuples():
        key = (row.site, _day(row.period))
        stays = by_admission.get(key, [])
        closed = [x for x in stays if x is not None]
        assert row.admissions == len(stays) and row.open_admitted == open_admitted[key]
        if closed:
            assert row.mean_los_admitted == pytest.approx(statistics.fmean(closed), rel=1e-12)
            assert row.median_los_admitted == statistics.median(closed)
        gone = by_discharge.get(key, [])
        assert row.discharges == len(gone)
        if gone:
            assert row.mean_los_discharged == pytest.approx(statistics.fmean(gone), rel=1e-12)
            assert row.median_los_discharged == statistics.median(gone)
            checked += 1
    assert los["admissions"].sum() == 2_000 and checked > 500
