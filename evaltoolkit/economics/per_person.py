"""Cost per person for before-and-after programmes (outcome measures): a cost-consequence view.

A programme judged on questionnaire scores has no activity to price. What a commissioner can set against its
cost is how many people it reached and how many improved reliably: the cost per person who started, and the
cost per person with a reliable improvement (Jacobson–Truax: improved or recovered).

Two figures for the second, because people without a final score are not classified:

* **per observed improvement**: the cost divided by the people *seen* to improve. People without a final
  score may also have improved, so this is an upper bound on the cost per improvement.
* **if those without a final score improved at the same rate**: the cost divided by ``started × p``, with
  ``p`` the share improving among those classified; its interval uses the Wilson interval of ``p``. This is
  the figure under missing at random; the first is the figure if none of them improved.

A service-cost range widens each interval to its ends (low cost with the high rate, high cost with the low
rate): the result is a range, not a probability interval, and is labelled so.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from evaltoolkit.errors import EconomicsInputError

__all__ = ["COST_PER_PERSON_COLUMNS", "cost_per_person"]

COST_PER_PERSON_COLUMNS = ("term", "estimate", "ci_lower", "ci_upper", "n", "method")
"""Columns of :func:`cost_per_person`."""


def cost_per_person(
    cost: float | tuple[float, float],
    *,
    started: int,
    improved: int,
    classified: int,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Cost per person who started and per person with a reliable improvement.

    Parameters
    ----------
    cost : float or (low, high)
        What the programme cost for the people evaluated (a pair: a sensitivity range; the estimate is its
        midpoint).
    started : int
        People who started (the denominator of the cost per person).
    improved : int
        People classified as reliably improved (improved or recovered).
    classified : int
        People with a score before and after (those who could be classified).
    conf_level : float, default 0.95
        Confidence level of the Wilson interval of the improvement rate.

    Returns
    -------
    pandas.DataFrame
        Columns ``term, estimate, ci_lower, ci_upper, n, method``; rows ``per_person_started``,
        ``per_observed_improvement`` (an upper bound: people without a final score may also have improved)
        and ``per_improvement_missing_alike`` (if people without a final score improved at the observed
        rate; Wilson interval of the rate). Without a cost range the first two rows have no interval. With
        no improvement observed, the last two rows are NaN.

    Raises
    ------
    EconomicsInputError
        A count is negative, ``improved > classified`` or ``classified > started``, or the cost is not
        positive.

    Examples
    --------
    >>> out = cost_per_person(60_000.0, started=300, improved=60, classified=150)
    >>> out.set_index("term")["estimate"].round(2).tolist()
    [200.0, 1000.0, 500.0]
    """
    lo_c, hi_c = (
        (float(cost), float(cost)) if not isinstance(cost, tuple | list) else sorted(map(float, cost))
    )
    est_c = (lo_c + hi_c) / 2
    if not lo_c > 0:
        raise EconomicsInputError(f"cost must be positive (got {cost!r})")
    for name, v in (("started", started), ("improved", improved), ("classified", classified)):
        if v is None or v < 0 or int(v) != v:
            raise EconomicsInputError(f"{name} must be a whole number of people, 0 or more (got {v!r})")
    if improved > classified or classified > started:
        raise EconomicsInputError(
            f"need improved ≤ classified ≤ started (got {improved}, {classified}, {started})"
        )
    ranged = lo_c != hi_c
    nan = math.nan
    rows: list[dict[str, Any]] = []
    if started > 0:
        rows.append(
            {
                "term": "per_person_started",
                "estimate": est_c / started,
                "ci_lower": lo_c / started if ranged else nan,
                "ci_upper": hi_c / started if ranged else nan,
                "n": started,
                "method": "cost ÷ people who started"
                + (" (range: the service-cost range)" if ranged else ""),
            }
        )
    if improved > 0:
        rows.append(
            {
                "term": "per_observed_improvement",
                "estimate": est_c / improved,
                "ci_lower": lo_c / improved if ranged else nan,
                "ci_upper": hi_c / improved if ranged else nan,
                "n": improved,
                "method": "cost ÷ people seen to improve reliably: an upper bound (people without a final "
                "score may also have improved)",
            }
        )
        from evaltoolkit.prepost._common import wilson  # the toolkit's one Wilson interval

        p = improved / classified
        p_lo, p_hi = wilson(improved, classified, conf_level)
        rows.append(
            {
                "term": "per_improvement_missing_alike",
                "estimate": est_c / (started * p),
                "ci_lower": lo_c / (started * p_hi),
                "ci_upper": hi_c / (started * p_lo) if p_lo > 0 else math.inf,
                "n": classified,
                "method": f"cost ÷ (people who started × share improving among those classified); "
                f"{conf_level * 100:g}% Wilson interval of the share"
                + (", widened to the service-cost range" if ranged else ""),
            }
        )
    else:
        for term in ("per_observed_improvement", "per_improvement_missing_alike"):
            rows.append(
                {
                    "term": term,
                    "estimate": nan,
                    "ci_lower": nan,
                    "ci_upper": nan,
                    "n": 0,
                    "method": "no reliable improvement observed",
                }
            )
    out = pd.DataFrame(rows, columns=list(COST_PER_PERSON_COLUMNS))
    for c in ("estimate", "ci_lower", "ci_upper"):
        out[c] = out[c].astype("float64")
    out["n"] = out["n"].astype("int64")
    return out
