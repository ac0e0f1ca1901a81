"""Data-quality and problem tables: build, combine and format them for reports.

The **data-quality table** (one per cleaned extract) has one row per rule (per
column for column-level errors), including rules that were checked and found
nothing (``n_rows`` = 0) and rules that could not be checked (``n_rows``
missing, ``action`` says why). Columns:

============  ==============================================================
extract       extract kind, e.g. ``attendances``
rule          rule name, e.g. ``exact_duplicate`` (see :mod:`evaltoolkit.data.rules`)
column        column(s) the rule looks at
n_rows        rows breaking the rule (missing = not checked)
n_excluded    rows this rule removed (a row is counted under the first rule that removed it)
rows          first five spreadsheet row numbers (header = row 1, first data row = row 2)
action        what was done, in plain English
detail        what the rule checks
============  ==============================================================

For every cleaned extract, ``n_input = n_output + n_excluded.sum()``.

The **problem table** (from :func:`~evaltoolkit.data.validate_extract`) lists
only rules that found something: ``rule, column, severity, n_rows, rows,
message``, where ``severity`` is ``"error"`` (must be fixed, or the rows
excluded with ``on_invalid="exclude"``) or ``"fixable"`` (handled by
:func:`~evaltoolkit.data.clean_extract`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from evaltoolkit.data.rules import Finding

if TYPE_CHECKING:
    from evaltoolkit.data.clean import CleanExtract

__all__ = [
    "PROBLEM_COLUMNS",
    "QUALITY_COLUMNS",
    "combine_quality",
    "format_quality_table",
    "problem_table",
    "quality_table",
]

QUALITY_COLUMNS = ["extract", "rule", "column", "n_rows", "n_excluded", "rows", "action", "detail"]
PROBLEM_COLUMNS = ["rule", "column", "severity", "n_rows", "rows", "message"]


def quality_table(findings: Iterable[Finding], extract: str) -> pd.DataFrame:
    """Data-quality table (see module docstring) from pipeline findings; missing columns are left out.

    Examples
    --------
    >>> from evaltoolkit.data.rules import Finding
    >>> f = Finding("exact_duplicate", "all columns", "fixable", 1, 1, "3", "excluded", "identical rows")
    >>> quality_table([f], "spells")[["extract", "rule", "n_rows", "n_excluded"]]
      extract             rule  n_rows  n_excluded
    0  spells  exact_duplicate       1           1
    """
    records = [
        {
            "extract": extract,
            "rule": f.rule,
            "column": f.column,
            "n_rows": f.n_rows,
            "n_excluded": f.n_excluded,
            "rows": f.rows,
            "action": f.action,
            "detail": f.detail,
        }
        for f in findings
        if f.rule != "missing_column"
    ]
    return _typed_quality(pd.DataFrame.from_records(records, columns=QUALITY_COLUMNS))


def _typed_quality(df: pd.DataFrame) -> pd.DataFrame:
    out = df.astype({"n_rows": "Int64", "n_excluded": "int64"})
    for col in ("extract", "rule", "column", "rows", "action", "detail"):
        out[col] = out[col].astype("str")
    return out.reset_index(drop=True)


def problem_table(findings: Iterable[Finding]) -> pd.DataFrame:
    """Problem table (see module docstring): errors first, then fixable defects, each in rule order.

    Examples
    --------
    >>> from evaltoolkit.data.rules import Finding
    >>> f = Finding("missing_value", "site", "error", 2, 2, "4, 7", "excluded", "", "2 rows are empty")
    >>> problem_table([f])[["rule", "severity", "n_rows", "rows"]]
                rule severity  n_rows  rows
    0  missing_value    error       2  4, 7
    """
    found = [f for f in findings if f.rule == "missing_column" or f.n_rows]
    ordered = [f for f in found if f.severity == "error"] + [f for f in found if f.severity == "fixable"]
    records = [
        {
            "rule": f.rule,
            "column": f.column,
            "severity": f.severity,
            "n_rows": int(f.n_rows or 0),
            "rows": f.rows,
            "message": f.message,
        }
        for f in ordered
    ]
    out = pd.DataFrame.from_records(records, columns=PROBLEM_COLUMNS).astype({"n_rows": "int64"})
    for col in ("rule", "column", "severity", "rows", "message"):
        out[col] = out[col].astype("str")
    return out


def _collect(item: Any) -> list[pd.DataFrame]:
    from evaltoolkit.data.clean import CleanExtract

    if isinstance(item, CleanExtract):
        return [item.quality]
    if isinstance(item, pd.DataFrame):
        missing = [c for c in QUALITY_COLUMNS if c not in item.columns]
        if missing:
            raise ValueError(f"not a data-quality table: columns {missing} are missing")
        return [item[QUALITY_COLUMNS]]
    if isinstance(item, Mapping):
        return [t for v in item.values() for t in _collect(v)]
    if isinstance(item, Iterable) and not isinstance(item, str | bytes):
        return [t for v in item for t in _collect(v)]
    raise TypeError(f"cannot combine a {type(item).__name__} into a data-quality table")


def combine_quality(*items: CleanExtract | pd.DataFrame | Mapping[str, Any] | Iterable[Any]) -> pd.DataFrame:
    """Stack data-quality tables (from CleanExtract objects, tables, dicts or lists of them), in order given.

    Examples
    --------
    >>> from evaltoolkit.data import clean_extract
    >>> pop = pd.DataFrame({"site": ["A"], "period": ["2023-01-01"], "population": [10]})
    >>> coh = pd.DataFrame({"patient_id": ["p1"], "site": ["A"], "index_date": ["2023-03-01"]})
    >>> table = combine_quality(clean_extract(pop, "population"), clean_extract(coh, "cohort"))
    >>> table["extract"].unique().tolist()
    ['population', 'cohort']
    """
    tables = [t for item in items for t in _collect(item)]
    if not tables:
        return _typed_quality(pd.DataFrame(columns=QUALITY_COLUMNS))
    return _typed_quality(pd.concat(tables, ignore_index=True))


def format_quality_table(table: pd.DataFrame, *, columns: list[str] | None = None) -> str:
    """Render a data-quality table as a Markdown table for reports.

    Rules that were checked and found nothing show ``0``; rules that could not be checked show
    ``not checked``. The ``|`` character inside cells is escaped.

    Examples
    --------
    >>> from evaltoolkit.data import clean_extract
    >>> pop = pd.DataFrame({"site": ["A", "A"], "period": ["2023-01-01"] * 2, "population": [10, 10]})
    >>> print(format_quality_table(clean_extract(pop, "population").quality.head(2),
    ...                            columns=["rule", "n_rows", "action"]))
    | rule | n_rows | action |
    |---|---|---|
    | exact_duplicate | 1 | excluded (first copy kept) |
    | unparseable | 0 | none allowed: clean_extract stops with an error (on_invalid='raise') |
    """
    cols = columns or ["extract", "rule", "column", "n_rows", "n_excluded", "action"]
    unknown = [c for c in cols if c not in table.columns]
    if unknown:
        raise ValueError(f"columns {unknown} are not in the table; it has {list(table.columns)}")

    def cell(col: str, value: Any) -> str:
        if col == "n_rows" and pd.isna(value):
            return "not checked"
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for record in table[cols].itertuples(index=False):
        lines.append("| " + " | ".join(cell(c, v) for c, v in zip(cols, record, strict=True)) + " |")
    return "\n".join(lines)
