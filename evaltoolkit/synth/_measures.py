"""Item-level questionnaire responses: CHANGE-style routine outcome measures and a staff survey.

Items are generated from latent traits through a binomial link: an item with ``m`` response steps
takes ``low + step * Binomial(m, expit(sign * a * latent + b_item))``. ``sign`` is +1 when a higher
raw response runs in the direction of the instrument's scored total and −1 for reverse-keyed items.
Only item codes are produced, never item wording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._common import TimeGrid, expit, logit, rng_for
from ._events import Patients, go_live_months
from .config import SynthConfig

DISCRIMINATION = 1.2
ITEM_INTERCEPT_SD = 0.25


@dataclass(frozen=True)
class ItemSpec:
    """One instrument as generated: items, response range, reverse keys, base intercept."""

    key: str
    n_items: int
    low: int
    high: int
    step: int
    reverse: tuple[int, ...]
    base: float  # intercept of non-reverse items (log odds of a step at latent 0)
    base_reverse: float  # intercept of reverse-keyed items
    higher_is_worse: bool  # direction of the scored total (after reversing reverse-keyed items)

    @property
    def steps(self) -> int:
        return (self.high - self.low) // self.step

    def columns(self) -> list[str]:
        return [f"{self.key}_{j}" for j in range(1, self.n_items + 1)]


# The latent for ROM instruments is *severity* (higher = worse). SWEMWBS is a wellbeing scale: its
# scored total runs against severity, so its items are generated with sign −1 (see _rom_signs).
ROM_SPECS = (
    ItemSpec("phq9", 9, 0, 3, 1, (), 0.4, 0.0, True),
    ItemSpec("gad7", 7, 0, 3, 1, (), 0.4, 0.0, True),
    ItemSpec("core10", 10, 0, 4, 1, (2, 3), 0.4, -0.6, True),
    ItemSpec("bsl23", 23, 0, 4, 1, (), 0.0, 0.0, True),
    ItemSpec("swemwbs", 7, 1, 5, 1, (), -0.6, 0.0, False),
)
# Staff latent traits are in the direction of each instrument's scored total.
STAFF_SPECS = (
    ItemSpec("pss10", 10, 0, 4, 1, (4, 5, 7, 8), 0.0, 0.0, True),
    ItemSpec("mhc_sf", 14, 0, 5, 1, (), 0.4, 0.0, False),
    ItemSpec("scs_sf", 12, 1, 5, 1, (1, 4, 8, 9, 11, 12), 0.0, 0.0, False),
    ItemSpec("ffmq15", 15, 1, 5, 1, (3, 4, 7, 8, 9, 13, 14), 0.2, 0.0, False),
    # CBI item 13 (work scale) is reversed, as in evaltoolkit.rom (item number unverified in the spec).
    ItemSpec("cbi", 19, 0, 100, 25, (13,), -0.3, 0.0, True),
)
ROM_OCCASIONS = ("baseline", *[f"session_{k}" for k in range(1, 9)], "end")


def _intercepts(rng: np.random.Generator, spec: ItemSpec) -> np.ndarray:
    base = np.array(
        [spec.base_reverse if j in spec.reverse else spec.base for j in range(1, spec.n_items + 1)]
    )
    return base + rng.normal(0.0, ITEM_INTERCEPT_SD, spec.n_items)


def _signs(spec: ItemSpec, latent_is_severity: bool) -> np.ndarray:
    """+1 where a higher raw response means a higher latent, −1 otherwise."""
    s = np.array([-1.0 if j in spec.reverse else 1.0 for j in range(1, spec.n_items + 1)])
    if latent_is_severity and not spec.higher_is_worse:
        s = -s
    return s


def _items(
    rng: np.random.Generator, spec: ItemSpec, latent: np.ndarray, b: np.ndarray, sign: np.ndarray
) -> np.ndarray:
    p = expit(DISCRIMINATION * sign[None, :] * latent[:, None] + b[None, :])
    return spec.low + spec.step * rng.binomial(spec.steps, p)


def expected_scored_items(
    spec: ItemSpec, b: np.ndarray, sign: np.ndarray, mean: float, sd: float
) -> np.ndarray:
    """Population mean of each *scored* item (reverse-keyed items reversed) when latent ~ N(mean, sd²)."""
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    lat = mean + sd * x
    p = expit(DISCRIMINATION * sign[None, :] * lat[:, None] + b[None, :])
    raw = spec.low + spec.step * spec.steps * (w @ p)
    rev = np.array([j in spec.reverse for j in range(1, spec.n_items + 1)])
    return np.where(rev, spec.low + spec.high - raw, raw)


def _blank(rng: np.random.Generator, values: np.ndarray, item_p: float, form_p: float) -> np.ndarray:
    """Float copy with missing items (MCAR) and, with probability ``form_p``, the whole form missing."""
    out = values.astype(float)
    out[rng.random(out.shape) < item_p] = np.nan
    out[rng.random(out.shape[0]) < form_p, :] = np.nan
    return out


def make_rom(
    config: SynthConfig, grid: TimeGrid, patients: Patients, seed: int
) -> tuple[pd.DataFrame, dict[str, object]]:
    """CHANGE-style ROM responses (one row per patient and attended occasion) and their truth."""
    rng = rng_for(seed, "rom")
    items_rng = rng_for(seed, "rom_items")
    codes = np.array([s.code for s in config.sites], dtype=object)
    gl = go_live_months(config, grid)
    n_occ = len(ROM_OCCASIONS)
    last_base = grid.extract - np.timedelta64(7 * (n_occ - 1) + 14, "D")
    last_base_month = grid.month_index(last_base)

    cand = np.flatnonzero(
        patients.pd
        & (gl[patients.site] >= 0)
        & (patients.exit == grid.n)
        & (patients.entry <= last_base_month)
    )
    n = min(config.rom_patients, cand.size)
    chosen = np.sort(rng.choice(cand, size=n, replace=False))
    lo = np.maximum(grid.month_start[gl[patients.site[chosen]]], grid.month_start[patients.entry[chosen]])
    span = (last_base - lo).astype(np.int64)
    base_date = lo + np.floor(rng.random(n) * (span + 1)).astype("timedelta64[D]")

    theta0 = rng.standard_normal(n)
    slope = rng.normal(config.rom_weekly_change, config.rom_slope_sd, n)
    weeks = np.arange(n_occ)
    theta = (
        theta0[:, None] + slope[:, None] * weeks[None, :] + rng.normal(0, config.rom_occasion_sd, (n, n_occ))
    )

    attended = np.ones((n, n_occ), bool)
    b0 = logit(config.rom_dropout_base)
    u = rng.random((n, n_occ))
    for s in range(1, n_occ):
        hazard = expit(b0 + config.rom_dropout_log_or * theta[:, s - 1])
        attended[:, s] = attended[:, s - 1] & (u[:, s] >= hazard)

    jitter = rng.integers(-1, 2, (n, n_occ))
    jitter[:, 0] = 0
    dates = base_date[:, None] + (7 * weeks[None, :] + jitter).astype("timedelta64[D]")

    rows_i, rows_s = np.nonzero(attended)
    frame = pd.DataFrame(
        {
            "patient_id": patients.pid[chosen][rows_i],
            "site": codes[patients.site[chosen]][rows_i],
            "occasion": np.array(ROM_OCCASIONS, dtype=object)[rows_s],
            "session": rows_s,
            "date": dates[rows_i, rows_s],
        }
    )
    spec_truth: dict[str, object] = {}
    var_total = 1.0 + config.rom_instrument_sd**2 + config.rom_occasion_sd**2
    for spec in ROM_SPECS:
        b = _intercepts(items_rng, spec)
        sign = _signs(spec, latent_is_severity=True)
        eta = rng.normal(0.0, config.rom_instrument_sd, n)
        lat = (theta + eta[:, None])[rows_i, rows_s]
        vals = _blank(
            rng, _items(rng, spec, lat, b, sign), config.rom_item_missing_prob, config.rom_form_missing_prob
        )
        for j, col in enumerate(spec.columns()):
            frame[col] = pd.array(vals[:, j], dtype="Float64").astype("Int64")
        expected = [
            float(
                expected_scored_items(
                    spec,
                    b,
                    sign,
                    config.rom_weekly_change * s,
                    np.sqrt(var_total + (config.rom_slope_sd * s) ** 2),
                ).sum()
            )
            for s in weeks
        ]
        spec_truth[spec.key] = {
            "items": spec.n_items,
            "response_values": list(range(spec.low, spec.high + 1, spec.step)),
            "reverse_keyed_items": list(spec.reverse),
            "scored_total_higher_is_worse": spec.higher_is_worse,
            "item_intercepts": [round(float(v), 6) for v in b],
            "expected_scored_total_by_session": [round(v, 6) for v in expected],
            "missing_cells": int(np.isnan(vals).sum()),
            "forms_with_2plus_missing_items": int((np.isnan(vals).sum(axis=1) >= 2).sum()),
        }
    frame = frame.sort_values(["patient_id", "session"], kind="mergesort").reset_index(drop=True)
    for c in ("patient_id", "site", "occasion"):
        frame[c] = frame[c].astype("string")
    frame["date"] = frame["date"].astype("datetime64[s]")

    complete = attended[:, -1]
    n_att = attended.sum(axis=1)
    truth: dict[str, object] = {
        "patients": int(n),
        "rows": len(frame),
        "occasions": list(ROM_OCCASIONS),
        "session_coding": "session = weeks since baseline: 0 = baseline, 1..8 = weekly sessions, 9 = end",
        "latent_model": (
            "severity[i,s] = theta0[i] + slope[i] * s + e[i,s]; theta0 ~ N(0,1); slope ~ N(weekly_change, "
            "slope_sd^2); e ~ N(0, occasion_sd^2); instrument k adds eta[i,k] ~ N(0, instrument_sd^2); item "
            "= "
            "low + step * Binomial(steps, expit(1.2 * sign * latent + intercept)); sign = -1 for items whose "
            "higher raw value means less severity (CORE-10 items 2 and 3, all SWEMWBS items)"
        ),
        "weekly_change_latent_sd": config.rom_weekly_change,
        "total_change_baseline_to_end_latent_sd": round(config.rom_weekly_change * (n_occ - 1), 6),
        "dropout_model": (
            "after attending occasion s, P(no further occasions) = expit(logit(dropout_base) + "
            "dropout_log_or * severity[i,s]); rows after drop-out are absent. Drop-out is missing at random "
            "given the observed history: completers were less severe at baseline, so comparing completers' "
            "end scores with all starters' baseline scores overstates improvement; the paired change in "
            "completers is close to unbiased here because drop-out depends on the current level of severity, "
            "not directly on the rate of change (see realised mean slopes)"
        ),
        "dropout_base": config.rom_dropout_base,
        "dropout_log_or_per_sd_severity": config.rom_dropout_log_or,
        "realised": {
            "completers": int(complete.sum()),
            "completion_rate": round(float(complete.mean()), 6),
            "occasions_attended_distribution": {str(k): int((n_att == k).sum()) for k in range(1, n_occ + 1)},
            "mean_slope_all": round(float(slope.mean()), 6),
            "mean_slope_completers": round(float(slope[complete].mean()), 6),
            "mean_baseline_severity_completers": round(float(theta0[complete].mean()), 6),
            "mean_baseline_severity_dropouts": round(float(theta0[~complete].mean()), 6),
        },
        "item_missing_prob": config.rom_item_missing_prob,
        "form_missing_prob": config.rom_form_missing_prob,
        "instruments": spec_truth,
    }
    return frame, truth


def make_staff(config: SynthConfig, seed: int) -> tuple[pd.DataFrame, dict[str, object]]:
    """Staff survey before and after a leadership programme (pre for everyone, post for stayers)."""
    rng = rng_for(seed, "staff")
    items_rng = rng_for(seed, "staff_items")
    n = config.staff_n
    codes = np.array([s.code for s in config.sites], dtype=object)
    numbers = np.sort(rng.choice(99_999, size=n, replace=False) + 1)
    staff_id = np.array([f"ST{k:05d}" for k in numbers], dtype=object)
    site = codes[rng.integers(0, codes.size, n)]

    effects = {
        "pss10": config.staff_effect_pss10,
        "mhc_sf": config.staff_effect_mhc_sf,
        "scs_sf": config.staff_effect_scs_sf,
        "ffmq15": config.staff_effect_ffmq15,
        "cbi": config.staff_effect_cbi,
    }
    distress = rng.standard_normal(n)
    occ_sd = 0.3
    latent_pre, latent_post = {}, {}
    for spec in STAFF_SPECS:
        sign = 1.0 if spec.higher_is_worse else -1.0
        trait = sign * 0.6 * distress + 0.8 * rng.standard_normal(n)
        latent_pre[spec.key] = trait + rng.normal(0, occ_sd, n)
        latent_post[spec.key] = trait + effects[spec.key] + rng.normal(0, occ_sd, n)

    p_drop = expit(logit(config.staff_attrition) + config.staff_attrition_log_or * latent_pre["cbi"])
    has_post = rng.random(n) >= p_drop
    pre_date = np.datetime64(config.staff_pre_start, "D") + rng.integers(0, 28, n).astype("timedelta64[D]")
    post_date = pre_date + (7 * config.staff_post_weeks + rng.integers(-3, 4, n)).astype("timedelta64[D]")

    idx = np.r_[np.arange(n), np.flatnonzero(has_post)]
    wave = np.r_[np.full(n, "pre", dtype=object), np.full(int(has_post.sum()), "post", dtype=object)]
    frame = pd.DataFrame(
        {
            "staff_id": staff_id[idx],
            "site": site[idx],
            "wave": wave,
            "date": np.r_[pre_date, post_date[has_post]],
        }
    )
    spec_truth: dict[str, object] = {}
    sd = float(np.sqrt(0.6**2 + 0.8**2 + occ_sd**2))
    for spec in STAFF_SPECS:
        b = _intercepts(items_rng, spec)
        sign = _signs(spec, latent_is_severity=False)
        lat = np.r_[latent_pre[spec.key], latent_post[spec.key][has_post]]
        vals = _blank(rng, _items(rng, spec, lat, b, sign), config.staff_item_missing_prob, 0.0)
        for j, col in enumerate(spec.columns()):
            frame[col] = pd.array(vals[:, j], dtype="Float64").astype("Int64")
        pre = expected_scored_items(spec, b, sign, 0.0, sd)
        post = expected_scored_items(spec, b, sign, effects[spec.key], sd)
        spec_truth[spec.key] = {
            "items": spec.n_items,
            "response_values": list(range(spec.low, spec.high + 1, spec.step)),
            "reverse_keyed_items": list(spec.reverse),
            "scored_total_higher_is_worse": spec.higher_is_worse,
            "effect_latent_sd": effects[spec.key],
            "item_intercepts": [round(float(v), 6) for v in b],
            "expected_scored_item_mean_pre": round(float(pre.mean()), 6),
            "expected_scored_item_mean_post": round(float(post.mean()), 6),
            "expected_scored_total_pre": round(float(pre.sum()), 6),
            "expected_scored_total_post": round(float(post.sum()), 6),
            "missing_cells": int(np.isnan(vals).sum()),
        }
    order = np.lexsort(((frame["wave"] == "post").to_numpy(), frame["staff_id"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    for c in ("staff_id", "site", "wave"):
        frame[c] = frame[c].astype("string")
    frame["date"] = frame["date"].astype("datetime64[s]")
    truth: dict[str, object] = {
        "staff": int(n),
        "with_post": int(has_post.sum()),
        "pre_only": int((~has_post).sum()),
        "latent_model": (
            "trait[i,k] = sign_k * 0.6 * distress[i] + 0.8 * z[i,k] (sign +1 for pss10 and cbi, whose totals "
            "rise with distress; -1 for mhc_sf, scs_sf, ffmq15); pre = trait + e, post = trait + effect_k + "
            "e, "
            "e ~ N(0, 0.3^2); latent traits are in the direction of each instrument's scored total; items "
            "as for ROM (reverse-keyed items generated with sign -1)"
        ),
        "attrition_model": (
            "P(no post wave) = expit(logit(staff_attrition) + staff_attrition_log_or * pre-wave cbi latent)"
        ),
        "item_missing_prob": config.staff_item_missing_prob,
        "instruments": spec_truth,
    }
    return frame, truth
