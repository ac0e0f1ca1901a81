"""Orchestration: :func:`generate` and the :class:`SynthData` container."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._common import TimeGrid, make_grid
from ._events import (
    Patients,
    effect_log,
    end_dates,
    go_live_months,
    make_attendances,
    make_cohort,
    make_patients,
    make_population,
    make_spells,
    site_month_counts,
)
from ._extracts import build_attendances, build_spells
from ._measures import make_rom, make_staff
from .config import DEFAULT_SEED, SynthConfig

__all__ = ["SynthData", "generate"]

TRUTH_VERSION = 1


@dataclass(frozen=True)
class SynthData:
    """A generated synthetic dataset: one DataFrame per extract plus the known truth.

    Attributes
    ----------
    attendances, spells, population, sites, cohort, rom_responses, staff_survey : pandas.DataFrame
        The extracts, with the canonical columns of :mod:`evaltoolkit.schemas` (``sites`` has
        ``site, site_name, go_live, implements``). Defect rows are included, exactly as written to disk.
    truth : dict
        Everything needed to check an analysis: the generating model and its parameters, the true
        effects, realised clean totals and every injected defect (count, rule and row ids). This is
        the content of ``truth.json``.
    """

    attendances: pd.DataFrame
    spells: pd.DataFrame
    population: pd.DataFrame
    sites: pd.DataFrame
    cohort: pd.DataFrame
    rom_responses: pd.DataFrame
    staff_survey: pd.DataFrame
    truth: dict[str, Any]


def _r(x: float) -> float:
    return round(float(x), 6)


def _check_config(config: SynthConfig) -> None:
    if not config.sites:
        raise ValueError("config.sites is empty; at least one site is needed")
    codes = [s.code for s in config.sites]
    if len(set(codes)) != len(codes):
        raise ValueError(f"site codes must be unique, got {codes}")
    if config.unknown_site_code in codes:
        raise ValueError(f"unknown_site_code {config.unknown_site_code!r} is a real site code")
    if config.stale_open_min_age_days <= config.los_max_days:
        raise ValueError("stale_open_min_age_days must exceed los_max_days so stale spells are unambiguous")
    for name in ("ed_level_rr", "ed_slope_rr_per_month", "spell_level_rr", "spell_slope_rr_per_month",
                 "los_ratio_after", "gamma_shape"):  # fmt: skip
        if getattr(config, name) <= 0:
            raise ValueError(f"{name} must be positive, got {getattr(config, name)}")


def _naive_ratios(
    config: SynthConfig, patients: Patients, att: pd.DataFrame, cohort: pd.DataFrame
) -> dict[str, Any]:
    """Realised naive before/after ratios of clean ED attendances in the crisis cohort."""
    w = config.cohort_window_days
    m = att[["pat", "arrival"]].merge(cohort[["pat", "site_idx", "index_date"]], on="pat")
    day = m["arrival"].to_numpy().astype("datetime64[D]")
    delta = (day - m["index_date"].to_numpy().astype("datetime64[D]")).astype(np.int64)
    m = m.assign(pre=(delta > -w) & (delta <= 0), post=(delta > 0) & (delta <= w))
    per = m.groupby("pat")[["pre", "post"]].sum()
    per = cohort[["pat", "site_idx"]].set_index("pat").join(per).fillna(0)
    codes = [s.code for s in config.sites]
    by_site = {}
    for s, g in per.groupby("site_idx"):
        by_site[codes[int(s)]] = {
            "patients": len(g),
            "attendances_before": int(g["pre"].sum()),
            "attendances_after": int(g["post"].sum()),
            "ratio_after_to_before": _r(g["post"].sum() / g["pre"].sum()),
        }
    implements = np.array([s.go_live is not None for s in config.sites])
    groups = {}
    for label, mask in (("control", ~implements), ("implementing", implements)):
        g = per[mask[per["site_idx"].to_numpy().astype(int)]]
        groups[label] = {
            "patients": len(g),
            "attendances_before": int(g["pre"].sum()),
            "attendances_after": int(g["post"].sum()),
            "ratio_after_to_before": _r(g["post"].sum() / g["pre"].sum()) if len(g) else None,
        }
    return {"by_site": by_site, **groups}


def _sites_frame(config: SynthConfig) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site": pd.array([s.code for s in config.sites], dtype="string"),
            "site_name": pd.array([s.name for s in config.sites], dtype="string"),
            "go_live": pd.to_datetime([s.go_live for s in config.sites]).astype("datetime64[s]"),
            "implements": np.array([s.go_live is not None for s in config.sites]),
        }
    )


def _population_frame(config: SynthConfig, grid: TimeGrid, pop: np.ndarray) -> pd.DataFrame:
    n_s, n_t = pop.shape
    return pd.DataFrame(
        {
            "site": pd.array(np.repeat([s.code for s in config.sites], n_t), dtype="string"),
            "period": np.tile(grid.month_start, n_s).astype("datetime64[s]"),
            "population": pop.reshape(-1).astype(np.int64),
        }
    )


def _config_dict(config: SynthConfig) -> dict[str, Any]:
    d = dataclasses.asdict(config)
    d["sites"] = [dataclasses.asdict(s) for s in config.sites]
    return d


def generate(config: SynthConfig | None = None, *, seed: int = DEFAULT_SEED) -> SynthData:
    """Generate a synthetic evaluation dataset with known truth.

    Site-month counts of mental-health ED attendances and admissions follow a log-linear model
    (population offset, site intercept, secular trend, annual seasonality, AR(1) site shocks,
    gamma overdispersion) with a known level and slope change in the PD-flagged streams at
    implementing sites after go-live. Events go to patients with heavy-tailed frailty and transient
    crisis bursts, so a cohort selected at a crisis shows regression to the mean. Defect rows are
    added on top of the clean records and listed in ``truth["defects"]``.

    Parameters
    ----------
    config : SynthConfig, optional
        Generator parameters; defaults to ``SynthConfig()``.
    seed : int
        Seed of every random stream. The same ``(config, seed)`` always gives identical data.

    Returns
    -------
    SynthData
        The extracts as DataFrames and the ``truth`` dictionary.

    Examples
    --------
    >>> from evaltoolkit.synth import SynthConfig, generate
    >>> small = SynthConfig(pd_patients_per_site=60, other_patients_per_site=400, rom_patients=20, staff_n=10,
    ...                     ed_pd_rate_per_100k=2.0, ed_other_rate_per_100k=4.0,
    ...                     spell_pd_rate_per_100k=0.5, spell_other_rate_per_100k=1.0)
    >>> data = generate(small, seed=1)
    >>> list(data.attendances.columns)
    ['attendance_id', 'patient_id', 'site', 'arrival', 'departure', 'age_band', 'sex', 'pd_flag']
    >>> defects = data.truth["defects"]["attendances"]
    >>> int(data.attendances.duplicated().sum()) == defects["exact_duplicate"]["count"]
    True
    """
    config = SynthConfig() if config is None else config
    _check_config(config)
    seed = int(seed)
    grid = make_grid(config)
    pop = make_population(config, grid)
    patients = make_patients(config, grid, seed)

    ed_eff, _, _ = effect_log(config, grid, config.ed_level_rr, config.ed_slope_rr_per_month)
    sp_eff, _, _ = effect_log(config, grid, config.spell_level_rr, config.spell_slope_rr_per_month)
    ed_counts = site_month_counts(
        config, grid, pop, seed, "ed_rates",
        {"pd": config.ed_pd_rate_per_100k, "other": config.ed_other_rate_per_100k}, {"pd": ed_eff},
    )  # fmt: skip
    sp_counts = site_month_counts(
        config, grid, pop, seed, "spell_rates",
        {"pd": config.spell_pd_rate_per_100k, "other": config.spell_other_rate_per_100k}, {"pd": sp_eff},
    )  # fmt: skip
    att_clean = make_attendances(config, grid, patients, ed_counts, seed)
    sp_clean = make_spells(config, grid, patients, sp_counts, seed)
    ends = end_dates(config, grid, patients, att_clean, sp_clean, seed)
    cohort_raw = make_cohort(config, grid, patients, att_clean, ends)

    attendances, att_defects = build_attendances(config, grid, patients, att_clean, seed)
    spells, sp_defects = build_spells(config, grid, patients, sp_clean, seed)
    rom, rom_truth = make_rom(config, grid, patients, seed)
    staff, staff_truth = make_staff(config, seed)

    codes = np.array([s.code for s in config.sites], dtype=object)
    cohort = pd.DataFrame(
        {
            "patient_id": pd.array(patients.pid[cohort_raw["pat"].to_numpy()], dtype="string"),
            "site": pd.array(codes[cohort_raw["site_idx"].to_numpy()], dtype="string"),
            "pd_flag": pd.array(np.ones(len(cohort_raw), bool), dtype="boolean"),
            "index_date": cohort_raw["index_date"].to_numpy().astype("datetime64[s]"),
            "end_date": cohort_raw["end_date"].to_numpy().astype("datetime64[s]"),
        }
    )
    order = np.lexsort((cohort["patient_id"].to_numpy(dtype=object), cohort["site"].to_numpy(dtype=object)))
    cohort = cohort.iloc[order].reset_index(drop=True)

    extract_s = np.datetime64(grid.extract, "s")
    gl = go_live_months(config, grid)

    def counts_by_site(frame: pd.DataFrame, mask: np.ndarray | None = None) -> dict[str, int]:
        f = frame if mask is None else frame[mask]
        vc = f["site_idx"].value_counts()
        return {str(codes[s]): int(vc.get(s, 0)) for s in range(len(codes))}

    pd_att = patients.pd[att_clean["pat"].to_numpy()]
    sp_pd = sp_clean["pd_stream"].to_numpy()
    closed = sp_clean["discharged"].to_numpy() < extract_s
    los = sp_clean["los_days"].to_numpy()
    after = sp_clean["after"].to_numpy()
    impl_site = gl[sp_clean["site_idx"].to_numpy()] >= 0

    def rate_effect(level_rr: float, slope_rr: float, what: str) -> dict[str, Any]:
        return {
            "applies_to": what,
            "level_change_rr": _r(level_rr),
            "level_change_log": _r(np.log(level_rr)),
            "slope_change_rr_per_month": _r(slope_rr),
            "slope_change_log_per_month": _r(np.log(slope_rr)),
            "rate_ratio_after_12_months": _r(level_rr * slope_rr**12),
            "rate_ratio_after_24_months": _r(level_rr * slope_rr**24),
        }

    model_text = (
        "count[s,t,g] ~ Poisson(mu[s,t,g] * G[s,t,g]), G ~ Gamma(shape=gamma_shape, scale=1/gamma_shape); "
        "log mu[s,t,g] = log(population[s,t]) + log(rate_per_100k[g] / 1e5) + site_log_rate_offset[s] "
        "+ trend_log_per_year * t / 12 + season_amplitude * cos(2*pi*(calendar_month[t] - "
        "season_peak_month)/12) "
        "+ u[s,t] + [g = pd] * (level_change_log * post[s,t] + slope_change_log_per_month * "
        "months_since[s,t]); "
        "u[s,t] = ar_phi * u[s,t-1] + N(0, ar_sigma^2) (stationary start), shared by the pd and other "
        "streams "
        "of a site; ED attendances and admissions have independent u, G and Poisson draws"
    )
    time_coding = (
        "t = months since the window start (0 = first month); post[s,t] = 1 from the go-live month onwards "
        "at implementing sites, else 0; months_since[s,t] = t - go_live_month[s] when post = 1, else 0, "
        "so the slope change is per month since go-live with 0 in the go-live month. Attendances are "
        "counted by arrival month, admissions by admission month."
    )

    truth: dict[str, Any] = {
        "truth_version": TRUTH_VERSION,
        "generator": "evaltoolkit.synth.generate",
        "seed": seed,
        "config": _config_dict(config),
        "window": {
            "start": config.start,
            "extract_date": config.extract_date,
            "end_exclusive": config.extract_date,
            "months": grid.n,
            "first_month": str(grid.month_start[0]),
            "last_month": str(grid.month_start[-1]),
        },
        "sites": [
            {
                "site": s.code,
                "site_name": s.name,
                "implements": s.go_live is not None,
                "go_live": s.go_live,
                "go_live_month_index": None if gl[i] < 0 else int(gl[i]),
                "months_before_go_live": None if gl[i] < 0 else int(gl[i]),
                "months_from_go_live": None if gl[i] < 0 else int(grid.n - gl[i]),
                "log_rate_offset": s.log_rate_offset,
                "population_first_month": int(pop[i, 0]),
                "population_last_month": int(pop[i, -1]),
            }
            for i, s in enumerate(config.sites)
        ],
        "model": {
            "site_month_counts": model_text,
            "time_coding": time_coding,
            "streams": {
                "attendances": {"pd": config.ed_pd_rate_per_100k, "other": config.ed_other_rate_per_100k},
                "spells": {"pd": config.spell_pd_rate_per_100k, "other": config.spell_other_rate_per_100k},
            },
            "stream_definition": "pd = attendances/spells of patients with pd_flag True; other = the rest",
            "trend_log_per_year": config.trend_log_per_year,
            "season_amplitude": config.season_amplitude,
            "season_peak_month": config.season_peak_month,
            "ar_phi": config.ar_phi,
            "ar_sigma": config.ar_sigma,
            "gamma_shape": config.gamma_shape,
            "patient_allocation": (
                "each site-month's events go to that site's patients of the stream with probability "
                "proportional to frailty * (burst_multiplier if in a crisis burst else 1) * active; frailty "
                "~ mean-one lognormal; bursts only for PD patients (Markov: start burst_start_prob, continue "
                "burst_continue_prob); a patient's attendances are at least 1 hour apart and spells of one "
                "patient never overlap (clashing events are re-timed within the month or re-allocated)"
            ),
            "ed_duration": (
                "departure = arrival + lognormal(median ed_duration_median_hours, sigma), 15 min to 48 h"
            ),
            "departure_censoring": "departure left empty when it falls on or after the extract date",
        },
        "effects": {
            "attendances_pd": rate_effect(
                config.ed_level_rr,
                config.ed_slope_rr_per_month,
                "PD-flagged ED attendances at implementing sites from the go-live month",
            ),
            "spells_pd": rate_effect(
                config.spell_level_rr,
                config.spell_slope_rr_per_month,
                "PD-flagged admissions at implementing sites from the go-live month",
            ),
            "attendances_other": "none (rate ratio 1)",
            "spells_other": "none (rate ratio 1)",
            "control_sites": "none",
            "los_pd": {
                "applies_to": "PD spells admitted on or after go-live at implementing sites",
                "los_ratio": _r(config.los_ratio_after),
                "los_log_shift": _r(np.log(config.los_ratio_after)),
                "model": (
                    "LOS days ~ lognormal with log-mean log(mean) - sigma^2/2 (+ log(los_ratio) after "
                    "go-live), "
                    "clipped to [los_min_days, los_max_days]; every quantile is multiplied by los_ratio"
                ),
                "baseline_mean_days_pd": config.los_pd_mean_days,
                "baseline_mean_days_other": config.los_other_mean_days,
                "sigma_pd": config.los_sigma_pd,
                "sigma_other": config.los_sigma_other,
                "realised_mean_los_closed_pd_implementing_before": _r(
                    los[sp_pd & impl_site & ~after & closed].mean()
                ),
                "realised_mean_los_closed_pd_implementing_after": _r(
                    los[sp_pd & impl_site & after & closed].mean()
                ),
                "realised_mean_los_closed_pd_control": _r(los[sp_pd & ~impl_site & closed].mean()),
                "realised_note": (
                    "means of exact (un-rounded) LOS in days of clean closed spells; open spells excluded"
                ),
            },
        },
        "realised": {
            "note": "clean records only: defect rows are excluded from every figure here",
            "attendances": {
                "clean_total": len(att_clean),
                "clean_pd": int(pd_att.sum()),
                "clean_other": int((~pd_att).sum()),
                "clean_by_site": counts_by_site(att_clean),
                "clean_pd_by_site": counts_by_site(att_clean, pd_att),
                "censored_departures": int((att_clean["departure"].to_numpy() >= extract_s).sum()),
                "distinct_patients": int(att_clean["pat"].nunique()),
                "rows_in_file": len(attendances),
            },
            "spells": {
                "clean_total": len(sp_clean),
                "clean_pd": int(sp_pd.sum()),
                "clean_other": int((~sp_pd).sum()),
                "clean_by_site": counts_by_site(sp_clean),
                "clean_pd_by_site": counts_by_site(sp_clean, sp_pd),
                "clean_open_at_extract": int((~closed).sum()),
                "clean_pd_linkable_via_attendances": int(
                    np.isin(sp_clean["pat"].to_numpy()[sp_pd], att_clean["pat"].to_numpy()[pd_att]).sum()
                ),
                "pd_linkage_note": (
                    "spells.csv has no pd_flag column: a spell is a PD spell when its patient is PD-flagged; "
                    "from the files this is visible only through the patient's attendances (pd_flag), so PD "
                    "patients with spells but no ED attendance cannot be identified"
                ),
                "spanning_2020_02_29": _spans(sp_clean, "2020-02-29"),
                "spanning_2024_02_29": _spans(sp_clean, "2024-02-29"),
                "crossing_month_boundary": int(
                    (
                        sp_clean["admitted"].to_numpy().astype("datetime64[M]")
                        != np.minimum(sp_clean["discharged"].to_numpy(), extract_s).astype("datetime64[M]")
                    ).sum()
                ),
                "crossing_year_boundary": int(
                    (
                        sp_clean["admitted"].to_numpy().astype("datetime64[Y]")
                        != np.minimum(sp_clean["discharged"].to_numpy(), extract_s).astype("datetime64[Y]")
                    ).sum()
                ),
                "rows_in_file": len(spells),
            },
        },
        "regression_to_the_mean": {
            "selection_rule": (
                f"a PD patient's first eligible calendar month with at least {config.cohort_min_attendances} "
                "clean ED attendances; index_date = arrival date of attendance number "
                f"{config.cohort_min_attendances} in that month; eligible months lie wholly within "
                f"[window start + {config.cohort_window_days - 1} days, extract date - "
                f"{config.cohort_window_days + 1} days] (a full {config.cohort_window_days}-day window each "
                "side "
                "of the index date) and, at implementing sites, on or after the go-live month"
            ),
            "mechanism": (
                "patient-level rates have transient crisis bursts (x burst_multiplier), so selection at a "
                "crisis "
                "inflates the before window; control-site cohorts show a fall with no true effect"
            ),
            "naive_ratio_definition": (
                f"sum over cohort of clean ED attendances with arrival date in (index_date, index_date + "
                f"{config.cohort_window_days} days] divided by the sum with arrival date in (index_date - "
                f"{config.cohort_window_days} days, index_date] (the index day counts as before); duplicates "
                "and other defect rows excluded; follow-up is not truncated at end_date"
            ),
            "cohort_size": len(cohort),
            "with_end_date": int(cohort["end_date"].notna().sum()),
            "end_date_meaning": "death or transfer out: the patient has no events after end_date",
            "naive_before_after": _naive_ratios(config, patients, att_clean, cohort_raw),
            "expected_ratio_without_selection_control": _r(np.exp(config.trend_log_per_year)),
        },
        "rom": rom_truth,
        "staff_survey": staff_truth,
        "defects": {
            "note": (
                "every defect row is an extra record with exactly one defect; clean records are never "
                "altered, "
                "and the truth series (effects, realised totals, cohort) describe the clean records only. "
                "Removing the defect rows (for duplicates, the second copy) leaves exactly the clean data"
            ),
            "attendances": _defect_block(att_defects, _ATT_RULES),
            "spells": _defect_block(sp_defects, _spell_rules(config)),
            "not_defects": [
                "empty departure: the patient was still in ED at the extract date (censoring)",
                "empty discharged on spells admitted within los_max_days of the extract date (open spells)",
                "empty item cells in rom_responses and staff_survey (item non-response)",
                "empty end_date in cohort (no death or transfer)",
            ],
        },
    }

    population = _population_frame(config, grid, pop)
    return SynthData(
        attendances=attendances,
        spells=spells,
        population=population,
        sites=_sites_frame(config),
        cohort=cohort,
        rom_responses=rom,
        staff_survey=staff,
        truth=truth,
    )


def _spans(spells: pd.DataFrame, day: str) -> int:
    d0 = np.datetime64(day, "s")
    d1 = d0 + np.timedelta64(1, "D")
    return int(((spells["admitted"].to_numpy() < d1) & (spells["discharged"].to_numpy() > d0)).sum())


_DUP_RULE = "a second copy of a clean row, identical in every column (pandas DataFrame.duplicated())"
_ATT_RULES = {
    "exact_duplicate": _DUP_RULE,
    "departure_before_arrival": "departure < arrival",
    "outside_window": "arrival before the window start or on/after the extract date",
    "unknown_site": "site code not in sites.csv",
    "missing_patient_id": "patient_id empty",
}


def _spell_rules(config: SynthConfig) -> dict[str, str]:
    return {
        "exact_duplicate": _DUP_RULE,
        "stale_open_spell": (
            f"discharged empty although admitted more than {int(config.los_max_days)} days before the "
            "extract "
            f"date (clean LOS never exceeds {int(config.los_max_days)} days; stale rows are admitted at "
            "least "
            f"{config.stale_open_min_age_days} days before it)"
        ),
        "outside_window": "admitted on/after the extract date (discharged empty)",
        "unknown_site": "site code not in sites.csv",
        "missing_patient_id": "patient_id empty",
    }


def _defect_block(ids: dict[str, list[str]], rules: dict[str, str]) -> dict[str, Any]:
    block: dict[str, Any] = {k: {"count": len(v), "rule": rules[k], "ids": v} for k, v in ids.items()}
    block["total_defect_rows"] = sum(len(v) for v in ids.values())
    return block
