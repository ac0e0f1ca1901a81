"""Parameters of the synthetic-data generator.

Every number the generator uses lives here, in one frozen dataclass, so a
dataset is fully described by ``(config, seed)``. Defaults follow the base
rates in the project's domain notes (PD ≈ 20–25 % of mental-health ED
activity, PD length of stay ≈ 13 days with a long right tail, true effects
of −15 % to −30 % on ED attendances and admissions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_SEED", "SiteSpec", "SynthConfig"]

DEFAULT_SEED = 20261121


@dataclass(frozen=True)
class SiteSpec:
    """One synthetic site (hospital / service).

    Parameters
    ----------
    code : str
        Synthetic site code, e.g. ``"RA1"``.
    name : str
        Display name.
    go_live : str or None
        First day of the month in which the service change went live
        (``YYYY-MM-01``); ``None`` for a control site that never implements.
    population : int
        Population served in the first month of the window.
    growth_per_year : float
        Relative population growth per year (0.006 = 0.6 % a year).
    log_rate_offset : float
        Site intercept added to every stream's log rate (site heterogeneity).
    """

    code: str
    name: str
    go_live: str | None
    population: int
    growth_per_year: float
    log_rate_offset: float


def _default_sites() -> tuple[SiteSpec, ...]:
    return (
        SiteSpec("RA1", "Synthetic Site A", "2021-04-01", 320_000, 0.007, 0.05),
        SiteSpec("RB2", "Synthetic Site B", "2022-01-01", 210_000, 0.005, 0.15),
        SiteSpec("RC3", "Synthetic Site C", "2022-10-01", 260_000, 0.008, -0.05),
        SiteSpec("RD4", "Synthetic Site D (control)", None, 180_000, 0.006, 0.10),
    )


@dataclass(frozen=True)
class SynthConfig:
    """All parameters of :func:`evaltoolkit.synth.generate`, with documented defaults.

    Rates are per 100,000 population per month at the start of the window;
    effects on the log scale are derived from the rate ratios given here.
    Time is coded in months: ``t = 0`` is the month of ``start``; at an
    implementing site with go-live month ``T`` the effect on the log rate is
    ``log(level_rr) * post + log(slope_rr_per_month) * (t - T) * post`` with
    ``post = 1`` from the go-live month on, so the slope term is 0 in the
    go-live month itself.

    Parameters
    ----------
    start, extract_date : str
        Window start (first month) and extract date (exclusive end of the
        window; the censoring date). Both must be first days of months.
    sites : tuple of SiteSpec
        The sites. Sites with ``go_live=None`` are controls.
    ed_pd_rate_per_100k, ed_other_rate_per_100k : float
        Baseline monthly rate of mental-health ED attendances by patients
        with (PD) and without (other) a personality-disorder flag.
    spell_pd_rate_per_100k, spell_other_rate_per_100k : float
        Baseline monthly rate of mental-health-related admissions.
    trend_log_per_year : float
        Secular trend on the log scale per year (all streams).
    season_amplitude : float
        Amplitude of the annual cosine on the log scale.
    season_peak_month : int
        Calendar month (1–12) at which the seasonal term peaks.
    ar_phi, ar_sigma : float
        AR(1) coefficient and innovation SD of the site-level monthly shock
        on the log scale (shared by the PD and other streams of a site; ED and
        admissions have independent shocks).
    gamma_shape : float
        Shape of the mean-one gamma multiplier on each site-month-stream
        expected count (overdispersion; variance of the multiplier 1/shape).
    ed_level_rr, ed_slope_rr_per_month : float
        True level change (rate ratio at go-live) and slope change (rate ratio
        per month since go-live) of PD ED attendances at implementing sites.
    spell_level_rr, spell_slope_rr_per_month : float
        The same for PD admissions.
    los_pd_mean_days, los_other_mean_days : float
        Mean length of stay (days) of the lognormal LOS distributions.
    los_sigma_pd, los_sigma_other : float
        Log-scale SD of the LOS distributions (heavy right tail).
    los_ratio_after : float
        Multiplicative shift of PD LOS for PD spells admitted on or after
        go-live at implementing sites (every quantile is multiplied).
    los_min_days, los_max_days : float
        LOS is clipped to this range (so every clean open spell was admitted
        less than ``los_max_days`` before the extract date).
    ed_duration_median_hours, ed_duration_sigma : float
        Lognormal time in ED (arrival to departure).
    pd_patients_per_site, other_patients_per_site : int
        Size of each site's PD-flagged and background patient pools.
    frailty_sigma_pd, frailty_sigma_other : float
        Log-scale SD of the mean-one lognormal patient frailty (heavy tail:
        a few frequent attenders).
    burst_start_prob, burst_continue_prob, burst_multiplier : float
        PD patients' transient crisis bursts: a burst starts in a month with
        probability ``burst_start_prob``, continues into the next month with
        probability ``burst_continue_prob`` and multiplies the patient's
        weight by ``burst_multiplier``.
    pd_late_entry_fraction, pd_exit_fraction : float
        Share of PD patients who join the pool after the start, and who leave
        it (death / transfer out) before the extract date.
    cohort_min_attendances : int
        Crisis selection: index month = first eligible month with at least
        this many ED attendances.
    cohort_window_days : int
        Length of the before and after windows used for the eligibility
        period and the naive before/after ratio.
    defects_* : int
        Number of injected defect rows of each kind (see the data dictionary).
    unknown_site_code : str
        The site code used for unknown-site defect rows.
    stale_open_min_age_days : int
        Stale open spells are admitted at least this many days before the
        extract date (must exceed ``los_max_days``).
    rom_patients : int
        Patients in the CHANGE-style programme.
    rom_weekly_change : float
        True mean change of latent severity per week (SD units; negative =
        improvement).
    rom_slope_sd, rom_occasion_sd, rom_instrument_sd : float
        SD of patient-specific weekly change, occasion noise and
        patient-by-instrument deviation on the latent scale.
    rom_dropout_base, rom_dropout_log_or : float
        Drop-out hazard after each attended occasion is
        ``expit(logit(rom_dropout_base) + rom_dropout_log_or * severity)``
        with the latent severity at that occasion.
    rom_item_missing_prob, rom_form_missing_prob : float
        Probability that one item, or a whole instrument on one occasion, is
        missing.
    staff_n, staff_attrition, staff_attrition_log_or : float
        Staff surveyed at the pre wave; base probability of not answering the
        post wave and its log odds ratio per SD of latent burnout.
    staff_effect_* : float
        True pre→post change in each instrument's latent trait, in SD units,
        in the direction of the instrument's scored total.
    staff_item_missing_prob : float
        Probability that one staff-survey item is missing.
    staff_pre_start, staff_post_weeks : str, int
        First day of the pre wave (answers spread over four weeks) and weeks
        from pre to post.

    Examples
    --------
    >>> cfg = SynthConfig()
    >>> [s.code for s in cfg.sites]
    ['RA1', 'RB2', 'RC3', 'RD4']
    >>> SynthConfig(rom_patients=50).rom_patients
    50
    """

    start: str = "2019-04-01"
    extract_date: str = "2025-04-01"
    sites: tuple[SiteSpec, ...] = field(default_factory=_default_sites)

    # Log-linear rate model (ED attendances and admissions).
    ed_pd_rate_per_100k: float = 11.0
    ed_other_rate_per_100k: float = 38.0
    spell_pd_rate_per_100k: float = 2.6
    spell_other_rate_per_100k: float = 9.0
    trend_log_per_year: float = 0.02
    season_amplitude: float = 0.08
    season_peak_month: int = 6
    ar_phi: float = 0.6
    ar_sigma: float = 0.05
    gamma_shape: float = 60.0

    # True effects at implementing sites (PD streams only).
    ed_level_rr: float = 0.85
    ed_slope_rr_per_month: float = 0.996
    spell_level_rr: float = 0.80
    spell_slope_rr_per_month: float = 0.996

    # Length of stay.
    los_pd_mean_days: float = 13.0
    los_other_mean_days: float = 20.0
    los_sigma_pd: float = 1.1
    los_sigma_other: float = 1.0
    los_ratio_after: float = 0.70
    los_min_days: float = 0.05
    los_max_days: float = 365.0

    # Time in ED.
    ed_duration_median_hours: float = 4.0
    ed_duration_sigma: float = 0.6

    # Patients.
    pd_patients_per_site: int = 500
    other_patients_per_site: int = 5000
    frailty_sigma_pd: float = 0.6
    frailty_sigma_other: float = 1.1
    burst_start_prob: float = 0.02
    burst_continue_prob: float = 0.25
    burst_multiplier: float = 25.0
    pd_late_entry_fraction: float = 0.3
    pd_exit_fraction: float = 0.08

    # Crisis-selected cohort (regression to the mean).
    cohort_min_attendances: int = 3
    cohort_window_days: int = 365

    # Injected defects (extra rows; each has exactly one defect).
    defects_att_duplicates: int = 40
    defects_att_departure_before_arrival: int = 25
    defects_att_arrival_outside_window: int = 16
    defects_att_unknown_site: int = 12
    defects_att_missing_patient_id: int = 30
    defects_spell_duplicates: int = 15
    defects_spell_stale_open: int = 10
    defects_spell_admitted_after_extract: int = 6
    defects_spell_unknown_site: int = 5
    defects_spell_missing_patient_id: int = 8
    unknown_site_code: str = "ZZ9"
    stale_open_min_age_days: int = 400

    # Routine outcome measures (CHANGE-style, 8 weekly sessions).
    rom_patients: int = 300
    rom_weekly_change: float = -0.08
    rom_slope_sd: float = 0.06
    rom_occasion_sd: float = 0.3
    rom_instrument_sd: float = 0.3
    rom_dropout_base: float = 0.05
    rom_dropout_log_or: float = 0.6
    rom_item_missing_prob: float = 0.02
    rom_form_missing_prob: float = 0.02

    # Staff survey around a leadership programme.
    staff_n: int = 200
    staff_attrition: float = 0.25
    staff_attrition_log_or: float = 0.4
    staff_effect_pss10: float = -0.30
    staff_effect_mhc_sf: float = 0.25
    staff_effect_scs_sf: float = 0.30
    staff_effect_ffmq15: float = 0.35
    staff_effect_cbi: float = -0.25
    staff_item_missing_prob: float = 0.01
    staff_pre_start: str = "2023-09-04"
    staff_post_weeks: int = 26


def crisis_pathway_config() -> SynthConfig:
    """Parameters of the bundled NHS England-style crisis/ED personality-disorder pathway dataset
    (``synthetic_data/crisis_pathway``, used by ``protocols/crisis_pathway.yaml``).

    Three synthetic English trusts introduce a crisis and ED pathway for people with a personality-disorder
    diagnosis (liaison assessment in the ED, a brief intervention within days, rapid community follow-up) at
    staggered dates, beside one trust that does not. The true effects are smaller than in the default
    dataset (ED attendances 10% lower at go-live, admissions 12% lower, length of stay 15% shorter) and the
    window is the same six financial years.

    Examples
    --------
    >>> cfg = crisis_pathway_config()
    >>> [(s.code, s.go_live) for s in cfg.sites]  # doctest: +NORMALIZE_WHITESPACE
    [('RX1', '2022-04-01'), ('RX2', '2022-10-01'), ('RX3', '2023-04-01'), ('RX4', None)]
    >>> cfg.ed_level_rr, cfg.spell_level_rr
    (0.9, 0.88)
    """
    sites = (
        SiteSpec("RX1", "Synthetic Trust North", "2022-04-01", 410_000, 0.006, 0.10),
        SiteSpec("RX2", "Synthetic Trust East", "2022-10-01", 280_000, 0.004, 0.0),
        SiteSpec("RX3", "Synthetic Trust West", "2023-04-01", 350_000, 0.007, -0.08),
        SiteSpec("RX4", "Synthetic Trust South (comparison)", None, 300_000, 0.005, 0.05),
    )
    return SynthConfig(
        sites=sites,
        ed_level_rr=0.90,
        ed_slope_rr_per_month=0.997,
        spell_level_rr=0.88,
        spell_slope_rr_per_month=0.998,
        los_ratio_after=0.85,
        rom_patients=60,
        staff_n=40,
    )


PRESETS: dict[str, Callable[[], SynthConfig]] = {
    "project_air": SynthConfig,
    "crisis_pathway": crisis_pathway_config,
}
"""Named configurations of the bundled datasets: ``project_air`` (the default, ``synthetic_data/``) and
``crisis_pathway`` (``synthetic_data/crisis_pathway/``)."""
