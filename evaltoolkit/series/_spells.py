"""Shared loading and checking of admission spells (used by bed-days, LOS, readmissions and windows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from evaltoolkit.series._engine import (
    Input,
    Source,
    date_of,
    date_range_of,
    fail_rows,
    literal_date,
    profile,
    require_dates,
    timestamp_of,
    to_source,
)

__all__ = ["Spells", "load_spells"]


@dataclass
class Spells:
    """A checked spells extract.

    ``prepare(table)`` adds ``_et_a`` (admission date), ``_et_ats`` (admission timestamp, for ordering),
    ``_et_dis`` (discharge date, NULL for open spells), ``_et_open`` (bool) and ``_et_D`` (the discharge
    date, or ``censor_at`` for open spells; NULL for open spells when there is no ``censor_at``).
    ``profile`` holds per-by-group counts and date ranges.
    """

    source: Source
    prepare: Callable[[ir.Table], ir.Table]
    profile: pd.DataFrame
    censor: dt.date | None

    def table(self) -> ir.Table:
        """The prepared table."""
        return self.prepare(self.source.table)

    def first(self, column: str) -> dt.date | None:
        """Earliest value of a profiled date column."""
        return date_range_of(self.profile[column], "min")

    def last(self, column: str) -> dt.date | None:
        """Latest value of a profiled date column."""
        return date_range_of(self.profile[column], "max")

    @property
    def n_open(self) -> int:
        """Number of open spells (discharge missing)."""
        return int(self.profile["_et_n_open"].sum())


def load_spells(
    spells: Input,
    *,
    admitted: str,
    discharged: str,
    by: Sequence[str] = (),
    columns: Mapping[str, str] | None = None,
    censor_at: dt.date | None = None,
    require_censor: bool = False,
    keep_all: bool = False,
) -> Spells:
    """Read and check a spells extract.

    Raises :class:`~evaltoolkit.errors.SeriesInputError` naming rows when an admission date is missing or
    unparseable, a discharge date is unparseable, a discharge is before its admission (by date), an open
    spell was admitted after ``censor_at``, or (with ``require_censor``) there are open spells and no
    ``censor_at``.
    """
    wanted = {**dict.fromkeys(by, "by"), **(columns or {}), admitted: "admitted", discharged: "discharged"}
    src = to_source(
        spells, columns=wanted, date_columns=[admitted, discharged], label="spells", keep_all=keep_all
    )

    def prepare(t: ir.Table) -> ir.Table:
        t = t.mutate(
            _et_a=date_of(t, admitted, "spells"),
            _et_ats=timestamp_of(t, admitted, "spells"),
            _et_dis=date_of(t, discharged, "spells"),
            _et_open=t[discharged].isnull(),
        )
        final = t._et_dis if censor_at is None else t._et_dis.coalesce(literal_date(censor_at))
        return t.mutate(_et_D=final)

    u = prepare(src.table)
    after_censor = u._et_a > literal_date(censor_at) if censor_at is not None else ibis.literal(False)
    late_open = u._et_open & after_censor
    prof = profile(
        u,
        list(by),
        _et_n=u.count(),
        _et_a_missing=u[admitted].isnull().sum(),
        _et_a_bad=(u._et_a.isnull() & u[admitted].notnull()).sum(),
        _et_d_bad=(u._et_dis.isnull() & u[discharged].notnull()).sum(),
        _et_n_open=u._et_open.sum(),
        _et_neg=(u._et_dis < u._et_a).sum(),
        _et_late_open=late_open.sum(),
        _et_a_first=u._et_a.min(),
        _et_a_last=u._et_a.max(),
        _et_dis_first=u._et_dis.min(),
        _et_dis_last=u._et_dis.max(),
        _et_D_last=u._et_D.max(),
    )

    def total(column: str) -> int:
        return int(pd.to_numeric(prof[column]).fillna(0).sum())

    require_dates(
        src,
        prepare,
        parsed="_et_a",
        column=admitted,
        keyword="admitted",
        n_missing=total("_et_a_missing"),
        n_unparseable=total("_et_a_bad"),
    )
    require_dates(
        src,
        prepare,
        parsed="_et_dis",
        column=discharged,
        keyword="discharged",
        n_missing=0,
        n_unparseable=total("_et_d_bad"),
        allow_missing=True,
    )
    if total("_et_neg"):
        fail_rows(
            src,
            prepare,
            lambda t: t._et_dis < t._et_a,
            total("_et_neg"),
            f"discharge date ({discharged!r}) is before the admission date ({admitted!r})",
            "Correct or remove these spells first (see evaltoolkit.data)",
        )
    if require_censor and censor_at is None and total("_et_n_open"):
        fail_rows(
            src,
            prepare,
            lambda t: t._et_open,
            total("_et_n_open"),
            f"open spells ({discharged!r} missing) need censor_at=, the extract date at which they count as "
            "discharged",
            "Pass censor_at (e.g. the extract date), or remove the open spells if that is what you intend",
        )
    if total("_et_late_open"):
        fail_rows(
            src,
            prepare,
            lambda t: t._et_open & (t._et_a > literal_date(censor_at)),  # type: ignore[arg-type]
            total("_et_late_open"),
            f"open spells admitted after censor_at ({censor_at})",
            "censor_at should be the extract date, on or after every admission",
        )
    return Spells(src, prepare, prof, censor_at)
