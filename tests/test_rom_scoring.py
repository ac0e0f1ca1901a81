"""Scoring of every bundled instrument, checked against facts typed in from the spec.

Oracle: ``shared/specs/rom_instruments.md`` (items, response ranges, reverse keys, subscales, score
methods, ranges, bands, missing-data rules, SWEMWBS conversion table, MHC-SF rule, §7 test oracles).
Expected scores are computed here by naive per-row arithmetic from those typed facts, never from the
package's own definitions. Where the spec leaves a convention open (UNVERIFIED), the test names the
convention the toolkit chose.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltoolkit.rom import (
    BUILTIN_KEYS,
    RomInputError,
    check_responses,
    data_quality,
    get_instrument,
    register_instrument,
    reverse_score,
    score,
    unregister_instrument,
)
from evaltoolkit.rom.scoring import _assign_bands

# ----------------------------------------------------------------------------- spec facts (typed in)
# key: (n_items, allowed keyed values, reverse-keyed items)
R03, R04, R15, R05, R14, R08 = range(0, 4), range(0, 5), range(1, 6), range(0, 6), range(1, 5), range(0, 9)
SPEC: dict[str, tuple[int, list[float], list[int]]] = {
    "phq9": (9, list(R03), []),
    "gad7": (7, list(R03), []),
    "k10": (10, list(R15), []),
    "k6": (6, list(R04), []),
    "dass21": (21, list(R03), []),
    "core_om": (34, list(R04), [3, 4, 7, 12, 19, 21, 31, 32]),
    "core10": (10, list(R04), [2, 3]),
    "bsl23": (23, list(R04), []),
    "wemwbs": (14, list(R15), []),
    "swemwbs": (7, list(R15), []),
    "reqol10": (10, list(R04), []),
    "honos": (12, list(R04), []),
    "wsas": (5, list(R08), []),
    "pss10": (10, list(R04), [4, 5, 7, 8]),
    "mhc_sf": (14, list(R05), []),
    "scs_sf": (12, list(R15), [1, 4, 8, 9, 11, 12]),
    "ffmq15": (15, list(R15), [3, 4, 7, 8, 9, 13, 14]),
    "cbi": (19, [0, 25, 50, 75, 100], [13]),
    "olbi": (16, list(R14), [2, 3, 4, 6, 8, 9, 11, 12]),
}

ALL = "all"
CORE_RISK = [6, 9, 16, 22, 24, 34]
# (key, scale): (items, method, multiplier, (min, max)) -- method: sum | mean | table
SCALES: dict[tuple[str, str], tuple[object, str, float, tuple[float, float]]] = {
    ("phq9", "total"): (ALL, "sum", 1, (0, 27)),
    ("gad7", "total"): (ALL, "sum", 1, (0, 21)),
    ("k10", "total"): (ALL, "sum", 1, (10, 50)),
    ("k6", "total"): (ALL, "sum", 1, (0, 24)),
    ("dass21", "total"): (ALL, "sum", 2, (0, 126)),
    ("dass21", "depression"): ([3, 5, 10, 13, 16, 17, 21], "sum", 2, (0, 42)),
    ("dass21", "anxiety"): ([2, 4, 7, 9, 15, 19, 20], "sum", 2, (0, 42)),
    ("dass21", "stress"): ([1, 6, 8, 11, 12, 14, 18], "sum", 2, (0, 42)),
    ("core_om", "total"): (ALL, "mean", 10, (0, 40)),
    ("core_om", "wellbeing"): ([4, 14, 17, 31], "mean", 10, (0, 40)),
    ("core_om", "problems"): ([2, 5, 8, 11, 13, 15, 18, 20, 23, 27, 28, 30], "mean", 10, (0, 40)),
    ("core_om", "functioning"): ([1, 3, 7, 10, 12, 19, 21, 25, 26, 29, 32, 33], "mean", 10, (0, 40)),
    ("core_om", "risk"): (CORE_RISK, "mean", 10, (0, 40)),
    ("core_om", "non_risk"): ([i for i in range(1, 35) if i not in CORE_RISK], "mean", 10, (0, 40)),
    ("core10", "total"): (ALL, "mean", 10, (0, 40)),
    ("bsl23", "total"): (ALL, "mean", 1, (0, 4)),
    ("wemwbs", "total"): (ALL, "sum", 1, (14, 70)),
    ("swemwbs", "total"): (ALL, "table", 1, (7, 35)),
    ("swemwbs", "raw"): (ALL, "sum", 1, (7, 35)),
    ("reqol10", "total"): (ALL, "sum", 1, (0, 40)),
    ("honos", "total"): (ALL, "sum", 1, (0, 48)),
    ("honos", "behaviour"): ([1, 2, 3], "sum", 1, (0, 12)),
    ("honos", "impairment"): ([4, 5], "sum", 1, (0, 8)),
    ("honos", "symptoms"): ([6, 7, 8], "sum", 1, (0, 12)),
    ("honos", "social"): ([9, 10, 11, 12], "sum", 1, (0, 16)),
    ("wsas", "total"): (ALL, "sum", 1, (0, 40)),
    ("pss10", "total"): (ALL, "sum", 1, (0, 40)),
    ("mhc_sf", "total"): (ALL, "sum", 1, (0, 70)),
    ("mhc_sf", "emotional_wellbeing"): ([1, 2, 3], "sum", 1, (0, 15)),
    ("mhc_sf", "social_wellbeing"): ([4, 5, 6, 7, 8], "sum", 1, (0, 25)),
    ("mhc_sf", "psychological_wellbeing"): ([9, 10, 11, 12, 13, 14], "sum", 1, (0, 30)),
    ("scs_sf", "total"): (ALL, "mean", 1, (1, 5)),
    ("scs_sf", "self_kindness"): ([2, 6], "mean", 1, (1, 5)),
    ("scs_sf", "self_judgment"): ([11, 12], "mean", 1, (1, 5)),
    ("scs_sf", "common_humanity"): ([5, 10], "mean", 1, (1, 5)),
    ("scs_sf", "isolation"): ([4, 8], "mean", 1, (1, 5)),
    ("scs_sf", "mindfulness"): ([3, 7], "mean", 1, (1, 5)),
    ("scs_sf", "over_identification"): ([1, 9], "mean", 1, (1, 5)),
    ("ffmq15", "total"): (ALL, "sum", 1, (15, 75)),
    ("ffmq15", "observing"): ([1, 6, 11], "sum", 1, (3, 15)),
    ("ffmq15", "describing"): ([2, 7, 12], "sum", 1, (3, 15)),
    ("ffmq15", "acting_with_awareness"): ([3, 8, 13], "sum", 1, (3, 15)),
    ("ffmq15", "non_judging"): ([4, 9, 14], "sum", 1, (3, 15)),
    ("ffmq15", "non_reactivity"): ([5, 10, 15], "sum", 1, (3, 15)),
    # CBI: the spec gives scale sizes 6/7/6; the standard item order 1-6 / 7-13 / 14-19 is assumed
    ("cbi", "personal"): ([1, 2, 3, 4, 5, 6], "mean", 1, (0, 100)),
    ("cbi", "work"): ([7, 8, 9, 10, 11, 12, 13], "mean", 1, (0, 100)),
    ("cbi", "client"): ([14, 15, 16, 17, 18, 19], "mean", 1, (0, 100)),
    ("olbi", "total"): (ALL, "sum", 1, (16, 64)),
    ("olbi", "exhaustion"): ([2, 4, 5, 8, 10, 12, 14, 16], "mean", 1, (1, 4)),
    ("olbi", "disengagement"): ([1, 3, 6, 7, 9, 11, 13, 15], "mean", 1, (1, 4)),
}

SWEMWBS_TABLE = {
    7: 7.00, 8: 9.51, 9: 11.25, 10: 12.40, 11: 13.33, 12: 14.08, 13: 14.75, 14: 15.32, 15: 15.84,
    16: 16.36, 17: 16.88, 18: 17.43, 19: 17.98, 20: 18.59, 21: 19.25, 22: 19.98, 23: 20.73, 24: 21.54,
    25: 22.35, 26: 23.21, 27: 24.11, 28: 25.03, 29: 26.02, 30: 27.03, 31: 28.13, 32: 29.31, 33: 30.70,
    34: 32.55, 35: 35.00,
}  # fmt: skip


def expected_band(key: str, scale: str, x: float) -> str | None:
    """Spec bands as plain if-chains (integer ranges; non-integer scores use the lower-bound convention)."""
    if key == "phq9":
        return (
            "minimal"
            if x < 5
            else "mild"
            if x < 10
            else "moderate"
            if x < 15
            else ("moderately severe" if x < 20 else "severe")
        )
    if key == "gad7":
        return "minimal" if x < 5 else "mild" if x < 10 else "moderate" if x < 15 else "severe"
    if key == "k10":  # ABS: 10-15 / 16-21 / 22-29 / 30-50
        return "low" if x <= 15 else "moderate" if x <= 21 else "high" if x <= 29 else "very high"
    if key == "k6":  # moderate 5-12, serious >= 13
        return "low distress" if x < 5 else "moderate distress" if x <= 12 else "serious distress"
    if key == "dass21":
        cuts = {"depression": (9, 13, 20, 27), "anxiety": (7, 9, 14, 19), "stress": (14, 18, 25, 33)}
        if scale not in cuts:
            return None
        labels = ["normal", "mild", "moderate", "severe", "extremely severe"]
        return labels[sum(x > c for c in cuts[scale])]
    if key == "core_om":  # Barkham 2006: 0-5, 6-9, 10-14, 15-19, 20-24, >= 25
        if scale != "total":
            return None
        labels = ["healthy", "low", "mild", "moderate", "moderate-to-severe", "severe"]
        return labels[sum(x >= c for c in (6, 10, 15, 20, 25))]
    if key == "core10":  # services scheme: <= 10, 11-14, 15-19, 20-24, >= 25
        labels = ["healthy/low", "mild", "moderate", "moderate-to-severe", "severe"]
        return labels[sum(x >= c for c in (11, 15, 20, 25))]
    if key == "bsl23":  # Kleindienst 2020, lower bounds inclusive (toolkit convention)
        labels = ["none or low", "mild", "moderate", "high", "very high", "extremely high"]
        return labels[sum(x >= c for c in (0.28, 1.07, 1.87, 2.67, 3.47))]
    if key == "wemwbs":  # <= 40 probable, 41-44 possible
        return (
            "probable depression"
            if x <= 40
            else "possible depression"
            if x <= 44
            else "above screening cut-offs"
        )
    if key == "swemwbs":  # metric <= 17 probable, 18-20 possible (read as 17 < x <= 20)
        if scale != "total":
            return None
        return (
            "probable depression"
            if x <= 17
            else "possible depression"
            if x <= 20
            else "above screening cut-offs"
        )
    if key == "reqol10":
        return "clinical range" if x < 24 else "general population range"
    if key == "wsas":  # < 10, 10-20, > 20
        return (
            "subclinical"
            if x < 10
            else "significant functional impairment"
            if x <= 20
            else ("moderately severe or worse")
        )
    if key == "cbi":
        return "high" if x >= 50 else "not high"
    if key == "olbi":
        if scale == "exhaustion":
            return "high" if x >= 2.25 else "not high"
        if scale == "disengagement":
            return "high" if x >= 2.10 else "not high"
    return None


def items_of(key: str, scale: str) -> list[int]:
    items = SCALES[(key, scale)][0]
    return list(range(1, SPEC[key][0] + 1)) if items == ALL else list(items)  # type: ignore[arg-type]


def scales_of(key: str) -> list[str]:
    return [s for (k, s) in SCALES if k == key]


def raw_from_keyed(key: str, keyed: np.ndarray) -> np.ndarray:
    """Turn keyed item values (n × k) into raw responses by undoing the spec's reverse keys."""
    _n, values, rev = SPEC[key]
    raw = keyed.astype(float).copy()
    for item in rev:
        raw[:, item - 1] = values[0] + values[-1] - raw[:, item - 1]
    return raw


def frame(key: str, raw: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(raw, columns=[f"{key}_{i}" for i in range(1, raw.shape[1] + 1)])


def keyed_rows_for_sums(key: str, scale: str) -> tuple[np.ndarray, list[float]]:
    """One keyed row per attainable keyed sum of ``scale`` (other items at the lowest value)."""
    n, values, _ = SPEC[key]
    lo, hi = values[0], values[-1]
    step = values[1] - values[0]
    items = items_of(key, scale)
    sums = np.arange(len(items) * lo, len(items) * hi + step, step)
    rows = np.full((len(sums), n), float(lo))
    for r, s in enumerate(sums):
        remaining = s - len(items) * lo
        for item in items:
            add = min(hi - lo, remaining)
            rows[r, item - 1] = lo + add
            remaining -= add
    return rows, [float(s) for s in sums]


def expected_value(key: str, scale: str, keyed_sum: float, n_answered: int, n_items: int) -> float:
    _items, method, mult, _ = SCALES[(key, scale)]
    if method == "table":
        return SWEMWBS_TABLE[round(keyed_sum)]
    if method == "mean":
        return keyed_sum / n_answered * mult
    return keyed_sum / n_answered * n_items * mult


# ----------------------------------------------------------------------------- registry coverage
def test_every_bundled_instrument_is_covered_by_these_spec_tables():
    assert set(BUILTIN_KEYS) == set(SPEC)
    for key in BUILTIN_KEYS:
        inst = get_instrument(key)
        assert set(inst.scales) == set(scales_of(key)), key


# ----------------------------------------------------------------------------- reverse keys
@pytest.mark.parametrize("key", BUILTIN_KEYS)
def test_reverse_keys_item_by_item(key):
    """Raising one raw item from lowest to highest lowers the scale score exactly when it is reverse-keyed."""
    n, values, rev = SPEC[key]
    lo, hi = values[0], values[-1]
    base = np.full((1, n), float(lo))
    rows = np.repeat(base, n + 1, axis=0)
    for i in range(n):
        rows[i + 1, i] = hi
    out = score(frame(key, rows), key, prorate=False)
    for i in range(1, n + 1):
        scale = next(s for s in scales_of(key) if i in items_of(key, s))
        diff = out[scale].iloc[i] - out[scale].iloc[0]
        if i in rev:
            assert diff < 0, (key, i, diff)
        else:
            assert diff > 0, (key, i, diff)


def test_spec_oracles_for_reversed_items_all_lowest_response():
    def total(key, value, col="total"):
        n = SPEC[key][0]
        return score(frame(key, np.full((1, n), float(value))), key)[col].iloc[0]

    assert total("pss10", 0) == 16  # items 4, 5, 7, 8 reversed to 4 (spec §7)
    assert total("scs_sf", 1) == pytest.approx((6 * 1 + 6 * 5) / 12)  # = 3.0 (spec §7)
    assert total("olbi", 1) == 8 * 1 + 8 * 4  # = 40 (spec §7)
    assert total("core10", 0) == 8  # items 2 and 3 scored 4 each
    assert total("core_om", 0) == pytest.approx(10 * 8 * 4 / 34)  # item 30 is NOT reversed
    assert total("ffmq15", 1) == 8 * 1 + 7 * 5
    assert total("cbi", 0, "work") == pytest.approx(100 / 7)


def test_core10_item_2_most_or_all_of_the_time_scores_zero():
    raw = np.zeros((1, 10))
    raw[0, 1] = 4  # item 2 raw "most or all of the time"
    raw[0, 2] = 4  # item 3 likewise: both reversed to 0 (spec §7)
    assert score(frame("core10", raw), "core10")["total"].iloc[0] == 0


def test_core_om_item_30_not_reversed_unlike_awell_score():
    raw = np.zeros((1, 34))
    for item in SPEC["core_om"][2]:
        raw[0, item - 1] = 4  # every reversed item at 4 -> keyed 0
    raw[0, 29] = 4  # item 30 is negatively worded: counts as 4
    out = score(frame("core_om", raw), "core_om")
    assert out["total"].iloc[0] == pytest.approx(10 * 4 / 34)
    assert out["problems"].iloc[0] == pytest.approx(10 * 4 / 12)


# ----------------------------------------------------------------------------- subscales
@pytest.mark.parametrize("key", [k for k in BUILTIN_KEYS if len(scales_of(k)) > 1])
def test_subscales_take_exactly_their_items(key):
    """Moving one item changes exactly the scales that list it in the spec."""
    n, values, _ = SPEC[key]
    base_keyed = np.full((1, n), float(values[1]))
    rows = np.repeat(base_keyed, n + 1, axis=0)
    for i in range(n):
        rows[i + 1, i] = values[-1]
    out = score(frame(key, raw_from_keyed(key, rows)), key)
    for i in range(1, n + 1):
        changed = {s for s in scales_of(key) if out[s].iloc[i] != out[s].iloc[0]}
        expected = {s for s in scales_of(key) if i in items_of(key, s)}
        assert changed == expected, (key, i)


@pytest.mark.parametrize("key_scale", list(SCALES), ids=lambda ks: f"{ks[0]}-{ks[1]}")
def test_every_attainable_score_and_band(key_scale):
    """Every attainable complete-response score of every scale, with its band (covers every band boundary)."""
    key, scale = key_scale
    keyed, sums = keyed_rows_for_sums(key, scale)
    out = score(frame(key, raw_from_keyed(key, keyed)), key)
    k = len(items_of(key, scale))
    expected = [expected_value(key, scale, s, k, k) for s in sums]
    np.testing.assert_allclose(out[scale].to_numpy(dtype=float), expected, rtol=0, atol=1e-9)
    lo, hi = SCALES[key_scale][3]
    assert min(expected) == pytest.approx(lo) and max(expected) == pytest.approx(hi)
    band_col = "band" if scale == "total" else f"{scale}_band"
    want = [expected_band(key, scale, v) for v in expected]
    if key == "mhc_sf" or all(w is None for w in want):
        assert band_col not in out.columns or key == "mhc_sf" or out[band_col].isna().all()
        return
    got = out[band_col].astype("string").tolist()
    assert got == want


def test_k10_crufad_bands_on_request():
    keyed, sums = keyed_rows_for_sums("k10", "total")
    out = score(frame("k10", keyed), "k10", bands="crufad")
    labels = [
        "likely to be well",
        "likely mild disorder",
        "likely moderate disorder",
        "likely severe disorder",
    ]
    want = [labels[sum(s >= c for c in (20, 25, 30))] for s in sums]
    assert out["band"].astype("string").tolist() == want
    # spec §7 ABS oracle: 15/16/21/22/29/30
    default = score(frame("k10", keyed), "k10").set_index(pd.Index(sums))["band"].astype("string")
    assert default.loc[[15, 16, 21, 22, 29, 30]].tolist() == [
        "low", "moderate", "moderate", "high", "high", "very high"
    ]  # fmt: skip


def test_bsl23_band_boundaries_follow_the_inclusive_lower_bound_convention():
    scheme = get_instrument("bsl23").scale("total").bands["kleindienst2020"]
    x = np.array([0.0, 0.2799, 0.28, 1.0699, 1.07, 1.87, 2.67, 3.47, 4.0])
    got = _assign_bands(x, scheme).astype(str).tolist()
    assert got == [
        "none or low", "none or low", "mild", "mild", "moderate", "high", "very high", "extremely high",
        "extremely high",
    ]  # fmt: skip


def test_pss10_has_no_default_bands_but_unvalidated_ones_on_request():
    keyed, sums = keyed_rows_for_sums("pss10", "total")
    raw = raw_from_keyed("pss10", keyed)
    assert score(frame("pss10", raw), "pss10")["band"].isna().all()
    out = score(frame("pss10", raw), "pss10", bands="common_unvalidated")
    want = ["low" if s <= 13 else "moderate" if s <= 26 else "high" for s in sums]
    assert out["band"].astype("string").tolist() == want


def test_unknown_band_scheme_is_an_error():
    with pytest.raises(RomInputError, match="no scale has a band scheme 'nope'"):
        score(frame("phq9", np.zeros((1, 9))), "phq9", bands="nope")
    with pytest.raises(RomInputError, match="unknown scales"):
        score(frame("phq9", np.zeros((1, 9))), "phq9", bands={"severity": None})


# ----------------------------------------------------------------------------- SWEMWBS conversion
def test_swemwbs_conversion_at_every_raw_score():
    raws = list(range(7, 36))
    rows = np.ones((len(raws), 7))
    for r, raw in enumerate(raws):
        remaining = raw - 7
        for j in range(7):
            add = min(4, remaining)
            rows[r, j] += add
            remaining -= add
    out = score(frame("swemwbs", rows), "swemwbs")
    assert out["raw"].tolist() == raws
    assert out["total"].tolist() == [SWEMWBS_TABLE[r] for r in raws]
    # spec §7 oracle: raw 7 / 17 / 20 / 28 / 35 -> 7.00 / 16.88 / 18.59 / 25.03 / 35.00
    by_raw = dict(zip(raws, out["total"], strict=True))
    assert [by_raw[r] for r in (7, 17, 20, 28, 35)] == [7.00, 16.88, 18.59, 25.03, 35.00]


def test_swemwbs_table_needs_complete_responses_unless_prorating_is_asked_for():
    raw = np.array([[3, 3, 3, 3, 3, 3, np.nan]])
    assert np.isnan(score(frame("swemwbs", raw), "swemwbs")["total"].iloc[0])
    out = score(frame("swemwbs", raw), "swemwbs", prorate=1)
    # prorated raw = 18 / 6 * 7 = 21 (whole) -> 19.25; rounding half up is the toolkit's choice
    assert out["total"].iloc[0] == 19.25 and bool(out["prorated"].iloc[0])
    raw2 = np.array([[3, 3, 3, 3, 3, 4, np.nan]])  # 19 / 6 * 7 = 22.17 -> 22 -> 19.98
    assert score(frame("swemwbs", raw2), "swemwbs", prorate=1)["total"].iloc[0] == 19.98


# ----------------------------------------------------------------------------- MHC-SF categories
def mhc_row(ewb_high: int, ewb_low: int, fn_high: int, fn_low: int) -> list[float]:
    ewb = [5.0] * ewb_high + [0.0] * ewb_low
    ewb += [3.0] * (3 - len(ewb))
    fn = [4.0] * fn_high + [1.0] * fn_low
    fn += [2.0] * (11 - len(fn))
    return ewb + fn


def test_mhc_sf_keyes_categories_at_the_boundaries():
    cases = [
        (mhc_row(1, 0, 6, 0), "flourishing"),  # 1 of 3 and 6 of 11: the minimum
        (mhc_row(0, 0, 11, 0), "moderately mentally healthy"),  # no hedonic item high
        (mhc_row(3, 0, 5, 0), "moderately mentally healthy"),  # only 5 of 11
        (mhc_row(1, 0, 5, 0), "moderately mentally healthy"),  # "at least seven" would also say no
        (mhc_row(0, 1, 0, 6), "languishing"),
        (mhc_row(0, 1, 0, 5), "moderately mentally healthy"),
        (mhc_row(0, 0, 0, 11), "moderately mentally healthy"),
        (mhc_row(1, 1, 6, 5), "flourishing"),  # 6 + 5 = 11: cannot also languish
        (mhc_row(1, 1, 5, 6), "languishing"),
    ]
    out = score(pd.DataFrame([c[0] for c in cases], columns=[f"mhc_sf_{i}" for i in range(1, 15)]), "mhc_sf")
    assert out["band"].astype("string").tolist() == [c[1] for c in cases]
    # "at least 7 of 14 high" paraphrase differs: 1 hedonic + 6 functioning = 7 would agree, but
    # 0 hedonic + 7 functioning high is 7 of 14 yet not flourishing under Keyes' rule
    row = mhc_row(0, 0, 7, 0)
    got = score(pd.DataFrame([row], columns=[f"mhc_sf_{i}" for i in range(1, 15)]), "mhc_sf")["band"].iloc[0]
    assert got == "moderately mentally healthy"


def test_mhc_sf_category_with_missing_items_only_when_decided():
    cols = [f"mhc_sf_{i}" for i in range(1, 15)]
    decided = mhc_row(2, 0, 7, 0)
    decided[13] = np.nan  # flourishing whatever item 14 says
    undecided = mhc_row(1, 0, 5, 0)
    undecided[13] = np.nan  # flourishing if item 14 is high, moderate otherwise
    out = score(pd.DataFrame([decided, undecided], columns=cols), "mhc_sf", prorate=1)
    assert out["band"].iloc[0] == "flourishing"
    assert pd.isna(out["band"].iloc[1])
    assert out["valid"].tolist() == [True, True]
    # with the default rule (no missing items) the total is invalid and no category is given
    assert score(pd.DataFrame([decided], columns=cols), "mhc_sf")["band"].isna().all()


# ----------------------------------------------------------------------------- prorating
MAX_MISSING = {
    ("core_om", "total"): 3,
    ("core_om", "non_risk"): 3,
    ("core_om", "problems"): 1,
    ("core_om", "functioning"): 1,
    ("core_om", "wellbeing"): 0,
    ("core_om", "risk"): 0,
    ("core10", "total"): 1,
    ("honos", "total"): 2,  # toolkit choice (NOCC rule UNVERIFIED)
    ("cbi", "personal"): 3,  # at-least-half rule (UNVERIFIED)
    ("cbi", "work"): 3,
    ("cbi", "client"): 3,
}  # every other scale: 0 (spec: no rule retrieved; PHQ-9 default "no score if any item is missing")


@pytest.mark.parametrize("key_scale", list(SCALES), ids=lambda ks: f"{ks[0]}-{ks[1]}")
def test_prorating_at_and_beyond_the_limit(key_scale):
    key, scale = key_scale
    n, values, _ = SPEC[key]
    limit = MAX_MISSING.get(key_scale, 0)
    items = [i for i in items_of(key, scale) if not (key == "wsas" and i == 1)]
    keyed = np.array([[values[(j * 2 + 1) % len(values)] for j in range(n)]], dtype=float)
    rows = np.repeat(keyed, 2, axis=0)
    blank_at = items[-limit:] if limit else []
    blank_beyond = items[-(limit + 1) :]
    for i in blank_at:
        rows[0, i - 1] = np.nan
    for i in blank_beyond:
        rows[1, i - 1] = np.nan
    out = score(frame(key, raw_from_keyed(key, rows)), key)
    answered = [i for i in items_of(key, scale) if i not in blank_at]
    s = sum(keyed[0, i - 1] for i in answered)
    # HoNOS: the sum of the rated items, not prorated (CamCOPS / METeOR)
    want = s if key == "honos" else expected_value(key, scale, s, len(answered), len(items_of(key, scale)))
    assert out[scale].iloc[0] == pytest.approx(want)
    assert np.isnan(out[scale].iloc[1])
    if scale == "total":
        assert out["valid"].tolist() == [True, False]
        assert bool(out["prorated"].iloc[0]) == (limit > 0 and key != "honos")
        assert out["n_missing"].tolist() == [len(blank_at), len(blank_beyond)]


def test_core10_and_core_om_oracles_from_spec_section_7():
    raw = np.tile(np.array([[1, 3, 2, 0, 4, 1, 2, 3, 1, 2]], dtype=float), (3, 1))
    raw[1, 4] = np.nan
    raw[2, [4, 6]] = np.nan
    out = score(frame("core10", raw), "core10")
    keyed9 = [1, 1, 2, 0, 1, 2, 3, 1, 2]  # items 2, 3 reversed (3 -> 1, 2 -> 2); item 5 missing
    assert out["total"].iloc[1] == pytest.approx(10 * np.mean(keyed9))
    assert np.isnan(out["total"].iloc[2])  # 2 missing: no score

    base = np.full((5, 34), 2.0)
    base[0, 3] = np.nan  # one Wellbeing item (4) missing
    base[1, [0, 1, 5]] = np.nan  # three missing anywhere
    base[2, [0, 1, 5, 7]] = np.nan  # four missing
    base[3, [1, 0]] = np.nan  # one Problems (2) and one Functioning (1)
    base[4, [1, 4]] = np.nan  # two Problems items
    out = score(frame("core_om", base), "core_om")
    assert np.isnan(out["wellbeing"].iloc[0]) and out["total"].iloc[0] == 20
    assert out["total"].iloc[1] == 20 and np.isnan(out["total"].iloc[2])
    assert out["problems"].iloc[3] == 20 and out["functioning"].iloc[3] == 20
    assert np.isnan(out["problems"].iloc[4])
    assert out["prorated"].tolist() == [True, True, False, True, True]


def test_honos_9_is_not_known_missing_and_listed():
    raw = np.full((3, 12), 1.0)
    raw[0, 2] = 9
    raw[1, [2, 5]] = 9
    raw[2, [2, 5, 8]] = 9
    out = score(frame("honos", raw), "honos")
    assert out["total"].tolist()[:2] == [11.0, 10.0]  # sums of the rated items, 9 never added
    assert np.isnan(out["total"].iloc[2])  # three unrated: beyond the limit
    assert out["n_missing"].tolist() == [1, 2, 3]
    assert np.isnan(out["behaviour"].iloc[0]) and out["impairment"].iloc[0] == 2
    dq = data_quality(out)
    assert set(dq["problem"]) == {"missing_code"}
    assert dict(zip(dq["column"], dq["n_values"], strict=True)) == {"honos_3": 3, "honos_6": 2, "honos_9": 1}
    assert dq.loc[dq["column"] == "honos_3", "rows"].iloc[0] == "2, 3, 4"


def test_wsas_work_item_not_applicable():
    raw = np.array([[np.nan, 8, 8, 8, 8], [5, np.nan, 1, 1, 1], [2, 2, 2, 2, 2]], dtype=float)
    out = score(frame("wsas", raw), "wsas")
    assert out["total"].iloc[0] == 32  # maximum when the work item is N/A (CamCOPS)
    assert out["n_missing"].iloc[0] == 0 and not out["prorated"].iloc[0] and out["valid"].iloc[0]
    assert out["band"].iloc[0] == "moderately severe or worse"
    assert np.isnan(out["total"].iloc[1]) and out["n_missing"].iloc[1] == 1
    assert out["total"].iloc[2] == 10 and out["band"].iloc[2] == "significant functional impairment"


def test_cbi_scales_are_means_of_answered_items_and_there_is_no_total():
    raw = np.array([[0, 25, 50, 75, 100, np.nan] + [50] * 6 + [25] + [100] * 6], dtype=float)
    out = score(frame("cbi", raw), "cbi")
    assert out["personal"].iloc[0] == pytest.approx((0 + 25 + 50 + 75 + 100) / 5)
    assert out["work"].iloc[0] == pytest.approx((6 * 50 + (100 - 25)) / 7)
    assert out["client"].iloc[0] == 100
    assert np.isnan(out["total"].iloc[0]) and out["band"].isna().all()
    assert out["personal_band"].iloc[0] == "high" and out["valid"].iloc[0] and out["prorated"].iloc[0]


def test_prorate_options():
    raw = np.array([[1, 2, 3, 0, 1, 2, 3, 0, np.nan]], dtype=float)
    df = frame("phq9", raw)
    assert np.isnan(score(df, "phq9")["total"].iloc[0])
    assert score(df, "phq9", prorate=1)["total"].iloc[0] == pytest.approx(12 / 8 * 9)
    assert score(df, "phq9", prorate=0.2)["total"].iloc[0] == pytest.approx(13.5)  # floor(0.2 * 9) = 1
    assert np.isnan(score(df, "phq9", prorate=0.1)["total"].iloc[0])  # floor(0.9) = 0
    assert score(df, "phq9", prorate={"total": 1})["total"].iloc[0] == pytest.approx(13.5)
    core = np.full((1, 10), 2.0)
    core[0, [0, 1]] = np.nan
    assert np.isnan(score(frame("core10", core), "core10", prorate=True)["total"].iloc[0])
    assert np.isnan(score(frame("core10", np.where(np.arange(10) == 0, np.nan, 2.0)[None, :]), "core10",
                          prorate=False)["total"].iloc[0])  # fmt: skip
    for bad in (-1, 1.5, "sometimes", {"nope": 1}):
        with pytest.raises(RomInputError):
            score(df, "phq9", prorate=bad)


# ----------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("key", BUILTIN_KEYS)
def test_out_of_range_values_raise_naming_instrument_column_rows_and_range(key):
    n, values, _ = SPEC[key]
    raw = np.full((4, n), float(values[0]))
    raw[1, 0] = values[-1] + 1
    raw[3, 0] = values[0] - 1
    with pytest.raises(RomInputError) as exc:
        score(frame(key, raw), key)
    msg = str(exc.value)
    assert key in msg and f"'{key}_1'" in msg and "rows 3, 5" in msg
    allowed = "/".join(f"{v:g}" for v in values) if key == "cbi" else f"{values[0]}–{values[-1]}"
    assert allowed in msg


@pytest.mark.parametrize("key", BUILTIN_KEYS)
def test_out_of_range_values_can_become_missing_and_are_counted(key):
    n, values, _ = SPEC[key]
    raw = np.full((3, n), float(values[0]))
    raw[1, n - 1] = values[-1] + 1
    df = frame(key, raw).astype(object)
    df.iloc[2, 0] = "often"
    out = score(df, key, on_invalid="missing", prorate=False)
    assert out["n_missing"].tolist() == [0, 1, 1]
    assert out["valid"].tolist() == [True, False, False]  # prorate=False: one missing item invalidates
    dq = data_quality(out).set_index("problem")
    assert dq.loc["out_of_range", "column"] == f"{key}_{n}" and dq.loc["out_of_range", "rows"] == "3"
    assert dq.loc["non_numeric", "column"] == f"{key}_1" and dq.loc["non_numeric", "examples"] == "'often'"


def test_values_that_are_not_allowed_even_inside_the_range():
    cbi = np.zeros((2, 19))
    cbi[1, 4] = 30  # between 25 and 50: not a CBI response
    with pytest.raises(RomInputError, match=r"cbi: item responses must be one of 0/25/50/75/100") as exc:
        score(frame("cbi", cbi), "cbi")
    assert "'cbi_5': 1 values outside the allowed range at rows 3 (e.g. 30)" in str(exc.value)
    phq = np.zeros((2, 9))
    phq[0, 2] = 1.5
    with pytest.raises(RomInputError, match=r"'phq9_3'.*rows 2"):
        score(frame("phq9", phq), "phq9")
    hon = np.zeros((1, 12))
    hon[0, 0] = 5  # 5 is neither a rating nor the not-known code
    with pytest.raises(RomInputError, match="9 = not known"):
        score(frame("honos", hon), "honos")


def test_non_numeric_and_boolean_values_raise():
    df = frame("gad7", np.zeros((3, 7))).astype(object)
    df.loc[1, "gad7_2"] = "two"
    df.loc[2, "gad7_2"] = True
    with pytest.raises(RomInputError, match=r"'gad7_2': 2 non-numeric values at rows 3, 4"):
        score(df, "gad7")
    df2 = frame("gad7", np.zeros((2, 7)))
    df2["gad7_1"] = [True, False]
    with pytest.raises(RomInputError, match="non-numeric"):
        score(df2, "gad7")


def test_text_numbers_blanks_and_nullable_integers_are_read():
    df = pd.DataFrame({f"gad7_{i}": ["1", " 2", "", None] for i in range(1, 8)})
    out = score(df, "gad7", prorate=False)
    assert out["total"].iloc[:2].tolist() == [7.0, 14.0]
    assert out["n_missing"].tolist() == [0, 0, 7, 7]
    ints = frame("gad7", np.ones((2, 7))).astype("Int64")
    ints.loc[1, "gad7_1"] = pd.NA
    assert score(ints, "gad7", prorate=1)["total"].tolist() == [7.0, 7.0]


def test_check_responses_lists_problems_without_raising():
    df = frame("k10", np.ones((3, 10))).astype(object)
    df.loc[0, "k10_2"] = 0  # K10 uses 1-5
    df.loc[2, "k10_2"] = "n/a"
    table = check_responses(df, "k10")
    assert table[["column", "problem", "rows", "allowed", "action"]].values.tolist() == [
        ["k10_2", "non_numeric", "4", "1–5", "would raise"],
        ["k10_2", "out_of_range", "2", "1–5", "would raise"],
    ]


def test_source_row_numbers_are_used_in_messages():
    df = frame("phq9", np.zeros((2, 9)))
    df["source_row"] = [17, 40]
    df.loc[1, "phq9_1"] = 4
    with pytest.raises(RomInputError, match="rows 40"):
        score(df, "phq9")


# ----------------------------------------------------------------------------- columns, ids, inputs
def test_item_column_mappings_and_missing_columns():
    raw = np.arange(9)[None, :] % 4
    df = pd.DataFrame(raw, columns=[f"q{i}" for i in range(1, 10)])
    a = score(df, "phq9", items="q{n}")["total"].iloc[0]
    b = score(df, "phq9", items=[f"q{i}" for i in range(1, 10)])["total"].iloc[0]
    c = score(df, "phq9", items={i: f"q{i}" for i in range(1, 10)})["total"].iloc[0]
    assert a == b == c == sum(raw[0])
    with pytest.raises(RomInputError, match=r"item columns \['phq9_1'"):
        score(df, "phq9")
    with pytest.raises(RomInputError, match="missing items"):
        score(df, "phq9", items={i: f"q{i}" for i in range(1, 9)})
    with pytest.raises(RomInputError, match="8 columns"):
        score(df, "phq9", items=[f"q{i}" for i in range(1, 9)])
    with pytest.raises(RomInputError, match=r"\{n\}"):
        score(df, "phq9", items="q")


def test_ids_index_order_and_no_mutation():
    raw = np.array([[3] * 9, [0] * 9, [1] * 9], dtype=float)
    df = frame("phq9", raw)
    df.insert(0, "patient_id", ["c", "a", "b"])
    df["occasion"] = ["end", "baseline", "end"]
    df["gad7_1"] = 2  # another instrument's item: not an id column by default
    df.index = [10, 5, 7]
    before = df.copy()
    out = score(df, "phq9")
    pd.testing.assert_frame_equal(df, before)
    assert list(out.index) == [10, 5, 7]
    assert out.columns.tolist() == [
        "patient_id",
        "occasion",
        "total",
        "band",
        "n_missing",
        "prorated",
        "valid",
    ]
    assert out["total"].tolist() == [27.0, 0.0, 9.0]
    assert score(df, "phq9", keep_columns=["patient_id"]).columns[0] == "patient_id"
    with pytest.raises(RomInputError, match="not in the data"):
        score(df, "phq9", keep_columns=["staff_id"])
    clash = df.rename(columns={"occasion": "total"})
    with pytest.raises(RomInputError, match="clash"):
        score(clash, "phq9")
    with pytest.raises(RomInputError, match="DataFrame"):
        score(raw, "phq9")  # type: ignore[arg-type]


def test_output_dtypes():
    out = score(frame("dass21", np.ones((2, 21))), "dass21")
    assert out["total"].dtype == "float64" and out["n_missing"].dtype == "int64"
    assert out["valid"].dtype == bool and out["prorated"].dtype == bool
    assert (
        isinstance(out["depression_band"].dtype, pd.CategoricalDtype) and out["depression_band"].cat.ordered
    )
    assert out.columns.tolist() == [
        "total", "band", "depression", "depression_band", "anxiety", "anxiety_band", "stress", "stress_band",
        "n_missing", "prorated", "valid",
    ]  # fmt: skip
    assert out["depression"].tolist() == [14.0, 14.0]  # 7 items x 1 x 2
    assert out["depression_band"].iloc[0] == "moderate" and out["anxiety_band"].iloc[0] == "moderate"


def test_empty_input_gives_empty_output():
    out = score(frame("phq9", np.zeros((0, 9))), "phq9")
    assert len(out) == 0 and "total" in out.columns


def test_user_instrument_scores_like_a_bundled_one():
    definition = {
        "key": "demo_burnout",
        "name": "Demo burnout (made-up key, for tests)",
        "n_items": 6,
        "response": {"min": 0, "max": 6},
        "reverse": {"items": [6]},
        "direction": "higher_is_worse",
        "scales": {
            "exhaustion": {"label": "E", "items": [1, 2, 3], "method": "sum"},
            "cynicism": {"label": "C", "items": [4, 5, 6], "method": "sum", "missing": {"max_missing": 1}},
        },
        "licence": {"text": "proprietary", "proprietary": True},
        "licence_acknowledged": True,
        "citation": "none",
    }
    register_instrument(definition)
    try:
        vals = [6, 5, 4, 3, None, 6]
        df = pd.DataFrame({f"demo_burnout_{i}": [v] for i, v in zip(range(1, 7), vals, strict=True)})
        out = score(df, "demo_burnout")
        assert out["exhaustion"].iloc[0] == 15
        assert out["cynicism"].iloc[0] == pytest.approx((3 + 0) / 2 * 3)
        assert np.isnan(out["total"].iloc[0]) and out["valid"].iloc[0] and out["prorated"].iloc[0]
    finally:
        unregister_instrument("demo_burnout")


# ----------------------------------------------------------------------------- properties
@st.composite
def responses(draw):
    key = draw(st.sampled_from(list(BUILTIN_KEYS)))
    n, values, _ = SPEC[key]
    rows = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    p_missing = draw(st.sampled_from([0.0, 0.05, 0.3]))
    rng = np.random.default_rng(seed)
    raw = rng.choice(np.asarray(values, dtype=float), size=(rows, n))
    raw[rng.random((rows, n)) < p_missing] = np.nan
    return key, raw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=responses(), prorate=st.sampled_from(["rule", 0, 1, 3, 0.5]))
def test_property_scores_stay_within_their_range(data, prorate):
    key, raw = data
    inst = get_instrument(key)
    sizes = {name: len(inst.scale_items(name, s)) for name, s in inst.scales.items()}
    limits = (
        {
            name: prorate if isinstance(prorate, int) else math.floor(prorate * k + 1e-9)
            for name, k in sizes.items()
        }
        if prorate != "rule"
        else {}
    )
    too_many = [
        n for n, lim in limits.items() if lim > max(inst.scales[n].missing.max_missing, sizes[n] // 2)
    ]
    if too_many:  # a score from fewer than half the items is refused, naming the scale
        with pytest.raises(RomInputError, match=f"scale '{too_many[0]}'.*at least half"):
            score(frame(key, raw), key, prorate=prorate)
        return
    out = score(frame(key, raw), key, prorate=prorate)
    for scale in scales_of(key):
        lo, hi = SCALES[(key, scale)][3]
        v = out[scale].dropna().to_numpy()
        assert ((v >= lo - 1e-9) & (v <= hi + 1e-9)).all(), (key, scale, v)
    assert (out["n_missing"] <= SPEC[key][0]).all()
    assert not (out["prorated"] & ~out["valid"]).any()
    complete = ~np.isnan(raw).any(axis=1)
    assert not out["prorated"].to_numpy()[complete].any()


@settings(max_examples=60, deadline=None)
@given(data=responses())
def test_property_reverse_keying_is_an_involution(data):
    key, raw = data
    df = frame(key, raw)
    once = reverse_score(df, key)
    twice = reverse_score(once, key)
    pd.testing.assert_frame_equal(twice, df.astype(float))
    n, values, rev = SPEC[key]
    for i in range(1, n + 1):
        expect = values[0] + values[-1] - raw[:, i - 1] if i in rev else raw[:, i - 1]
        np.testing.assert_array_equal(once[f"{key}_{i}"].to_numpy(), expect)


def test_a_prorated_sum_equals_the_mean_times_the_item_count():
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 4, size=(200, 9)).astype(float)
    raw[np.arange(200), rng.integers(0, 9, 200)] = np.nan
    out = score(frame("phq9", raw), "phq9", prorate=1)
    naive = [math.fsum(r[~np.isnan(r)]) / (~np.isnan(r)).sum() * 9 for r in raw]
    np.testing.assert_allclose(out["total"], naive)


def test_results_concatenate_and_bands_can_be_switched_off():
    a = score(frame("honos", np.full((1, 12), 9.0)), "honos")  # a data-quality record attached
    b = score(frame("honos", np.ones((1, 12))), "honos")
    both = pd.concat([a, b], ignore_index=True)  # attrs hold plain records: concat must not fail
    assert both["total"].isna().tolist() == [True, False]
    out = score(frame("dass21", np.ones((1, 21))), "dass21", bands={"depression": None})
    assert "depression_band" not in out.columns and "anxiety_band" in out.columns
