"""The commissioner report: one document model built from results.json, rendered three ways.

:func:`build_report` turns the results into a :class:`Report`: sections of simple blocks (paragraphs,
bullet lists, tables, figures). The same report is rendered as Markdown (:func:`render_markdown`,
``report.md``), as a standalone HTML page with the figures embedded (:func:`render_html`,
``report.html``, no external resources), and section by section in a Jupyter Book page
(:func:`show_section`). Section order: plain-language summary first, then the counterfactual charts,
effects and sensitivity, before/after cohort, outcome measures, model checks, limitations, methods and
the data-quality appendix.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evaltoolkit.disclosure import assert_published
from evaltoolkit.report._checks import WARMUP_THRESHOLD
from evaltoolkit.report._format import (
    cohort_label,
    difference_phrase,
    fmt_num,
    fmt_p,
    money,
    money_change,
    money_exact,
    relative_phrase,
)
from evaltoolkit.report._glossary import find_terms, link_html, link_myst, slug
from evaltoolkit.report._summary import (
    lower_first,
    net_cost_bracket_sentence,
    net_cost_sentence,
    price_words,
    service_cost_words,
)
from evaltoolkit.report._verdict import verdict
from evaltoolkit.report.figures import FigureSpec, figure_specs, style
from evaltoolkit.report.templates import HTML_PAGE, REPORT_CSS

__all__ = [
    "SECTIONS",
    "Bullets",
    "Figure",
    "Para",
    "Report",
    "Section",
    "Table",
    "Terms",
    "build_report",
    "render_html",
    "render_markdown",
    "report_metadata",
    "show_metadata",
    "show_section",
]

SECTIONS: tuple[tuple[str, str], ...] = (
    ("verdict", "The verdict"),
    ("summary", "Summary"),
    ("counterfactual", "What would have happened without the service"),
    ("spc", "Watching the service: SPC charts"),
    ("effects", "Effects by site"),
    ("certainty", "How sure are we"),
    ("worth", "What it is worth"),
    ("sensitivity", "Sensitivity analyses"),
    ("robustness", "Placebo and robustness checks"),
    ("cohort", "People selected at a crisis: before and after"),
    ("measures", "Outcome measures"),
    ("diagnostics", "Model checks"),
    ("limitations", "Limitations"),
    ("methods", "Methods and the service"),
    ("data_quality", "Appendix: data quality"),
    ("glossary", "Glossary"),
)
"""Report sections ``(id, title)`` in order; a report includes those its results support."""


@dataclass(frozen=True)
class Para:
    """A paragraph; ``**bold**`` is the only inline markup."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bullet list."""

    items: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Table:
    """A table of already formatted text cells, with a caption."""

    data: pd.DataFrame
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A figure by file stem (see :mod:`evaltoolkit.report.figures`)."""

    name: str
    caption: str
    alt: str = ""


@dataclass(frozen=True)
class Terms:
    """Glossary entries ``(term, meaning)``: the jargon the report uses, defined."""

    items: tuple[tuple[str, str], ...]


Block = Para | Bullets | Table | Figure | Terms


@dataclass(eq=False)
class Section:
    """A report section."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(eq=False)
class Report:
    """A report: title, subtitle, sections, and the figure specs it refers to."""

    title: str
    subtitle: str
    sections: list[Section]
    figures: dict[str, FigureSpec]
    meta: tuple[tuple[str, str], ...] = ()
    data_kind: str = "unspecified"

    def section(self, id_: str) -> Section:
        """The section with this id (``KeyError`` if the report has none)."""
        for s in self.sections:
            if s.id == id_:
                return s
        raise KeyError(f"no section {id_!r}; sections: {[s.id for s in self.sections]}")


# -- helpers ----------------------------------------------------------------------------------------------
def _pct(x: Any, digits: int = 0) -> str:
    return "–" if x is None else f"{x * 100:.{digits}f}%"


def _sentence(text: str) -> str:
    """``text`` ending with a full stop."""
    text = str(text).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _rel_ci(est: Any, lo: Any, hi: Any) -> str:
    """A relative change in the words of the summary: ``37% lower (63% lower to 6% higher)``."""
    if est is None or lo is None or hi is None:
        return "–"
    return relative_phrase(est, lo, hi, ci_label=False)


def _diff_ci(est: Any, lo: Any, hi: Any, mean: bool = False) -> str:
    """An absolute change in words: ``459 fewer (1,291 fewer to 46 more)``; a mean: ``4.1 higher (…)``."""
    if est is None or lo is None or hi is None:
        return "–"
    if mean:
        return difference_phrase(est, lo, hi, 1, more="higher", fewer="lower")
    return difference_phrase(est, lo, hi, 0)


def _is_mean(results: dict[str, Any], series: str) -> bool:
    return any(x["name"] == series and x.get("measure") == "mean_los" for x in results.get("series") or [])


def _num_ci(est: Any, lo: Any, hi: Any, decimals: int = 1) -> str:
    if est is None:
        return "–"
    return f"{fmt_num(est, decimals)} ({fmt_num(lo, decimals)} to {fmt_num(hi, decimals)})"


def _percent_text(p: Any) -> str:
    return "–" if p is None or pd.isna(p) else f"{p:.0f}%"


def _rr_ci(d: dict[str, Any], per_period: bool = False) -> str:
    if not d:
        return "–"
    if "rate_ratio" in d:
        return f"{d['rate_ratio']:.3f} ({d['rate_ratio_ci_lower']:.3f} to {d['rate_ratio_ci_upper']:.3f})"
    return _num_ci(d.get("estimate"), d.get("ci_lower"), d.get("ci_upper"), 2)


def _count(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _labels(results: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s.get("short_label") or s["label"] for s in results.get("series") or []}


DATA_KIND_TEXT = {
    "synthetic": "SYNTHETIC: made-up records for demonstration and training; no real person, site or service "
    "is described, and no finding here applies to a real service.",
    "real": "real records (extracts of the named sites' data).",
    "unspecified": "NOT STATED: the protocol does not say whether these data are synthetic or real "
    "(protocol key data.kind); do not quote any number until it does.",
}
"""How the report states the kind of data (protocol key ``data.kind``)."""


def report_metadata(results: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The facts every report shows at its top, as ``(label, text)`` pairs: the kind of data (synthetic or
    real), the report date, the authors, the protocol (name, version, registration, file hash) and the
    toolkit version. Everything comes from results.json, so the report stays byte-identical between runs."""
    p = results["protocol"]
    kind = p.get("data_kind") or "unspecified"
    date = (p.get("report") or {}).get("date")
    authors = [a for a in p.get("authors") or [] if a]
    protocol = f"{p['name']} version {p['version']}"
    if p.get("file"):
        protocol += f" (file {p['file']}"
        protocol += f", SHA-256 {p['sha256'][:12]}…)" if p.get("sha256") else ")"
    gen = results.get("generator") or {}
    return (
        ("Data", DATA_KIND_TEXT.get(kind, DATA_KIND_TEXT["unspecified"])),
        (
            "Report date",
            date
            if date
            else "not set in the protocol (report.date); the time of the run is recorded in manifest.json",
        ),
        ("Authors", "; ".join(authors) if authors else "not given in the protocol"),
        ("Protocol", protocol),
        (
            "Registration",
            p["registration"]
            if p.get("registration")
            else "not registered (pre-specified but not registered)",
        ),
        ("Toolkit", f"{gen.get('package', 'evaltoolkit')} {gen.get('version', 'unknown version')}"),
    )


# -- sections ---------------------------------------------------------------------------------------------
def _summary(results: dict[str, Any]) -> list[Block]:
    p = results["protocol"]
    iv = results["intervention"]
    sites = results["sites"]
    impl = [s for s in sites if s["role"] == "intervention"]
    ctrl = [s for s in sites if s["role"] == "control"]
    where = ", ".join(f"{s['code']} (go-live {s['go_live']})" for s in impl)
    blocks: list[Block] = [
        Para(
            f"**What was evaluated.** {iv['brief_name']}, at {where}"
            + (
                f"; control site{'s' if len(ctrl) > 1 else ''}: {', '.join(s['code'] for s in ctrl)}"
                if ctrl
                else ""
            )
            + "."
        ),
        Para(f"**Question.** {p['question']}"),
        Bullets(tuple(results.get("summary") or ["No estimates could be computed; see the limitations."])),
        Para(
            f"Every number in this report was computed from the data by the pre-specified protocol "
            f"'{p['name']}' (version {p['version']}"
            + (f", registered as {p['registration']}" if p.get("registration") else ", not yet registered")
            + f"). {results['suppression']['description']}"
        ),
    ]
    return blocks


def _verdict(results: dict[str, Any]) -> list[Block]:
    v = verdict(results)
    blocks: list[Block] = [
        Para(
            "What a commissioner needs on one page: the answer for each primary outcome, how sure we are, "
            "what it is worth, what this evaluation cannot show and what to watch next. Every figure here is "
            "repeated, with its working, in the sections that follow."
        )
    ]
    items = [
        f"**{r['outcome']}.** {r['answer']} **How sure:** {r['certainty']} **Worth:** {r['worth']}"
        for r in v["rows"]
    ]
    if items:
        blocks.append(Bullets(tuple(items)))
    net = net_cost_sentence(results)
    if net:
        blocks.append(Para("**Against the cost of the service.** " + net))
    if v["cannot_show"]:
        blocks.append(Para("**What this evaluation cannot show** (see Limitations):"))
        blocks.append(Bullets(tuple(v["cannot_show"])))
    if v["watch"]:
        blocks.append(Para("**What to watch next** (Making Data Count signals):"))
        blocks.append(Bullets(tuple(v["watch"])))
    return blocks


_VARIATION_WORDS = {
    "common_cause": "common cause",
    "improvement_high": "improvement (higher)",
    "improvement_low": "improvement (fewer)",
    "concern_high": "concern (more)",
    "concern_low": "concern (lower)",
    "neutral_high": "special cause (higher)",
    "neutral_low": "special cause (lower)",
}


def _spc_programme(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    """The SPC view of a programme judged on outcome measures: people starting each month."""
    spc = results["spc"]
    c = spc["charts"][0]
    blocks: list[Block] = [
        Para(
            "A programme judged on questionnaire scores has no monthly outcome to chart, but a board watches "
            "whether it keeps reaching people: the chart shows the people starting each quarter (their first "
            "questionnaire), all sites together. A special-cause signal says the flow of people has moved "
            f"beyond its usual variation; neither direction is better in itself. Method: {spc['method']}."
        )
    ]
    if not c["charted"]:
        blocks.append(Para(f"People starting: {c['reason']}."))
        return blocks
    b = spc["board"][0]
    if c.get("n_edge_quarters_left_out"):
        blocks.append(
            Para(
                f"{c['n_edge_quarters_left_out']} quarters at the start or the end (the programme's start-up "
                "and a part quarter) are left out: the small-number rule hides them."
            )
        )
    blocks.append(
        Table(
            pd.DataFrame(
                [
                    {
                        "Measure": c["label"],
                        "Latest quarter": str(pd.Period(b["latest_period"], freq="Q")),
                        "Latest value": fmt_num(b["latest_value"], 0),
                        "Mean": fmt_num(b["mean"], 1),
                        "Process limits": f"{fmt_num(max(b['lpl'], 0.0), 1)} to {fmt_num(b['upl'], 1)}",
                        "Variation (latest)": _VARIATION_WORDS.get(b["variation"], b["variation"]),
                        "Rule": (b["rule"] or "–").replace("_", " "),
                        "Special-cause quarters": str(c["n_special_cause_after_go_live"]),
                    }
                ]
            ),
            caption="Board pack: people starting the programme, latest quarter and variation.",
        )
    )
    for spec in figs.values():
        if spec.section == "spc":
            blocks.append(Figure(spec.name, spec.caption, spec.alt))
    return blocks


def _spc(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    spc = results["spc"]
    if not results.get("its"):
        return _spc_programme(results, figs)
    blocks: list[Block] = [
        Para(
            "Boards read performance through Making Data Count charts. Each chart below shows a primary "
            "outcome month by month at one site, with its mean and process limits recalculated at go-live, "
            "so the months since go-live are judged against their own usual variation. A special-cause "
            "signal says the series has moved beyond that variation; the interrupted time series above says "
            f"by how much the service changed it. Method: {spc['method']}."
        )
    ]
    rows = []
    for c in spc["charts"]:
        b = next((x for x in spc["board"] if x["site"] == c["site"] and x["series"] == c["series"]), None)
        rows.append(
            {
                "Site": c["site"] + (" (comparison)" if c["role"] == "control" else ""),
                "Outcome": c["label"],
                "Latest month": b["latest_period"][:7] if b else "–",
                "Latest value": fmt_num(b["latest_value"], 0) if b else "–",
                "Mean before go-live": fmt_num(c.get("mean_before"), 1)
                if c.get("mean_before") is not None
                else "–",
                "Mean since go-live": fmt_num(c.get("mean_after"), 1)
                if c.get("mean_after") is not None
                else "–",
                "Variation (latest)": _VARIATION_WORDS.get(b["variation"], b["variation"])
                if b
                else c["reason"],
                "Rule": (b["rule"] or "–").replace("_", " ") if b else "–",
                "Special-cause months since go-live": (
                    str(c["n_special_cause_after_go_live"]) if c["charted"] and c.get("go_live") else "–"
                ),
            }
        )
    blocks.append(
        Table(
            pd.DataFrame(rows),
            caption=(
                "Board pack: every primary outcome at every site, latest month, variation icon in words and "
                "the rule that fired (points beyond a limit; 7 in a row on one side of the mean; 7 rising or "
                "falling; two in three near a limit). Fewer events is improvement."
            ),
        )
    )
    for spec in figs.values():
        if spec.section == "spc":
            blocks.append(Figure(spec.name, spec.caption, spec.alt))
    return blocks


def _worth(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    conf = f"{results['conf_level'] * 100:g}%"
    rows = []
    for c in results["costs"]:
        if c.get("estimate") is None:
            continue
        b = c.get("beds_equivalent")
        rows.append(
            {
                "Outcome": c["series_label"],
                "Unit cost": price_words(c),
                f"Cost of the change over the horizon ({conf} CI)": money_change(
                    c["estimate"], c["ci_lower"], c["ci_upper"], c["currency"]
                ),
                "Beds (capacity released)": (
                    difference_phrase(b["estimate"], b["ci_lower"], b["ci_upper"], 1)
                    if b and b.get("estimate") is not None and b.get("ci_lower") is not None
                    else "–"
                ),
                "Source": c["source"],
            }
        )
    blocks: list[Block] = [
        Para(
            "Each costed outcome's change, summed over the sites and the horizon, is multiplied by its unit "
            "cost draw by draw (the same draws as the effect, so the money agrees with the effect on "
            "direction and on whether it excludes no change; a range of unit costs is drawn uniformly). "
            "Bed-days are also shown as beds at the stated occupancy: **capacity released** for other "
            "patients, not cash, unless beds or staff are removed."
        ),
        Table(pd.DataFrame(rows), caption="The change in money and capacity, sites combined."),
    ]
    net = net_cost_sentence(results)
    if net:
        blocks.append(Para(f"{service_cost_words(results)} {net} Method: {results['economics']['method']}."))
        bracket = net_cost_bracket_sentence(results)
        if bracket:
            blocks.append(Para(bracket))
        sens = _net_sensitivity(results)
        if sens is not None:
            blocks.append(sens)
    for spec in figs.values():
        if spec.section == "worth":
            blocks.append(Figure(spec.name, spec.caption, spec.alt))
    return blocks


def _worth_per_person(results: dict[str, Any]) -> list[Block]:
    """What an outcome-measure programme costs per person reached and per person improving reliably."""
    block = results["cost_per_person"]
    sc = block["service_cost"]
    cur = sc["currency"]
    conf = f"{results['conf_level'] * 100:g}%"
    names = {
        "per_person_started": "per person who started",
        "per_observed_improvement": "per person seen to improve reliably (upper bound)",
        "per_improvement_missing_alike": "per reliable improvement, if those without a final score improved "
        "at the same rate",
    }

    def shown(r: dict[str, Any]) -> str:
        if r["estimate"] != r["estimate"]:  # NaN: no improvement observed
            return "–"
        text = money(r["estimate"], cur)
        if r["ci_lower"] == r["ci_lower"] and r["ci_upper"] == r["ci_upper"]:
            text += f" ({money(r['ci_lower'], cur)} to {money(r['ci_upper'], cur)})"
        return text

    rows = [
        {"Outcome": r["outcome_label"], "Cost": names[r["term"]], f"Amount ({conf} CI or range)": shown(r)}
        for r in block["rows"]
    ]
    rng = ""
    if sc.get("range"):
        lo, hi = sorted(sc["range"])
        rng = f" (range {money_exact(lo, cur)} to {money_exact(hi, cur)})"
    note = f": {lower_first(sc['note'].rstrip('.'))}" if sc.get("note") else ""
    source = f" Source: {sc['source'].rstrip('.')}." if sc.get("source") else ""
    blocks: list[Block] = [
        Para(
            f"The programme cost {money_exact(sc['amount'], cur)} in total{rng} at {sc['price_year']} "
            f"prices{note}.{source} A programme judged on questionnaire scores releases no activity to "
            "price, so its cost is set against the people it reached and the people who improved reliably "
            "(Jacobson–Truax: improved or recovered). The cost per person seen to improve is an upper bound, "
            "because people without a final score may also have improved; the figure that assumes they "
            f"improved at the same rate has a {conf} interval from the Wilson interval of that rate, widened "
            "to the ends of the cost range. The counts are the published ones."
        )
    ]
    if rows:
        blocks.append(Table(pd.DataFrame(rows), caption="Cost per person, primary outcome measures."))
    for n in block.get("notes") or []:
        blocks.append(Para(n))
    return blocks


def _net_sensitivity(results: dict[str, Any]) -> Table | None:
    """The one-way sensitivity of the net cost as a table (the same rows as its tornado chart)."""
    e = results.get("economics") or {}
    rows = e.get("sensitivity") or []
    if not rows:
        return None
    cur = e["service_cost"]["currency"]
    units = {s["name"]: s.get("unit") or "" for s in results.get("series") or []}

    def net_words(x: float) -> str:
        return f"releases {money(-x, cur)}" if x < 0 else f"costs {money(x, cur)}"

    def shown(r: dict[str, Any], x: float) -> str:
        if r["parameter"] == "activity_change":
            unit = units.get(r.get("series") or "", "")
            return f"{fmt_num(x, 0)} {unit}".strip()
        if r["parameter"] == "unit_cost":
            return money_exact(x, cur)
        if r["parameter"] == "service_cost":
            return money(x, cur)
        return f"{x:g} months"

    table = pd.DataFrame(
        [
            {
                "Input": r["label"],
                "Low value": shown(r, r["input_low"]),
                "High value": shown(r, r["input_high"]),
                "Net, input low": net_words(r["outcome_low"]),
                "Net, input high": net_words(r["outcome_high"]),
            }
            for r in rows
        ]
    )
    horizon = e["service_cost"]["horizon_months"]
    return Table(
        table,
        caption=(
            f"One-way sensitivity of the net cost over the {horizon} months (base: the service "
            f"{net_words(rows[0]['base'])} net): each input at its low and high value with the others at "
            "their base values; each outcome's effect at its confidence limits, each unit cost across its "
            "range, the service cost across its range, and a horizon half and one and a half times as long "
            "(changes and service cost scaled in proportion). Largest swing first."
        ),
    )


def _counterfactual(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    its = results["its"]
    blocks: list[Block] = [
        Para(
            "Each chart shows one outcome at each site that introduced the service. The solid line is the "
            "model "
            "fitted to what happened; the dashed line continues the trend from before go-live: what the "
            "model "
            "predicts would have happened without the service. The gap between them, summed over the first "
            f"{its['horizon_months']} months after go-live, is the effect reported in the summary."
        )
    ]
    for s in results["series"]:
        spec = figs.get(f"its_{s['name']}")
        if spec is not None:
            blocks.append(Figure(spec.name, spec.caption, spec.alt))
    return blocks


def _effects(results: dict[str, Any]) -> list[Block]:
    its = results["its"]
    labels = _labels(results)
    conf = f"{results['conf_level'] * 100:g}%"
    rows = []
    for s in results["series"]:
        for f in its["fits"]:
            if f["series"] != s["name"] or not f["primary"]:
                continue
            cu = f.get("cumulative") or {}
            rows.append(
                {
                    "outcome": labels[s["name"]],
                    "site": f["site"],
                    f"change vs trend ({conf} CI)": _rel_ci(
                        cu.get("relative_change"), cu.get("relative_ci_lower"), cu.get("relative_ci_upper")
                    ),
                    f"difference ({conf} CI)": _diff_ci(
                        cu.get("estimate"), cu.get("ci_lower"), cu.get("ci_upper"), s["measure"] == "mean_los"
                    ),
                    "level change": _rr_ci(f.get("level_change") or {}),
                    "slope change per period": _rr_ci(f.get("slope_change") or {}),
                    "status": f["status"],
                }
            )
        c = next((x for x in its["combined"] if x["series"] == s["name"] and x["method_id"] == "m0"), None)
        if c is not None and c.get("status") == "ok":
            rows.append(
                {
                    "outcome": labels[s["name"]],
                    "site": "all combined",
                    f"change vs trend ({conf} CI)": _rel_ci(
                        c.get("relative_change"), c.get("relative_ci_lower"), c.get("relative_ci_upper")
                    ),
                    f"difference ({conf} CI)": _diff_ci(
                        c["estimate"], c["ci_lower"], c["ci_upper"], s["measure"] == "mean_los"
                    ),
                    "level change": "",
                    "slope change per period": "",
                    "status": c["interval"],
                }
            )
    blocks: list[Block] = [
        Para(
            f"Primary method: **{its['methods'][0]['label']}**. 'Change vs trend' is the fitted total over "
            "the first "
            f"{its['horizon_months']} months after go-live divided by the counterfactual total, minus 1, "
            "in the words of the summary (lower or higher than the trend predicted); 'difference' "
            "is fitted minus counterfactual (a total for counts: fewer or more; a mean per period for "
            "means: lower or higher). Level and "
            "slope "
            "changes are rate ratios for counts and ratios of means for gamma (log-link) models of a mean "
            "such as length of stay (the jump at go-live, and the change in the trend per period), and "
            "differences for Gaussian (linear) models."
        ),
        Table(
            pd.DataFrame(rows),
            f"Effects of the service under the primary method ({conf} confidence intervals).",
        ),
    ]
    costs = results.get("costs") or []
    if costs:
        crow = []
        for c in costs:
            crow.append(
                {
                    "outcome": c["series_label"],
                    "unit cost": f"{money_exact(c['value'], c['currency'])} per {c['unit']}",
                    "price year": c["price_year"],
                    "source": c["source"],
                    f"value of the change ({conf} CI)": (
                        "–"
                        if c["estimate"] is None
                        else money_change(c["estimate"], c["ci_lower"], c["ci_upper"], c["currency"])
                    ),
                    "note": c.get("note") or "",
                }
            )
        blocks.append(
            Para(
                "**Costs.** The change, sites combined, valued at the protocol's unit costs (negative: "
                "less spent)."
            )
        )
        blocks.append(Table(pd.DataFrame(crow), "Value of the change at the stated unit costs."))
    return blocks


def _sensitivity(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    its = results["its"]
    labels = _labels(results)
    blocks: list[Block] = [
        Para(
            "The method was chosen before the data were seen; the same data were also analysed with each "
            "pre-specified alternative. If the conclusion holds under all of them, it does not hinge on one "
            "modelling choice (Turner et al. 2021 found that methods disagreed about significance in 4–25% "
            "of "
            "published series)."
        ),
        Bullets(
            tuple(
                f"**{m['label']}**"
                + (" (primary)" if m["primary"] else "")
                + f": {_describe_method(m['options'])}"
                for m in its["methods"]
            )
        ),
    ]
    spec = figs.get("sensitivity")
    if spec is not None:
        blocks.append(Figure(spec.name, spec.caption, spec.alt))
    rows = []
    conf = f"{results['conf_level'] * 100:g}%"
    for c in its["combined"]:
        rows.append(
            {
                "outcome": labels[c["series"]],
                "method": c["method"],
                f"change vs trend ({conf} CI)": _rel_ci(
                    c.get("relative_change"), c.get("relative_ci_lower"), c.get("relative_ci_upper")
                ),
                f"difference ({conf} CI)": _diff_ci(
                    c.get("estimate"), c.get("ci_lower"), c.get("ci_upper"), _is_mean(results, c["series"])
                ),
                "note": c.get("message") or c.get("interval", ""),
            }
        )
    blocks.append(Table(pd.DataFrame(rows), "Every method, sites combined."))
    stag = [
        {
            "outcome": labels[c["series"]],
            "method": c["method"],
            f"change vs trend ({conf} CI)": _rel_ci(
                c.get("relative_change"), c.get("relative_ci_lower"), c.get("relative_ci_upper")
            ),
            f"difference ({conf} CI)": _diff_ci(
                c.get("estimate"), c.get("ci_lower"), c.get("ci_upper"), _is_mean(results, c["series"])
            ),
            "note": c.get("message") or c.get("interval", ""),
        }
        for c in its.get("staggered", [])
    ]
    if stag:
        blocks.append(
            Table(
                pd.DataFrame(stag),
                "Every method, one staggered model: the intervention sites (each at its own go-live) and the "
                "control sites fitted together; each site summed over its own horizon.",
            )
        )
    return blocks


_CHECK_NAMES = {
    "original": "primary analysis",
    "in_time_placebo": "in-time placebo",
    "in_space_placebo": "in-space placebo",
    "leave_one_out": "leave one site out",
}


def _robustness(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    rob = results["its"]["robustness"]
    st = rob.get("settings") or {}
    labels = _labels(results)
    conf = f"{results['conf_level'] * 100:g}%"
    what = []
    if st.get("in_time"):
        what.append(
            "an **in-time placebo**: a fake go-live in the middle of each site's pre-implementation period"
            if not st.get("placebo_dates")
            else "an **in-time placebo** at the protocol's placebo dates"
        )
    if st.get("in_space"):
        what.append("an **in-space placebo**: each control site analysed as if it had gone live")
    if st.get("leave_one_out"):
        what.append("**leave one site out**: the combined estimate without each intervention site in turn")
    blocks: list[Block] = [
        Para(
            "The primary analysis was repeated where no effect should appear: "
            + "; ".join(what)
            + ". Placebo analyses use the primary method; an in-time placebo is fitted to the "
            "pre-implementation data only. A placebo interval that excludes no change is a warning sign (a "
            "break before go-live, a shared shock, or a model that does not fit)."
        )
    ]
    spec = figs.get("robustness")
    if spec is not None:
        blocks.append(Figure(spec.name, spec.caption, spec.alt))
    rows = []
    for r in rob.get("checks") or []:
        if r.get("term") not in (None, "level_change", "diff_level_change", "cumulative_effect"):
            continue  # slope terms are in results.json; the table shows the level change
        if r.get("check") == "leave_one_out":
            value = _rel_ci(r.get("relative_change"), r.get("relative_ci_lower"), r.get("relative_ci_upper"))
            quantity = "change vs trend over the horizon, sites combined"
        elif r.get("term") is None:
            value, quantity = "–", "–"
        else:
            value = (
                _rr_ci(r)
                if "rate_ratio" in r and r.get("rate_ratio") is not None
                else _num_ci(r.get("estimate"), r.get("ci_lower"), r.get("ci_upper"), 2)
            )
            quantity = "level change" + (" (rate ratio)" if r.get("rate_ratio") is not None else "")
        flag = (
            "yes"
            if r.get("significant") and r.get("check") in ("in_time_placebo", "in_space_placebo")
            else ""
        )
        rows.append(
            {
                "outcome": labels.get(r["series"], r["series"]),
                "site": r.get("site") or "all",
                "check": _CHECK_NAMES.get(r.get("check"), r.get("check")),
                "analysis": r.get("label"),
                "quantity": quantity,
                f"estimate ({conf} CI)": value,
                "warning sign": flag,
                "note": r.get("note") or "" if r.get("status") != "ok" else "",
            }
        )
    if rows:
        blocks.append(Table(pd.DataFrame(rows), "Placebo and robustness checks of the primary analysis."))
    else:
        blocks.append(Para("No check could be run (the primary analysis was not fitted)."))
    return blocks


def _describe_method(o: dict[str, Any]) -> str:
    fam = {
        "gaussian": "linear (Gaussian)",
        "poisson": "Poisson",
        "quasipoisson": "quasi-Poisson",
        "negbin": "negative binomial",
        "gamma": "gamma (log link)",
    }[o["family"]]
    parts = [f"{fam} segmented regression"]
    if o["method"] is None:
        parts.append(
            "the toolkit's default method for the family: GLS with AR(1) errors by REML and intervals "
            "calibrated by simulation to cover at the nominal level for autocorrelation up to 0.6 "
            "(quasi-likelihood GLS for counts; the GLM for gamma and negative binomial series)"
        )
    elif o.get("ci_method") == "calibrated":
        parts.append(f"errors modelled by {o['method']} (AR order 1) with simulation-calibrated intervals")
    elif o["method"] != "ols":
        orders = f"AR order {o['ar_order']}" + (f", MA order {o['ma_order']}" if o.get("ma_order") else "")
        parts.append(f"errors modelled by {o['method']} ({orders})")
    if o["se_type"] == "newey-west":
        parts.append(f"Newey–West standard errors with {o['lags']} lag(s)")
    if o.get("seasonality") is None:
        parts.append("no seasonal terms")
    elif o["seasonality"] == "month":
        parts.append("calendar-month terms")
    else:
        parts.append(f"{o['seasonality']} Fourier pair(s) for seasonality")
    parts.append(f"{o['effect']} change")
    if o.get("transition"):
        parts.append(f"{o['transition']}-period phase-in ({o['transition_shape']})")
    parts.append("control series from the control site(s)" if o.get("controlled") else "no control series")
    if o.get("offset"):
        parts.append("population offset (rates)")
    return "; ".join(parts)


def _table(
    records: list[dict[str, Any]], columns: dict[str, str], formats: dict[str, Any] | None = None
) -> pd.DataFrame:
    formats = formats or {}
    rows = []
    for r in records:
        row = {}
        for key, title in columns.items():
            v = r.get(key)
            fmt = formats.get(key)
            row[title] = (
                fmt(v, r)
                if fmt
                else ("–" if v is None else (str(v) if not isinstance(v, float) else fmt_num(v, 2)))
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(columns.values()))


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cohort(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    c = results["cohort"]
    st = c["settings"]
    conf = f"{results['conf_level'] * 100:g}%"
    blocks: list[Block] = [
        Para(f"**Who.** {c['description']}"),
        Para(
            f"Each person's hospital use in the {st['before_months']} months before the index date is "
            "compared with "
            f"the {st['after_months']} months after it (the index day counts {st['index_day']}). "
            + (
                "People selected the same way at the control site(s) form the comparison cohort: their "
                "change "
                "estimates regression to the mean and background change, and the difference-in-differences "
                "(ratio "
                "of rate ratios) estimates the change associated with the service."
                if st["comparison"] == "control_sites"
                else "There is no comparison cohort."
            )
        ),
        Bullets(tuple(f"**{_upper_first(cohort_label(o))}**: {t}" for o, t in c["statements"].items())),
    ]
    left = [x for x in c.get("exclusions") or [] if x.get("patients") not in (0, None)]
    if left:
        high = results["suppression"].get("high")

        def people(n: Any) -> str:
            if n == "*" and high is not None:
                return f"fewer than {high + 1} patients"
            return f"{n:,} patients" if isinstance(n, int) else f"{n} patients"

        prefix = "excluded from the before/after analysis: "
        blocks.append(
            Para(
                "**Left out of the before/after analysis** (also listed in the data-quality appendix): "
                + "; ".join(f"{people(x['patients'])}, {x['action'].removeprefix(prefix)}" for x in left)
                + "."
            )
        )
    spec = figs.get("cohort_rates")
    if spec is not None:
        blocks.append(Figure(spec.name, spec.caption, spec.alt))
    if c["did"]:
        terms = {
            "rate_ratio_treated": "rate ratio, intervention cohort",
            "rate_ratio_comparison": "rate ratio, comparison cohort",
            "ratio_of_rate_ratios": "ratio of rate ratios (service effect)",
            "difference_in_mean_change": "difference in mean change per person-year",
        }
        rows = [r for r in c["did"] if r["term"] in terms]
        blocks.append(
            Table(
                _table(
                    rows,
                    {
                        "outcome": "outcome",
                        "term": "estimate",
                        "estimate": "value",
                        "p_adjusted": "p (Holm)",
                        "n": "patients",
                    },
                    {
                        "outcome": lambda v, r: cohort_label(v),
                        "term": lambda v, r: terms[v],
                        "estimate": lambda v, r: (
                            _num_ci(v, r.get("ci_lower"), r.get("ci_upper"), 2) + f" ({conf} CI)"
                        ),
                        "p_adjusted": lambda v, r: fmt_p(v) if v is not None else fmt_p(r.get("p_value")),
                        "n": lambda v, r: _count(v),
                    },
                ),
                "Before/after change in each cohort and the difference-in-differences.",
            )
        )
    blocks.append(
        Table(
            _table(
                c["windows"],
                {
                    "group": "cohort",
                    "window": "window",
                    "patients": "patients",
                    "person_years": "person-years",
                }
                | {o: cohort_label(o) for o in st["outcomes"]}
                | {f"{o}_per_person_year": f"{cohort_label(o)} per person-year" for o in st["outcomes"]},
                {"patients": lambda v, r: _count(v), "person_years": lambda v, r: _count(v)}
                | {o: (lambda v, r: _count(v)) for o in st["outcomes"]},
            ),
            "Events and person-years by cohort and window (published counts; person-years rounded like "
            "counts; rates from the published figures).",
        )
    )
    return blocks


def _measures(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    om = results["outcome_measures"]
    st = om["settings"]
    facts = {f["outcome"]: f for f in om["instruments"]}
    conf = f"{results['conf_level'] * 100:g}%"
    name = {k: v["label"].split(" (")[0] for k, v in facts.items()}
    who = "staff" if st["source"] == "staff_survey" else "people"
    blocks: list[Block] = [
        Para(
            f"Scores at **{st['pre']}** are compared with **{st['post']}** among {who} with a valid score "
            "on both "
            f"occasions (complete cases), with Holm-adjusted p-values across measures ({st['p_adjust']}). "
            "Attrition tables show who was left out and whether it matters."
        ),
        Table(
            _table(
                om["analysed"],
                {
                    "outcome": "measure",
                    "n_started": "started",
                    "n_valid_pre": f"valid {st['pre']}",
                    "n_valid_post": f"valid {st['post']}",
                    "n_analysed": "both (analysed)",
                    "proportion_analysed": "% analysed",
                },
                {
                    "outcome": lambda v, r: name[v],
                    "n_started": lambda v, r: _count(v),
                    "n_valid_pre": lambda v, r: _count(v),
                    "n_valid_post": lambda v, r: _count(v),
                    "n_analysed": lambda v, r: _count(v),
                    "proportion_analysed": lambda v, r: _pct(v),
                },
            ),
            "Who was analysed (published counts).",
        ),
    ]
    paired = {}
    for r in om["paired"]:
        paired.setdefault(r["outcome"], {})[r["term"]] = r
    rows = []
    for o, t in paired.items():
        mc = t.get("mean_change", {})
        rows.append(
            {
                "measure": name[o],
                "better is": "lower" if facts[o]["direction"] == "higher_is_worse" else "higher",
                f"mean {st['pre']}": fmt_num(t.get("mean_pre", {}).get("estimate"), 1),
                f"mean {st['post']}": fmt_num(t.get("mean_post", {}).get("estimate"), 1),
                f"mean score, {st['post']} against {st['pre']} ({conf} CI)": _diff_ci(
                    mc.get("estimate"), mc.get("ci_lower"), mc.get("ci_upper"), True
                ),
                "p (Holm)": fmt_p(mc.get("p_adjusted"))
                if mc.get("p_adjusted") is not None
                else fmt_p(mc.get("p_value")),
                "d_z": _num_ci(
                    t.get("d_z", {}).get("estimate"),
                    t.get("d_z", {}).get("ci_lower"),
                    t.get("d_z", {}).get("ci_upper"),
                    2,
                ),
                "g_av": _num_ci(
                    t.get("g_av", {}).get("estimate"),
                    t.get("g_av", {}).get("ci_lower"),
                    t.get("g_av", {}).get("ci_upper"),
                    2,
                ),
                "n": _count(mc.get("n")),
            }
        )
    blocks.append(
        Table(
            pd.DataFrame(rows),
            "Paired change among complete cases (effect sizes are negative when the mean score fell).",
        )
    )
    spec = figs.get("measures_change")
    if spec is not None:
        blocks.append(Figure(spec.name, spec.caption, spec.alt))
    if om.get("reliable_change"):
        rc = pd.DataFrame(om["reliable_change"])
        rows = []
        for o, g in rc.groupby("outcome", sort=False):
            cat = {r.category: r for r in g.itertuples(index=False)}
            row = {"measure": name[o]}
            for c in ("recovered", "improved", "unchanged", "deteriorated"):
                r = cat.get(c)
                row[c] = "–" if r is None else f"{_count(r.n)} ({_percent_text(r.percent)})"
            first = g.iloc[0]
            row["reliable change ≥"] = fmt_num(first["rc_threshold"], 2)
            row["cut-off"] = (
                "–" if first["cutoff"] is None or pd.isna(first["cutoff"]) else fmt_num(first["cutoff"], 2)
            )
            row["criterion"] = first["criterion"]
            rows.append(row)
        blocks.append(
            Para(
                "**Reliable and clinically significant change** (Jacobson & Truax 1991): recovered = "
                "reliable improvement and crossing the clinical cut-off; improved = reliable improvement "
                "only."
            )
        )
        blocks.append(
            Table(
                pd.DataFrame(rows),
                "Jacobson–Truax categories: published counts (percentages of people classified).",
            )
        )
        spec = figs.get("measures_reliable_change")
        if spec is not None:
            blocks.append(Figure(spec.name, spec.caption, spec.alt))
    if om.get("talking_therapies"):
        blocks.append(
            Para(
                "**NHS Talking Therapies outcomes** (PHQ-9 with GAD-7; caseness PHQ-9 ≥ 10 or GAD-7 ≥ 8; "
                "reliable change 6 and 4 points)."
            )
        )
        blocks.append(
            Table(
                _table(
                    om["talking_therapies"],
                    {
                        "indicator": "indicator",
                        "numerator": "number",
                        "denominator": "out of",
                        "proportion": f"rate ({conf} CI)",
                        "denominator_definition": "denominator",
                    },
                    {
                        "indicator": lambda v, r: v.replace("_", " "),
                        "numerator": lambda v, r: _count(v),
                        "denominator": lambda v, r: _count(v),
                        "proportion": lambda v, r: (
                            "–"
                            if v is None
                            else f"{v * 100:.0f}% ({r['ci_lower'] * 100:.0f}% to {r['ci_upper'] * 100:.0f}%)"
                        ),
                    },
                ),
                "NHS Talking Therapies indicators (rates from the published counts).",
            )
        )
    traj = om.get("trajectories")
    if traj:
        spec = figs.get("measures_trajectories")
        blocks.append(
            Para(
                "**Trajectories.** A linear mixed model per measure uses every available score, so people "
                "who left early still count until they left (valid if drop-out depends on what was observed)."
            )
        )
        if spec is not None:
            blocks.append(Figure(spec.name, spec.caption, spec.alt))
        blocks.append(
            Table(
                _table(
                    [r for r in traj["estimates"] if r["term"] != "mean_at_start"],
                    {
                        "outcome": "measure",
                        "term": "estimate",
                        "estimate": f"value ({conf} CI)",
                        "p_adjusted": "p (Holm)",
                        "n": "people",
                    },
                    {
                        "outcome": lambda v, r: name[v],
                        "term": lambda v, r: v.replace("_", " "),
                        "estimate": lambda v, r: _num_ci(v, r.get("ci_lower"), r.get("ci_upper"), 2),
                        "p_adjusted": lambda v, r: fmt_p(v) if v is not None else fmt_p(r.get("p_value")),
                        "n": lambda v, r: _count(v),
                    },
                ),
                "Mixed-model change per time unit and by the end.",
            )
        )
    if om.get("attrition"):
        blocks.append(
            Para(
                "**Attrition.** Baseline scores of people who completed and people who left early; a "
                "standardised difference of 0.2 or more means the complete cases are not typical of everyone "
                "who started."
            )
        )
        blocks.append(
            Table(
                _table(
                    om["attrition"],
                    {
                        "outcome": "measure",
                        "n_completers": "completers",
                        "n_dropouts": "left early",
                        "mean_completers": "mean (completers)",
                        "mean_dropouts": "mean (left early)",
                        "estimate": f"difference ({conf} CI)",
                        "smd": "standardised difference",
                    },
                    {
                        "outcome": lambda v, r: name[v],
                        "n_completers": lambda v, r: _count(v),
                        "n_dropouts": lambda v, r: _count(v),
                        "mean_completers": lambda v, r: fmt_num(v, 1),
                        "mean_dropouts": lambda v, r: fmt_num(v, 1),
                        "estimate": lambda v, r: _num_ci(v, r.get("ci_lower"), r.get("ci_upper"), 1),
                        "smd": lambda v, r: fmt_num(v, 2),
                    },
                ),
                "Completers vs people who left early, at baseline.",
            )
        )
        terms = {
            "complete_case": "complete cases",
            "all_available_naive": "all available (naive; biased)",
            "mixed_model": "mixed model (all scores)",
        }
        blocks.append(
            Table(
                _table(
                    om["complete_vs_available"],
                    {
                        "outcome": "measure",
                        "term": "approach",
                        "estimate": f"mean score, {st['post']} against {st['pre']} ({conf} CI)",
                        "n": "people",
                    },
                    {
                        "outcome": lambda v, r: name[v],
                        "term": lambda v, r: terms.get(v, v),
                        "estimate": lambda v, r: (
                            "–"
                            if v is None or r.get("ci_lower") is None
                            else difference_phrase(
                                v, r["ci_lower"], r["ci_upper"], 2, more="higher", fewer="lower"
                            )
                        ),
                        "n": lambda v, r: _count(v),
                    },
                ),
                "The same change three ways: agreement means attrition did not distort the complete-case "
                "result.",
            )
        )
    if om.get("internal_consistency"):
        blocks.append(
            Table(
                _table(
                    om["internal_consistency"],
                    {
                        "outcome": "measure",
                        "estimate": f"Cronbach's alpha ({conf} CI)",
                        "n_items": "items",
                        "n": "complete forms",
                    },
                    {
                        "outcome": lambda v, r: name[v],
                        "estimate": lambda v, r: _num_ci(v, r.get("ci_lower"), r.get("ci_upper"), 2),
                        "n_items": lambda v, r: str(v),
                        "n": lambda v, r: _count(v),
                    },
                ),
                f"Internal consistency at {st['pre']}.",
            )
        )
    if om.get("notes"):
        blocks.append(Bullets(tuple(om["notes"])))
    return blocks


def _rating_blocks(title: str, c: dict[str, Any]) -> list[Block]:
    """A certainty rating: its level and starting level, then the domains with their reasons."""
    return [
        Para(f"**{title}: {c['rating']} certainty.** Starting level {c['start']} ({c['start_reason']})."),
        Table(
            pd.DataFrame(
                [
                    {
                        "domain": d["domain"],
                        "serious concern": "yes: one level down" if d["serious"] else "no",
                        "reason": d["reason"],
                    }
                    for d in c["domains"]
                ]
            ),
            f"How the rating of {title} was reached.",
        ),
    ]


_BEFORE_AFTER_RULES = (
    "Each primary outcome measure gets a plain-language **certainty rating** (high, moderate, low, very "
    "low), reached by fixed rules adapted from GRADE: a comparison of scores before and after without a "
    "comparison group starts low (there is no counterfactual), and each domain with a serious concern "
    "lowers it by one level (never below very low): regression to the mean (the group's mean first score "
    "at or beyond the instrument's clinical cut-off), attrition (more than {missing} of those who started "
    "without a score on both occasions), imprecision (the interval includes no change or the instrument's "
    "reliable-change threshold) and inconsistency (the mixed model using every score, or the sites, "
    "disagree). It is a transparent rule, not a formal GRADE assessment; the rules are in the book's guide."
)


def _certainty_before_after(results: dict[str, Any]) -> list[Block]:
    syn = results.get("synthesis") or {}
    blocks: list[Block] = []
    missing = f"{float(results['protocol'].get('report', {}).get('max_missing_fraction', 0.2)) * 100:g}%"
    measures = syn.get("measure_findings") or []
    if measures:
        blocks.append(Para(_BEFORE_AFTER_RULES.format(missing=missing)))
        for f in measures:
            blocks += _rating_blocks(f["label"], f["certainty"])
            h = f.get("heterogeneity")
            if h and f.get("sites"):
                by = "; ".join(
                    f"{x['site']} "
                    + difference_phrase(
                        x["estimate"], x["ci_lower"], x["ci_upper"], 1, more="higher", fewer="lower"
                    )
                    for x in f["sites"]
                    if x.get("ci_lower") is not None
                )
                st = results["outcome_measures"]["settings"]
                blocks.append(
                    Para(
                        f"Mean score by site, {st['post']} against {st['pre']} (points, "
                        f"{results['conf_level'] * 100:g}% CI): {by}. {h['text']}"
                    )
                )
    cohort = syn.get("cohort_findings") or []
    if cohort:
        blocks.append(
            Para(
                "**People selected at a crisis.** The same rules for the cohort's before-and-after "
                "comparison: with a comparison cohort selected the same way (difference-in-differences) it "
                "starts moderate, without one low; down one level for regression to the mean (no comparison "
                f"cohort), attrition (more than {missing} of cohort patients left out) and imprecision (the "
                "interval of the ratio includes 1)."
            )
        )
        for f in cohort:
            blocks += _rating_blocks(_upper_first(cohort_label(f["outcome"])), f["certainty"])
    return blocks


def _certainty(results: dict[str, Any], figs: dict[str, FigureSpec]) -> list[Block]:
    syn = results.get("synthesis") or {}
    if not syn.get("findings"):
        return _certainty_before_after(results)
    labels = _labels(results)
    blocks: list[Block] = [
        Para(
            "Each primary outcome gets a plain-language **certainty rating** (high, moderate, low, very "
            "low), reached by fixed rules adapted from GRADE and the Cochrane EPOC risk-of-bias items for "
            "interrupted time series: the design sets the starting level (a controlled series with at "
            "least 8 points before and after starts high; an uncontrolled one moderate; fewer points low), "
            "and each domain with a serious concern lowers it by one level. It is a transparent rule, not "
            "a formal GRADE assessment; the rules are in the book's guide."
        )
    ]
    for f in syn.get("findings") or []:
        blocks += _rating_blocks(labels.get(f["series"], f["label"]), f["certainty"])
        h = f.get("heterogeneity")
        if h:
            blocks.append(Para(h["text"]))
        spec = figs.get(f"forest_{f['series']}")
        if spec is not None:
            blocks.append(Figure(spec.name, spec.caption, spec.alt))
    first = (syn.get("findings") or [None])[0]
    if first is not None:
        blocks.append(
            Table(
                pd.DataFrame(
                    [
                        {"EPOC item": e["question"], "risk of bias": e["risk"], "why": e["reason"]}
                        for e in first["certainty"]["epoc"]
                    ]
                ),
                "Risk of bias of the interrupted time series (Cochrane EPOC items), answered from the "
                "protocol and the data (the same for every outcome except the last item).",
            )
        )
    m = syn.get("multiplicity")
    if m:
        conf = results["conf_level"]
        holm = "; ".join(
            f"{labels.get(r['outcome'], r['outcome'])} p = {r['p_value']:.3f} (Holm {r['p_holm']:.3f})"
            for r in m["confirmatory"]
            if r.get("p_value") is not None and r.get("p_holm") is not None
        )
        blocks.append(
            Para(
                f"**Multiplicity.** The confirmatory estimates are the {m['n_confirmatory']} primary "
                "outcome(s) under the primary method, sites combined"
                + (f" (Monte-Carlo p-values, Holm-adjusted across them: {holm})" if holm else "")
                + f". The report gives {m['n_other']} further estimates (each site, each sensitivity "
                "analysis, secondary outcomes, placebo checks): they describe and test the confirmatory "
                f"ones and are not adjusted. At {conf * 100:g}% confidence about "
                f"{m['expected_false_positives']:g} of them would exclude no change by chance alone even "
                "if nothing had changed."
            )
        )
    return blocks + _certainty_before_after(results)


def _diagnostics(results: dict[str, Any]) -> list[Block]:
    labels = _labels(results)
    checks = (results.get("synthesis") or {}).get("model_checks") or []
    rows = []
    for c in checks:
        m = c.get("measured")
        if isinstance(m, float) and c["check"] == "residual_autocorrelation":
            m = fmt_p(m).removeprefix("p = ")
        elif isinstance(m, float):
            m = str(int(m)) if m.is_integer() else fmt_num(m, 2)
        elif m is None:
            m = "–"
        rows.append(
            {
                "outcome": labels.get(c["series"], c["series"]),
                "site": c["site"],
                "check": c["label"],
                "measured": str(m),
                "flag when": c["threshold"],
                "flagged": "yes" if c["flagged"] else "no",
            }
        )
    return [
        Para(
            "Checks of the primary model at each site, with the thresholds that flag them; a flagged check "
            "appears in the limitations and lowers the certainty rating (model checks). Points per segment: "
            "the Cochrane EPOC minimum is 3 before and after, 8 or more are recommended. Residual "
            "autocorrelation: the smallest p-value of the Breusch–Godfrey and Ljung–Box tests on the "
            "model's residuals (normalised residuals for AR error models: what the AR model leaves)."
        ),
        Table(pd.DataFrame(rows), "Checks of the primary model."),
    ]


def _limitations(results: dict[str, Any]) -> list[Block]:
    lim = results.get("limitations") or []
    if not lim:
        return [
            Para("No limitation was flagged automatically. The design's general limitations still apply.")
        ]
    return [
        Para("Flagged automatically from the data, the models and the protocol:"),
        Bullets(tuple(f"**{x['title']}.** {x['text']}" for x in lim)),
    ]


def _methods(results: dict[str, Any]) -> list[Block]:
    p = results["protocol"]
    iv = results["intervention"]
    tidier = [
        ("1. Brief name", "brief_name"),
        ("2. Why", "why"),
        ("3. What: materials", "what_materials"),
        ("4. What: procedures", "what_procedures"),
        ("5. Who provided", "who_provided"),
        ("6. How", "how"),
        ("7. Where", "where"),
        ("8. When and how much", "when_and_how_much"),
        ("9. Tailoring", "tailoring"),
        ("10. Modifications", "modifications"),
        ("11. How well: planned", "how_well_planned"),
        ("12. How well: actual", "how_well_actual"),
    ]
    blocks: list[Block] = [
        Para("**The service, described with the TIDieR checklist.**"),
        Table(
            pd.DataFrame([{"TIDieR item": t, "description": iv.get(k) or "not reported"} for t, k in tidier]),
            "Intervention description (TIDieR, Hoffmann et al. 2014).",
        ),
    ]
    items = [
        f"Protocol '{p['name']}' version {p['version']}"
        + (f" (file {p['file']}, SHA-256 {p['sha256'][:12]}…)" if p.get("sha256") else "")
        + (f", registered as {p['registration']}" if p.get("registration") else ", not registered"),
        f"Random seed {p['seed']} (recorded for reproducibility).",
    ]
    w = results.get("window")
    if w:
        items.append(f"Observation window {w['start']} to {w['extract_date']} (extract date; not included).")
    if results.get("its"):
        d = p["design"]
        items.append(
            "Interrupted time series at each intervention site, interrupted at its go-live month; "
            "transition "
            f"{d['transition']} period(s) ({d['transition_shape']}); effects summed over the first "
            f"{results['its']['horizon_months']} months after go-live. Every derived figure of an outcome "
            "and method (each site's relative and absolute change, the sites combined, leave-one-site-out "
            "figures and costs) comes from one set of "
            f"{(results['its'].get('draws') or {}).get('n_draws', 10_000):,} draws of the site fits' "
            "coefficients (seed "
            f"{(results['its'].get('draws') or {}).get('seed', p.get('seed'))}), so they agree on direction "
            "and on whether they exclude no change; intervals are percentile intervals of the draws and "
            "p-values Monte-Carlo p-values. Sites are combined by adding fitted and counterfactual totals in "
            "every draw, with the sites drawn jointly: sites that share a control series are correlated as "
            "their estimates are. How far the sites differ is summarised by a random-effects model of the "
            "sites' log ratios (REML; τ², I² and a prediction interval for a new site)."
        )
        for e in d.get("exclude_periods") or []:
            items.append(
                f"Periods from {e['start']} to {e['end']} (each period starting in that range) were left "
                f"out of every time-series fit, as pre-specified: {_sentence(e['reason'])} They are shaded "
                "on the charts."
            )
        for sh in d.get("level_shifts") or []:
            span = f"from {sh['start']} to {sh['end']}" if sh.get("end") else f"from {sh['start']} on"
            items.append(
                f"A level-shift term (shift_{sh['name']}) {span} was added to every time-series fit, as "
                f"pre-specified: {_sentence(sh['reason'])} It adjusts the trend; it is not counted as an "
                "effect."
            )
        if d.get("staggered"):
            items.append(
                "Also pre-specified: one staggered controlled model of all intervention sites (each "
                "interrupted at its own go-live) and the control sites, with common terms at each go-live "
                "date for changes shared by all sites; its combined estimate is reported beside the "
                "per-site fits."
            )
        for s in results["series"]:
            what = {
                "count": "events counted",
                "bed_days": "occupied bed-days (midnights)",
                "mean_los": "mean length of stay of spells discharged",
            }[s["measure"]]
            items.append(
                f"Series '{s['label']}': {what} from the {s['source']} extract"
                + (", people with a personality-disorder flag only" if s["pd_only"] else "")
                + (
                    f", rows where {', '.join(f'{k} = {v}' for k, v in s['where'].items())}"
                    if s["where"]
                    else ""
                )
                + "; "
                + {
                    "MS": "monthly",
                    "W-MON": "weekly (weeks starting on Monday; a partial first or last week "
                    "is left out of the fits)",
                }.get(s["frequency"], "quarterly")
                + (f"; rates per {s['per']:,} population (log population offset)" if s["denominator"] else "")
                + "."
            )
    if results.get("costs"):
        for c in results["costs"]:
            items.append(
                f"Unit cost for {lower_first(c['series_label'])}: {money_exact(c['value'], c['currency'])} "
                f"per {c['unit']}, {c['price_year']} prices; source: {c['source']}."
            )
    sup = results["suppression"]
    source = sup.get("source")
    items.append(
        f"Output checking (policy {sup['rule']}): {sup['description']}"
        + (f" Source: {source['title']} ({source['url']})." if source else "")
    )
    blocks.append(Para("**Design and analysis.**"))
    blocks.append(Bullets(tuple(items)))
    return blocks


def _fired(row: dict[str, Any]) -> bool:
    """A data-quality rule that found something (rows affected, published as a count or ``*``)."""
    return row["rule"] != "rows_read" and row["n_rows"] not in (None, 0)


def _data_quality(results: dict[str, Any]) -> list[Block]:
    inputs = results["data"]["inputs"]
    q = results["data"]["quality"]
    fired = [r for r in q if _fired(r)]
    clean = [r for r in q if r["rule"] != "rows_read" and r["n_rows"] == 0]
    unchecked = [r for r in q if r["rule"] != "rows_read" and r["n_rows"] is None]
    not_checked = ", ".join(sorted({f"{r['extract']} {r['rule']}" for r in unchecked}))
    total = (
        f"Checked, nothing found: {len(clean)} rule{'s' if len(clean) != 1 else ''}"
        + (
            f"; not checked (the column is not in the extract): {len(unchecked)} ({not_checked})"
            if unchecked
            else ""
        )
        + ". Every rule, with its counts, is listed in tables/data_quality.csv and results.json."
    )
    blocks: list[Block] = [
        Para(
            "Every extract was validated and cleaned by documented rules applied in a fixed order; nothing "
            "was dropped silently. Counts here are published counts. The table lists the rules that found "
            "something; the line below it counts the rules that were checked and found nothing."
        ),
        Table(
            _table(
                inputs,
                {
                    "kind": "extract",
                    "file": "file",
                    "rows_read": "rows read",
                    "rows_excluded": "excluded",
                    "rows_kept": "kept",
                    "sha256": "SHA-256",
                },
                {k: (lambda v, r: _count(v)) for k in ("rows_read", "rows_excluded", "rows_kept")}
                | {"sha256": lambda v, r: f"{v[:12]}…"},
            ),
            "Extracts read.",
        ),
    ]
    if fired:
        blocks.append(
            Table(
                _table(
                    fired,
                    {
                        "extract": "extract",
                        "rule": "rule",
                        "column": "column",
                        "n_rows": "rows",
                        "n_excluded": "excluded",
                        "action": "action",
                    },
                    {
                        "n_rows": lambda v, r: _count(v),
                        "n_excluded": lambda v, r: _count(v),
                    },
                ),
                "Data-quality rules that found something: rows affected and the action taken.",
            )
        )
    else:
        blocks.append(Para("No data-quality rule found anything."))
    blocks.append(Para(f"**{total}**"))
    return [*blocks, *_series_checks(results)]


def _warmup_text(results: dict[str, Any]) -> str:
    """How the bed-day warm-up was handled: the number of months (from the length-of-stay distribution)."""
    warm = (results.get("its") or {}).get("bed_day_warmup") or {}
    periods = {k: v for k, v in (warm.get("periods") or {}).items() if v}
    labels = _labels(results)
    counts = "; ".join(f"{labels.get(k, k)}: the first {v} months" for k, v in periods.items())
    how = "the number of months is where the share of bed-days expected missing, from the length-of-stay "
    how += f"distribution of the spells admitted in the window, falls below {WARMUP_THRESHOLD:.0%}"
    if warm.get("excluded") is False:
        return f"those months are KEPT in the fits, as the protocol asks; {how}" + (
            f": {counts}" if counts else ""
        )
    return f"those months are left out of the fits; {how}" + (f": {counts}" if counts else "")


SERIES_CHECK_LABELS: dict[str, str] = {
    "abnormal_count": "month far from its neighbours",
    "partial_period": "period only partly inside the window",
    "partial_first_period": "first period only partly covered",
    "partial_last_period": "last period only partly covered",
    "bed_day_warmup": "bed-day warm-up months",
    "all_zero": "no events",
    "mostly_missing": "mostly missing",
    "before_data_start": "empty months before the data start",
    "after_data_end": "empty months after the data end",
    "no_data_gap": "a run of empty months",
}
"""Words for the series checks' ids (the ids stay in results.json and the CSV tables)."""


def _series_checks(results: dict[str, Any]) -> list[Block]:
    if not results.get("series"):
        return []
    checks = (results.get("data") or {}).get("series_checks") or []
    intro = (
        "**Checks on the series before modelling.** Every outcome series was checked for months far from "
        "their neighbours (a likely gap in the extract, or duplicated records), for first or last periods "
        "that are only partly covered by the data, and, for occupied bed-days, for the warm-up months whose "
        "bed-days are too low because spells admitted before the window are not in the extract ("
        + _warmup_text(results)
        + "). A series with no events, mostly missing, or with empty months "
        "before the data start or after the data end would have stopped the analysis."
    )
    if not checks:
        return [Para(intro + " Nothing was found.")]
    return [
        Para(intro),
        Table(
            _table(
                checks,
                {
                    "series": "series",
                    "site": "site",
                    "period": "from",
                    "check": "check",
                    "message": "finding",
                },
                {
                    "series": lambda v, r: _labels(results).get(v, v),
                    "site": lambda v, r: "all" if v is None else str(v),
                    "period": lambda v, r: v or "–",
                    "check": lambda v, r: SERIES_CHECK_LABELS.get(v, str(v).replace("_", " ")),
                    "message": lambda v, r: str(v).removeprefix(f"series {r['series']}: "),
                },
            ),
            "Checks on the series: what was found and what was done.",
        ),
    ]


_GLOSSARY_INTRO = Para(
    "Short meanings of the technical terms this report uses (in the HTML report, the first use of a term in "
    "each section links here). The evaltoolkit book's glossary (Reference, Glossary) has fuller definitions "
    "and sources."
)


def _texts(sections: list[Section]) -> list[str]:
    """Every piece of prose of these sections (paragraphs, list items, captions, table cells)."""
    out: list[str] = []
    for sec in sections:
        for b in sec.blocks:
            if isinstance(b, Para):
                out.append(b.text)
            elif isinstance(b, Bullets):
                out.extend(b.items)
            elif isinstance(b, Figure):
                out.append(b.caption)
            elif isinstance(b, Table):
                out.append(b.caption)
                out.extend(str(v) for row in b.data.itertuples(index=False) for v in row)
    return out


def build_report(results: dict[str, Any]) -> Report:
    """Build the report of a results dictionary (the content of results.json).

    Raises :class:`~evaltoolkit.disclosure.DisclosureError` when a count in ``results`` is not published
    under the policy named in its ``suppression`` block (:func:`~evaltoolkit.disclosure.assert_published`).
    """
    assert_published(results)
    figs = {f.name: f for f in figure_specs(results)}
    builders = {
        "verdict": lambda: _verdict(results),
        "spc": lambda: _spc(results, figs) if (results.get("spc") or {}).get("charts") else None,
        "worth": lambda: (
            _worth(results, figs)
            if any(c.get("estimate") is not None for c in results.get("costs") or [])
            else (_worth_per_person(results) if results.get("cost_per_person") else None)
        ),
        "summary": lambda: _summary(results),
        "counterfactual": lambda: _counterfactual(results, figs) if results.get("its") else None,
        "effects": lambda: _effects(results) if results.get("its") else None,
        "sensitivity": lambda: _sensitivity(results, figs) if results.get("its") else None,
        "robustness": lambda: (
            _robustness(results, figs) if (results.get("its") or {}).get("robustness") else None
        ),
        "cohort": lambda: _cohort(results, figs) if results.get("cohort") else None,
        "measures": lambda: _measures(results, figs) if results.get("outcome_measures") else None,
        "certainty": lambda: (
            _certainty(results, figs)
            if any(
                (results.get("synthesis") or {}).get(k)
                for k in ("findings", "measure_findings", "cohort_findings")
            )
            else None
        ),
        "diagnostics": lambda: _diagnostics(results) if results.get("its") else None,
        "limitations": lambda: _limitations(results),
        "methods": lambda: _methods(results),
        "data_quality": lambda: _data_quality(results),
    }
    sections = []
    for id_, title in SECTIONS:
        if id_ == "glossary":
            terms = find_terms(_texts(sections))
            if terms:
                sections.append(Section(id_, title, [_GLOSSARY_INTRO, Terms(tuple(terms))]))
            continue
        blocks = builders[id_]()
        if blocks is not None:
            sections.append(Section(id_, title, blocks))
    p = results["protocol"]
    return Report(
        title=p["title"],
        subtitle=f"Evaluation report for {(p.get('report') or {}).get('audience', 'commissioners')}: "
        f"protocol {p['name']} v{p['version']}",
        sections=sections,
        figures=figs,
        meta=report_metadata(results),
        data_kind=p.get("data_kind") or "unspecified",
    )


# -- rendering -------------------------------------------------------------------------------------------
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _md_text(text: str) -> str:
    """Escape Markdown-active characters except the ``**bold**`` markers."""
    parts = _BOLD.split(text)
    out = []
    for i, part in enumerate(parts):
        esc = (
            part.replace("\\", "\\\\")
            .replace("*", "\\*")
            .replace("_", "\\_")
            .replace("<", "&lt;")
            .replace("|", "\\|")
        )
        out.append(f"**{esc}**" if i % 2 else esc)
    return "".join(out)


def _md_table(t: Table) -> str:
    cols = list(t.data.columns)
    lines = ["| " + " | ".join(_md_text(str(c)) for c in cols) + " |", "|" + "---|" * len(cols)]
    for row in t.data.itertuples(index=False):
        lines.append("| " + " | ".join(_md_text(str(v)) for v in row) + " |")
    if t.caption:
        lines += ["", f"*{_md_text(t.caption)}*"]
    return "\n".join(lines)


def render_markdown(report: Report, *, figure_dir: str = "figures", figure_ext: str = "svg") -> str:
    """The report as Markdown (figures referenced as ``figure_dir/<name>.<ext>``)."""
    lines = [f"# {_md_text(report.title)}", "", f"*{_md_text(report.subtitle)}*", ""]
    if report.meta:
        lines += [_md_meta(report), ""]
    for s in report.sections:
        lines += [f"## {_md_text(s.title)}", ""]
        for b in s.blocks:
            lines += [_md_block(b, figure_dir, figure_ext), ""]
    return "\n".join(lines).rstrip() + "\n"


def _md_meta(report: Report) -> str:
    """The metadata block (a bullet list; a synthetic or unstated kind of data first, in capitals)."""
    return "\n".join(f"- **{_md_text(k)}:** {_md_text(v)}" for k, v in report.meta)


def _html_meta(report: Report) -> str:
    banner = ""
    if report.data_kind == "synthetic":
        banner = (
            '<p class="banner synthetic" role="note"><strong>SYNTHETIC DATA</strong>: a demonstration on '
            "made-up records. No finding in this report applies to a real service.</p>"
        )
    elif report.data_kind != "real":
        banner = (
            '<p class="banner unstated" role="note"><strong>DATA KIND NOT STATED</strong>: the protocol does '
            "not say whether these data are synthetic or real (data.kind).</p>"
        )
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{_html_text(v)}</dd>" for k, v in report.meta)
    return banner + (f'<dl class="meta">{rows}</dl>' if rows else "")


def _md_block(b: Block, figure_dir: str, ext: str) -> str:
    if isinstance(b, Para):
        return _md_text(b.text)
    if isinstance(b, Bullets):
        return "\n".join(f"- {_md_text(i)}" for i in b.items)
    if isinstance(b, Table):
        return _md_table(b)
    if isinstance(b, Terms):
        return "\n".join(f"- **{_md_text(t)}**: {_md_text(m)}" for t, m in b.items)
    return f"![{_md_text(b.alt or b.caption)}]({figure_dir}/{b.name}.{ext})\n\n*{_md_text(b.caption)}*"


def _html_text(text: str) -> str:
    parts = _BOLD.split(text)
    return "".join(
        f"<strong>{html.escape(p)}</strong>" if i % 2 else html.escape(p) for i, p in enumerate(parts)
    )


def _html_table(t: Table, link: Callable[[str], str] = str) -> str:
    """A table; ``link`` post-processes escaped text (glossary links)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in t.data.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{link(html.escape(str(v)))}</td>" for v in row) + "</tr>"
        for row in t.data.itertuples(index=False)
    )
    cap = f"<caption>{link(_html_text(t.caption))}</caption>" if t.caption else ""
    table = f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="table-wrap">{table}</div>'


def _figure_data(report: Report, name: str, figure_dir: Path | None) -> str:
    if figure_dir is not None and (Path(figure_dir) / f"{name}.svg").exists():
        data = (Path(figure_dir) / f"{name}.svg").read_bytes()
        return "data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii")
    if figure_dir is not None and (Path(figure_dir) / f"{name}.png").exists():
        data = (Path(figure_dir) / f"{name}.png").read_bytes()
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    import io

    with style():
        fig = report.figures[name].draw()
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(report: Report, *, figure_dir: str | Path | None = None) -> str:
    """The report as one standalone HTML page: figures embedded as data URIs, CSS inline, no scripts and no
    external resources (safe to e-mail). Figures are read from ``figure_dir`` (SVG, else PNG) or drawn."""
    parts = []
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in report.sections)
    for s in report.sections:
        parts.append(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>')
        seen: set[str] = set()  # terms linked to the glossary in this section (the first use of each)

        def link(escaped: str, seen: set[str] = seen, on: bool = s.id != "glossary") -> str:
            return link_html(escaped, seen) if on else escaped

        def text(t: str, link: Callable[[str], str] = link) -> str:
            return link(_html_text(t))

        for b in s.blocks:
            if isinstance(b, Para):
                parts.append(f"<p>{text(b.text)}</p>")
            elif isinstance(b, Bullets):
                parts.append("<ul>" + "".join(f"<li>{text(i)}</li>" for i in b.items) + "</ul>")
            elif isinstance(b, Table):
                parts.append(_html_table(b, link))
            elif isinstance(b, Terms):
                parts.append(
                    '<dl class="glossary">'
                    + "".join(
                        f'<dt id="{slug(t)}">{html.escape(t)}</dt><dd>{_html_text(m)}</dd>'
                        for t, m in b.items
                    )
                    + "</dl>"
                )
            else:
                src = _figure_data(report, b.name, Path(figure_dir) if figure_dir is not None else None)
                parts.append(
                    f'<figure><img src="{src}" alt="{html.escape(b.alt or b.caption)}">'
                    f"<figcaption>{text(b.caption)}</figcaption></figure>"
                )
        parts.append("</section>")
    return HTML_PAGE.substitute(
        title=html.escape(report.title),
        meta=_html_meta(report),
        footer_kind={"synthetic": "<strong>Synthetic data.</strong>", "real": "Real data."}.get(
            report.data_kind, "<strong>Kind of data not stated.</strong>"
        ),
        subtitle=_html_text(report.subtitle),
        css=REPORT_CSS,
        toc=toc,
        body="\n".join(parts),
    )


def show_metadata(report: Report) -> None:
    """Display the report's metadata (kind of data, date, authors, protocol, registration, toolkit) in a
    Jupyter notebook, as the generated book pages do under the title."""
    from IPython.display import Markdown, display

    display(Markdown(_md_meta(report)))


def show_section(report: Report, section: str, *, glossary: bool = False) -> None:
    """Display one section in a Jupyter notebook (used by the generated book pages).

    Paragraphs and lists become Markdown, tables DataFrames (index hidden) and figures are drawn with
    matplotlib. A section the report does not have displays nothing. With ``glossary=True`` the first use
    of each technical term in the section becomes a MyST ``{term}`` role linking to the book's glossary
    (the book renders notebook Markdown output as MyST, so the link resolves when the book is built).
    """
    from IPython.display import Markdown, display

    try:
        sec = report.section(section)
    except KeyError:
        return
    seen: set[str] = set()  # glossary terms linked in this section (the first use of each)

    def text(t: str) -> str:
        return link_myst(_md_text(t), seen) if glossary else _md_text(t)

    for b in sec.blocks:
        if isinstance(b, Para):
            display(Markdown(text(b.text)))
        elif isinstance(b, Bullets):
            display(Markdown("\n".join(f"- {text(i)}" for i in b.items)))
        elif isinstance(b, Terms):
            display(Markdown("\n".join(f"- **{_md_text(t)}**: {_md_text(m)}" for t, m in b.items)))
        elif isinstance(b, Table):
            display(b.data.style.hide(axis="index").set_caption(html.escape(b.caption)))
        else:
            import io

            from IPython.display import Image

            with style():
                fig = report.figures[b.name].draw()
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
            display(Image(data=buf.getvalue(), format="png"))
            display(Markdown(f"*{text(b.caption)}*"))
