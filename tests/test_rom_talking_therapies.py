"""NHS Talking Therapies paired outcomes, against the spec's §4 definitions and §7 oracles.

The second method is a plain per-referral loop written from the definitions, and Wilson intervals
from the textbook formula.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.rom import RomInputError, talking_therapies_outcomes, talking_therapies_summary

COLS = {"phq9_pre": "p0", "phq9_post": "p1", "gad7_pre": "g0", "gad7_post": "g1"}


def outcomes(p0, p1, g0, g1, **kw):
    return talking_therapies_outcomes(pd.DataFrame({"p0": p0, "p1": p1, "g0": g0, "g1": g1}), **COLS, **kw)


def test_spec_section_7_oracles():
    # PHQ-9 9 / 10: not case / case (GAD-7 low); GAD-7 7 / 8 likewise (PHQ-9 low)
    o = outcomes([9, 10, 0, 0], [0, 0, 0, 0], [0, 0, 7, 8], [0, 0, 0, 0])
    assert o["case_pre"].tolist() == [False, True, False, True]
    # PHQ-9 change -6 / -5; GAD-7 change -4 / -3 (the other measure unchanged)
    o = outcomes([20, 20, 5, 5], [14, 15, 5, 5], [3, 3, 12, 12], [3, 3, 8, 9])
    assert o["reliable_improvement"].tolist() == [True, False, True, False]
    assert o["reliable_deterioration"].tolist() == [False, False, False, False]


def test_recovery_needs_caseness_at_start_and_no_caseness_on_either_measure_at_the_end():
    o = outcomes([12, 12, 12, 5, 12], [9, 10, 9, 3, 9], [5, 5, 9, 5, 8], [4, 4, 8, 4, 7])
    assert o["recovery"].tolist()[:3] == [True, False, False]  # PHQ 10 or GAD 8 at the end: still a case
    assert pd.isna(o["recovery"].iloc[3])  # not a case at the start: excluded from the denominator
    assert o["recovery"].iloc[4]
    assert o["reliable_recovery"].tolist()[:3] == [False, False, False]  # changes too small
    assert pd.isna(o["reliable_recovery"].iloc[3])


def test_mixed_change_is_neither_improvement_nor_deterioration():
    o = outcomes([20, 10], [14, 16], [10, 14], [14, 10], finished_treatment=None)
    assert o["mixed_change"].tolist() == [True, True]
    assert o["reliable_improvement"].tolist() == [False, False]
    assert o["reliable_deterioration"].tolist() == [False, False]


def naive(p0, p1, g0, g1, fin):
    rows = []
    for a, b, c, d, f in zip(p0, p1, g0, g1, fin, strict=True):
        if not f or any(math.isnan(v) for v in (a, b, c, d)):
            rows.append(None)
            continue
        case0 = a >= 10 or c >= 8
        case1 = b >= 10 or d >= 8
        pi, pd_ = a - b >= 6, b - a >= 6
        gi, gd = c - d >= 4, d - c >= 4
        imp = (pi and not gd) or (gi and not pd_)
        det = (pd_ and not gi) or (gd and not pi)
        rec = case0 and not case1
        rows.append(
            {
                "case_pre": case0,
                "recovery": rec if case0 else None,
                "reliable_improvement": imp,
                "reliable_deterioration": det,
                "reliable_recovery": (rec and imp) if case0 else None,
                "mixed_change": (pi and gd) or (gi and pd_),
            }
        )
    return rows


def test_outcomes_and_rates_match_a_naive_loop():
    rng = np.random.default_rng(11)
    n = 400
    p0 = rng.integers(0, 28, n).astype(float)
    p1 = np.clip(p0 + rng.integers(-12, 9, n), 0, 27).astype(float)
    g0 = rng.integers(0, 22, n).astype(float)
    g1 = np.clip(g0 + rng.integers(-9, 7, n), 0, 21).astype(float)
    p1[::41] = np.nan
    fin = rng.random(n) > 0.1
    data = pd.DataFrame({"p0": p0, "p1": p1, "g0": g0, "g1": g1, "fin": fin})
    before = data.copy()
    o = talking_therapies_outcomes(data, **COLS, finished_treatment="fin")
    pd.testing.assert_frame_equal(data, before)
    expected = naive(p0, p1, g0, g1, fin)
    assert o["eligible"].tolist() == [e is not None for e in expected]
    for col in ("case_pre", "recovery", "reliable_improvement", "reliable_deterioration", "reliable_recovery",
                "mixed_change"):  # fmt: skip
        got = [None if pd.isna(v) else bool(v) for v in o[col]]
        want = [None if e is None else e[col] for e in expected]
        assert got == want, col
    summary = talking_therapies_summary(o).set_index("indicator")
    eligible = [e for e in expected if e is not None]
    cases = [e for e in eligible if e["case_pre"]]
    checks = {
        "eligible": (len(eligible), n),
        "caseness_at_start": (len(cases), len(eligible)),
        "recovery": (sum(e["recovery"] for e in cases), len(cases)),
        "reliable_improvement": (sum(e["reliable_improvement"] for e in eligible), len(eligible)),
        "reliable_recovery": (sum(e["reliable_recovery"] for e in cases), len(cases)),
        "reliable_deterioration": (sum(e["reliable_deterioration"] for e in eligible), len(eligible)),
        "mixed_change": (sum(e["mixed_change"] for e in eligible), len(eligible)),
    }
    for name, (num, den) in checks.items():
        assert (summary.loc[name, "numerator"], summary.loc[name, "denominator"]) == (num, den), name
        assert summary.loc[name, "proportion"] == pytest.approx(num / den)
        z = 1.959963984540054
        p = num / den
        centre = (p + z * z / (2 * den)) / (1 + z * z / den)
        half = z / (1 + z * z / den) * math.sqrt(p * (1 - p) / den + z * z / (4 * den * den))
        assert summary.loc[name, "ci_lower"] == pytest.approx(centre - half)
        assert summary.loc[name, "ci_upper"] == pytest.approx(centre + half)
    assert (summary["method"] == "wilson").all() and (summary["conf_level"] == 0.95).all()


def test_thresholds_are_configurable():
    o = outcomes([12], [9], [9], [7], phq9_caseness=13, gad7_caseness=10)
    assert o["case_pre"].tolist() == [False]
    o = outcomes([20], [15], [5], [5], phq9_reliable_change=5)
    assert o["reliable_improvement"].tolist() == [True]


def test_bad_input_is_reported():
    with pytest.raises(
        RomInputError, match=r"PHQ-9 pre column 'p0': 1 values outside the score range 0–27 at rows 4"
    ):
        outcomes([10, 27, 28], [5, 5, 5], [5, 5, 5], [5, 5, 5])
    with pytest.raises(RomInputError, match=r"GAD-7 post column 'g1'.*non-numeric"):
        outcomes([10], [5], [5], ["five"])
    with pytest.raises(RomInputError, match="True/False only"):
        outcomes([10, 10], [5, 5], [5, 5], [5, 5], finished_treatment="p0")
    data = pd.DataFrame({"p0": [10], "p1": [5], "g0": [5], "g1": [5], "recovery": [1]})
    with pytest.raises(RomInputError, match="already has columns"):
        talking_therapies_outcomes(data, **COLS)
    with pytest.raises(RomInputError, match="talking_therapies_outcomes"):
        talking_therapies_summary(data)
    with pytest.raises(RomInputError, match="positive"):
        outcomes([10], [5], [5], [5], gad7_reliable_change=0)


def test_no_eligible_rows_gives_missing_rates():
    o = outcomes([np.nan], [5.0], [5.0], [5.0])
    s = talking_therapies_summary(o).set_index("indicator")
    assert s.loc["eligible", "numerator"] == 0 and np.isnan(s.loc["recovery", "proportion"])
