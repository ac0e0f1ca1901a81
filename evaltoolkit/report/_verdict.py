"""The one-page verdict at the top of every report: what a commissioner acts on.

A pure function of the **published** results (like the summary), so it repeats numbers the rest of the report
shows and never adds a more exact one. For each primary outcome: the answer in one sentence, how sure we are
(the certainty rating in words; for questionnaire outcomes measured before and after, the rating of
:func:`~evaltoolkit.report._synthesis.measure_findings`), and what it is worth (money and capacity);
then what the evaluation cannot show and what to watch next (the SPC signals since go-live).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evaltoolkit.report._format import about, money, relative_phrase
from evaltoolkit.report._summary import _beds, lower_first, price_words, summary_sentences

__all__ = ["CERTAINTY_WORDS", "verdict"]

CERTAINTY_WORDS: dict[str, str] = {
    "high": "High: the true change is probably close to this estimate.",
    "moderate": (
        "Moderate: the true change is probably close to this estimate, but it could be substantially "
        "different."
    ),
    "low": "Low: the true change could be substantially different from this estimate.",
    "very low": (
        "Very low: the true change is likely to be substantially different from this estimate; read it as a "
        "signal to look further, not as a finding."
    ),
}
"""Plain-language meaning of each certainty rating (after the GRADE working group's wording)."""

_VERB = {
    "high": "{service} {did}",
    "moderate": "{service} probably {did}",
    "low": "{service} may have {done}",
    "very low": "we are very uncertain whether {service} {did}",
}

NOT_RATED = "Not rated: the change is not shown (it rests on too few people), so there is nothing to rate."
"""Certainty words of a questionnaire outcome whose change is not published."""


def _combined(results: dict[str, Any], series: str) -> dict[str, Any] | None:
    for c in (results.get("its") or {}).get("combined") or []:
        if c["series"] == series and c["method_id"] == "m0":
            return c
    return None


def _answer(results: dict[str, Any], f: dict[str, Any], spec: dict[str, Any]) -> str:
    c = f["primary"]
    rel, lo, hi = c.get("relative_change"), c.get("relative_ci_lower"), c.get("relative_ci_upper")
    if rel is None or lo is None or hi is None:
        return "Not estimated (see the effects table)."
    conf = results.get("conf_level", 0.95)
    horizon = results["its"]["horizon_months"]
    rating = f["certainty"]["rating"]
    lowered = rel < 0
    noun = spec.get("short_label") or spec["label"]
    did, done = ("reduced", "reduced") if lowered else ("increased", "increased")
    lead = _VERB[rating].format(service="the service", did=did, done=done)
    lead = lead[0].upper() + lead[1:]
    text = f"{lead} {lower_first(noun)}: {relative_phrase(rel, lo, hi, conf)} than expected"
    if spec.get("measure") != "mean_los" and c.get("estimate") is not None:
        more = "fewer" if lowered else "more"
        text += f" over {horizon} months, about {about(abs(c['estimate']))} {more} {spec['unit']}"
    text += "."
    if not f["excludes_no_change"]:
        text += " The interval includes no change."
    return text


def _reasons(cert: dict[str, Any]) -> str:
    """``Starting from low (…); serious concerns about attrition and imprecision (see 'How sure are we').``"""
    concerns = [d["domain"] for d in cert["domains"] if d["serious"]]
    text = f"Starting from {cert['start']} ({cert['start_reason']})"
    if not concerns:
        return text + "; no serious concern."
    listed = concerns[0] if len(concerns) == 1 else ", ".join(concerns[:-1]) + " and " + concerns[-1]
    return text + f"; serious concerns about {listed} (see 'How sure are we')."


def _worth(results: dict[str, Any], series: str) -> str:
    parts = []
    for c in results.get("costs") or []:
        if c["series"] != series or c.get("estimate") is None:
            continue
        cur, est, lo, hi = c["currency"], c["estimate"], c["ci_lower"], c["ci_upper"]
        unit = c["unit"].replace("_", "-")
        text = f"{_spend(est, cur)} on {unit}s (interval {_spend_interval(lo, hi, cur)}) at "
        text += price_words(c)
        beds = c.get("beds_equivalent")
        if beds and beds.get("estimate") is not None:
            text += (
                f"; capacity released: {_beds(beds['estimate'])} beds (interval {_beds(beds['ci_lower'])} to "
                f"{_beds(beds['ci_upper'])}) at {beds['occupancy'] * 100:g}% occupancy, not cash unless beds "
                "close"
            )
        parts.append(text)
    return "; ".join(parts) if parts else "Not costed in the protocol."


def _spend(x: float, currency: str) -> str:
    """``£250,000 less spent`` / ``£20,000 more spent``."""
    return f"{money(abs(x), currency)} {'less' if x < 0 else 'more'} spent"


def per_person_words(results: dict[str, Any], label: str) -> str:
    """The cost per person of an outcome-measure programme in words (``results["cost_per_person"]``)."""
    block = results.get("cost_per_person") or {}
    rows = {r["term"]: r for r in block.get("rows") or [] if r["outcome_label"] == label}
    note = next(
        (n.split(":", 1)[1].strip() for n in block.get("notes") or [] if n.startswith(f"{label}:")), ""
    )
    if not rows:
        if note:
            return note[0].upper() + note[1:]
        return "Not costed: the protocol gives no service cost." if not block else "Not costed."
    conf = f"{results.get('conf_level', 0.95) * 100:g}% CI"
    started = rows["per_person_started"]
    cur = started["currency"]
    text = f"{money(started['estimate'], cur)} per person who started"
    seen, alike = rows.get("per_observed_improvement"), rows.get("per_improvement_missing_alike")
    if seen and seen["estimate"] == seen["estimate"]:  # not NaN
        text += (
            f"; {money(seen['estimate'], cur)} per person seen to improve reliably (an upper bound: people "
            f"without a final score may also have improved), {money(alike['estimate'], cur)} if they "
            f"improved at the same rate ({conf} {money(alike['ci_lower'], cur)} to "
            f"{money(alike['ci_upper'], cur)})"
        )
    elif note:
        text += f"; {note.rstrip('.')}"
    else:
        text += "; no reliable improvement was observed"
    sc = block["service_cost"]
    source = f"; {lower_first(sc['source'].rstrip('.'))}" if sc.get("source") else ""
    return text + f" (programme cost {money(sc['amount'], cur)} at {sc['price_year']} prices{source})."


def _spend_interval(lo: float, hi: float, currency: str) -> str:
    """An interval of spending in the order a reader says it, smaller change first on one side of zero.

    >>> _spend_interval(-460_000, -36_000, "GBP")
    '£36,000 to £460,000 less spent'
    >>> _spend_interval(-4_100_000, 300_000, "GBP")
    '£4.1 million less spent to £300,000 more spent'
    """
    if lo < 0 and hi < 0:
        return f"{money(-hi, currency)} to {money(-lo, currency)} less spent"
    if lo > 0 and hi > 0:
        return f"{money(lo, currency)} to {money(hi, currency)} more spent"
    return f"{_spend(lo, currency)} to {_spend(hi, currency)}"


def _watch(results: dict[str, Any]) -> list[str]:
    board = ((results.get("spc") or {}).get("board")) or []
    out = []
    for row in board:
        v = row.get("variation")
        if not v or v == "common_cause":
            continue
        kind = next((k for k in ("improvement", "concern") if v.startswith(k)), "change")
        since = (
            "at the comparison site"
            if row.get("role") == "control"
            else ("since go-live" if results.get("its") else "in the number of people starting each quarter")
        )
        rule = (row.get("rule") or "").replace("_", " ")
        out.append(
            f"{row['site']}, {row['label']}: special-cause {kind} {since}"
            + (f" ({rule})" if rule else "")
            + (
                f", latest month {row['latest_period'][:7]}"
                if results.get("its")
                else f", latest quarter {pd.Period(row['latest_period'], freq='Q')}"
            )
        )
    if board and not out and not results.get("its"):
        out.append(
            "People starting each quarter: the latest quarter is within its usual variation; keep plotting "
            "it, as a fall beyond the lower process limit would mean the programme is reaching fewer people."
        )
    elif board and not out:
        out.append(
            "No special-cause signal since go-live in any primary series: keep plotting monthly; a signal "
            "needs 7 points in a row on one side of the mean, a run of 7, two in three near a limit, or a "
            "point beyond one."
        )
    return out


def verdict(results: dict[str, Any]) -> dict[str, Any]:
    """The verdict of a report from its published results.

    Returns ``{"rows": [{outcome, answer, certainty, worth}], "cannot_show": [...], "watch": [...]}``.
    """
    rows: list[dict[str, str]] = []
    specs = {s["name"]: s for s in results.get("series") or []}
    for f in (results.get("synthesis") or {}).get("findings") or []:
        spec = specs[f["series"]]
        rating = f["certainty"]["rating"]
        rows.append(
            {
                "outcome": spec.get("short_label") or spec["label"],
                "answer": _answer(results, f, spec),
                "certainty": CERTAINTY_WORDS[rating],
                "worth": _worth(results, f["series"]),
            }
        )
    om = results.get("outcome_measures") or {}
    if not rows and om:
        rated = {f["label"]: f for f in (results.get("synthesis") or {}).get("measure_findings") or []}
        for sentence in summary_sentences(results):
            if sentence.startswith("Data quality") or ":" not in sentence:
                continue
            outcome, answer = sentence.split(":", 1)
            answer = answer.strip()
            f = rated.get(outcome)
            if f is None:
                rows.append(
                    {
                        "outcome": outcome,
                        "answer": answer[0].upper() + answer[1:],
                        "certainty": NOT_RATED,
                        "worth": per_person_words(results, outcome),
                    }
                )
                continue
            rating = f["certainty"]["rating"]
            did = f"{'lowered' if f['estimate'] < 0 else 'raised'} scores on {outcome}"
            lead = _VERB[rating].format(service="the programme", did=did, done=did)
            rows.append(
                {
                    "outcome": outcome,
                    "answer": f"{lead[0].upper()}{lead[1:]}. {answer[0].upper()}{answer[1:]}",
                    "certainty": CERTAINTY_WORDS[rating] + " " + _reasons(f["certainty"]),
                    "worth": per_person_words(results, outcome),
                }
            )
    cannot = [f"{x['title']}." for x in results.get("limitations") or [] if x["id"] != "data_note"]
    return {"rows": rows, "cannot_show": cannot, "watch": _watch(results)}
