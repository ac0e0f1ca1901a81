"""Publishing one table: every column by its declared role."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure.policy import SUPPRESSED, DisclosureError, Policy, get_policy
from evaltoolkit.disclosure.roles import (
    COUNT_ROLES,
    DROPPED_ROLES,
    KEPT_ROLES,
    RATIO_ROLES,
    RESTING_ROLES,
    Col,
    Role,
    as_col,
)

__all__ = ["ACTION_COLUMNS", "publish_table", "round_person_time", "round_sig"]

ACTION_COLUMNS = ("table", "column", "role", "rows", "action")
"""Columns of the actions table of :func:`publish_table` and :func:`~evaltoolkit.disclosure.publish`."""


def round_sig(x: Any, digits: int) -> float:
    """``x`` to ``digits`` significant digits (NaN for missing or non-finite values).

    Examples
    --------
    >>> round_sig(0.0123456, 2), round_sig(123456.0, 6), round_sig(None, 3)
    (0.012, 123456.0, nan)
    """
    if x is None or x is pd.NA:
        return math.nan
    v = float(x)
    if not math.isfinite(v):
        return math.nan
    return 0.0 if v == 0 else float(f"{v:.{digits}g}")


def round_person_time(x: Any) -> float:
    """Person-time as published: 2 significant digits, never finer than the nearest 5 (halves up).

    Examples
    --------
    >>> [round_person_time(v) for v in (0, 3, 57.2, 102.5, 1234.0, 87654.0)]
    [0.0, 5.0, 55.0, 100.0, 1200.0, 88000.0]
    """
    if x is None or x is pd.NA:
        return math.nan
    v = float(x)
    if not math.isfinite(v):
        return math.nan
    if v == 0:
        return 0.0
    step = max(5.0, 10.0 ** (math.floor(math.log10(abs(v))) - 1))
    return float(math.copysign(math.floor(abs(v) / step + 0.5) * step, v))


def _numeric(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.where(s != SUPPRESSED), errors="coerce").astype("float64")


def publish_table(
    df: pd.DataFrame,
    roles: Mapping[str, Any],
    policy: Policy | str | Mapping[str, Any] | None = "nhs",
    *,
    n: str | None = None,
    name: str = "table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Publish a table of exact results: every column by its role (see :class:`~evaltoolkit.disclosure.Role`).

    Parameters
    ----------
    df : DataFrame
        Exact results. Not modified.
    roles : mapping of column to role
        A role for **every** column: a role name, a :class:`~evaltoolkit.disclosure.Role`, a
        :class:`~evaltoolkit.disclosure.Col` or a mapping of ``Col`` arguments.
    policy : Policy, str, mapping or None
        See :func:`~evaltoolkit.disclosure.get_policy`.
    n : str, optional
        Column holding the number of people behind each row (means, estimates, p-values rest on it).
    name : str
        Table name, used in messages and the actions table.

    Returns
    -------
    published : DataFrame
        Same rows (and index); identifier and free-text columns dropped; counts as objects (int, ``"*"``
        or ``None``); derived statistics rounded or blank (NaN).
    actions : DataFrame
        Columns :data:`ACTION_COLUMNS`: what was done to how many rows of which column.

    Raises
    ------
    DisclosureError
        A column has no role (nothing passes undeclared), a role names a missing column, or a statistic
        resting on people has no ``n`` while the policy suppresses.

    Examples
    --------
    >>> t = pd.DataFrame({"site": ["A", "B"], "patients": [5, 43], "mean_los": [3.14159, 8.2468]})
    >>> out, actions = publish_table(t, {"site": "label", "patients": "n", "mean_los": "mean"}, n="patients")
    >>> out
      site patients  mean_los
    0    A        *       NaN
    1    B       45      8.25
    >>> actions[["column", "rows", "action"]]
         column  rows                          action
    0  patients     1  suppressed (1 to 7 shown as *)
    1  patients     1        rounded to the nearest 5
    2  mean_los     1      blank: rests on few people
    """
    pol = get_policy(policy)
    cols = {str(c): c for c in df.columns}
    undeclared = [c for c in cols if c not in roles]
    if undeclared:
        raise DisclosureError(
            f"publish_table: table {name!r}: column(s) {undeclared} have no role; declare every column "
            "(use 'identifier' or 'free_text' to drop one)"
        )
    extra = [c for c in roles if c not in cols]
    if extra:
        raise DisclosureError(f"publish_table: table {name!r}: roles name missing column(s) {extra}")
    spec = {c: as_col(roles[c]) for c in cols}
    if n is not None and n not in cols:
        raise DisclosureError(f"publish_table: table {name!r}: n={n!r} is not a column")

    out = df.copy()
    actions: list[dict[str, Any]] = []

    def record(col: str, role: Role, rows: int, what: str) -> None:
        if rows:
            actions.append(
                {"table": name, "column": col, "role": role.value, "rows": int(rows), "action": what}
            )

    def small_rows(col: str, c: Col) -> np.ndarray:
        ncol = c.n or n
        if ncol is None:
            if pol.small is None:
                return np.zeros(len(df), dtype=bool)
            raise DisclosureError(
                f"publish_table: table {name!r}, column {col!r} ({c.role.value}) rests on people: give the "
                "table's n= or the column's Col(n=...)"
            )
        if ncol not in cols:
            raise DisclosureError(
                f"publish_table: table {name!r}, column {col!r}: n column {ncol!r} is missing"
            )
        return np.array([pol.is_small(v) for v in df[cols[ncol]]], dtype=bool)

    def blank_where(c: Col) -> np.ndarray:
        if c.blank_where is None:
            return np.zeros(len(df), dtype=bool)
        wcol, values = c.blank_where
        if wcol not in cols:
            raise DisclosureError(f"publish_table: table {name!r}: blank_where names missing column {wcol!r}")
        return df[cols[wcol]].isin(list(values)).to_numpy()

    suppressed_note = (
        f"suppressed ({pol.suppress[0]} to {pol.suppress[1]} shown as {SUPPRESSED})" if pol.suppress else ""
    )
    # counts first: ratios are recomputed from the published counts
    for col, c in spec.items():
        if c.role in COUNT_ROLES:
            exact = df[cols[col]]
            shown = [pol.publish_count(v) for v in exact]
            out[cols[col]] = pd.Series(shown, index=df.index, dtype="object")
            record(col, c.role, sum(s == SUPPRESSED for s in shown), suppressed_note)
            changed = sum(
                s not in (SUPPRESSED, None) and int(s) != int(float(v))
                for s, v in zip(shown, exact, strict=True)
            )
            how = (
                f"rounded to midpoint {pol.round_to}"
                if pol.rounding == "midpoint"
                else f"rounded to the nearest {pol.round_to}"
            )
            record(col, c.role, changed, how)

    for col, c in spec.items():
        key = cols[col]
        role = c.role
        if role in COUNT_ROLES or role in KEPT_ROLES:
            continue
        if role in DROPPED_ROLES:
            out = out.drop(columns=[key])
            record(col, role, max(len(df), 1), f"dropped: {role.value.replace('_', ' ')} is never published")
            continue
        hide = blank_where(c)
        if role is Role.DF:
            out[key] = np.nan
            record(col, role, int(df[key].notna().sum()), "blank: computed from exact counts")
            continue
        if role is Role.MODEL:
            out[key] = [round_sig(v, pol.model_digits) for v in df[key]]
            continue
        if role is Role.PERSON_TIME:
            small = small_rows(col, c) if (c.n or n or pol.small is None) else np.zeros(len(df), dtype=bool)
            vals = pd.Series([round_person_time(v) for v in df[key]], index=df.index, dtype="float64")
            out[key] = vals.where(~(small | hide))
            record(col, role, int((small & df[key].notna().to_numpy()).sum()), "blank: rests on few people")
            continue
        if role in RATIO_ROLES:
            for arg in ("numerator", "denominator"):
                ref = getattr(c, arg)
                if ref is None or ref not in cols or spec[ref].role not in COUNT_ROLES | {Role.PERSON_TIME}:
                    raise DisclosureError(
                        f"publish_table: table {name!r}, column {col!r} ({role.value}) needs {arg}= naming a "
                        f"count column of the table, not {ref!r}"
                    )
            num_pub, den_pub = out[cols[c.numerator]], out[cols[c.denominator]]  # type: ignore[index]
            num_exact = df[cols[c.numerator]]  # type: ignore[index]
            den_exact = df[cols[c.denominator]]  # type: ignore[index]
            few = np.array(
                [
                    pol.is_small(a) or (spec[c.denominator].role is not Role.PERSON_TIME and pol.is_small(b))  # type: ignore[index]
                    for a, b in zip(num_exact, den_exact, strict=True)
                ],
                dtype=bool,
            )
            num, den = _numeric(num_pub), _numeric(den_pub)
            blank = num.isna() | den.isna() | (den == 0) | pd.Series(few | hide, index=df.index)
            ratio = (num / den.where(den != 0) * float(c.per)).round(pol.decimals)  # type: ignore[arg-type]
            out[key] = ratio.where(~blank)
            record(
                col, role, int((blank & df[key].notna()).sum()), "blank: numerator or denominator suppressed"
            )
            record(col, role, int((~blank & df[key].notna()).sum()), "recomputed from the published counts")
            continue
        if role in RESTING_ROLES:
            small = small_rows(col, c)
            x = pd.to_numeric(df[key], errors="coerce").astype("float64")
            if role is Role.STD_ERROR:
                vals = pd.Series([round_sig(v, pol.se_digits) for v in x], index=df.index, dtype="float64")
            elif role is Role.P_VALUE:
                vals = pd.Series([round_sig(v, pol.p_digits) for v in x], index=df.index, dtype="float64")
            else:
                vals = x.round(pol.decimals)
            out[key] = vals.where(~(small | hide))
            record(col, role, int((small & x.notna().to_numpy()).sum()), "blank: rests on few people")
            record(
                col, role, int((hide & ~small & x.notna().to_numpy()).sum()), "blank: declared blank_where"
            )
            continue
        raise DisclosureError(
            f"publish_table: table {name!r}, column {col!r}: role {role.value!r} not handled"
        )
    return out, pd.DataFrame(actions, columns=list(ACTION_COLUMNS))
