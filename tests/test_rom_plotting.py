"""Plots: they draw what they claim, take ``ax=``, return the Axes, never show, keyword-only options."""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaltoolkit.rom import RomInputError, plot_jacobson, plot_score_distributions, reliable_change


@pytest.fixture(autouse=True)
def _no_show(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("plt.show() must not be called")

    monkeypatch.setattr(plt, "show", fail)
    yield
    plt.close("all")


def changes():
    d = pd.DataFrame({"pre": [16.0, 14.0, 12.0, 8.0, np.nan], "post": [9.0, 11.0, 12.0, 14.0, 3.0]})
    return reliable_change(d, "phq9", pre_column="pre", post_column="post")


def test_jacobson_plot_draws_cutoffs_band_and_categories():
    _fig, ax = plt.subplots()
    out = plot_jacobson(changes(), pre_column="pre", post_column="post", ax=ax, label="PHQ-9", title="T")
    assert out is ax and ax.get_xlabel() == "PHQ-9 pre score" and ax.get_title() == "T"
    verticals = [ln for ln in ax.get_lines() if np.allclose(ln.get_xdata(), 10)]
    horizontals = [ln for ln in ax.get_lines() if np.allclose(ln.get_ydata(), 10)]
    assert verticals and horizontals  # the cut-off (PHQ-9 10) on both axes
    band = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    x0, x1 = band[0].get_xdata()
    assert {
        round(float(y - x), 9) for ln in band for x, y in zip(ln.get_xdata(), ln.get_ydata(), strict=True)
    } == {
        -6.0,
        6.0,
    }  # the reliable-change band: post = pre ± 6
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "recovered (1)" in labels and "deteriorated (1)" in labels and "unchanged (2)" in labels
    categories = ("recovered", "improved", "unchanged", "deteriorated")
    scatters = [c for c in ax.collections if c.get_label().split(" ")[0] in categories]
    points = sum(len(c.get_offsets()) for c in scatters)
    assert points == 4  # the row without a pre score is not drawn
    assert x1 > x0


def test_score_distributions_one_box_per_time_point():
    s = pd.DataFrame({"occasion": ["baseline"] * 3 + ["end"] * 2, "total": [20.0, 18.0, 16.0, 12.0, np.nan]})
    ax = plot_score_distributions(s, time="occasion", order=["baseline", "end"], cutoff=10)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline\nn=3", "end\nn=1"]
    means = next(ln for ln in ax.get_lines() if ln.get_label() == "mean")
    assert means.get_ydata().tolist() == [18.0, 12.0]
    assert any(np.allclose(ln.get_ydata(), 10) for ln in ax.get_lines())
    with pytest.raises(RomInputError, match="not in order"):
        plot_score_distributions(s, time="occasion", order=["baseline"])


def test_new_axes_when_none_and_keyword_only_options():
    ax = plot_score_distributions(pd.DataFrame({"t": [1, 2], "total": [1.0, 2.0]}), time="t")
    assert isinstance(ax, matplotlib.axes.Axes) and len(ax.get_xticklabels()) == 2
    plt.close(ax.figure)
    for fn in (plot_jacobson, plot_score_distributions):
        params = list(inspect.signature(fn).parameters.values())
        assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])
        assert (
            "ax" in inspect.signature(fn).parameters
            and inspect.signature(fn).parameters["ax"].default is None
        )
    with pytest.raises(RomInputError, match="reliable_change"):
        plot_jacobson(pd.DataFrame({"pre": [1], "post": [2]}), pre_column="pre", post_column="post")
