"""The one pass: publish every table, fix totals, add secondary suppression, check with the attack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure.attack import recoverable
from evaltoolkit.disclosure.margins import Margin, Relation, as_margin, expand_relations
from evaltoolkit.disclosure.policy import SUPPRESSED, DisclosureError, Policy, get_policy
from evaltoolkit.disclosure.roles import RATIO_ROLES, Role, as_col
from evaltoolkit.disclosure.secondary import complementary_suppression
from evaltoolkit.disclosure.tables import ACTION_COLUMNS, publish_table

__all__ = ["Published", "Table", "publish"]

_MAX_ROUNDS = 20


@dataclass(frozen=True)
class Table:
    """A table to publish: exact results, a role per column, the ``n`` column and its margins.

    ``margins``: :class:`~evaltoolkit.disclosure.RowSum`, :class:`~evaltoolkit.disclosure.ColumnSum`,
    :class:`~evaltoolkit.disclosure.TableSum` objects (a list), or the shorthand
    ``{"total": ["part_a", "part_b"]}`` for row sums.
    """

    df: pd.DataFrame
    roles: Mapping[str, Any]
    n: str | None = None
    margins: Any = ()


@dataclass(frozen=True)
class Published:
    """What :func:`publish` returns: the published tables, one actions table, the relations and the attack."""

    tables: dict[str, pd.DataFrame]
    actions: pd.DataFrame
    relations: list[Relation] = field(default_factory=list)
    attack: pd.DataFrame = field(default_factory=pd.DataFrame)


def _as_table(spec: Any, name: str) -> Table:
    if isinstance(spec, Table):
        return spec
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        opts = dict(spec[2]) if len(spec) == 3 else {}
        unknown = set(opts) - {"n", "margins"}
        if unknown:
            raise DisclosureError(
                f"publish: table {name!r}: unknown option(s) {sorted(unknown)} (n, margins)"
            )
        return Table(spec[0], spec[1], **opts)
    raise DisclosureError(
        f"publish: table {name!r} must be a Table or (df, roles[, options]), not {type(spec)}"
    )


def publish(
    tables: Mapping[str, Table | tuple[Any, ...]],
    policy: Policy | str | Mapping[str, Any] | None = "nhs",
) -> Published:
    """Publish every table in one pass and return the published tables with one actions table.

    1. Each table by its roles (:func:`~evaltoolkit.disclosure.publish_table`).
    2. Under ``totals="sum_of_published"`` (OpenSAFELY) each declared total becomes the sum of its
       published parts (a suppressed part counts 0).
    3. Secondary suppression across the declared margins: always when the policy calls for it (no
       rounding); otherwise only where :func:`~evaltoolkit.disclosure.recoverable` finds a hidden count that
       can be worked out. Rates and percentages whose numerator or denominator became ``"*"`` are blanked.
    4. The attack is run on the result (``Published.attack``); a recovered cell left is an error.

    Parameters
    ----------
    tables : mapping of name to Table or (df, roles[, {"n": ..., "margins": ...}])
        Exact tables.
    policy : Policy, str, mapping or None
        See :func:`~evaltoolkit.disclosure.get_policy`.

    Examples
    --------
    >>> t = pd.DataFrame({"site": ["A", "B"], "yes": [4, 30], "no": [25, 12], "all": [29, 42]})
    >>> roles = {"site": "label", "yes": "count", "no": "count", "all": "count"}
    >>> out = publish({"t": (t, roles, {"margins": {"all": ["yes", "no"]}})}, "ukllc")
    >>> out.tables["t"]
      site yes  no all
    0    A   *   *  29
    1    B  30  12  42
    >>> for row in out.actions[["column", "rows", "action"]].values.tolist():
    ...     print(row)
    ['yes', 1, 'suppressed (0 to 9 shown as *)']
    ['no', 1, 'secondary suppression (could be worked out from a total)']
    """
    pol = get_policy(policy)
    specs = {name: _as_table(spec, name) for name, spec in tables.items()}
    published: dict[str, pd.DataFrame] = {}
    actions = []
    for name, spec in specs.items():
        out, act = publish_table(spec.df, spec.roles, pol, n=spec.n, name=name)
        published[name] = out
        actions.append(act)
    exact = {name: spec.df for name, spec in specs.items()}
    relations = expand_relations(exact, {name: as_margin(spec.margins) for name, spec in specs.items()})
    for r in relations:
        for t, _, c in (r.total, *r.parts):
            if c not in published[t].columns or as_col(specs[t].roles[c]).role not in (
                Role.COUNT,
                Role.DENOMINATOR,
                Role.N,
            ):
                raise DisclosureError(
                    f"publish: margin of table {t!r} uses {c!r}, which is not a count column"
                )
    extra: list[dict[str, Any]] = []
    attack_policy = pol

    if pol.totals == "sum_of_published" and relations:
        for _ in range(_MAX_ROUNDS):
            changed = False
            for r in relations:
                parts = [published[t][c].iloc[i] for t, i, c in r.parts]
                value = int(sum(0 if p in (SUPPRESSED, None) or pd.isna(p) else int(p) for p in parts))
                t, i, c = r.total
                if published[t][c].iloc[i] != value:
                    col = published[t][c].astype(object)
                    col.iloc[i] = value
                    published[t][c] = col
                    extra.append(_act(t, c, specs, "total is the sum of the published counts"))
                    changed = True
            if not changed:
                break

    if relations:
        note = "secondary suppression (could be worked out from a total)"
        attack_policy = pol
        if pol.secondary:  # the rule itself asks for it: every relation gets two hidden cells or none
            published, added = complementary_suppression(published, exact, relations)
            extra += [_act(t, c, specs, note) for t, _, c in added]
        for _ in range(_MAX_ROUNDS):  # then only where the attack still recovers a hidden cell
            found = recoverable(published, relations, attack_policy)
            hit = found[found["recovered"]] if len(found) else found
            if not len(hit):
                break
            only = {(r.table, int(r.row), r.column) for r in hit.itertuples()}
            published, added = complementary_suppression(published, exact, relations, only=only)
            extra += [_act(t, c, specs, note) for t, _, c in added]
            if not added:
                break
            # a "*" may now hide a complementary (large) cell too: read it as [low, inf) from here on
            attack_policy = replace(pol, secondary=True)
        for name, spec in specs.items():
            published[name] = _reblank_ratios(published[name], spec)
    attack = recoverable(published, relations, attack_policy) if relations else pd.DataFrame()
    if len(attack) and attack["recovered"].any():
        cells = attack.loc[attack["recovered"], ["table", "row", "column"]].values.tolist()
        raise DisclosureError(f"publish: suppressed cells can still be worked out from the margins: {cells}")
    extra_df = pd.DataFrame(extra, columns=list(ACTION_COLUMNS))
    if len(extra_df):
        extra_df = extra_df.groupby(["table", "column", "role", "action"], sort=False, as_index=False)[
            "rows"
        ].sum()
        extra_df = extra_df[list(ACTION_COLUMNS)]
    frames = [a for a in [*actions, extra_df] if len(a)]
    all_actions = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ACTION_COLUMNS))
    )
    return Published(published, all_actions, relations, attack)


def _act(table: str, column: str, specs: Mapping[str, Table], what: str) -> dict[str, Any]:
    role = as_col(specs[table].roles[column]).role.value
    return {"table": table, "column": column, "role": role, "rows": 1, "action": what}


def _reblank_ratios(df: pd.DataFrame, spec: Table) -> pd.DataFrame:
    out = df
    for col, r in spec.roles.items():
        c = as_col(r)
        if c.role in RATIO_ROLES and col in out.columns:
            hidden = np.asarray(
                (out[c.numerator] == SUPPRESSED) | (out[c.denominator] == SUPPRESSED), dtype=bool
            )
            if hidden.any():
                out = out.copy()
                out[col] = out[col].where(~hidden)
    return out


_ = Margin  # re-exported type alias used in annotations of Table.margins
