"""Additive relations between published cells (margins), the input of secondary suppression and the attack."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evaltoolkit.disclosure.policy import DisclosureError

__all__ = ["Cell", "ColumnSum", "Relation", "RowSum", "TableSum", "as_margin", "expand_relations"]

Cell = tuple[str, int, str]
"""A cell: (table name, 0-based row position, column name)."""


@dataclass(frozen=True)
class Relation:
    """``total`` equals the sum of ``parts`` (exact counts)."""

    total: Cell
    parts: tuple[Cell, ...]


@dataclass(frozen=True)
class RowSum:
    """Within every row, column ``total`` is the sum of columns ``parts``.

    Examples
    --------
    >>> t = pd.DataFrame({"a": [1, 2], "b": [3, 4], "all": [4, 6]})
    >>> expand_relations({"t": t}, {"t": [RowSum("all", ("a", "b"))]})[0]
    Relation(total=('t', 0, 'all'), parts=(('t', 0, 'a'), ('t', 0, 'b')))
    """

    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class ColumnSum:
    """The row where column ``by`` equals ``total`` is the sum of the other rows, for each of ``columns``.

    ``within``: columns defining separate groups (one total row per group).

    Examples
    --------
    >>> t = pd.DataFrame({"site": ["A", "B", "All"], "n": [1, 2, 3]})
    >>> expand_relations({"t": t}, {"t": [ColumnSum("site", "All", ("n",))]})
    [Relation(total=('t', 2, 'n'), parts=(('t', 0, 'n'), ('t', 1, 'n')))]
    """

    by: str
    total: Hashable
    columns: tuple[str, ...]
    within: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSum:
    """Table ``total`` is the cell-by-cell sum of tables ``parts``, rows matched on ``on``, for ``columns``.

    Examples
    --------
    >>> f = pd.DataFrame({"age": ["<40", "40+"], "n": [10, 20]})
    >>> m = pd.DataFrame({"age": ["<40", "40+"], "n": [5, 9]})
    >>> a = pd.DataFrame({"age": ["<40", "40+"], "n": [15, 29]})
    >>> margins = {"all": [TableSum("all", ("f", "m"), on=("age",), columns=("n",))]}
    >>> expand_relations({"f": f, "m": m, "all": a}, margins)[1]
    Relation(total=('all', 1, 'n'), parts=(('f', 1, 'n'), ('m', 1, 'n')))
    """

    total: str
    parts: tuple[str, ...]
    on: tuple[str, ...]
    columns: tuple[str, ...]


Margin = RowSum | ColumnSum | TableSum


def as_margin(spec: Any) -> list[Margin]:
    """Margins from a margin object, a list of them, or the shorthand ``{"total": ["part_a", "part_b"]}``.

    Examples
    --------
    >>> as_margin({"total": ["a", "b"]})
    [RowSum(total='total', parts=('a', 'b'))]
    """
    if spec is None:
        return []
    if isinstance(spec, RowSum | ColumnSum | TableSum):
        return [spec]
    if isinstance(spec, Mapping):
        return [RowSum(str(k), tuple(v)) for k, v in spec.items()]
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        return [m for s in spec for m in as_margin(s)]
    raise DisclosureError(f"as_margin: cannot read a margin from {spec!r}")


def _need(tables: Mapping[str, pd.DataFrame], table: str, cols: Sequence[str], what: str) -> None:
    if table not in tables:
        raise DisclosureError(f"{what}: no table {table!r}; tables are {sorted(tables)}")
    missing = [c for c in cols if c not in tables[table].columns]
    if missing:
        raise DisclosureError(f"{what}: table {table!r} has no column(s) {missing}")


def expand_relations(
    tables: Mapping[str, pd.DataFrame], margins: Mapping[str, Sequence[Margin]]
) -> list[Relation]:
    """Cell-level relations from each table's margins (row sums first, then column sums, then table sums)."""
    rel: list[Relation] = []
    order = {RowSum: 0, ColumnSum: 1, TableSum: 2}
    items = sorted(((t, m) for t, ms in margins.items() for m in ms), key=lambda tm: order[type(tm[1])])
    for tname, m in items:
        if isinstance(m, RowSum):
            _need(tables, tname, (m.total, *m.parts), "RowSum")
            for i in range(len(tables[tname])):
                rel.append(Relation((tname, i, m.total), tuple((tname, i, p) for p in m.parts)))
        elif isinstance(m, ColumnSum):
            df = tables[tname]
            _need(tables, tname, (m.by, *m.columns, *m.within), "ColumnSum")
            groups = [list(range(len(df)))]
            if m.within:
                keys = [tuple(r) for r in df[list(m.within)].itertuples(index=False)]
                groups = [[i for i, k in enumerate(keys) if k == key] for key in dict.fromkeys(keys)]
            for rows in groups:
                tot = [i for i in rows if df[m.by].iloc[i] == m.total]
                if len(tot) != 1:
                    raise DisclosureError(
                        f"ColumnSum: table {tname!r} needs one row with {m.by} == {m.total!r} per group, "
                        f"found {len(tot)}"
                    )
                parts = [i for i in rows if i != tot[0]]
                for c in m.columns:
                    rel.append(Relation((tname, tot[0], c), tuple((tname, i, c) for i in parts)))
        else:
            _need(tables, m.total, (*m.on, *m.columns), "TableSum")
            for p in m.parts:
                _need(tables, p, (*m.on, *m.columns), "TableSum")
            index = {
                p: {tuple(r): i for i, r in enumerate(tables[p][list(m.on)].itertuples(index=False))}
                for p in m.parts
            }
            for i, key in enumerate(tables[m.total][list(m.on)].itertuples(index=False)):
                rows = [(p, index[p].get(tuple(key))) for p in m.parts]
                rows = [(p, j) for p, j in rows if j is not None]
                for c in m.columns:
                    rel.append(Relation((m.total, i, c), tuple((p, j, c) for p, j in rows)))
    return rel
