"""Report figures, drawn from results.json alone (so a results folder can be re-rendered).

Every figure is a :class:`FigureSpec` with a ``draw()`` that returns a :class:`matplotlib.figure.Figure`
(no pyplot state is touched). :func:`save_figures` writes PNG and SVG deterministically: a fixed SVG hash
salt, text kept as text (``svg.fonttype = "none"``), and no creation date or software tag in the
metadata. Observed values that rest on a suppressed count are never plotted, and no label shows a count.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from evaltoolkit.disclosure import assert_published

__all__ = ["RC", "FigureSpec", "figure_specs", "save_figures", "style"]

RC: dict[str, Any] = {
    "svg.hashsalt": "evaltoolkit",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
    "figure.dpi": 100,
}
"""matplotlib settings for every report figure (fixed for byte-identical SVGs)."""

_OBSERVED = "#4a4a4a"
_FITTED = "#1f5aa6"
_COUNTER = "#d9730d"
_CONTROL = "#7f7f7f"
_CATEGORY = {"recovered": "#1b7837", "improved": "#7fbf7b", "unchanged": "#d9d9d9", "deteriorated": "#c2a5cf"}


@contextmanager
def style() -> Iterator[None]:
    """Context manager applying :data:`RC`."""
    with mpl.rc_context(RC):
        yield


@dataclass(frozen=True)
class FigureSpec:
    """One report figure: file stem, report section, caption and a function drawing it."""

    name: str
    section: str
    caption: str
    draw: Callable[[], Figure]
    alt: str = ""


def _dates(values: list[Any]) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy()


def _num(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _its_figure(results: dict[str, Any], series: dict[str, Any]) -> Figure:
    plots = [p for p in results["its"]["plots"] if p["series"] == series["name"]]
    n = max(len(plots), 1)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.6 * cols + 0.4, 2.9 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    per = {"MS": "month", "W-MON": "week"}.get(series["frequency"], "quarter")
    conf = results.get("conf_level", 0.95)
    for k, p in enumerate(plots):
        ax = axes[k // cols][k % cols]
        pts = p["points"]
        t = _dates([q["period"] for q in pts])
        obs = _num([q["observed"] for q in pts])
        fit = _num([q["fitted"] for q in pts])
        cf = _num([q["counterfactual"] for q in pts])
        lo = _num([q["counterfactual_ci_lower"] for q in pts])
        hi = _num([q["counterfactual_ci_upper"] for q in pts])
        go = np.datetime64(pd.Timestamp(p["interruption"]))
        post = t >= go
        ax.plot(t, obs, "o", ms=2.6, color=_OBSERVED, alpha=0.75, label="observed")
        ax.plot(t[~post], fit[~post], "-", lw=1.6, color=_FITTED, label="model")
        ax.plot(t[post], fit[post], "-", lw=1.6, color=_FITTED)
        ax.fill_between(t[post], lo[post], hi[post], color=_COUNTER, alpha=0.18, lw=0)
        ax.plot(t[post], cf[post], "--", lw=1.4, color=_COUNTER, label="pre-implementation trend continued")
        ax.axvline(go, color="0.3", lw=0.8, ls=":")
        labelled = False
        for k0, q in enumerate(pts):  # excluded periods (design.exclude_periods): one shaded span per run
            if not q.get("excluded") or (k0 > 0 and pts[k0 - 1].get("excluded")):
                continue
            k1 = k0
            while k1 + 1 < len(pts) and pts[k1 + 1].get("excluded"):
                k1 += 1
            ax.axvspan(
                np.datetime64(pd.Timestamp(q["period"])),
                np.datetime64(pd.Timestamp(pts[k1]["period"])),
                color="0.6",
                alpha=0.25,
                lw=0,
                hatch="//",
                label=None if labelled else "excluded from the fit",
            )
            labelled = True
        trans = [q for q in pts if q["in_transition"]]
        if trans:
            ax.axvspan(
                np.datetime64(pd.Timestamp(trans[0]["period"])),
                np.datetime64(pd.Timestamp(trans[-1]["period"])),
                color="0.85",
                alpha=0.5,
                lw=0,
            )
        ax.set_title(f"{p['site']} (go-live {pd.Timestamp(p['interruption']):%b %Y})")
        # A mean (length of stay) is not a total per period: "days per quarter" would misread it.
        ax.set_ylabel(
            f"mean length of stay ({series['unit']})"
            if series.get("measure") == "mean_los"
            else f"{series['unit']} per {per}"
        )
        ax.set_ylim(bottom=0)
        for label in ax.get_xticklabels():
            label.set_rotation(0)
    for k in range(len(plots), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3)
    fig.suptitle(series["label"], fontsize=10)
    del conf
    return fig


def _forest_rows(results: dict[str, Any], series: str) -> list[dict[str, Any]]:
    return [c for c in results["its"]["combined"] if c["series"] == series and c.get("status") == "ok"]


def _sensitivity_figure(results: dict[str, Any]) -> Figure:
    series = [s for s in results["series"]]
    blocks = [(s, _forest_rows(results, s["name"])) for s in series]
    blocks = [(s, r) for s, r in blocks if r]
    height = sum(0.36 * len(r) + 0.8 for _, r in blocks) + 0.6
    fig = Figure(figsize=(9.0, max(height, 2.0)), layout="constrained")
    axes = fig.subplots(len(blocks), 1, squeeze=False, height_ratios=[len(r) + 1 for _, r in blocks])
    for ax, (s, rows) in zip(axes[:, 0], blocks, strict=True):
        y = np.arange(len(rows))[::-1]
        est = np.array([r["relative_change"] * 100 for r in rows])
        lo = np.array([r["relative_ci_lower"] * 100 for r in rows])
        hi = np.array([r["relative_ci_upper"] * 100 for r in rows])
        for k in range(len(rows)):
            colour = _FITTED if rows[k]["primary"] else _CONTROL
            ax.plot([lo[k], hi[k]], [y[k], y[k]], color=colour, lw=2, solid_capstyle="butt")
            ax.plot(est[k], y[k], "o" if rows[k]["primary"] else "s", color=colour, ms=6)
        ax.axvline(0, color="0.3", lw=0.8, ls="--")
        names = [r["method"] + (" (primary)" if r["primary"] else "") for r in rows]
        ax.set_yticks(y, [textwrap.fill(n, 34) for n in names])
        ax.set_title(s.get("short_label") or s["label"], fontsize=9)
        ax.set_xlabel("% change compared with the pre-implementation trend, sites combined")
        ax.grid(axis="y", visible=False)
    return fig


def _robustness_rows(results: dict[str, Any], series: str) -> list[dict[str, Any]]:
    """Level-change rows (primary analysis and placebos) of one series with an estimate."""
    return [
        r
        for r in (results["its"].get("robustness") or {}).get("checks") or []
        if r["series"] == series
        and r.get("term") in ("level_change", "diff_level_change")
        and r.get("estimate") is not None
    ]


def _robustness_figure(results: dict[str, Any]) -> Figure:
    from evaltoolkit.its.compare import forest_plot

    blocks = [(s, _robustness_rows(results, s["name"])) for s in results["series"]]
    blocks = [(s, r) for s, r in blocks if r]
    height = sum(0.36 * len(r) + 0.9 for _, r in blocks) + 0.6
    fig = Figure(figsize=(9.0, max(height, 2.0)), layout="constrained")
    axes = fig.subplots(len(blocks), 1, squeeze=False, height_ratios=[len(r) + 1 for _, r in blocks])
    conf = results.get("conf_level", 0.95)
    for ax, (s, rows) in zip(axes[:, 0], blocks, strict=True):
        ratio = all(r.get("rate_ratio") is not None for r in rows)
        keys = (
            ("rate_ratio", "rate_ratio_ci_lower", "rate_ratio_ci_upper")
            if ratio
            else ("estimate", "ci_lower", "ci_upper")
        )
        est, lo, hi = (np.array([float(r[k]) for r in rows]) for k in keys)
        sig = np.array([bool(r.get("significant")) for r in rows])
        names = [textwrap.fill(f"{r['site']}: {r['label']}", 44) for r in rows]
        forest_plot(
            ax,
            names,
            est,
            lo,
            hi,
            sig,
            exponentiate=ratio,
            conf_level=conf,
            title=(s.get("short_label") or s["label"])
            + " — level change (filled: interval excludes no change)",
            empty_text=[""] * len(rows),
        )
        ax.grid(axis="y", visible=False)
    return fig


def _cohort_figure(results: dict[str, Any]) -> Figure:
    cohort = results["cohort"]
    outcomes = cohort["settings"]["outcomes"]
    fig = Figure(figsize=(3.1 * len(outcomes) + 0.4, 3.0), layout="constrained")
    axes = fig.subplots(1, len(outcomes), squeeze=False)[0]
    colours = {"intervention": _FITTED, "comparison": _CONTROL}
    for ax, o in zip(axes, outcomes, strict=True):
        for g, shift in (("intervention", -0.05), ("comparison", 0.05)):
            rows = {r["term"]: r for r in cohort["change"] if r["outcome"] == o and r.get("group") == g}
            if "rate_before" not in rows or rows["rate_before"].get("estimate") is None:
                continue  # undefined, or not shown (a cohort of 1–7 patients)
            vals = [rows["rate_before"], rows["rate_after"]]
            x = np.array([0, 1]) + shift
            est = [v["estimate"] for v in vals]
            ax.plot(x, est, "-o", color=colours[g], label=f"{g} cohort", ms=5)
            for xi, v in zip(x, vals, strict=True):
                ax.plot([xi, xi], [v["ci_lower"], v["ci_upper"]], color=colours[g], lw=1.2)
        ax.set_xticks([0, 1], ["before", "after"])
        ax.set_xlim(-0.4, 1.4)
        ax.set_ylim(bottom=0)
        ax.set_title(o.replace("_", "-"))
        ax.set_ylabel("per person-year")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


def _improvement_sign(direction: str) -> float:
    return -1.0 if direction == "higher_is_worse" else 1.0


def _measures_change_figure(results: dict[str, Any]) -> Figure:
    om = results["outcome_measures"]
    facts = {f["outcome"]: f for f in om["instruments"]}
    rows = [r for r in om["paired"] if r["term"] == "d_z" and r.get("estimate") is not None]
    fig = Figure(figsize=(6.5, 0.42 * len(rows) + 1.3), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    for k, r in enumerate(rows):
        sign = _improvement_sign(facts[r["outcome"]]["direction"])
        est, lo, hi = sign * r["estimate"], sign * r["ci_lower"], sign * r["ci_upper"]
        lo, hi = min(lo, hi), max(lo, hi)
        ax.plot([lo, hi], [y[k], y[k]], color=_FITTED, lw=2, solid_capstyle="butt")
        ax.plot(est, y[k], "o", color=_FITTED, ms=6)
    ax.axvline(0, color="0.3", lw=0.8, ls="--")
    ax.set_yticks(y, [facts[r["outcome"]]["label"].split(" (")[0] for r in rows])
    ax.set_xlabel("standardised improvement, Cohen's d_z (positive = better), completers")
    ax.grid(axis="y", visible=False)
    return fig


def _trajectory_figure(results: dict[str, Any]) -> Figure:
    om = results["outcome_measures"]
    facts = {f["outcome"]: f for f in om["instruments"]}
    curve = pd.DataFrame(om["trajectories"]["curve"])
    outcomes = list(dict.fromkeys(curve["outcome"]))
    cols = min(len(outcomes), 3)
    rows = math.ceil(len(outcomes) / cols)
    fig = Figure(figsize=(3.3 * cols + 0.4, 2.6 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, o in enumerate(outcomes):
        ax = axes[k // cols][k % cols]
        c = curve[curve["outcome"] == o]
        t = c["time"].to_numpy(dtype=float)
        ax.fill_between(
            t, c["ci_lower"].astype(float), c["ci_upper"].astype(float), color=_FITTED, alpha=0.18, lw=0
        )
        ax.plot(
            t,
            c["estimate"].astype(float),
            "-",
            color=_FITTED,
            lw=1.6,
            label="mixed model (all available scores)",
        )
        ax.plot(
            t,
            pd.to_numeric(c["observed_mean"], errors="coerce"),
            "o",
            color=_OBSERVED,
            ms=3,
            label="observed mean",
        )
        ax.set_title(facts[o]["label"].split(" (")[0], fontsize=9)
        ax.set_xlabel(om["settings"]["time_unit"])
    for k in range(len(outcomes), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


def _reliable_change_figure(results: dict[str, Any]) -> Figure:
    om = results["outcome_measures"]
    facts = {f["outcome"]: f for f in om["instruments"]}
    table = pd.DataFrame(om["reliable_change"])
    table = table[table["category"] != "not classified"]
    outcomes = list(dict.fromkeys(table["outcome"]))
    fig = Figure(figsize=(7.0, 0.45 * len(outcomes) + 1.4), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(outcomes))[::-1]
    left = np.zeros(len(outcomes))
    for cat, colour in _CATEGORY.items():
        vals = []
        for o in outcomes:
            row = table[(table["outcome"] == o) & (table["category"] == cat)]
            v = row["percent"].iloc[0] if len(row) else None
            vals.append(0.0 if v is None or pd.isna(v) else float(v))
        vals_arr = np.array(vals)
        ax.barh(y, vals_arr, left=left, color=colour, label=cat, height=0.6)
        for yi, (x0, w) in enumerate(zip(left, vals_arr, strict=True)):
            if w >= 8:
                ax.text(x0 + w / 2, y[yi], f"{w:.0f}%", ha="center", va="center", fontsize=7)
        left += vals_arr
    ax.set_yticks(y, [facts[o]["label"].split(" (")[0] for o in outcomes])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of people with both scores (Jacobson–Truax categories)")
    ax.grid(axis="y", visible=False)
    fig.legend(loc="outside lower center", ncols=4)
    return fig


def _sites_figure(results: dict[str, Any], h: dict[str, Any]) -> Figure:
    from evaltoolkit.its import plot_forest, site_heterogeneity

    res = site_heterogeneity(
        [x["estimate"] for x in h["sites"]],
        [x["std_error"] for x in h["sites"]],
        [x["site"] for x in h["sites"]],
        method="REML",
        conf_level=results.get("conf_level", 0.95),
        scale="log",
    )
    fig = Figure(figsize=(7.0, 0.42 * (len(h["sites"]) + 2) + 1.6), layout="constrained")
    ax = fig.subplots()
    plot_forest(res, ax, title=h["label"], xlabel="ratio of fitted to counterfactual total (log scale)")
    return fig


def figure_specs(results: dict[str, Any]) -> list[FigureSpec]:
    """Every figure the report of these results shows, in report order."""
    specs: list[FigureSpec] = []
    conf = f"{results.get('conf_level', 0.95) * 100:g}%"
    its = results.get("its")
    if its:
        for s in results["series"]:
            if not any(p["series"] == s["name"] for p in its["plots"]):
                continue
            specs.append(
                FigureSpec(
                    name=f"its_{s['name']}",
                    section="counterfactual",
                    caption=(
                        f"{s['label']}: observed values (points), the primary model (solid line) and the "
                        f"pre-implementation trend continued (dashed, with its {conf} confidence band). "
                        "The dotted "
                        "line marks go-live. Values resting on a suppressed small count are not shown."
                    ),
                    draw=lambda s=s: _its_figure(results, s),
                    alt=f"Interrupted time series charts of {s['label']} by site",
                )
            )
        for h in its.get("heterogeneity") or []:
            specs.append(
                FigureSpec(
                    name=f"forest_{h['series']}",
                    section="certainty",
                    caption=(
                        f"{h['label']}: each site's ratio of the fitted to the counterfactual total over the "
                        f"horizon ({conf} CI), their random-effects summary (diamond) and the prediction "
                        "interval for a new site. The combined figure in the summary is the sum over sites, "
                        "which allows for the sites sharing a control series; this summary shows how far "
                        "the sites differ."
                    ),
                    draw=lambda h=h: _sites_figure(results, h),
                    alt=f"Forest plot of {h['label']} by site",
                )
            )
        if any(c.get("status") == "ok" for c in its["combined"]):
            specs.append(
                FigureSpec(
                    name="sensitivity",
                    section="sensitivity",
                    caption=(
                        "Change compared with the pre-implementation trend over the first "
                        f"{its['horizon_months']} "
                        "months after go-live, sites combined, under the primary and each sensitivity "
                        "method "
                        f"({conf} confidence intervals)."
                    ),
                    draw=lambda: _sensitivity_figure(results),
                    alt="Forest plot of the estimated change under each method",
                )
            )
        if any(_robustness_rows(results, s["name"]) for s in results["series"]):
            specs.append(
                FigureSpec(
                    name="robustness",
                    section="robustness",
                    caption=(
                        "Level change at go-live in the primary analysis and in each placebo analysis (a "
                        "fake go-live in the pre-implementation period, or a control site as if it had gone "
                        f"live), with {conf} confidence intervals. Placebo estimates should be near no "
                        "change."
                    ),
                    draw=lambda: _robustness_figure(results),
                    alt="Forest plot of the level change in the primary analysis and the placebo analyses",
                )
            )
    cohort = results.get("cohort")
    if cohort and cohort.get("change"):
        specs.append(
            FigureSpec(
                name="cohort_rates",
                section="cohort",
                caption=(
                    "Events per person-year before and after the index date, intervention and comparison "
                    "cohorts "
                    f"(GEE estimates with {conf} confidence intervals)."
                ),
                draw=lambda: _cohort_figure(results),
                alt="Before and after rates per person-year by cohort",
            )
        )
    om = results.get("outcome_measures")
    if om:
        specs.append(
            FigureSpec(
                name="measures_change",
                section="measures",
                caption=(
                    f"Standardised change from {om['settings']['pre']} to {om['settings']['post']} among "
                    f"people with both scores ({conf} confidence intervals); positive means better on every "
                    "measure."
                ),
                draw=lambda: _measures_change_figure(results),
                alt="Forest plot of standardised change per measure",
            )
        )
        if om.get("reliable_change"):
            specs.append(
                FigureSpec(
                    name="measures_reliable_change",
                    section="measures",
                    caption=(
                        "Reliable and clinically significant change (Jacobson–Truax): percentages of people "
                        "with both scores, computed from the published counts."
                    ),
                    draw=lambda: _reliable_change_figure(results),
                    alt="Stacked bars of reliable change categories",
                )
            )
        if om.get("trajectories"):
            specs.append(
                FigureSpec(
                    name="measures_trajectories",
                    section="measures",
                    caption=(
                        f"Mean score over the programme: mixed model using every available score ({conf} "
                        "band) and observed means (means resting on a suppressed number of people are not "
                        "shown)."
                    ),
                    draw=lambda: _trajectory_figure(results),
                    alt="Fitted trajectories per measure",
                )
            )
    return specs


def save_figures(
    results: dict[str, Any], folder: str | Path, *, formats: tuple[str, ...] = ("png", "svg"), dpi: int = 150
) -> list[Path]:
    """Draw and save every figure of the report (deterministic PNG/SVG); return the files written.

    Raises :class:`~evaltoolkit.disclosure.DisclosureError` when a count in ``results`` is not published
    (:func:`~evaltoolkit.disclosure.assert_published`); nothing is drawn then.
    """
    assert_published(results)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with style():
        for spec in figure_specs(results):
            fig = spec.draw()
            for ext in formats:
                path = folder / f"{spec.name}.{ext}"
                meta = {"Date": None, "Creator": None} if ext == "svg" else {"Software": None}
                fig.savefig(path, format=ext, dpi=dpi, metadata=meta)
                written.append(path)
    return written
