"""Coverage study of the ITS methods of ``evaltoolkit.its.fit_its`` (Monte-Carlo simulation).

For every scenario of a grid (generators in ``evaltoolkit/its/_simulate.py``), simulate ``--reps`` replicate
series and fit each named method spec to the *same* replicate; write one CSV per scenario to ``--out`` with,
per (scenario, method, estimand): bias, empirical SE, mean model SE, 95% CI coverage and power (rejection at
5%), each with its Monte-Carlo SE (Morris, White & Crowther 2019), the number of failed fits, of fits with
warnings (by warning class), of non-converged fits, the mean AR(1) estimate and the mean wall time per fit.

Usage (from the repository root)::

    nice .venv/bin/python benchmarks/coverage/run.py --grid reduced --workers 1      # the committed study
    .venv/bin/python benchmarks/coverage/run.py --grid full --reps 2000 --workers 2 --out coverage_full
    .venv/bin/python benchmarks/coverage/run.py --grid reduced --methods ols gls-reml default --reps 200

``--resume`` skips scenarios whose CSV already exists in ``--out`` (files are written atomically when a
scenario finishes). See benchmarks/coverage/README.md.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from evaltoolkit.its import fit_its  # noqa: E402
from evaltoolkit.its._simulate import Scenario, rep_rng, simulate  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# -- method specs: name -> fit_its keywords (on top of the scenario's own keywords) -------------------------
GAUSSIAN_METHODS: dict[str, dict[str, Any]] = {
    "ols": {"family": "gaussian", "method": "ols"},
    "ols+nw": {"family": "gaussian", "method": "ols", "se_type": "newey-west", "lags": 1},
    "prais-winsten": {"family": "gaussian", "method": "prais-winsten"},
    "gls-reml": {"family": "gaussian", "method": "gls-reml"},
    "gls-ml": {"family": "gaussian", "method": "gls-ml"},
    "arima": {"family": "gaussian", "method": "arima"},
    # whatever fit_its does when given only the family (the library's default method at run time)
    "default": {"family": "gaussian"},
}
COUNT_METHODS: dict[str, dict[str, Any]] = {
    "poisson": {"family": "poisson"},
    "quasipoisson": {"family": "quasipoisson"},
    "negbin": {"family": "negbin"},
    "quasipoisson+nw": {"family": "quasipoisson", "se_type": "newey-west", "lags": 1},
    "default": {"family": "quasipoisson"},
}


def methods_for(sc: Scenario, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The method specs that apply to a scenario's kind, optionally restricted to the names in ``only``."""
    specs = COUNT_METHODS if sc.kind == "count" else GAUSSIAN_METHODS
    if sc.kind == "controlled":  # fit_its's arima fits one series only
        specs = {k: v for k, v in specs.items() if k != "arima"}
    if only:
        specs = {k: v for k, v in specs.items() if k in only}
    return specs


# -- grids --------------------------------------------------------------------------------------------------
RHOS = (0.0, 0.2, 0.4, 0.6, 0.8)


def grid(name: str) -> list[tuple[Scenario, int]]:
    """Scenarios of a named grid with their default replicate counts.

    ``reduced``: the committed study (Gaussian AR(1), n 24/48/96, even split, ρ 0–0.8, null effects, 1,000
    replicates; Poisson counts with baseline 50 and latent AR(1) shocks ρ 0.2/0.6, n 48/96, 300 replicates).
    ``full``: additionally splits 1:2 and 2:1, non-null effects, ARMA(1,1) and AR(2) errors, n 144, counts
    with baselines 5/50/500 and negative binomial noise, controlled designs with 1 and 3 controls.
    """
    out: list[tuple[Scenario, int]] = []
    if name == "reduced":
        for n in (24, 48, 96):
            for r in RHOS:
                out.append((Scenario(kind="gaussian", n=n, ar=(r,)), 1000))
        for n in (48, 96):
            for r in (0.2, 0.6):
                out.append((Scenario(kind="count", n=n, ar=(r,), baseline=50.0, shock_sd=0.1), 300))
        return out
    if name != "full":
        raise ValueError(f"--grid {name!r}: expected 'reduced' or 'full'")
    effects = ((0.0, 0.0), (1.0, 0.1))  # (level, slope) in innovation-SD units
    for n in (24, 48, 96, 144):
        for split in ("even", "1:2", "2:1"):
            for r in RHOS:
                for lv, sl in effects:
                    sc = Scenario(kind="gaussian", n=n, split=split, ar=(r,), level=lv, slope=sl)
                    out.append((sc, 1000))
        for errs in (dict(ar=(0.5,), ma=(0.3,)), dict(ar=(0.5, 0.2)), dict(ar=(0.9, -0.2))):
            out.append((Scenario(kind="gaussian", n=n, **errs), 1000))
    for n in (24, 48, 96):
        for dist in ("poisson", "negbin"):
            for base in (5.0, 50.0, 500.0):
                for r in (0.0, 0.2, 0.6):
                    for lv, sl in ((0.0, 0.0), (-0.2, 0.0)):
                        sc = Scenario(
                            kind="count", n=n, ar=(r,), count_dist=dist, baseline=base, level=lv, slope=sl
                        )
                        out.append((sc, 500))
        for k in (1, 3):
            for r in (0.0, 0.4, 0.8):
                out.append((Scenario(kind="controlled", n=n, ar=(r,), n_controls=k), 1000))
    return out


# -- one scenario -------------------------------------------------------------------------------------------
def _one_fit(df: pd.DataFrame, base: dict[str, Any], spec: dict[str, Any], truths: dict[str, float]) -> dict:
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"ok": False, "warnings": (), "error": ""}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = fit_its(df, **base, **spec)
            coefs = res.coefficients().set_index("term")
            for term in truths:
                row = coefs.loc[term]
                rec[term] = (
                    float(row["estimate"]),
                    float(row["std_error"]),
                    float(row["ci_lower"]),
                    float(row["ci_upper"]),
                    float(row["p_value"]),
                )
            rec["ok"] = all(np.isfinite(rec[term][:4]).all() for term in truths)
            rec["converged"] = bool(res.converged)
            rec["ar1"] = float(res.ar_params[0]) if res.ar_params else math.nan
            rec["method_used"] = str(res.method)
            rec["se_type_used"] = str(res.se_type)
            rec["ci_method_used"] = str(getattr(res, "ci_method", "") or "")
            if not rec["ok"]:
                rec["error"] = "non-finite estimate, SE or CI"
        except Exception as exc:  # a failed fit is counted, never fatal
            rec["error"] = f"{type(exc).__name__}: {exc}"[:200]
    rec["warnings"] = tuple(sorted({type(w.message).__name__ for w in caught}))
    rec["seconds"] = time.perf_counter() - t0
    return rec


def _mcse_summary(
    sc: Scenario, name: str, spec: dict[str, Any], fits: list[dict], reps: int
) -> list[dict[str, Any]]:
    rows = []
    ok = [f for f in fits if f["ok"]]
    warn_counts: Counter[str] = Counter(w for f in fits for w in f["warnings"])
    errors = Counter(f["error"].split(":")[0] for f in fits if f["error"])
    first = next((f for f in fits if "method_used" in f), {})
    for term, truth in sc.truths().items():
        R = len(ok)
        est = np.array([f[term][0] for f in ok])
        se = np.array([f[term][1] for f in ok])
        lo = np.array([f[term][2] for f in ok])
        hi = np.array([f[term][3] for f in ok])
        p = np.array([f[term][4] for f in ok])
        ar1 = np.array([f["ar1"] for f in ok])
        ar1 = ar1[np.isfinite(ar1)]
        row: dict[str, Any] = {**sc.describe(), "method": name, "estimand": term, "truth": truth}
        row["reps"] = reps
        if R >= 2:
            emp = float(np.std(est, ddof=1))
            cover = float(np.mean((lo <= truth) & (truth <= hi)))
            reject = np.where(np.isfinite(p), p < 0.05, (lo > 0) | (hi < 0))
            power = float(np.mean(reject))
            row.update(
                bias=float(np.mean(est) - truth),
                bias_mcse=emp / math.sqrt(R),
                emp_se=emp,
                emp_se_mcse=emp / math.sqrt(2 * (R - 1)),
                model_se=float(np.mean(se)),
                model_se_mcse=float(np.std(se, ddof=1)) / math.sqrt(R),
                coverage=cover,
                coverage_mcse=math.sqrt(cover * (1 - cover) / R),
                power=power,
                power_mcse=math.sqrt(power * (1 - power) / R),
                mean_ar1=float(np.mean(ar1)) if ar1.size else math.nan,
                mean_ar1_mcse=float(np.std(ar1, ddof=1) / math.sqrt(ar1.size)) if ar1.size > 1 else math.nan,
            )
        row.update(
            n_ok=R,
            failures=reps - R,
            failure_kinds=";".join(f"{k}:{v}" for k, v in sorted(errors.items())),
            not_converged=sum(1 for f in ok if not f.get("converged", True)),
            n_warned=sum(1 for f in fits if f["warnings"]),
            warning_kinds=";".join(f"{k}:{v}" for k, v in sorted(warn_counts.items())),
            seconds_per_fit=float(np.mean([f["seconds"] for f in fits])),
            method_used=first.get("method_used", ""),
            se_type_used=first.get("se_type_used", ""),
            ci_method_used=first.get("ci_method_used", ""),
            spec=";".join(f"{k}={v}" for k, v in spec.items()),
        )
        rows.append(row)
    return rows


def run_scenario(
    sc: Scenario, reps: int, only: list[str] | None = None, specs: dict[str, dict[str, Any]] | None = None
) -> pd.DataFrame:
    """Simulate ``reps`` replicates of ``sc``, fit every applicable method to each, and summarise.

    Parameters
    ----------
    sc : Scenario
        The scenario.
    reps : int
        Replicates (replicate ``r`` uses ``rep_rng(sc, r)``, so results are reproducible and nested: the first
        100 replicates of a 1,000-replicate run are the 100 of a 100-replicate run).
    only : list of str, optional
        Method names to run (default: all for the scenario's kind).
    specs : dict, optional
        Method specs ``{name: fit_its keywords}`` to use instead of :func:`methods_for`'s.

    Returns
    -------
    pandas.DataFrame
        One row per (method, estimand).
    """
    specs = methods_for(sc, only) if specs is None else specs
    base = sc.fit_kwargs()
    truths = sc.truths()
    fits: dict[str, list[dict]] = {m: [] for m in specs}
    for r in range(reps):
        df = simulate(sc, rep_rng(sc, r))
        for m, spec in specs.items():
            fits[m].append(_one_fit(df, base, spec, truths))
    rows = [row for m, spec in specs.items() for row in _mcse_summary(sc, m, spec, fits[m], reps)]
    return pd.DataFrame(rows)


def _task(args: tuple[Scenario, int, list[str] | None, str, bool]) -> tuple[str, float]:
    sc, reps, only, out, update = args
    t0 = time.perf_counter()
    table = run_scenario(sc, reps, only)
    table["scenario_seconds"] = round(time.perf_counter() - t0, 1)
    path = Path(out) / f"{sc.name}.csv"
    if update and path.exists():  # replace only the re-run methods' rows, keep the others
        old = pd.read_csv(path)
        old = old[~old["method"].isin(table["method"].unique())]
        table = pd.concat([old, table], ignore_index=True)
    tmp = path.with_suffix(".csv.tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, path)
    return sc.name, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", choices=("reduced", "full"), default="reduced")
    ap.add_argument("--reps", type=int, default=None, help="replicates per scenario (default: the grid's)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--resume", action="store_true", help="skip scenarios whose CSV exists in --out")
    ap.add_argument("--out", type=Path, default=RESULTS, help=f"output folder (default {RESULTS})")
    ap.add_argument("--methods", nargs="+", default=None, help="method names to run (default all)")
    ap.add_argument(
        "--update",
        action="store_true",
        help="re-run --methods in scenarios whose CSV exists and replace only their rows",
    )
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    tasks = []
    for sc, reps in grid(a.grid):
        if a.resume and not a.update and (a.out / f"{sc.name}.csv").exists():
            continue
        tasks.append((sc, a.reps or reps, a.methods, str(a.out), a.update))
    print(f"{len(tasks)} scenarios to run ({a.grid} grid) -> {a.out}", flush=True)
    t0 = time.perf_counter()
    if a.workers > 1:
        with multiprocessing.get_context("spawn").Pool(a.workers) as pool:
            for name, secs in pool.imap_unordered(_task, tasks):
                print(f"{name}: {secs:.0f} s (total {time.perf_counter() - t0:.0f} s)", flush=True)
    else:
        for task in tasks:
            name, secs = _task(task)
            print(f"{name}: {secs:.0f} s (total {time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["COUNT_METHODS", "GAUSSIAN_METHODS", "grid", "main", "methods_for", "run_scenario"]
