"""Cost per person for protocols judged on outcome measures (a cost-consequence view).

Runs after disclosure control, on the *published* counts: the cost divided by a published count cannot
reveal an exact count the rounding or suppression hid (the cost is known, so cost ÷ exact count would give
the exact count back). When a count it needs is suppressed, the figure is not shown and the report says why.
"""

from __future__ import annotations

from typing import Any

from evaltoolkit.economics import cost_per_person
from evaltoolkit.protocol import Protocol

__all__ = ["per_person_block"]

_IMPROVED = ("recovered", "improved")


def _count(v: Any) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def per_person_block(protocol: Protocol, results: dict[str, Any]) -> dict[str, Any] | None:
    """``{service_cost, rows, notes}`` for each primary instrument, or ``None`` without a service cost or
    outcome measures, or when the protocol has costed series (their money is the net cost)."""
    sc = protocol.service_cost
    om = results.get("outcome_measures")
    if sc is None or not om or results.get("its"):
        return None
    service = {
        "amount": sc.amount,
        "currency": sc.currency,
        "price_year": sc.price_year,
        "per": sc.per,
        "range": list(sc.range) if sc.range else None,
        "source": sc.source,
        "note": sc.note,
    }
    if sc.per != "total":
        return {
            "service_cost": service,
            "rows": [],
            "notes": [
                "Cost per person needs the programme's cost for the people evaluated: give the service cost "
                "with per: total."
            ],
        }
    cost: float | tuple[float, float] = sc.amount if sc.range is None else tuple(sorted(sc.range))
    conf = float(results.get("conf_level", 0.95))
    labels = {i["outcome"]: i["label"] for i in om.get("instruments") or []}
    primary = [i["outcome"] for i in om.get("instruments") or [] if i.get("primary")]
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for outcome in primary:
        analysed = next((a for a in om.get("analysed") or [] if a["outcome"] == outcome), None)
        rc = [r for r in om.get("reliable_change") or [] if r["outcome"] == outcome]
        started = _count(analysed["n_started"]) if analysed else None
        improved_parts = [_count(r["n"]) for r in rc if r["category"] in _IMPROVED]
        classified = _count(rc[0]["n_classified"]) if rc else None
        label = labels.get(outcome, outcome)
        if started is None:
            notes.append(
                f"{label}: cost per person not shown, because the number who started is suppressed or "
                "missing (showing it would reveal that number)."
            )
            continue
        if classified is None or not improved_parts or None in improved_parts:
            first = cost_per_person(cost, started=started, improved=0, classified=0, conf_level=conf).iloc[:1]
            for r in first.to_dict("records"):
                rows.append({"outcome": outcome, "outcome_label": label, "currency": sc.currency, **r})
            notes.append(
                f"{label}: cost per reliable improvement not shown, because the number who improved is "
                "suppressed (a small number; showing the cost per improvement would reveal it)."
            )
            continue
        improved = sum(p for p in improved_parts if p is not None)
        table = cost_per_person(
            cost,
            started=started,
            improved=min(improved, classified),
            classified=min(classified, started),
            conf_level=conf,
        )
        for r in table.to_dict("records"):
            rows.append({"outcome": outcome, "outcome_label": label, "currency": sc.currency, **r})
    return {"service_cost": service, "rows": rows, "notes": notes}
