"""Derived effects of a protocol run: one set of draws per outcome × method, every quantity from it.

The stage after the analyses (:mod:`evaltoolkit.report._its` fits) and before the synthesis. For each
outcome series and pre-specified method, the fits of every intervention site are drawn **jointly**
(:func:`evaltoolkit.its.derived.draw_coefficients`: sites sharing a control series are correlated as
their estimates are), with a seed from the protocol and a key per outcome × method. From those draws:

* per site: the cumulative absolute and relative change over the site's horizon;
* combined: the same summed over the sites (totals added in every draw);
* leave-one-site-out: the combined change without each site in turn;
* costs: the combined absolute change times the unit cost;
* heterogeneity inputs: each site's log ratio and its SD over the draws.

Because every quantity of one outcome × method comes from the same draws, the relative, absolute,
combined and money figures agree on direction and on whether they exclude no change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.its.derived import (
    DEFAULT_DRAWS,
    Totals,
    draw_coefficients,
    summarise_draws,
    total_contrast,
)
from evaltoolkit.its.derived import totals as draw_totals
from evaltoolkit.report._its import FitRecord

__all__ = ["DerivedEffects", "derive_effects", "heterogeneity", "horizon_mask"]


def horizon_mask(rec: FitRecord) -> np.ndarray:
    """Rows summed over a fit's horizon: treated, fitted rows from the first to the last horizon period
    (staggered fits: each site's own window)."""
    r = rec.result
    assert r is not None
    f = r.design.frame
    time = pd.to_datetime(f["time"]).to_numpy()
    base = f["treated"].to_numpy(dtype=bool) & r.design.fit_mask
    if rec.windows is not None:
        group = f["group"].to_numpy(dtype=object)
        keep = np.zeros(len(f), dtype=bool)
        for code, (a, b) in rec.windows.items():
            keep |= (group == code) & (time >= np.datetime64(a)) & (time <= np.datetime64(b))
        return keep & base
    a, b = rec.horizon
    return base & (time >= np.datetime64(a)) & (time <= np.datetime64(b))


def _interval_text(n_draws: int, joint: bool, shared: bool) -> str:
    text = f"percentile interval, {n_draws:,} draws"
    if joint:
        text += "; sites drawn jointly" + (" (they share the control series)" if shared else " (independent)")
    return text


def change(parts: list[Totals], conf_level: float, *, text: str) -> dict[str, Any]:
    """Combined cumulative change of some totals: the keys of results.json ``cumulative``/``combined``.

    Counts: total difference over the horizon; means: mean difference per period."""
    tot = parts[0]
    for p in parts[1:]:
        tot = tot + p
    est, d = tot.absolute(per_period=True)
    rel, rd = tot.relative()
    a = summarise_draws("absolute_change", est, d, conf_level)
    r = summarise_draws("relative_change", rel, rd, conf_level)
    return {
        "estimate": a["estimate"],
        "std_error": a["std_error"],
        "ci_lower": a["ci_lower"],
        "ci_upper": a["ci_upper"],
        "p_value": a["p_value"],
        "mc_error": a["mc_error"],
        "fitted_total": tot.F,
        "counterfactual_total": tot.C,
        "n_periods": tot.n_periods,
        "relative_change": r["estimate"],
        "relative_ci_lower": r["ci_lower"],
        "relative_ci_upper": r["ci_upper"],
        "n_draws": a["n_draws"],
        "interval": text,
    }


@dataclass
class DerivedEffects:
    """Everything derived from the draws of one outcome × method (sites in protocol order)."""

    series: str
    method_index: int
    sites: list[str]
    totals: dict[str, Totals]
    conf_level: float
    n_draws: int
    shared: bool
    site_changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def combined(self, sites: list[str] | None = None) -> dict[str, Any]:
        """The change summed over ``sites`` (default: every site)."""
        keep = self.sites if sites is None else sites
        joint = len(keep) > 1
        text = _interval_text(self.n_draws, joint, self.shared and joint)
        return change([self.totals[s] for s in keep], self.conf_level, text=text)

    def cost(self, unit_cost: float) -> dict[str, Any]:
        """The combined absolute change times a unit cost (the same draws)."""
        tot = self.totals[self.sites[0]]
        for s in self.sites[1:]:
            tot = tot + self.totals[s]
        est, d = tot.absolute(per_period=True)
        return summarise_draws("cost", est * unit_cost, d * unit_cost, self.conf_level)

    def log_ratios(self) -> pd.DataFrame:
        """Per site: log(fitted/counterfactual total) at the estimates and the SD of its draws."""
        rows = []
        for s in self.sites:
            t = self.totals[s]
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.log(t.F_draws / t.C_draws)
            d = d[np.isfinite(d)]
            est = math.log(t.F / t.C) if t.F > 0 and t.C > 0 else math.nan
            rows.append(
                {"site": s, "estimate": est, "std_error": float(np.std(d, ddof=1)) if d.size else math.nan}
            )
        return pd.DataFrame(rows)


def derive_effects(
    records: list[FitRecord], *, seed: int, n_draws: int = DEFAULT_DRAWS
) -> dict[tuple[str, int], DerivedEffects]:
    """Draw every outcome × method's site fits jointly and derive the per-site changes.

    Parameters
    ----------
    records : list of FitRecord
        From :func:`evaltoolkit.report._its.run_its` or ``run_staggered`` (failed fits are skipped: an
        outcome × method with a failed site has no combined estimate).
    seed : int
        The protocol's seed.
    n_draws : int
        Draws per outcome × method.

    Returns
    -------
    dict
        ``{(series, method_index): DerivedEffects}``; fits sharing a key are drawn together.
    """
    groups: dict[tuple[str, int], list[FitRecord]] = {}
    for rec in records:
        if rec.result is not None and rec.status != "duplicate":
            groups.setdefault((rec.series, rec.method_index), []).append(rec)
    out: dict[tuple[str, int], DerivedEffects] = {}
    for (series, index), recs in groups.items():
        fits = [r.result for r in recs]
        masks = [horizon_mask(r) for r in recs]
        contrasts = [total_contrast(r, m) for r, m in zip(fits, masks, strict=True)]  # type: ignore[arg-type]
        key = f"{series}/m{index}/{recs[0].site if len(recs) == 1 else 'sites'}"
        draws = draw_coefficients(fits, n_draws=n_draws, seed=seed, key=key, contrasts=contrasts)  # type: ignore[arg-type]
        tots = {r.site: draw_totals(d, m) for r, d, m in zip(recs, draws, masks, strict=True)}
        shared = any(d.shared for d in draws)
        conf = float(fits[0].conf_level)  # type: ignore[union-attr]
        eff = DerivedEffects(series, index, [r.site for r in recs], tots, conf, n_draws, shared)
        for r in recs:
            eff.site_changes[r.site] = change(
                [tots[r.site]], conf, text=_interval_text(n_draws, joint=False, shared=False)
            )
        out[(series, index)] = eff
    return out


def heterogeneity(eff: DerivedEffects, label: str) -> dict[str, Any] | None:
    """Random-effects summary (REML) of the sites' log ratios of one outcome × method, for the report.

    Each site's log(fitted/counterfactual total) over its horizon, with the SD of its draws as the standard
    error, pooled by :func:`evaltoolkit.its.site_heterogeneity`. Sites sharing a control series are not
    independent (the random-effects model assumes they are); the report's combined total allows for that,
    this summary is for how far the sites differ. ``None`` with fewer than two sites or a site whose ratio
    is not defined.
    """
    from evaltoolkit.its import site_heterogeneity, sites_disagree

    table = eff.log_ratios()
    ok = table["estimate"].notna() & (table["std_error"] > 0)
    if len(table) < 2 or not ok.all():
        return None
    res = site_heterogeneity(
        table["estimate"].to_numpy(),
        table["std_error"].to_numpy(),
        list(table["site"]),
        method="REML",
        conf_level=eff.conf_level,
        scale="log",
    )
    d = res.to_dict()
    out = {k: d[k] for k in ("tau2", "i2", "q", "q_df", "q_p_value", "prediction_interval", "notes")}
    out.update(
        series=eff.series,
        label=label,
        method="random effects (REML) on the sites' log ratios; sites sharing a control are not independent",
        pooled={k: d[k] for k in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value")},
        sites=[
            {"site": r["site"], "estimate": r["estimate"], "std_error": r["std_error"]}
            for r in table.to_dict("records")
        ],
        sites_disagree=sites_disagree(res),
        text=res.describe(),
    )
    return out
