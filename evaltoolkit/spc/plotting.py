"""Making Data Count style SPC plots, icons drawn with matplotlib, and the board-pack summary table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaltoolkit.errors import SPCInputError
from evaltoolkit.spc.charts import SPCChart

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["COLORS", "board_pack", "draw_icon", "plot_board_pack", "plot_spc"]

#: Making Data Count colours.
COLORS = {
    "common_cause": "#a6a6a6",
    "improvement": "#00b0f0",
    "neutral": "#490092",
    "concern": "#e46c0a",
    "target": "#de1b1b",
    "line": "#7f7f7f",
    "mean": "#231f20",
}

_POINT_COLORS = {
    "common_cause": COLORS["common_cause"],
    "special_cause_improvement": COLORS["improvement"],
    "special_cause_concern": COLORS["concern"],
    "special_cause_neutral_high": COLORS["neutral"],
    "special_cause_neutral_low": COLORS["neutral"],
}

_VARIATION_WORDS = {
    "common_cause": "common cause variation",
    "improvement_high": "special cause: improvement (high)",
    "improvement_low": "special cause: improvement (low)",
    "concern_high": "special cause: concern (high)",
    "concern_low": "special cause: concern (low)",
    "neutral_high": "special cause: neither improvement nor concern (high)",
    "neutral_low": "special cause: neither improvement nor concern (low)",
}
_ASSURANCE_WORDS = {
    "pass": "consistently meets the target",
    "fail": "consistently misses the target",
    "inconsistent": "meets and misses the target (hit and miss)",
}


def _icon_color(name: str | None) -> str:
    if name is None or name in ("common_cause", "inconsistent"):
        return COLORS["common_cause"]
    if name.startswith("improvement") or name == "pass":
        return COLORS["improvement"]
    if name.startswith("concern") or name == "fail":
        return COLORS["concern"]
    return COLORS["neutral"]


def draw_icon(ax: Axes, name: str | None, *, kind: str = "variation") -> Axes:
    """Draw a Making Data Count style icon on ``ax`` (drawn here, nothing downloaded).

    A circle in the icon's colour. Variation icons hold a small run of dots: grey for common cause, ending
    in coloured dots above (``_high``) or below (``_low``) the line, with an "H" or "L". Assurance icons hold
    "P" (pass), "F" (fail) or "~" (inconsistent, hit and miss); ``None`` draws an empty grey circle.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes to draw on, usually a small inset; its axis is switched off and its aspect set equal.
    name : str or None
        Icon name: a :attr:`~evaltoolkit.spc.SPCChart.variation` or
        :attr:`~evaltoolkit.spc.SPCChart.assurance` value.
    kind : {"variation", "assurance"}
        Which family ``name`` belongs to.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> _, ax = plt.subplots(figsize=(1, 1))
    >>> ax = draw_icon(ax, "improvement_high")
    >>> [t.get_text() for t in ax.texts]
    ['H']
    >>> plt.close("all")
    """
    from matplotlib.patches import Circle

    if kind not in ("variation", "assurance"):
        raise SPCInputError(f"kind= must be 'variation' or 'assurance' (got {kind!r})")
    color = _icon_color(name)
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.add_patch(Circle((0, 0), 1.0, facecolor="white", edgecolor=color, linewidth=2.5))
    if kind == "assurance":
        letter = {"pass": "P", "fail": "F", "inconsistent": "~"}.get(name or "", "")
        size = 16 if letter == "~" else 11
        ax.text(0, 0, letter, ha="center", va="center", fontsize=size, fontweight="bold", color=color)
        return ax
    xs = np.linspace(-0.6, 0.6, 7)
    if name in (None, "common_cause"):
        ys = np.array([0.0, 0.2, -0.15, 0.1, -0.2, 0.15, 0.0]) - 0.25
        ax.plot(xs, ys, "-", color=COLORS["common_cause"], linewidth=1)
        ax.scatter(xs, ys, s=6, color=COLORS["common_cause"], zorder=3)
        return ax
    high = name.endswith("high")
    sign = 1 if high else -1
    ys = np.array([0.0, 0.05, -0.05, 0.0, 0.3, 0.35, 0.4]) * sign - 0.25 * sign
    cols = [COLORS["common_cause"]] * 4 + [color] * 3
    ax.plot(xs, ys, "-", color=COLORS["common_cause"], linewidth=1)
    ax.scatter(xs, ys, s=6, color=cols, zorder=3)
    ax.text(
        0,
        -0.55 * sign,
        "H" if high else "L",
        ha="center",
        va="center",
        fontsize=9,
        fontweight="bold",
        color=color,
    )
    return ax


def plot_spc(
    chart: SPCChart,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    ylabel: str | None = None,
    icons: bool = True,
    percent_axis: bool = False,
) -> Axes:
    """Plot an SPC chart in the Making Data Count style.

    A grey line through the points; points coloured by type (grey common cause, blue improvement, orange
    concern, purple neutral); the centre line (solid) and process limits (dashed) of each rebase group, with
    a break and a dotted vertical line at each rebase; the target in red (dashed); the variation and
    assurance icons of the latest group in the top right corner. Trial limits are drawn dotted and named in
    the legend.

    Parameters
    ----------
    chart : SPCChart
        Output of :func:`~evaltoolkit.spc.xmr`, :func:`~evaltoolkit.spc.p_chart` or
        :func:`~evaltoolkit.spc.u_chart`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created otherwise.
    title, ylabel : str, optional
        Axes title (wrapped when long) and y-axis label.
    icons : bool
        Draw the variation and assurance icons.
    percent_axis : bool
        Show a proportion (p chart) as a percentage on the axis.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from evaltoolkit.spc import xmr
    >>> d = pd.DataFrame({"week": range(20), "value": [5, 6] * 10})
    >>> ax = plot_spc(xmr(d, "value", "week"), ylabel="admissions per week")
    >>> ax.get_ylabel()
    'admissions per week'
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    import textwrap

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    if not isinstance(chart, SPCChart) or "point_type" not in chart.columns:
        raise SPCInputError("chart must be the output of xmr(), p_chart() or u_chart()")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    x = chart["period"]
    if isinstance(x.dtype, pd.PeriodDtype):
        x = x.dt.to_timestamp()
    x = x.to_numpy()
    y = chart["value"].to_numpy(dtype=float)
    ax.plot(x, y, "-", color=COLORS["line"], linewidth=1.2, zorder=2)
    colors = [_POINT_COLORS[t] for t in chart["point_type"]]
    ax.scatter(x, y, s=28, c=colors, zorder=3, edgecolors="none")
    any_trial = False
    groups = chart["rebase_group"].to_numpy()
    for g in np.unique(groups):
        m = groups == g
        trial = bool(chart.loc[m, "trial_limits"].iloc[0])
        any_trial |= trial
        style = ":" if trial else "--"
        ax.plot(x[m], chart.loc[m, "mean"], "-", color=COLORS["mean"], linewidth=1.2, zorder=1)
        for col in ("lpl", "upl"):
            ax.plot(
                x[m],
                chart.loc[m, col],
                style,
                color=COLORS["line"],
                linewidth=1.0,
                zorder=1,
                drawstyle="steps-mid",
            )  # p and u limits change with the denominator
        if g > 0:
            ax.axvline(x[np.flatnonzero(m)[0]], color=COLORS["line"], linestyle=":", linewidth=1.0)
    handles = [
        Line2D([], [], color=COLORS["mean"], label="mean"),
        Line2D(
            [],
            [],
            color=COLORS["line"],
            linestyle=":" if any_trial else "--",
            label="process limits (trial)" if any_trial else "process limits",
        ),
    ]
    if chart.target is not None:
        ax.axhline(chart.target, color=COLORS["target"], linestyle="--", linewidth=1.2)
        handles.append(Line2D([], [], color=COLORS["target"], linestyle="--", label="target"))
    for kind, label in (
        ("special_cause_improvement", "improvement"),
        ("special_cause_concern", "concern"),
        ("special_cause_neutral_high", "special cause"),
    ):
        if (chart["point_type"].str.startswith(kind[:-5] if kind.endswith("_high") else kind)).any():
            handles.append(Line2D([], [], marker="o", linestyle="", color=_POINT_COLORS[kind], label=label))
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False, ncol=min(len(handles), 3))
    lo = np.nanmin(np.r_[y, chart["lpl"].to_numpy(dtype=float)])
    hi = np.nanmax(
        np.r_[y, chart["upl"].to_numpy(dtype=float)]
        if chart.target is None
        else np.r_[y, chart["upl"].to_numpy(dtype=float), chart.target]
    )
    span = hi - lo if hi > lo else 1.0
    ax.set_ylim(lo - 0.08 * span, hi + 0.35 * span)  # head-room for the legend and icons
    if percent_axis:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if np.issubdtype(x.dtype, np.datetime64):
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title("\n".join(textwrap.wrap(title, 60)), loc="left", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    if icons:
        draw_icon(ax.inset_axes((0.80, 0.76, 0.09, 0.22)), chart.variation, kind="variation")
        if chart.assurance is not None:
            draw_icon(ax.inset_axes((0.90, 0.76, 0.09, 0.22)), chart.assurance, kind="assurance")
    return ax


def board_pack(charts: Mapping[Any, SPCChart]) -> pd.DataFrame:
    """Board-pack summary: one row per chart with its latest point and icons.

    Parameters
    ----------
    charts : mapping
        Charts keyed by ``(site, outcome)`` tuples or by a name (a string).

    Returns
    -------
    pandas.DataFrame
        Columns ``site`` and ``outcome`` (tuple keys) or ``series`` (name keys), then ``latest_period``,
        ``latest_value``, ``mean``, ``lpl``, ``upl`` (latest point's centre and process limits),
        ``variation`` and ``assurance`` (icon names), ``variation_text`` and ``assurance_text`` (in words),
        ``rule`` (the rule that fired on the latest point, or ``None``), ``n_points`` (in the latest rebase
        group), ``n_special_cause`` (special-cause points in that group), ``trial_limits``, ``chart_type``
        and ``sigma_z`` (p′/u′ charts). Rows in the mapping's order.

    Raises
    ------
    SPCInputError
        A value that is not an SPC chart, or keys mixing tuples and names.

    Examples
    --------
    >>> import pandas as pd
    >>> from evaltoolkit.spc import xmr
    >>> d = pd.DataFrame({"week": range(20), "value": [5, 6] * 10})
    >>> table = board_pack({("North", "admissions"): xmr(d, "value", "week", target=9)})
    >>> table[["site", "outcome", "variation", "assurance"]].to_dict("records")
    [{'site': 'North', 'outcome': 'admissions', 'variation': 'common_cause', 'assurance': 'fail'}]
    """
    rows = []
    kinds = set()
    for key, chart in charts.items():
        if not isinstance(chart, SPCChart):
            raise SPCInputError(f"board_pack: {key!r} is not an SPC chart (got {type(chart).__name__})")
        if isinstance(key, tuple):
            if len(key) != 2:
                raise SPCInputError(f"board_pack: tuple keys must be (site, outcome) (got {key!r})")
            head = {"site": key[0], "outcome": key[1]}
            kinds.add("tuple")
        else:
            head = {"series": key}
            kinds.add("name")
        s = chart.summary()
        rows.append(
            {
                **head,
                **{k: s[k] for k in ("latest_period", "latest_value", "mean", "lpl", "upl", "variation")},
                "assurance": s["assurance"],
                "variation_text": _VARIATION_WORDS[s["variation"]],
                "assurance_text": _ASSURANCE_WORDS.get(s["assurance"] or "", "no target"),
                **{
                    k: s[k]
                    for k in ("rule", "n_points", "n_special_cause", "trial_limits", "chart_type", "sigma_z")
                },
            }
        )
    if len(kinds) > 1:
        raise SPCInputError("board_pack: keys mix (site, outcome) tuples and names; use one kind")
    table = pd.DataFrame(rows)
    for col in (
        "assurance",
        "rule",
        "sigma_z",
    ):  # None, not NaN, where there is none
        if col in table.columns:
            table[col] = table[col].astype(object).where(table[col].notna(), None)
    return table


def plot_board_pack(charts: Mapping[Any, SPCChart], ax: Axes | None = None) -> Axes:
    """Draw the board pack as a table of series with their latest value and icons.

    Parameters
    ----------
    charts : mapping
        As :func:`board_pack`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure sized to the number of rows is created otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from evaltoolkit.spc import xmr
    >>> d = pd.DataFrame({"week": range(20), "value": [5, 6] * 10})
    >>> ax = plot_board_pack({"admissions": xmr(d, "value", "week", target=9)})
    >>> [t.get_text() for t in ax.texts][:2]
    ['series', 'latest']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    import matplotlib.pyplot as plt

    table = board_pack(charts)
    n = len(table)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.5 * (n + 1) + 0.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(n - 0.2, -0.7)
    ax.axis("off")
    names = (
        table["series"].astype(str)
        if "series" in table.columns
        else table["site"].astype(str) + ": " + table["outcome"].astype(str)
    )
    for xpos, head in ((0.0, "series"), (4.6, "latest"), (6.6, "variation"), (8.2, "assurance")):
        ax.text(xpos, -0.3, head, fontsize=9, fontweight="bold", va="center")
    for i, row in table.iterrows():
        ax.text(0.0, i + 0.3, names.iloc[i], fontsize=9, va="center")
        ax.text(
            4.6,
            i + 0.3,
            f"{row['latest_value']:.3g}" + (" (trial)" if row["trial_limits"] else ""),
            fontsize=9,
            va="center",
        )
        height = 0.85 / (n + 0.5)
        bottom = 1 - (i + 1) / (n + 0.5) - height / 2
        draw_icon(ax.inset_axes((0.66, bottom, 0.08, height)), row["variation"], kind="variation")
        draw_icon(ax.inset_axes((0.82, bottom, 0.08, height)), row["assurance"], kind="assurance")
    return ax
