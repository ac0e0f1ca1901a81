"""Complementary (secondary) suppression across additive relations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from evaltoolkit.disclosure.margins import Cell, Relation
from evaltoolkit.disclosure.policy import SUPPRESSED

__all__ = ["complementary_suppression"]


def complementary_suppression(
    published: Mapping[str, pd.DataFrame],
    exact: Mapping[str, pd.DataFrame],
    relations: Sequence[Relation],
    *,
    only: set[Cell] | None = None,
) -> tuple[dict[str, pd.DataFrame], list[Cell]]:
    """Suppress further cells until no relation has exactly one suppressed cell.

    In a relation ``total = part_1 + ... + part_k`` with exact published numbers, a single hidden cell is
    the total minus the others. For each such relation (in the given order) the published cell with the
    **smallest exact value** among the others (first in order on ties) is suppressed too; this repeats
    until stable, so a cell suppressed for a row gets a partner in its column as well.

    Parameters
    ----------
    published : mapping of name to DataFrame
        Published tables (not modified).
    exact : mapping of name to DataFrame
        The exact tables (same rows and count columns), to choose the smallest cell.
    relations : sequence of Relation
        Relations between cells.
    only : set of Cell, optional
        Act only on relations containing one of these cells (used after the attack under rounding).

    Returns
    -------
    tables : dict of name to DataFrame
        Copies with the complementary cells shown as ``"*"``.
    added : list of Cell
        The cells suppressed, in order.

    Examples
    --------
    >>> from evaltoolkit.disclosure.margins import expand_relations, RowSum
    >>> ex = pd.DataFrame({"a": [4], "b": [20], "c": [12], "total": [36]})
    >>> pub = ex.astype(object).assign(a="*")
    >>> rel = expand_relations({"t": ex}, {"t": [RowSum("total", ("a", "b", "c"))]})
    >>> out, added = complementary_suppression({"t": pub}, {"t": ex}, rel)
    >>> out["t"].iloc[0].tolist(), added
    (['*', 20, '*', 36], [('t', 0, 'c')])
    """
    tables = {k: v.copy() for k, v in published.items()}
    added: list[Cell] = []

    def shown(cell: Cell) -> Any:
        t, i, c = cell
        return tables[t][c].iloc[i]

    def exact_value(cell: Cell) -> float:
        t, i, c = cell
        return float(exact[t][c].iloc[i])

    changed = True
    while changed:
        changed = False
        for r in relations:
            members = (*r.parts, r.total)
            if only is not None and not any(m in only for m in members):
                continue
            hidden = [m for m in members if shown(m) == SUPPRESSED]
            if len(hidden) != 1:
                continue
            candidates = [m for m in members if shown(m) != SUPPRESSED and not pd.isna(shown(m))]
            if not candidates:
                continue
            pick = min(candidates, key=exact_value)
            t, i, c = pick
            col = tables[t][c].astype(object)
            col.iloc[i] = SUPPRESSED
            tables[t][c] = col
            added.append(pick)
            changed = True
    return tables, added
