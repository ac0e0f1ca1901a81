"""Zero-filling: put small aggregated results onto the full (by-groups × periods) spine.

The heavy aggregation runs in the engine; what comes back is at most (groups × periods) rows, so the
spine is completed in pandas. pandas merges treat missing group values (NaN/None) as equal, which SQL
joins do not, so a group with a missing ``site`` keeps its own rows instead of vanishing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series._periods import Window

__all__ = ["as_list", "check_levels", "combos", "complete"]

P = "_et_p"


def as_list(by: str | Sequence[str] | None) -> list[str]:
    """Normalise ``by`` (None, a column name or a list of names) to a list without duplicates."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    cols = list(by) if isinstance(by, Sequence | set | tuple) else [by]
    if not all(isinstance(c, str) for c in cols):
        raise SeriesInputError(f"by must be a column name or a list of column names, not {by!r}")
    if len(set(cols)) != len(cols):
        raise SeriesInputError(f"by has repeated columns: {cols}")
    return cols


def check_levels(
    by: list[str], levels: Mapping[str, Sequence[object]] | None, reserved: Sequence[str]
) -> None:
    """Check ``levels`` keys are ``by`` columns and ``by`` does not use an output column name."""
    clash = [c for c in by if c in reserved or c == "period"]
    if clash:
        raise SeriesInputError(
            f"by column(s) {clash} clash with output columns {['period', *reserved]}; rename them"
        )
    if levels:
        extra = [k for k in levels if k not in by]
        if extra:
            raise SeriesInputError(f"levels given for {extra}, which are not by columns ({by})")
        for k, values in levels.items():
            if isinstance(values, str) or len(list(values)) == 0:
                raise SeriesInputError(f"levels[{k!r}] must be a non-empty list of values")


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def combos(
    observed: pd.DataFrame, by: list[str], levels: Mapping[str, Sequence[object]] | None
) -> pd.DataFrame:
    """Return the by-groups of the spine.

    Without ``levels`` these are the combinations observed in the data. Columns listed in ``levels`` take the
    given values instead (crossed with the observed combinations of the other by columns); a value seen in
    the data but missing from ``levels`` is an error, since its rows could not be placed on the spine.
    """
    if not by:
        return pd.DataFrame(index=pd.RangeIndex(1))
    observed = observed[by].drop_duplicates().reset_index(drop=True)
    if not levels:
        return observed
    level_cols = [c for c in by if c in levels]
    other = [c for c in by if c not in levels]
    frames = []
    for c in level_cols:
        values = list(levels[c])
        col = pd.Series(values, name=c)
        if len(observed):
            with contextlib.suppress(TypeError, ValueError):
                col = col.astype(observed[c].dtype)
        seen = observed[c].drop_duplicates().tolist()
        given_missing = any(_is_missing(v) for v in values)
        unknown = [v for v in seen if (not given_missing if _is_missing(v) else v not in set(values))]
        if unknown:
            raise SeriesInputError(
                f"column {c!r} has value(s) {unknown[:10]} that are not in levels[{c!r}]; add them to levels "
                "or remove those rows before building the series"
            )
        frames.append(col.drop_duplicates().to_frame())
    spine = frames[0]
    for f in frames[1:]:
        spine = spine.merge(f, how="cross")
    if other:
        spine = spine.merge(observed[other].drop_duplicates(), how="cross")
    return spine[by].reset_index(drop=True)


def complete(
    window: Window,
    groups: pd.DataFrame,
    by: list[str],
    parts: Sequence[pd.DataFrame],
    counts: Sequence[str],
    values: Sequence[str] = (),
) -> pd.DataFrame:
    """Left-join aggregated ``parts`` (by + ``_et_p`` + measures) onto groups × periods and zero-fill counts.

    Counts become ``int64`` zeros where absent; ``values`` (means, medians, proportions) stay NaN.
    Returns ``period``, the by columns, then ``counts`` and ``values`` in the given order, sorted by
    (by, period), with a RangeIndex.
    """
    periods = pd.DataFrame({P: np.arange(window.first, window.stop, dtype=np.int64)})
    spine = groups.merge(periods, how="cross") if by else periods
    for part in parts:
        part = part.copy()
        part[P] = part[P].astype("int64")
        inside = part[P].between(window.first, window.stop - 1)
        if not inside.all():
            raise AssertionError("internal error: aggregated period outside the window")
        spine = spine.merge(part, on=[*by, P], how="left", validate="one_to_one")
    for c in counts:
        spine[c] = spine[c].fillna(0).astype("int64")
    for c in values:
        spine[c] = spine[c].astype("float64")
    starts = window.period_starts().to_numpy()
    spine.insert(0, "period", starts[spine[P].to_numpy() - window.first])
    out = spine[["period", *by, *counts, *values]]
    return out.sort_values([*by, "period"], kind="stable", na_position="last").reset_index(drop=True)
