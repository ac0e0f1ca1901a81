"""A differencing attack: what a reader can work out about each suppressed cell from everything published."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from evaltoolkit.disclosure.margins import Cell, Relation
from evaltoolkit.disclosure.policy import SUPPRESSED, Policy, get_policy

__all__ = ["ATTACK_COLUMNS", "recoverable"]

ATTACK_COLUMNS = ("table", "row", "column", "published", "lower", "upper", "recovered", "narrowed")
"""Columns of the table returned by :func:`recoverable`."""


def _value(tables: Mapping[str, pd.DataFrame], cell: Cell) -> Any:
    t, i, c = cell
    return tables[t][c].iloc[i]


def recoverable(
    published_tables: Mapping[str, pd.DataFrame],
    relations: Sequence[Relation],
    policy: Policy | str | Mapping[str, Any] | None = "nhs",
) -> pd.DataFrame:
    """For each suppressed cell in a relation, the range of exact counts consistent with everything published.

    Each published cell is an interval (:meth:`Policy.interval`: a rounded value ±half the base, ``"*"``
    the suppressed range, or ``[low, inf)`` under a policy with secondary suppression, since a ``"*"`` may
    then hide any count); each relation is a linear equality between exact counts. The smallest and largest
    value of each suppressed cell over that polytope are found by linear programming (the continuous
    relaxation: the reported range can only be wider than the integer one, so a cell it pins is pinned).

    Criterion: a cell is **recovered** when its range is a single value (exact disclosure; the threshold
    policies ask that no hidden count can be deduced). It is **narrowed** when the range does not cover the
    whole suppressed range ``[low, high]`` of the policy, so a reader learns more than "it is small"
    (partial disclosure: reported, not acted on).

    Parameters
    ----------
    published_tables : mapping of name to DataFrame
        Tables as published.
    relations : sequence of Relation
        Additive relations (see :func:`~evaltoolkit.disclosure.expand_relations`).
    policy : Policy, str, mapping or None
        The policy the tables were published under.

    Returns
    -------
    DataFrame
        Columns :data:`ATTACK_COLUMNS`, one row per suppressed cell.

    Examples
    --------
    A threshold-only table with an exact total gives its hidden cell away:

    >>> from evaltoolkit.disclosure.margins import expand_relations, RowSum
    >>> t = pd.DataFrame({"a": ["*"], "b": [20], "c": [30], "total": [54]})
    >>> rel = expand_relations({"t": t}, {"t": [RowSum("total", ("a", "b", "c"))]})
    >>> recoverable({"t": t}, rel, "ukllc")[["column", "lower", "upper", "recovered"]]
      column  lower  upper  recovered
    0      a    4.0    4.0       True
    """
    pol = get_policy(policy)
    cells: dict[Cell, int] = {}
    totals: set[Cell] = set()
    for r in relations:
        totals.add(r.total)
        for c in (r.total, *r.parts):
            cells.setdefault(c, len(cells))
    rows = []
    hidden = [c for c in cells if _value(published_tables, c) == SUPPRESSED]
    if not hidden:
        return pd.DataFrame(columns=list(ATTACK_COLUMNS))
    k = len(cells)
    bounds = []
    for c in cells:
        lo, hi = pol.interval(_value(published_tables, c), total=c in totals)
        bounds.append((lo, None if math.isinf(hi) else hi))
    a_eq = np.zeros((len(relations), k))
    for j, r in enumerate(relations):
        a_eq[j, cells[r.total]] = 1.0
        for p in r.parts:
            a_eq[j, cells[p]] -= 1.0
    b_eq = np.zeros(len(relations))
    for c in hidden:
        own = pol.suppress if pol.suppress is not None else (0, math.inf)
        ends = []
        for sign in (1.0, -1.0):
            cost = np.zeros(k)
            cost[cells[c]] = sign
            res = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            if res.status == 3:  # unbounded
                ends.append(math.inf if sign < 0 else -math.inf)
            elif res.status != 0:
                ends.append(math.nan)  # infeasible: published numbers inconsistent with the relations
            else:
                ends.append(sign * res.fun)
        lo, hi = ends[0], ends[1]
        lo_i = math.ceil(lo - 1e-7) if math.isfinite(lo) else lo
        hi_i = math.floor(hi + 1e-7) if math.isfinite(hi) else hi
        rows.append(
            {
                "table": c[0],
                "row": c[1],
                "column": c[2],
                "published": SUPPRESSED,
                "lower": float(lo_i),
                "upper": float(hi_i),
                "recovered": bool(math.isfinite(hi_i) and hi_i - lo_i < 0.5),
                "narrowed": bool(lo_i > own[0] or hi_i < own[1]),
            }
        )
    return pd.DataFrame(rows, columns=list(ATTACK_COLUMNS))
