"""Plots for outcome measures: the Jacobson plot and score distributions over time.

Both take ``ax=None`` (a new figure is made when it is missing), return the Axes and never call
``plt.show()``. Options are keyword-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.rom.change import CATEGORIES
from evaltoolkit.rom.errors import RomInputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_jacobson", "plot_score_distributions"]

_COLOURS = {"recovered": "#1b9e77", "improved": "#7570b3", "unchanged": "0.55", "deteriorated": "#d95f02"}


@renamed_kwargs(pre="pre_column", post="post_column")
def plot_jacobson(
    changes: pd.DataFrame,
    *,
    pre_column: str,
    post_column: str,
    ax: Axes | None = None,
    title: str | None = None,
    label: str | None = None,
) -> Axes:
    """Jacobson plot: post against pre score, with the cut-off lines and the reliable-change band.

    Points on the diagonal did not change; points inside the grey band between the dashed lines
    changed less than the reliable-change threshold; the dotted lines are the clinical cut-off
    used for clinically significant change. Points are coloured by category.

    Parameters
    ----------
    changes : pandas.DataFrame
        Output of :func:`~evaltoolkit.rom.reliable_change` (uses ``category``, ``rc_threshold`` and
        ``cutoff``).
    pre_column, post_column : str
        The score columns passed to :func:`~evaltoolkit.rom.reliable_change` (formerly ``pre=``/``post=``,
        deprecated: ``pre``/``post`` name occasions elsewhere in the toolkit).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created otherwise.
    title, label : str, optional
        Axes title; axis label prefix (e.g. ``"PHQ-9"``).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from evaltoolkit.rom import reliable_change
    >>> d = pd.DataFrame({"pre": [16, 14, 12, 8], "post": [9, 11, 12, 14]})
    >>> changes = reliable_change(d, "phq9", pre_column="pre", post_column="post")
    >>> ax = plot_jacobson(changes, pre_column="pre", post_column="post")
    >>> ax.get_xlabel(), len(ax.collections) > 0
    ('pre score', True)
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    import matplotlib.pyplot as plt

    need = [pre_column, post_column, "category", "rc_threshold", "cutoff"]
    absent = [c for c in need if c not in changes.columns]
    if absent:
        raise RomInputError(
            f"changes lacks columns {absent}; pass the output of reliable_change() and the same "
            "pre_column= and post_column="
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5.5))
    x = pd.to_numeric(changes[pre_column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    y = pd.to_numeric(changes[post_column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.any():
        lo = float(min(x[ok].min(), y[ok].min()))
        hi = float(max(x[ok].max(), y[ok].max()))
    else:
        lo, hi = 0.0, 1.0
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    lo, hi = lo - pad, hi + pad
    grid = np.array([lo, hi])
    thresholds = changes["rc_threshold"].dropna()
    if len(thresholds):
        t = float(thresholds.iloc[0])
        ax.fill_between(
            grid, grid - t, grid + t, color="0.9", zorder=0, label=f"change < {t:.3g} (not reliable)"
        )
        ax.plot(grid, grid - t, ls="--", color="0.5", lw=0.8)
        ax.plot(grid, grid + t, ls="--", color="0.5", lw=0.8)
    ax.plot(grid, grid, color="0.3", lw=1, label="no change")
    cut = changes["cutoff"].dropna()
    if len(cut):
        c = float(cut.iloc[0])
        ax.axvline(c, ls=":", color="black", lw=1)
        ax.axhline(c, ls=":", color="black", lw=1, label=f"cut-off {c:.4g}")
    cat = changes["category"].astype("string")
    for name in CATEGORIES:
        m = ok & (cat == name).fillna(False).to_numpy(dtype=bool)
        if m.any():
            ax.scatter(x[m], y[m], s=18, color=_COLOURS[name], label=f"{name} ({int(m.sum())})", zorder=3)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    prefix = f"{label} " if label else ""
    ax.set_xlabel(f"{prefix}pre score")
    ax.set_ylabel(f"{prefix}post score")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small", loc="best")
    return ax


def plot_score_distributions(
    scores: pd.DataFrame,
    *,
    time: str,
    score: str = "total",
    order: Sequence[object] | None = None,
    ax: Axes | None = None,
    cutoff: float | None = None,
    show_means: bool = True,
    title: str | None = None,
) -> Axes:
    """Box plots of a score at each time point (occasion, wave, session), with means and n.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long format, one row per response, e.g. the output of :func:`~evaltoolkit.rom.score`.
    time : str
        Column with the time point.
    score : str, default "total"
        Score column.
    order : sequence, optional
        Order of the time points; default sorted.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created otherwise.
    cutoff : float, optional
        Draw a horizontal line at a clinical cut-off.
    show_means : bool, default True
        Mark and join the means.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> s = pd.DataFrame({"wave": ["pre", "pre", "post", "post"], "total": [20.0, 18.0, 12.0, 15.0]})
    >>> ax = plot_score_distributions(s, time="wave", order=["pre", "post"])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['pre\\nn=2', 'post\\nn=2']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    import matplotlib.pyplot as plt

    for c in (time, score):
        if c not in scores.columns:
            raise RomInputError(f"column {c!r} is not in the data")
    values = pd.to_numeric(scores[score], errors="coerce")
    frame = pd.DataFrame({"time": scores[time], "value": values}).dropna()
    levels = list(order) if order is not None else sorted(frame["time"].unique().tolist())
    unknown = sorted(set(frame["time"]) - set(levels), key=str)
    if unknown:
        raise RomInputError(f"time points {unknown} are not in order=")
    groups = [frame.loc[frame["time"] == t, "value"].to_numpy() for t in levels]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(levels) + 2), 4.0))
    pos = np.arange(1, len(levels) + 1)
    nonempty = [i for i, g in enumerate(groups) if len(g)]
    if nonempty:
        ax.boxplot([groups[i] for i in nonempty], positions=pos[nonempty], widths=0.55, showfliers=True)
    if show_means and nonempty:
        means = [float(np.mean(groups[i])) for i in nonempty]
        ax.plot(pos[nonempty], means, marker="o", color="C3", lw=1, label="mean")
        ax.legend(fontsize="small", loc="best")
    if cutoff is not None:
        ax.axhline(cutoff, ls=":", color="black", lw=1)
    ax.set_xticks(pos, [f"{t}\nn={len(g)}" for t, g in zip(levels, groups, strict=True)])
    ax.set_xlabel(time)
    ax.set_ylabel(score)
    if title:
        ax.set_title(title)
    return ax
