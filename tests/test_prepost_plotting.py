"""Tests for the before/after plots: the ax= convention, what is drawn, and the public signatures."""

from __future__ import annotations

import inspect

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

import evaltoolkit.prepost as prepost
from evaltoolkit.prepost import (
    PrePostInputError,
    fit_trajectories,
    patient_rates,
    plot_paired,
    plot_reliable_change,
    plot_trajectory,
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_public_plot_signatures() -> None:
    plots = [name for name in prepost.__all__ if name.startswith("plot_")]
    assert plots == ["plot_paired", "plot_reliable_change", "plot_trajectory"]
    for name in plots:
        params = inspect.signature(getattr(prepost, name)).parameters
        kinds = {p.kind for p in params.values()}
        assert inspect.Parameter.VAR_POSITIONAL not in kinds and inspect.Parameter.VAR_KEYWORD not in kinds
        assert params["ax"].default is None and params["ax"].kind is inspect.Parameter.KEYWORD_ONLY
        assert list(params.values())[1:] == [
            p for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]


def test_plot_paired_draws_one_line_per_complete_subject() -> None:
    d = pd.DataFrame(
        {
            "id": [1, 1, 2, 2, 3, 3, 4],
            "t": ["pre", "post"] * 3 + ["pre"],
            "y": [3.0, 1.0, 2.0, 2.0, 5.0, np.nan, 4.0],
        }
    )
    _, ax = plt.subplots()
    n_figs = len(plt.get_fignums())
    out = plot_paired(d, subject="id", time="t", value="y", pre="pre", post="post", ax=ax)
    assert out is ax and len(plt.get_fignums()) == n_figs
    lines = ax.get_lines()
    assert len(lines) == 3  # two subjects with both values + the mean
    assert lines[-1].get_ydata().tolist() == [2.5, 1.5]
    assert ax.get_xlabel() == "2 subjects (2 without both values not shown)"
    with pytest.raises(PrePostInputError, match="no subject has values at both"):
        plot_paired(d, subject="id", time="t", value="y", pre="pre", post="later", ax=ax)


def test_plot_paired_accepts_patient_rates() -> None:
    w = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "b"],
            "window": ["before", "after"] * 2,
            "exposure_days": [365, 365, 365, 182],
            "attendances": [4, 1, 2, 1],
        }
    )
    rates = patient_rates(w, days_per_year=365)
    ax = plot_paired(
        rates, subject="patient_id", time="window", value="rate", pre="before", post="after", show_means=False
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == ["before", "after"]
    assert ax.get_lines()[1].get_ydata().tolist() == pytest.approx(
        [2.0, 1 / (182 / 365)]
    )  # patient b: 2/y, 1 in half a year
    two = pd.concat([rates, rates.assign(outcome="admissions")], ignore_index=True)
    with pytest.raises(PrePostInputError, match="filter to one outcome"):
        plot_paired(two, subject="patient_id", time="window", value="rate", pre="before", post="after")


def test_plot_trajectory_ribbon_and_line() -> None:
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(30), 4)
    week = np.tile(np.arange(4), 30)
    d = pd.DataFrame(
        {"id": ids, "week": week, "y": 10 - week + rng.normal(0, 1, 120) + rng.normal(0, 2, 30)[ids]}
    )
    d = pd.concat([d.assign(outcome="a"), d.assign(outcome="b", y=d["y"] * 2)], ignore_index=True)
    fit = fit_trajectories(d, subject="id", time="week", value="y", outcome="outcome", random_slopes=False)
    _, ax = plt.subplots()
    assert plot_trajectory(fit, outcome="b", ax=ax) is ax
    line = ax.get_lines()[0]
    expected = fit.curve[fit.curve["outcome"] == "b"]["estimate"].to_numpy()
    assert np.asarray(line.get_ydata(), dtype=float) == pytest.approx(expected)
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    assert ax.get_ylabel() == "b"
    with pytest.raises(PrePostInputError, match="several outcomes"):
        plot_trajectory(fit)
    with pytest.raises(PrePostInputError, match="'c' is not in the fit"):
        plot_trajectory(fit, outcome="c")
    assert plot_trajectory(fit.curve[fit.curve["outcome"] == "a"]).get_ylabel() == "a"


def test_plot_reliable_change_waterfall() -> None:
    d = pd.DataFrame(
        {
            "change": [7.0, -8.0, 1.0, np.nan, -2.0, -6.5],
            "category": pd.Categorical(
                ["deteriorated", "recovered", "unchanged", None, "unchanged", "improved"],
                categories=["recovered", "improved", "unchanged", "deteriorated"],
            ),
        }
    )
    _, ax = plt.subplots()
    assert plot_reliable_change(d, threshold=6, ax=ax) is ax
    heights = sorted((p.get_x(), p.get_height()) for p in ax.patches)
    assert [h for _, h in heights] == [-8.0, -6.5, -2.0, 1.0, 7.0]  # sorted by change, missing left out
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["recovered (1)", "improved (1)", "unchanged (2)", "deteriorated (1)"]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert sorted(ln.get_ydata()[0] for ln in dashed) == [-6, 6]
    assert "1 without a change not shown" in ax.get_xlabel()
    with pytest.raises(PrePostInputError, match="no column"):
        plot_reliable_change(d.rename(columns={"change": "delta"}))
