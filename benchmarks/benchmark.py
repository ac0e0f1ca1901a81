"""``make benchmark``: one table of wall time and peak memory, each row its own fresh process.

Rows:

* events → monthly series (``bench_series.py``) at each ``--sizes`` (attendances; spells = n / 5) for the
  toolkit, hand-written DuckDB SQL, pandas, Polars and Spark local[2], with the outputs compared;
* the full ``protocols/project_air.yaml`` run (``python -m evaltoolkit run ... -q``);
* 1,000 power simulations of a Project Air-sized design (``evaltoolkit.its.power``);
* scoring 10^6 PHQ-9 and 10^6 CORE-10 responses (``evaltoolkit.rom.score``);
* the book built from clean (a temporary copy of ``book/``);
* start-up: ``evaltoolkit --help``, ``import evaltoolkit.its``, ``import evaltoolkit.report``.

Usage::

    .venv/bin/python benchmarks/benchmark.py                 # the full table (10^7 and 10^8, book)
    .venv/bin/python benchmarks/benchmark.py --quick         # 10^6 only, no book: a sanity run
    .venv/bin/python benchmarks/benchmark.py --sizes 1e7 --only series,startup --contenders toolkit,duckdb
    .venv/bin/python benchmarks/benchmark.py --timeout 600   # a row still running after 600 s is killed

Wall time is the whole process, from start to exit, measured by this (small) parent process. Peak memory is
``ru_maxrss`` of the row's process from ``os.wait4`` (the largest resident set of it and any child it waited
for); for rows that run several processes at once (Spark: the Python driver and the JVM; the book: Sphinx
and the notebook kernels) it is the largest sum of the resident sets of the row's process group and its
descendants, sampled every 0.1 s from /proc. The parent never loads data: on Linux a child's ``ru_maxrss``
starts from the parent's resident size at fork. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERIES = HERE / "bench_series.py"
ROW_GROUPS = ("series", "protocol", "power", "rom", "book", "startup")
CONTENDERS = ("toolkit", "duckdb", "pandas", "polars", "spark")
LABELS = {
    "toolkit": "toolkit (evaltoolkit.series → DuckDB)",
    "duckdb": "DuckDB SQL by hand",
    "pandas": "pandas",
    "polars": "Polars (lazy)",
    "spark": "Spark SQL, local[2]",
}
TREE = {"spark", "book"}  # rows whose memory is the sampled sum over the process group
PANDAS_MB_PER_ROW = 1.1e-4  # pandas held ~1.0 GB at 10^7 attendances (+ 2×10^6 spells)
PAGE = os.sysconf("SC_PAGE_SIZE")

# Design of the power row: a Project Air-sized site series (protocols/project_air.yaml: 24 months before
# go-live, 48 after), monthly ED attendances about 60, a 15 % drop, overdispersed and autocorrelated.
POWER_DESIGN = {
    "n_pre": 24,
    "n_post": 48,
    "level_change": -0.1625,  # log(0.85)
    "baseline": 60.0,
    "family": "quasipoisson",
    "dispersion": 0.05,
    "ar": 0.3,
    "n_sims": 1000,
    "seed": 14,
}


# --------------------------------------------------------------------------- measuring one process


@dataclass
class Run:
    """One measured process."""

    wall: float = float("nan")
    rss_mb: float = float("nan")  # ru_maxrss from wait4
    tree_mb: float = 0.0  # sampled peak of the summed RSS of the process group and tree
    returncode: int | None = None
    timed_out: bool = False
    stdout: str = ""
    stderr: str = ""
    info: dict = field(default_factory=dict)  # the child's own JSON report, if it printed one


def _tree_rss(root: int) -> int:
    """Summed resident set (bytes) of ``root``'s process group and of all its descendants.

    Both, because a notebook kernel starts in a session of its own (outside the group) and a JVM may outlive
    its parent (outside the tree).
    """
    procs: dict[int, tuple[int, int, int]] = {}  # pid -> (ppid, pgrp, rss pages)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            procs[int(name)] = (int(fields[1]), int(fields[2]), int(fields[21]))
        except (OSError, ValueError, IndexError):
            continue
    members = {pid for pid, (_, pgrp, _) in procs.items() if pgrp == root}
    members.add(root)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            members.add(child)
            stack.append(child)
    return sum(procs[pid][2] for pid in members if pid in procs) * PAGE


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def measure(
    cmd: list[str], *, timeout: float, cwd: Path, workdir: Path, env: dict[str, str] | None = None
) -> Run:
    """Run ``cmd`` in a new process group; wall time, wait4 peak RSS and sampled group RSS."""
    run = Run()
    out_path, err_path = workdir / "row.stdout", workdir / "row.stderr"
    stop = threading.Event()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True)

        def sample() -> None:
            while not stop.is_set():
                run.tree_mb = max(run.tree_mb, _tree_rss(proc.pid) / 2**20)
                if time.perf_counter() - t0 > timeout:
                    run.timed_out = True
                    os.killpg(proc.pid, signal.SIGKILL)  # the group of the process started above
                    return
                stop.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the process started above
            raise
        run.wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
        proc.returncode = run.returncode = os.waitstatus_to_exitcode(status)
    run.rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    # Processes of the group that outlive the row's process (a JVM shutting down) must not run into the next
    # row: give them 30 s, then end them.
    deadline = time.perf_counter() + 30
    while _group_alive(proc.pid) and time.perf_counter() < deadline:
        time.sleep(0.1)
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    run.stdout = out_path.read_text(errors="replace")
    run.stderr = err_path.read_text(errors="replace")
    last = run.stdout.strip().splitlines()[-1:] if run.stdout.strip() else []
    if last and last[0].startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):
            run.info = json.loads(last[0])
    return run


# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    label: str
    run: Run | None = None
    note: str = ""  # "not run: ..." or "failed: ..."
    tree: bool = False
    ratio: str = "—"
    output: str = "—"
    target: str = "—"
    result: str = "—"
    detail: str = ""

    @property
    def peak_mb(self) -> float:
        if self.run is None:
            return float("nan")
        return self.run.tree_mb if self.tree else self.run.rss_mb


def _fmt_size(n: int) -> str:
    exponent = len(str(n)) - 1
    return f"10^{exponent}" if n == 10**exponent else f"{n:,}"


def _child_env() -> dict[str, str]:
    """The environment of every row: this repository's evaltoolkit first, no progress bars."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _available_mb() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _failed(row: Row, run: Run) -> None:
    row.run = None
    if run.timed_out:
        row.note = f"not run: killed after the {run.wall:.0f} s timeout"
    else:
        tail = " | ".join(run.stderr.strip().splitlines()[-3:])
        row.note = f"failed (exit {run.returncode}): {tail[:200]}"


def series_rows(
    n: int, args: argparse.Namespace, workdir: Path, env: dict[str, str]
) -> tuple[list[Row], bool]:
    """The contenders at one size; returns the rows and whether every output agreed."""
    size = _fmt_size(n)
    data = workdir / f"data_{n}"
    out = workdir / f"out_{n}"
    _log(f"series {size}: generating {n:,} attendances and {n // 5:,} spells")
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(SERIES),
            "--child",
            "generate",
            "--data",
            str(data),
            "--n",
            str(n),
            "--seed",
            "20240401",
        ],
        check=True,
        env=env,
    )
    sizes = {k: (data / f"{k}.parquet").stat().st_size / 1e6 for k in ("attendances", "spells")}
    header = (
        f"series {size}: {n:,} attendances ({sizes['attendances']:.0f} MB Parquet) and {n // 5:,} spells "
        f"({sizes['spells']:.0f} MB), generated in {time.perf_counter() - t:.0f} s (not timed in the table)"
    )
    rows: dict[str, Row] = {}
    for kind in args.contenders:
        row = Row(f"series {size}: {LABELS[kind]}", tree=kind in TREE)
        rows[kind] = row
        if kind == "spark" and shutil.which("java") is None:
            row.note = "not run: no Java runtime on the PATH (Debian: apt-get install default-jre-headless)"
            continue
        if kind == "pandas" and n * PANDAS_MB_PER_ROW > 0.8 * _available_mb():
            row.note = (
                f"not run: pandas needs about {n * PANDAS_MB_PER_ROW / 1024:.0f} GB, "
                f"{_available_mb() / 1024:.0f} GB available"
            )
            continue
        _log(f"series {size}: {kind}")
        cmd = [sys.executable, str(SERIES), "--child", kind, "--data", str(data), "--out", str(out / kind)]
        run = measure(cmd, timeout=args.timeout, cwd=ROOT, workdir=workdir, env=env)
        if run.returncode != 0:
            _failed(row, run)
            continue
        row.run = run
        steps = ", ".join(f"{k} {v:.2f}" for k, v in run.info.items())
        row.detail = f"{row.label}: {steps}"
    done = [k for k, r in rows.items() if r.run is not None]
    agreed = True
    if len(done) >= 2:
        check = subprocess.run(
            [
                sys.executable,
                str(SERIES),
                "--child",
                "compare",
                "--data",
                str(data),
                "--out",
                str(out),
                "--against",
                *done,
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        report = json.loads(check.stdout.strip().splitlines()[-1])
        rows[done[0]].output = "reference"
        for kind, verdicts in report["verdicts"].items():
            values = set(verdicts.values())
            if values == {"exact"}:
                rows[kind].output = "identical"
            elif any(v.startswith("DIFFERENT") for v in values):
                rows[kind].output = "DIFFERENT"
                agreed = False
                rows[kind].detail += "; " + "; ".join(f"{k}: {v}" for k, v in verdicts.items())
            else:
                worst = max(float(v.split()[1]) for v in values if v.startswith("rounding"))
                rows[kind].output = f"identical to {worst:.0e}"
        expected = {"attendances": n, "admissions": n // 5}
        for kind, found in report["totals"].items():
            if found != expected:
                rows[kind].output = f"DIFFERENT totals {found}"
                agreed = False
    # Ratios to the toolkit and the targets.
    toolkit = rows.get("toolkit")
    if toolkit is not None and toolkit.run is not None:
        for row in rows.values():
            if row.run is not None:
                row.ratio = f"{row.run.wall / toolkit.run.wall:.2f}"
        sql = rows.get("duckdb")
        if n in (10**7, 10**8) and sql is not None and sql.run is not None:
            factor = toolkit.run.wall / sql.run.wall
            checks = [factor <= 1.2]
            toolkit.target = "≤ 1.2× DuckDB SQL"
            if n == 10**8:
                toolkit.target += ", < 1.5 GB"
                checks.append(toolkit.peak_mb < 1536)
            toolkit.result = ("pass" if all(checks) else "miss") + f" ({factor:.2f}×)"
    _log(header)
    rows_list = list(rows.values())
    rows_list[0].detail = header + ("\n" + rows_list[0].detail if rows_list[0].detail else "")
    return rows_list, agreed


def simple_row(label: str, cmd: list[str], args, workdir, env, *, cwd=ROOT, tree=False, repeat=1) -> Row:
    row = Row(label, tree=tree)
    _log(label)
    runs = []
    for _ in range(repeat):
        run = measure(cmd, timeout=args.timeout, cwd=cwd, workdir=workdir, env=env)
        if run.returncode != 0:
            _failed(row, run)
            return row
        runs.append(run)
    best = runs[0]
    if repeat > 1:
        best.wall = statistics.median(r.wall for r in runs)
        best.rss_mb = max(r.rss_mb for r in runs)
        best.tree_mb = max(r.tree_mb for r in runs)
        row.detail = f"{label}: median of {repeat} processes ({', '.join(f'{r.wall:.2f}' for r in runs)} s)"
    row.run = best
    if best.info:
        row.detail = f"{label}: " + ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in best.info.items()
        )
    return row


def with_target(row: Row, limit: float, text: str) -> Row:
    row.target = text
    if row.run is not None:
        row.result = "pass" if row.run.wall < limit else "miss"
    return row


def book_row(args, workdir: Path, env: dict[str, str]) -> Row:
    """Build a clean copy of the book the way `make demo` and the tests do (pages read ../../<folder>).

    With ``tools/build_book.py`` in the repository (parallel Sphinx jobs, what `make demo` runs) that script
    builds it; otherwise ``jupyter-book build``.
    """
    work = workdir / "bookbuild"
    shutil.copytree(ROOT / "book", work / "book", ignore=shutil.ignore_patterns("_build", "_outputs"))
    for name in ("synthetic_data", "protocols", "benchmarks"):
        (work / name).symlink_to(ROOT / name)
    parallel = ROOT / "tools" / "build_book.py"  # `jupyter-book build` with parallel Sphinx jobs, if present
    if parallel.exists():
        cmd = [sys.executable, str(parallel)]
        label = "book build from clean (tools/build_book.py -W -n)"
    else:
        cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build"]
        label = "book build from clean (jupyter-book build -W -n)"
    cmd += [str(work / "book"), "-W", "-n", "--keep-going"]
    row = simple_row(label, cmd, args, workdir, env, cwd=work, tree=True)
    return with_target(row, 120, "< 2 min")


# --------------------------------------------------------------------------- the in-process rows


def child_power() -> None:
    t = time.perf_counter()
    from evaltoolkit.its import power

    imported = time.perf_counter() - t
    t = time.perf_counter()
    table = power(**POWER_DESIGN)
    level = table.loc[table["term"] == "level_change"].iloc[0]
    print(
        json.dumps(
            {
                "import": imported,
                "compute": time.perf_counter() - t,
                "n_valid": int(level["n_valid"]),
                "power_level_change": float(level["power"]),
            }
        )
    )


def child_rom(n: int) -> None:
    t = time.perf_counter()
    import numpy as np
    import pandas as pd

    from evaltoolkit.rom import score

    imported = time.perf_counter() - t
    rng = np.random.default_rng(14)
    report: dict[str, float | int] = {"import": imported}
    for key, k, top in (("phq9", 9, 3), ("core10", 10, 4)):
        t = time.perf_counter()
        items = rng.integers(0, top + 1, size=(n, k)).astype("float64")
        items[rng.random((n, k)) < 0.01] = np.nan  # 1 % of items unanswered: prorating rules apply
        responses = pd.DataFrame(items, columns=[f"{key}_{i}" for i in range(1, k + 1)])
        responses.insert(0, "patient_id", np.arange(n))
        report[f"generate_{key}"] = time.perf_counter() - t
        t = time.perf_counter()
        scored = score(responses, key)
        report[f"score_{key}"] = time.perf_counter() - t
        report[f"valid_{key}"] = int(scored["valid"].sum())
    print(json.dumps(report))


# --------------------------------------------------------------------------- machine and table


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        ram = int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) / 2**20
    os_name = platform.system()
    try:
        with open("/etc/os-release") as f:
            os_name = next(
                line.split("=", 1)[1].strip().strip('"') for line in f if line.startswith("PRETTY_NAME")
            )
    except (OSError, StopIteration):
        pass
    java = (
        subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
        if shutil.which("java")
        else None
    )
    java_version = java.stderr.splitlines()[0] if java and java.stderr else "no java"
    packages = [
        "evaltoolkit",
        "duckdb",
        "ibis-framework",
        "pandas",
        "numpy",
        "pyarrow",
        "polars",
        "pyspark",
        "statsmodels",
        "matplotlib",
        "jupyter-book",
    ]
    return [
        f"machine: {cpu}, {os.cpu_count()} logical CPUs, {ram:.1f} GB RAM, {os_name}"
        f" (Linux {platform.release()})",
        f"Python {platform.python_version()}; {java_version}",
        "packages: " + ", ".join(f"{p} {_version(p)}" for p in packages),
    ]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def table(rows: list[Row]) -> list[str]:
    head = ["row", "wall (s)", "import (s)", "peak (MB)", "× toolkit", "output", "target", "result"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", *["---:"] * 4, "---", "---", "---"]) + "|",
    ]
    for r in rows:
        if r.run is None:
            cells = [r.label, r.note, "", "", "", r.output, r.target, r.result if r.note == "" else "—"]
        else:
            imported = r.run.info.get("import")
            peak = f"{r.peak_mb:,.0f}" + (" ᵀ" if r.tree else "")
            cells = [
                r.label,
                f"{r.run.wall:.2f}",
                f"{imported:.2f}" if isinstance(imported, float) else "",
                peak,
                r.ratio,
                r.output,
                r.target,
                r.result,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^6 attendances only and no book")
    parser.add_argument("--sizes", default=None, help="attendances per series run, e.g. 1e7,1e8 (default)")
    parser.add_argument("--only", default=",".join(ROW_GROUPS), help=f"row groups: {', '.join(ROW_GROUPS)}")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="series contenders")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a row is killed")
    parser.add_argument("--startup-repeat", type=int, default=5, help="processes per start-up row (median)")
    parser.add_argument("--rom-n", type=int, default=1_000_000, help="responses per questionnaire")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and outputs here")
    parser.add_argument("--child", choices=["power", "rom"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "power":
        child_power()
        return 0
    if args.child == "rom":
        child_rom(args.rom_n)
        return 0

    only = [g.strip() for g in args.only.split(",") if g.strip()]
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = (set(only) - set(ROW_GROUPS)) | (set(args.contenders) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown row group or contender: {', '.join(sorted(unknown))}")
    if args.sizes is not None:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
    else:
        sizes = [10**6] if args.quick else [10**7, 10**8]
    if args.quick and "book" in only and args.only == ",".join(ROW_GROUPS):
        only.remove("book")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="evaltoolkit_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = _child_env()
    load_before = load()
    started = time.perf_counter()
    rows: list[Row] = []
    agreed = True

    def add(*new: Row) -> None:
        """Keep the rows for the table and log each as it is measured (a killed run keeps them on stderr)."""
        rows.extend(new)
        for row in new:
            _log(table([row])[-1])

    try:
        if "series" in only:
            for n in sizes:
                got, ok = series_rows(n, args, workdir, env)
                add(*got)
                agreed &= ok
        py = sys.executable
        if "protocol" in only:
            out = workdir / "project_air"
            cmd = [
                py,
                "-m",
                "evaltoolkit",
                "run",
                str(ROOT / "protocols" / "project_air.yaml"),
                "--out",
                str(out),
                "-q",
            ]
            add(
                with_target(simple_row("protocols/project_air.yaml run", cmd, args, workdir, env), 5, "< 5 s")
            )
        if "power" in only:
            label = "power: 1,000 simulations (24 + 48 months, quasi-Poisson)"
            add(simple_row(label, [py, __file__, "--child", "power"], args, workdir, env))
        if "rom" in only:
            label = f"score {args.rom_n:,} PHQ-9 + {args.rom_n:,} CORE-10 responses"
            cmd = [py, __file__, "--child", "rom", "--rom-n", str(args.rom_n)]
            add(simple_row(label, cmd, args, workdir, env))
        if "book" in only:
            add(book_row(args, workdir, env))
        if "startup" in only:
            cli = Path(py).with_name("evaltoolkit")
            help_cmd = [str(cli), "--help"] if cli.exists() else [py, "-m", "evaltoolkit", "--help"]
            for label, cmd, limit in (
                ("evaltoolkit --help", help_cmd, 0.3),
                ("python -c 'import evaltoolkit.its'", [py, "-c", "import evaltoolkit.its"], 1.3),
                ("python -c 'import evaltoolkit.report'", [py, "-c", "import evaltoolkit.report"], 1.3),
                # A package that loads its modules lazily imports at once; its entry point is the real cost.
                (
                    "python -c 'from evaltoolkit.report import run_protocol'",
                    [py, "-c", "from evaltoolkit.report import run_protocol"],
                    1.3,
                ),
            ):
                row = simple_row(label, cmd, args, workdir, env, repeat=args.startup_repeat)
                add(with_target(row, limit, f"< {limit} s"))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    load_after = load()

    print("\n".join(machine()))
    print(f"{load_before} before, {load_after} after ({time.perf_counter() - started:.0f} s in all)\n")
    print("\n".join(table(rows)))
    print(
        "\nwall: the whole process (interpreter start, imports, reading, computing, writing results), one run"
        f" (start-up rows: median of {args.startup_repeat}). import: inside the process, of the contender's"
        " library. peak: ru_maxrss of the process (os.wait4); ᵀ = the summed resident set of the process"
        " group and all its descendants, sampled every 0.1 s (Spark: Python driver + JVM; book: Sphinx +"
        " kernels). output: the three series compared with the first contender's after normalising dtypes"
        " (exact, or the largest difference)."
    )
    details = [r.detail for r in rows if r.detail]
    if details:
        print("\nin-process timings (s):")
        for d in details:
            print("  " + d.replace("\n", "\n  "))
    failed = [r for r in rows if r.note.startswith("failed")]
    return 1 if failed or not agreed else 0


if __name__ == "__main__":
    raise SystemExit(main())
