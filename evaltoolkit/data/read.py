"""Read extracts from CSV, Excel or Parquet (or a DataFrame) into canonical, typed columns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from evaltoolkit.data._common import FIRST_DATA_ROW, ROW_COLUMN, UNPARSEABLE_COLUMN, format_rows
from evaltoolkit.data.mapping import apply_mapping, load_mapping
from evaltoolkit.data.parse import parse_column, parse_frame
from evaltoolkit.errors import ExtractValidationError
from evaltoolkit.schemas import Column, get_schema

__all__ = ["read_extract", "read_sites", "read_table"]

SUFFIXES = (".csv", ".xlsx", ".parquet")


def read_table(
    path: str | Path, *, sheet: str | int | None = None, encoding: str = "utf-8-sig"
) -> pd.DataFrame:
    """Read a CSV, XLSX or Parquet file as raw values, with spreadsheet row numbers in ``source_row``.

    CSV cells are read as text (so ids such as ``007`` keep their zeros); Excel cells keep their native
    types. Completely blank lines are dropped but still counted, so ``source_row`` matches the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = path.write_text("id,value\\n007,1\\n\\n008,2\\n")
    >>> read_table(path)
        id value  source_row
    0  007     1           2
    1  008     2           4
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise FileNotFoundError(f"extract file {path} does not exist")
    if suffix == ".csv":
        df = pd.read_csv(path, dtype=str, skip_blank_lines=False, encoding=encoding)
    elif suffix == ".xlsx":
        df = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=object, engine="openpyxl")
        df = df.infer_objects()  # columns of one cell type get that type (all-text columns become str)
    elif suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        raise ValueError(f"cannot read {path.name}: expected a .csv, .xlsx or .parquet file")
    if sheet is not None and suffix != ".xlsx":
        raise ValueError(f"sheet= applies to .xlsx files only, not {path.name}")
    # Row numbers always refer to this file: a ``source_row`` column saved by an earlier run is replaced.
    df[ROW_COLUMN] = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(df), dtype="int64")
    if suffix in (".csv", ".xlsx") and len(df.columns) > 1:
        data_cols = [c for c in df.columns if c != ROW_COLUMN]
        blank = df[data_cols].isna().all(axis=1)
        if blank.any():
            df = df.loc[~blank]
    return df.reset_index(drop=True)


def read_extract(
    path_or_frame: str | Path | pd.DataFrame,
    kind: str,
    *,
    mapping: Mapping[str, str] | str | Path | None = None,
    sheet: str | int | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read an extract and give it canonical column names and types.

    Parameters
    ----------
    path_or_frame : str, pathlib.Path or pandas.DataFrame
        A ``.csv``, ``.xlsx`` (read with openpyxl) or ``.parquet`` file, or a DataFrame (not modified).
    kind : str
        Extract kind: ``attendances``, ``spells``, ``population``, ``cohort``, ``rom_responses`` or
        ``staff_survey`` (see :mod:`evaltoolkit.schemas`).
    mapping : dict, str or pathlib.Path, optional
        ``{your column name: canonical name}``, or a JSON/YAML file holding one (flat, or keyed by kind;
        see :func:`~evaltoolkit.data.load_mapping`). Columns not mentioned keep their names.
    sheet : str or int, optional
        Worksheet of an ``.xlsx`` file (default: the first).
    date_format : str, optional
        ``strftime`` layout of date-time text, e.g. ``"%d/%m/%Y %H:%M"``. Default: ISO 8601.

    Returns
    -------
    pandas.DataFrame
        The extract with canonical names, schema columns parsed (see :mod:`evaltoolkit.data.parse`),
        extra columns kept as read, and ``source_row``: the spreadsheet row number of each record
        (header = row 1, first data row = row 2). Values that cannot be parsed become missing and
        their original text is kept in an added ``source_unparseable`` column (JSON ``{column:
        text}``, only when there are such values), so :func:`~evaltoolkit.data.validate_extract`
        reports them with their row numbers and text, even after filtering or concatenating.
        Nothing is raised for bad values here.

    Raises
    ------
    ColumnMappingError
        If the mapping names columns that are not in the file or targets that are not canonical.

    Examples
    --------
    >>> from evaltoolkit.data import validate_extract
    >>> raw = pd.DataFrame({"Ident": ["a1", "a2"], "Arrived": ["2023-01-05 10:00", "31/02/2023"]})
    >>> df = read_extract(raw, "attendances", mapping={"Ident": "attendance_id", "Arrived": "arrival"})
    >>> df[["attendance_id", "arrival", "source_row"]]
      attendance_id             arrival  source_row
    0            a1 2023-01-05 10:00:00           2
    1            a2                 NaT           3
    >>> df["source_unparseable"].tolist()
    [nan, '{"arrival": "31/02/2023"}']
    >>> validate_extract(df, "attendances")[["rule", "column", "rows"]]
                 rule      column      rows
    0  missing_column  patient_id  all rows
    1  missing_column        site  all rows
    2  missing_column   departure  all rows
    3     unparseable     arrival         3
    """
    schema = get_schema(kind)
    if isinstance(path_or_frame, pd.DataFrame):
        if sheet is not None:
            raise ValueError("sheet= applies to .xlsx files only, not to a DataFrame")
        raw = path_or_frame.copy()
        if ROW_COLUMN not in raw.columns:
            raw[ROW_COLUMN] = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(raw), dtype="int64")
        raw = raw.reset_index(drop=True)
    elif isinstance(path_or_frame, str | Path):
        raw = read_table(path_or_frame, sheet=sheet)
    else:
        raise TypeError(f"read_extract needs a file path or a DataFrame, got {type(path_or_frame).__name__}")
    flat = load_mapping(mapping, kind)
    mapped = apply_mapping(raw, kind, flat)
    parsed, bad, _ = parse_frame(mapped, schema, date_format=date_format)
    if bad.to_numpy().any():
        parsed[UNPARSEABLE_COLUMN] = _record_unparseable(mapped, bad)
    return parsed


def _record_unparseable(raw: pd.DataFrame, bad: pd.DataFrame) -> pd.Series:
    """JSON ``{column: original text}`` for rows with unparseable values; missing elsewhere."""
    any_bad = bad.any(axis=1).to_numpy()
    records: list[dict[str, str]] = [{} for _ in range(int(any_bad.sum()))]
    positions = np.flatnonzero(any_bad)
    slot = {pos: k for k, pos in enumerate(positions)}
    for col in bad.columns:
        col_pos = np.flatnonzero(bad[col].to_numpy())
        for pos, value in zip(col_pos, raw[col].to_numpy()[col_pos], strict=True):
            records[slot[pos]][col] = str(value).strip()
    out = pd.Series(np.nan, index=raw.index, dtype="str")
    out.iloc[positions] = [json.dumps(r, ensure_ascii=False) for r in records]
    return out


def read_sites(path_or_frame: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a sites table (``site``, and optionally ``site_name``, ``go_live``, ``implements``).

    ``go_live`` is parsed as a date and ``implements`` as a yes/no flag.

    Raises
    ------
    ExtractValidationError
        If ``site`` is missing or duplicated, or ``go_live`` / ``implements`` cannot be parsed.

    Examples
    --------
    >>> raw = pd.DataFrame({"site": ["A", "B"], "go_live": ["2021-07-01", None], "implements": ["Y", "N"]})
    >>> read_sites(raw)
      site    go_live  implements
    0    A 2021-07-01        True
    1    B        NaT       False
    """
    if isinstance(path_or_frame, pd.DataFrame):
        raw = path_or_frame.copy()
        raw[ROW_COLUMN] = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(raw), dtype="int64")
    else:
        raw = read_table(path_or_frame)
    raw.columns = [str(c).strip() for c in raw.columns]
    specs = {
        "site": Column("site", "string"),
        "site_name": Column("site_name", "string", nullable=True),
        "go_live": Column("go_live", "date", nullable=True),
        "implements": Column("implements", "boolean", nullable=True),
    }
    problems: list[str] = []
    if "site" not in raw.columns:
        raise ExtractValidationError(f"sites table needs a 'site' column; it has {list(raw.columns)}")
    out = raw.copy()
    rows = raw[ROW_COLUMN].to_numpy()
    for name, column in specs.items():
        if name not in raw.columns:
            continue
        parsed = parse_column(raw[name], column)
        out[name] = parsed.values
        if parsed.bad.any():
            problems.append(
                f"{name}: {int(parsed.bad.sum())} value(s) unreadable (rows {format_rows(rows[parsed.bad])})"
            )
    missing = out["site"].isna().to_numpy()
    if missing.any():
        problems.append(f"site: empty in rows {format_rows(rows[missing])}")
    dup = out["site"].duplicated(keep=False).to_numpy() & ~missing
    if dup.any():
        problems.append(f"site: duplicated codes in rows {format_rows(rows[dup])}")
    if problems:
        raise ExtractValidationError(
            "sites table has problems (row numbers are spreadsheet rows: the header is row 1):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return out.drop(columns=ROW_COLUMN).reset_index(drop=True)
