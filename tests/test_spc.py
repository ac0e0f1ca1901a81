"""evaltoolkit.spc: Making Data Count XmR, p′ and u′ charts.

Expected values come from: the public golden case of the NHSRplotthedots "deviations" vignette (screened and
unscreened limits); hand-made series whose limits are set by hand (a fixed baseline of 14 points alternating
5 and 6: mean 5.5, every moving range 1, so UPL = 5.5 + 2.66, near limit = 5.5 + 1.7733) and that trigger each
rule exactly at its threshold and one point short; hand calculations of p′/u′ limits from the qicharts2
formulas; and tests/r/spc_reference.R, an independent base-R implementation of the published rules (not the
R package, which is not in the Debian archive) whose output is committed as CSV.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from evaltoolkit.errors import SPCInputError
from evaltoolkit.spc import board_pack, p_chart, plot_board_pack, plot_spc, u_chart, xmr

matplotlib.use("Agg")
import matplotlib.pyplot as plt

R_DIR = Path(__file__).parent / "r"
BASE = [5.0, 6.0] * 7  # 14 points: mean 5.5, 13 moving ranges of 1
UPL = 5.5 + 2.66 * 1.0
NEAR = 5.5 + (2.66 * 2 / 3) * 1.0


def chart(tail: list[float], **kw) -> pd.DataFrame:
    """The baseline plus ``tail``, limits fixed on the 14 baseline points."""
    y = BASE + list(tail)
    d = pd.DataFrame({"period": range(len(y)), "value": y})
    return xmr(d, "value", "period", fix_after=len(BASE), **kw)


def tail_of(c: pd.DataFrame, col: str) -> list:
    return c[col].iloc[len(BASE) :].tolist()


# ------------------------------------------------------------------------------------------ golden case

GOLDEN = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]


def test_golden_case_screened_and_unscreened() -> None:
    d = pd.DataFrame({"t": range(18), "y": GOLDEN})
    c = xmr(d, "y", "t")
    assert c["mean"].iloc[0] == pytest.approx(1.944444, abs=1e-6)
    assert c["upl"].iloc[0] == pytest.approx(4.604444, abs=1e-6)
    assert c["lpl"].iloc[0] == pytest.approx(-0.7155556, abs=1e-7)
    u = xmr(d, "y", "t", screen_outliers=False)
    assert u["upl"].iloc[0] == pytest.approx(6.951503, abs=1e-6)
    assert u["lpl"].iloc[0] == pytest.approx(-3.062614, abs=1e-6)
    # the 10 is beyond both upper limits; nothing else fires
    assert c["rule"].tolist() == [None] * 4 + ["outside_limits"] + [None] * 13
    assert c["point_type"].iloc[4] == "special_cause_improvement"  # improvement="increase" by default


def test_columns_and_order() -> None:
    c = chart([])
    assert list(c.columns[:9]) == [
        "period", "value", "mean", "lpl", "upl", "lower_near", "upper_near", "point_type", "rule",
    ]  # fmt: skip
    assert c["upl"].iloc[0] == pytest.approx(UPL)
    assert c["upper_near"].iloc[0] == pytest.approx(5.5 + 1.773333, abs=1e-6)
    assert c["lower_near"].iloc[0] == pytest.approx(5.5 - 1.773333, abs=1e-6)


# ------------------------------------------------------------------------------------------ each rule


def test_outside_limits_strict() -> None:
    c = chart([UPL, 5.0, 5.0, 5.5 + 2.6601, 5.0])  # a point exactly at the UPL is not beyond it
    assert tail_of(c, "rule") == [None, None, None, "outside_limits", None]
    assert tail_of(c, "point_type")[3] == "special_cause_improvement"
    c = chart([5.5 - 2.6601], improvement="increase")
    assert tail_of(c, "point_type") == ["special_cause_concern"]


def test_shift_seven_flags_all_seven_six_flags_none() -> None:
    # the baseline ends with a 6 (above the mean), so each run starts after a 5
    c = chart([5.0] + [6.0] * 7 + [5.0])
    assert tail_of(c, "rule") == [None] + ["shift"] * 7 + [None]
    assert tail_of(c, "point_type")[1:8] == ["special_cause_improvement"] * 7
    c = chart([5.0] + [6.0] * 6 + [5.0])
    assert tail_of(c, "rule") == [None] * 8
    # below the mean, lower is better
    c = chart([5.0] * 7, improvement="decrease")
    assert tail_of(c, "point_type") == ["special_cause_improvement"] * 7


def test_shift_broken_by_a_point_on_the_mean() -> None:
    # the last baseline point is 6: with 6.0 x3 it would make a run; the point on the mean breaks it
    c = chart([5.0, 6.0, 6.0, 6.0, 5.5, 6.0, 6.0, 6.0, 6.0, 5.0])
    assert all(r is None for r in tail_of(c, "rule"))
    c = chart([5.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 5.5])
    assert tail_of(c, "rule") == [None] + ["shift"] * 7 + [None]


def test_trend_seven_points_and_six_points() -> None:
    up = [4.0, 4.5, 5.0, 5.2, 5.4, 6.0, 7.0]  # 6 increasing differences, within the near limits
    c = chart([*up, 5.0])
    assert tail_of(c, "rule") == ["trend"] * 7 + [None]
    assert tail_of(c, "point_type")[:7] == ["special_cause_improvement"] * 7
    c = chart([*up[1:], 5.0])
    assert tail_of(c, "rule") == [None] * 7
    down = up[::-1]
    c = chart([5.0, *down, 7.2])
    assert tail_of(c, "rule") == [None] + ["trend"] * 7 + [None]
    assert tail_of(c, "point_type")[1:8] == ["special_cause_concern"] * 7


def test_trend_broken_by_a_tie() -> None:
    c = chart([4.0, 4.5, 5.0, 5.0, 5.4, 6.0, 7.0, 7.1, 5.0])
    assert all(r is None for r in tail_of(c, "rule"))
    # the same run without the tie is a trend of 8
    c = chart([4.0, 4.5, 5.0, 5.1, 5.4, 6.0, 7.0, 7.1, 5.0])
    assert tail_of(c, "rule") == ["trend"] * 8 + [None]


def test_two_in_three_at_and_beyond_the_near_limit() -> None:
    beyond = NEAR + 1e-6
    c = chart([beyond, 6.0, beyond, 5.0])
    assert tail_of(c, "rule") == ["two_in_three", None, "two_in_three", None]  # the middle point is not
    c = chart([beyond, 6.0, NEAR, 5.0])  # exactly at the near limit does not count
    assert all(r is None for r in tail_of(c, "rule"))
    c = chart([beyond, 5.0, beyond, 5.0])  # the middle point is below the mean: not all three on one side
    assert all(r is None for r in tail_of(c, "rule"))
    c = chart([beyond, 6.0, 6.0, beyond, 5.0])  # one in three, twice
    assert all(r is None for r in tail_of(c, "rule"))


def test_two_in_three_nov_2023_change_mdc_vs_ptd() -> None:
    # a band point (2-3 sigma) then a point beyond the process limit, all above the mean
    tail = [7.5, 9.0, 6.0, 5.0]
    mdc = chart(tail, rules="mdc")
    ptd = chart(tail, rules="ptd-0.2.2")
    assert tail_of(mdc, "rule") == ["two_in_three", "outside_limits", None, None]
    assert tail_of(ptd, "rule") == [None, "outside_limits", None, None]
    assert tail_of(mdc, "point_type")[0] == "special_cause_improvement"
    assert tail_of(ptd, "point_type")[0] == "common_cause"


def test_conflict_improvement_wins_under_mdc_precedence_under_ptd() -> None:
    # seven points above the mean (shift: improvement) that each fall (trend: concern)
    tail = [7.2, 7.0, 6.8, 6.6, 6.4, 6.2, 6.0, 5.0]
    mdc = chart(tail, rules="mdc")
    ptd = chart(tail, rules="ptd-0.2.2")
    assert tail_of(mdc, "point_type")[:7] == ["special_cause_improvement"] * 7
    assert tail_of(mdc, "rule")[:7] == ["shift"] * 7
    assert tail_of(mdc, "rules_fired")[0] == "trend,shift"
    assert tail_of(ptd, "point_type")[:7] == ["special_cause_concern"] * 7
    assert tail_of(ptd, "rule")[:7] == ["trend"] * 7


def test_neutral_direction() -> None:
    c = chart([5.0] + [6.0] * 7 + [5.5 - 3.0], improvement="neutral")
    assert tail_of(c, "point_type")[1:] == ["special_cause_neutral_high"] * 7 + ["special_cause_neutral_low"]
    assert c.variation == "neutral_low"
    assert c.assurance is None


# ------------------------------------------------------------------------------------------ icons


@pytest.mark.parametrize(
    ("last", "improvement", "icon"),
    [
        (9.0, "increase", "improvement_high"),
        (9.0, "decrease", "concern_high"),
        (2.0, "increase", "concern_low"),
        (2.0, "decrease", "improvement_low"),
        (6.0, "increase", "common_cause"),
    ],
)
def test_variation_icon_of_latest_point(last: float, improvement: str, icon: str) -> None:
    assert chart([5.0, last], improvement=improvement).variation == icon


@pytest.mark.parametrize(
    ("target", "improvement", "icon"),
    [
        (9.0, "increase", "fail"),  # target above the UPL (8.16): never met
        (2.0, "increase", "pass"),  # target below the LPL (2.84): always met
        (6.0, "increase", "inconsistent"),
        (UPL, "increase", "inconsistent"),  # strict, as NHSRplotthedots
        (9.0, "decrease", "pass"),
        (2.0, "decrease", "fail"),
        (6.0, "decrease", "inconsistent"),
        (9.0, "neutral", None),
        (None, "increase", None),
    ],
)
def test_assurance(target: float | None, improvement: str, icon: str | None) -> None:
    assert chart([5.0, 6.0], target=target, improvement=improvement).assurance == icon


def test_assurance_uses_latest_rebase_group() -> None:
    y = [5.0, 6.0] * 8 + [9.0, 10.0] * 8
    d = pd.DataFrame({"t": range(32), "y": y})
    c = xmr(d, "y", "t", target=8.0, rebase=[16])
    # group 0: 5.5 +/- 2.66 (target above UPL -> fail); group 1: 9.5 +/- 2.66 -> inconsistent
    assert c.assurance == "inconsistent"
    assert xmr(d, "y", "t", target=8.0).assurance == "inconsistent"
    assert xmr(d.iloc[:16], "y", "t", target=8.5).assurance == "fail"


# ------------------------------------------------------------------------------------------ rebasing


def test_rebase_at_go_live_dates() -> None:
    months = pd.date_range("2023-01-01", periods=30, freq="MS")
    before = [10, 12, 11, 13, 12, 10, 11, 12, 13, 11, 12, 10, 11, 12, 13]
    after = [7, 8, 6, 7, 9, 8, 7, 6, 8, 7, 9, 8, 7, 6, 8]
    y = before + after
    d = pd.DataFrame({"month": months, "admissions": y})
    c = xmr(d, "admissions", "month", improvement="decrease", rebase="2024-04-01")
    assert c["rebase_group"].tolist() == [0] * 15 + [1] * 15
    pre, post = np.array(y[:15], float), np.array(y[15:], float)
    # hand: moving ranges within each group only (the 13 -> 7 drop is not a moving range of either group)
    for part, g in ((pre, 0), (post, 1)):
        amr = np.abs(np.diff(part)).mean()
        assert c.loc[c["rebase_group"] == g, "mean"].iloc[0] == pytest.approx(part.mean())
        assert c.loc[c["rebase_group"] == g, "upl"].iloc[0] == pytest.approx(part.mean() + 2.66 * amr)
    assert not c["trial_limits"].any()
    # without rebasing the fall shows as a shift of improvement
    whole = xmr(d, "admissions", "month", improvement="decrease")
    assert (whole["point_type"].iloc[15:] == "special_cause_improvement").all()
    assert c.variation == "common_cause"


def test_trial_limits_below_13_points() -> None:
    d = pd.DataFrame({"t": range(25), "y": [5.0, 6.0] * 12 + [5.0]})
    c = xmr(d, "y", "t", rebase=[13])
    assert c["trial_limits"].tolist() == [False] * 13 + [True] * 12
    assert c.summary()["trial_limits"] is True
    assert xmr(d, "y", "t", fix_after=12)["trial_limits"].all()
    assert not xmr(d, "y", "t", fix_after=13)["trial_limits"].any()


def test_fix_after_uses_the_first_points_only() -> None:
    d = pd.DataFrame({"t": range(20), "y": [5.0, 6.0] * 7 + [20.0] * 6})
    c = xmr(d, "y", "t", fix_after=14)
    assert c["mean"].iloc[-1] == pytest.approx(5.5)
    assert c["upl"].iloc[-1] == pytest.approx(UPL)


# ------------------------------------------------------------------------------------------ inputs


def test_missing_values_error_names_periods_or_drop() -> None:
    d = pd.DataFrame({"t": range(16), "y": [5.0, 6.0] * 8})
    d.loc[[3, 9], "y"] = np.nan
    with pytest.raises(SPCInputError, match=r"2 missing value\(s\).*periods 3, 9"):
        xmr(d, "y", "t")
    c = xmr(d, "y", "t", missing="drop")
    assert c.n_dropped == 2 and len(c) == 14
    assert 3 not in c["period"].tolist()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"value": "nope"}, "no column"),
        ({"rules": "ihi"}, "rules="),
        ({"improvement": "up"}, "improvement="),
        ({"rebase": [0]}, "not after the first period"),
        ({"rebase": [15]}, "fewer than 2 points"),
        ({"fix_after": 1}, "fix_after="),
        ({"missing": "keep"}, "missing="),
        ({"rebase": pd.Timestamp("2024-01-01")}, "cannot be compared"),
        ({"rebase": "x"}, "cannot be compared"),
    ],
)
def test_bad_inputs(kwargs: dict, match: str) -> None:
    d = pd.DataFrame({"t": range(16), "y": [5.0, 6.0] * 8})
    args = {"value": "y", "period": "t", **kwargs}
    with pytest.raises(SPCInputError, match=match):
        xmr(d, **args)


def test_infinite_values_and_monthly_periods() -> None:
    d = pd.DataFrame({"t": range(4), "y": [1.0, np.inf, 2.0, 3.0]})
    with pytest.raises(SPCInputError, match=r"infinite at periods \[1\]"):
        xmr(d, "y", "t")
    months = pd.period_range("2023-01", periods=30, freq="M")
    c = xmr(pd.DataFrame({"m": months, "y": [5.0, 6.0] * 15}), "y", "m", rebase="2024-01")
    assert c["rebase_group"].tolist() == [0] * 12 + [1] * 18


def test_duplicated_periods_and_unsorted_input() -> None:
    d = pd.DataFrame({"t": [1, 2, 2, 3], "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(SPCInputError, match="repeats periods"):
        xmr(d, "y", "t")
    d = pd.DataFrame({"t": [3, 1, 2], "y": [3.0, 1.0, 2.0]})
    before = d.copy()
    c = xmr(d, "y", "t")
    assert c["period"].tolist() == [1, 2, 3]
    pd.testing.assert_frame_equal(d, before)


# ------------------------------------------------------------------------------------------ p', u'


def test_laney_p_prime_by_hand() -> None:
    x = np.array([10, 16, 8, 15, 6, 33, 9, 18.0])
    n = np.array([100, 120, 90, 110, 100, 150, 95, 130.0])
    d = pd.DataFrame({"m": range(8), "x": x, "n": n})
    pbar = x.sum() / n.sum()
    s = np.sqrt(pbar * (1 - pbar) / n)
    z = (x / n - pbar) / s
    sz = np.mean(np.abs(np.diff(z))) / 1.128
    c = p_chart(d, "x", "n", "m")
    assert c.sigma_z == pytest.approx(sz)
    np.testing.assert_allclose(c["upl"], np.minimum(pbar + 3 * s * sz, 1))
    np.testing.assert_allclose(c["lpl"], np.maximum(pbar - 3 * s * sz, 0))
    np.testing.assert_allclose(c["upper_near"], pbar + 2 * s * sz)
    plain = p_chart(d, "x", "n", "m", laney=False)
    np.testing.assert_allclose(plain["upl"], pbar + 3 * s)
    assert plain.chart_type == "p" and c.chart_type == "p_prime"
    assert plain.sigma_z == pytest.approx(sz)  # reported as the diagnostic either way
    # 33/150 = 0.22 is beyond the plain p limit (0.2105) but (sigma_z > 1) inside the p' limit
    assert sz > 1
    assert plain["rule"].iloc[5] == "outside_limits" and c["rule"].iloc[5] is None


def test_u_prime_per_1000_by_hand() -> None:
    x = np.array([30, 42, 25, 51, 33, 28.0])
    n = np.array([10000, 10500, 9800, 10200, 10100, 9900.0])
    d = pd.DataFrame({"m": range(6), "x": x, "n": n})
    ubar = x.sum() / n.sum()
    s = np.sqrt(ubar / n)
    sz = np.mean(np.abs(np.diff((x / n - ubar) / s))) / 1.128
    c = u_chart(d, "x", "n", "m", per=1000)
    np.testing.assert_allclose(c["value"], 1000 * x / n)
    np.testing.assert_allclose(c["mean"], 1000 * ubar)
    np.testing.assert_allclose(c["lpl"], 1000 * np.maximum(ubar - 3 * s * sz, 0))
    np.testing.assert_allclose(c["upl"], 1000 * (ubar + 3 * s * sz))


def test_p_chart_bad_denominators() -> None:
    d = pd.DataFrame({"m": range(3), "x": [1, 5, 2], "n": [10, 4, 0]})
    with pytest.raises(SPCInputError, match=r"not so at periods \[1, 2\]"):
        p_chart(d, "x", "n", "m")


# ------------------------------------------------------------------------------------------ R reference


def test_xmr_against_independent_r_implementation() -> None:
    ref = pd.read_csv(R_DIR / "spc_reference_xmr.csv", keep_default_na=False)
    direction = {1: "increase", -1: "decrease", 0: "neutral"}
    n_checked = 0
    for (series, rules), r in ref.groupby(["series", "rules"], sort=False):
        d = pd.DataFrame({"t": r["t"].to_numpy(), "y": r["y"].to_numpy(dtype=float)})
        rebase = None if r["rebase_at"].iloc[0] == "NA" else [int(r["rebase_at"].iloc[0])]
        c = xmr(d, "y", "t", improvement=direction[int(r["improvement"].iloc[0])], rebase=rebase, rules=rules)
        np.testing.assert_allclose(c["mean"], r["mean"].to_numpy(dtype=float), rtol=1e-12)
        np.testing.assert_allclose(c["upl"], r["upl"].to_numpy(dtype=float), rtol=1e-12)
        np.testing.assert_allclose(c["lpl"], r["lpl"].to_numpy(dtype=float), rtol=1e-12)
        assert c["point_type"].tolist() == r["point_type"].tolist(), (series, rules)
        assert c["rule"].fillna("").tolist() == r["rule"].tolist(), (series, rules)
        n_checked += len(r)
    assert n_checked == len(ref) and ref["rule"].isin(["trend", "two_in_three", "outside_limits"]).any()


def test_laney_against_r() -> None:
    ref = pd.read_csv(R_DIR / "spc_reference_laney.csv")
    for (_, kind), r in ref.groupby(["series", "kind"]):
        fn = p_chart if kind == "p" else u_chart
        c = fn(r, "x", "n", "t")
        plain = fn(r, "x", "n", "t", laney=False)
        assert c.sigma_z == pytest.approx(r["sigma_z"].iloc[0], rel=1e-12)
        np.testing.assert_allclose(c["upl"], r["upl_laney"], rtol=1e-12)
        np.testing.assert_allclose(c["lpl"], r["lpl_laney"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(plain["upl"], r["upl_plain"], rtol=1e-12)
        np.testing.assert_allclose(plain["lpl"], r["lpl_plain"], rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------------------ board, plots


def test_board_pack_and_plots() -> None:
    d = pd.DataFrame({"t": range(16), "y": [5.0, 6.0] * 7 + [9.0, 9.5]})
    charts = {
        ("North", "ED attendances"): xmr(d, "y", "t", target=9.0),
        ("South", "ED attendances"): xmr(d.iloc[:10], "y", "t", improvement="decrease"),
    }
    table = board_pack(charts)
    assert table[["site", "outcome"]].values.tolist() == [
        ["North", "ED attendances"],
        ["South", "ED attendances"],
    ]
    first = table.iloc[0]
    assert first["latest_period"] == 15 and first["latest_value"] == 9.5
    assert first["rule"] == "outside_limits" and first["variation"] == "improvement_high"
    assert first["n_points"] == 16 and not first["trial_limits"]
    assert table.iloc[1]["trial_limits"] and table.iloc[1]["assurance"] is None
    with pytest.raises(SPCInputError, match="mix"):
        board_pack(
            {"a": charts[("North", "ED attendances")], ("b", "c"): charts[("North", "ED attendances")]}
        )
    ax = plot_spc(charts[("North", "ED attendances")], title="ED attendances, North", ylabel="attendances")
    assert ax.get_ylabel() == "attendances"
    assert len(ax.child_axes) == 2  # variation and assurance icons
    ax = plot_board_pack(charts)
    assert len(ax.child_axes) == 4
    plt.close("all")
