"""Private engine layer of :mod:`evaltoolkit.series`.

Everything that touches Ibis, DuckDB or Spark directly lives here:

* **Engines.** Each public builder is wrapped by :func:`engine_aware`, which picks the engine of the call from
  its ``engine`` keyword and its inputs: the embedded DuckDB engine by default (one module-level connection,
  :func:`connection`); Spark when an input is a pyspark DataFrame or an Ibis table on PySpark, or when
  ``engine="spark"`` is passed (then the active session, or ``SparkSession.builder.getOrCreate()``; the
  toolkit never configures a cluster). For a Spark call it connects Ibis to the session, which sets the
  session time zone to UTC, and on return restores the caller's settings and drops the temporary views it
  made.
* :func:`to_source` turns any accepted input (pandas DataFrame, pyarrow Table, Ibis table, pyspark DataFrame,
  path to a ``.parquet`` or ``.csv`` file) into a :class:`Source` wrapping an Ibis table on the call's engine.
  On DuckDB, paths are read by DuckDB (``read_parquet`` / ``read_csv``) without going through pandas, so files
  of 10^7–10^8 rows work; on Spark they are read by Spark (any path Spark can read, e.g. ``dbfs:/``). pandas
  and pyarrow input is uploaded to Spark with its 0-based row numbers attached.
* :func:`to_arrow` / :func:`to_pandas` execute an expression; results are small aggregated frames (or, for the
  per-row outputs, one row per input row).
* :func:`date_of` / :func:`timestamp_of` turn a date, date-time or ISO-8601 string column into a date /
  timestamp expression, and :func:`fail_rows` raises :class:`~evaltoolkit.errors.SeriesInputError` naming the
  first offending row numbers.

**Row numbers** (:data:`ROW`) order the per-row outputs, break ties in repeat use, and locate bad rows in
error messages. They are 0-based positions in the input (data rows of a file, not counting the CSV header).
For pandas and pyarrow input they are attached before the data reach the engine, so they are exact on both
engines; for a file read by DuckDB an unordered ``row_number()`` follows DuckDB's scan order, which is the
file order. Spark refuses an unordered ``row_number()``: Spark input (a DataFrame, an Ibis table on PySpark,
or a file read by Spark) is numbered with ``monotonically_increasing_id()``, which increases in the
DataFrame's order, and the few ids an error message needs are turned into 0-based positions by counting the
rows of the earlier partitions (:func:`_spark_positions`), so messages name the same rows on both engines.

**Time zones.** Dates are calendar dates of naive wall-clock date-times on both engines. A Spark ``TIMESTAMP``
(an instant, shown in the session time zone) given by the caller is first turned into the wall clock of the
caller's session time zone, so an event shown as 00:30 on 1 July in a Europe/London session counts in July
even though Ibis runs the query in UTC.

Internal column names start with ``_et_`` so they cannot collide with extract columns.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import inspect
import re
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeAlias, TypeVar

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from evaltoolkit.errors import MissingInputError, SeriesInputError

__all__ = [
    "ENGINES",
    "ROW",
    "Engine",
    "Input",
    "Source",
    "connection",
    "date_of",
    "date_range_of",
    "engine_aware",
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
"""Anything the series builders accept as an extract; a pyspark DataFrame is accepted too (and runs on
Spark) but is left out of the type so that pyspark stays optional."""

Engine: TypeAlias = Literal["duckdb", "spark"]
"""The engine keyword of the series builders."""

ENGINES = ("duckdb", "spark")

ROW = "_et_row"
"""Name of the 0-based input row-number column added by :meth:`Source.numbered`."""

_PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_SUFFIXES = (".csv", ".csv.gz")

_CONNECTION: Any = None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence known, harmless warnings raised inside ibis 12 with duckdb 2 / pandas 3, and inside pyspark 4.0
    with pandas 3 (its Arrow conversion passes pandas' deprecated ``copy=`` keyword)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*fetch_arrow_table.*", category=DeprecationWarning)
        pandas4 = getattr(pd.errors, "Pandas4Warning", None)
        if pandas4 is not None:
            warnings.filterwarnings("ignore", category=pandas4, module=r"(ibis|pyspark)(\..*)?$")
        warnings.filterwarnings(
            "ignore", message=r"The copy keyword is deprecated", module=r"pyspark(\..*)?$"
        )
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


# -- engines ---------------------------------------------------------------------------------------------

_TZ_KEY = "spark.sql.session.timeZone"
_SAVED_KEYS = (_TZ_KEY, "spark.sql.mapKeyDedupPolicy", "spark.sql.execution.arrow.pyspark.enabled")
_UTC = {"UTC", "Z", "GMT", "ETC/UTC", "ETC/GMT", "+00:00", "Z+00:00", "UTC+00:00"}


@dataclass
class _Run:
    """The engine of one builder call (set by :func:`engine_aware`)."""

    kind: str
    backend: Any = None
    session: Any = None
    tz: str = "UTC"
    views: list[str] = field(default_factory=list)


_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("evaltoolkit_series_run", default=None)


def _engine_backend() -> Any:
    """The Ibis backend of the current call: the Spark backend inside a Spark run, else DuckDB."""
    run = _RUN.get()
    if run is not None and run.kind == "spark":
        return run.backend
    return connection()


class _SparkMissingError(SeriesInputError, ImportError):
    """engine='spark' without pyspark installed (a toolkit error that is also an ImportError)."""


def _is_spark_frame(data: object) -> bool:
    """A pyspark DataFrame (classic or Spark Connect), recognised without importing pyspark."""
    cls = type(data)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pyspark.sql")


def _table_backend(table: ir.Table) -> Any:
    backends, _ = table._find_backends()
    return backends[0] if len(backends) == 1 else None


def _is_spark_table(data: object) -> bool:
    """An Ibis table bound to a PySpark backend."""
    if not isinstance(data, ir.Table):
        return False
    return getattr(_table_backend(data), "name", None) == "pyspark"


def _session_for(inputs: Sequence[object]) -> Any:
    for data in inputs:
        if _is_spark_frame(data):
            return data.sparkSession  # type: ignore[attr-defined]
        if _is_spark_table(data):
            return _table_backend(data)._session  # type: ignore[arg-type]
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise _SparkMissingError(
            "engine='spark' needs pyspark: install evaltoolkit[spark], or use a Spark runtime "
            "(e.g. Databricks) that provides it"
        ) from exc
    return SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()


@contextlib.contextmanager
def _engine_run(engine: object, inputs: Sequence[object]) -> Iterator[_Run]:
    """Choose the engine for one builder call and, for Spark, connect Ibis to the session for its duration.

    Connecting Ibis sets the Spark session's time zone to UTC; the caller's settings are put back on exit,
    and the temporary views made for the call are dropped.
    """
    if engine is not None and engine not in ENGINES:
        raise SeriesInputError(f"engine must be 'duckdb' (the embedded default) or 'spark', not {engine!r}")
    on_spark = [d for d in inputs if _is_spark_frame(d) or _is_spark_table(d)]
    if engine == "duckdb" and on_spark:
        raise SeriesInputError(
            "engine='duckdb' was given a Spark DataFrame (or an Ibis table on Spark); leave engine unset or "
            "pass engine='spark' to run on Spark, or collect the data first if it is small"
        )
    kind = engine if engine is not None else ("spark" if on_spark else "duckdb")
    if kind == "duckdb":
        token = _RUN.set(_Run("duckdb"))
        try:
            yield _RUN.get()  # type: ignore[misc]
        finally:
            _RUN.reset(token)
        return
    session = _session_for(inputs)
    conf = session.conf
    saved = {key: conf.get(key, None) for key in _SAVED_KEYS}
    with _quiet():
        backend = ibis.pyspark.connect(session)  # sets the session time zone to UTC
    with contextlib.suppress(Exception):  # Spark Connect may refuse it; Arrow is then already in use
        conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    run = _Run("spark", backend, session, tz=str(saved[_TZ_KEY] or "UTC"))
    token = _RUN.set(run)
    try:
        yield run
    finally:
        _RUN.reset(token)
        for view in run.views:
            with contextlib.suppress(Exception):
                session.catalog.dropTempView(view)
        for key, value in saved.items():
            with contextlib.suppress(Exception):
                if value is None:
                    conf.unset(key)
                else:
                    conf.set(key, value)


_F = TypeVar("_F", bound=Callable[..., Any])


def engine_aware(*inputs: str) -> Callable[[_F], _F]:
    """Decorate a public builder: run it on the engine chosen by its ``engine`` keyword and its ``inputs``.

    ``engine=None`` (the default) runs on the embedded DuckDB engine unless an input is a Spark DataFrame
    or an Ibis table on Spark, which run on Spark; ``engine="spark"`` sends pandas, pyarrow and file inputs
    to Spark too. A builder called inside another keeps the outer call's engine.
    """

    def decorate(func: _F) -> _F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _RUN.get() is not None:
                return func(*args, **kwargs)
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return func(*args, **kwargs)  # let Python report the bad call
            engine = bound.arguments.get("engine")
            data = [bound.arguments.get(name) for name in inputs]
            with _engine_run(engine, data):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def to_arrow(expr: ir.Expr) -> pa.Table:
    """Execute ``expr`` on its own backend (or the call's engine) and return a pyarrow Table."""
    backends, _ = expr._find_backends()
    backend = backends[0] if len(backends) == 1 else _engine_backend()
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
    numbered_table : ibis Table or None
        :attr:`table` with the row-number column :data:`ROW`, when it was made up front (Spark).
    spark_frame : pyspark DataFrame or None
        For a Spark DataFrame, table or file: the DataFrame behind :attr:`numbered_table`, whose :data:`ROW`
        holds Spark's ``monotonically_increasing_id`` (increasing in the DataFrame's order, not consecutive;
        :func:`fail_rows` turns it into 0-based positions).
    """

    table: ir.Table
    label: str
    frame: pd.DataFrame | None = None
    arrow: pa.Table | None = None
    file: str | None = None
    numbered_table: ir.Table | None = None
    spark_frame: Any = None

    def numbered(self) -> ir.Table:
        """Return :attr:`table` with a row-number column :data:`ROW`, increasing in input order.

        0-based positions for pandas, pyarrow and DuckDB input (an unordered ``row_number()`` follows the
        scan order, which is the file order); Spark's ``monotonically_increasing_id`` for Spark input.
        """
        if self.numbered_table is not None:
            return self.numbered_table
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
    data : DataFrame, pyarrow Table, ibis Table, Spark DataFrame, str or Path
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
    run = _RUN.get()
    if run is not None and run.kind == "spark":
        return _spark_source(
            data,
            run,
            columns=columns,
            needed=needed,
            date_columns=date_columns,
            label=label,
            keep_all=keep_all,
        )
    if _is_spark_frame(data):  # only reached when to_source is called outside a builder
        raise SeriesInputError(f"{label} is a Spark DataFrame; pass engine='spark' (or leave engine unset)")
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


def _spark_source(
    data: Input,
    run: _Run,
    *,
    columns: Mapping[str, str],
    needed: list[str],
    date_columns: Sequence[str],
    label: str,
    keep_all: bool,
) -> Source:
    """:func:`to_source` inside a Spark run: every input becomes a table on the run's Spark backend."""
    if _is_spark_table(data):
        backend = _table_backend(data)  # type: ignore[arg-type]
        missing = [(c, columns[c]) for c in needed if c not in data.columns]  # type: ignore[union-attr]
        if missing:
            raise SeriesInputError(_missing_message(label, missing, list(data.columns)))  # type: ignore[union-attr]
        backend._run_pre_execute_hooks(data)
        data = run.session.sql(backend.compile(data))
    if _is_spark_frame(data):
        return _from_spark_frame(data, run, columns=columns, needed=needed, label=label, keep_all=keep_all)
    if isinstance(data, ir.Table):  # an Ibis table on another backend (or in memory): bring it over
        missing = [(c, columns[c]) for c in needed if c not in data.columns]
        if missing:
            raise SeriesInputError(_missing_message(label, missing, list(data.columns)))
        data = to_arrow(data if keep_all else data.select(*needed))
    if isinstance(data, str | Path):
        return _spark_read(data, run, columns=columns, needed=needed, date_columns=date_columns, label=label)
    token = _RUN.set(None)  # pandas/pyarrow: the usual checks and conversion, then uploaded numbered
    try:
        src = to_source(data, columns=columns, date_columns=date_columns, label=label, keep_all=keep_all)
    finally:
        _RUN.reset(token)
    assert src.arrow is not None
    n = src.arrow.num_rows
    numbered = _register(
        _upload(src.arrow.append_column(ROW, pa.array(np.arange(n, dtype=np.int64))), run), run
    )
    src.table = numbered.drop(ROW)
    src.numbered_table = numbered
    return src


def _upload(table: pa.Table, run: _Run) -> Any:
    """A pyarrow Table as a Spark DataFrame (dictionary columns decoded; naive date-times kept as wall clock,
    the session being in UTC while the toolkit works)."""
    fields = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema
    ]
    table = table.cast(pa.schema(fields)).combine_chunks()
    import pyspark

    if int(pyspark.__version__.split(".")[0]) >= 4:
        return run.session.createDataFrame(table)
    from ibis.backends.pyspark.datatypes import PySparkSchema  # pyspark 3.5: through pandas

    schema = PySparkSchema.from_ibis(ibis.Schema.from_pyarrow(table.schema))
    return run.session.createDataFrame(table.to_pandas(), schema=schema)


def _register(df: Any, run: _Run) -> ir.Table:
    """A Spark DataFrame as an Ibis table on the run's backend (a temporary view, dropped after the call)."""
    view = f"_et_{uuid.uuid4().hex}"
    df.createOrReplaceTempView(view)
    run.views.append(view)
    return run.backend.table(view)


def _from_spark_frame(
    df: Any,
    run: _Run,
    *,
    columns: Mapping[str, str],
    needed: list[str],
    label: str,
    keep_all: bool,
    file: str | None = None,
    local_time: bool = True,
) -> Source:
    """A Spark DataFrame as a numbered table on the run's backend (a temporary view, dropped after the call).

    With ``local_time``, Spark ``TIMESTAMP`` (with local time zone) columns are turned into the wall-clock
    time of the caller's session time zone, which Ibis has just switched to UTC: an event shown as
    2024-07-01 00:30 in a Europe/London session stays on 1 July instead of moving to 30 June.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    missing = [(c, columns[c]) for c in needed if c not in df.columns]
    if missing:
        where = f"{label} file {file}" if file else label
        raise SeriesInputError(_missing_message(where, missing, list(df.columns)))
    if not keep_all:
        df = df.select(*[df[c] for c in needed])
    if local_time and run.tz.upper() not in _UTC:
        for f in df.schema.fields:
            if isinstance(f.dataType, T.TimestampType):
                df = df.withColumn(f.name, F.from_utc_timestamp(df[f.name], run.tz))
    df = df.withColumn(ROW, F.monotonically_increasing_id())
    numbered = _register(df, run)
    return Source(numbered.drop(ROW), label, file=file, numbered_table=numbered, spark_frame=df)


def _spark_read(
    path: str | Path,
    run: _Run,
    *,
    columns: Mapping[str, str],
    needed: list[str],
    date_columns: Sequence[str],
    label: str,
) -> Source:
    """Read a Parquet or CSV file with Spark (paths with a scheme, e.g. ``dbfs:/``, are passed as given)."""
    text = str(path)
    name = Path(text).name
    lower = name.lower()
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", text) and not Path(text).exists():
        raise MissingInputError(f"{label} file not found: {text}")
    if not (lower.endswith(_PARQUET_SUFFIXES) or lower.endswith(_CSV_SUFFIXES)):
        raise SeriesInputError(
            f"{label} path {text!r} must end in .parquet, .pq, .csv or .csv.gz; read other formats with "
            "evaltoolkit.data first"
        )
    from pyspark.sql import types as T

    reader = run.session.read
    try:
        if lower.endswith(_PARQUET_SUFFIXES):
            df = reader.parquet(text)
        else:
            # As with DuckDB: date columns are read as text (parsed by date_of), other types inferred;
            # Spark's 32-bit integers are widened to DuckDB's BIGINT so the outputs have the same types.
            sniffed = reader.csv(text, header=True, inferSchema=True).schema
            dates = set(date_columns)
            fields = []
            for f in sniffed.fields:
                kind = f.dataType
                if f.name in dates:
                    kind = T.StringType()
                elif isinstance(kind, T.IntegerType | T.ShortType | T.ByteType):
                    kind = T.LongType()
                fields.append(T.StructField(f.name, kind, True))
            df = reader.csv(text, header=True, schema=T.StructType(fields))
    except Exception as exc:  # Spark's own error types; the message is kept
        first = (str(exc).strip().splitlines() or [""])[0]
        fmt = "Parquet" if lower.endswith(_PARQUET_SUFFIXES) else "CSV"
        raise SeriesInputError(f"{label} file {name} cannot be read as {fmt}: {first}") from exc
    return _from_spark_frame(
        df, run, columns=columns, needed=needed, label=label, keep_all=True, file=name, local_time=False
    )


def _spark_positions(frame: Any, ids: list[int]) -> list[int]:
    """0-based positions, in the DataFrame's order, of rows given by ``monotonically_increasing_id``.

    The id is the partition index times 2^33 plus the position in the partition, so a position is the
    number of rows in the earlier partitions plus the position in the partition.
    """
    from pyspark.sql import functions as F

    if not ids:
        return []
    sizes = frame.select(F.shiftright(frame[ROW], 33).alias("p")).groupBy("p").count().collect()
    offsets: dict[int, int] = {}
    total = 0
    for row in sorted(sizes, key=lambda r: r["p"]):
        offsets[int(row["p"])] = total
        total += int(row["count"])
    return [offsets[i >> 33] + (i & (2**33 - 1)) for i in ids]


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
    # Spark's cast also reads a bare year or year-month ("2024", "2024-01") as a date; DuckDB does not,
    # and neither is a day: both engines refuse text without year, month and day.
    whole_day = col.re_search(r"^\s*\d{4}-\d{1,2}-\d{1,2}")
    return ibis.ifelse(col.strip().re_search(OFFSET_PATTERN) | ~whole_day, ibis.null("timestamp"), parsed)


def first_rows(
    source: Source,
    prepare: Callable[[ir.Table], ir.Table],
    bad: Callable[[ir.Table], ir.BooleanValue],
    limit: int = 5,
) -> list[int]:
    """Return the first ``limit`` row numbers where ``bad(prepare(table))`` is true."""
    t = prepare(source.numbered())
    expr = t.filter(bad(t)).order_by(ROW).select(ROW).limit(limit)
    rows = [int(r) for r in to_arrow(expr).column(0).to_pylist()]
    if source.spark_frame is not None:
        rows = _spark_positions(source.spark_frame, rows)
    return rows


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
