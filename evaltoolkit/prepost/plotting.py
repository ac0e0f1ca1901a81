"""Plots for before/after analyses. Every function takes ``ax=None``, returns the Axes and never shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.prepost._common import check_columns, check_frame, numeric_column
from evaltoolkit.prepost.errors import PrePostInputError
from evaltoolkit.prepost.trajectories import TrajectoryFit

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CATEGORY_COLOURS", "plot_paired", "plot_reliable_change", "plot_trajectory"]

CATEGORY_COLOURS: dict[str, str] = {
    "recovered": "#1b9e77",
    "improved": "#7570b3",
    "unchanged": "0.6",
    "deteriorated": "#d95f02",
}
"""Colours of the Jacobson–Truax categories (as :mod:`evaltoolkit.rom` plots); others cycle."""


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


@renamed_kwargs(show_mean="show_means")
def plot_paired(
    data: pd.DataFrame,
    *,
    subject: str,
    time: str,
    value: str,
    pre: object,
    post: object,
    ax: Axes | None = None,
    show_means: bool = True,
    line_alpha: float = 0.25,
) -> Axes:
    """Paired slope chart: one line per subject from ``pre`` to ``post``, with the mean on top.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per subject × occasion (e.g. :func:`~evaltoolkit.prepost.patient_rates` for one
        outcome with ``time="window"``, ``value="rate"``). Subjects without both values are left out
        (their number is given in the x-axis label).
    subject, time, value : str
        Column names.
    pre, post : object
        The two values of ``time`` (left and right).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.
    show_means : bool, default True
        Draw the mean of the complete pairs as a thick line (formerly ``show_mean=``, deprecated).
    line_alpha : float, default 0.25
        Opacity of the subject lines.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"id": [1, 1, 2, 2], "t": ["pre", "post"] * 2, "y": [3.0, 1.0, 2.0, 2.0]})
    >>> ax = plot_paired(d, subject="id", time="t", value="y", pre="pre", post="post")
    >>> [tick.get_text() for tick in ax.get_xticklabels()]
    ['pre', 'post']
    """
    frame = check_frame(data)
    check_columns(frame, [subject, time, value])
    frame[value] = numeric_column(frame, value, "data", allow_missing=True)
    sub = frame[frame[time].isin([pre, post])]
    if sub.duplicated([subject, time]).any():
        raise PrePostInputError(
            f"data: more than one row per {subject} × {time}; filter to one outcome first"
        )
    wide = sub.pivot(index=subject, columns=time, values=value).reindex(columns=[pre, post])
    complete = wide.dropna()
    if complete.empty:
        raise PrePostInputError(f"no subject has values at both {pre!r} and {post!r}")
    ax = _axes(ax)
    x = np.array([0.0, 1.0])
    ys = complete.to_numpy(dtype=float)
    ax.plot(np.tile(x, (len(ys), 1)).T, ys.T, color="0.35", alpha=line_alpha, linewidth=0.8)
    if show_means:
        means = ys.mean(axis=0)
        ax.plot(x, means, color="tab:red", linewidth=3, marker="o", markersize=7, label="mean", zorder=3)
        ax.legend(loc="best", frameon=False)
    ax.set_xticks(x)
    ax.set_xticklabels([str(pre), str(post)])
    ax.set_xlim(-0.25, 1.25)
    ax.set_ylabel(value)
    left_out = len(wide) - len(complete)
    ax.set_xlabel(
        f"{len(complete)} subjects" + (f" ({left_out} without both values not shown)" if left_out else "")
    )
    return ax


def plot_trajectory(
    fit: TrajectoryFit | pd.DataFrame,
    *,
    outcome: str | None = None,
    ax: Axes | None = None,
    show_observed: bool = True,
    label: str | None = None,
    color: str = "tab:blue",
) -> Axes:
    """Fitted mean trajectory with its confidence ribbon, beside the observed means.

    Parameters
    ----------
    fit : TrajectoryFit or pandas.DataFrame
        A :func:`~evaltoolkit.prepost.fit_trajectories` result, or its ``curve`` table.
    outcome : str, optional
        Which outcome to draw; required when the fit has several.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.
    show_observed : bool, default True
        Mark the observed mean at each time (marker area grows with the number of scores).
    label : str, optional
        Legend label of the fitted line; default the outcome name.
    color : str, default "tab:blue"
        Colour of the line and ribbon.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({
    ...     "outcome": "phq9", "time": [0.0, 1.0, 2.0], "estimate": [15.0, 14.0, 13.0], "std_error": 0.5,
    ...     "ci_lower": [14.0, 13.0, 12.0], "ci_upper": [16.0, 15.0, 14.0],
    ...     "observed_mean": [15.2, 13.8, 13.1], "observed_n": [30, 28, 25], "conf_level": 0.95})
    >>> ax = plot_trajectory(curve)
    >>> ax.get_ylabel()
    'phq9'
    """
    curve = fit.curve if isinstance(fit, TrajectoryFit) else check_frame(fit, "curve")
    check_columns(
        curve, ["outcome", "time", "estimate", "ci_lower", "ci_upper", "observed_mean", "observed_n"], "curve"
    )
    names = list(dict.fromkeys(curve["outcome"].tolist()))
    if outcome is None:
        if len(names) != 1:
            raise PrePostInputError(f"the fit has several outcomes {names}; choose one with outcome=")
        outcome = names[0]
    if outcome not in names:
        raise PrePostInputError(f"outcome {outcome!r} is not in the fit; outcomes are {names}")
    c = curve[curve["outcome"] == outcome].sort_values("time")
    ax = _axes(ax)
    level = float(c["conf_level"].iloc[0]) if "conf_level" in c.columns else 0.95
    ax.fill_between(c["time"], c["ci_lower"], c["ci_upper"], color=color, alpha=0.2, linewidth=0,
                    label=f"{100 * level:g}% CI")  # fmt: skip
    ax.plot(c["time"], c["estimate"], color=color, linewidth=2, label=label or f"{outcome} (model)")
    if show_observed:
        n = c["observed_n"].to_numpy(dtype=float)
        size = 10 + 60 * n / max(n.max(), 1)
        ax.scatter(c["time"], c["observed_mean"], s=size, color="0.2", zorder=3, label="observed mean")
    ax.set_xlabel("time")
    ax.set_ylabel(outcome)
    ax.legend(loc="best", frameon=False)
    return ax


@renamed_kwargs(colours="colors")
def plot_reliable_change(
    data: pd.DataFrame,
    *,
    change: str = "change",
    category: str = "category",
    ax: Axes | None = None,
    threshold: float | None = None,
    colors: dict[str, str] | None = None,
) -> Axes:
    """Reliable-change waterfall: every person's change as a bar, sorted, coloured by category.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person with ``change`` and ``category`` columns, e.g. the output of
        :func:`evaltoolkit.rom.reliable_change`. Rows with a missing change are left out (counted in the
        x-axis label).
    change, category : str
        Column names.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.
    threshold : float, optional
        Reliable-change threshold: dashed lines at ±threshold.
    colors : dict, optional
        Category → colour; default :data:`CATEGORY_COLOURS`, others from the default cycle (formerly
        ``colours=``, deprecated).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"change": [-8.0, -2.0, 1.0, 7.0],
    ...                   "category": ["improved", "unchanged", "unchanged", "deteriorated"]})
    >>> ax = plot_reliable_change(d, threshold=6)
    >>> len(ax.patches)
    4
    """
    frame = check_frame(data)
    check_columns(frame, [change, category])
    frame[change] = numeric_column(frame, change, "data", allow_missing=True)
    shown = frame[frame[change].notna()].sort_values(change, kind="stable").reset_index(drop=True)
    if shown.empty:
        raise PrePostInputError(f"no row has a value in {change!r}")
    palette = {**CATEGORY_COLOURS, **(colors or {})}
    ax = _axes(ax)
    cats = shown[category].astype(object).where(shown[category].notna(), "not classified").astype(str)
    order = [str(c) for c in getattr(frame[category], "cat", None).categories] if isinstance(
        frame[category].dtype, pd.CategoricalDtype
    ) else sorted(cats.unique())  # fmt: skip
    order = [c for c in order if c in set(cats)] + sorted(set(cats) - set(order))
    cycle = iter([f"C{i}" for i in range(10)])
    x = np.arange(len(shown))
    for cat in order:
        sel = (cats == cat).to_numpy()
        colour = palette.get(cat) or next(cycle)
        ax.bar(x[sel], shown.loc[sel, change], width=1.0, color=colour, label=f"{cat} ({int(sel.sum())})")
    ax.axhline(0, color="0.3", linewidth=0.8)
    if threshold is not None:
        for h in (threshold, -threshold):
            ax.axhline(h, color="0.3", linewidth=0.8, linestyle="--")
    ax.set_xticks([])
    left_out = len(frame) - len(shown)
    ax.set_xlabel(
        f"{len(shown)} people, sorted by change"
        + (f" ({left_out} without a change not shown)" if left_out else "")
    )
    ax.set_ylabel(change)
    ax.legend(loc="best", frameon=False)
    return ax
