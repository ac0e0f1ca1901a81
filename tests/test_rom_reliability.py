"""Internal consistency: pingouin's Cronbach's alpha cross-checked with a direct numpy formula.

Second method: alpha = k/(k−1) · (1 − Σ item variances / variance of the sum), and Feldt's interval
1 − (1 − alpha) · F quantiles with (n − 1, (n − 1)(k − 1)) degrees of freedom (scipy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaltoolkit.rom import RomInputError, internal_consistency


def alpha_numpy(x: np.ndarray) -> float:
    k = x.shape[1]
    return k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))


def feldt(alpha: float, n: int, k: int, conf: float) -> tuple[float, float]:
    a = 1 - conf
    df1, df2 = n - 1, (n - 1) * (k - 1)
    return 1 - (1 - alpha) * stats.f.isf(a / 2, df1, df2), 1 - (1 - alpha) * stats.f.isf(1 - a / 2, df1, df2)


def simulated(key: str, n_items: int, lo: int, hi: int, reverse: list[int], n: int = 300, seed: int = 5):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 1))
    p = 1 / (1 + np.exp(-(1.5 * latent + rng.normal(scale=0.8, size=(n, n_items)))))
    keyed = lo + rng.binomial(hi - lo, p)
    raw = keyed.astype(float)
    for i in reverse:
        raw[:, i - 1] = lo + hi - raw[:, i - 1]
    return pd.DataFrame(raw, columns=[f"{key}_{i}" for i in range(1, n_items + 1)]), keyed.astype(float)


def test_alpha_and_interval_match_the_formula_on_keyed_items():
    df, keyed = simulated("pss10", 10, 0, 4, [4, 5, 7, 8])
    df.iloc[[3, 10, 50], [0, 5, 9]] = np.nan  # listwise deletion drops these three forms
    keyed[[3, 10, 50], :] = np.nan
    out = internal_consistency(df, "pss10", conf_level=0.90)
    complete = keyed[~np.isnan(keyed).any(axis=1)]
    a = alpha_numpy(complete)
    lo, hi = feldt(a, len(complete), 10, 0.90)
    row = out.iloc[0]
    assert (row["instrument"], row["scale"], row["n"], row["n_items"]) == ("pss10", "total", 297, 10)
    assert row["estimate"] == pytest.approx(a, rel=1e-12)
    assert row["ci_lower"] == pytest.approx(lo, abs=6e-4) and row["ci_upper"] == pytest.approx(hi, abs=6e-4)
    assert row["method"] == "cronbach_alpha" and row["conf_level"] == 0.90
    # ignoring the reverse keys would give a much lower alpha on these data
    raw_alpha = alpha_numpy(df.dropna().to_numpy())
    assert raw_alpha < row["estimate"] - 0.3


def test_one_row_per_scale_with_tidy_columns():
    df, keyed = simulated("dass21", 21, 0, 3, [])
    out = internal_consistency(df, "dass21")
    assert out.columns.tolist() == [
        "instrument", "scale", "n", "n_items", "estimate", "ci_lower", "ci_upper", "method", "conf_level",
    ]  # fmt: skip
    assert out["scale"].tolist() == ["total", "depression", "anxiety", "stress"]
    dep = [3, 5, 10, 13, 16, 17, 21]
    assert out.loc[1, "estimate"] == pytest.approx(alpha_numpy(keyed[:, [i - 1 for i in dep]]))
    assert out.loc[1, "n_items"] == 7
    only = internal_consistency(df, "dass21", scales=["stress"])
    assert only["scale"].tolist() == ["stress"]


def test_two_item_subscales_and_repeated_item_sets():
    df, keyed = simulated("scs_sf", 12, 1, 5, [1, 4, 8, 9, 11, 12])
    out = internal_consistency(df, "scs_sf").set_index("scale")
    assert out.loc["isolation", "estimate"] == pytest.approx(alpha_numpy(keyed[:, [3, 7]]))
    sw, _ = simulated("swemwbs", 7, 1, 5, [])
    assert internal_consistency(sw, "swemwbs")["scale"].tolist() == ["total"]  # raw has the same items


def test_too_few_complete_forms_and_bad_options():
    df, _ = simulated("gad7", 7, 0, 3, [], n=2)
    out = internal_consistency(df, "gad7")
    assert out.loc[0, "n"] == 2 and np.isnan(out.loc[0, "estimate"])
    with pytest.raises(RomInputError, match="unknown scales"):
        internal_consistency(df, "gad7", scales=["worry"])
    with pytest.raises(RomInputError, match="conf_level"):
        internal_consistency(df, "gad7", conf_level=95)
