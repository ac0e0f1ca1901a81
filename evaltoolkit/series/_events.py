"""Shared loading and checking of event extracts (attendances, contacts): one dated row per event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ibis.expr.types as ir
import pandas as pd

from evaltoolkit.series._engine import (
    Input,
    Source,
    date_of,
    date_range_of,
    profile,
    require_dates,
    timestamp_of,
    to_source,
)

__all__ = ["Events", "load_events"]


@dataclass
class Events:
    """A checked events extract.

    ``prepare(table)`` adds ``_et_d`` (event date) and ``_et_ts`` (event timestamp, for ordering).
    ``profile`` holds per-by-group date ranges (``_et_first``, ``_et_last``) and, if a patient column was
    given, ``_et_no_id`` (rows without a patient id).
    """

    source: Source
    prepare: Callable[[ir.Table], ir.Table]
    profile: pd.DataFrame

    def table(self) -> ir.Table:
        """The prepared table."""
        return self.prepare(self.source.table)

    @property
    def first(self) -> dt.date | None:
        """Earliest event date."""
        return date_range_of(self.profile["_et_first"], "min")

    @property
    def last(self) -> dt.date | None:
        """Latest event date."""
        return date_range_of(self.profile["_et_last"], "max")

    @property
    def n_no_id(self) -> int:
        """Rows without a patient id (0 if no patient column was given)."""
        if "_et_no_id" not in self.profile:
            return 0
        return int(self.profile["_et_no_id"].sum())


def load_events(
    events: Input,
    *,
    date: str,
    by: Sequence[str] = (),
    subject: str | None = None,
    keep_all: bool = False,
) -> Events:
    """Read an events extract and check its date column (missing or unparseable dates are errors)."""
    columns: Mapping[str, str] = {
        **dict.fromkeys(by, "by"),
        **({subject: "subject"} if subject is not None else {}),
        date: "date",
    }
    src = to_source(events, columns=columns, date_columns=[date], label="events", keep_all=keep_all)

    def prepare(t: ir.Table) -> ir.Table:
        return t.mutate(_et_d=date_of(t, date, "events"), _et_ts=timestamp_of(t, date, "events"))

    u = prepare(src.table)
    aggregates = {
        "_et_missing": u[date].isnull().sum(),
        "_et_bad": (u._et_d.isnull() & u[date].notnull()).sum(),
        "_et_first": u._et_d.min(),
        "_et_last": u._et_d.max(),
    }
    if subject is not None:
        aggregates["_et_no_id"] = u[subject].isnull().sum()
    prof = profile(u, list(by), **aggregates)
    require_dates(
        src,
        prepare,
        parsed="_et_d",
        column=date,
        keyword="date",
        n_missing=int(prof["_et_missing"].sum()),
        n_unparseable=int(prof["_et_bad"].sum()),
    )
    return Events(src, prepare, prof)
