"""Small-number suppression for published tables (kept for compatibility).

The disclosure layer is :mod:`evaltoolkit.disclosure` (policies, column roles, secondary suppression, a
differencing attack). :func:`suppress_counts` is a thin wrapper over its policies: by default the NHS
secondary-care rule (NHS Digital, since 2018): zero stays zero, counts of 1 to 7 are shown as ``*``, every
other count is rounded to the nearest 5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaltoolkit.disclosure.policy import SUPPRESSED, get_policy

__all__ = ["SUPPRESSED", "suppress_counts"]


def suppress_counts(
    table: pd.DataFrame,
    columns: Sequence[str],
    *,
    low: int = 1,
    high: int = 7,
    round_to: int = 5,
) -> pd.DataFrame:
    """Return a copy of ``table`` with small counts suppressed and other counts rounded.

    Parameters
    ----------
    table : DataFrame
        Table to publish. Not modified.
    columns : sequence of str
        Count columns to suppress. Each must hold non-negative whole numbers (or be missing).
    low, high : int
        Counts in ``[low, high]`` are replaced by ``"*"`` (``low=0`` hides zero too). NHS rule: 1 to 7.
    round_to : int
        Counts above ``high`` are rounded to the nearest multiple (halves round up); 1 disables rounding.

    Returns
    -------
    DataFrame
        Same rows and columns; the named columns become strings (``"*"``, ``"0"``, ``"15"``, ...);
        missing values stay missing.

    See Also
    --------
    evaltoolkit.disclosure.publish_table : publish a whole table by column roles.

    Examples
    --------
    >>> t = pd.DataFrame({"site": ["A", "B", "C", "D"], "count": [0, 3, 12, 13]})
    >>> suppress_counts(t, ["count"])["count"].tolist()
    ['0', '*', '10', '15']
    """
    policy = get_policy({"low": low, "high": high, "round_to": round_to})
    out = table.copy()
    for col in columns:
        if col not in out.columns:
            raise KeyError(f"suppress_counts: no column {col!r}; columns are {list(out.columns)}")
        values = pd.to_numeric(out[col], errors="coerce")
        bad = out[col].notna() & (values.isna() | (values < 0) | (values != np.floor(values)))
        if bad.any():
            rows = ", ".join(str(int(p)) for p in np.flatnonzero(bad.to_numpy())[:5])
            raise ValueError(
                f"suppress_counts: column {col!r} must hold non-negative whole numbers; "
                f"{int(bad.sum())} rows do not (first 0-based row positions: {rows})"
            )
        shown = [policy.publish_count(v) for v in values]
        out[col] = pd.Series([None if s is None else str(s) for s in shown], index=out.index, dtype="object")
    return out
