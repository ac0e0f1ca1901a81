"""Does the data match the protocol? Checks run by ``evaltoolkit validate P.yaml`` and before any model.

* :func:`check_not_all_excluded`: an extract whose every row was excluded stops validation and the run,
  naming the rules, the offending values (unknown site codes, the data's date range) and the protocol
  key to fix.
* :func:`series_checks`: :func:`evaltoolkit.series.checks.check_series` and
  :func:`~evaltoolkit.series.checks.check_event_dates` on every outcome series of the protocol (for a
  bed-day series, on the monthly admissions of its spells: bed-days are correlated sums of stays, and an
  extract gap shows in the admissions), plus the bed-day warm-up
  (:func:`~evaltoolkit.series.checks.bed_day_warmup`) of bed-day series. Errors (a series with no
  events, mostly missing, or with empty periods before the data start or after the data end) are
  completed with their cause in the data and the protocol key to change; :func:`raise_for_errors` stops
  a run on them. Warnings (abnormal months, partial periods, the warm-up) go to results.json
  (``data.series_checks``) and to the report's data-quality appendix and limitations.
* The warm-up months of a bed-day series are left out of its interrupted-time-series fits
  (:func:`its_tables`): their bed-days are too low by construction, not a real change.
* So are the partial weeks of a weekly (``W-MON``) series: a first week that starts before
  ``data.window.start`` or a last week that runs past ``data.window.extract_date`` holds only some of its
  days. Each is a ``partial_period`` finding (one per site) saying it is left out of the fits.
  Partial months and quarters stay in the fits, with the same warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaltoolkit.errors import EvalToolkitError, ExtractValidationError
from evaltoolkit.report._extract_checks import (
    DATE_COLUMN,
    _codes_text,
    check_not_all_excluded,
    site_alias_advice,
    unknown_site_codes,
)
from evaltoolkit.series import count_events
from evaltoolkit.series.checks import CHECK_COLUMNS, bed_day_warmup, check_event_dates, check_series

if TYPE_CHECKING:
    from evaltoolkit.protocol import Protocol
    from evaltoolkit.report._data import LoadedData

__all__ = [
    "SeriesChecks",
    "check_lines",
    "check_not_all_excluded",
    "its_tables",
    "keep_warmup",
    "published_checks",
    "raise_for_errors",
    "series_checks",
    "site_alias_advice",
    "unknown_site_codes",
]

FOLDER_MAX_OPEN_DAYS = 365
"""``validate DIR``: open spells admitted longer ago than this are stale (as in the bundled protocols)."""
WARMUP_THRESHOLD = 0.05
"""A bed-day period is warm-up while at least this share of its bed-days is expected to be missing."""


@dataclass(frozen=True, eq=False)
class SeriesChecks:
    """Findings on a protocol's series (columns :data:`~evaltoolkit.series.checks.CHECK_COLUMNS`) and
    the warm-up periods of each bed-day series (``{series: [period, ...]}``)."""

    findings: pd.DataFrame
    warmup: dict[str, list[pd.Timestamp]] = field(default_factory=dict)
    partial: dict[str, list[pd.Timestamp]] = field(default_factory=dict)
    """``{series: [period, ...]}``: partial weeks of weekly series, left out of the fits."""

    @property
    def errors(self) -> pd.DataFrame:
        """The findings that stop a run."""
        return self.findings[self.findings["severity"] == "error"]


def _cause(row: Any, spec: Any, data: LoadedData, protocol: Protocol) -> str:
    """The data's side of an error, with the protocol key to change."""
    kind = spec.source
    ex = data.extracts.get(kind)
    date = DATE_COLUMN[kind]
    unknown = data.unknown_sites.get(kind, {}) if hasattr(data, "unknown_sites") else {}
    w = protocol.data.window
    if row.check == "all_zero":
        bits = []
        if unknown:
            bits.append(
                f"{kind} with site codes not in sites were excluded by rule unknown_site: "
                f"{_codes_text(unknown)}; {site_alias_advice(kind)}"
            )
        if ex is not None and row.site is not None:
            own = ex.data[ex.data["site"].astype("string") == str(row.site)]
            if len(own) == 0:
                bits.append(f"the cleaned {kind} extract has no rows with site {row.site} (sites[].code)")
            elif spec.pd_only or spec.where:
                bits.append(
                    f"site {row.site} has {kind} but none pass the series' filters "
                    f"(series.{spec.name}: pd_only/where)"
                )
        return "; ".join(bits)
    if row.check in ("after_data_end", "before_data_start") and ex is not None and w is not None:
        d = ex.data
        if row.site is not None:
            d = d[d["site"].astype("string") == str(row.site)]
        dates = pd.to_datetime(d[date], errors="coerce").dropna()
        if not len(dates):
            return ""
        if row.check == "after_data_end":
            return (
                f"the last {date} at this site is {dates.max():%Y-%m-%d} but data.window.extract_date is "
                f"{w.extract_date:%Y-%m-%d}; set data.window.extract_date to the first day the extract does "
                "not cover"
            )
        return (
            f"the first {date} at this site is {dates.min():%Y-%m-%d} but data.window.start is "
            f"{w.start:%Y-%m-%d}; set data.window.start to the first month the extract covers"
        )
    return ""


def series_checks(
    protocol: Protocol,
    data: LoadedData,
    tables: Mapping[str, pd.DataFrame],
    *,
    count_format: Callable[[float], str] | None = None,
) -> SeriesChecks:
    """Check every outcome series of the protocol before modelling (see the module docstring)."""
    frames: list[pd.DataFrame] = []
    warmup: dict[str, list[pd.Timestamp]] = {}
    partial: dict[str, list[pd.Timestamp]] = {}
    w = protocol.data.window
    start, end = (w.start, w.extract_date) if w is not None else (None, None)
    from evaltoolkit.report._data import _events

    sites = [s.code for s in protocol.sites]
    for spec in protocol.series:
        table = tables[spec.name]
        if spec.measure == "bed_days" and start is not None:
            # bed-days are sums of stays, correlated from month to month and not quasi-Poisson: a gap in
            # the extract is looked for in the admissions behind them (the warm-up is checked below)
            table = count_events(
                _events(spec, data),
                date="admitted",
                freq=spec.frequency,
                by="site",
                start=start,
                end=end,
                levels={"site": sites},
            ).rename(columns={"count": "n_events"})
        found = check_series(
            table,
            value="n_events",
            name=spec.name,
            freq=spec.frequency,
            start=start,
            end=end,
            count_format=count_format,
        )
        if len(found):
            errors = found["severity"] == "error"
            causes = [
                _cause(r, spec, data, protocol) if e else ""
                for r, e in zip(found.itertuples(index=False), errors, strict=True)
            ]
            found["message"] = [
                m + (f". Cause: {c}" if c else "") for m, c in zip(found["message"], causes, strict=True)
            ]
            if spec.frequency == "W-MON":
                cut = (found["check"] == "partial_period").to_numpy(dtype=bool)
                if cut.any():
                    partial[spec.name] = sorted(set(pd.to_datetime(found.loc[cut, "period"])))
                    found.loc[cut, "message"] = [
                        f"{m}; this partial week is left out of the interrupted-time-series fits"
                        for m in found.loc[cut, "message"]
                    ]
                    # a partial week's count is low by construction: that is the partial_period finding
                    # above, not also an abnormal_count (a gap in the extract)
                    same = (found["check"] == "abnormal_count") & found["period"].isin(partial[spec.name])
                    found = found[~same.to_numpy(dtype=bool)].reset_index(drop=True)
        frames.append(found)
        if start is None:
            continue
        events = _events(spec, data)
        frames.append(
            check_event_dates(
                events,
                date=DATE_COLUMN[spec.source],
                by="site",
                start=start,
                end=end,
                freq=spec.frequency,
                name=spec.name,
                count_format=count_format,
            )
        )
        if spec.measure == "bed_days" and len(events):
            frames.append(_warmup(spec, events, start, end, warmup))
    frames = [f for f in frames if len(f)]
    findings = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CHECK_COLUMNS)
    return SeriesChecks(findings=findings.reset_index(drop=True), warmup=warmup, partial=partial)


def _warmup(
    spec: Any, events: pd.DataFrame, start: Any, end: Any, out: dict, *, fitted: bool = True
) -> pd.DataFrame:
    # stale open spells are most likely missing discharge dates: they would lengthen the LOS tail
    use = events
    if "dq_stale_open_spell" in events.columns:
        use = events[~events["dq_stale_open_spell"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    try:
        table = bed_day_warmup(
            use,
            admitted="admitted",
            discharged="discharged",
            start=start,
            end=end,
            censor_at=end,
            freq=spec.frequency,
            threshold=WARMUP_THRESHOLD,
        )
    except EvalToolkitError:
        return pd.DataFrame(columns=CHECK_COLUMNS)
    hit = table[table["warm_up"]]
    if not len(hit):
        return pd.DataFrame(columns=CHECK_COLUMNS)
    out[spec.name] = list(hit["period"])
    n = len(hit)
    unit = {"MS": "months", "W-MON": "weeks"}.get(spec.frequency, "periods")
    fmt = "%Y-%m" if spec.frequency == "MS" else "%Y-%m-%d"
    shares = ", ".join(f"{p:{fmt}} {s:.1%}" for p, s in zip(hit["period"], hit["missing_share"], strict=True))
    message = (
        f"series {spec.name}: the spells extract holds no spells admitted before the window start "
        f"{pd.Timestamp(start):%Y-%m-%d}, so the occupied bed-days of the first {n} {unit} are too low by "
        f"construction (expected share missing, from the length-of-stay distribution of the spells "
        f"admitted in the window: {shares}; the first {unit[:-1]} below {WARMUP_THRESHOLD:.0%} is "
        f"{table['period'].iloc[-1]:{fmt}})"
        + (
            f". These {unit} are left out of the interrupted-time-series fits"
            if fitted
            else "; leave them out of any model of bed-days"
        )
    )
    return pd.DataFrame(
        [
            {
                "series": spec.name,
                "site": None,
                "period": hit["period"].iloc[0],
                "check": "bed_day_warmup",
                "severity": "warning",
                "observed": float(n),
                "expected": float("nan"),
                "p_value": float("nan"),
                "message": message,
            }
        ],
        columns=CHECK_COLUMNS,
    )


KEPT_WARMUP = (
    ". They are KEPT in the interrupted-time-series fits (the protocol sets "
    "analysis.exclude_bed_day_warmup: false), so the early pre-period bed-days are too low and the "
    "pre-period trend, and with it the counterfactual, is biased upwards"
)
"""Replaces the 'left out' sentence of a bed-day warm-up finding when the protocol keeps those months."""


def keep_warmup(checks: SeriesChecks) -> SeriesChecks:
    """The checks with each bed-day warm-up finding saying the months are kept in the fits (a new object)."""
    findings = checks.findings.copy()
    hit = findings["check"] == "bed_day_warmup"
    findings.loc[hit, "message"] = (
        findings.loc[hit, "message"]
        .str.replace(
            ". These months are left out of the interrupted-time-series fits", KEPT_WARMUP, regex=False
        )
        .str.replace(
            ". These periods are left out of the interrupted-time-series fits", KEPT_WARMUP, regex=False
        )
    )
    return SeriesChecks(findings=findings, warmup=dict(checks.warmup), partial=dict(checks.partial))


def its_tables(
    tables: Mapping[str, pd.DataFrame], checks: SeriesChecks, *, exclude_warmup: bool = True
) -> dict[str, pd.DataFrame]:
    """The series to fit: bed-day series without their warm-up periods (unless ``exclude_warmup`` is
    False: protocol key ``analysis.exclude_bed_day_warmup``), weekly series without their partial first and
    last weeks; the others unchanged."""
    out = {}
    for name, table in tables.items():
        drop = [*(checks.warmup.get(name, []) if exclude_warmup else []), *checks.partial.get(name, [])]
        out[name] = table[~table["period"].isin(drop)].reset_index(drop=True) if drop else table
    return out


def raise_for_errors(checks: SeriesChecks) -> None:
    """Raise :class:`~evaltoolkit.errors.ExtractValidationError` listing every error finding."""
    errors = checks.errors
    if not len(errors):
        return
    lines = "\n".join(f"  {r.check}: {r.message}" for r in errors.itertuples(index=False))
    raise ExtractValidationError(
        f"{len(errors)} series cannot be modelled as the data stand (nothing was fitted):\n{lines}", errors
    )


def sites_without_rows(protocol: Protocol, data: LoadedData) -> list[str]:
    """Protocol sites with no row in any event extract read (attendances, spells): one message each."""
    kinds = [k for k in DATE_COLUMN if k in data.extracts]
    if not kinds:
        return []
    present: set[str] = set()
    for kind in kinds:
        present |= set(data.extracts[kind].data["site"].dropna().astype(str))
    where = " or ".join(
        f"{kind} ({', '.join(p.name for p in data.inputs.get(kind, ())) or kind})" for kind in kinds
    )
    return [
        f"site {site.code} (sites[{i}]) has no rows in {where}; check sites[{i}].code against the site "
        "codes in the files (or data.sources.<kind>.site_aliases), or remove the site"
        for i, site in enumerate(protocol.sites)
        if str(site.code) not in present
    ]


def check_lines(protocol: Protocol, data: LoadedData) -> tuple[list[str], bool]:
    """What ``evaltoolkit validate P.yaml`` prints about the series, and whether any check failed."""
    from evaltoolkit.report._data import build_series_table

    if not protocol.series:
        return [], False
    sites = [s.code for s in protocol.sites]
    empty = [f"sites: {m}" for m in sites_without_rows(protocol, data)]
    try:
        tables = {s.name: build_series_table(s, data, sites) for s in protocol.series}
    except (EvalToolkitError, ValueError) as exc:
        return [*empty, f"series: {exc}"], True
    checks = series_checks(protocol, data, tables)
    f = checks.findings
    n_err = int((f["severity"] == "error").sum())
    n_warn = len(f) - n_err
    if not len(f):
        ok = f"series ({len(protocol.series)}): ok; no gap, empty stretch or partial period found"
        return [*empty, ok], bool(empty)
    lines = [*empty, f"series ({len(protocol.series)}): {n_err} error(s), {n_warn} warning(s)"]
    lines += [f"  {r.severity} {r.check}: {r.message}" for r in f.itertuples(index=False)]
    return lines, n_err > 0 or bool(empty)


def occasion_problems(protocol: Protocol, data: LoadedData) -> list[str]:
    """``outcome_measures.pre``/``post`` that are not values of the occasion column in the data.

    Returns one message per problem (empty when both occasions are found), naming the protocol key, the
    extract and its files, and the values the occasion column holds.
    """
    om = protocol.outcome_measures
    if om is None or om.source not in data.extracts:
        return []
    raw = data.extracts[om.source].data
    files = ", ".join(p.name for p in data.inputs.get(om.source, ())) or om.source
    where = f"{om.source} ({files})"
    if om.occasion not in raw.columns:
        return [
            f"outcome_measures.occasion {om.occasion!r} is not a column of {where}; its columns are "
            f"{', '.join(map(str, raw.columns[:20]))}"
        ]
    found = set(raw[om.occasion].dropna().tolist())
    values = sorted(map(str, found))
    shown = ", ".join(repr(v) for v in values[:12]) + (" ..." if len(values) > 12 else "")
    out = []
    for key, occ in (("pre", om.pre), ("post", om.post)):
        if occ not in found:
            out.append(
                f"outcome_measures.{key} {occ!r} is not a value of the occasion column {om.occasion!r} in "
                f"{where}; the values there are {shown or 'none'}. Set outcome_measures.{key} to one of "
                "them (or check that the file or sheet holding that occasion was read)"
            )
    return out


def published_checks(checks: SeriesChecks) -> list[dict[str, Any]]:
    """The findings as published in results.json (``data.series_checks``): ``series, site, period,
    check, severity, n_periods, message`` (messages built with the suppression rule's counts;
    ``n_periods``: the warm-up periods of a ``bed_day_warmup`` finding, else 1)."""
    f = checks.findings
    out = []
    for r in f.itertuples(index=False):
        out.append(
            {
                "series": r.series,
                "site": None
                if r.site is None or (isinstance(r.site, float) and np.isnan(r.site))
                else r.site,
                "period": None if pd.isna(r.period) else pd.Timestamp(r.period).strftime("%Y-%m-%d"),
                "check": r.check,
                "severity": r.severity,
                "n_periods": int(r.observed) if r.check == "bed_day_warmup" else 1,
                "message": r.message,
            }
        )
    return out


def folder_check_lines(
    folder: Path, window: tuple[Any, Any] | None, *, sites: Any = None
) -> tuple[list[str], bool]:
    """The series checks of ``evaltoolkit validate DIR --start S --extract-date E``: monthly counts per
    site of the attendances and spells in the folder (cleaned, rows with errors left out; open spells
    older than 365 days flagged stale and left out of the length-of-stay estimate), checked with
    :func:`~evaltoolkit.series.checks.check_series` and
    :func:`~evaltoolkit.series.checks.check_event_dates`, and the bed-day warm-up. Nothing without a
    window. Returns the lines to print and whether any check failed (an error finding)."""
    from evaltoolkit.data import load_extracts

    if window is None:
        return [], False  # without an extract date the last months are partial by nature
    try:
        extracts = load_extracts(
            folder, window=window, sites=sites, on_invalid="exclude", max_open_days=FOLDER_MAX_OPEN_DAYS
        )
    except (EvalToolkitError, OSError):
        return [], False  # the extract-level report above has said what is wrong
    if not any(k in extracts for k in DATE_COLUMN):
        return [], False
    start, end = pd.Timestamp(window[0]), pd.Timestamp(window[1])
    frames = []
    for kind, date in DATE_COLUMN.items():
        ex = extracts.get(kind)
        if ex is None or not len(ex.data):
            continue
        events = ex.data
        counts = count_events(events, date=date, by="site", start=start, end=end)
        frames.append(check_series(counts, value="count", name=kind, start=start, end=end))
        frames.append(check_event_dates(events, date=date, by="site", start=start, end=end, name=kind))
        if kind == "spells":
            frames.append(_warmup(_Spec("spells", "MS"), events, start, end, {}, fitted=False))
    frames = [f for f in frames if len(f)]
    if not frames:
        return ["series checks (monthly counts per site): nothing found"], False
    found = pd.concat(frames, ignore_index=True)
    n_err = int((found["severity"] == "error").sum())
    lines = [f"series checks (monthly counts per site): {n_err} error(s), {len(found) - n_err} warning(s)"]
    for r in found.itertuples(index=False):
        line = f"  {r.severity} {r.check}: {r.message}"
        ex = extracts.get(str(r.series))
        if r.check in ("after_data_end", "before_data_start") and ex is not None and len(ex.data):
            dates = pd.to_datetime(ex.data[DATE_COLUMN[str(r.series)]]).dropna()
            if r.check == "after_data_end":
                line += (
                    f". The last {DATE_COLUMN[str(r.series)]} date in the folder is {dates.max():%Y-%m-%d}: "
                    "give the extract date with --extract-date (the first day the extract does not cover)."
                )
            else:
                line += (
                    f". The first {DATE_COLUMN[str(r.series)]} date in the folder is {dates.min():%Y-%m-%d}: "
                    "give a later --start."
                )
        lines.append(line)
    return lines, n_err > 0


@dataclass(frozen=True)
class _Spec:
    name: str
    frequency: str
