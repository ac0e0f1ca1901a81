"""Tables (Markdown) and figures (PNG) of the ITS coverage study from the CSVs written by ``run.py``.

Usage (from the repository root)::

    .venv/bin/python benchmarks/coverage/summary.py                  # results/ -> summary/
    .venv/bin/python benchmarks/coverage/summary.py --results DIR --out DIR

Writes ``summary/coverage.md`` (coverage, type I error, bias and SE tables, with Monte-Carlo SEs) and
``summary/coverage_<kind>_<estimand>.png`` (coverage against ρ, one panel per series length, one line per
method, ±1.96 Monte-Carlo SE error bars and the 93–97% band). The book chapter ``book/its/coverage.md``
imports the same functions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SUMMARY = HERE / "summary"

METHOD_ORDER = [
    "ols",
    "ols+nw",
    "prais-winsten",
    "gls-reml",
    "gls-ml",
    "arima",
    "poisson",
    "quasipoisson",
    "negbin",
    "quasipoisson+nw",
    "default",
]
ESTIMAND_LABEL = {
    "level_change": "level change",
    "slope_change": "slope change",
    "diff_level_change": "level change (treated - control)",
    "diff_slope_change": "slope change (treated - control)",
}
BAND = (0.93, 0.97)


def load(results: Path | str = RESULTS) -> pd.DataFrame:
    """All scenario CSVs of a results folder in one frame (sorted by kind, n, ρ, method, estimand)."""
    files = sorted(Path(results).glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no scenario CSVs in {results}: run benchmarks/coverage/run.py first")
    df = pd.concat((pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in files), ignore_index=True)
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    df["_m"] = df["method"].map(order).fillna(len(order))
    df = df.sort_values(
        ["kind", "count_dist", "n", "split", "errors", "rho", "level", "slope", "_m", "estimand"]
    )
    return df.drop(columns="_m").reset_index(drop=True)


def _methods(df: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(df["method"]))
    return [m for m in METHOD_ORDER if m in present] + [m for m in present if m not in METHOD_ORDER]


def measure_table(
    df: pd.DataFrame, measure: str = "coverage", *, percent: bool = True, digits: int = 1
) -> pd.DataFrame:
    """Wide table ``n × ρ`` (rows) by method (columns) of ``measure`` with its MC SE: ``"93.4 (0.8)"``.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of one kind of scenario and one estimand (filter :func:`load` first).
    measure : str
        A column with a ``<measure>_mcse`` partner: ``coverage``, ``power``, ``bias``, ``emp_se``,
        ``model_se`` or ``mean_ar1``.
    percent : bool
        Show as percentages.
    digits : int
        Decimals.
    """
    scale = 100.0 if percent else 1.0

    def cell(r: pd.Series) -> str:
        v, s = r[measure], r[f"{measure}_mcse"]
        if not np.isfinite(v):
            return "–"
        return f"{v * scale:.{digits}f} ({s * scale:.{digits}f})"

    d = df.assign(cell=df.apply(cell, axis=1))
    keys = ["n", "rho"]
    wide = d.pivot_table(index=keys, columns="method", values="cell", aggfunc="first")
    wide = wide[[m for m in _methods(d) if m in wide.columns]]
    wide.columns.name = None
    return wide.reset_index().rename(columns={"rho": "ρ"})


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub/MyST pipe table (no dependency on ``tabulate``)."""
    cols = [str(c) for c in table.columns]
    align = ["---:" if pd.api.types.is_numeric_dtype(table[c]) else ":---" for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(align) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def plot_coverage(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Coverage against ρ, one panel per series length ``n``, one line per method.

    Error bars are ±1.96 Monte-Carlo SEs; the grey band is 93–97%, the dashed line the nominal 95%.
    """
    ns = sorted(df["n"].unique())
    methods = _methods(df)
    fig, axes = plt.subplots(1, len(ns), figsize=(3.6 * len(ns) + 1.6, 3.6), sharey=True, squeeze=False)
    offsets = np.linspace(-0.04, 0.04, len(methods)) if len(methods) > 1 else [0.0]
    lo = min(0.6, float(np.nanmin(df["coverage"] - 2 * df["coverage_mcse"])) - 0.02)
    for ax, n in zip(axes[0], ns, strict=True):
        ax.axhspan(*BAND, color="0.88", zorder=0)
        ax.axhline(0.95, color="0.4", ls="--", lw=0.8, zorder=1)
        for off, m in zip(offsets, methods, strict=True):
            d = df[(df["n"] == n) & (df["method"] == m)].sort_values("rho")
            if d.empty:
                continue
            ax.errorbar(
                d["rho"] + off,
                d["coverage"],
                yerr=1.96 * d["coverage_mcse"],
                marker="o",
                ms=3.5,
                lw=1.2,
                capsize=2,
                label=m,
            )
        ax.set_title(f"n = {n}")
        ax.set_xlabel("lag-1 autocorrelation ρ")
        ax.set_ylim(lo, 1.0)
        ax.set_xticks(sorted(df["rho"].unique()))
    axes[0][0].set_ylabel("95% CI coverage")
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    """Write ``coverage.md`` and the PNG figures (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--out", type=Path, default=SUMMARY)
    a = ap.parse_args(argv)
    matplotlib.use("Agg")  # files only (importers such as the book keep their own backend)
    a.out.mkdir(parents=True, exist_ok=True)
    df = load(a.results)
    parts = [
        "# ITS coverage study: tables",
        "",
        "Cells: estimate (Monte-Carlo SE), percent unless noted.",
        "",
    ]
    for kind, dk in df.groupby("kind", sort=False):
        for est, de in dk.groupby("estimand", sort=False):
            reps = int(de["reps"].max())
            label = ESTIMAND_LABEL.get(est, est)
            parts += [f"## {kind}: {label} ({reps} replicates per scenario)", ""]
            for measure, pct, name in (
                ("coverage", True, "95% CI coverage"),
                ("power", True, "rejection rate at 5% (type I error under the null)"),
                ("bias", False, "bias"),
                ("emp_se", False, "empirical SE"),
                ("model_se", False, "mean model SE"),
            ):
                table = measure_table(de, measure, percent=pct, digits=1 if pct else 3)
                parts += [f"### {name}", "", to_markdown(table), ""]
            fig = plot_coverage(de, f"{kind}: {label}")
            fig.savefig(a.out / f"coverage_{kind}_{est}.png", dpi=110)
            plt.close(fig)
    info = df[df["method"] == "default"][["kind", "method_used", "se_type_used", "ci_method_used"]]
    info = info.astype(object).where(info.notna(), "").drop_duplicates()
    parts += ["## What `default` was", "", to_markdown(info), ""]
    fails = df.groupby(["kind", "method"])[["failures", "n_warned", "seconds_per_fit"]].mean().reset_index()
    parts += ["## Failures, warnings and time per fit (means over scenarios)", "", to_markdown(fails), ""]
    (a.out / "coverage.md").write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {a.out / 'coverage.md'} and {len(list(a.out.glob('*.png')))} figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
