"""ITS graph: data points, interruptions, fitted segments and counterfactual with its band.

Follows the graph guidance of Turner et al. (2021, Res Synth Methods): show every data point, mark each
interruption, draw the fitted segments and the counterfactual (the pre-interruption trend continued).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from evaltoolkit.its.errors import ITSInputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from evaltoolkit.its.results import ITSResult

__all__ = ["plot_its"]

_TREATED = "C0"
_COUNTERFACTUAL = "C1"
_CONTROL = "0.55"
_STAGGERED = ("C0", "C2", "C3", "C4", "C5", "C6", "C8", "C9")


def _period_end(d: Any, start: Any) -> Any:
    """The start of the period after ``start`` (so a shaded span covers the whole period)."""
    t = int(d.frame.loc[d.frame["time"] == start, "t"].iloc[0])
    t_max = int(d.frame["t"].max())
    if t < t_max:
        return d.time_of(t + 1)
    prev = d.time_of(t - 1) if t > 1 else start
    return start + (start - prev)


def plot_its(
    result: ITSResult,
    *,
    ax: Axes | None = None,
    per: float | None = None,
    show_counterfactual: bool = True,
) -> Axes:
    """Plot an ITS fit; see :meth:`evaltoolkit.its.ITSResult.plot`.

    Parameters
    ----------
    result : ITSResult
        The fit.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created otherwise.
    per : float, optional
        With an offset, plot ``value / offset * per``.
    show_counterfactual : bool, default True
        Draw the counterfactual line and band.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    d = result.design
    if per is not None and not d.offset:
        raise ITSInputError("per= needs a fit with an offset")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    p = result.predictions()
    scale = p["offset"].to_numpy() / per if per is not None else np.ones(len(p))
    value_cols = [
        "observed",
        "fitted",
        "fitted_ci_lower",
        "fitted_ci_upper",
        "counterfactual",
        "counterfactual_ci_lower",
        "counterfactual_ci_upper",
    ]
    for c in value_cols:
        p[c] = p[c].to_numpy(dtype="float64") / scale
    series = p.groupby("group", sort=True, dropna=False) if d.controlled else [(None, p)]
    labelled: set[str] = set()

    def label(name: str) -> str | None:
        if name in labelled:
            return None
        labelled.add(name)
        return name

    treated_colours = iter(_STAGGERED)
    for _key, s in series:
        treated = bool(d.frame.loc[s.index, "treated"].all())
        colour = _TREATED if treated else _CONTROL
        if treated and d.is_staggered:
            colour = next(treated_colours, _TREATED)
        who = "" if not d.controlled else (" (treated)" if treated else " (control)")
        x = s["time"].to_numpy()
        inside = s["in_fit"].to_numpy()
        if d.is_staggered and treated:
            who = f" ({_key}, treated)"
        ax.plot(
            x[inside],
            s["observed"].to_numpy()[inside],
            "o",
            ms=4,
            color=colour,
            alpha=0.8,
            label=label(f"observed{who}"),
        )
        if (~inside).any():
            ax.plot(
                x[~inside],
                s["observed"].to_numpy()[~inside],
                "o",
                ms=4,
                mfc="none",
                color=colour,
                label=label("excluded (not fitted)" if d.exclude_periods else "transition (not fitted)"),
            )
        for seg in np.unique(s["segment"].to_numpy()):
            m = (s["segment"].to_numpy() == seg) & inside
            ax.plot(x[m], s["fitted"].to_numpy()[m], "-", lw=2, color=colour, label=label(f"fitted{who}"))
        if show_counterfactual and treated:
            m = s["segment"].to_numpy() >= 1
            if d.transition_shape == "exclude":
                m = m & inside
            ax.fill_between(
                x[m],
                s["counterfactual_ci_lower"].to_numpy()[m],
                s["counterfactual_ci_upper"].to_numpy()[m],
                color=_COUNTERFACTUAL,
                alpha=0.2,
                lw=0,
                label=label(f"{result.conf_level:.0%} CI (counterfactual)"),
            )
            ax.plot(
                x[m],
                s["counterfactual"].to_numpy()[m],
                "--",
                lw=1.8,
                color=_COUNTERFACTUAL,
                label=label("counterfactual"),
            )
    if d.is_staggered:
        assert d.staggered is not None
        starts = sorted(set(d.staggered["t"].tolist()))
        for ti in starts:
            ax.axvline(d.time_of(ti), color="k", ls=":", lw=1.2, label=label("interruption"))
            if d.transition:
                ax.axvspan(
                    d.time_of(ti),
                    d.time_of(ti + d.transition),
                    color="0.85",
                    alpha=0.5,
                    lw=0,
                    label=label("transition"),
                )
    else:
        for j, value in enumerate(d.interruptions):
            ax.axvline(value, color="k", ls=":", lw=1.2, label=label("interruption"))
            if d.transition:
                ax.axvspan(
                    value,
                    d.time_of(d.post_start_t[j]),
                    color="0.85",
                    alpha=0.5,
                    lw=0,
                    label=label("transition"),
                )
    for _label, a, b in d.exclude_periods:
        ax.axvspan(
            a, _period_end(d, b), color="0.6", alpha=0.25, lw=0, hatch="//", label=label("excluded period")
        )
    for nm, a, _b in d.level_shifts:
        ax.axvline(a, color="C4", ls="-.", lw=1.2, label=label(f"level shift: {nm}"))
    ax.set_xlabel(d.time)
    ax.set_ylabel(d.outcome if per is None else f"{d.outcome} per {per:g} {d.offset}")
    ax.legend(frameon=False, fontsize="small")
    return ax
