"""Checks on the extracts a protocol reads, before any series is built: an extract whose every row was
excluded (naming each rule, the unknown site codes and the protocol key to fix), or whose kept rows have no
event date inside the window. Used by :func:`evaltoolkit.report._data.load_data`; the series checks that
need the built series are in :mod:`evaltoolkit.report._checks`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from evaltoolkit.errors import ExtractValidationError

if TYPE_CHECKING:
    from evaltoolkit.data import CleanExtract

__all__ = ["DATE_COLUMN", "check_not_all_excluded", "site_alias_advice", "unknown_site_codes"]

DATE_COLUMN = {"attendances": "arrival", "spells": "admitted"}


def site_alias_advice(kind: str) -> str:
    """Where to fix an unknown site code (a protocol key)."""
    return (
        "add the code to sites[].code in the protocol, or map it to one of the protocol's sites with "
        f"data.sources.{kind}.site_aliases (e.g. site_aliases: {{RA1: [RA1MH]}})"
    )


def unknown_site_codes(raw: pd.DataFrame, sites: Sequence[str] | None) -> dict[str, int]:
    """``{site code: rows}`` of the codes in ``raw`` that are not among ``sites`` (empty without sites).

    Examples
    --------
    >>> unknown_site_codes(pd.DataFrame({"site": ["RA1", "RK9MH", "RK9MH", None]}), ["RA1"])
    {'RK9MH': 2}
    """
    if sites is None or "site" not in raw.columns:
        return {}
    codes = raw["site"].dropna().astype(str)
    bad = codes[~codes.isin([str(s) for s in sites])]
    return {str(k): int(v) for k, v in bad.value_counts().sort_index().items()}


def _noun(kind: str) -> str:
    return kind if kind in ("attendances", "spells") else f"{kind} rows"


def _codes_text(codes: Mapping[str, int], limit: int = 8) -> str:
    shown = [f"{c} ({n:,} rows)" for c, n in list(codes.items())[:limit]]
    more = f" and {len(codes) - limit} more" if len(codes) > limit else ""
    return ", ".join(shown) + more


def check_not_all_excluded(
    kind: str,
    raw: pd.DataFrame,
    clean: CleanExtract,
    file: Path,
    *,
    sites: Sequence[str] | None,
    window: tuple[pd.Timestamp, pd.Timestamp] | None,
) -> None:
    """Raise :class:`~evaltoolkit.errors.ExtractValidationError` when cleaning excluded every row of an
    extract that had rows, naming each rule, what it found and the protocol key to fix."""
    if clean.n_input == 0:
        return
    if clean.n_output > 0:
        _check_window_has_events(kind, raw, clean, file, window)
        return
    q = clean.quality
    q = q[pd.to_numeric(q["n_excluded"], errors="coerce").fillna(0) > 0]
    parts = []
    for r in q.itertuples(index=False):
        text = f"{int(r.n_excluded):,} by rule {r.rule}"
        if r.rule == "unknown_site":
            codes = unknown_site_codes(raw, sites)
            one = len(codes) == 1
            known = ", ".join(map(str, sites or []))
            text += (
                f": site code{'' if one else 's'} {_codes_text(codes)} {'is' if one else 'are'} not in sites "
                f"(the protocol's sites[].code: {known}); {site_alias_advice(kind)}"
            )
        elif r.rule == "outside_window" and window is not None and DATE_COLUMN.get(kind) in raw.columns:
            span = _date_span(raw, DATE_COLUMN[kind])
            text += (
                f": {r.detail}; the file's {DATE_COLUMN[kind]} dates run from {span} but data.window is "
                f"{window[0]:%Y-%m-%d} to {window[1]:%Y-%m-%d}; change data.window.start or "
                "data.window.extract_date"
            )
        else:
            text += f": {r.detail}"
        parts.append(text)
    head = f"{kind} ({file.name}): all {clean.n_input:,} {_noun(kind)} excluded"
    # one rule: "all N spells excluded by rule ..."; several: "all N spells excluded: n1 by rule ...; ..."
    message = f"{head} {parts[0].split(' ', 1)[1]}" if len(parts) == 1 else head + ": " + "; ".join(parts)
    raise ExtractValidationError(message + ". Nothing is left to analyse.", clean.quality)


def _date_span(raw: pd.DataFrame, column: str) -> str:
    dates = pd.to_datetime(raw[column], errors="coerce").dropna()
    return f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}" if len(dates) else "no readable dates"


def _check_window_has_events(
    kind: str,
    raw: pd.DataFrame,
    clean: CleanExtract,
    file: Path,
    window: tuple[pd.Timestamp, pd.Timestamp] | None,
) -> None:
    """Raise when rows were kept but none has its event date inside the window (e.g. only spells
    admitted before a window that lies after the data, kept for their open bed-days)."""
    column = DATE_COLUMN.get(kind)
    if window is None or column is None or column not in clean.data.columns:
        return
    dates = pd.to_datetime(clean.data[column], errors="coerce")
    if ((dates >= window[0]) & (dates < window[1])).any():
        return
    raise ExtractValidationError(
        f"{kind} ({file.name}): no {column} date lies inside data.window ({window[0]:%Y-%m-%d} to "
        f"{window[1]:%Y-%m-%d}, end excluded); the file's {column} dates run from {_date_span(raw, column)}"
        f" ({clean.n_output:,} rows kept only as spells still in hospital inside the window). Change "
        "data.window.start or data.window.extract_date to the period the extract covers.",
        clean.quality,
    )
