"""The SPC view of a protocol's primary series: Making Data Count XmR charts, rebased at go-live.

A stage after disclosure control: the charts are drawn from the **published** series (counts rounded by the
policy, suppressed months left out and counted), so their centre lines and limits cannot reveal a count the
policy hides. One chart per primary series and site, limits recalculated from each site's go-live (the
months before it form the first group), improvement meaning fewer events, bed-days or shorter stays. The
board-pack table summarises every chart's latest point. SPC says whether a series has moved beyond its
usual variation; the interrupted time series estimates by how much.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evaltoolkit.protocol import Protocol
from evaltoolkit.spc import board_pack, xmr

__all__ = ["ROM_SPC_METHOD", "ROM_STARTS", "SPC_METHOD", "rom_spc_block", "rom_starts_table", "spc_block"]

SPC_METHOD = (
    "XmR charts with the NHS Making Data Count rules (a point beyond a process limit; 7 points in a row on "
    "one side of the mean; 7 points each rising or falling; two in three points beyond the 2-sigma limit), "
    "limits recalculated at go-live, moving ranges screened once at 3.267 times their mean, trial limits "
    "below 13 points; drawn from the published monthly values (a site whose series has months hidden by the "
    "small-number rule is not charted), fewer is better"
)


def _primary(protocol: Protocol) -> list[Any]:
    primary = [s for s in protocol.series if s.primary]
    return primary or list(protocol.series[:1])


def _points(chart: pd.DataFrame) -> list[dict[str, Any]]:
    """The chart's points as results.json holds them."""
    return [
        {
            "period": pd.Timestamp(r.period).date().isoformat(),
            "value": float(r.value),
            "mean": float(r.mean),
            "lpl": float(r.lpl),
            "upl": float(r.upl),
            "point_type": r.point_type,
            "rule": r.rule,
        }
        for r in chart.itertuples(index=False)
    ]


def _board_row(row: dict[str, Any], chart: dict[str, Any]) -> dict[str, Any]:
    """One board-pack row (from :func:`~evaltoolkit.spc.board_pack`) with its chart's facts."""
    return {
        "site": chart["site"],
        "series": chart["series"],
        "label": chart["label"],
        "role": chart["role"],
        "latest_period": pd.Timestamp(row["latest_period"]).date().isoformat(),
        "latest_value": float(row["latest_value"]),
        "mean": float(row["mean"]),
        "lpl": float(row["lpl"]),
        "upl": float(row["upl"]),
        "variation": row["variation"],
        "variation_text": row["variation_text"],
        "rule": row["rule"],
        "n_points": int(row["n_points"]),
        "n_special_cause": int(row["n_special_cause"]),
        "trial_limits": bool(row["trial_limits"]),
        "mean_before": chart["mean_before"],
        "mean_after": chart["mean_after"],
    }


def spc_block(
    protocol: Protocol, series: pd.DataFrame, warmup: dict[str, list[Any]] | None = None
) -> dict[str, Any] | None:
    """``results["spc"]``: one chart per primary series × site and the board-pack rows.

    ``series`` is the published series table (``tables/series_published.csv``); ``warmup`` the periods of
    each series left out of the models (bed-days at the start of the window), left out here too.
    """
    if series is None or not len(series):
        return None
    warmup = warmup or {}
    charts: dict[tuple[str, str], Any] = {}
    out: list[dict[str, Any]] = []
    for spec in _primary(protocol):
        skip = {pd.Timestamp(p) for p in warmup.get(spec.name, [])}
        for site in protocol.sites:
            sub = series[(series["series"] == spec.name) & (series["site"] == site.code)]
            if not len(sub):
                continue
            periods = pd.to_datetime(sub["period"])
            values = pd.to_numeric(sub["value"], errors="coerce")  # "*" (suppressed) → missing
            keep = ~periods.isin(skip)
            frame = pd.DataFrame({"period": periods[keep].to_numpy(), "value": values[keep].to_numpy()})
            hidden = int(frame["value"].isna().sum())
            base = {
                "series": spec.name,
                "label": spec.short_label or spec.label,
                "unit": spec.unit,
                "site": site.code,
                "role": site.role,
                "go_live": None if site.go_live is None else pd.Timestamp(site.go_live).date().isoformat(),
                "n_left_out": hidden,
            }
            if hidden or len(frame) < 2:
                # leaving out the hidden (small) months would raise the centre line: no chart, and why
                out.append(
                    {
                        **base,
                        "charted": False,
                        "reason": (
                            f"not charted: the small-number rule hides {hidden} months in {len(frame)}"
                            if hidden
                            else "not charted: fewer than 2 months"
                        ),
                    }
                )
                continue
            go_live = pd.Timestamp(site.go_live) if site.go_live is not None else None
            chart = xmr(
                frame,
                "value",
                "period",
                improvement="decrease",
                rebase=[go_live] if go_live is not None and go_live > frame["period"].min() else None,
            )
            charts[(site.code, spec.name)] = chart
            post = chart[chart["period"] >= go_live] if go_live is not None else chart.iloc[0:0]
            pre = chart[chart["period"] < go_live] if go_live is not None else chart
            out.append(
                {
                    **base,
                    "charted": True,
                    "reason": None,
                    "n_points": len(chart),
                    "mean_before": float(pre["mean"].iloc[-1]) if len(pre) else None,
                    "mean_after": float(post["mean"].iloc[-1]) if len(post) else None,
                    "n_special_cause_after_go_live": int((post["point_type"] != "common_cause").sum()),
                    "points": _points(chart),
                }
            )
    if not out:
        return None
    board = board_pack(charts) if charts else pd.DataFrame()
    board_rows = []
    for (site, name), row in zip(charts, board.to_dict("records"), strict=False):
        c = next(x for x in out if x["site"] == site and x["series"] == name)
        c["variation"] = row["variation"]
        board_rows.append(_board_row(row, c))
    return {"method": SPC_METHOD, "charts": out, "board": board_rows}


# -- programmes judged on outcome measures ----------------------------------------------------------------
ROM_STARTS = "people_starting"
"""Series name of the quarterly number of people starting an outcome-measure programme."""

ROM_SPC_METHOD = (
    "XmR chart with the NHS Making Data Count rules (a point beyond a process limit; 7 points in a row on "
    "one side of the mean; 7 points each rising or falling; two in three points beyond the 2-sigma limit), "
    "moving ranges screened once at 3.267 times their mean, trial limits below 13 points; drawn from the "
    "published quarterly counts of people starting (their first questionnaire), all sites together; neither "
    "direction is better (first or last quarters hidden by the small-number rule, the start-up and a part "
    "quarter, are left out; a hidden quarter in between stops the chart)"
)


def rom_starts_table(protocol: Protocol, raw: pd.DataFrame) -> pd.DataFrame:
    """People starting an outcome-measure programme each quarter (their ``pre`` questionnaire), all sites
    together, zero-filled from the first to the last quarter, as typed counts published in the one pass.
    Quarters, not months: a programme starts too few people a month for counts above the small-number rule.

    Columns ``series, site, period, value`` (``site`` is ``all``), like the published series table."""
    from evaltoolkit.disclosure.deferred import ExactCount

    om = protocol.outcome_measures
    assert om is not None
    pre = raw[raw[om.occasion].astype(str) == str(om.pre)]
    dates = (
        pd.to_datetime(pre["date"], errors="coerce")
        if "date" in pre.columns
        else pd.Series([], dtype="M8[ns]")
    )
    first = (
        pd.DataFrame({"subject": pre[om.subject].to_numpy(), "date": dates.to_numpy()})
        .dropna()
        .groupby("subject")["date"]
        .min()
    )
    if not len(first):
        return pd.DataFrame(columns=["series", "site", "period", "value"])
    quarter = first.dt.to_period("Q")
    counts = quarter.value_counts()
    periods = pd.period_range(quarter.min(), quarter.max(), freq="Q")
    return pd.DataFrame(
        {
            "series": ROM_STARTS,
            "site": "all",
            "period": periods.to_timestamp(),
            "value": [ExactCount(int(counts.get(p, 0)), text=True) for p in periods],
        }
    )


def rom_spc_block(series: pd.DataFrame) -> dict[str, Any] | None:
    """``results["spc"]`` of an outcome-measure protocol: one XmR chart of the published quarterly starts."""
    sub = series[series["series"] == ROM_STARTS] if len(series) else series
    if not len(sub):
        return None
    frame = pd.DataFrame(
        {
            "period": pd.to_datetime(sub["period"]).to_numpy(),
            "value": pd.to_numeric(sub["value"], errors="coerce").to_numpy(),  # "*" → missing
        }
    )
    # the first and last quarters are the programme's start-up and a part quarter: when the small-number
    # rule hides them they are left out (and counted); a hidden quarter in between stops the chart
    shown = frame["value"].notna().to_numpy()
    first, last = (int(shown.argmax()), len(shown) - int(shown[::-1].argmax())) if shown.any() else (0, 0)
    edges = first + (len(frame) - last)
    frame = frame.iloc[first:last].reset_index(drop=True)
    hidden = int(frame["value"].isna().sum())
    base = {
        "series": ROM_STARTS,
        "label": "People starting",
        "unit": "people starting",
        "site": "all sites",
        "role": "intervention",
        "go_live": None,
        "improvement": "neutral",
        "per": "quarter",
        "n_left_out": hidden + edges,
        "n_edge_quarters_left_out": edges,
    }
    if hidden or len(frame) < 2:
        reason = (
            f"not charted: the small-number rule hides {hidden} of the {len(frame)} quarters between the "
            "first and the last shown"
            if hidden
            else f"not charted: {len(frame)} quarter{'' if len(frame) == 1 else 's'} of starts shown "
            "(a chart needs 2 or more)"
        )
        return {
            "method": ROM_SPC_METHOD,
            "charts": [{**base, "charted": False, "reason": reason}],
            "board": [],
        }
    chart = xmr(frame, "value", "period", improvement="neutral")
    board = board_pack({("all sites", ROM_STARTS): chart}).to_dict("records")[0]
    entry = {
        **base,
        "charted": True,
        "reason": None,
        "variation": board["variation"],
        "n_points": len(chart),
        "mean_before": None,
        "mean_after": float(chart["mean"].iloc[-1]),
        "n_special_cause_after_go_live": int((chart["point_type"] != "common_cause").sum()),
        "points": _points(chart),
    }
    row = _board_row(board, entry)
    return {"method": ROM_SPC_METHOD, "charts": [entry], "board": [row]}
