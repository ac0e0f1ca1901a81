"""Small-number suppression for published tables.

The default is the NHS secondary-care disclosure rule (NHS Digital, since 2018): zero stays zero,
counts of 1 to 7 are shown as ``*``, every other count is rounded to the nearest 5. Analysis files keep
exact counts; only what is published passes through :func:`suppress_counts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["SUPPRESSED", "suppress_counts"]

SUPPRESSED = "*"


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
        Counts in ``[low, high]`` are replaced by ``"*"``. NHS rule: 1 to 7.
    round_to : int
        Counts above ``high`` are rounded to the nearest multiple (halves round up); 1 disables rounding.

    Returns
    -------
    DataFrame
        Same rows and columns; the named columns become strings (``"*"``, ``"0"``, ``"15"``, ...);
        missing values stay missing.

    Examples
    --------
    >>> t = pd.DataFrame({"site": ["A", "B", "C", "D"], "count": [0, 3, 12, 13]})
    >>> suppress_counts(t, ["count"])["count"].tolist()
    ['0', '*', '10', '15']
    """
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
        v = values.to_numpy(dtype=float)
        rounded = np.floor(v / round_to + 0.5) * round_to if round_to > 1 else v
        text = np.where(
            np.isnan(v),
            None,
            np.where((v >= low) & (v <= high), SUPPRESSED, pd.Series(rounded).map(_fmt).to_numpy()),
        )
        out[col] = pd.Series(text, index=out.index, dtype="object")
    return out


def _fmt(x: float) -> str | None:
    if np.isnan(x):
        return None
    return str(int(x))
