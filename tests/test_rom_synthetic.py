"""End to end on the bundled synthetic data, checked against the generator's truth.json.

The generator draws items from a latent model and records the expected scored totals and the true
direction of change; the scores computed here must agree (within sampling error) and move the right
way. Known disagreement: the spec reverses CBI item 13, the generator reverses no CBI item.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.rom import (
    change_summary,
    check_responses,
    internal_consistency,
    register_instrument,
    reliable_change,
    score,
    talking_therapies_outcomes,
    talking_therapies_summary,
    unregister_instrument,
)

DATA = Path(__file__).resolve().parents[1] / "synthetic_data"


@pytest.fixture(scope="module")
def truth():
    return json.loads((DATA / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def rom():
    return pd.read_csv(DATA / "rom_responses.csv")


@pytest.fixture(scope="module")
def staff():
    return pd.read_csv(DATA / "staff_survey.csv")


def generator_total(key: str, s: pd.DataFrame) -> pd.Series:
    """The generator's 'scored total' (sum of keyed items) from our scores."""
    if key == "bsl23":
        return s["total"] * 23
    if key == "swemwbs":
        return s["raw"]
    if key == "scs_sf":
        return s["total"] * 12
    return s["total"]


@pytest.mark.parametrize("key", ["phq9", "gad7", "core10", "bsl23", "swemwbs"])
def test_rom_responses_score_end_to_end(rom, truth, key):
    spec = truth["rom"]["instruments"][key]
    assert check_responses(rom, key).empty
    s = score(rom, key)
    assert len(s) == len(rom) == truth["rom"]["rows"]
    assert s.columns[:5].tolist() == ["patient_id", "site", "occasion", "session", "date"]
    assert s["n_missing"].sum() == spec["missing_cells"]
    # baseline mean of complete forms = the generator's expected total, within 4 standard errors
    base = generator_total(key, s)[(rom["session"] == 0) & (s["n_missing"] == 0)]
    se = base.std() / np.sqrt(len(base))
    assert abs(base.mean() - spec["expected_scored_total_by_session"][0]) < 4 * se
    # paired change baseline -> end among completers goes the known way
    wide = s[s["valid"]].pivot_table(index="patient_id", columns="session", values="total")
    paired = wide[[0, 9]].dropna()
    change = (paired[9] - paired[0]).mean()
    assert len(paired) > 50
    assert np.sign(change) == (-1 if spec["scored_total_higher_is_worse"] else 1)


@pytest.mark.parametrize("key", ["pss10", "mhc_sf", "scs_sf", "ffmq15", "cbi"])
def test_staff_survey_scores_end_to_end(staff, truth, key):
    spec = truth["staff_survey"]["instruments"][key]
    assert check_responses(staff, key).empty
    s = score(staff, key)
    assert len(s) == len(staff) and s.columns[:4].tolist() == ["staff_id", "site", "wave", "date"]
    assert s["n_missing"].sum() == spec["missing_cells"]
    scales = ["personal", "work", "client"] if key == "cbi" else ["total"]
    for scale in scales:
        wide = s[s[scale].notna()].pivot_table(index="staff_id", columns="wave", values=scale)
        paired = wide[["pre", "post"]].dropna()
        assert np.sign((paired["post"] - paired["pre"]).mean()) == np.sign(spec["effect_latent_sd"]), scale
    if key != "cbi":
        pre = generator_total(key, s)[(staff["wave"] == "pre") & (s["n_missing"] == 0)]
        assert abs(pre.mean() - spec["expected_scored_total_pre"]) < 4 * pre.std() / np.sqrt(len(pre))


def test_cbi_reverse_keying_shows_in_alpha(staff):
    # Scoring with the generator's key (item 13 reversed) gives a coherent work scale; scoring
    # without reversing it (a wrong key) visibly lowers the work-scale alpha.
    spec_keyed = internal_consistency(staff, "cbi").set_index("scale")["estimate"]
    register_instrument(
        {"extends": "cbi", "key": "cbi_unrev", "name": "CBI, item 13 not reversed", "reverse": {"items": []}}
    )
    try:
        unreversed = internal_consistency(staff, "cbi_unrev", items="cbi_{n}").set_index("scale")["estimate"]
    finally:
        unregister_instrument("cbi_unrev")
    assert unreversed["work"] < spec_keyed["work"] - 0.1


def test_reliable_change_and_talking_therapies_on_the_change_data(rom):
    phq = score(rom, "phq9", prorate=1)
    gad = score(rom, "gad7", prorate=1)
    wide = pd.DataFrame(
        {
            "phq9_pre": phq[rom["session"] == 0].set_index("patient_id")["total"],
            "phq9_post": phq[rom["session"] == 9].set_index("patient_id")["total"],
            "gad7_pre": gad[rom["session"] == 0].set_index("patient_id")["total"],
            "gad7_post": gad[rom["session"] == 9].set_index("patient_id")["total"],
        }
    )
    assert len(wide) == 300  # every patient has a baseline; drop-outs have no end score
    jt = reliable_change(wide, "phq9", pre_column="phq9_pre", post_column="phq9_post")
    summary = change_summary(jt).set_index("category")["n"]
    n_paired = int(wide[["phq9_pre", "phq9_post"]].notna().all(axis=1).sum())
    assert summary.drop("not classified").sum() == n_paired and summary["not classified"] == 300 - n_paired
    assert summary["recovered"] + summary["improved"] > summary["deteriorated"]
    tt = talking_therapies_outcomes(wide, phq9_pre="phq9_pre", phq9_post="phq9_post", gad7_pre="gad7_pre",
                                    gad7_post="gad7_post")  # fmt: skip
    rates = talking_therapies_summary(tt).set_index("indicator")
    assert rates.loc["eligible", "denominator"] == 300
    assert rates.loc["eligible", "numerator"] == int(wide.notna().all(axis=1).sum())
    assert rates.loc["reliable_improvement", "proportion"] > rates.loc["reliable_deterioration", "proportion"]
