"""Patients, the log-linear site-month rate model, ED attendances, admission spells, the crisis cohort."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._common import (
    ED_HOUR_WEIGHTS,
    ELECTIVE_HOUR_WEIGHTS,
    SECONDS_PER_DAY,
    TimeGrid,
    draw_times_in_months,
    rng_for,
)
from .config import SynthConfig

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_EDGES = np.array([25, 35, 45, 55, 65])


@dataclass
class Patients:
    """Every synthetic patient, in one set of parallel arrays (index = internal patient number)."""

    pid: np.ndarray  # str "P0001234"
    site: np.ndarray  # int site index
    pd: np.ndarray  # bool
    frailty: np.ndarray  # float, mean one
    entry: np.ndarray  # int, first active month
    exit: np.ndarray  # int, first inactive month (= T if the patient never leaves)
    birth: np.ndarray  # datetime64[D]
    sex: np.ndarray  # str F/M/U
    burst: np.ndarray  # bool (n, T); all False for background patients
    pools: dict[tuple[int, bool], np.ndarray]  # (site, pd) -> patient indices

    def weights(self, idx: np.ndarray, t: int, burst_multiplier: float) -> np.ndarray:
        """Allocation weights of patients ``idx`` in month ``t`` (frailty × burst × active)."""
        active = (self.entry[idx] <= t) & (t < self.exit[idx])
        bm = np.where(self.burst[idx, t], burst_multiplier, 1.0)
        return self.frailty[idx] * bm * active


def make_population(config: SynthConfig, grid: TimeGrid) -> np.ndarray:
    """Monthly population, shape (S, T): smooth exponential growth, rounded to whole persons."""
    t = np.arange(grid.n)
    pops = [
        np.round(s.population * (1.0 + s.growth_per_year) ** (t / 12.0)).astype(np.int64)
        for s in config.sites
    ]
    return np.vstack(pops)


def make_patients(config: SynthConfig, grid: TimeGrid, seed: int) -> Patients:
    rng = rng_for(seed, "patients")
    n_sites = len(config.sites)
    t_n = grid.n
    n_pd, n_other = config.pd_patients_per_site, config.other_patients_per_site
    per_site = n_pd + n_other
    n = n_sites * per_site
    site = np.repeat(np.arange(n_sites), per_site)
    pd_flag = np.tile(np.r_[np.ones(n_pd, bool), np.zeros(n_other, bool)], n_sites)

    numbers = rng.choice(9_999_999, size=n, replace=False) + 1
    pid = np.array([f"P{k:07d}" for k in numbers], dtype=object)

    sig = np.where(pd_flag, config.frailty_sigma_pd, config.frailty_sigma_other)
    frailty = np.exp(sig * rng.standard_normal(n) - sig**2 / 2.0)

    entry = np.zeros(n, np.int64)
    late = pd_flag & (rng.random(n) < config.pd_late_entry_fraction)
    entry[late] = rng.integers(1, t_n - 6, size=int(late.sum()))
    exit_ = np.full(n, t_n, np.int64)
    leaves = pd_flag & (rng.random(n) < config.pd_exit_fraction)
    exit_[leaves] = rng.integers(entry[leaves] + 3, t_n)

    # Age at the window start: PD patients younger (mean ≈ 34), background older and wider.
    age0 = np.where(pd_flag, 18.0 + rng.gamma(2.0, 8.0, n), 18.0 + rng.gamma(2.5, 12.0, n))
    age0 = np.minimum(age0, 95.0)
    birth = grid.start - np.round(age0 * 365.25).astype("timedelta64[D]")
    u = rng.random(n)
    f_share = np.where(pd_flag, 0.62, 0.48)
    sex = np.where(u < 0.01, "U", np.where(u < 0.01 + f_share, "F", "M")).astype(object)

    # Transient crisis bursts for PD patients: a two-state Markov chain per patient-month.
    burst = np.zeros((n, t_n), bool)
    pd_idx = np.flatnonzero(pd_flag)
    state = np.zeros(pd_idx.size, bool)
    draws = rng.random((pd_idx.size, t_n))
    for t in range(t_n):
        state = np.where(
            state, draws[:, t] < config.burst_continue_prob, draws[:, t] < config.burst_start_prob
        )
        burst[pd_idx, t] = state

    pools = {
        (s, f): np.flatnonzero((site == s) & (pd_flag == f)) for s in range(n_sites) for f in (True, False)
    }
    return Patients(pid, site, pd_flag, frailty, entry, exit_, birth, sex, burst, pools)


def go_live_months(config: SynthConfig, grid: TimeGrid) -> np.ndarray:
    """Go-live month index per site (-1 for controls)."""
    out = []
    for s in config.sites:
        out.append(-1 if s.go_live is None else grid.month_index(np.datetime64(s.go_live, "D")))
    return np.array(out, np.int64)


def effect_log(
    config: SynthConfig, grid: TimeGrid, level_rr: float, slope_rr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Effect on the log scale, shape (S, T), plus the post indicator and months since go-live."""
    t = np.arange(grid.n)[None, :]
    gl = go_live_months(config, grid)[:, None]
    post = ((gl >= 0) & (t >= gl)).astype(float)
    since = np.where(post > 0, t - gl, 0).astype(float)
    eff = np.log(level_rr) * post + np.log(slope_rr) * since
    return eff, post, since


def site_month_counts(
    config: SynthConfig,
    grid: TimeGrid,
    population: np.ndarray,
    seed: int,
    name: str,
    rates_per_100k: dict[str, float],
    effects: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Draw site-month counts for each stream of one event type (ED or admissions).

    log μ[s,t,g] = log pop[s,t] + log(rate_g / 1e5) + offset_s + trend·t/12
                   + A·cos(2π(month − peak)/12) + u[s,t] + effect_g[s,t]
    u: AR(1) per site (shared by the streams); count ~ Poisson(μ · Gamma(k, 1/k)).
    """
    rng = rng_for(seed, name)
    n_s, n_t = population.shape
    phi, sig = config.ar_phi, config.ar_sigma
    u = np.zeros((n_s, n_t))
    u[:, 0] = rng.normal(0.0, sig / np.sqrt(1.0 - phi**2), n_s)
    eps = rng.normal(0.0, sig, (n_s, n_t))
    for t in range(1, n_t):
        u[:, t] = phi * u[:, t - 1] + eps[:, t]
    t = np.arange(n_t)
    offset = np.array([s.log_rate_offset for s in config.sites])[:, None]
    season = config.season_amplitude * np.cos(
        2 * np.pi * (grid.calendar_month - config.season_peak_month) / 12
    )
    base = np.log(population) + offset + config.trend_log_per_year * t / 12.0 + season[None, :]
    out: dict[str, np.ndarray] = {"shock": u}
    for g, rate in rates_per_100k.items():
        log_mu = base + np.log(rate / 1e5) + u + effects.get(g, 0.0)
        mult = rng.gamma(config.gamma_shape, 1.0 / config.gamma_shape, (n_s, n_t))
        out[g] = rng.poisson(np.exp(log_mu) * mult)
        out[f"{g}_log_mu"] = log_mu
    return out


def _allocate(
    rng: np.random.Generator, patients: Patients, counts: np.ndarray, pd: bool, burst_multiplier: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give each of the site-month's events to a patient, with probability ∝ the patient's weight."""
    pat, site, month = [], [], []
    n_s, n_t = counts.shape
    for s in range(n_s):
        pool = patients.pools[(s, pd)]
        for t in range(n_t):
            k = int(counts[s, t])
            if k == 0:
                continue
            w = patients.weights(pool, t, burst_multiplier)
            pat.append(rng.choice(pool, size=k, p=w / w.sum()))
            site.append(np.full(k, s))
            month.append(np.full(k, t))
    return np.concatenate(pat), np.concatenate(site), np.concatenate(month)


def age_band(birth: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Age band at ``when`` (datetime64) for birth dates ``birth`` (datetime64[D])."""
    days = (when.astype("datetime64[D]") - birth).astype(np.int64)
    years = np.floor(days / 365.25).astype(np.int64)
    return np.array(AGE_BANDS, dtype=object)[np.searchsorted(_AGE_EDGES, years, side="right")]


def _ed_duration(rng: np.random.Generator, config: SynthConfig, n: int) -> np.ndarray:
    hours = config.ed_duration_median_hours * np.exp(config.ed_duration_sigma * rng.standard_normal(n))
    return np.round(np.clip(hours, 0.25, 47.9) * 3600).astype(np.int64)


def make_attendances(
    config: SynthConfig, grid: TimeGrid, patients: Patients, counts: dict[str, np.ndarray], seed: int
) -> pd.DataFrame:
    """Clean ED attendances (no ids yet): patient index, site, arrival, departure (full, uncensored)."""
    rng = rng_for(seed, "ed_events")
    parts = [_allocate(rng, patients, counts[g], g == "pd", config.burst_multiplier) for g in ("pd", "other")]
    pat = np.concatenate([p[0] for p in parts])
    site = np.concatenate([p[1] for p in parts])
    month = np.concatenate([p[2] for p in parts])
    arrival = draw_times_in_months(rng, grid, month, ED_HOUR_WEIGHTS)
    dur = _ed_duration(rng, config, pat.size)

    # A patient cannot arrive again before an hour after leaving: re-draw the later of two clashing
    # attendances within the same month (month counts are unchanged).
    for _ in range(200):
        order = np.lexsort((arrival, pat))
        a, d, p = arrival[order], arrival[order] + dur[order].astype("timedelta64[s]"), pat[order]
        clash = np.zeros(order.size, bool)
        clash[1:] = (p[1:] == p[:-1]) & (a[1:] < d[:-1] + np.timedelta64(3600, "s"))
        if not clash.any():
            break
        rows = order[clash]
        arrival[rows] = draw_times_in_months(rng, grid, month[rows], ED_HOUR_WEIGHTS)
        dur[rows] = _ed_duration(rng, config, rows.size)
    else:  # pragma: no cover - would need absurd parameters
        raise RuntimeError("could not separate overlapping attendances")

    return pd.DataFrame(
        {
            "pat": pat,
            "site_idx": site,
            "month": month,
            "arrival": arrival,
            "departure": arrival + dur.astype("timedelta64[s]"),
        }
    )


def _los_days(
    rng: np.random.Generator, config: SynthConfig, pd_flag: np.ndarray, after: np.ndarray
) -> np.ndarray:
    mean = np.where(pd_flag, config.los_pd_mean_days, config.los_other_mean_days)
    sig = np.where(pd_flag, config.los_sigma_pd, config.los_sigma_other)
    mu = np.log(mean) - sig**2 / 2.0 + np.where(after, np.log(config.los_ratio_after), 0.0)
    los = np.exp(mu + sig * rng.standard_normal(pd_flag.size))
    return np.clip(los, config.los_min_days, config.los_max_days)


def make_spells(
    config: SynthConfig, grid: TimeGrid, patients: Patients, counts: dict[str, np.ndarray], seed: int
) -> pd.DataFrame:
    """Clean admission spells (no ids yet) with full, uncensored discharge times."""
    rng = rng_for(seed, "spell_events")
    parts = [_allocate(rng, patients, counts[g], g == "pd", config.burst_multiplier) for g in ("pd", "other")]
    pat = np.concatenate([p[0] for p in parts])
    site = np.concatenate([p[1] for p in parts])
    month = np.concatenate([p[2] for p in parts])
    pd_flag = np.concatenate([np.full(parts[0][0].size, True), np.full(parts[1][0].size, False)])
    n = pat.size

    elective = rng.random(n) < np.where(pd_flag, 0.08, 0.15)
    mh_ward = rng.random(n) < np.where(pd_flag, 0.75, 0.65)
    admitted = draw_times_in_months(rng, grid, month, ED_HOUR_WEIGHTS)
    admitted[elective] = draw_times_in_months(rng, grid, month[elective], ELECTIVE_HOUR_WEIGHTS)
    gl = go_live_months(config, grid)
    after = pd_flag & (gl[site] >= 0) & (month >= gl[site])
    los = _los_days(rng, config, pd_flag, after)

    # One patient cannot be in two spells at once: give a clashing spell to another patient of the same
    # pool, drawn with the same weights (month counts and LOS are unchanged).
    for _ in range(500):
        disc = admitted + np.round(los * SECONDS_PER_DAY).astype("timedelta64[s]")
        order = np.lexsort((admitted, pat))
        frame = pd.DataFrame({"p": pat[order], "d": disc[order]})
        prev_max = frame.groupby("p")["d"].cummax().groupby(frame["p"]).shift()
        clash_sorted = (
            admitted[order] < prev_max.to_numpy(dtype="datetime64[s]") + np.timedelta64(3600, "s")
        ) & (prev_max.notna().to_numpy())
        if not clash_sorted.any():
            break
        rows = order[clash_sorted]
        for r in rows:
            pool = patients.pools[(int(site[r]), bool(pd_flag[r]))]
            w = patients.weights(pool, int(month[r]), config.burst_multiplier)
            pat[r] = rng.choice(pool, p=w / w.sum())
    else:  # pragma: no cover
        raise RuntimeError("could not separate overlapping spells")

    return pd.DataFrame(
        {
            "pat": pat,
            "site_idx": site,
            "month": month,
            "pd_stream": pd_flag,
            "after": after,
            "admitted": admitted,
            "discharged": disc,
            "los_days": los,
            "ward_type": np.where(mh_ward, "mental_health", "acute").astype(object),
            "admission_method": np.where(elective, "elective", "emergency").astype(object),
        }
    )


def end_dates(
    config: SynthConfig,
    grid: TimeGrid,
    patients: Patients,
    att: pd.DataFrame,
    spells: pd.DataFrame,
    seed: int,
) -> dict[int, np.datetime64]:
    """Date of death / transfer out for PD patients who leave the pool before the extract date.

    A leaver's events all fall before their exit month; the end date is a random day in the last
    active month, moved later if needed so that it is on or after their last departure/discharge.
    Leavers still in hospital at the extract date get no end date.
    """
    rng = rng_for(seed, "end_dates")
    leavers = np.flatnonzero(patients.pd & (patients.exit < grid.n))
    last_month = patients.exit[leavers] - 1
    first = grid.month_start[last_month]
    day = first + np.floor(rng.random(leavers.size) * grid.days_in_month[last_month]).astype("timedelta64[D]")
    ends = pd.concat(
        [
            pd.DataFrame({"pat": att["pat"], "end": att["departure"]}),
            pd.DataFrame({"pat": spells["pat"], "end": spells["discharged"]}),
        ]
    )
    last_end = ends.groupby("pat")["end"].max()
    out: dict[int, np.datetime64] = {}
    for i, p in enumerate(leavers):
        d = day[i]
        if p in last_end.index:
            e = np.datetime64(last_end.loc[p], "s")
            if e >= np.datetime64(grid.extract, "s"):
                continue
            d = max(d, e.astype("datetime64[D]"))
        if d < grid.extract:
            out[int(p)] = d
    return out


def make_cohort(
    config: SynthConfig,
    grid: TimeGrid,
    patients: Patients,
    att: pd.DataFrame,
    ends: dict[int, np.datetime64],
) -> pd.DataFrame:
    """Crisis-selected cohort (regression to the mean by construction).

    Eligible months: at least ``cohort_window_days`` after the window start and with a full
    ``cohort_window_days`` of follow-up before the extract date; at implementing sites also on or
    after go-live. A PD patient's index month is their first eligible month with at least
    ``cohort_min_attendances`` clean ED attendances; the index date is the date of the k-th
    attendance in that month.
    """
    k = config.cohort_min_attendances
    w = np.timedelta64(config.cohort_window_days, "D")
    earliest = grid.start + w - np.timedelta64(1, "D")  # pre window [index - (w-1) days, index]
    first_ok = grid.month_index(earliest)
    if grid.month_start[first_ok] < earliest:
        first_ok += 1
    last_ok = grid.month_index(grid.extract - w) - 1  # post window (index, index + w days] < extract
    gl = go_live_months(config, grid)

    a = att[patients.pd[att["pat"].to_numpy()]].sort_values(["pat", "arrival"])
    site = a["site_idx"].to_numpy()
    lo = np.where(gl[site] >= 0, np.maximum(gl[site], first_ok), first_ok)
    a = a[(a["month"].to_numpy() >= lo) & (a["month"].to_numpy() <= last_ok)]
    a = a.assign(rank=a.groupby(["pat", "month"]).cumcount() + 1)
    hits = a[a["rank"] == k].sort_values(["pat", "month"]).groupby("pat").head(1)
    pats = hits["pat"].to_numpy()
    end = [ends.get(int(p)) for p in pats]
    return pd.DataFrame(
        {
            "pat": pats,
            "site_idx": hits["site_idx"].to_numpy(),
            "index_date": hits["arrival"].to_numpy().astype("datetime64[D]"),
            "end_date": np.array(
                [np.datetime64("NaT", "D") if e is None else e for e in end], "datetime64[D]"
            ),
        }
    )
