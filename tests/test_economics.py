"""evaltoolkit.economics: unit costs, inflation, money from draws, beds-equivalent, tornado.

Expected values are typed in from the published tables (NCC 2023/24 and 2024/25 as listed in the
2024 Unit Costs manual and the national schedule; the NHS Cost Inflation Index of the 2024 and 2025
manuals) or calculated by hand in the comments; none comes from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import yaml

from evaltoolkit.economics import (
    MONEY_COLUMNS,
    TORNADO_COLUMNS,
    UNIT_COST_COLUMNS,
    ChangeDraws,
    EconomicsInputError,
    beds_equivalent,
    change_draws,
    combine_draws,
    cost_draws,
    cost_of_change,
    draw_range,
    inflate,
    inflation_index,
    net_cost,
    plot_tornado,
    return_per_pound,
    tornado,
    unit_cost,
    unit_cost_range,
    unit_costs,
)
from evaltoolkit.errors import EvalToolkitError

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]

# The NCC table of the spec, typed in: key -> (2023/24, 2024/25, 2024/25 verified)
NCC = {
    "ed_attendance": (273, 280.17, True),
    "mh_acute_adult_bed_day": (575, 719.10, True),
    "mh_acute_older_adult_bed_day": (630, 787.59, True),
    "mh_picu_adult_bed_day": (611, 1265.89, True),
    "pd_admitted_adult_bed_day": (1111, 885.01, True),
    "pd_service_contact": (292, 310.84, True),
    "crisis_home_treatment_contact": (338, 356.83, True),
    "psychiatric_liaison_contact": (355, 346.01, True),
    "talking_therapies_contact": (163, 169, False),
}
UNITS = {"ed_attendance": "attendance", "talking_therapies_contact": "contact"}


# -- the table -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(NCC))
def test_ncc_figures_equal_the_published_tables(key):
    old, new, new_verified = NCC[key]
    a = unit_cost(key, "2023/24")
    b = unit_cost(key, "2024/25", allow_unverified=True)
    assert a.value == old and b.value == pytest.approx(new, abs=1e-9)
    assert a.currency == b.currency == "GBP"
    assert a.price_year == "2023/24" and b.price_year == "2024/25"
    assert a.verified is True and b.verified is new_verified
    assert "10.22024/UniKent/01.02.109563" in a.source  # Jones et al. (2025), the 2024 manual
    assert "2024/25" in b.source
    unit = UNITS.get(key, "bed_day" if key.endswith("bed_day") else "contact")
    assert a.unit == b.unit == unit


def test_table_is_tidy_and_keeps_the_older_figures():
    t = unit_costs()
    assert tuple(t.columns) == UNIT_COST_COLUMNS
    assert not t.duplicated(["key", "price_year"]).any()
    assert t["verified"].dtype == bool
    assert set(t["currency"]) == {"GBP", "AUD"}
    rows = t.set_index(["key", "price_year"])
    # older figures, typed from the domain table, with their flags
    assert rows.loc[("nhs_non_elective_bed_day", "2020/21"), "value"] == 901
    assert rows.loc[("ed_attendance_not_admitted", "2013/14"), "value"] == 114
    assert not rows.loc[("type1_ae_attendance", "2022/23"), "verified"]
    assert rows.loc[("au_mh_patient_day", "2015/16"), ["value", "currency"]].tolist() == [1074, "AUD"]
    assert not rows.loc[("au_ed_presentation", "2024/25"), "verified"]
    copy = unit_costs()
    copy.loc[0, "value"] = -1  # a copy: the shipped table is not changed
    assert unit_costs().loc[0, "value"] > 0


def test_unverified_figures_are_refused_unless_allowed():
    with pytest.raises(
        EconomicsInputError, match=r"talking_therapies_contact.*not verified.*allow_unverified"
    ):
        unit_cost("talking_therapies_contact", "2024/25")
    assert unit_cost("talking_therapies_contact", "2024/25", allow_unverified=True).value == 169
    with pytest.raises(EconomicsInputError, match="not verified"):
        unit_cost("au_ed_presentation", "2024/25")


def test_lookup_errors_name_what_exists():
    with pytest.raises(EconomicsInputError, match=r"'bed_day' is not in the table"):
        unit_cost("bed_day", "2024/25")
    with pytest.raises(
        EconomicsInputError, match=r"no figure for 2022/23; years in the table: 2023/24, 2024/25"
    ):
        unit_cost("ed_attendance", "2022/23")
    with pytest.raises(EconomicsInputError, match="not a financial year"):
        unit_cost("ed_attendance", "2024/26")
    with pytest.raises(EconomicsInputError, match="not a price year"):
        unit_cost("ed_attendance", "last year")
    assert isinstance(EconomicsInputError("x"), EvalToolkitError)


@pytest.mark.parametrize("spelling", ["2024/25", "2024-25", "2024–25", "2024/2025"])
def test_year_spellings(spelling):
    assert unit_cost("mh_acute_adult_bed_day", spelling).value == pytest.approx(719.10)


def test_range_of_two_years_is_ordered():
    lo, hi = unit_cost_range("pd_admitted_adult_bed_day", ("2023/24", "2024/25"))
    assert (lo.value, hi.value) == (pytest.approx(885.01), 1111)  # the later year is the lower here
    with pytest.raises(EconomicsInputError, match="two price years"):
        unit_cost_range("ed_attendance", ("2023/24",))


# -- inflation -----------------------------------------------------------------------------------------
def test_inflation_chains_the_annual_changes_of_one_edition():
    # 2024 manual: 2020/21 2.49%, 2021/22 2.58%, 2022/23 7.32%, 2023/24 4.31% (provisional)
    assert inflate(100, "2019/20", "2023/24", edition=2024) == pytest.approx(
        100 * 1.0249 * 1.0258 * 1.0732 * 1.0431, rel=1e-12
    )
    # 2025 manual revises 2023/24 to 2.47%
    assert inflate(100, "2022/23", "2023/24", edition=2025) == pytest.approx(102.47)
    assert inflate(100, "2022/23", "2023/24", edition=2024) == pytest.approx(104.31)
    # deflating divides
    assert inflate(100, "2023/24", "2021/22", edition=2025) == pytest.approx(100 / (1.0732 * 1.0247))
    assert inflate(250, "2021/22", "2021/22") == 250


def test_unverified_index_values_are_refused_unless_allowed():
    # 2024/25 4.02% (2025 manual, provisional) is not verified
    with pytest.raises(EconomicsInputError, match=r"2024/25 \(4.02%\) is not verified"):
        inflate(100, "2023/24", "2024/25", edition=2025)
    assert inflate(100, "2022/23", "2024/25", edition=2025, allow_unverified=True) == pytest.approx(
        100 * 1.0247 * 1.0402
    )
    v = unit_cost("ed_attendance", "2023/24", inflate_to="2024/25", index_edition=2025, allow_unverified=True)
    assert v.value == pytest.approx(273 * 1.0402)
    assert v.price_year == "2024/25" and v.base_value == 273 and v.base_price_year == "2023/24"
    assert v.index_edition == 2025 and v.verified is False  # the index value is not verified
    assert "inflated from £273 at 2023/24 prices" in v.source
    w = unit_cost("ed_attendance", "2024/25", inflate_to="2022/23", index_edition=2025, allow_unverified=True)
    assert w.value == pytest.approx(280.17 / (1.0247 * 1.0402))


def test_inflation_errors():
    with pytest.raises(EconomicsInputError, match=r"outside the 2024 manual's NHS Cost Inflation Index"):
        inflate(100, "2023/24", "2024/25", edition=2024)
    with pytest.raises(EconomicsInputError, match="calendar year"):
        inflate(100, "2024", "2024/25")
    with pytest.raises(EconomicsInputError, match="editions: 2024, 2025"):
        inflate(100, "2022/23", "2023/24", edition=2023)
    with pytest.raises(EconomicsInputError, match="GBP, not AUD"):
        unit_cost("au_mh_patient_day", "2015/16", inflate_to="2023/24")


def test_inflation_index_table():
    t = inflation_index(2024)
    assert list(t["price_year"]) == ["2018/19", "2019/20", "2020/21", "2021/22", "2022/23", "2023/24"]
    assert t["index"].iloc[0] == 100
    assert t["index"].iloc[-1] == pytest.approx(100 * 1.0214 * 1.0249 * 1.0258 * 1.0732 * 1.0431)
    assert t["provisional"].tolist() == [False] * 5 + [True]
    t25 = inflation_index()  # the latest edition
    assert t25["edition"].unique().tolist() == [2025]
    assert t25.set_index("price_year").loc["2024/25", "percent_change"] == 4.02


# -- money from draws ----------------------------------------------------------------------------------
# 10,001 evenly spaced changes from -700 to -100 bed-days: the 2.5% and 97.5% points are exactly -685 and
# -115 (numpy's linear quantile: -700 + 250 × 0.06 and -700 + 9750 × 0.06).
FIXED = np.linspace(-700, -100, 10_001)


def _row(t: pd.DataFrame, term: str) -> pd.Series:
    return t.set_index("term").loc[term]


def test_cost_net_cost_and_return_on_fixed_draws():
    out = return_per_pound(FIXED, 600.0, 150_000.0, estimate=-400.0)
    assert list(out.columns) == list(MONEY_COLUMNS)
    assert out["term"].tolist() == ["activity_change", "cost", "service_cost", "net_cost", "return_per_pound"]
    act, cost, svc, net, roi = (_row(out, t) for t in out["term"])
    assert (act["ci_lower"], act["ci_upper"]) == (pytest.approx(-685), pytest.approx(-115))
    # cost = change × £600: -400 × 600 = -240,000; limits -685 × 600, -115 × 600
    assert cost["estimate"] == pytest.approx(-240_000)
    assert (cost["ci_lower"], cost["ci_upper"]) == (pytest.approx(-411_000), pytest.approx(-69_000))
    assert svc["estimate"] == 150_000 and np.isnan(svc["p_value"])
    # net = 150,000 + cost: -90,000 (-261,000 to 81,000): the interval includes break-even
    assert net["estimate"] == pytest.approx(-90_000)
    assert (net["ci_lower"], net["ci_upper"]) == (pytest.approx(-261_000), pytest.approx(81_000))
    # return = 240,000 / 150,000 = 1.6 (69,000/150,000 = 0.46 to 411,000/150,000 = 2.74)
    assert roi["estimate"] == pytest.approx(1.6)
    assert (roi["ci_lower"], roi["ci_upper"]) == (pytest.approx(0.46), pytest.approx(2.74))
    assert net_cost(FIXED, 600.0, 150_000.0, estimate=-400.0).equals(out.iloc[:4])
    assert cost_of_change(FIXED, 600.0, estimate=-400.0).equals(out.iloc[:2])


def test_a_unit_cost_range_is_drawn_uniformly_and_seeded():
    lo, hi = unit_cost_range("mh_acute_adult_bed_day", ("2023/24", "2024/25"))
    out = cost_of_change(FIXED, (lo, hi), estimate=-400.0, seed=3)
    cost = _row(out, "cost")
    assert cost["estimate"] == pytest.approx(-400 * (575 + 719.10) / 2)  # the middle of the range
    assert cost["unit"] == "GBP" and cost["price_year"] == "2023/24 and 2024/25"
    assert "drawn uniformly" in cost["method"] and "£575 (2023/24) to £719.10 (2024/25)" in cost["method"]
    d = cost_draws(FIXED, (lo, hi), seed=3)
    u = d / FIXED
    assert u.min() >= 575 and u.max() <= 719.10
    assert u.mean() == pytest.approx(647.05, abs=1.5)  # uniform mean; SE 41.6/sqrt(10,001) = 0.42
    assert np.quantile(d, 0.025) == pytest.approx(cost["ci_lower"])
    # the range is wider than either year alone
    assert (
        cost["ci_lower"]
        < _row(cost_of_change(FIXED, lo.value, estimate=-400.0), "cost")["ci_lower"] / 575 * 647.05
    )
    # determinism
    assert cost_of_change(FIXED, (575.0, 719.1), seed=3).equals(cost_of_change(FIXED, (575.0, 719.1), seed=3))
    assert not cost_of_change(FIXED, (575.0, 719.1), seed=3).equals(
        cost_of_change(FIXED, (575.0, 719.1), seed=4)
    )
    assert np.array_equal(draw_range(1, 2, 50, seed=9), draw_range(1, 2, 50, seed=9))
    assert np.all(draw_range(5, 5, 4) == 5)


def test_money_agrees_with_the_activity_change_in_every_draw():
    rng = np.random.default_rng(11)
    act = rng.normal(-50, 40, 20_000)  # crosses zero: the interval includes no change
    out = return_per_pound(act, (575.0, 719.1), (80_000.0, 120_000.0), estimate=-50.0, seed=5)
    c = cost_draws(act, (575.0, 719.1), seed=5)
    assert np.array_equal(np.sign(c), np.sign(act))
    a, cost, roi = _row(out, "activity_change"), _row(out, "cost"), _row(out, "return_per_pound")
    excludes = [(r["ci_lower"] > 0) or (r["ci_upper"] < 0) for r in (a, cost, roi)]
    assert excludes == [False, False, False]
    assert a["p_value"] == cost["p_value"] == roi["p_value"]  # the same share of draws below zero
    assert np.sign(a["estimate"]) == np.sign(cost["estimate"]) == -np.sign(roi["estimate"])
    clear = rng.normal(-150, 40, 20_000)  # excludes no change
    out2 = cost_of_change(clear, (575.0, 719.1), estimate=-150.0, seed=5)
    assert (out2["ci_upper"] < 0).all()


def test_costs_come_from_the_same_draws_as_the_its_effects():
    from evaltoolkit.its import fit_its
    from evaltoolkit.its.derived import derived_effects

    rng = np.random.default_rng(7)
    t = np.arange(1, 37)
    y = rng.poisson(np.exp(4 + 0.01 * t - 0.3 * (t >= 19)))
    res = fit_its(
        pd.DataFrame({"t": t, "y": y}),
        outcome="y",
        time="t",
        interruptions=19,
        family="poisson",
        method="ols",
    )
    ch = change_draws(res, seed=1, n_draws=2_000)
    assert isinstance(ch, ChangeDraws) and ch.n_draws == 2_000 and ch.conf_level == 0.95
    ours = _row(cost_of_change(ch, 250.0), "cost")
    theirs = derived_effects(res, unit_cost=250.0, seed=1, n_draws=2_000).set_index("term").loc["cost"]
    for col in ("estimate", "ci_lower", "ci_upper", "p_value", "std_error"):
        assert ours[col] == pytest.approx(theirs[col], rel=1e-12)
    with pytest.raises(EconomicsInputError, match="no fits"):
        change_draws([])


def test_bad_money_inputs_are_refused():
    with pytest.raises(EconomicsInputError, match="not one number"):
        cost_of_change(-400.0, 600.0)
    with pytest.raises(EconomicsInputError, match="at least 100"):
        cost_of_change(np.ones(10), 600.0)
    bad = FIXED.copy()
    bad[[3, 8]] = np.nan
    with pytest.raises(EconomicsInputError, match=r"2 values are not finite \(positions 3, 8\)"):
        cost_of_change(bad, 600.0)
    with pytest.raises(EconomicsInputError, match="unit_cost must be a positive"):
        cost_of_change(FIXED, -600.0)
    with pytest.raises(EconomicsInputError, match="not 3 values"):
        cost_of_change(FIXED, (1.0, 2.0, 3.0))
    with pytest.raises(EconomicsInputError, match="GBP and AUD"):
        cost_of_change(FIXED, (unit_cost("ed_attendance", "2023/24"), unit_cost("au_nep_nwau", "2024/25")))
    with pytest.raises(EconomicsInputError, match="service_cost must be a number"):
        net_cost(FIXED, 600.0, "a lot")
    with pytest.raises(EconomicsInputError, match="value must be a number, not str"):
        inflate("100", "2022/23", "2023/24")
    with pytest.raises(EconomicsInputError, match="low must be a number"):
        draw_range("a", 2, 10)
    with pytest.raises(EconomicsInputError, match="n_draws must be a whole number"):
        draw_range(1, 2, 10.5)
    with pytest.raises(EconomicsInputError, match="effect_limits must be a number"):
        tornado(-400.0, 600.0, effect_limits=("low", "high"))
    with pytest.raises(EconomicsInputError, match="horizon must be a number"):
        tornado(-400.0, 600.0, effect_limits=(-1.0, 1.0), horizon=("a", 3), base_horizon=24)
    assert FIXED[0] == -700  # inputs are not changed


# -- beds ----------------------------------------------------------------------------------------------
def test_beds_equivalent_by_hand():
    one = beds_equivalent(-1000.0, days=365)
    assert one["estimate"].iloc[0] == pytest.approx(-1000 / (365 * 0.85))  # 3.22 beds
    assert one["label"].iloc[0] == "capacity released" and one["unit"].iloc[0] == "beds"
    assert beds_equivalent(-730.0, days=730, occupancy=1.0)["estimate"].iloc[0] == pytest.approx(-1.0)
    cash = beds_equivalent(-1000.0, days=365, removed=True)
    assert cash["label"].iloc[0] == "cash released"
    assert beds_equivalent(500.0, days=365)["label"].iloc[0] == "capacity used"
    d = beds_equivalent(FIXED, days=730, occupancy=0.9, estimate=-400.0)
    assert d["estimate"].iloc[0] == pytest.approx(-400 / (730 * 0.9))
    assert d["ci_lower"].iloc[0] == pytest.approx(-685 / 657) and d["ci_upper"].iloc[0] == pytest.approx(
        -115 / 657
    )
    with pytest.raises(EconomicsInputError, match="occupancy is a proportion"):
        beds_equivalent(-1000.0, days=365, occupancy=85)
    with pytest.raises(EconomicsInputError, match="days must be a positive"):
        beds_equivalent(-1000.0, days=0)


# -- tornado -------------------------------------------------------------------------------------------
def test_tornado_by_hand():
    t = tornado(
        -400.0,
        (575.0, 719.1),
        service_cost=(120_000.0, 180_000.0),
        effect_limits=(-700.0, -100.0),
        horizon=(12, 36),
        base_horizon=24,
    )
    assert list(t.columns) == list(TORNADO_COLUMNS)
    rows = t.set_index("parameter")
    mid = (575 + 719.1) / 2  # 647.05
    base = 150_000 - 400 * mid  # -108,820
    assert rows["base"].tolist() == pytest.approx([base] * 4) and (rows["outcome"] == "net_cost").all()
    assert rows.loc["unit_cost", ["outcome_low", "outcome_high"]].tolist() == pytest.approx(
        [150_000 - 400 * 575, 150_000 - 400 * 719.1]
    )
    assert rows.loc["activity_change", ["outcome_low", "outcome_high"]].tolist() == pytest.approx(
        [150_000 - 700 * mid, 150_000 - 100 * mid]
    )
    assert rows.loc["service_cost", ["outcome_low", "outcome_high"]].tolist() == pytest.approx(
        [120_000 - 400 * mid, 180_000 - 400 * mid]
    )
    # 12 and 36 months: the change and the service cost scaled by 1/2 and 3/2
    assert rows.loc["horizon", ["outcome_low", "outcome_high"]].tolist() == pytest.approx(
        [75_000 - 200 * mid, 225_000 - 600 * mid]
    )
    assert t["swing"].is_monotonic_decreasing and t["parameter"].iloc[0] == "activity_change"
    given = tornado(
        -400.0,
        600.0,
        effect_limits=(-700.0, -100.0),
        horizon=(12, 36),
        base_horizon=24,
        horizon_activity=(-150.0, -700.0),
    ).set_index("parameter")
    assert "unit_cost" not in given.index  # a single value is not varied
    assert given.loc["horizon", ["outcome_low", "outcome_high"]].tolist() == pytest.approx(
        [-90_000, -420_000]
    )
    roi = tornado(FIXED, 600.0, service_cost=150_000.0, outcome="return_per_pound").set_index("parameter")
    assert roi.loc["activity_change", ["input_low", "input_high"]].tolist() == pytest.approx([-685, -115])
    assert roi.loc["activity_change", ["outcome_low", "outcome_high"]].tolist() == pytest.approx([2.74, 0.46])


def test_tornado_errors_and_plot():
    with pytest.raises(EconomicsInputError, match="effect_limits"):
        tornado(-400.0, 600.0)
    with pytest.raises(EconomicsInputError, match="needs service_cost"):
        tornado(-400.0, 600.0, effect_limits=(-1.0, 1.0), outcome="net_cost")
    with pytest.raises(EconomicsInputError, match="base_horizon"):
        tornado(-400.0, 600.0, effect_limits=(-1.0, 1.0), horizon=(12, 36))
    t = tornado(-400.0, (575.0, 719.1), service_cost=150_000.0, effect_limits=(-700.0, -100.0))
    fig, ax = plt.subplots()
    assert plot_tornado(t, ax=ax) is ax
    assert len(ax.patches) == 2 * len(t)
    assert "net cost" in ax.get_xlabel()
    plt.close(fig)
    with pytest.raises(EconomicsInputError, match="lacks columns"):
        plot_tornado(pd.DataFrame({"x": [1]}))


def test_tornado_of_several_outcomes_by_hand():
    # ED attendances: -1,000 (limits -1,500 and -500) at £273 to £280.17; bed-days: -400 (limits -700 and
    # -100) at £575 to £719.10; service £120,000 to £180,000 over 24 months
    ed_mid, bd_mid = (273 + 280.17) / 2, (575 + 719.1) / 2  # 276.585 and 647.05
    t = tornado(
        {"ed": -1000.0, "bd": -400.0},
        {"ed": (273.0, 280.17), "bd": (575.0, 719.1)},
        service_cost=(120_000.0, 180_000.0),
        effect_limits={"ed": (-500.0, -1500.0), "bd": (-700.0, -100.0)},  # either order
        horizon=(12, 36),
        base_horizon=24,
        labels={"ed": "ED attendances", "bd": "bed-days"},
    )
    assert list(t.columns) == list(TORNADO_COLUMNS)
    base = 150_000 - 1000 * ed_mid - 400 * bd_mid  # 150,000 - 276,585 - 258,820 = -385,405
    assert base == pytest.approx(-385_405)
    assert t["base"].tolist() == pytest.approx([base] * 6) and (t["outcome"] == "net_cost").all()
    rows = t.set_index(["parameter", t["series"].fillna("")])
    expect = {
        ("activity_change", "ed"): (
            150_000 - 1500 * ed_mid - 400 * bd_mid,
            150_000 - 500 * ed_mid - 400 * bd_mid,
        ),
        ("activity_change", "bd"): (
            150_000 - 1000 * ed_mid - 700 * bd_mid,
            150_000 - 1000 * ed_mid - 100 * bd_mid,
        ),
        ("unit_cost", "ed"): (150_000 - 1000 * 273 - 400 * bd_mid, 150_000 - 1000 * 280.17 - 400 * bd_mid),
        ("unit_cost", "bd"): (150_000 - 1000 * ed_mid - 400 * 575, 150_000 - 1000 * ed_mid - 400 * 719.1),
        ("service_cost", ""): (base - 30_000, base + 30_000),
        ("horizon", ""): (base / 2, base * 1.5),  # every change and the service cost scaled by 1/2 and 3/2
    }
    for key, (lo, hi) in expect.items():
        assert rows.loc[key, ["outcome_low", "outcome_high"]].tolist() == pytest.approx([lo, hi]), key
    assert rows.loc[("activity_change", "ed"), "label"] == "ED attendances: effect at its confidence limits"
    assert rows.loc[("unit_cost", "bd"), "label"] == "bed-days: unit cost"
    assert t["swing"].is_monotonic_decreasing
    # one outcome in a mapping gives the single-outcome answer
    one = tornado(
        {"bd": -400.0}, {"bd": (575.0, 719.1)}, service_cost=150_000.0, effect_limits={"bd": (-700.0, -100.0)}
    )
    single = tornado(-400.0, (575.0, 719.1), service_cost=150_000.0, effect_limits=(-700.0, -100.0))
    cols = ["parameter", "outcome_low", "outcome_high", "swing"]
    assert one[cols].equals(single[cols]) and single["series"].isna().all() and (one["series"] == "bd").all()
    # draws give each outcome's percentile limits; horizon_activity per outcome
    t2 = tornado(
        {"a": FIXED, "b": FIXED / 2},
        {"a": 600.0, "b": 100.0},
        horizon=(12, 36),
        base_horizon=24,
        horizon_activity={"a": (-150.0, -700.0)},
    ).set_index(["parameter", "series"])
    assert t2.loc[("activity_change", "a"), ["input_low", "input_high"]].tolist() == pytest.approx(
        [-685, -115]
    )
    assert t2.loc[("activity_change", "b"), ["input_low", "input_high"]].tolist() == pytest.approx(
        [-342.5, -57.5]
    )
    # b scaled in proportion from its median (-200): -100 and -300 at 12 and 36 months
    h = t2.xs("horizon", level="parameter").iloc[0]
    assert [h["outcome_low"], h["outcome_high"]] == pytest.approx(
        [-150 * 600 - 100 * 100, -700 * 600 - 300 * 100]
    )
    with pytest.raises(EconomicsInputError, match="same names as activity"):
        tornado({"a": -1.0}, {"b": 1.0}, effect_limits={"a": (-2.0, 0.0)})
    with pytest.raises(EconomicsInputError, match="priced in AUD and GBP"):
        tornado(
            {"a": -1.0, "b": -1.0},
            {"a": unit_cost("ed_attendance", "2023/24"), "b": unit_cost("au_nep_nwau", "2024/25")},
            effect_limits={"a": (-2.0, 0.0), "b": (-2.0, 0.0)},
        )
    fig, ax = plt.subplots()
    assert len(plot_tornado(t, ax=ax).patches) == 2 * len(t)
    plt.close(fig)


def test_combine_draws_by_hand_and_against_simulation_truth():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([30.0, 10.0, 20.0])
    assert combine_draws([a, b]).tolist() == [31.0, 12.0, 23.0]  # position by position
    assert combine_draws([a, b], dependence="comonotone").tolist() == [11.0, 22.0, 33.0]  # by rank
    assert b.tolist() == [30.0, 10.0, 20.0]  # inputs not sorted in place
    # two normal outcomes: X ~ N(-400, 150), Y ~ N(-1000, 300). Independent: the sum is N(-1400, 335.41)
    # (sqrt(150² + 300²)); perfectly correlated: N(-1400, 450). 95% limits -1400 ± 1.959964 × SD:
    # independent -2057.4 and -742.6, comonotone -2282.0 and -518.0.
    rng = np.random.default_rng(20261206)
    x, y = rng.normal(-400, 150, 400_000), rng.normal(-1000, 300, 400_000)
    ind = np.quantile(combine_draws([x, y]), [0.025, 0.975])
    com = np.quantile(combine_draws([x, y], dependence="comonotone"), [0.025, 0.975])
    assert ind == pytest.approx([-2057.4, -742.6], abs=4)  # MC SE of a 2.5% quantile here is about 1.2
    assert com == pytest.approx([-2282.0, -518.0], abs=5)
    # comonotone quantiles add: each quantile of the sum is the sum of the outcomes' quantiles (exactly)
    for q in (0.025, 0.5, 0.975):
        assert np.quantile(combine_draws([x, y], dependence="comonotone"), q) == pytest.approx(
            np.quantile(x, q) + np.quantile(y, q), rel=1e-12
        )
    ch = ChangeDraws(-1.0, np.arange(200.0))
    assert combine_draws([ch, np.ones(200)]).tolist() == (np.arange(200.0) + 1).tolist()
    with pytest.raises(EconomicsInputError, match="same number of draws"):
        combine_draws([np.ones(3), np.ones(4)])
    with pytest.raises(EconomicsInputError, match="independent or comonotone"):
        combine_draws([a, b], dependence="correlated")
    with pytest.raises(EconomicsInputError, match="one set of draws per outcome"):
        combine_draws(a)
    with pytest.raises(EconomicsInputError, match=r"draws\[1\]: 1 values are not finite"):
        combine_draws([a, np.array([1.0, np.nan, 2.0])])


# -- protocols -----------------------------------------------------------------------------------------
def test_protocol_unit_costs_by_key_year_inflation_and_range():
    from evaltoolkit.protocol import BedsSpec, ServiceCost, UnitCost

    u = UnitCost(ncc="mh_acute_adult_bed_day", year="2024-25", range=["2023/24", "2024/25"])
    assert (u.value, u.currency, u.price_year, u.unit) == (pytest.approx(719.10), "GBP", "2024/25", "bed_day")
    assert u.verified is True and u.bounds == (575, pytest.approx(719.10))
    lo, hi = u.price()
    assert (lo.value, hi.value) == (575, pytest.approx(719.10))
    inf = UnitCost(
        ncc="mh_acute_adult_bed_day",
        year="2023/24",
        inflate_to="2024/25",
        index_edition=2025,
        allow_unverified=True,
        range=["2023/24", "2024/25"],
    )
    assert inf.value == pytest.approx(575 * 1.0402) and inf.price_year == "2024/25"
    assert inf.bounds == (pytest.approx(575 * 1.0402), pytest.approx(719.10)) and inf.verified is False
    own = UnitCost(
        value=1074, currency="AUD", price_year="2015–16", source="AIHW", unit="bed-day", range=[900, 1200]
    )
    assert own.verified is None and own.bounds == (900, 1200) and own.price()[1].value == 1200
    nzd = UnitCost(value=10, currency="NZD", price_year="2024", source="s", unit="contact")
    assert nzd.price().value == 10
    assert ServiceCost(amount=120_000, currency="GBP", price_year="2024/25").for_months(24) == 240_000
    assert (
        ServiceCost(amount=300_000, currency="GBP", price_year="2024/25", per="total").for_months(24)
        == 300_000
    )
    assert ServiceCost(amount=1, currency="GBP", price_year="2024/25", range=[90_000, 60_000]).for_months(
        6
    ) == (
        30_000,
        45_000,
    )
    assert BedsSpec().occupancy == 0.85 and BedsSpec().removed is False


def _project_air() -> dict:
    return yaml.safe_load((ROOT / "protocols" / "project_air.yaml").read_text(encoding="utf-8"))


def test_protocol_cost_mistakes_are_reported_with_their_paths():
    from evaltoolkit.protocol import validate_protocol

    raw = _project_air()
    raw["unit_costs"] = {
        "tt": {"ncc": "talking_therapies_contact", "year": "2024/25"},
        "nokey": {"ncc": "bed_dya", "year": "2024/25"},
        "both": {"ncc": "ed_attendance", "year": "2024/25", "value": 3},
        "aud": {
            "value": 1074,
            "currency": "AUD",
            "price_year": "2015/16",
            "source": "s",
            "unit": "u",
            "inflate_to": "2024/25",
        },
        "cur": {"value": 10, "currency": "pounds", "price_year": "2020/21", "source": "s", "unit": "u"},
        "mh_bed_day": {"ncc": "mh_acute_adult_bed_day", "year": "2024/25"},
        "ed_attendance": {"ncc": "ed_attendance", "year": "2024/25"},
    }
    found = {p.path: p.message for p in validate_protocol(raw, base_dir=ROOT / "protocols")}
    assert "not verified" in found["unit_costs.tt"] and "allow_unverified: true" in found["unit_costs.tt"]
    assert "'bed_dya' is not in the table" in found["unit_costs.nokey"]
    assert "filled in from the unit-cost table" in found["unit_costs.both"]
    assert "GBP, not AUD" in found["unit_costs.aud"]
    assert "ISO 4217" in found["unit_costs.cur.currency"]
    assert len(found) == 5
    raw = _project_air()
    raw["unit_costs"] = {
        "mh_bed_day": {"ncc": "mh_acute_adult_bed_day", "year": "2024/25"},
        "ed_attendance": {"ncc": "ed_attendance", "year": "2024/25"},
    }
    raw["service_cost"] = {"amount": 250_000, "currency": "AUD", "price_year": "2024/25"}
    raw["beds"] = {"occupancy": 0.9}
    problems = validate_protocol(raw, base_dir=ROOT / "protocols")
    assert [(p.path, p.message) for p in problems] == [
        ("service_cost.currency", f"is AUD but unit_costs.{k} is in GBP; a net cost needs one currency")
        for k in ("ed_attendance", "mh_bed_day")
    ]
    raw["service_cost"] = {"amount": 250_000, "currency": "GBP", "price_year": "2023-24"}
    found = {p.path: p.message for p in validate_protocol(raw, base_dir=ROOT / "protocols")}
    assert list(found) == ["service_cost.price_year"]
    raw["service_cost"]["price_year"] = "2024-25"  # the same year, spelt differently
    assert validate_protocol(raw, base_dir=ROOT / "protocols") == []


@pytest.mark.parametrize("name", ["change_programme", "leadership_programme"])
def test_ready_protocols_still_load(name):
    from evaltoolkit.protocol import load_protocol

    p = load_protocol(ROOT / "protocols" / f"{name}.yaml")
    for uc in p.unit_costs.values():
        assert uc.value > 0 and uc.currency and uc.price_year and uc.source and uc.unit
    # programmes judged on outcome measures: a programme cost for the people evaluated (cost per person),
    # labelled as an assumption of the synthetic example; no beds
    sc = p.service_cost
    assert sc is not None and sc.per == "total" and sc.currency == "GBP" and p.beds is None
    assert sc.source == "Assumption of the synthetic example, not a real budget"
    assert sc.range is not None and min(sc.range) < sc.amount < max(sc.range)


def test_project_air_is_priced_in_pounds_at_verified_ncc_prices():
    from evaltoolkit.protocol import load_protocol

    p = load_protocol(ROOT / "protocols" / "project_air.yaml")
    ed, bed = p.unit_costs["ed_attendance"], p.unit_costs["mh_bed_day"]
    # NCC, typed in from the published tables: ED £273 (2023/24) and £280.17 (2024/25); acute adult
    # mental-health bed-day £575 and £719.10
    assert (ed.value, ed.currency, ed.price_year) == (pytest.approx(280.17), "GBP", "2024/25")
    assert ed.bounds == (273, pytest.approx(280.17)) and ed.verified is True
    assert (bed.value, bed.currency, bed.price_year) == (pytest.approx(719.10), "GBP", "2024/25")
    assert bed.bounds == (575, pytest.approx(719.10)) and bed.verified is True
    assert all(u.currency == "GBP" and u.verified for u in p.unit_costs.values())
    sc = p.service_cost
    assert sc is not None and sc.currency == "GBP" and sc.price_year == "2024/25"
    assert sc.range is not None and min(sc.range) < sc.amount < max(sc.range)
    assert "assumption of the synthetic example" in sc.source.lower()  # labelled as an assumption
    assert p.beds is not None and p.beds.removed is False
    text = (ROOT / "protocols" / "project_air.yaml").read_text(encoding="utf-8")
    assert "AUD" not in text and "UNVERIFIED" not in text.upper().replace("ALLOW_UNVERIFIED", "")


# -- cost per person (programmes judged on outcome measures) ---------------------------------------------
def test_cost_per_person_by_hand_and_wilson_from_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    from evaltoolkit.economics import cost_per_person

    out = cost_per_person(60_000.0, started=300, improved=60, classified=150).set_index("term")
    # 60,000 / 300 people; 60,000 / 60 seen to improve; 60,000 / (300 × 60/150 = 120)
    assert out["estimate"].tolist() == pytest.approx([200.0, 1000.0, 500.0], rel=1e-12)
    assert np.isnan(out.loc["per_person_started", "ci_lower"])  # no cost range: no interval
    p_lo, p_hi = proportion_confint(60, 150, alpha=0.05, method="wilson")
    assert (p_lo, p_hi) == pytest.approx((0.325043, 0.479951), abs=1e-6)  # by hand, z = 1.959964
    row = out.loc["per_improvement_missing_alike"]
    assert row["ci_lower"] == pytest.approx(60_000 / (300 * p_hi), rel=1e-9)  # 416.71
    assert row["ci_upper"] == pytest.approx(60_000 / (300 * p_lo), rel=1e-9)  # 615.30
    assert row["ci_lower"] == pytest.approx(416.71, abs=0.01) and row["ci_upper"] == pytest.approx(
        615.30, abs=0.01
    )


def test_cost_per_person_range_and_edges():
    from evaltoolkit.economics import EconomicsInputError, cost_per_person

    out = cost_per_person((50_000.0, 70_000.0), started=300, improved=60, classified=150).set_index("term")
    assert out.loc["per_person_started", ["estimate", "ci_lower", "ci_upper"]].tolist() == pytest.approx(
        [200.0, 50_000 / 300, 70_000 / 300]
    )
    assert out.loc["per_observed_improvement", ["ci_lower", "ci_upper"]].tolist() == pytest.approx(
        [50_000 / 60, 70_000 / 60]
    )
    none = cost_per_person(10_000.0, started=40, improved=0, classified=20).set_index("term")
    assert none.loc["per_person_started", "estimate"] == 250.0
    assert none.loc[["per_observed_improvement", "per_improvement_missing_alike"], "estimate"].isna().all()
    with pytest.raises(EconomicsInputError, match="improved ≤ classified ≤ started"):
        cost_per_person(1.0, started=10, improved=5, classified=20)
    with pytest.raises(EconomicsInputError, match="cost must be positive"):
        cost_per_person(0.0, started=10, improved=5, classified=8)
