"""Internal consistency: Cronbach's alpha with a confidence interval, per instrument and scale.

Alpha is computed on the reverse-keyed item scores (so reversed items count the same way as the
others), after listwise deletion of forms with any missing item in the scale, by
:func:`pingouin.cronbach_alpha`. Its confidence interval is Feldt's F-based interval (Feldt,
Woodruff & Salih 1987); pingouin rounds the interval limits to 3 decimals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaltoolkit._deprecate import renamed_kwargs
from evaltoolkit.rom._items import InvalidPolicy, Items, read_items
from evaltoolkit.rom.definition import Instrument
from evaltoolkit.rom.errors import RomInputError
from evaltoolkit.rom.registry import get_instrument

__all__ = ["ALPHA_COLUMNS", "internal_consistency"]

ALPHA_COLUMNS = [
    "instrument",
    "scale",
    "n",
    "n_items",
    "estimate",
    "ci_lower",
    "ci_upper",
    "method",
    "conf_level",
]
"""Columns of :func:`internal_consistency`."""


@renamed_kwargs(invalid="on_invalid")
def internal_consistency(
    responses: pd.DataFrame,
    instrument: str | Instrument,
    *,
    items: Items = None,
    scales: Sequence[str] | None = None,
    conf_level: float = 0.95,
    on_invalid: InvalidPolicy = "raise",
) -> pd.DataFrame:
    """Cronbach's alpha with a confidence interval for each scale of an instrument.

    Parameters
    ----------
    responses : pandas.DataFrame
        Item responses, as for :func:`~evaltoolkit.rom.score`. Not modified.
    instrument : str or Instrument
        Registered key or definition.
    items : mapping, list or str, optional
        Item columns, as for :func:`~evaltoolkit.rom.score`.
    scales : list of str, optional
        Scales to report; default every scale with at least two items (a scale with the same items as
        an earlier one, e.g. the SWEMWBS raw sum, is not repeated).
    conf_level : float, default 0.95
        Confidence level of the interval.
    on_invalid : {"raise", "missing"}, default "raise"
        (Formerly ``invalid=``, deprecated.) Treatment of out-of-range or non-numeric values, as for
        :func:`~evaltoolkit.rom.score`.

    Returns
    -------
    pandas.DataFrame
        One row per scale: ``instrument``, ``scale``, ``n`` (complete forms used), ``n_items``,
        ``estimate``, ``ci_lower``, ``ci_upper``, ``method`` (``"cronbach_alpha"``),
        ``conf_level``. With fewer than 3 complete forms the estimate and interval are missing.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({f"gad7_{i}": [0, 1, 2, 3, 1, 2] for i in range(1, 8)})
    >>> df["gad7_7"] = [0, 1, 2, 3, 2, 1]
    >>> internal_consistency(df, "gad7")[["scale", "n", "n_items", "estimate", "ci_lower", "ci_upper"]]
       scale  n  n_items  estimate  ci_lower  ci_upper
    0  total  6        7  0.992233     0.976     0.999
    """
    inst = get_instrument(instrument)
    if not 0 < conf_level < 1:
        raise RomInputError(f"conf_level must be between 0 and 1, got {conf_level}")
    names = list(inst.scales) if scales is None else list(scales)
    unknown = [s for s in names if s not in inst.scales]
    if unknown:
        raise RomInputError(f"{inst.key}: unknown scales {unknown}; scales are {list(inst.scales)}")
    mat = read_items(responses, inst, items=items, invalid=on_invalid)
    keyed = mat.keyed(inst)
    rows = []
    seen: set[tuple[int, ...]] = set()
    for name in names:
        item_set = tuple(sorted(inst.scale_items(name)))
        if scales is None and item_set in seen:
            continue
        seen.add(item_set)
        idx = np.asarray(inst.scale_items(name), dtype="int64") - 1
        if len(idx) < 2:
            if scales is not None:
                raise RomInputError(f"{inst.key}: scale {name!r} has one item; alpha needs at least two")
            continue
        sub = keyed[:, idx]
        complete = sub[~np.isnan(sub).any(axis=1)]
        n = len(complete)
        est = lo = hi = np.nan
        if n >= 3:
            import pingouin  # imported here: it is slow to import and only needed for alpha

            frame = pd.DataFrame(complete, columns=[mat.columns[i] for i in idx])
            alpha, ci = pingouin.cronbach_alpha(data=frame, ci=conf_level)
            est, lo, hi = float(alpha), float(ci[0]), float(ci[1])
        rows.append(
            {
                "instrument": inst.key,
                "scale": name,
                "n": n,
                "n_items": len(idx),
                "estimate": est,
                "ci_lower": lo,
                "ci_upper": hi,
                "method": "cronbach_alpha",
                "conf_level": conf_level,
            }
        )
    return pd.DataFrame(rows, columns=ALPHA_COLUMNS)
