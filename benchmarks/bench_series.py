"""Benchmark: evaltoolkit.series (Ibis on DuckDB) against a straightforward pandas baseline.

Generates seeded synthetic extracts (default 10^7 ED attendances and 2×10^6 admission spells) as Parquet in
a temporary directory, then runs, each in its own fresh Python process,

(a) the toolkit path: ``count_events`` + ``bed_days`` + ``los_by_period`` on the Parquet paths, by site,
    monthly, and
(b) a vectorised pandas baseline computing the same three series,

records each process's wall time and peak resident memory, checks that both produce identical frames and
prints a side-by-side table. Usage::

    .venv/bin/python benchmarks/bench_series.py              # 10^7 attendances, 2×10^6 spells
    .venv/bin/python benchmarks/bench_series.py --n 1000000  # scaled down
    .venv/bin/python benchmarks/bench_series.py --repeat 3   # median wall / max RSS of 3 runs each

See benchmarks/README.md for what is measured and the figures from a reference run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = "2019-04-01"
END = "2024-04-01"  # also the extract date: open spells are censored here
N_SITES = 20


# --------------------------------------------------------------------------- data generation


def generate(workdir: Path, n_attendances: int, n_spells: int, seed: int) -> dict[str, Path]:
    """Write seeded attendances.parquet and spells.parquet (canonical column names) into ``workdir``."""
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

    def ids(n: int) -> pa.Array:
        numbers = pa.array(rng.integers(1, n_patients + 1, n)).cast(pa.string())
        return pc.binary_join_element_wise("P", numbers, "")

    arrival = start + rng.integers(0, span, n_attendances).astype("timedelta64[s]")
    attendances = pa.table(
        {
            "attendance_id": pc.binary_join_element_wise(
                "A", pa.array(np.arange(n_attendances)).cast(pa.string()), ""
            ),
            "patient_id": ids(n_attendances),
            "site": sites.take(pa.array(rng.choice(N_SITES, n_attendances, p=weights))),
            "arrival": pa.array(arrival.astype("datetime64[us]")),
        }
    )
    admitted = start + rng.integers(0, span, n_spells).astype("timedelta64[s]")
    los_days = np.minimum(np.round(rng.lognormal(np.log(5.0), 1.2, n_spells)), 200).astype(np.int64)
    discharged = admitted + (los_days * 86_400 + rng.integers(-6 * 3600, 6 * 3600, n_spells)).astype(
        "timedelta64[s]"
    )
    discharged = np.maximum(discharged, admitted)
    is_open = (discharged >= np.datetime64(END, "s")) | (rng.random(n_spells) < 0.02)
    spells = pa.table(
        {
            "spell_id": pc.binary_join_element_wise("S", pa.array(np.arange(n_spells)).cast(pa.string()), ""),
            "patient_id": ids(n_spells),
            "site": sites.take(pa.array(rng.choice(N_SITES, n_spells, p=weights))),
            "admitted": pa.array(admitted.astype("datetime64[us]")),
            "discharged": pa.array(discharged.astype("datetime64[us]"), mask=is_open),
        }
    )
    paths = {"attendances": workdir / "attendances.parquet", "spells": workdir / "spells.parquet"}
    pq.write_table(attendances, paths["attendances"], row_group_size=1_000_000)
    pq.write_table(spells, paths["spells"], row_group_size=1_000_000)
    return paths


# --------------------------------------------------------------------------- the two contenders


def run_toolkit(data: Path, out: Path) -> dict[str, float]:
    """(a) evaltoolkit.series on the Parquet paths."""
    from evaltoolkit.series import bed_days, count_events, los_by_period

    att, spells = data / "attendances.parquet", data / "spells.parquet"
    common = {"freq": "MS", "by": "site", "start": START, "end": END}
    timings = {}
    t = time.perf_counter()
    counts = count_events(att, date="arrival", **common)
    timings["count_events"] = time.perf_counter() - t
    t = time.perf_counter()
    beds = bed_days(spells, admitted="admitted", discharged="discharged", censor_at=END, **common)
    timings["bed_days"] = time.perf_counter() - t
    t = time.perf_counter()
    los = los_by_period(spells, admitted="admitted", discharged="discharged", **common)
    timings["los_by_period"] = time.perf_counter() - t
    _save(out, counts, beds, los)
    return timings


def run_pandas(data: Path, out: Path) -> dict[str, float]:
    """(b) A straightforward vectorised pandas baseline computing the same series.

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
    timings["count_events"] = time.perf_counter() - t

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
    timings["los_by_period"] = time.perf_counter() - t
    _save(out, counts, beds, los_out)
    return timings


def _save(out: Path, counts, beds, los) -> None:
    out.mkdir(parents=True, exist_ok=True)
    counts.to_parquet(out / "counts.parquet", index=False)
    beds.to_parquet(out / "bed_days.parquet", index=False)
    los.to_parquet(out / "los.parquet", index=False)


# --------------------------------------------------------------------------- harness


def child(kind: str, data: Path, out: Path) -> None:
    """Entry point of a measured subprocess: run one contender, print timings and own peak RSS as JSON.

    The parent never loads data itself (generation also runs in a subprocess): on Linux a child's
    ``ru_maxrss`` starts from the parent's resident size at fork time, so a big parent would inflate it.
    """
    t = time.perf_counter()
    if kind == "toolkit":
        import evaltoolkit.series  # noqa: F401 - timed separately from the computation
    import pandas  # noqa: F401

    imported = time.perf_counter() - t
    timings = run_toolkit(data, out) if kind == "toolkit" else run_pandas(data, out)
    timings["import"] = imported
    timings["compute_total"] = sum(timings[k] for k in ("count_events", "bed_days", "los_by_period"))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"timings": timings, "peak_rss_mb": peak_kb / 1024}))


def measure(kind: str, data: Path, out: Path) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", kind, "--data", str(data), "--out", str(out)]
    t = time.perf_counter()
    done = subprocess.run(
        cmd, capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[1]
    )
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["wall"] = wall
    return report


def compare(a: Path, b: Path) -> list[str]:
    """Compare the two result sets; return one line per output saying how they agree."""
    import numpy as np
    import pandas as pd

    lines = []
    for name in ("counts", "bed_days", "los"):
        x = pd.read_parquet(a / f"{name}.parquet")
        y = pd.read_parquet(b / f"{name}.parquet")
        try:
            pd.testing.assert_frame_equal(x, y, check_exact=True)
            lines.append(f"{name}: identical ({len(x)} rows, exact)")
        except AssertionError:
            pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-12, atol=0)
            floats = x.select_dtypes("float").columns
            worst = max(float(np.nanmax(np.abs(x[c] - y[c]))) for c in floats)
            lines.append(f"{name}: identical except float rounding (max abs difference {worst:.3g})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="attendances (default 10^7)")
    parser.add_argument("--spells", type=int, default=None, help="spells (default n / 5)")
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per contender")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data here instead of a temp dir")
    parser.add_argument("--child", choices=["toolkit", "pandas", "generate"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n_spells = args.spells if args.spells is not None else args.n // 5
    if args.child == "generate":
        generate(args.data, args.n, n_spells, args.seed)
        return 0
    if args.child:
        child(args.child, args.data, args.out)
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_series_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "generate",
                "--data",
                str(workdir),
                "--n",
                str(args.n),
                "--spells",
                str(n_spells),
                "--seed",
                str(args.seed),
            ],
            check=True,
        )
        paths = {k: workdir / f"{k}.parquet" for k in ("attendances", "spells")}
        sizes = {k: p.stat().st_size / 1e6 for k, p in paths.items()}
        print(
            f"data: {args.n:,} attendances ({sizes['attendances']:.0f} MB), {n_spells:,} spells "
            f"({sizes['spells']:.0f} MB), seed {args.seed}; generated in {time.perf_counter() - t:.1f} s"
        )
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        reports: dict[str, list[dict[str, object]]] = {"toolkit": [], "pandas": []}
        for _ in range(args.repeat):
            for kind in ("toolkit", "pandas"):
                reports[kind].append(measure(kind, workdir, workdir / kind))
        agreement = compare(workdir / "toolkit", workdir / "pandas")
        print_table(reports)
        print("\nagreement:")
        for line in agreement:
            print(f"  {line}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def print_table(reports: dict[str, list[dict[str, object]]]) -> None:
    def med(kind: str, key: str) -> float:
        return statistics.median(float(r["timings"][key]) for r in reports[kind])  # type: ignore[index]

    rows = [("count_events", "count_events"), ("bed_days", "bed_days"), ("los_by_period", "los_by_period")]
    rows += [("compute total", "compute_total"), ("imports", "import")]
    print(f"\n{'':34}{'toolkit (Ibis/DuckDB)':>24}{'pandas baseline':>18}")
    for label, key in rows:
        print(f"{label + ' (s)':34}{med('toolkit', key):>24.2f}{med('pandas', key):>18.2f}")
    wall = {k: statistics.median(float(r["wall"]) for r in v) for k, v in reports.items()}  # type: ignore[arg-type]
    rss = {k: max(float(r["peak_rss_mb"]) for r in v) for k, v in reports.items()}  # type: ignore[arg-type]
    print(f"{'process wall incl. imports (s)':34}{wall['toolkit']:>24.2f}{wall['pandas']:>18.2f}")
    print(f"{'peak RSS (MB)':34}{rss['toolkit']:>24.0f}{rss['pandas']:>18.0f}")
    n = len(reports["toolkit"])
    print(f"({n} fresh process{'es' if n > 1 else ''} per contender; times are medians, RSS the maximum)")


if __name__ == "__main__":
    raise SystemExit(main())
