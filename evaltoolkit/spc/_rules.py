"""The four Making Data Count special-cause rules, applied to one rebase group.

Everything here works on plain numpy arrays for one group (the caller splits the series at rebase dates), so
the rules never look across a rebase.
"""

from __future__ import annotations

import numpy as np

#: Rule names, in the order used to label a point when several fire (outside limits > trend > two-in-three
#: > shift), as in NHSRplotthedots.
RULES = ("outside_limits", "trend", "two_in_three", "shift")

#: Run length of the shift and trend rules.
RUN_LENGTH = 7


def _sign(x: np.ndarray) -> np.ndarray:
    return np.sign(x).astype(int)


def shift(side: np.ndarray, length: int = RUN_LENGTH) -> np.ndarray:
    """Points in a run of ``length`` or more consecutive points on one side of the mean.

    ``side`` is the sign of (value - mean); a point on the mean (0) breaks every run. Returns +1/-1 (the
    side) for flagged points, 0 otherwise.
    """
    out = np.zeros(len(side), dtype=int)
    start = 0
    for i in range(1, len(side) + 1):
        if i == len(side) or side[i] != side[start]:
            if side[start] != 0 and i - start >= length:
                out[start:i] = side[start]
            start = i
    return out


def trend(y: np.ndarray, length: int = RUN_LENGTH) -> np.ndarray:
    """Points in a run of ``length`` or more points each strictly above (below) the one before.

    Six successive differences of one sign make a trend of seven; a tie (difference 0) breaks it. Returns +1
    (increasing) / -1 (decreasing) for flagged points, 0 otherwise; a point shared by two runs (a peak or
    trough) takes the direction of the later run.
    """
    out = np.zeros(len(y), dtype=int)
    if len(y) < 2:
        return out
    d = _sign(np.diff(y))
    start = 0  # index into d
    for i in range(1, len(d) + 1):
        if i == len(d) or d[i] != d[start]:
            if d[start] != 0 and i - start >= length - 1:
                out[start : i + 1] = d[start]  # differences start..i-1 join points start..i
            start = i
    return out


def two_in_three(side: np.ndarray, beyond_near: np.ndarray) -> np.ndarray:
    """Points beyond the near (2-sigma) limit that are two or more of three consecutive points, all three on
    the same side of the mean.

    Only the points beyond the near limit are flagged (the third point of the window is not). Returns the
    side (+1/-1) for flagged points, 0 otherwise.
    """
    n = len(side)
    out = np.zeros(n, dtype=int)
    for s in range(n - 2):
        w = slice(s, s + 3)
        if beyond_near[w].sum() >= 2 and abs(int(side[w].sum())) == 3:
            idx = np.arange(s, s + 3)[beyond_near[w]]
            out[idx] = side[s]
    return out


def classify(
    y: np.ndarray,
    centre: np.ndarray,
    lpl: np.ndarray,
    upl: np.ndarray,
    lower_near: np.ndarray,
    upper_near: np.ndarray,
    *,
    improvement: int,
    rules: str,
) -> tuple[list[str], list[str | None], list[str]]:
    """Point type, the rule that labels it and every rule that fired, for the points of one group.

    ``improvement`` is +1 (higher is better), -1 (lower is better) or 0 (neutral). ``rules`` is ``"mdc"``
    (points beyond the process limits count towards two-in-three; where a rule pointing to improvement and
    one pointing to concern both fire, the point shows improvement) or ``"ptd-0.2.2"`` (only points between
    the near and the process limits count; the first rule in :data:`RULES` order labels the point).
    """
    side = _sign(y - centre)
    outside = (y > upl) | (y < lpl)
    beyond_near = (y > upper_near) | (y < lower_near)
    if rules == "ptd-0.2.2":
        beyond_near = beyond_near & ~outside
    fired = {
        "outside_limits": np.where(outside, side, 0),
        "trend": trend(y),
        "two_in_three": two_in_three(side, beyond_near),
        "shift": shift(side),
    }
    types: list[str] = []
    labels: list[str | None] = []
    every: list[str] = []
    for i in range(len(y)):
        hits = [(r, int(fired[r][i])) for r in RULES if fired[r][i] != 0]
        every.append(",".join(r for r, _ in hits))
        if not hits:
            types.append("common_cause")
            labels.append(None)
            continue
        rule, direction = hits[0]
        if rules == "mdc" and improvement != 0:
            better = [(r, d) for r, d in hits if d == improvement]
            if better:
                rule, direction = better[0]
        labels.append(rule)
        if improvement == 0:
            types.append("special_cause_neutral_high" if direction > 0 else "special_cause_neutral_low")
        else:
            types.append("special_cause_improvement" if direction == improvement else "special_cause_concern")
    return types, labels, every
