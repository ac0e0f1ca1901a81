"""Interrupted time series for a protocol: every series × intervention site × pre-specified method.

Each intervention site is analysed at its own go-live (staggered implementation). The headline quantity is
the **cumulative effect over the first ``horizon_months`` after go-live**: model-fitted total minus the
counterfactual (pre-implementation trend continued) total, and their ratio. Those derived figures, and
their sums over sites, are computed in the next stage from one set of joint draws
(:mod:`evaltoolkit.report._effects`); this module fits and summarises the fits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure.deferred import Resting, ShownCount
from evaltoolkit.errors import ProtocolError
from evaltoolkit.its import ExtrapolationWarning, ITSResult, ITSWarning, fit_its, robustness_checks
from evaltoolkit.prepost._common import FIT_WARNINGS, record_warnings
from evaltoolkit.protocol import Protocol
from evaltoolkit.protocol.schema import SeriesSpec

__all__ = [
    "WEEKLY_PERIOD",
    "FitRecord",
    "check_horizon",
    "design_extras",
    "horizon_problems",
    "horizon_window",
    "interruption_period",
    "run_its",
    "run_robustness",
    "run_staggered",
]

_COUNT = ("poisson", "quasipoisson", "negbin")
_CAUGHT = (ValueError, ArithmeticError, np.linalg.LinAlgError)
_RECORDED: tuple[type[Warning], ...] = (ITSWarning, *FIT_WARNINGS)
"""Warnings recorded as notes of a fit; any other warning goes through the caller's filters."""
CONTROL_GROUP = "control"
WEEKLY_PERIOD = 365.25 / 7
"""Seasonal period of the Fourier terms of a weekly (``W-MON``) series: 52.18 weeks, the mean year (the
``fit_its`` default of 52 drifts by 1.25 days a year)."""


@dataclass(eq=False)
class FitRecord:
    """One fit: a series at one site with one method (``result`` is ``None`` when it failed)."""

    series: str
    site: str
    method_index: int
    label: str
    options: dict[str, Any]
    family: str
    controlled: bool
    interruption: pd.Timestamp
    horizon: tuple[pd.Timestamp, pd.Timestamp]
    result: ITSResult | None = None
    status: str = "ok"
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    windows: dict[str, tuple[pd.Timestamp, pd.Timestamp]] | None = None
    """Staggered fits: each intervention site's own horizon window (``site`` is ``"staggered"``)."""

    @property
    def primary(self) -> bool:
        """The primary (pre-specified) method."""
        return self.method_index == 0


def interruption_period(go_live: pd.Timestamp, freq: str) -> pd.Timestamp:
    """First period starting on or after go-live (monthly: the go-live month; quarterly: that quarter
    if go-live is its first day, else the next quarter; weekly: the first week starting on a Monday on or
    after go-live).

    Examples
    --------
    >>> interruption_period(pd.Timestamp("2021-04-01"), "QS")
    Timestamp('2021-04-01 00:00:00')
    >>> interruption_period(pd.Timestamp("2021-05-01"), "QS")
    Timestamp('2021-07-01 00:00:00')
    >>> interruption_period(pd.Timestamp("2021-04-01"), "W-MON")  # a Thursday: the week from Monday 5 April
    Timestamp('2021-04-05 00:00:00')
    """
    go_live = pd.Timestamp(go_live)
    if freq == "W-MON":
        return go_live + pd.Timedelta(days=(7 - go_live.weekday()) % 7)
    if freq == "MS":
        return go_live.to_period("M").start_time
    start = go_live.to_period("Q").start_time
    return start if start == go_live else (go_live.to_period("Q") + 1).start_time


def _periods_per(freq: str) -> int:
    return 1 if freq == "MS" else 3


def horizon_problems(protocol: Protocol) -> list[tuple[str, str]]:
    """``(path, message)`` for each quarterly series whose horizon is not a whole number of quarters."""
    if protocol.analysis is None:
        return []
    h = protocol.analysis.horizon_months
    if h % 3 == 0:
        return []
    nearest = " or ".join(str(x) for x in (h - h % 3, h - h % 3 + 3) if x >= 3)
    return [
        (
            f"series.{spec.name}.frequency",
            f"quarterly (QS), but analysis.horizon_months = {h} is not a whole number of quarters; use a "
            f"multiple of 3 (nearest: {nearest}) or a monthly series",
        )
        for spec in protocol.series
        if spec.frequency == "QS"
    ]


def check_horizon(protocol: Protocol) -> None:
    """Raise :class:`~evaltoolkit.errors.ProtocolError` when the cumulative-effect horizon cannot be summed
    over whole periods of every series (a quarterly series needs a multiple of 3 months)."""
    problems = horizon_problems(protocol)
    if problems:
        lines = "\n".join(f"  {path}: {msg}" for path, msg in problems)
        raise ProtocolError(
            f"the protocol's horizon does not fit its series:\n{lines}", problems, source=protocol.path
        )


def horizon_window(
    interruption: pd.Timestamp, horizon_months: int, freq: str, last: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last period summed for the cumulative effect (capped at the last period observed).

    A quarterly series needs a horizon of whole quarters: any other horizon raises ``ProtocolError``
    rather than being shortened silently. A weekly series sums the weeks that start within
    ``horizon_months`` calendar months of the interruption week's start (104 or 105 weeks for 24 months).

    Examples
    --------
    >>> horizon_window(pd.Timestamp("2021-04-01"), 12, "QS", pd.Timestamp("2025-01-01"))
    (Timestamp('2021-04-01 00:00:00'), Timestamp('2022-01-01 00:00:00'))
    >>> horizon_window(pd.Timestamp("2021-04-05"), 1, "W-MON", pd.Timestamp("2025-01-06"))
    (Timestamp('2021-04-05 00:00:00'), Timestamp('2021-05-03 00:00:00'))
    """
    if freq == "W-MON":
        bound = interruption + pd.DateOffset(months=horizon_months)
        weeks = max(1, math.ceil((pd.Timestamp(bound) - interruption).days / 7))
        return interruption, min(interruption + pd.Timedelta(weeks=weeks - 1), last)
    step = _periods_per(freq)
    if horizon_months % step:
        raise ProtocolError(
            f"horizon of {horizon_months} months is not a whole number of quarters for a quarterly series",
            [("analysis.horizon_months", f"{horizon_months} is not a multiple of 3")],
        )
    n = max(1, horizon_months // step)
    end = interruption + pd.DateOffset(months=step * (n - 1))
    return interruption, min(pd.Timestamp(end), last)


def _weekly(periods: pd.Series) -> bool:
    """True when the period starts are 7 days apart (a weekly series)."""
    starts = np.unique(pd.to_datetime(periods).to_numpy())
    return starts.size > 1 and bool(np.all(np.diff(starts) == np.timedelta64(7, "D")))


def _its_frame(
    table: pd.DataFrame, site: str, controls: list[str], controlled: bool, mean: bool
) -> pd.DataFrame:
    own = table[table["site"] == site][
        ["period", "value", "n_events", *(["population"] if "population" in table else [])]
    ]
    own = own.assign(group=site)
    if not controlled:
        return own.reset_index(drop=True)
    ctrl = table[table["site"].isin(controls)]
    if mean:
        w = ctrl["n_events"].astype(float)
        agg = (
            ctrl.assign(_wv=ctrl["value"].fillna(0) * w, _w=w)
            .groupby("period", as_index=False)[["_wv", "_w"]]
            .sum()
        )
        agg["value"] = agg["_wv"] / agg["_w"].replace(0, np.nan)
        agg["n_events"] = agg["_w"].astype("int64")
        agg = agg[["period", "value", "n_events"]]
    else:
        cols = ["value", "n_events", *(["population"] if "population" in table else [])]
        agg = ctrl.groupby("period", as_index=False)[cols].sum()
    agg = agg.assign(group=CONTROL_GROUP)
    return pd.concat([own, agg], ignore_index=True)


def design_extras(protocol: Protocol) -> dict[str, Any]:
    """``fit_its`` keywords for the protocol's excluded periods and level shifts (empty when none).

    Examples
    --------
    >>> from evaltoolkit.protocol.schema import DesignSpec
    >>> from types import SimpleNamespace
    >>> d = DesignSpec(exclude_periods=[{"start": "2020-03-01", "end": "2021-02-01", "reason": "COVID-19"}],
    ...                level_shifts=[{"name": "triage", "start": "2022-06-01", "reason": "new ED triage"}])
    >>> design_extras(SimpleNamespace(design=d))
    {'exclude_periods': [('2020-03-01', '2021-02-01')], 'level_shifts': {'triage': '2022-06-01'}}
    """
    d = protocol.design
    out: dict[str, Any] = {}
    if d.exclude_periods:
        out["exclude_periods"] = [(e.start.isoformat(), e.end.isoformat()) for e in d.exclude_periods]
    if d.level_shifts:
        out["level_shifts"] = {
            sh.name: sh.start.isoformat() if sh.end is None else (sh.start.isoformat(), sh.end.isoformat())
            for sh in d.level_shifts
        }
    return out


def _fit(
    frame: pd.DataFrame,
    opts: dict[str, Any],
    family: str,
    interruption: Any,
    site: str | None,
    offset: bool,
    extra: dict[str, Any] | None = None,
    horizon_end: pd.Timestamp | None = None,
) -> tuple[ITSResult | None, str, list[str]]:
    kwargs: dict[str, Any] = {
        "outcome": "value",
        "time": "period",
        "interruptions": interruption,
        "family": family,
        "method": opts["method"],
        "se_type": opts["se_type"],
        "lags": opts["lags"] if opts["se_type"] == "newey-west" else None,
        "seasonality": opts["seasonality"],
        "effect": opts["effect"],
        "transition": opts["transition"],
        "transition_shape": opts["transition_shape"],
        "conf_level": opts["conf_level"],
        "nw_adjust": opts["nw_adjust"],
    }
    if isinstance(opts["seasonality"], int) and _weekly(frame["period"]):
        kwargs["period"] = WEEKLY_PERIOD  # Fourier terms of the mean year, not 52 weeks
    if opts["method"] in (None, "gls-reml", "gls-ml", "arima"):
        kwargs["ar_order"] = opts["ar_order"]
    if opts["method"] == "arima" and opts.get("ma_order"):
        kwargs["ma_order"] = opts["ma_order"]
    if opts["use_t"] is not None:
        kwargs["use_t"] = opts["use_t"]
    if opts.get("ci_method") is not None:
        kwargs["ci_method"] = opts["ci_method"]
    if offset:
        kwargs["offset"] = "population"
    if isinstance(
        interruption, dict
    ):  # staggered: one go-live per intervention site, every site its own series
        kwargs["group"] = "group"
    elif opts["controlled"]:
        kwargs["group"] = "group"
        kwargs["treated"] = site
    kwargs.update(extra or {})
    result: ITSResult | None = None
    error = ""
    with record_warnings(_RECORDED) as caught:
        try:
            result = fit_its(frame, **kwargs)
        except _CAUGHT as exc:
            error = f"{type(exc).__name__}: {exc}"
    messages = {str(w.message) for w in caught}
    if result is not None and horizon_end is not None:
        messages = _guards_at_horizon(result, messages, horizon_end)
    return result, error, sorted(messages)


def _guards_at_horizon(result: ITSResult, messages: set[str], horizon_end: pd.Timestamp) -> set[str]:
    """The fit's warnings with the extrapolation guards judged at the report's horizon (the end of the
    cumulative-effect window) instead of at the last period of the data, which the report does not use."""
    from evaltoolkit.its._guards import guard_notes

    at_end = {m for c, m in guard_notes(result) if c is ExtrapolationWarning}
    t_end = int(result.design.frame.loc[result.design.frame["time"] == horizon_end, "t"].iloc[0])
    at_horizon = {m for c, m in guard_notes(result, t_end) if c is ExtrapolationWarning}
    return (messages - at_end) | at_horizon


def run_its(
    protocol: Protocol,
    tables: dict[str, pd.DataFrame],
    progress: Callable[[str], None] | None = None,
) -> list[FitRecord]:
    """Fit every series × intervention site × method of the protocol.

    Parameters
    ----------
    protocol : Protocol
        The protocol (series, sites, design, analysis).
    tables : dict
        ``{series name: table}`` from :func:`evaltoolkit.report._data.build_series_table`.
    progress : callable, optional
        Called with a short message before each series.

    Returns
    -------
    list of FitRecord
        In protocol order: series, then site, then method (primary first). Failed fits are kept with
        ``status="failed"`` and the error message.
    """
    assert protocol.analysis is not None  # checked by the protocol validation
    controls = [s.code for s in protocol.control_sites]
    extra = design_extras(protocol)
    methods = protocol.methods()
    conf = protocol.analysis.conf_level
    records: list[FitRecord] = []
    for spec in protocol.series:
        if progress is not None:
            progress(f"interrupted time series: {spec.name}")
        table = tables[spec.name]
        last = pd.Timestamp(table["period"].max())
        for site in protocol.intervention_sites:
            assert site.go_live is not None
            seen: dict[tuple, int] = {}
            t0 = interruption_period(pd.Timestamp(site.go_live), spec.frequency)
            window = horizon_window(t0, protocol.analysis.horizon_months, spec.frequency, last)
            for index, (label, base) in enumerate(methods):
                opts = {**base, "conf_level": conf}
                family = spec.family or opts["family"]
                if spec.measure == "mean_los":
                    # A mean is not a count: the series' own family (gaussian or gamma) or gamma (log link),
                    # whose ratio intervals cannot include impossible values.
                    family = spec.family or "gamma"
                offset = bool(opts["offset"]) and spec.denominator == "population" and family in _COUNT
                rec = FitRecord(
                    series=spec.name,
                    site=site.code,
                    method_index=index,
                    label=label,
                    options={**opts, "family": family, "offset": offset},
                    family=family,
                    controlled=bool(opts["controlled"]),
                    interruption=t0,
                    horizon=window,
                )
                key = tuple(sorted((k, str(v)) for k, v in rec.options.items()))
                if key in seen and index > 0:
                    rec.status = "duplicate"
                    rec.message = f"identical to {methods[seen[key]][0]!r} for this series (family {family})"
                    records.append(rec)
                    continue
                seen.setdefault(key, index)
                frame = _its_frame(table, site.code, controls, rec.controlled, spec.measure == "mean_los")
                result, message, warns = _fit(
                    frame, opts, family, t0, site.code, offset, extra, horizon_end=window[1]
                )
                rec.result, rec.warnings = result, warns
                if result is None:
                    rec.status, rec.message = "failed", message
                elif warns:
                    rec.status = "warning"
                records.append(rec)
    return records


def run_staggered(
    protocol: Protocol,
    tables: dict[str, pd.DataFrame],
    progress: Callable[[str], None] | None = None,
) -> list[FitRecord]:
    """One staggered controlled fit per series × method (``design.staggered: true``; else empty).

    Every intervention site is a series with its own go-live and every control site a series with none,
    in one model (:func:`evaltoolkit.its.fit_its` with ``interruptions`` a mapping); the headline is the
    cumulative effect over each site's own first ``horizon_months`` after go-live, summed over the sites.
    """
    assert protocol.analysis is not None
    if not protocol.design.staggered:
        return []
    extra = design_extras(protocol)
    conf = protocol.analysis.conf_level
    records: list[FitRecord] = []
    for spec in protocol.series:
        if progress is not None:
            progress(f"interrupted time series (staggered model): {spec.name}")
        table = tables[spec.name]
        last = pd.Timestamp(table["period"].max())
        starts = {
            s.code: interruption_period(pd.Timestamp(s.go_live), spec.frequency)
            for s in protocol.intervention_sites
            if s.go_live is not None
        }
        windows = {
            code: horizon_window(t0, protocol.analysis.horizon_months, spec.frequency, last)
            for code, t0 in starts.items()
        }
        keep = [*starts, *(s.code for s in protocol.control_sites)]
        cols = ["period", "value", "n_events", *(["population"] if "population" in table else [])]
        frame = table[table["site"].isin(keep)][["site", *cols]].rename(columns={"site": "group"})
        frame = frame.reset_index(drop=True)
        for index, (label, base) in enumerate(protocol.methods()):
            opts = {**base, "conf_level": conf}
            family = "gaussian" if spec.measure == "mean_los" else (spec.family or opts["family"])
            offset = bool(opts["offset"]) and spec.denominator == "population" and family in _COUNT
            rec = FitRecord(
                series=spec.name,
                site="staggered",
                method_index=index,
                label=label,
                options={**opts, "family": family, "offset": offset, "staggered": True},
                family=family,
                controlled=True,
                interruption=min(starts.values()),
                horizon=(min(w[0] for w in windows.values()), max(w[1] for w in windows.values())),
                windows=windows,
            )
            interruptions = {code: t0.strftime("%Y-%m-%d") for code, t0 in starts.items()}
            result, message, warns = _fit(frame, opts, family, interruptions, None, offset, extra)
            rec.result, rec.warnings = result, warns
            if result is None:
                rec.status, rec.message = "failed", message
            elif warns:
                rec.status = "warning"
            records.append(rec)
    return records


# -- numbers from a fit ----------------------------------------------------------------------------------
def _term(result: ITSResult, name: str) -> dict[str, Any]:
    if name not in result.terms:
        return {}
    coefs = result.coefficients(terms=[name]).set_index("term")
    row = coefs.loc[name]
    out = {"term": name}
    for col in ("estimate", "std_error", "p_value", "ci_lower", "ci_upper"):
        out[col] = float(row[col])
    if result.log_link:
        for col in ("rate_ratio", "rate_ratio_ci_lower", "rate_ratio_ci_upper"):
            out[col] = float(row[col])
    return out


def fit_summary(
    rec: FitRecord, *, diagnostics: bool, cumulative: dict[str, Any] | None = None
) -> dict[str, Any]:
    """JSON-ready summary of one fit: options, status, level/slope change, cumulative effect, diagnostics.

    ``cumulative`` is the fit's change over its horizon from the derived-effects stage
    (:mod:`evaltoolkit.report._effects`), whose draws every derived figure shares."""
    out: dict[str, Any] = {
        "series": rec.series,
        "site": rec.site,
        "method_id": f"m{rec.method_index}",
        "method": rec.label,
        "primary": rec.primary,
        "family": rec.family,
        "controlled": rec.controlled,
        "options": {k: v for k, v in rec.options.items() if k != "conf_level"},
        "status": rec.status,
        "message": rec.message,
        "warnings": list(rec.warnings),
        "interruption": rec.interruption,
        "horizon_start": rec.horizon[0],
        "horizon_end": rec.horizon[1],
    }
    r = rec.result
    if r is None:
        return out
    d = r.design
    terms = d.interruption_terms[0]
    level = next((t for t in terms if "level_change" in t), None)
    slope = next((t for t in terms if "slope_change" in t), None)
    f = d.frame
    time = pd.to_datetime(f["time"])
    in_window = (
        f["treated"].to_numpy(dtype=bool)
        & d.fit_mask
        & (time >= rec.horizon[0]).to_numpy()
        & (time <= rec.horizon[1]).to_numpy()
    )
    window = time[in_window]
    out.update(
        n_periods=int(r.n_obs),
        pre_points=int(d.segment_points[0]),
        post_points=int(d.segment_points[1]) if len(d.segment_points) > 1 else 0,
        dispersion=float(r.dispersion) if r.log_link else None,
        method_description=r.method_description,
        se_description=r.se_description,
        level_change=_term(r, level) if level else {},
        slope_change=_term(r, slope) if slope else {},
        cumulative={
            "start": window.min() if len(window) else None,
            "end": window.max() if len(window) else None,
            **{k: v for k, v in (cumulative or {}).items() if k not in ("interval",)},
            "n_periods": int((cumulative or {}).get("n_periods", window.nunique())),
            "interval": (cumulative or {}).get("interval"),
            "scale": "total over the horizon" if r.is_count else "mean difference per period",
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)  # judged at the horizon: in rec.warnings
        guards = r.guards(horizon=rec.horizon[1])
    out["guards"] = [
        {"guard": g.guard, "measured": _clean(g.value), "limit": _clean(g.threshold), "message": g.message}
        for g in guards.itertuples(index=False)
        if g.fired
    ]
    if diagnostics:
        diag = r.diagnostics()
        tests = {
            row.test: {"statistic": row.statistic, "p_value": row.p_value} for row in diag.tests.itertuples()
        }
        lb = next((k for k in tests if k.startswith("ljung_box")), None)
        bg = [k for k in tests if k.startswith("breusch_godfrey")]
        out["diagnostics"] = {
            "tests": [
                {
                    "test": row.test,
                    "statistic": row.statistic,
                    "df": row.df,
                    "p_value": row.p_value,
                    "note": row.note,
                }
                for row in diag.tests.itertuples()
            ],
            "acf_lag1": float(diag.acf["acf"].iloc[0]) if len(diag.acf) else None,
            "autocorrelation_p": min(
                [
                    tests[k]["p_value"]
                    for k in [*bg, *([lb] if lb else [])]
                    if np.isfinite(tests[k]["p_value"])
                ],
                default=None,
            ),
            "residual_kind": diag.residual_kind,
            "seasonal_terms": list(d.seasonal_terms),
        }
    return out


def plot_points(rec: FitRecord, table: pd.DataFrame, spec: SeriesSpec) -> list[dict]:
    """Per-period plot data of a (primary) fit for the treated site: observed values as they will be
    published (typed: a count drawn rounded, ``None`` when suppressed; a mean ``None`` when it rests on a
    suppressed number of spells), fitted and counterfactual values with intervals."""
    r = rec.result
    if r is None:
        return []
    p = r.predictions()
    if "group" in p.columns:
        p = p[p["group"] == rec.site]
    own = table[table["site"] == rec.site].set_index("period")
    rows = []
    for row in p.itertuples(index=False):
        obs = own.loc[row.time] if row.time in own.index else None
        observed: Resting | ShownCount | None = None
        if obs is not None:
            if spec.measure == "mean_los":
                value = None if pd.isna(obs["value"]) else float(obs["value"])
                observed = Resting(value, (int(obs["n_events"]),), "model")
            else:
                observed = ShownCount(int(obs["value"]))
        post = int(row.segment) >= 1
        rows.append(
            {
                "period": row.time,
                "observed": observed,
                "in_fit": bool(row.in_fit),
                "in_transition": bool(row.in_transition),
                "excluded": bool(row.excluded),
                "fitted": row.fitted,
                "fitted_ci_lower": row.fitted_ci_lower,
                "fitted_ci_upper": row.fitted_ci_upper,
                "counterfactual": row.counterfactual if post else None,
                "counterfactual_ci_lower": row.counterfactual_ci_lower if post else None,
                "counterfactual_ci_upper": row.counterfactual_ci_upper if post else None,
            }
        )
    return rows


# -- placebo and robustness checks -----------------------------------------------------------------------
ROBUSTNESS_KEYS = (
    "series",
    "site",
    "check",
    "label",
    "term",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "p_value",
    "n_periods",
    "method",
    "significant",
    "status",
    "note",
)
"""Keys of every ``its.robustness.checks`` row of results.json (count fits add ``rate_ratio``,
``rate_ratio_ci_lower``, ``rate_ratio_ci_upper``; leave-one-site-out rows add ``relative_change``,
``relative_ci_lower``, ``relative_ci_upper``)."""


def _clean(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is pd.NA or value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def _check_rows(table: pd.DataFrame, series: str, site: str, checks: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for row in table[table["check"].isin(checks)].to_dict("records"):
        row.pop("interruption", None)
        row["n_periods"] = row.pop("n", None)  # fitted periods (not people)
        out.append({"series": series, "site": site, **{k: _clean(v) for k, v in row.items()}})
    return out


def _fit_rows(
    result: ITSResult | None, check: str, label: str, series: str, site: str, error: str, warns: list[str]
) -> list[dict[str, Any]]:
    base = {"series": series, "site": site, "check": check, "label": label}
    if result is None:
        return [{**base, "term": None, "status": "failed", "note": error}]
    coefs = result.coefficients(terms=list(result.design.interruption_terms[0])).set_index("term")
    rows = []
    q = "ok" if not warns else "warning"
    for term in result.design.interruption_terms[0]:
        c = coefs.loc[term]
        row = {
            **base,
            "term": term,
            **{k: _clean(c[k]) for k in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value")},
            "n_periods": int(result.n_obs),
            "method": result.method if not result.is_count else result.family,
            "significant": bool(c["ci_lower"] > 0 or c["ci_upper"] < 0),
            "status": q,
            "note": "; ".join(warns),
        }
        if result.is_count:
            row.update(
                {k: _clean(c[k]) for k in ("rate_ratio", "rate_ratio_ci_lower", "rate_ratio_ci_upper")}
            )
        rows.append(row)
    return rows


def run_robustness(
    protocol: Protocol,
    tables: dict[str, pd.DataFrame],
    records: list[FitRecord],
    effects: Mapping[tuple[str, int], Any] | None = None,
) -> dict[str, Any]:
    """Placebo and robustness checks of the primary fits (``analysis.robustness`` of the protocol).

    * in-time placebo (each series × intervention site): :func:`evaltoolkit.its.robustness_checks` on the
      primary fit, a fake go-live in the pre-period (``placebo_dates`` or its middle), pre-period data only;
    * in-space placebo (each series × intervention site × control site): the control site fitted with the
      primary method as if it went live at the intervention site's go-live, against the other control
      sites (controlled designs with two or more control sites) or as a single series;
    * leave-one-site-out (two or more intervention sites): the combined cumulative effect over the
      horizon without each site in turn (:func:`combine_sites`).

    Returns
    -------
    dict
        ``settings`` (what ran) and ``checks`` (rows with :data:`ROBUSTNESS_KEYS`).
    """
    assert protocol.analysis is not None
    spec_r = protocol.analysis.robustness
    controls = [s.code for s in protocol.control_sites]
    sites = [s.code for s in protocol.intervention_sites]
    in_space = bool(controls) if spec_r.in_space is None else bool(spec_r.in_space and controls)
    loo = len(sites) >= 2 if spec_r.leave_one_out is None else bool(spec_r.leave_one_out and len(sites) >= 2)
    rows: list[dict[str, Any]] = []
    for spec in protocol.series:
        primary = [r for r in records if r.series == spec.name and r.primary]
        for rec in primary:
            if rec.result is None:
                continue
            rows += _fit_rows(
                rec.result, "original", "primary analysis", spec.name, rec.site, "", rec.warnings
            )
            if spec_r.in_time:
                dates = (
                    None
                    if spec_r.placebo_dates is None
                    else [interruption_period(pd.Timestamp(d), spec.frequency) for d in spec_r.placebo_dates]
                )
                try:
                    checks = robustness_checks(
                        rec.result, in_space=False, leave_one_out=False, placebo_dates=dates
                    )
                except ValueError as exc:
                    rows.append(
                        {
                            "series": spec.name,
                            "site": rec.site,
                            "check": "in_time_placebo",
                            "label": "placebo",
                            "term": None,
                            "status": "failed",
                            "note": f"analysis.robustness.placebo_dates: {exc}",
                        }
                    )
                else:
                    rows += _check_rows(checks.table(), spec.name, rec.site, ("in_time_placebo",))
            if in_space:
                for c in controls:
                    others = [x for x in controls if x != c]
                    ctrl = bool(rec.controlled and others)
                    frame = _its_frame(tables[spec.name], c, others, ctrl, spec.measure == "mean_los")
                    opts = {**rec.options, "controlled": ctrl}
                    result, error, warns = _fit(
                        frame,
                        opts,
                        rec.family,
                        rec.interruption,
                        c,
                        bool(rec.options["offset"]),
                        horizon_end=rec.horizon[1],
                    )
                    how = "vs the other control sites" if ctrl else "single series"
                    label = f"control site {c} as if live at {rec.site}'s go-live ({how})"
                    rows += _fit_rows(result, "in_space_placebo", label, spec.name, rec.site, error, warns)
        ok = [r for r in primary if r.result is not None]
        eff = None if effects is None else effects.get((spec.name, 0))
        if loo and eff is not None and len(ok) == len(primary) and len(ok) >= 2:
            for s in sites:
                comb = eff.combined([x for x in eff.sites if x != s])
                rows.append(
                    {
                        "series": spec.name,
                        "site": None,
                        "check": "leave_one_out",
                        "label": f"without site {s}",
                        "term": "cumulative_effect",
                        **{
                            k: _clean(comb[k])
                            for k in (
                                "estimate",
                                "std_error",
                                "ci_lower",
                                "ci_upper",
                                "p_value",
                                "relative_change",
                                "relative_ci_lower",
                                "relative_ci_upper",
                            )
                        },
                        "n_periods": int(comb["n_periods"]),
                        "method": ok[0].label,
                        "significant": bool(comb["ci_lower"] > 0 or comb["ci_upper"] < 0),
                        "status": "ok",
                        "note": comb["interval"],
                    }
                )
    for row in rows:
        for k in ROBUSTNESS_KEYS:
            row.setdefault(k, None)
    return {
        "settings": {
            "in_time": bool(spec_r.in_time),
            "in_space": in_space,
            "leave_one_out": loo,
            "placebo_dates": None
            if spec_r.placebo_dates is None
            else [pd.Timestamp(d) for d in spec_r.placebo_dates],
        },
        "checks": rows,
    }
