"""Private engine layer of :mod:`evaltoolkit.series`.

Everything that touches Ibis or DuckDB directly lives here:

* :func:`to_source` turns any accepted input (pandas DataFrame, pyarrow Table, Ibis table, path to a
  ``.parquet`` or ``.csv`` file) into a :class:`Source` wrapping an Ibis table. Paths are read by DuckDB
  (``read_parquet`` / ``read_csv``) without going through pandas, so files of 10^7–10^8 rows work.
* One module-level DuckDB connection (:func:`connection`) runs every expression that is not already bound
  to another backend (an Ibis table the caller built on, say, PySpark runs on its own backend).
* :func:`to_arrow` / :func:`to_pandas` execute an expression; results are small aggregated frames.
* :func:`date_of` / :func:`timestamp_of` turn a date, date-time or ISO-8601 string column into a date /
  timestamp expression, and :func:`fail_rows` raises :class:`~evaltoolkit.errors.SeriesInputError`
  naming the first offending row numbers.

Row numbers in messages are 0-based positions in the input (data rows of a file, not counting the CSV
header). For pandas and pyarrow inputs they are exact; for files they follow DuckDB's scan order, which is
the file order; for an Ibis table from another backend they follow that backend's natural order. (Spark
refuses an unordered ``row_number()``, so on PySpark tables the per-row outputs and the row numbers in
error messages are not available yet; the aggregations do not need them.)

Internal column names start with ``_et_`` so they cannot collide with extract columns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from evaltoolkit.errors import MissingInputError, SeriesInputError

__all__ = [
    "ROW",
    "Input",
    "Source",
    "connection",
    "date_of",
    "date_range_of",
    "fail_rows",
    "first_rows",
    "literal_date",
    "per_row_output",
    "profile",
    "require_dates",
    "timestamp_of",
    "to_arrow",
    "to_pandas",
    "to_source",
]

Input: TypeAlias = pd.DataFrame | pa.Table | ir.Table | str | Path
"""Anything the series builders accept as an extract."""

ROW = "_et_row"
"""Name of the 0-based input row-number column added by :meth:`Source.numbered`."""

_PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_SUFFIXES = (".csv", ".csv.gz")

_CONNECTION: Any = None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence two known, harmless warnings raised inside ibis 12 with duckdb 2 / pandas 3."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*fetch_arrow_table.*", category=DeprecationWarning)
        pandas4 = getattr(pd.errors, "Pandas4Warning", None)
        if pandas4 is not None:
            warnings.filterwarnings("ignore", category=pandas4, module=r"ibis(\..*)?$")
        yield


class _SeriesTypeError(SeriesInputError, TypeError):
    """An input of the wrong type (a toolkit error that is also a TypeError, as before)."""


def connection() -> Any:
    """Return the module's DuckDB connection (an Ibis backend), creating it on first use."""
    global _CONNECTION
    if _CONNECTION is None:
        with _quiet():
            _CONNECTION = ibis.duckdb.connect()
    return _CONNECTION


def to_arrow(expr: ir.Expr) -> pa.Table:
    """Execute ``expr`` on its own backend (or the module's DuckDB connection) and return a pyarrow Table."""
    backends, _ = expr._find_backends()
    backend = backends[0] if len(backends) == 1 else connection()
    with _quiet():
        return backend.to_pyarrow(expr)


def to_pandas(expr: ir.Table) -> pd.DataFrame:
    """Execute ``expr`` and return a pandas DataFrame (date columns come back as ``datetime.date``)."""
    return to_arrow(expr).to_pandas()


@dataclass
class Source:
    """An input extract as an Ibis table, plus what is needed to number its rows and rebuild per-row outputs.

    Attributes
    ----------
    table : ibis Table
        The extract. For pandas input only the columns the caller needs are converted.
    label : str
        What the extract is called in error messages (``events``, ``spells``, ``cohort``).
    frame : pandas.DataFrame or None
        The caller's DataFrame (never modified), so per-row outputs keep its columns and dtypes.
    arrow : pyarrow.Table or None
        The in-memory table behind ``table`` for pandas/pyarrow input.
    file : str or None
        The file name when the extract was read from a path (error messages then give spreadsheet rows for
        a CSV file, header = row 1, and 0-based positions for a Parquet file or in-memory input).
    """

    table: ir.Table
    label: str
    frame: pd.DataFrame | None = None
    arrow: pa.Table | None = None
    file: str | None = None

    def numbered(self) -> ir.Table:
        """Return :attr:`table` with a 0-based input row-number column :data:`ROW`."""
        if self.arrow is not None:
            n = self.arrow.num_rows
            return ibis.memtable(self.arrow.append_column(ROW, pa.array(np.arange(n, dtype=np.int64))))
        return self.table.mutate(**{ROW: ibis.row_number()})

    def dtype(self, column: str) -> Any:
        """Return the Ibis data type of ``column``."""
        return self.table.schema()[column]


def _missing_message(label: str, missing: list[tuple[str, str]], available: Sequence[str]) -> str:
    parts = ", ".join(f"{col!r} (given as {kw}=)" for col, kw in missing)
    return f"{label} has no column {parts}; its columns are {list(available)}"


def to_source(
    data: Input,
    *,
    columns: Mapping[str, str],
    date_columns: Sequence[str] = (),
    label: str,
    keep_all: bool = False,
) -> Source:
    """Wrap ``data`` as a :class:`Source`, checking that the needed columns exist.

    Parameters
    ----------
    data : DataFrame, pyarrow Table, ibis Table, str or Path
        The extract. Paths ending ``.parquet``/``.pq`` or ``.csv``/``.csv.gz`` are read by DuckDB.
    columns : mapping
        Column name → the keyword that named it (for error messages), e.g. ``{"arrival": "date"}``.
    date_columns : sequence of str
        Columns holding dates. In CSV files they are read as text and parsed by :func:`date_of`, so one
        bad value cannot make DuckDB's type sniffer fail half-way through the file.
    label : str
        Name of the extract in error messages.
    keep_all : bool
        Convert every column of a pandas DataFrame (needed when the output carries all input columns).
    """
    needed = list(dict.fromkeys(columns))
    if isinstance(data, pd.DataFrame):
        missing = [(c, columns[c]) for c in needed if c not in data.columns]
        if missing:
            raise SeriesInputError(_missing_message(label, missing, [str(c) for c in data.columns]))
        subset = data if keep_all else data[needed]
        try:
            arrow = pa.Table.from_pandas(subset, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SeriesInputError(f"{label}: could not convert the DataFrame for the engine: {exc}") from exc
        return Source(ibis.memtable(arrow), label, frame=data, arrow=arrow)
    if isinstance(data, pa.Table):
        missing = [(c, columns[c]) for c in needed if c not in data.column_names]
        if missing:
            raise SeriesInputError(_missing_message(label, missing, data.column_names))
        return Source(ibis.memtable(data), label, arrow=data)
    if isinstance(data, ir.Table):
        missing = [(c, columns[c]) for c in needed if c not in data.columns]
        if missing:
            raise SeriesInputError(_missing_message(label, missing, list(data.columns)))
        return Source(data, label)
    if isinstance(data, str | Path):
        return _read_path(Path(data), columns=columns, needed=needed, date_columns=date_columns, label=label)
    raise _SeriesTypeError(
        f"{label} must be a pandas DataFrame, a pyarrow Table, an ibis Table or a path to a .parquet or "
        f".csv file; got {type(data).__name__}"
    )


def _read_path(
    path: Path, *, columns: Mapping[str, str], needed: list[str], date_columns: Sequence[str], label: str
) -> Source:
    if not path.exists():
        raise MissingInputError(f"{label} file not found: {path}")
    name = path.name.lower()
    con = connection()
    with _quiet():
        if name.endswith(_PARQUET_SUFFIXES) or name.endswith(_CSV_SUFFIXES):
            try:
                if name.endswith(_PARQUET_SUFFIXES):
                    table = con.read_parquet(str(path))
                else:
                    table = con.read_csv(str(path))
                    dates = [c for c in dict.fromkeys(date_columns) if c in table.columns]
                    if dates:
                        table = con.read_csv(str(path), types=dict.fromkeys(dates, "VARCHAR"))
            except Exception as exc:  # DuckDB's own error types; the message is kept
                first = (str(exc).strip().splitlines() or [""])[0]
                fmt = "Parquet" if name.endswith(_PARQUET_SUFFIXES) else "CSV"
                raise SeriesInputError(f"{label} file {path.name} cannot be read as {fmt}: {first}") from exc
        else:
            raise SeriesInputError(
                f"{label} path {str(path)!r} must end in .parquet, .pq, .csv or .csv.gz; read other formats "
                "with evaltoolkit.data first"
            )
    missing = [(c, columns[c]) for c in needed if c not in table.columns]
    if missing:
        raise SeriesInputError(_missing_message(f"{label} file {path.name}", missing, list(table.columns)))
    return Source(table, label, file=path.name)


def _check_temporal(source_dtype: Any, column: str, label: str) -> None:
    if source_dtype.is_timestamp() and source_dtype.timezone is not None:
        raise SeriesInputError(
            f"{label} column {column!r} holds time-zone-aware date-times ({source_dtype}); convert them to "
            "local time first, e.g. .dt.tz_convert('Europe/London').dt.tz_localize(None), so that events "
            "fall in the local calendar day and month"
        )
    if not (source_dtype.is_date() or source_dtype.is_timestamp() or source_dtype.is_string()):
        raise SeriesInputError(
            f"{label} column {column!r} has type {source_dtype}; expected dates, date-times or ISO-8601 "
            "date strings"
        )


def timestamp_of(table: ir.Table, column: str, label: str) -> ir.TimestampValue:
    """Return ``column`` as a timestamp expression (strings parsed as ISO 8601; unparseable → NULL)."""
    dtype = table.schema()[column]
    _check_temporal(dtype, column, label)
    col = table[column]
    if dtype.is_timestamp():
        return col
    if dtype.is_date():
        return col.cast("timestamp")
    return _text_timestamp(col)


def date_of(table: ir.Table, column: str, label: str) -> ir.DateValue:
    """Return ``column`` as a date expression (the calendar date of a date-time; unparseable → NULL)."""
    dtype = table.schema()[column]
    _check_temporal(dtype, column, label)
    col = table[column]
    if dtype.is_date():
        return col
    if dtype.is_timestamp():
        return col.date()
    return _text_timestamp(col).date()


def _text_timestamp(col: ir.StringValue) -> ir.TimestampValue:
    """ISO 8601 text → timestamp; text with a time-zone offset (``+01:00``, ``Z``) → NULL (unparseable),
    because dropping or applying the offset here would put events in the wrong day or month silently."""
    from evaltoolkit.data.parse import OFFSET_PATTERN

    parsed = col.try_cast("timestamp")
    return ibis.ifelse(col.strip().re_search(OFFSET_PATTERN), ibis.null("timestamp"), parsed)


def first_rows(
    source: Source,
    prepare: Callable[[ir.Table], ir.Table],
    bad: Callable[[ir.Table], ir.BooleanValue],
    limit: int = 5,
) -> list[int]:
    """Return the first ``limit`` row numbers where ``bad(prepare(table))`` is true."""
    t = prepare(source.numbered())
    expr = t.filter(bad(t)).order_by(ROW).select(ROW).limit(limit)
    return [int(r) for r in to_arrow(expr).column(0).to_pylist()]


def first_values(
    source: Source,
    prepare: Callable[[ir.Table], ir.Table],
    bad: Callable[[ir.Table], ir.BooleanValue],
    column: str,
    limit: int = 3,
) -> list[str]:
    """The first ``limit`` raw values of ``column`` (as text) where ``bad(prepare(table))`` is true."""
    t = prepare(source.numbered())
    expr = t.filter(bad(t)).order_by(ROW).select(column).limit(limit)
    try:
        values = to_arrow(expr).column(0).to_pylist()
    except Exception:  # examples are a courtesy: the error is raised without them
        return []
    return [str(v).strip() for v in values if v is not None]


def _has_offset(text: str) -> bool:
    """Whether date text ends in a time-zone offset (``+05:00``, ``Z``)."""
    import re

    from evaltoolkit.data.parse import OFFSET_PATTERN

    return re.search(OFFSET_PATTERN, text) is not None


def fail_rows(
    source: Source,
    prepare: Callable[[ir.Table], ir.Table],
    bad: Callable[[ir.Table], ir.BooleanValue],
    n_bad: int,
    message: str,
    hint: str = "",
) -> NoReturn:
    """Raise :class:`SeriesInputError` with ``message``, the count and the first offending row numbers."""
    rows = first_rows(source, prepare, bad)
    csv = source.file is not None and source.file.lower().endswith(_CSV_SUFFIXES)
    if csv:  # a CSV file: spreadsheet rows, the header being row 1
        rows = [r + 2 for r in rows]
        which = f"spreadsheet rows of {source.file}: the header is row 1"
    elif source.file is not None:
        which = f"0-based row positions in {source.file}"
    else:
        which = f"0-based row positions in the {source.label} input"
    shown = ", ".join(str(r) for r in rows) + (", ..." if n_bad > len(rows) else "")
    text = f"{source.label}: {message}: {n_bad} row(s), at row(s) {shown} ({which})"
    raise SeriesInputError(text + (f". {hint}" if hint else ""))


def literal_date(value: dt.date) -> ir.DateScalar:
    """Return a date literal."""
    return ibis.literal(value, type="date")


def profile(table: ir.Table, by: Sequence[str], **aggregates: ir.Scalar) -> pd.DataFrame:
    """Run one aggregate query (grouped by ``by`` if given) and return it as a pandas DataFrame."""
    expr = table.group_by(list(by)).aggregate(**aggregates) if by else table.aggregate(**aggregates)
    return to_pandas(expr)


def per_row_output(source: Source, result: ir.Table, new_columns: Mapping[str, str]) -> pd.DataFrame:
    """Return the input's rows, in input order and with a RangeIndex, plus ``new_columns`` from ``result``.

    ``result`` must carry :data:`ROW` (one row per input row); ``new_columns`` maps each added column to its
    pandas dtype. For pandas input the caller's own columns and dtypes are kept (the DataFrame is copied,
    never modified); otherwise every column of the table is returned.
    """
    existing = list(source.frame.columns) if source.frame is not None else list(source.table.columns)
    clash = [c for c in new_columns if c in existing]
    if clash:
        raise SeriesInputError(
            f"{source.label} already has column(s) {clash}, which this function adds; rename or drop them"
        )
    if source.frame is not None:
        values = to_pandas(result.select(ROW, *new_columns).order_by(ROW))
        if len(values) != len(source.frame) or not np.array_equal(
            values[ROW].to_numpy(), np.arange(len(values))
        ):
            raise AssertionError("internal error: per-row result does not cover every input row once")
        out = source.frame.reset_index(drop=True)
        for c, dtype in new_columns.items():
            out[c] = values[c].astype(dtype).array
        return out
    cols = [c for c in source.table.columns if c != ROW]
    out = to_pandas(result.select(ROW, *cols, *new_columns).order_by(ROW)).drop(columns=[ROW])
    return out.astype(dict(new_columns)).reset_index(drop=True)


def require_dates(
    source: Source,
    prepare: Callable[[ir.Table], ir.Table],
    *,
    parsed: str,
    column: str,
    keyword: str,
    n_missing: int,
    n_unparseable: int,
    allow_missing: bool = False,
) -> None:
    """Raise :class:`SeriesInputError` if ``column`` has missing (unless allowed) or unparseable dates.

    ``parsed`` is the name of the parsed date column that ``prepare`` adds; ``n_missing`` counts raw NULLs and
    ``n_unparseable`` values that are present but could not be read as dates.
    """
    hint = (
        "Correct or remove these rows first (see evaltoolkit.data); date strings must be ISO 8601, "
        "e.g. 2024-01-30 or 2024-01-30 14:05:00, without a time-zone offset (read the extract with "
        "evaltoolkit.data.read_extract(..., date_format=..., timezone='Europe/London') to convert other "
        "layouts and offsets)"
    )
    if n_unparseable:

        def unread(t: ir.Table) -> ir.BooleanValue:
            return t[parsed].isnull() & t[column].notnull()

        examples = first_values(source, prepare, unread, column)
        message = f"column {column!r} ({keyword}=) has unparseable dates"
        if examples and all(_has_offset(v) for v in examples):
            message = (
                f"column {column!r} ({keyword}=) has date-times with a time-zone offset, e.g. "
                f"{examples[0]!r}: they are ISO 8601, but offsets are converted to one stated zone or "
                "refused, never dropped"
            )
            hint = (
                "Convert them to one zone first: read the extract with evaltoolkit.data.read_extract(..., "
                "timezone='Europe/London'), which converts offsets to that zone's wall clock, or convert the "
                "column yourself (pandas: pd.to_datetime(col, utc=True).dt.tz_convert('Europe/London')"
                ".dt.tz_localize(None))"
            )
        elif examples:
            message += f", e.g. {', '.join(map(repr, examples))}"
        fail_rows(source, prepare, unread, n_unparseable, message, hint)
    if n_missing and not allow_missing:
        fail_rows(
            source,
            prepare,
            lambda t: t[column].isnull(),
            n_missing,
            f"column {column!r} ({keyword}=) has missing dates",
            hint,
        )


def date_range_of(values: pd.Series, how: str) -> dt.date | None:
    """Min or max (``how``) of a column of dates from a profile, ignoring missing values; None if empty."""
    present = [v for v in values.tolist() if v is not None and not pd.isna(v)]
    if not present:
        return None
    return min(present) if how == "min" else max(present)
