"""The checking and cleaning pipeline shared by validation and cleaning.

One pass over an extract produces a list of :class:`Finding` objects, one per
rule (and per column for column-level errors), in the documented order:

1. ``missing_column`` (error; cleaning cannot run). With a ``timezone``,
   ``timezone_converted`` (fixable, when there were any) then counts the
   date-times whose offset was converted to that zone (no row excluded).
2. ``exact_duplicate`` (fixable): rows identical in every column to an earlier
   row are excluded, the first copy is kept.
3. Row-level errors, checked on the remaining rows: ``unparseable``,
   ``missing_value``, ``not_allowed``, ``duplicate_key`` and the kind-specific
   ``non_positive_population``, ``period_not_month_start`` (population) and
   ``end_before_index`` (cohort). With ``on_invalid="exclude"`` the rows are
   excluded; each excluded row is counted once, under the first rule it breaks
   (``n_excluded``), while ``n_rows`` counts every row breaking the rule.
4. Fixable rules, in this order:

   - attendances: ``unknown_site``, ``outside_window``,
     ``departure_before_arrival``, ``missing_patient_id``;
   - spells: ``unknown_site``, ``outside_window``,
     ``discharge_before_admission``, ``discharge_after_extract``,
     ``open_spell``, ``stale_open_spell``, ``missing_patient_id``.

A row removed by an earlier rule is not counted by later rules, so the
excluded counts add up: ``n_input = n_output + sum(n_excluded)``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from evaltoolkit.data._common import ROW_COLUMN, UNPARSEABLE_COLUMN, format_rows, row_numbers
from evaltoolkit.data.parse import (
    INTEGER_LIMIT,
    OFFSET_PATTERN,
    TYPE_WORDS,
    DateFormat,
    column_date_formats,
    column_types,
    date_problem,
    parse_frame,
    rank_date_examples,
)
from evaltoolkit.errors import ColumnMappingError
from evaltoolkit.schemas import ExtractSchema, get_schema

__all__ = ["ERROR_RULES", "FIXABLE_RULES", "KEYS", "Context", "Finding", "PipelineResult", "run_pipeline"]

Severity = Literal["error", "fixable"]
OnInvalid = Literal["raise", "exclude"]

KEYS: dict[str, tuple[str, ...]] = {
    "attendances": ("attendance_id",),
    "spells": ("spell_id",),
    "population": ("site", "period"),
    "cohort": ("patient_id",),
    "rom_responses": ("patient_id", "occasion"),
    "staff_survey": ("staff_id", "wave"),
}
"""Columns that identify a record; duplicated keys (with differing values) are errors."""

FIXABLE_RULES: dict[str, tuple[str, ...]] = {
    "attendances": (
        "exact_duplicate",
        "unknown_site",
        "outside_window",
        "departure_before_arrival",
        "missing_patient_id",
    ),
    "spells": (
        "exact_duplicate",
        "unknown_site",
        "outside_window",
        "discharge_before_admission",
        "discharge_after_extract",
        "open_spell",
        "stale_open_spell",
        "missing_patient_id",
    ),
    "population": ("exact_duplicate",),
    "cohort": ("exact_duplicate",),
    "rom_responses": ("exact_duplicate",),
    "staff_survey": ("exact_duplicate",),
}
"""Fixable rules per extract kind, in the order they are applied."""

ERROR_RULES: tuple[str, ...] = (
    "missing_column",
    "unparseable",
    "missing_value",
    "not_allowed",
    "duplicate_key",
    "non_positive_population",
    "period_not_month_start",
    "end_before_index",
)

FLAG_COLUMNS: dict[str, tuple[str, ...]] = {
    "attendances": ("dq_departure_before_arrival", "dq_missing_patient_id"),
    "spells": ("dq_discharge_after_extract", "dq_open_spell", "dq_stale_open_spell", "dq_missing_patient_id"),
}

_ALL_FLAGS = frozenset(f for flags in FLAG_COLUMNS.values() for f in flags)


@dataclass(frozen=True)
class Context:
    """Settings for the fixable rules."""

    sites: frozenset[str] | None = None
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None
    max_open_days: float | None = None
    on_invalid: OnInvalid = "raise"
    date_format: DateFormat = None
    """Layout of date text: one for every date column, or ``{column: layout}`` (see ``data.parse``)."""
    timezone: str | None = None
    """Zone that time-zone offsets are converted to; without it they are refused."""


@dataclass(frozen=True)
class Finding:
    """Outcome of one rule (for one column): what was checked, how many rows, and what was done."""

    rule: str
    column: str
    severity: Severity
    n_rows: int | None
    n_excluded: int
    rows: str
    action: str
    detail: str
    message: str = ""


@dataclass
class PipelineResult:
    """Everything one pass produced."""

    kind: str
    n_input: int
    findings: list[Finding] = field(default_factory=list)
    data: pd.DataFrame | None = None

    @property
    def errors(self) -> list[Finding]:
        """Error findings with at least one row (or a missing column)."""
        return [
            f for f in self.findings if f.severity == "error" and (f.n_rows or f.rule == "missing_column")
        ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fmt_day(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")


def _examples(values: list[str]) -> str:
    return ", ".join(repr(v) for v in values)


# ---------------------------------------------------------------------------------------------------------
# Fixable rules
# ---------------------------------------------------------------------------------------------------------

RuleTest = Callable[[pd.DataFrame, Context], "pd.Series | str"]


@dataclass(frozen=True)
class FixRule:
    name: str
    column: str
    effect: Literal["exclude", "set_missing", "flag"]
    action: str
    needs: tuple[str, ...]
    test: RuleTest
    describe: Callable[[Context], str]
    flag: str | None = None


def _unknown_site(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    if ctx.sites is None:
        return "not checked: no sites given"
    return df["site"].notna() & ~df["site"].isin(list(ctx.sites))


def _describe_sites(ctx: Context) -> str:
    if ctx.sites is None:
        return "site not among the site codes given"
    codes = sorted(ctx.sites)
    shown = ", ".join(codes[:8]) + (", ..." if len(codes) > 8 else "")
    return f"site not among the {len(codes)} site codes given ({shown})"


def _att_outside(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    if ctx.window is None:
        return "not checked: no window given"
    start, end = ctx.window
    return (df["arrival"] < start) | (df["arrival"] >= end)


def _describe_att_window(ctx: Context) -> str:
    if ctx.window is None:
        return "arrival before the window start or on/after the extract date"
    start, end = ctx.window
    return f"arrival before {_fmt_day(start)} or on/after the extract date {_fmt_day(end)}"


def _departure_before_arrival(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    return df["departure"] < df["arrival"]


def _missing_patient_id(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    return df["patient_id"].isna()


def _spell_outside(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    if ctx.window is None:
        return "not checked: no window given"
    start, end = ctx.window
    return (df["admitted"] >= end) | (df["discharged"] < start)


def _describe_spell_window(ctx: Context) -> str:
    if ctx.window is None:
        return "admitted on/after the extract date, or discharged before the window start"
    start, end = ctx.window
    return (
        f"admitted on/after the extract date {_fmt_day(end)}, or discharged before {_fmt_day(start)} "
        "(spells admitted earlier but still in hospital inside the window are kept for their bed-days)"
    )


def _discharge_before_admission(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    return df["discharged"] < df["admitted"]


def _discharge_after_extract(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    if ctx.window is None:
        return "not checked: no window (extract date) given"
    return df["discharged"] > ctx.window[1]


def _describe_after_extract(ctx: Context) -> str:
    if ctx.window is None:
        return "discharged after the extract date"
    return f"discharged after the extract date {_fmt_day(ctx.window[1])}"


def _open_spell(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    return df["discharged"].isna()


def _stale_open_spell(df: pd.DataFrame, ctx: Context) -> pd.Series | str:
    if ctx.max_open_days is None:
        return "not checked: max_open_days not given"
    if ctx.window is None:
        return "not checked: no window (extract date) given"
    limit = ctx.window[1] - pd.Timedelta(days=ctx.max_open_days)
    return df["discharged"].isna() & (df["admitted"] < limit)


def _describe_stale(ctx: Context) -> str:
    days = "max_open_days" if ctx.max_open_days is None else f"{ctx.max_open_days:g}"
    end = "" if ctx.window is None else f" {_fmt_day(ctx.window[1])}"
    return f"open and admitted more than {days} days before the extract date{end}"


def _const(text: str) -> Callable[[Context], str]:
    return lambda ctx: text


_ATTENDANCE_RULES = (
    FixRule("unknown_site", "site", "exclude", "excluded", ("site",), _unknown_site, _describe_sites),
    FixRule(
        "outside_window", "arrival", "exclude", "excluded", ("arrival",), _att_outside, _describe_att_window
    ),
    FixRule(
        "departure_before_arrival",
        "departure",
        "set_missing",
        "departure set to missing; row kept",
        ("arrival", "departure"),
        _departure_before_arrival,
        _const("departure earlier than arrival"),
        flag="dq_departure_before_arrival",
    ),
    FixRule(
        "missing_patient_id",
        "patient_id",
        "flag",
        "kept; flagged (left out of per-patient analyses)",
        ("patient_id",),
        _missing_patient_id,
        _const("patient_id is empty"),
        flag="dq_missing_patient_id",
    ),
)

_SPELL_RULES = (
    FixRule("unknown_site", "site", "exclude", "excluded", ("site",), _unknown_site, _describe_sites),
    FixRule(
        "outside_window",
        "admitted, discharged",
        "exclude",
        "excluded",
        ("admitted", "discharged"),
        _spell_outside,
        _describe_spell_window,
    ),
    FixRule(
        "discharge_before_admission",
        "discharged",
        "exclude",
        "excluded: length of stay impossible",
        ("admitted", "discharged"),
        _discharge_before_admission,
        _const("discharged earlier than admitted"),
    ),
    FixRule(
        "discharge_after_extract",
        "discharged",
        "set_missing",
        "discharge set to missing; row kept as open at the extract date",
        ("discharged",),
        _discharge_after_extract,
        _describe_after_extract,
        flag="dq_discharge_after_extract",
    ),
    FixRule(
        "open_spell",
        "discharged",
        "flag",
        "kept; censored at extract date",
        ("discharged",),
        _open_spell,
        _const("no discharge date (still in hospital at the extract date)"),
        flag="dq_open_spell",
    ),
    FixRule(
        "stale_open_spell",
        "discharged",
        "flag",
        "kept and flagged so open bed-days can be shown separately",
        ("admitted", "discharged"),
        _stale_open_spell,
        _describe_stale,
        flag="dq_stale_open_spell",
    ),
    FixRule(
        "missing_patient_id",
        "patient_id",
        "flag",
        "kept; flagged (left out of per-patient analyses)",
        ("patient_id",),
        _missing_patient_id,
        _const("patient_id is empty"),
        flag="dq_missing_patient_id",
    ),
)

_FIX_RULES: dict[str, tuple[FixRule, ...]] = {"attendances": _ATTENDANCE_RULES, "spells": _SPELL_RULES}


# ---------------------------------------------------------------------------------------------------------
# Error checks
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ErrorCheck:
    rule: str
    checked: tuple[str, ...]
    problems: list[tuple[str, pd.Series, str]]  # (column, mask, message)


def _error_checks(
    df: pd.DataFrame,
    bad: pd.DataFrame,
    examples: dict[str, list[str]],
    schema: ExtractSchema,
    ctx: Context | None = None,
    raw: pd.DataFrame | None = None,
) -> list[_ErrorCheck]:
    types = column_types(df, schema)
    ctx = ctx or Context()
    checks: list[_ErrorCheck] = []

    parse_cols = tuple(n for n, c in types.items() if c.type not in ("string", "category"))
    problems = []
    for name in parse_cols:
        mask = bad[name]
        if mask.any():
            col = types[name]
            if col.type in ("datetime", "date"):
                for part, text in _date_problems(df, bad, examples, schema, ctx, raw, name):
                    problems.append((name, part, text))
                continue
            word = TYPE_WORDS[col.type]
            seen = examples.get(name, [])
            where = ""
            if seen and ROW_COLUMN in df.columns:
                texts = _raw_texts(df, raw, name, mask).dropna().astype(str)
                hit = texts[texts == seen[0]]
                if len(hit):
                    where = f" (row {int(df.at[hit.index[0], ROW_COLUMN])})"
            if col.type == "integer" and any(_beyond_integer_limit(v) for v in seen):
                where += "; whole numbers larger than 10^12 are refused as absurd"
            problems.append((name, mask, f"could not be read as {word}, e.g. {_examples(seen)}{where}"))
    checks.append(_ErrorCheck("unparseable", parse_cols, problems))

    required_cols = tuple(n for n, c in types.items() if not c.nullable)
    problems = []
    for name in required_cols:
        mask = df[name].isna() & ~bad[name]
        if mask.any():
            problems.append((name, mask, "is empty, but every row needs a value"))
    checks.append(_ErrorCheck("missing_value", required_cols, problems))

    cat_cols = tuple(n for n, c in types.items() if c.type == "category" and c.allowed)
    problems = []
    for name in cat_cols:
        allowed = types[name].allowed or ()
        mask = df[name].notna() & ~df[name].isin(list(allowed))
        if mask.any():
            seen = [str(v) for v in pd.unique(df.loc[mask, name])[:3]]
            problems.append(
                (name, mask, f"has values outside the allowed {list(allowed)}, e.g. {_examples(seen)}")
            )
    checks.append(_ErrorCheck("not_allowed", cat_cols, problems))

    key = KEYS[schema.kind]
    if all(k in df.columns for k in key):
        complete = df[list(key)].notna().all(axis=1)
        mask = complete & df[list(key)].duplicated(keep=False)
        problems = []
        if mask.any():
            first = df.loc[mask, list(key)].iloc[0]
            shown = ", ".join(f"{k} {_show(first[k])}" for k in key)
            label = " and ".join(key)
            problems.append(
                (
                    ", ".join(key),
                    mask,
                    f"share their {label} with another row but differ in other columns (e.g. {shown}); "
                    "keep one record per key",
                )
            )
        checks.append(_ErrorCheck("duplicate_key", key, problems))

    if schema.kind == "population":
        if "population" in df.columns:
            mask = df["population"].notna() & (df["population"] <= 0)
            mask = mask.fillna(False).astype(bool)
            problems = (
                [("population", mask, "is zero or negative; a denominator must be positive")]
                if mask.any()
                else []
            )
            checks.append(_ErrorCheck("non_positive_population", ("population",), problems))
        if "period" in df.columns:
            mask = df["period"].notna() & (df["period"].dt.day != 1)
            problems = []
            if mask.any():
                seen = [_show(v) for v in pd.unique(df.loc[mask, "period"])[:3]]
                problems.append(("period", mask, f"is not the first day of a month, e.g. {', '.join(seen)}"))
            checks.append(_ErrorCheck("period_not_month_start", ("period",), problems))

    if schema.kind == "cohort" and {"index_date", "end_date"} <= set(df.columns):
        mask = (df["end_date"] < df["index_date"]).fillna(False).astype(bool)
        problems = [("end_date", mask, "is before index_date")] if mask.any() else []
        checks.append(_ErrorCheck("end_before_index", ("index_date", "end_date"), problems))
    return checks


def _date_problems(
    df: pd.DataFrame,
    bad: pd.DataFrame,
    examples: dict[str, list[str]],
    schema: ExtractSchema,
    ctx: Context,
    raw: pd.DataFrame | None,
    name: str,
) -> list[tuple[pd.Series, str]]:
    """Unparseable dates, split into values with a time-zone offset and the rest (each its own problem):
    an example row, why (two readings, offset, another layout) and the fix."""
    mask = bad[name].astype(bool)
    texts = _raw_texts(df, raw, name, mask)
    fmt = column_date_formats(ctx.date_format, schema).get(name)
    offset = pd.Series(False, index=mask.index)
    if ctx.timezone is None and (fmt is None or "%z" not in fmt):
        known = texts.dropna().astype(str)
        offset.loc[known.index] = known.str.contains(OFFSET_PATTERN).to_numpy()
    offset &= mask
    rest = mask & ~offset
    out: list[tuple[pd.Series, str]] = []
    for part, n_ok in ((rest, int((df[name].notna() & ~mask).sum())), (offset, 0)):
        if not part.any():
            continue
        values = texts.loc[part[part].index].dropna().astype(str)
        seen = rank_date_examples(list(pd.unique(values))[:200])[:3] or examples.get(name, [])[:3]
        example_row = None
        if seen:
            hit = values[values == seen[0]]
            label = hit.index[0] if len(hit) else part[part].index[0]
            example_row = f"row {int(df.at[label, ROW_COLUMN])}"
        text = date_problem(
            seen,
            column=name,
            kind=schema.kind,
            date_format=fmt,
            timezone=ctx.timezone,
            example_row=example_row,
            n_ok=n_ok,
            n_bad=int(part.sum()),
        )
        out.append((part, text))
    return out


def _raw_texts(df: pd.DataFrame, raw: pd.DataFrame | None, name: str, mask: pd.Series) -> pd.Series:
    """Original text of the unparseable cells of ``name`` (from the raw frame or read_extract's record)."""
    out = pd.Series(pd.NA, index=mask[mask].index, dtype="object")
    if raw is not None and name in raw.columns:
        values = raw.loc[out.index, name]
        out = values.map(lambda v: str(v).strip(), na_action="ignore").astype("object")
    if UNPARSEABLE_COLUMN in df.columns:
        recorded = df.loc[out.index, UNPARSEABLE_COLUMN]
        for label, text in recorded[recorded.notna()].items():
            try:
                values = json.loads(str(text))
            except json.JSONDecodeError:
                continue
            if isinstance(values, dict) and name in values:
                out.at[label] = str(values[name])
    return out


def _beyond_integer_limit(text: str) -> bool:
    try:
        return abs(float(text)) > INTEGER_LIMIT
    except (TypeError, ValueError):
        return False


def _show(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return repr(_fmt_day(value))
    return repr(str(value))


# ---------------------------------------------------------------------------------------------------------
# The pass
# ---------------------------------------------------------------------------------------------------------


def _merge_recorded_unparseable(
    parsed: pd.DataFrame, bad: pd.DataFrame, examples: dict[str, list[str]]
) -> None:
    """Fold in unparseable values recorded by read_extract (already turned into missing values)."""
    if UNPARSEABLE_COLUMN not in parsed.columns:
        return
    recorded = parsed[UNPARSEABLE_COLUMN]
    recorded = recorded[recorded.notna()]
    for label, text in recorded.items():
        try:
            values = json.loads(str(text))
        except json.JSONDecodeError:
            continue
        if not isinstance(values, dict):
            continue
        for col, value in values.items():
            if col in bad.columns and pd.isna(parsed.at[label, col]):
                bad.at[label, col] = True
                seen = examples.setdefault(col, [])
                if len(seen) < 3 and str(value) not in seen:
                    seen.append(str(value))
    for col, seen in examples.items():
        examples[col] = rank_date_examples(seen)


def _missing_column_message(name: str, present: list[str], kind: str) -> str:
    close = difflib.get_close_matches(name, present, n=1, cutoff=0.6)
    lowered = {c.lower().replace(" ", "_"): c for c in present}
    hint = close[0] if close else lowered.get(name)
    text = f"required column {name!r} is missing from the {kind} extract"
    if hint:
        text += f"; did you mean {hint!r}? map it with mapping={{{hint!r}: {name!r}}}"
    else:
        text += "; map your column onto it with mapping={'your name': " + repr(name) + "}"
    return text


def run_pipeline(df: pd.DataFrame, kind: str, ctx: Context) -> PipelineResult:
    """Check (and, where possible, clean) one extract; see the module docstring for the order.

    Examples
    --------
    >>> raw = pd.DataFrame({"site": ["A", "A", "A"], "period": ["2023-01-01", "2023-01-01", "2023-02-01"],
    ...                     "population": [100, 100, 120]})
    >>> result = run_pipeline(raw, "population", Context())
    >>> [(f.rule, f.n_rows, f.n_excluded) for f in result.findings][:2]
    [('exact_duplicate', 1, 1), ('unparseable', 0, 0)]
    >>> len(result.data)
    2
    """
    schema = get_schema(kind)
    work = df.copy()
    work.columns = [str(c).strip() for c in work.columns]
    repeated = sorted({c for c in work.columns if list(work.columns).count(c) > 1})
    if repeated:
        raise ColumnMappingError(
            f"the {kind} extract has several columns called {repeated}; keep one column per name"
        )
    rows = row_numbers(work)
    work = work.reset_index(drop=True)
    work[ROW_COLUMN] = rows
    own_flags = [c for c in work.columns if c in _ALL_FLAGS]
    work = work.drop(columns=own_flags)

    converted: dict[str, int] = {}
    parsed, bad, examples = parse_frame(
        work, schema, date_format=ctx.date_format, timezone=ctx.timezone, tz_converted=converted
    )
    _merge_recorded_unparseable(parsed, bad, examples)
    result = PipelineResult(kind=kind, n_input=len(parsed))
    findings = result.findings
    exclude_words = (
        "excluded (on_invalid='exclude')"
        if ctx.on_invalid == "exclude"
        else ("none allowed: clean_extract stops with an error (on_invalid='raise')")
    )

    missing = [c for c in schema.required if c not in parsed.columns]
    present = [c for c in work.columns if c != ROW_COLUMN]
    for name in missing:
        msg = _missing_column_message(name, present, kind)
        findings.append(
            Finding("missing_column", name, "error", len(parsed), 0, "all rows", "cannot clean", msg, msg)
        )

    n_converted = sum(converted.values())
    # Values converted earlier (e.g. by read_extract) are not seen here: the rule appears only when some were.
    if ctx.timezone is not None and n_converted:
        per_column = ", ".join(f"{c} {n}" for c, n in converted.items() if n) or "none"
        findings.append(
            Finding(
                "timezone_converted",
                ", ".join(converted) or "date columns",
                "fixable",
                n_converted,
                0,
                "",
                f"converted to {ctx.timezone} wall time, then the offset dropped; rows kept",
                f"date-times with a time-zone offset converted to {ctx.timezone} (per column: {per_column})",
                f"{_plural(n_converted, 'value')} with a time-zone offset converted to {ctx.timezone}",
            )
        )

    # 1. Exact duplicates (compare raw text where a value could not be parsed).
    compare = parsed.drop(columns=[ROW_COLUMN])
    for col in bad.columns:
        if bad[col].any():
            compare[col] = compare[col].astype(object).where(~bad[col], work[col].astype(object))
    dup = compare.duplicated(keep="first")
    findings.append(
        _fix_finding(
            "exact_duplicate",
            "all columns",
            int(dup.sum()),
            True,
            parsed.loc[dup, ROW_COLUMN],
            "excluded (first copy kept)",
            "identical in every column to an earlier row",
        )
    )
    parsed = parsed.loc[~dup]
    bad = bad.loc[~dup]

    # 2. Row-level errors.
    excluded = pd.Series(False, index=parsed.index)
    for check in _error_checks(parsed, bad, examples, schema, ctx, work.loc[parsed.index]):
        if not check.problems:
            findings.append(
                Finding(
                    check.rule,
                    ", ".join(check.checked),
                    "error",
                    0,
                    0,
                    "",
                    exclude_words,
                    _ERROR_DETAIL[check.rule],
                )
            )
            continue
        for column, mask, text in check.problems:
            mask = mask.astype(bool)
            n = int(mask.sum())
            newly = mask & ~excluded
            excluded |= mask
            affected = parsed.loc[mask, ROW_COLUMN].to_numpy()
            message = f"{_plural(n, 'row')} in {column!r} {text}"
            findings.append(
                Finding(
                    check.rule,
                    column,
                    "error",
                    n,
                    int(newly.sum()),
                    format_rows(affected),
                    exclude_words,
                    _ERROR_DETAIL[check.rule],
                    message,
                )
            )
    # In raise mode the caller raises when there are errors, so excluding them here only affects which
    # rows the fixable rules below see (the same rows as with on_invalid="exclude").
    parsed = parsed.loc[~excluded]

    # 3. Fixable rules.
    flags = FLAG_COLUMNS.get(kind, ())
    for flag in flags:
        parsed[flag] = False
    for rule in _FIX_RULES.get(kind, ()):
        absent = [c for c in rule.needs if c not in parsed.columns]
        if absent:
            findings.append(
                _fix_finding(
                    rule.name,
                    rule.column,
                    None,
                    False,
                    None,
                    f"not checked: column {', '.join(absent)} missing",
                    rule.describe(ctx),
                )
            )
            continue
        outcome = rule.test(parsed, ctx)
        if isinstance(outcome, str):
            findings.append(
                _fix_finding(rule.name, rule.column, None, False, None, outcome, rule.describe(ctx))
            )
            continue
        mask = outcome.fillna(False).astype(bool)
        n = int(mask.sum())
        findings.append(
            _fix_finding(
                rule.name,
                rule.column,
                n,
                rule.effect == "exclude",
                parsed.loc[mask, ROW_COLUMN],
                rule.action,
                rule.describe(ctx),
            )
        )
        if rule.effect == "exclude":
            parsed = parsed.loc[~mask]
            continue
        if rule.effect == "set_missing":
            parsed.loc[mask, rule.column] = pd.NaT
        if rule.flag is not None:
            parsed.loc[mask, rule.flag] = True

    n_removed = sum(f.n_excluded for f in findings)
    if not missing and not (ctx.on_invalid == "raise" and result.errors):
        if result.n_input != len(parsed) + n_removed:  # pragma: no cover - internal invariant
            raise AssertionError(
                f"{kind}: {result.n_input} input rows != {len(parsed)} output + {n_removed} excluded"
            )
        result.data = _order_columns(parsed, schema, flags).reset_index(drop=True)
    return result


_ERROR_DETAIL: dict[str, str] = {
    "missing_column": "required column present",
    "unparseable": "values readable as the column's type (dates, numbers, yes/no)",
    "missing_value": "no empty values in columns that need one on every row",
    "not_allowed": "category values among the allowed values",
    "duplicate_key": "one row per record key",
    "non_positive_population": "population greater than zero",
    "period_not_month_start": "period is the first day of a month",
    "end_before_index": "end_date not before index_date",
}


def _fix_finding(
    rule: str,
    column: str,
    n: int | None,
    excludes: bool,
    rows: pd.Series | None,
    action: str,
    detail: str,
) -> Finding:
    row_text = "" if rows is None or n in (None, 0) else format_rows(rows.to_numpy())
    message = "" if not n else f"{_plural(n, 'row')}: {detail}; clean_extract: {action}"
    return Finding(rule, column, "fixable", n, (n or 0) if excludes else 0, row_text, action, detail, message)


def _order_columns(df: pd.DataFrame, schema: ExtractSchema, flags: tuple[str, ...]) -> pd.DataFrame:
    canonical = [c for c in schema.names if c in df.columns]
    items = [c for c in column_types(df, schema) if c not in canonical]
    tail = [ROW_COLUMN, *flags]
    skip = {*canonical, *items, *tail, UNPARSEABLE_COLUMN}  # bad values were excluded or raised on
    extras = [c for c in df.columns if c not in skip]
    out = df[[*canonical, *items, *extras, *tail]]
    return out.astype({f: bool for f in flags}) if flags else out
