"""Report figures, drawn from results.json alone (so a results folder can be re-rendered).

Every figure is a :class:`FigureSpec` with a ``draw()`` that returns a :class:`matplotlib.figure.Figure`
(no pyplot state is touched). :func:`save_figures` writes PNG and SVG deterministically: a fixed SVG hash
salt, text kept as text (``svg.fonttype = "none"``), and no creation date or software tag in the
metadata. Observed values that rest on a suppressed count are never plotted, and no label shows a count.
"""

from __future__ import annotations

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
from evaltoolkit.report._format import cohort_label

__all__ = ["RC", "WIDTH", "FigureSpec", "figure_specs", "save_figures", "series_ylabel", "style"]

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
_SUPPRESSED = "#9a9a9a"

WIDTH = 4.8
"""Width of every report figure in inches: one column, so a figure shown 400 pixels wide keeps its 9-point
text at about 10 pixels. Panels are stacked vertically, never side by side."""


def _wrap(text: str, width_in: float = WIDTH, fontsize: float = 9.0) -> str:
    """``text`` wrapped to lines that fit ``width_in`` inches at ``fontsize`` points (a conservative
    0.6 em per character)."""
    chars = max(int(width_in * 72 / (fontsize * 0.6)), 12)
    return textwrap.fill(text, chars, break_on_hyphens=False)


def _per(frequency: str) -> str:
    return {"MS": "month", "W-MON": "week"}.get(frequency, "quarter")


def series_ylabel(series: dict[str, Any]) -> str:
    """The y-axis label of an outcome series' chart: what one point is (a mean is not a total per period)."""
    per = _per(series.get("frequency", "MS"))
    unit = series.get("unit") or "events"
    measure = series.get("measure")
    if measure == "mean_los":
        return f"mean length of stay ({unit})"
    if measure == "bed_days":
        return f"occupied {unit} per {per}" if "occupied" not in unit else f"{unit} per {per}"
    return f"{unit} per {per}"


def _ratio_ticks(ax: Any) -> None:
    """Readable ticks on a log (ratio) axis: a few round ratios as plain numbers, no minor labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    if ax.get_xscale() != "log":
        return
    lo, hi = sorted(ax.get_xlim())
    candidates = [0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 10, 20]
    ticks = [v for v in candidates if lo <= v <= hi]
    if len(ticks) > 5:
        ticks = [v for v in ticks if v in (0.1, 0.25, 0.5, 1, 2, 4, 10)] or ticks
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticklabels([f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _suppressed_periods(series: dict[str, Any], plots: list[dict[str, Any]]) -> int:
    """How many plotted periods of the series have no published observed value."""
    return sum(
        1 for p in plots if p["series"] == series["name"] for q in p["points"] if q["observed"] is None
    )


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
    fig = Figure(figsize=(WIDTH, 2.5 * n + 1.2), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    sup = results.get("suppression") or {}
    low, high = sup.get("low"), sup.get("high")
    is_mean = series.get("measure") == "mean_los"
    for k, p in enumerate(plots):
        ax = axes[k]
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
        # Periods without a published value: a count of low–high is drawn as a bar over that range (all
        # that is published about it); a suppressed mean as a tick at the foot of the axes. Drawing only the
        # published points would leave the low months out and put the points above the model line.
        hidden = np.array([q["observed"] is None for q in pts])
        if hidden.any() and low is not None:
            if is_mean:
                ax.plot(
                    t[hidden],
                    np.full(int(hidden.sum()), 0.03),
                    "|",
                    ms=6,
                    color=_SUPPRESSED,
                    transform=ax.get_xaxis_transform(),
                    label="not shown (mean of too few spells)",
                )
            else:
                ax.vlines(
                    t[hidden],
                    low,
                    high,
                    color=_SUPPRESSED,
                    lw=1.2,
                    alpha=0.6,
                    label=f"{low}–{high} (not published)",
                )
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
        ax.set_title(f"{p['site']} (go-live {pd.Timestamp(p['interruption']):%b %Y})", fontsize=9)
        # What one point is, from the series' measure: a mean length of stay is not "days per quarter".
        ax.set_ylabel(_wrap(series_ylabel(series), 2.2), fontsize=8)
        ax.set_ylim(bottom=0)
        for label in ax.get_xticklabels():
            label.set_rotation(0)
    for ax in axes[len(plots) :]:
        ax.set_visible(False)
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=2)
    fig.suptitle(_wrap(series["label"], fontsize=10), fontsize=10)
    return fig


def _forest_rows(results: dict[str, Any], series: str) -> list[dict[str, Any]]:
    return [c for c in results["its"]["combined"] if c["series"] == series and c.get("status") == "ok"]


def _sensitivity_figure(results: dict[str, Any]) -> Figure:
    series = [s for s in results["series"]]
    blocks = [(s, _forest_rows(results, s["name"])) for s in series]
    blocks = [(s, r) for s, r in blocks if r]
    height = sum(0.5 * len(r) + 1.0 for _, r in blocks) + 0.8
    fig = Figure(figsize=(WIDTH, max(height, 2.0)), layout="constrained")
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
        ax.set_yticks(y, [textwrap.fill(n, 26) for n in names], fontsize=7.5)
        ax.set_title(_wrap(s.get("short_label") or s["label"]), fontsize=9)
        ax.set_xlabel(_wrap("% change compared with the pre-implementation trend, sites combined", 3.0))
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
    height = sum(0.55 * len(r) + 1.3 for _, r in blocks) + 0.6
    fig = Figure(figsize=(WIDTH, max(height, 2.0)), layout="constrained")
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
        names = [textwrap.fill(f"{r['site']}: {r['label']}", 28) for r in rows]
        forest_plot(
            ax,
            names,
            est,
            lo,
            hi,
            sig,
            exponentiate=ratio,
            conf_level=conf,
            title=_wrap(
                (s.get("short_label") or s["label"])
                + " — level change (filled: interval excludes no change)",
                2.6,
            ),
            empty_text=[""] * len(rows),
        )
        ax.tick_params(axis="y", labelsize=7.5)
        ax.title.set_fontsize(9)
        _ratio_ticks(ax)
        ax.grid(axis="y", visible=False)
    return fig


def _cohort_figure(results: dict[str, Any]) -> Figure:
    cohort = results["cohort"]
    outcomes = cohort["settings"]["outcomes"]
    fig = Figure(figsize=(WIDTH, 2.3 * len(outcomes) + 0.7), layout="constrained")
    axes = fig.subplots(len(outcomes), 1, squeeze=False)[:, 0]
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
        name = cohort_label(o)
        ax.set_title(name[:1].upper() + name[1:], fontsize=9)
        ax.set_ylabel(_wrap(f"{name} per person-year", 2.0), fontsize=8)
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
    fig = Figure(figsize=(WIDTH, 0.42 * len(rows) + 1.5), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    for k, r in enumerate(rows):
        sign = _improvement_sign(facts[r["outcome"]]["direction"])
        est, lo, hi = sign * r["estimate"], sign * r["ci_lower"], sign * r["ci_upper"]
        lo, hi = min(lo, hi), max(lo, hi)
        ax.plot([lo, hi], [y[k], y[k]], color=_FITTED, lw=2, solid_capstyle="butt")
        ax.plot(est, y[k], "o", color=_FITTED, ms=6)
    ax.axvline(0, color="0.3", lw=0.8, ls="--")
    ax.set_yticks(y, [textwrap.fill(facts[r["outcome"]]["label"].split(" (")[0], 24) for r in rows])
    ax.set_xlabel(_wrap("standardised improvement, Cohen's d_z (positive = better), completers", 3.2))
    ax.grid(axis="y", visible=False)
    return fig


def _trajectory_figure(results: dict[str, Any]) -> Figure:
    om = results["outcome_measures"]
    facts = {f["outcome"]: f for f in om["instruments"]}
    curve = pd.DataFrame(om["trajectories"]["curve"])
    outcomes = list(dict.fromkeys(curve["outcome"]))
    fig = Figure(figsize=(WIDTH, 2.2 * len(outcomes) + 0.7), layout="constrained")
    axes = fig.subplots(len(outcomes), 1, squeeze=False)
    for k, o in enumerate(outcomes):
        ax = axes[k][0]
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
        ax.set_title(_wrap(facts[o]["label"].split(" (")[0]), fontsize=9)
        ax.set_xlabel(om["settings"]["time_unit"])
        ax.set_ylabel("mean score", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


def _reliable_change_figure(results: dict[str, Any]) -> Figure:
    om = results["outcome_measures"]
    facts = {f["outcome"]: f for f in om["instruments"]}
    table = pd.DataFrame(om["reliable_change"])
    table = table[table["category"] != "not classified"]
    outcomes = list(dict.fromkeys(table["outcome"]))
    fig = Figure(figsize=(WIDTH, 0.45 * len(outcomes) + 1.8), layout="constrained")
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
    ax.set_yticks(y, [textwrap.fill(facts[o]["label"].split(" (")[0], 24) for o in outcomes])
    ax.set_xlim(0, 100)
    ax.set_xlabel(_wrap("% of people with both scores (Jacobson–Truax categories)", 3.2))
    ax.grid(axis="y", visible=False)
    fig.legend(loc="outside lower center", ncols=2)
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
    fig = Figure(figsize=(WIDTH, 0.42 * (len(h["sites"]) + 2) + 2.0), layout="constrained")
    ax = fig.subplots()
    plot_forest(
        res,
        ax,
        title=_wrap(h["label"]),
        xlabel=_wrap("ratio of fitted to counterfactual total (log scale)", 3.0),
    )
    ax.title.set_fontsize(9)
    _ratio_ticks(ax)
    return fig


def _its_note(results: dict[str, Any], series: dict[str, Any]) -> str:
    """What the caption of an ITS chart says about published values: rounding, and the periods not shown."""
    sup = results.get("suppression") or {}
    low, high, round_to = sup.get("low"), sup.get("high"), sup.get("round_to")
    per = _per(series.get("frequency", "MS"))
    n_hidden = _suppressed_periods(series, results["its"]["plots"])
    if series.get("measure") == "mean_los":
        if not n_hidden or low is None:
            return "The model is fitted to the exact values."
        return (
            f"A {per}'s mean resting on {low}–{high} spells is not published; such {per}s are marked by a "
            "grey tick at the foot of the chart instead of a point. The model is fitted to the exact values."
        )
    out = []
    if round_to:
        out.append(
            f"Published counts are rounded to the nearest {round_to}, so points lie on steps of {round_to}."
        )
    if n_hidden and low is not None:
        out.append(
            f"{series.get('unit', 'Counts').capitalize()} of {low}–{high} in a {per} are not published: "
            f"those {per}s are drawn as grey bars from {low} to {high}, not as points. Plotting only the "
            f"published points would leave the low {per}s out and place the points above the model line; "
            "the model is fitted to the exact counts."
        )
    else:
        out.append("The model is fitted to the exact counts.")
    return " ".join(out)


def _spc_charts(results: dict[str, Any], series: str) -> list[dict[str, Any]]:
    charts = (results.get("spc") or {}).get("charts") or []
    return [c for c in charts if c["series"] == series and c["charted"]]


def _spc_figure(results: dict[str, Any], series: dict[str, Any]) -> Figure:
    """One Making Data Count chart per site (stacked), redrawn from the published points in results.json."""
    from evaltoolkit.spc import plot_spc, xmr

    charts = _spc_charts(results, series["name"])
    fig = Figure(figsize=(WIDTH, 2.5 * len(charts) + 0.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(charts), 1, squeeze=False)[:, 0])
    for ax, c in zip(axes, charts, strict=True):
        pts = pd.DataFrame(c["points"])
        pts["period"] = pd.to_datetime(pts["period"])
        go = pd.Timestamp(c["go_live"]) if c["go_live"] else None
        chart = xmr(
            pts[["period", "value"]],
            "value",
            "period",
            improvement=c.get("improvement", "decrease"),
            rebase=[go] if go is not None and go > pts["period"].min() else None,
        )
        title = c["site"] + (f" (limits recalculated at go-live, {c['go_live']})" if go is not None else "")
        unit = c.get("unit") or series["unit"]
        per = c.get("per", "month")
        plot_spc(chart, ax=ax, title=_wrap(title), ylabel=_wrap(f"{unit} per {per}", 2.2))
        ax.title.set_fontsize(9)
    return fig


def _tornado_figure(
    results: dict[str, Any], cost: dict[str, Any], title: str | None = None, what: str = "cost of the change"
) -> Figure:
    from evaltoolkit.economics import plot_tornado

    table = pd.DataFrame(cost["sensitivity"])
    fig = Figure(figsize=(WIDTH, 0.7 * len(table) + 2.0), layout="constrained")
    ax = fig.subplots()
    title = title or f"Cost of the change in {cost['series_label'].lower()}"
    plot_tornado(table, ax, title=_wrap(title, WIDTH * 0.42))
    ax.title.set_fontsize(9)
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from evaltoolkit.report._format import money

    def short(x: float, _: Any) -> str:  # tick labels that fit: £-7.5m, £250k
        sym = "£" if cost["currency"] == "GBP" else ""
        v = abs(x)
        text = f"{v / 1e6:g}m" if v >= 1e6 else f"{v / 1e3:g}k" if v >= 1e3 else f"{v:g}"
        return ("−" if x < 0 else "") + sym + text

    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.xaxis.set_major_formatter(FuncFormatter(short))
    # long input names wrapped so the figure stays one column wide (wrapped first, then set once: the
    # tick labels are regenerated from the formatter on every get_yticklabels())
    wrapped = [
        "\n".join(textwrap.fill(part, 22) for part in t.get_text().split("\n")) for t in ax.get_yticklabels()
    ]
    ax.set_yticks(ax.get_yticks(), wrapped, fontsize=8)
    leg = ax.get_legend()
    if leg is not None:  # below the axes, where it cannot cover a bar
        handles, labels = ax.get_legend_handles_labels()
        leg.remove()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=7, frameon=False)
    base = money(table["base"].iloc[0], cost["currency"])
    ax.set_xlabel(f"{what} ({cost['currency']})\nbase {base}")
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
                        "The dotted line marks go-live. " + _its_note(results, s)
                    ),
                    draw=lambda s=s: _its_figure(results, s),
                    alt=f"Interrupted time series charts of {s['label']} by site",
                )
            )
        for s in results["series"]:
            if _spc_charts(results, s["name"]):
                specs.append(
                    FigureSpec(
                        name=f"spc_{s['name']}",
                        section="spc",
                        caption=(
                            f"{s['label']}: Making Data Count XmR chart of the published monthly values at "
                            "each site, limits recalculated at go-live. Grey points are common-cause "
                            "variation; blue points special-cause improvement (fewer), orange special-cause "
                            "concern; "
                            "solid line the mean, dashed lines the process limits. Sites with months hidden "
                            "by the small-number rule are not charted (see the board-pack table)."
                        ),
                        draw=lambda s=s: _spc_figure(results, s),
                        alt=f"SPC charts of {s['label']} by site",
                    )
                )
        econ = results.get("economics") or {}
        if econ.get("sensitivity"):
            net = {"sensitivity": econ["sensitivity"], "currency": econ["service_cost"]["currency"]}
            specs.append(
                FigureSpec(
                    name="tornado_net_cost",
                    section="worth",
                    caption=(
                        "One-way sensitivity of the net cost (service cost plus the cost of the change in "
                        "every costed outcome; negative: more released than spent): each bar shows the net "
                        "cost when one input moves to its low and high value (each outcome's effect at its "
                        "confidence limits, each unit cost across its range, the service cost across its "
                        "range, a horizon half and one and a half times as long)."
                    ),
                    draw=lambda net=net: _tornado_figure(
                        results, net, title="Net cost of the service over the horizon", what="net cost"
                    ),
                    alt="Tornado chart for the net cost of the service",
                )
            )
        for c in results.get("costs") or []:
            if c.get("sensitivity"):
                specs.append(
                    FigureSpec(
                        name=f"tornado_{c['series']}",
                        section="worth",
                        caption=(
                            f"One-way sensitivity of the cost of the change in {c['series_label'].lower()}: "
                            "each bar shows the cost when one input moves to its low and high value (the "
                            "effect at its confidence limits, the unit cost across its range, a horizon half "
                            "and one and a half times as long, the change scaled in proportion)."
                        ),
                        draw=lambda c=c: _tornado_figure(results, c),
                        alt=f"Tornado chart for the cost of {c['series_label']}",
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
    starts = {"name": "people_starting", "label": "People starting", "unit": "people starting"}
    if not its and _spc_charts(results, starts["name"]):
        specs.append(
            FigureSpec(
                name="spc_people_starting",
                section="spc",
                caption=(
                    "People starting the programme each quarter (their first questionnaire), all sites "
                    "together: Making Data Count XmR chart of the published counts. Grey points are "
                    "common-cause variation, coloured points special cause (neither direction is better "
                    "here); solid line the mean, dashed lines the process limits."
                ),
                draw=lambda: _spc_figure(results, starts),
                alt="SPC chart of people starting the programme each quarter",
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
                fig.savefig(path, format=ext, dpi=dpi, metadata=meta, bbox_inches="tight", pad_inches=0.05)
                written.append(path)
    return written
