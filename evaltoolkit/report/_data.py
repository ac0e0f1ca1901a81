"""Load a protocol's extracts and build its outcome series (exact counts: for analysis, never published)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.data import CleanExtract, combine_quality
from evaltoolkit.data._usable import check_usable
from evaltoolkit.disclosure.deferred import CountsInText, ExactCount, FromPublished, Resting
from evaltoolkit.errors import MissingInputError
from evaltoolkit.protocol import Protocol, available_sources
from evaltoolkit.protocol.schema import SeriesSpec
from evaltoolkit.report._extract_checks import check_not_all_excluded, unknown_site_codes
from evaltoolkit.series import bed_days, count_events, los_by_period

__all__ = ["LoadedData", "build_series_table", "load_data", "needed_kinds", "published_series"]

_DATE = {"attendances": "arrival", "spells": "admitted"}


@dataclass(frozen=True, eq=False)
class LoadedData:
    """The cleaned extracts a protocol needs, with the files they came from and the quality table.

    ``files`` holds the (first) file of each kind and ``inputs`` every file read (a source may list
    several files or a glob pattern); ``notes`` says, in plain words and with counts, where an analysis
    had to infer something the extracts do not record (e.g. personality-disorder spells from ED
    attendances when the spells extract has no ``pd_flag``).
    """

    extracts: dict[str, CleanExtract]
    files: dict[str, Path]
    quality: pd.DataFrame
    window: tuple[pd.Timestamp, pd.Timestamp] | None
    pd_patients: frozenset[str] = field(default_factory=frozenset)
    unknown_sites: dict[str, dict[str, int]] = field(default_factory=dict)
    """``{kind: {site code: rows}}``: codes excluded by rule ``unknown_site`` (for error messages)."""
    inputs: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    notes: tuple[str | CountsInText, ...] = ()


def needed_kinds(protocol: Protocol) -> list[str]:
    """Extract kinds the protocol's analyses read, in schema order."""
    kinds: set[str] = set()
    for s in protocol.series:
        kinds.add(s.source)
        if s.denominator == "population":
            kinds.add("population")
        if s.pd_only and s.source == "spells":
            kinds.add("attendances")
    if protocol.cohort is not None:
        kinds |= {"cohort", "attendances", "spells"}
    if protocol.outcome_measures is not None:
        kinds.add(protocol.outcome_measures.source)
    order = ["attendances", "spells", "population", "cohort", "rom_responses", "staff_survey"]
    return [k for k in order if k in kinds]


def load_data(protocol: Protocol) -> LoadedData:
    """Read, map, validate and clean every extract the protocol needs.

    Each source is read with :func:`evaltoolkit.data.read_source` using its protocol keys
    (``data.sources.<kind>``: files, sheets, preset, column and item maps, date formats, value maps,
    site aliases, ``where`` filters, annual population), then cleaned, so ``validate``, ``series`` and
    ``run`` read the same rows. Site codes not listed in the protocol are ``unknown_site`` (excluded and
    counted); dates outside ``data.window`` are ``outside_window``. Any error (unparseable dates, missing
    columns…) raises :class:`~evaltoolkit.errors.ExtractValidationError` listing every problem; so does an
    extract whose every row is excluded (naming the rules, the unknown site codes and the key to fix).
    """
    from evaltoolkit.data import read_source
    from evaltoolkit.data.load import _clean_source

    folder = protocol.data_folder()
    found = available_sources(protocol.data, folder)
    sources = protocol.data.sources
    w = protocol.data.window
    window = (pd.Timestamp(w.start), pd.Timestamp(w.extract_date)) if w is not None else None
    sites = [s.code for s in protocol.sites]
    extracts: dict[str, CleanExtract] = {}
    files: dict[str, Path] = {}
    unknown: dict[str, dict[str, int]] = {}
    for kind in needed_kinds(protocol):
        if kind not in found:
            raise MissingInputError(f"no {kind} extract in {folder} (protocol data.sources.{kind})")
        spec: Any = sources.get(kind)
        if spec is None:
            spec = {"file": found[kind].name}
        use_sites = sites if kind in ("attendances", "spells", "population") else None
        use_window = window if kind in ("attendances", "spells") else None
        read_window = use_window if kind != "population" else window
        got = read_source(kind, spec, folder, window=read_window, advice=f"protocol:{kind}")
        extracts[kind] = _clean_source(
            got,
            kind,
            spec,
            sites=use_sites,
            window=read_window,
            max_open_days=protocol.data.max_open_days,
            advice=f"protocol:{kind}",
        )
        files[kind] = extracts[kind].files[0]
        unknown[kind] = unknown_site_codes(got.data, use_sites)
        check_not_all_excluded(
            kind, got.data, extracts[kind], files[kind], sites=use_sites, window=use_window
        )
    check_usable(extracts, files)  # an empty or wholly excluded extract stops here, naming the rules
    quality = combine_quality(*extracts.values())
    pd_patients = _pd_patients(extracts)
    return LoadedData(
        extracts=extracts,
        files=files,
        quality=quality,
        window=window,
        pd_patients=pd_patients,
        unknown_sites=unknown,
        inputs={k: ex.files for k, ex in extracts.items()},
        notes=tuple(_pd_notes(protocol, extracts, pd_patients)),
    )


def _flag(df: pd.DataFrame) -> np.ndarray:
    return df["pd_flag"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _pd_patients(extracts: dict[str, CleanExtract]) -> frozenset[str]:
    """Patients with a personality-disorder flag on any attendance, spell or in the cohort."""
    ids: set[str] = set()
    for kind in ("attendances", "spells"):
        if kind in extracts:
            df = extracts[kind].data
            if "pd_flag" in df.columns:
                ids |= set(df.loc[_flag(df), "patient_id"].dropna().astype(str))
    if "cohort" in extracts:
        coh = extracts["cohort"].data
        flag = _flag(coh) if "pd_flag" in coh.columns else np.ones(len(coh), dtype=bool)
        ids |= set(coh.loc[flag, "patient_id"].dropna().astype(str))
    return frozenset(ids)


def _pd_notes(
    protocol: Protocol, extracts: dict[str, CleanExtract], pd_patients: frozenset[str]
) -> list[str]:
    """Say when personality-disorder spells are inferred from other extracts, with the counts."""
    wanted = [s.name for s in protocol.series if s.pd_only and s.source == "spells"]
    if not wanted or "spells" not in extracts:
        return []
    spells = extracts["spells"].data
    if "pd_flag" in spells.columns:
        return []
    inferred = spells["patient_id"].astype("string").isin(pd_patients).fillna(False).to_numpy(dtype=bool)
    counts = tuple(int(n) for n in (inferred.sum(), len(spells), len(pd_patients)))
    return [
        CountsInText.of(
            "The spells extract has no personality-disorder flag, so PD admissions and bed-days "
            f"({', '.join(wanted)}) count the spells of patients flagged on an ED attendance or in the "
            "cohort: {0} of {1} spells ({2} flagged patients; counts published under the suppression rule). "
            "PD spells of patients with no flagged attendance are missed, so these series may be too low; "
            "add pd_flag to the spells extract (data.sources.spells.columns) to count them directly.",
            *counts,
        )
    ]


def _events(spec: SeriesSpec, data: LoadedData) -> pd.DataFrame:
    """Rows of the series' source that count: its ``where`` filter and, with ``pd_only``, the PD flag.

    With ``pd_only``, the extract's own ``pd_flag`` is used when it has one (attendances or spells);
    otherwise spells are those of patients flagged elsewhere (see ``LoadedData.notes``).
    """
    df = data.extracts[spec.source].data
    keep = np.ones(len(df), dtype=bool)
    for col, value in spec.where.items():
        keep &= (df[col] == value).fillna(False).to_numpy(dtype=bool)
    if spec.pd_only:
        if "pd_flag" in df.columns:
            keep &= _flag(df)
        else:
            keep &= (
                df["patient_id"].astype("string").isin(data.pd_patients).fillna(False).to_numpy(dtype=bool)
            )
    return df.loc[keep]


def _population(
    data: LoadedData, freq: str, sites: list[str], series: str, periods: pd.DataFrame
) -> pd.DataFrame:
    """Population per site and period of the series; a quarter's population is the mean of its months, a
    week's is that of the month holding its Thursday (its middle day; for a week cut by the window, the
    middle day of its days inside the window).

    A quarter needs the population of every one of its months that lies in the data window (all three
    for a whole quarter); ``periods`` (``site, period``) are the site-quarters the series uses, and any
    of them with a month missing raises ``ValueError`` naming the series, site, quarter and months.
    """
    pop = data.extracts["population"].data[["site", "period", "population"]].copy()
    pop["period"] = pd.to_datetime(pop["period"]).dt.to_period("M").dt.start_time
    pop = pop[pop["site"].isin(sites)]
    if freq == "W-MON":
        assert data.window is not None
        start, end = (pd.Timestamp(x) for x in data.window)
        weeks = periods[["site", "period"]].drop_duplicates()
        first = weeks["period"].clip(lower=start)
        last = (weeks["period"] + pd.Timedelta(days=6)).clip(upper=end - pd.Timedelta(days=1))
        middle = first + (last - first) / 2
        weeks = weeks.assign(month=middle.dt.to_period("M").dt.start_time)
        have = pop.drop_duplicates(["site", "period"]).rename(columns={"period": "month"})
        return weeks.merge(have, on=["site", "month"], how="inner", validate="many_to_one")[
            ["site", "period", "population"]
        ]
    if freq != "QS":
        return pop
    assert data.window is not None
    start, end = data.window
    # the months each quarter of the series needs: those overlapping the window [start, end)
    need = periods[["site", "period"]].drop_duplicates()
    need = need.assign(month=[pd.date_range(q, periods=3, freq="MS") for q in need["period"]]).explode(
        "month", ignore_index=True
    )
    need["month"] = pd.to_datetime(need["month"])
    overlaps = (need["month"] < end) & (need["month"] + pd.offsets.MonthBegin(1) > start)
    need = need[overlaps.to_numpy(dtype=bool)]
    have = pop.drop_duplicates(["site", "period"]).rename(columns={"period": "month"})
    need = need.merge(have, on=["site", "month"], how="left", validate="many_to_one")
    gap = need["population"].isna().to_numpy(dtype=bool)
    if gap.any():
        missing = need.loc[gap].sort_values(["site", "period", "month"])
        by_quarter = missing.groupby(["site", "period"], sort=True)["month"].agg(list)
        shown = "; ".join(
            f"{site} {q.year}Q{q.quarter} (no {', '.join(f'{m:%Y-%m}' for m in months)})"
            for (site, q), months in by_quarter.head(3).items()
        )
        raise ValueError(
            f"series {series}: the quarterly population needs every month of each quarter; "
            f"{len(by_quarter)} site-quarter(s) lack a month (first: {shown}). Add the missing months to "
            "the population extract"
        )
    return need.groupby(["site", "period"], as_index=False)["population"].mean()


def build_series_table(spec: SeriesSpec, data: LoadedData, sites: list[str]) -> pd.DataFrame:
    """One outcome series: ``period, site, value`` plus ``n_events`` (the count behind a mean) and
    ``population`` (when the series has a denominator). Exact values, zero-filled over the window."""
    if data.window is None:
        raise ValueError("outcome series need data.window")
    start, end = data.window
    events = _events(spec, data)
    common: dict[str, Any] = {
        "freq": spec.frequency,
        "by": "site",
        "start": start,
        "end": end,
        "levels": {"site": sites},
    }
    if spec.measure == "count":
        out = count_events(events, date=_DATE[spec.source], **common).rename(columns={"count": "value"})
        out["n_events"] = out["value"]
    elif spec.measure == "bed_days":
        out = bed_days(events, admitted="admitted", discharged="discharged", censor_at=end, **common)
        out = out.rename(columns={"bed_days": "value"})
        out["n_events"] = out["value"]
    else:
        los = los_by_period(events, admitted="admitted", discharged="discharged", **common)
        out = los.rename(columns={"mean_los_discharged": "value", "discharges": "n_events"})
    out = out[["period", "site", "value", "n_events"]].copy()
    if spec.denominator == "population":
        pop = _population(data, spec.frequency, sites, spec.name, out)
        out = out.merge(pop, on=["site", "period"], how="left", validate="one_to_one")
        missing = out["population"].isna()
        if missing.any():
            first = out.loc[missing, ["site", "period"]].head(3)
            shown = ", ".join(f"{r.site} {r.period:%Y-%m}" for r in first.itertuples())
            raise ValueError(
                f"series {spec.name}: population is missing for {int(missing.sum())} site-periods "
                f"(first: {shown}); the population extract must cover every site and month of the window"
            )
    out["series"] = spec.name
    return out.sort_values(["site", "period"], ignore_index=True)


def published_series(table: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    """The series as it will be published, with typed values (resolved with everything else by
    :func:`~evaltoolkit.disclosure.deferred.publish_results`): counts suppressed and rounded, rates from
    the published counts, means blank where they rest on a suppressed number of spells."""
    out = table[["series", "site", "period"]].copy()
    if spec.measure == "mean_los":
        out["discharges"] = list(ExactCount(_count(n), text=True) for n in table["n_events"])
        out["value"] = list(
            Resting(None if pd.isna(v) else float(v), (_count(n),), "model")
            for v, n in zip(table["value"], table["n_events"], strict=True)
        )
        return out
    out["value"] = list(ExactCount(_count(n), text=True) for n in table["value"])
    if spec.denominator == "population":
        out["population"] = table["population"]
        out[f"rate_per_{spec.per}"] = list(
            FromPublished(partial(_rate, float(p), spec.per), (_count(n),))
            for n, p in zip(table["value"], table["population"], strict=True)
        )
    return out


def _count(n: Any) -> int | None:
    return None if pd.isna(n) else int(n)


def _rate(population: float, per: int, k: Any) -> float:
    """A rate per ``per`` population from a published count (NaN when it is suppressed)."""
    return k / population * per if isinstance(k, int) else float("nan")
