"""The results.json schema (version ``2.0``): what a run publishes, for analysts and dashboards.

results.json is deterministic (sorted keys, two-space indent, floats rounded to 6 significant digits, no
timestamps) and **publishable**: every count of people, events or rows has passed the protocol's
suppression rule, so a count field holds ``0``, an integer rounded to ``round_to``, or the string ``"*"``
(a count from ``low`` to ``high``). Dates are ``YYYY-MM-DD`` strings; missing or non-finite numbers are
``null``. Compatible additions (new keys) keep the major version; removals or renames change it.

Version history: ``2.0`` (evaltoolkit 0.2.0) renamed the method option ``se`` to ``se_type`` (in
``protocol.analysis``, ``its.methods[].options`` and ``its.fits[].options``: it is the kind of standard
error, ``model`` or ``newey-west``, not a standard error) and the ``rate`` of
``outcome_measures.talking_therapies`` to ``proportion`` (a share from 0 to 1), and added
``data.series_checks``; ``1.0`` was the first. Compatible additions since 2.0: ``its.draws``, the
``mc_error``/``n_draws``/``interval`` of ``cumulative`` and ``combined``, ``its.heterogeneity``,
``costs[].p_value`` and the top-level ``synthesis`` (evaltoolkit 0.3), ``suppression.source`` and the
named policies of ``suppression.rule``, ``protocol.data_kind`` and ``protocol.report.date``;
``costs[].range``, ``costs[].beds_equivalent``, ``costs[].sensitivity``, the top-level ``economics`` (net
cost and return per pound) and ``spc`` (evaltoolkit 0.4); ``economics.comonotone``,
``economics.sensitivity``, ``economics.service_cost.note`` and ``costs[].sensitivity[].series``.

Top-level keys
--------------
============================  ===========================================================================
``schema_version``            ``"2.0"``
``generator``                 ``{package, version}`` of evaltoolkit
``protocol``                  identity (``name, title, version, registration, authors, question, seed,
                              data_kind, file, sha256``; ``data_kind``: ``synthetic``, ``real`` or
                              ``unspecified``) and the resolved ``design``, ``analysis``, ``cohort``,
                              ``outcome_measures`` and ``report`` sections of the protocol
``intervention``              the TIDieR description and ``co_interventions``
``sites``                     ``[{code, name, role, go_live}]``
``window``                    ``{start, extract_date}`` or ``null``
``conf_level``                confidence level of every interval (e.g. 0.95)
``suppression``               ``{rule, low, high, round_to, description, source}``: the output-checking
                              policy named in the protocol (``rule``: ``nhs``, ``opensafely``,
                              ``opensafely_midpoint6``, ``ukllc``, ``custom`` or ``none``; ``low``/``high``
                              ``null`` when nothing is suppressed, ``round_to`` ``null`` when counts are
                              exact), its ``description`` and ``source`` (``{title, url}`` of the published
                              rule, ``null`` for ``custom``/``none``)
``data``                      ``inputs``: ``[{kind, file, sha256, rows_read, rows_excluded, rows_kept}]``;
                              ``quality``: the data-quality table ``[{extract, rule, column, n_rows,
                              n_excluded, action}]`` (``n_rows`` ``null`` = rule not checked);
                              ``series_checks``: checks on the outcome series before modelling
                              ``[{series, site, period, check, severity, n_periods, message}]``
``series``                    the outcome-series definitions of the protocol
``its``                       ``null`` or ``{horizon_months, conf_level, methods, fits, combined, staggered,
                              plots}`` (``staggered``: empty unless ``design.staggered``)
``costs``                     ``[{series, unit_cost, value, currency, price_year, unit, source, note,
                              range, estimate, ci_lower, ci_upper, p_value, method, beds_equivalent,
                              sensitivity}]``: the cost of the change over the horizon, sites combined,
                              from the effect's draws (``range``: two unit costs drawn uniformly);
                              ``beds_equivalent`` (bed-day series) ``{estimate, ci_lower, ci_upper,
                              occupancy, days, n_sites, label}``; ``sensitivity``: the one-way table of
                              :func:`evaltoolkit.economics.tornado`
``economics``                 ``null``, or with a protocol ``service_cost``: ``{service_cost, series,
                              net_cost, return_per_pound, method, comonotone, sensitivity}`` over the
                              horizon, the outcomes drawn independently; ``comonotone`` (two or more
                              costed outcomes, else ``null``): ``{net_cost, return_per_pound, method}``
                              with the outcomes' draws paired by rank (perfectly positively dependent), a
                              bracket; ``sensitivity``: the one-way table of the net cost
                              (:func:`evaltoolkit.economics.tornado` of every costed outcome)
``cost_per_person``           (outcome-measure protocols with a ``service_cost`` ``per: total``, else
                              absent) ``{service_cost, rows, notes}``: ``rows`` of
                              :func:`evaltoolkit.economics.cost_per_person` per primary instrument
                              (``outcome, outcome_label, currency, term, estimate, ci_lower, ci_upper, n,
                              method``), computed from the *published* counts; ``notes`` say which figure
                              is not shown because a count it divides by is suppressed
``spc``                       (outcome-measure protocols) ``{method, charts, board}`` with one chart of
                              the people starting each quarter, all sites together, from the published
                              counts (``improvement`` neutral, ``per`` quarter; hidden first or last
                              quarters left out and counted in ``n_edge_quarters_left_out``); or
                              (ITS protocols) ``{method, charts, board}``: Making Data Count XmR charts of
                              each primary series and site from the *published* monthly values, limits
                              rebased at go-live (``charts[].points``: ``period, value, mean, lpl, upl,
                              point_type, rule``; ``charted`` false with a ``reason`` when months are
                              hidden by the small-number rule); ``board``: the board-pack rows
``cohort``                    ``null`` or the before/after cohort analysis
``outcome_measures``          ``null`` or the questionnaire analyses
``estimates``                 every estimate as one flat record (below)
``synthesis``                 ``{model_checks, findings, multiplicity}`` (ITS protocols), ``measure_findings``
                              (questionnaire outcomes), ``cohort_findings`` (the before/after cohort): below
``summary``                   the plain-language summary, one string per finding
``limitations``               ``[{id, title, text}]`` flagged automatically
============================  ===========================================================================

``data.series_checks``
    Findings of :mod:`evaltoolkit.series.checks` on every outcome series (added in version 2.0).
    ``check`` is ``abnormal_count`` (a period far from its neighbours: a likely extract gap or duplicated
    records), ``partial_period`` (the window starts or
    ends inside a period), ``partial_first_period``/``partial_last_period`` (events thinning out inside
    the first or last period), or ``bed_day_warmup`` (the first periods of a bed-day series lack the
    spells admitted before the window; those periods are left out of the interrupted-time-series fits);
    ``severity`` is ``"warning"`` (a run with an ``"error"`` finding stops before any model). ``site`` is
    ``null`` for a finding about every site, ``period`` the first period concerned (``YYYY-MM-DD``) or
    ``null``, ``n_periods`` the number of periods concerned (the warm-up length; 1 otherwise); counts
    quoted in ``message`` have passed the suppression rule.

``its``
    ``methods``: ``[{id ("m0" = primary), label, primary, options}]``. ``fits``: one per series × site ×
    method with ``series, site, method_id, method, primary, family, controlled, options, status`` (``ok``,
    ``warning``, ``failed``, ``duplicate``), ``message, warnings, interruption, horizon_start, horizon_end,
    n_periods, pre_points, post_points, dispersion, method_description, se_description, level_change,
    slope_change`` (``{term, estimate, std_error, p_value, ci_lower, ci_upper}`` plus ``rate_ratio*`` for
    counts), ``cumulative`` (``{start, end, n_periods, estimate, std_error, ci_lower, ci_upper, p_value,
    fitted_total, counterfactual_total, relative_change, relative_ci_lower, relative_ci_upper, scale}``)
    and, for the primary method, ``diagnostics`` (``tests, acf_lag1, autocorrelation_p, residual_kind,
    seasonal_terms``). ``combined``: one per series × method, sites combined (``estimate, std_error,
    ci_lower, ci_upper, p_value, relative_change, relative_ci_lower, relative_ci_upper, fitted_total,
    counterfactual_total, n_periods, interval, status, message``). ``plots``: per series × site, the
    primary fit's ``points`` (``period, observed`` (published; ``null`` when suppressed), ``fitted*,
    counterfactual*, in_fit, in_transition, excluded``). Each fit also has ``guards``: the fit guards that
    fired at the report's horizon (``{guard, measured, limit, message}``; ``guard`` is ``extrapolation``,
    ``short_pre_period`` or ``autocorrelation``, see :meth:`evaltoolkit.its.ITSResult.guards`).
    ``robustness`` (optional, schema 2.0 addition): ``settings`` (``in_time, in_space, leave_one_out,
    placebo_dates``) and ``checks``, one row per series × site × check × term with ``series, site, check``
    (``original``, ``in_time_placebo``, ``in_space_placebo``, ``leave_one_out``), ``label, term, estimate,
    std_error, ci_lower, ci_upper, p_value, n_periods`` (fitted periods, not people), ``method,
    significant, status, note``, plus ``rate_ratio*`` for counts and ``relative_*`` for leave-one-site-out
    rows (``site`` null, ``term`` ``cumulative_effect``). ``bed_day_warmup`` (optional): ``{excluded,
    periods: {series: number of warm-up periods}}`` (protocol key ``analysis.exclude_bed_day_warmup``).
    ``staggered`` (``design.staggered: true``): one per series × method, one model of every intervention
    site (at its own go-live) and the control sites, with the fields of ``combined`` plus
    ``level_change``/``slope_change`` (the pooled ``diff_`` terms) and ``warnings``.

``its.draws`` and the derived figures
    Every derived figure of one series × method (each site's ``cumulative`` change, the ``combined``
    change, leave-one-site-out rows, ``costs``) comes from one set of ``its.draws.n_draws`` draws of the
    site fits' coefficients, drawn jointly with the protocol's seed (:mod:`evaltoolkit.its.derived`):
    percentile intervals, ``std_error`` the SD of the draws, Monte-Carlo ``p_value``, ``mc_error`` the
    Monte-Carlo SE of the interval bounds, ``interval`` a description. The relative and absolute
    changes (and costs) therefore agree on direction and on excluding no change.
    ``its.heterogeneity``: per series (primary method) the sites' log ratios pooled by a random-effects
    model: ``{series, sites: [{site, estimate, std_error}], tau2, i2, q, q_df, q_p_value, pooled,
    prediction, text}``.

``synthesis``
    ``model_checks``: one row per primary fit × check ``{series, site, check, label, measured,
    threshold, flagged}`` (what the model-checks table shows and the limitations cite).
    ``findings``: per primary series ``{series, label, primary, excludes_no_change, sensitivity: [{method_id,
    method, controlled, relative_change, relative_ci_lower, relative_ci_upper, excludes_no_change,
    same_direction, agrees}], sites, heterogeneity, sites_disagree, certainty: {rating, start,
    start_reason, domains: [{domain, serious, reason}], epoc: [{item, question, risk, reason}]}}``
    (rules: :mod:`evaltoolkit.report._synthesis`). ``multiplicity``: ``{n_confirmatory, n_other,
    confirmatory: [{id, outcome, p_value, p_holm}], expected_false_positives}``. ``measure_findings``: per
    primary questionnaire outcome ``{outcome, label, direction, estimate, ci_lower, ci_upper, n,
    excludes_no_change, improved, rc_threshold, sites, heterogeneity, sites_disagree, certainty: {rating,
    start, start_reason, domains}}``; ``cohort_findings``: per cohort outcome ``{outcome, term, estimate,
    ci_lower, ci_upper, excludes_no_change, comparison, certainty}`` (compatible additions, evaltoolkit 0.4).

``cohort``
    ``description, settings, groups`` (patients analysed per cohort), ``excluded_patients`` (all patients
    left out) and ``exclusions`` (``[{rule, column, patients, action}]``: patients at a site without a
    cohort role, or with an empty before- or after-window, e.g. an end date on the index date; also rows
    of the data-quality table), ``windows`` (events and person-years per cohort and window, person-years
    published like counts; rates from the published figures), ``change``
    (:func:`evaltoolkit.prepost.mirror_change` rows with ``group``; the any-event proportions from
    published counts), ``did`` (:func:`evaltoolkit.prepost.mirror_did` rows), ``statements`` (plain words
    per outcome).

``outcome_measures``
    ``settings, instruments, analysed, paired, reliable_change, talking_therapies, attrition,
    complete_vs_available, trajectories`` (``{estimates, curve, random_slopes}`` or ``null``),
    ``internal_consistency, by_site`` (the mean change of each primary scale per site, ``paired`` rows with
    ``site``, when the extract names two or more sites), ``notes``. Percentages and rates are computed from
    the published counts.

In the estimate tables of ``cohort`` and ``outcome_measures`` ``df`` is ``null`` (degrees of freedom are
computed from exact counts). Means, SDs and estimates that rest on a suppressed number of people (1–7 by
default) are ``null``, with ``not shown`` in their ``method``.

``estimates`` records
    Fixed keys :data:`ESTIMATE_KEYS`: ``id`` (stable, e.g. ``its_combined/pd_ed_attendances/m0/
    relative_change``), ``analysis`` (``its``, ``its_combined``, ``cost``, ``mirror_change``,
    ``mirror_did``, ``paired_change``, ``complete_vs_available``, ``trajectory``, ``talking_therapies``),
    ``outcome, group, method, primary, term, estimate, std_error, ci_lower, ci_upper, conf_level, p_value,
    p_adjusted, n`` (published count or ``null``), ``n_unit`` (``patients``, ``staff`` or ``null``) and
    ``scale``.
"""

from __future__ import annotations

from typing import Any

from evaltoolkit.disclosure.roles import RESULT_COUNT_KEYS

__all__ = [
    "COUNT_KEYS",
    "ESTIMATE_KEYS",
    "RESULTS_SCHEMA",
    "SERIES_CHECK_KEYS",
    "TOP_LEVEL_KEYS",
    "check_results",
]

TOP_LEVEL_KEYS: tuple[str, ...] = (
    "schema_version",
    "generator",
    "protocol",
    "intervention",
    "sites",
    "window",
    "conf_level",
    "suppression",
    "data",
    "series",
    "its",
    "costs",
    "cohort",
    "outcome_measures",
    "estimates",
    "summary",
    "limitations",
)
"""Keys every results.json has (``null`` where an analysis is absent)."""

ESTIMATE_KEYS: tuple[str, ...] = (
    "id",
    "analysis",
    "outcome",
    "group",
    "method",
    "primary",
    "term",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "conf_level",
    "p_value",
    "p_adjusted",
    "n",
    "n_unit",
    "scale",
)
"""Keys of every record of ``estimates``."""

SERIES_CHECK_KEYS: tuple[str, ...] = ("series", "site", "period", "check", "severity", "n_periods", "message")
"""Keys of every record of ``data.series_checks``."""

COUNT_KEYS = RESULT_COUNT_KEYS  # declared by the disclosure layer, which publishes them


_NUMBER = {"type": ["number", "null"]}
_COUNT = {"anyOf": [{"type": "integer", "minimum": 0}, {"const": "*"}, {"type": "null"}]}

RESULTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "evaltoolkit results.json",
    "type": "object",
    "required": list(TOP_LEVEL_KEYS),
    "properties": {
        "schema_version": {"const": "2.0"},
        "generator": {"type": "object", "required": ["package", "version"]},
        "protocol": {"type": "object", "required": ["name", "title", "version", "seed"]},
        "conf_level": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "suppression": {"type": "object", "required": ["rule", "low", "high", "round_to", "description"]},
        "data": {
            "type": "object",
            "required": ["inputs", "quality"],
            "properties": {
                "inputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind", "file", "sha256", "rows_read", "rows_excluded", "rows_kept"],
                        "properties": {"rows_read": _COUNT, "rows_excluded": _COUNT, "rows_kept": _COUNT},
                    },
                },
                "quality": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["extract", "rule", "column", "n_rows", "n_excluded", "action"],
                        "properties": {"n_rows": _COUNT, "n_excluded": _COUNT},
                    },
                },
                "series_checks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": list(SERIES_CHECK_KEYS),
                        "additionalProperties": False,
                        "properties": {
                            "series": {"type": "string"},
                            "site": {"type": ["string", "null"]},
                            "period": {"type": ["string", "null"]},
                            "check": {"type": "string"},
                            "severity": {"enum": ["warning", "error"]},
                            "n_periods": {"type": "integer", "minimum": 1},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
        "estimates": {
            "type": "array",
            "items": {
                "type": "object",
                "required": list(ESTIMATE_KEYS),
                "additionalProperties": False,
                "properties": {
                    **{k: {} for k in ESTIMATE_KEYS},
                    "id": {"type": "string"},
                    "analysis": {"type": "string"},
                    "primary": {"type": ["boolean", "null"]},
                    "estimate": _NUMBER,
                    "ci_lower": _NUMBER,
                    "ci_upper": _NUMBER,
                    "std_error": _NUMBER,
                    "conf_level": _NUMBER,
                    "p_value": _NUMBER,
                    "p_adjusted": _NUMBER,
                    "n": _COUNT,
                    "n_unit": {"type": ["string", "null"]},
                },
            },
        },
        "summary": {"type": "array", "items": {"type": "string"}},
        "limitations": {
            "type": "array",
            "items": {"type": "object", "required": ["id", "title", "text"]},
        },
    },
}
"""A JSON Schema (draft 2020-12) of the stable parts of results.json, for validators and dashboards."""


def check_results(results: Any) -> list[str]:
    """Problems with a results dictionary against the documented schema (empty when it conforms).

    Checks the top-level keys, the schema version, the keys of the estimate records and of
    ``data.series_checks``, and that every count
    field (:data:`COUNT_KEYS`) is published (an integer outside ``low``–``high``, ``"*"`` or ``null``).

    Examples
    --------
    >>> check_results({"schema_version": "0.9"})[:2]
    ["schema_version is '0.9'; this version of evaltoolkit reads '2.0'", 'missing top-level key generator']
    """
    if not isinstance(results, dict):
        return ["results must be a JSON object"]
    problems: list[str] = []
    if results.get("schema_version") != "2.0":
        problems.append(
            f"schema_version is {results.get('schema_version')!r}; this version of evaltoolkit reads '2.0'"
        )
    problems += [f"missing top-level key {k}" for k in TOP_LEVEL_KEYS if k not in results]
    for i, e in enumerate(results.get("estimates") or []):
        keys = set(e) if isinstance(e, dict) else set()
        if keys != set(ESTIMATE_KEYS):
            problems.append(f"estimates[{i}] has keys {sorted(keys)}; expected {list(ESTIMATE_KEYS)}")
            break
    data = results.get("data")
    checks = data.get("series_checks") if isinstance(data, dict) else None
    for i, c in enumerate(checks or []):
        keys = set(c) if isinstance(c, dict) else set()
        if keys != set(SERIES_CHECK_KEYS):
            problems.append(
                f"data.series_checks[{i}] has keys {sorted(keys)}; expected {list(SERIES_CHECK_KEYS)}"
            )
            break
    problems += _type_problems(RESULTS_SCHEMA, results, "results")
    sup = results.get("suppression") or {}
    if not isinstance(sup, dict):
        sup = {}
    low, high = sup.get("low"), sup.get("high")
    if isinstance(low, int) and isinstance(high, int):
        for path, value in _walk(results, "results"):
            key = path.rsplit(".", 1)[-1].split("[", 1)[0]
            if (
                key in COUNT_KEYS
                and isinstance(value, int)
                and not isinstance(value, bool)
                and low <= value <= high
            ):
                problems.append(f"{path} = {value} is an unsuppressed small count")
    return problems


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _fits(schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` has the type, constant, enumerated value and bounds that ``schema`` asks for."""
    if "const" in schema and value != schema["const"]:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "anyOf" in schema and not any(_fits(s, value) for s in schema["anyOf"]):
        return False
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        is_bool = isinstance(value, bool)
        if not any(isinstance(value, _JSON_TYPES[n]) and (n == "boolean" or not is_bool) for n in names):
            return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return False
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            return False
    return True


def _expected(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_expected(s) for s in schema["anyOf"])
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    names = schema.get("type", "any value")
    text = " or ".join(names) if isinstance(names, list) else str(names)
    if "minimum" in schema:
        text += f" ≥ {schema['minimum']}"
    return text


def _type_problems(schema: dict[str, Any], value: Any, path: str, limit: int = 10) -> list[str]:
    """Values of the wrong type in ``value`` against ``schema`` (the subset of JSON Schema used above).

    Examples
    --------
    >>> _type_problems({"type": "object", "properties": {"x": {"type": "number"}}}, {"x": "abc"}, "r")
    ["r.x is 'abc'; expected number"]
    """
    if not _fits(schema, value):
        return [f"{path} is {value!r:.60}; expected {_expected(schema)}"]
    problems: list[str] = []
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value and sub:
                problems += _type_problems(sub, value[key], f"{path}.{key}", limit)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problems += _type_problems(schema["items"], item, f"{path}[{i}]", limit)
            if len(problems) >= limit:
                break
    return problems[:limit]


def _walk(obj: Any, path: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _walk(v, f"{path}[{i}]")
    else:
        out.append((path, obj))
    return out
