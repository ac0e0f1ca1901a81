"""The series job: a folder of extracts → validated, documented site × period series.

This is what ``evaltoolkit series DIR --out OUT`` and ``make demo`` run. It chains the public
functions of :mod:`evaltoolkit.data` and :mod:`evaltoolkit.series`; nothing here is hidden from
analysts, who can call the same functions themselves.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.data import CleanExtract, combine_quality, find_extract_files, load_extracts, read_sites
from evaltoolkit.errors import MissingInputError
from evaltoolkit.privacy import suppress_counts
from evaltoolkit.provenance import package_versions, sha256_file
from evaltoolkit.series import bed_days, count_events, los_by_period, patient_windows, rates

__all__ = ["SERIES_COLUMNS", "SeriesBuild", "build_series", "default_window", "write_series"]

#: Columns of the site × period series, in order (see :func:`build_series`).
SERIES_COLUMNS = (
    "period",
    "site",
    "ed_attendances",
    "ed_attendances_pd",
    "admissions",
    "admissions_pd",
    "emergency_admissions_mh",
    "bed_days",
    "bed_days_open_spells",
    "discharges",
    "mean_los_discharged",
    "median_los_discharged",
    "population",
    "ed_attendances_per_100k",
)
_COUNT_COLUMNS = (
    "ed_attendances",
    "ed_attendances_pd",
    "admissions",
    "admissions_pd",
    "emergency_admissions_mh",
    "bed_days",
    "bed_days_open_spells",
    "discharges",
)


@dataclass(frozen=True, eq=False)
class SeriesBuild:
    """Everything the series job produced.

    Attributes
    ----------
    series : DataFrame
        One row per site and period, columns :data:`SERIES_COLUMNS`. Exact counts: for analysis,
        not for publication (use :meth:`published_series`).
    windows : DataFrame
        Per-site summary of the per-patient before/after windows (no patient identifiers).
    quality : DataFrame
        Data-quality table of every extract (rule, rows, action).
    window : tuple of Timestamp
        ``(start, end)`` half-open observation window.
    freq : str
        Period frequency.
    inputs : dict
        ``{kind: path}`` of the files read.
    notes : tuple of str
        Plain-English notes on series that could not be built (e.g. no personality-disorder flag in
        the extract): those columns are missing (NaN), never zero.
    """

    series: pd.DataFrame
    windows: pd.DataFrame
    quality: pd.DataFrame
    window: tuple[pd.Timestamp, pd.Timestamp]
    freq: str
    inputs: dict[str, Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def published_series(self, *, low: int = 1, high: int = 7, round_to: int = 5) -> pd.DataFrame:
        """The series with small counts suppressed (NHS rule by default: 1–7 → ``*``, others to nearest 5).

        LOS summaries of periods with 1–7 discharges are blanked, and the rate is recomputed from the
        rounded count (as NHS Digital computes published percentages), so the exact count cannot be
        recovered from it; it is blank where the count is suppressed.
        """
        out = suppress_counts(self.series, list(_COUNT_COLUMNS), low=low, high=high, round_to=round_to)
        small = self.series["discharges"].between(low, high)
        out.loc[small, ["mean_los_discharged", "median_los_discharged"]] = np.nan
        shown = pd.to_numeric(out["ed_attendances"], errors="coerce")
        out["ed_attendances_per_100k"] = shown / self.series["population"] * 100_000
        return out

    def published_windows(self, *, low: int = 1, high: int = 7, round_to: int = 5) -> pd.DataFrame:
        """The per-site before/after summary with small counts suppressed.

        Rates per person-year are recomputed from the rounded counts (blank where the count is
        suppressed), so exact counts cannot be recovered from them.
        """
        counts = ["patients", "attendances", "admissions", "bed_days"]
        out = suppress_counts(self.windows, counts, low=low, high=high, round_to=round_to)
        for rate, count in (
            ("attendances_per_person_year", "attendances"),
            ("bed_days_per_person_year", "bed_days"),
        ):
            out[rate] = pd.to_numeric(out[count], errors="coerce") / self.windows["person_years"]
        return out

    def published_quality(self, *, low: int = 1, high: int = 7, round_to: int = 5) -> pd.DataFrame:
        """The data-quality table with small counts suppressed and without row numbers."""
        table = self.quality.drop(columns=["rows"], errors="ignore")
        return suppress_counts(table, ["n_rows", "n_excluded"], low=low, high=high, round_to=round_to)


def default_window(population: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Observation window implied by the population denominators: first month to one month after the last.

    Examples
    --------
    >>> pop = pd.DataFrame({"period": pd.to_datetime(["2020-01-01", "2020-03-01"])})
    >>> default_window(pop)
    (Timestamp('2020-01-01 00:00:00'), Timestamp('2020-04-01 00:00:00'))
    """
    periods = pd.to_datetime(population["period"])
    return periods.min(), periods.max() + pd.DateOffset(months=1)


def _pd_patients(extracts: dict[str, CleanExtract]) -> set[str]:
    ids: set[str] = set()
    att = extracts["attendances"].data
    if "pd_flag" in att.columns:
        ids |= set(att.loc[att["pd_flag"].fillna(False).astype(bool), "patient_id"].dropna())
    if "cohort" in extracts:
        coh = extracts["cohort"].data
        flag = coh["pd_flag"].fillna(False).astype(bool) if "pd_flag" in coh.columns else True
        ids |= set(coh.loc[flag, "patient_id"].dropna())
    return ids


def build_series(
    folder: str | Path,
    *,
    freq: str = "MS",
    window: tuple[Any, Any] | None = None,
    sites: Iterable[str] | None = None,
    before_months: int = 18,
    after_months: int = 18,
    max_open_days: float | None = 365,
    sources: dict[str, Any] | None = None,
) -> SeriesBuild:
    """Load, validate and clean the extracts in ``folder`` and build site × period series.

    Parameters
    ----------
    folder : str or Path
        Folder holding ``attendances``, ``spells`` and ``population`` files (``.csv``, ``.xlsx`` or
        ``.parquet``), and optionally ``sites`` and ``cohort``, with canonical column names.
    freq : str, default "MS"
        ``"MS"`` for calendar months, ``"W-MON"`` for weeks starting Monday.
    window : tuple, optional
        ``(start, extract_date)``. Default: from the population file (first month to one month
        after the last).
    sites : iterable of str, optional
        Known site codes. Default: the sites file, else the sites in the population file.
    before_months, after_months : int
        Per-patient window lengths around each cohort member's index date.
    max_open_days : float, optional
        Open spells admitted longer ago than this at the extract date are flagged as stale.
    sources : dict, optional
        ``{kind: data-source keys}`` as under ``data.sources`` of a protocol (files, preset, column
        maps, sheets, date formats...; see :func:`evaltoolkit.data.read_source`). Default: files named
        by kind with canonical columns.

    Returns
    -------
    SeriesBuild
        Series, per-site window summary and data-quality table.

    Notes
    -----
    Series columns: ``ed_attendances`` (all attendances by arrival date), ``ed_attendances_pd``
    (attendances whose own ``pd_flag`` is true), ``admissions`` (spells by admission date),
    ``admissions_pd`` (spells of patients flagged with personality disorder on any attendance or in
    the cohort: spells carry no flag of their own), ``emergency_admissions_mh`` (emergency
    admissions to mental-health wards),
    ``bed_days`` (occupied bed-days, midnights convention, open spells censored at the extract date),
    ``bed_days_open_spells`` (the part of ``bed_days`` from spells still open at the extract date),
    ``discharges`` and ``mean_los_discharged``/``median_los_discharged`` (LOS of spells discharged
    in the period), ``population`` and ``ed_attendances_per_100k`` (monthly series only: population
    denominators are monthly, so both are missing for weekly series). A series whose inputs are
    absent (no ``pd_flag``, no ``ward_type``...) is missing (NaN), never zero, and explained in
    ``notes``.
    """
    folder = Path(folder)
    if sources:
        from evaltoolkit.data import source_files

        files = {
            k: source_files(v["file"] if isinstance(v, dict) else v.file, folder)[0]
            for k, v in sources.items()
        }
    else:
        files = find_extract_files(folder)
    missing = [k for k in ("attendances", "spells", "population") if k not in files]
    if missing:
        raise MissingInputError(f"{folder} lacks the extract files {missing} (csv, xlsx or parquet)")

    site_table = read_sites(files["sites"]) if "sites" in files else None
    if window is None:
        pop_only = load_extracts_subset(folder, "population", sources)
        start, end = default_window(pop_only.data)
    else:
        from evaltoolkit.data import parse_window  # ISO 8601 only: dd/mm text is refused, never guessed

        start, end = parse_window(window)  # type: ignore[misc]
    if sites is None:
        if site_table is not None:
            sites = list(site_table["site"])
        else:
            sites = sorted(load_extracts_subset(folder, "population", sources).data["site"].unique())
    site_list = sorted(str(s) for s in sites)

    extracts = load_extracts(
        folder, window=(start, end), sites=site_list, max_open_days=max_open_days, sources=sources
    )
    att = extracts["attendances"].data
    spells = extracts["spells"].data
    pop = extracts["population"].data
    levels = {"site": site_list}
    common: dict[str, Any] = {"freq": freq, "by": "site", "start": start, "end": end, "levels": levels}

    def counted(events: pd.DataFrame, date: str, name: str) -> pd.DataFrame:
        return count_events(events, date=date, **common).rename(columns={"count": name})

    notes: list[str] = []
    pd_ids = _pd_patients(extracts)
    att_pd: pd.DataFrame | None = None
    spells_pd: pd.DataFrame | None = None
    if "pd_flag" in att.columns:
        att_pd = att[att["pd_flag"].fillna(False).astype(bool)]
    else:
        notes.append("ed_attendances_pd: the attendance extract has no pd_flag column; left missing.")
    if "pd_flag" in spells.columns:  # the spells extract's own flag, used directly
        spells_pd = spells[spells["pd_flag"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    elif pd_ids:
        spells_pd = spells[spells["patient_id"].isin(pd_ids)]
        n_inferred = len(spells_pd)
        notes.append(
            f"admissions_pd: the spells extract has no pd_flag, so PD spells are the {n_inferred} of "
            f"{len(spells)} spells of the {len(pd_ids)} patients flagged on an attendance or in the cohort; "
            "PD spells of other patients are missed."
        )
    else:
        notes.append(
            "admissions_pd: no personality-disorder flag in the attendances or cohort; left missing."
        )
    emerg_mh: pd.DataFrame | None = None
    absent = [c for c in ("admission_method", "ward_type") if c not in spells.columns]
    if absent:
        notes.append(
            f"emergency_admissions_mh: the spell extract has no {' or '.join(absent)} column; left missing."
        )
    else:
        emerg_mh = spells[
            spells["admission_method"].eq("emergency") & spells["ward_type"].eq("mental_health")
        ]

    parts = [counted(att, "arrival", "ed_attendances"), counted(spells, "admitted", "admissions")]
    for events, date, name in (
        (att_pd, "arrival", "ed_attendances_pd"),
        (spells_pd, "admitted", "admissions_pd"),
        (emerg_mh, "admitted", "emergency_admissions_mh"),
    ):
        if events is not None:
            parts.append(counted(events, date, name))
    beds = bed_days(
        spells, admitted="admitted", discharged="discharged", censor_at=end, split_open=True, **common
    )
    parts.append(
        beds[["period", "site", "bed_days", "open_bed_days"]].rename(
            columns={"open_bed_days": "bed_days_open_spells"}
        )
    )
    los = los_by_period(spells, admitted="admitted", discharged="discharged", **common)
    parts.append(los[["period", "site", "discharges", "mean_los_discharged", "median_los_discharged"]])

    series = parts[0]
    for p in parts[1:]:
        series = series.merge(p, on=["period", "site"], how="left", validate="one_to_one")
    if freq == "MS":
        with_rate = rates(
            series[["period", "site", "ed_attendances"]],
            pop[["site", "period", "population"]],
            count="ed_attendances",
            denominator="population",
            on=("period", "site"),
            per=100_000,
        )
        series = series.merge(
            with_rate[["period", "site", "population", "rate"]].rename(
                columns={"rate": "ed_attendances_per_100k"}
            ),
            on=["period", "site"],
            how="left",
            validate="one_to_one",
        )
    else:
        series["population"] = np.nan
        series["ed_attendances_per_100k"] = np.nan
    for name in SERIES_COLUMNS:
        if name not in series.columns:
            series[name] = np.nan  # could not be built: missing, never zero (see notes)
    series = series[list(SERIES_COLUMNS)].sort_values(["site", "period"], ignore_index=True)

    windows = _window_summary(extracts, att, spells, start, end, before_months, after_months)
    quality = combine_quality(*extracts.values())
    return SeriesBuild(
        series=series,
        windows=windows,
        quality=quality,
        window=(start, end),
        freq=freq,
        inputs={k: v for k, v in files.items()},
        notes=tuple(notes),
    )


def load_extracts_subset(folder: Path, kind: str, sources: dict[str, Any] | None = None) -> CleanExtract:
    """Read and clean a single extract kind from ``folder`` (used to derive defaults)."""
    from evaltoolkit.data import load_source

    if sources and kind in sources:
        return load_source(kind, sources[kind], folder)
    files = find_extract_files(folder)
    return load_source(kind, {"file": files[kind].name}, folder)  # its errors name the file


def _window_summary(
    extracts: dict[str, CleanExtract],
    att: pd.DataFrame,
    spells: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    before_months: int,
    after_months: int,
) -> pd.DataFrame:
    cols = [
        "site",
        "window",
        "patients",
        "person_years",
        "attendances",
        "admissions",
        "bed_days",
        "attendances_per_person_year",
        "bed_days_per_person_year",
    ]
    if "cohort" not in extracts:
        return pd.DataFrame(columns=cols)
    cohort = extracts["cohort"].data
    end_col = "end_date" if "end_date" in cohort.columns else None
    w = patient_windows(
        cohort,
        attendances=att[att["patient_id"].notna()],
        spells=spells[spells["patient_id"].notna()],
        before_months=before_months,
        after_months=after_months,
        censor_at=end,
        end=end_col,
        data_start=start,
    )
    w = w.merge(cohort[["patient_id", "site"]], on="patient_id", how="left", validate="many_to_one")
    g = w.groupby(["site", "window"], sort=True)
    out = g.agg(
        patients=("patient_id", "nunique"),
        exposure_days=("exposure_days", "sum"),
        attendances=("attendances", "sum"),
        admissions=("admissions", "sum"),
        bed_days=("bed_days", "sum"),
    ).reset_index()
    out["person_years"] = out.pop("exposure_days") / 365.25
    out["attendances_per_person_year"] = out["attendances"] / out["person_years"]
    out["bed_days_per_person_year"] = out["bed_days"] / out["person_years"]
    order = {"before": 0, "after": 1}
    out = out.sort_values(["site", "window"], key=lambda s: s.map(order) if s.name == "window" else s)
    return out[cols].reset_index(drop=True)


def _csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", float_format="%.6g", date_format="%Y-%m-%d")


def write_series(build: SeriesBuild, out: str | Path, *, command: str | None = None) -> dict[str, Path]:
    """Write a :class:`SeriesBuild` to ``out``.

    Files: ``series.csv`` (exact counts, for analysis; keep inside the secure environment),
    ``series_published.csv`` (small counts suppressed), ``patient_windows_summary.csv`` (per-site
    before/after totals, suppressed; rates from the rounded counts), ``data_quality.csv`` (suppressed,
    no row numbers), ``data_quality_internal.csv`` (exact counts and the first row numbers of each
    rule, for the analyst; keep inside the secure environment like ``series.csv``), and
    ``manifest.json`` (SHA-256 of every input, package versions, window, notes, command line and
    time). Every file except the manifest is byte-identical for the same inputs.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "series": out / "series.csv",
        "series_published": out / "series_published.csv",
        "patient_windows_summary": out / "patient_windows_summary.csv",
        "data_quality": out / "data_quality.csv",
        "data_quality_internal": out / "data_quality_internal.csv",
        "manifest": out / "manifest.json",
    }
    _csv(build.series, paths["series"])
    _csv(build.published_series(), paths["series_published"])
    _csv(build.published_windows(), paths["patient_windows_summary"])
    _csv(build.published_quality(), paths["data_quality"])
    _csv(build.quality, paths["data_quality_internal"])
    manifest = {
        "tool": "evaltoolkit series",
        "command": command if command is not None else " ".join(sys.argv),
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window": {"start": build.window[0].date().isoformat(), "end": build.window[1].date().isoformat()},
        "freq": build.freq,
        "notes": list(build.notes),
        "inputs": {k: {"file": p.name, "sha256": sha256_file(p)} for k, p in sorted(build.inputs.items())},
        "outputs": {
            k: {"file": p.name, "sha256": sha256_file(p)} for k, p in paths.items() if k != "manifest"
        },
        "packages": package_versions(),
    }
    paths["manifest"].write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return paths
