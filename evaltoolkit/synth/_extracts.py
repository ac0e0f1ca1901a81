"""Turn the clean event tables into the published extracts, injecting defect rows.

Every defect row is an *extra* record with exactly one defect; the clean records are never altered.
Removing the defect rows (duplicates: the second copy) gives back exactly the clean process that
the truth describes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import ED_HOUR_WEIGHTS, SECONDS_PER_DAY, TimeGrid, draw_times_in_months, rng_for
from ._events import Patients, _ed_duration, _los_days, age_band
from .config import SynthConfig

ATT_DEFECT_KINDS = (
    "exact_duplicate",
    "departure_before_arrival",
    "outside_window",
    "unknown_site",
    "missing_patient_id",
)
SPELL_DEFECT_KINDS = (
    "exact_duplicate",
    "stale_open_spell",
    "outside_window",
    "unknown_site",
    "missing_patient_id",
)


def _unused_patients(rng: np.random.Generator, patients: Patients, used: np.ndarray, n: int) -> np.ndarray:
    """``n`` distinct patients with no clean record in the table (so defect rows never clash)."""
    free = np.setdiff1d(np.arange(patients.pid.size), used)
    return rng.choice(free, size=n, replace=False)


def _spread(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=n)


def build_attendances(
    config: SynthConfig, grid: TimeGrid, patients: Patients, clean: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Published attendances extract (canonical columns) and the ids of the defect rows by kind."""
    rng = rng_for(seed, "defects_attendances")
    codes = np.array([s.code for s in config.sites], dtype=object)
    t_n = grid.n
    extract_s = np.datetime64(grid.extract, "s")

    n_dep = config.defects_att_departure_before_arrival
    n_out = config.defects_att_arrival_outside_window
    n_unk = config.defects_att_unknown_site
    n_mis = config.defects_att_missing_patient_id
    kinds = np.repeat(
        np.array(["departure_before_arrival", "outside_window", "unknown_site", "missing_patient_id"]),
        [n_dep, n_out, n_unk, n_mis],
    )
    pat = _unused_patients(rng, patients, clean["pat"].to_numpy(), kinds.size)
    month = _spread(rng, 1, t_n - 2, kinds.size)
    out_rows = np.flatnonzero(kinds == "outside_window")
    before = np.arange(out_rows.size) % 2 == 0
    month[out_rows[before]] = _spread(rng, -6, -1, int(before.sum()))
    month[out_rows[~before]] = _spread(rng, t_n, t_n + 1, int((~before).sum()))
    arrival = draw_times_in_months(rng, grid, month, ED_HOUR_WEIGHTS)
    departure = arrival + _ed_duration(rng, config, kinds.size).astype("timedelta64[s]")
    neg = kinds == "departure_before_arrival"
    departure[neg] = arrival[neg] - rng.integers(600, 6 * 3600, size=int(neg.sum())).astype("timedelta64[s]")

    site = codes[patients.site[pat]]
    site[kinds == "unknown_site"] = config.unknown_site_code
    pid = patients.pid[pat].copy()
    pid[kinds == "missing_patient_id"] = None

    c_pat = clean["pat"].to_numpy()
    c_arr = clean["arrival"].to_numpy().astype("datetime64[s]")
    c_dep = clean["departure"].to_numpy().astype("datetime64[s]")
    c_dep = np.where(c_dep >= extract_s, np.datetime64("NaT", "s"), c_dep)  # still in ED at extract

    frame = pd.DataFrame(
        {
            "patient_id": np.r_[patients.pid[c_pat], pid],
            "site": np.r_[codes[clean["site_idx"].to_numpy()], site],
            "arrival": np.r_[c_arr, arrival],
            "departure": np.r_[c_dep, departure],
            "age_band": np.r_[age_band(patients.birth[c_pat], c_arr), age_band(patients.birth[pat], arrival)],
            "sex": np.r_[patients.sex[c_pat], patients.sex[pat]],
            "pd_flag": np.r_[patients.pd[c_pat], patients.pd[pat]],
            "_kind": np.r_[np.full(c_pat.size, "", dtype=object), kinds.astype(object)],
        }
    )
    frame = frame.sort_values(["arrival", "site", "patient_id"], kind="mergesort", na_position="first")
    frame.insert(0, "attendance_id", [f"EC{i:08d}" for i in range(1, len(frame) + 1)])
    frame = frame.reset_index(drop=True)

    clean_rows = np.flatnonzero(frame["_kind"].to_numpy() == "")
    dup_src = rng.choice(clean_rows, size=config.defects_att_duplicates, replace=False)
    dups = frame.iloc[np.sort(dup_src)].assign(_kind="exact_duplicate")
    frame = pd.concat([frame, dups], ignore_index=True)
    frame = frame.sort_values(["arrival", "attendance_id"], kind="mergesort").reset_index(drop=True)

    ids = {k: sorted(frame.loc[frame["_kind"] == k, "attendance_id"].tolist()) for k in ATT_DEFECT_KINDS}
    out = frame.drop(columns="_kind")
    out["patient_id"] = out["patient_id"].astype("string")
    out["pd_flag"] = out["pd_flag"].astype("boolean")
    for c in ("attendance_id", "site", "age_band", "sex"):
        out[c] = out[c].astype("string")
    out["arrival"] = out["arrival"].astype("datetime64[s]")
    out["departure"] = out["departure"].astype("datetime64[s]")
    return out, ids


def build_spells(
    config: SynthConfig, grid: TimeGrid, patients: Patients, clean: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Published spells extract (canonical columns) and the ids of the defect rows by kind."""
    rng = rng_for(seed, "defects_spells")
    codes = np.array([s.code for s in config.sites], dtype=object)
    t_n = grid.n
    extract_s = np.datetime64(grid.extract, "s")

    counts = [
        config.defects_spell_stale_open,
        config.defects_spell_admitted_after_extract,
        config.defects_spell_unknown_site,
        config.defects_spell_missing_patient_id,
    ]
    kinds = np.repeat(
        np.array(["stale_open_spell", "outside_window", "unknown_site", "missing_patient_id"]), counts
    )
    n = kinds.size
    pat = _unused_patients(rng, patients, clean["pat"].to_numpy(), n)

    stale_last = grid.month_index(grid.extract - np.timedelta64(config.stale_open_min_age_days, "D")) - 1
    closed_last = grid.month_index(grid.extract - np.timedelta64(int(config.los_max_days) + 1, "D")) - 1
    month = _spread(rng, 0, closed_last, n)
    stale = kinds == "stale_open_spell"
    month[stale] = _spread(rng, 0, stale_last, int(stale.sum()))
    future = kinds == "outside_window"
    month[future] = _spread(rng, t_n, t_n + 1, int(future.sum()))
    admitted = draw_times_in_months(rng, grid, month, ED_HOUR_WEIGHTS)
    pd_flag = patients.pd[pat]
    los = _los_days(rng, config, pd_flag, np.zeros(n, bool))
    discharged = admitted + np.round(los * SECONDS_PER_DAY).astype("timedelta64[s]")
    discharged[stale | future] = np.datetime64("NaT", "s")
    ward = np.where(rng.random(n) < 0.7, "mental_health", "acute").astype(object)
    method = np.where(rng.random(n) < 0.1, "elective", "emergency").astype(object)
    site = codes[patients.site[pat]]
    site[kinds == "unknown_site"] = config.unknown_site_code
    pid = patients.pid[pat].copy()
    pid[kinds == "missing_patient_id"] = None

    c_pat = clean["pat"].to_numpy()
    c_dis = clean["discharged"].to_numpy().astype("datetime64[s]")
    c_dis = np.where(c_dis >= extract_s, np.datetime64("NaT", "s"), c_dis)  # open at the extract date
    frame = pd.DataFrame(
        {
            "patient_id": np.r_[patients.pid[c_pat], pid],
            "site": np.r_[codes[clean["site_idx"].to_numpy()], site],
            "admitted": np.r_[clean["admitted"].to_numpy().astype("datetime64[s]"), admitted],
            "discharged": np.r_[c_dis, discharged],
            "ward_type": np.r_[clean["ward_type"].to_numpy(), ward],
            "admission_method": np.r_[clean["admission_method"].to_numpy(), method],
            "_kind": np.r_[np.full(c_pat.size, "", dtype=object), kinds.astype(object)],
        }
    )
    frame = frame.sort_values(["admitted", "site", "patient_id"], kind="mergesort", na_position="first")
    frame.insert(0, "spell_id", [f"SP{i:07d}" for i in range(1, len(frame) + 1)])
    frame = frame.reset_index(drop=True)

    clean_rows = np.flatnonzero(frame["_kind"].to_numpy() == "")
    dup_src = rng.choice(clean_rows, size=config.defects_spell_duplicates, replace=False)
    dups = frame.iloc[np.sort(dup_src)].assign(_kind="exact_duplicate")
    frame = pd.concat([frame, dups], ignore_index=True)
    frame = frame.sort_values(["admitted", "spell_id"], kind="mergesort").reset_index(drop=True)

    ids = {k: sorted(frame.loc[frame["_kind"] == k, "spell_id"].tolist()) for k in SPELL_DEFECT_KINDS}
    out = frame.drop(columns="_kind")
    for c in ("spell_id", "patient_id", "site", "ward_type", "admission_method"):
        out[c] = out[c].astype("string")
    out["admitted"] = out["admitted"].astype("datetime64[s]")
    out["discharged"] = out["discharged"].astype("datetime64[s]")
    return out, ids
