"""Read extracts from CSV, Excel or Parquet (or a DataFrame) into canonical, typed columns."""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.data._common import FIRST_DATA_ROW, ROW_COLUMN, UNPARSEABLE_COLUMN, format_rows
from evaltoolkit.data.mapping import apply_mapping, load_mapping
from evaltoolkit.data.parse import parse_column, parse_frame
from evaltoolkit.errors import ExtractValidationError, MissingInputError
from evaltoolkit.schemas import Column, get_schema

__all__ = ["check_layouts", "how_to_set", "read_extract", "read_sites", "read_table", "resolve_sheets"]

SUFFIXES = (".csv", ".xlsx", ".parquet")

#: Text read as missing in CSV files (pandas' defaults, so results match earlier versions).
NA_TEXT = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
     "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)  # fmt: skip
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ALL_SHEETS = ("*", "all")


def how_to_set(option: str, value: Any, advice: str | None) -> str:
    """How to set a reading option where the user is: a protocol key, a CLI option or a Python keyword.

    ``advice`` is ``"protocol:<kind>"`` (a protocol data source), ``"cli"`` (a command-line option) or
    ``None`` (a keyword argument).

    Examples
    --------
    >>> how_to_set("encoding", "cp1252", "protocol:spells")
    'set data.sources.spells.encoding: cp1252 in the protocol'
    >>> how_to_set("header_row", 3, "cli")
    'pass --header-row 3'
    >>> how_to_set("sheet", "Sheet1", None)
    "pass sheet='Sheet1'"
    """
    if advice is not None and advice.startswith("protocol:"):
        kind = advice.split(":", 1)[1]
        shown = value if not isinstance(value, str) or (value.strip() == value and value) else repr(value)
        return f"set data.sources.{kind}.{option}: {shown} in the protocol"
    if advice == "cli":
        return f"pass --{option.replace('_', '-')} {value}"
    return f"pass {option}={value!r}"


def _option_name(option: str, advice: str | None) -> str:
    """The name of a reading option where the user is: protocol key, CLI option or Python keyword."""
    if advice is not None and advice.startswith("protocol:"):
        return f"data.sources.{advice.split(':', 1)[1]}.{option}"
    if advice == "cli":
        return f"--{option.replace('_', '-')}"
    return f"{option}="


def _fail(label: str, message: str) -> ExtractValidationError:
    return ExtractValidationError(f"{label}: {message}")


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _decode(path: Path, data: bytes, encoding: str, advice: str | None) -> str:
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise _fail(
            path.name, f"{encoding!r} is not a known text encoding; use e.g. utf-8, cp1252 or latin-1"
        ) from exc
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        shown = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig", "utf8") else encoding
        raise _fail(
            path.name,
            f"not readable as {shown} text: byte 0x{byte} at byte {exc.start} (row {row}) is not valid "
            f"{shown}. The file is probably Windows-1252 or Latin-1 (how Excel saves 'CSV' on Windows): "
            f"{how_to_set('encoding', 'cp1252', advice)} (or latin-1), or re-save it from Excel as "
            "'CSV UTF-8 (comma delimited)'",
        ) from exc


def _workbook_kind(data: bytes) -> str | None:
    """``".xlsx"`` for a zip (Office Open XML) file, ``".xls"`` for a legacy OLE2 workbook, else None."""
    if data.startswith(b"PK\x03\x04"):
        return ".xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return ".xls"
    return None


def _records(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _sniff_delimiter(text: str) -> str:
    """The delimiter (of , ; tab |) giving the most fields, consistently, on the first 30 non-blank lines."""
    sample = [line for line in text.splitlines()[:200] if line.strip()][:30]
    best, best_fields = ",", 1
    for d in DELIMITERS:
        counts = [len(r) for r in _records("\n".join(sample), d) if r]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode > best_fields and counts.count(mode) >= max(1, len(counts) // 2):
            best, best_fields = d, mode
    return best


def _csv_grid(path: Path, encoding: str, delimiter: str | None, advice: str | None) -> list[list[Any]]:
    data = path.read_bytes()
    if not data:
        raise _fail(path.name, "the file is empty (0 bytes): no header row and no data")
    workbook = _workbook_kind(data)
    if workbook is not None:
        fix = (
            f"rename it to {path.stem}.xlsx"
            if workbook == ".xlsx"
            else "open it in Excel and save it as .xlsx"
        )
        raise _fail(
            path.name,
            f"is an Excel workbook ({workbook}) saved with a {path.suffix} name, not CSV text: {fix} "
            "(or save it from Excel as 'CSV UTF-8 (comma delimited)')",
        )
    text = _decode(path, data, encoding, advice).lstrip("\ufeff")
    if delimiter is None:
        delimiter = _sniff_delimiter(text)
    else:
        if len(delimiter) != 1:
            name = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(delimiter.lower())
            if name is None:
                raise _fail(path.name, f"delimiter must be one character (or tab), not {delimiter!r}")
            delimiter = name
        found = _sniff_delimiter(text)
        if found != delimiter and len(next(iter(_records(text[:20000], delimiter)), [])) <= 1:
            shown = {"\t": "tab"}.get(found, found)
            raise _fail(
                path.name,
                f"the delimiter given ({_option_name('delimiter', advice)} {delimiter!r}) leaves the header "
                f"as one column, but the file is {shown!r}-delimited: give {shown!r}, or leave the "
                "delimiter out to have it detected",
            )
    try:
        grid: list[list[Any]] = _records(text, delimiter)
    except csv.Error as exc:
        raise _fail(path.name, f"not a readable CSV file: {exc}") from exc
    return [[None if v.strip() in NA_TEXT else v for v in row] for row in grid]


def _missing_file(path: Path, advice: str | None) -> MissingInputError:
    """The error for an extract file that does not exist: its name, the folder, and close names there."""
    where = (
        "" if advice is None or not advice.startswith("protocol:") else f" ({_option_name('file', advice)})"
    )
    hint = ""
    if path.parent.is_dir():
        names = sorted(p.name for p in path.parent.iterdir() if p.is_file() and not p.name.startswith("."))
        close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.5)
        if not close:
            close = [n for n in names if n.lower() == path.name.lower()]
        if close:
            hint = f"; did you mean {', '.join(map(repr, close))}?"
        elif names:
            hint = f"; the folder holds {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}"
    else:
        hint = f"; the folder {path.parent} does not exist either"
    folder = "the current folder" if str(path.parent) == "." else str(path.parent)
    return MissingInputError(f"extract file {path.name}{where} does not exist in {folder}{hint}")


def _excel_sheet_names(path: Path) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(8)
    if _workbook_kind(head) == ".xls":
        raise _fail(
            path.name,
            "is a legacy Excel 97-2003 workbook (.xls), which is not read: open it in Excel and save it as "
            ".xlsx (or as 'CSV UTF-8 (comma delimited)')",
        )
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            return [str(s) for s in book.sheet_names]
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException...
        raise _fail(path.name, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from exc


def resolve_sheets(
    path: Path, sheet: str | int | list[str | int] | None, advice: str | None = None
) -> list[str]:
    """Worksheet names selected by ``sheet``: a name, a position counted from 1, a list, or ``"*"`` (all).

    Raises
    ------
    ExtractValidationError
        A named sheet is not in the workbook, or a position is out of range (the message lists the
        sheets there are).
    """
    names = _excel_sheet_names(path)
    shown = ", ".join(repr(n) for n in names)
    if sheet is None:
        return names[:1]
    if isinstance(sheet, str) and sheet.strip().lower() in ALL_SHEETS and sheet not in names:
        return names
    wanted = sheet if isinstance(sheet, list) else [sheet]
    out: list[str] = []
    for item in wanted:
        if isinstance(item, bool):
            raise _fail(path.name, f"sheet must be a name or a position counted from 1, not {item!r}")
        if isinstance(item, int):
            if not 1 <= item <= len(names):
                raise _fail(
                    path.name,
                    f"has no sheet at position {item} (sheets are counted from 1; it has {len(names)}: "
                    f"{shown})",
                )
            out.append(names[item - 1])
            continue
        text = str(item).strip()
        if text in names:
            out.append(text)
            continue
        folded = [n for n in names if n.strip().lower() == text.lower()]
        if len(folded) == 1:
            out.append(folded[0])
            continue
        close = difflib.get_close_matches(text, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(
            path.name,
            f"has no sheet {text!r}{hint}; its sheets are {shown}. "
            f"{how_to_set('sheet', close[0] if close else names[0], advice).capitalize()}",
        )
    return out


def _excel_grid(path: Path, name: str) -> list[list[Any]]:
    try:
        raw = pd.read_excel(path, sheet_name=name, header=None, dtype=object, engine="openpyxl")
    except Exception as exc:  # pragma: no cover - the workbook opened above
        raise _fail(path.name, f"sheet {name!r} could not be read ({type(exc).__name__}: {exc})") from exc
    return [[None if _blank(v) else v for v in row] for row in raw.itertuples(index=False, name=None)]


def _column_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _frame_from_grid(
    grid: list[list[Any]], label: str, header_row: int | None, advice: str | None
) -> pd.DataFrame:
    """Rows of cells → a frame with the header's column names and spreadsheet row numbers."""
    filled = [i for i, row in enumerate(grid) if any(not _blank(v) for v in row)]
    if not filled:
        raise _fail(label, "is empty: no header row and no data")
    if header_row is None:
        h = filled[0]
        width = max(len(r) - next((k for k, v in enumerate(reversed(r)) if not _blank(v)), len(r))
                    for r in grid[h : h + 25])  # fmt: skip
        n_named = sum(not _blank(v) for v in grid[h])
        if width >= 2 and n_named <= width // 2:
            nearby = range(h + 1, min(len(grid), h + 25))
            full = next((i for i in nearby if sum(not _blank(v) for v in grid[i]) >= width), None)
            if full is not None:
                title = next(str(v) for v in grid[h] if not _blank(v))
                raise _fail(
                    label,
                    f"row {h + 1} looks like a title ({title[:60]!r}), not a header of column names: it "
                    f"names {n_named} of {width} columns. The column names seem to be on row {full + 1}: "
                    f"{how_to_set('header_row', full + 1, advice)}",
                )
    else:
        if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
            raise _fail(label, f"header_row must be a row number counted from 1, not {header_row!r}")
        if header_row > len(grid) or all(_blank(v) for v in grid[header_row - 1]):
            raise _fail(
                label,
                f"header_row {header_row} is {'past the end' if header_row > len(grid) else 'blank'}; "
                f"the first non-blank row is row {filled[0] + 1}",
            )
        h = header_row - 1
    header = grid[h]
    body = grid[h + 1 :]
    n_cols = max([len(header), *(len(r) for r in body)]) if body else len(header)
    names: list[str | None] = [
        None if _blank(v) else str(v).strip() for v in [*header, *([None] * (n_cols - len(header)))]
    ]
    padded = [[*r, *([None] * (n_cols - len(r)))] for r in body]
    keep: list[int] = []
    problems: list[str] = []
    for j, name in enumerate(names):
        has_data = any(not _blank(r[j]) for r in padded)
        if name is None:
            if has_data:
                rows = [h + 2 + i for i, r in enumerate(padded) if not _blank(r[j])]
                if j >= len(header):
                    problems.append(
                        f"rows {format_rows(rows)} have more values than the header (row {h + 1}, "
                        f"{len(header)} columns); check the delimiter or quoting"
                    )
                else:
                    problems.append(
                        f"column {_column_letter(j)} has values (rows {format_rows(rows)}) but no name in "
                        f"the header (row {h + 1})"
                    )
            continue
        keep.append(j)
    seen: dict[str, int] = {}
    for j in keep:
        name = names[j]
        assert name is not None
        if name in seen:
            problems.append(
                f"the header (row {h + 1}) names the column {name!r} twice (columns "
                f"{_column_letter(seen[name])} and {_column_letter(j)}); give each column its own name"
            )
        seen.setdefault(name, j)
    if problems:
        hint = ""
        named = sum(n is not None for n in names)
        if header_row is not None and named <= n_cols // 2:
            # most columns unnamed: the header is probably further down (title rows above it)
            full = next(
                (
                    i
                    for i in range(h + 1, min(len(grid), h + 26))
                    if sum(not _blank(v) for v in grid[i]) >= n_cols
                ),
                None,
            )
            if full is not None:
                hint = (
                    f"row {h + 1} names only {named} of {n_cols} columns, so it is probably not the header; "
                    f"row {full + 1} names every column and looks like the header: "
                    f"{how_to_set('header_row', full + 1, advice)}. "
                )
        raise _fail(label, f"header problem: {hint}" + "; ".join(dict.fromkeys(problems)))
    rows_kept = [i for i, r in enumerate(padded) if any(not _blank(r[j]) for j in keep)]
    if not rows_kept:
        raise _fail(label, f"is empty: it has a header (row {h + 1}) but no data rows")
    frame = pd.DataFrame(
        {names[j]: pd.Series([padded[i][j] for i in rows_kept], dtype=object) for j in keep}  # type: ignore[misc]
    )
    frame[ROW_COLUMN] = np.asarray([h + 2 + i for i in rows_kept], dtype="int64")
    return frame


def read_table(
    path: str | Path,
    *,
    sheet: str | int | list[str | int] | None = None,
    encoding: str = "utf-8-sig",
    header_row: int | None = None,
    delimiter: str | None = None,
    sheet_column: str | None = None,
    advice: str | None = None,
) -> pd.DataFrame:
    """Read a CSV, XLSX or Parquet file as raw values, with spreadsheet row numbers in ``source_row``.

    CSV cells are read as text (so ids such as ``007`` keep their zeros); Excel cells keep their native
    types. Completely blank lines are dropped but still counted, so ``source_row`` matches the file.
    Column names are never renamed: a repeated name is an error, not ``X.1``.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv``, ``.xlsx`` or ``.parquet`` file.
    sheet : str, int, list or "*", optional
        Worksheet(s) of an ``.xlsx`` file: a name, a position counted from 1, a list of them, or ``"*"``
        (every sheet). Default: the first. Several sheets are stacked (see ``sheet_column``).
    encoding : str, default "utf-8-sig"
        Text encoding of a CSV file (UTF-8, with or without a byte-order mark). Use ``"cp1252"`` or
        ``"latin-1"`` for files saved by Excel on Windows as plain "CSV".
    header_row : int, optional
        Spreadsheet row (counted from 1) holding the column names, for files with title rows above
        the header. Default: the first non-blank row (a title row there is reported as an error).
    delimiter : str, optional
        CSV delimiter; default: detected among comma, semicolon, tab and ``|``.
    sheet_column : str, optional
        With several sheets: the column that receives each row's sheet name (default ``source_sheet``).
    advice : str, optional
        Where the options were given, so messages name the right thing to change: ``"protocol:<kind>"``
        (protocol keys), ``"cli"`` (command-line options) or ``None`` (Python keywords).

    Raises
    ------
    MissingInputError
        The file does not exist (also a ``FileNotFoundError``); the message lists close file names.
    ExtractValidationError
        The file is empty or has a header but no data; it is not valid text in ``encoding`` (naming
        the byte and row); its header is a title row, names a column twice or leaves a column with data
        unnamed; a sheet does not exist (listing the sheets there are); or it is not a readable file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = path.write_text("id;value\\n007;1\\n\\n008;2\\n")
    >>> read_table(path)
        id value  source_row
    0  007     1           2
    1  008     2           4
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise _missing_file(path, advice)
    if suffix not in SUFFIXES:
        raise _fail(path.name, "cannot read this file: expected a .csv, .xlsx or .parquet file")
    if sheet is not None and suffix != ".xlsx":
        raise _fail(
            path.name, f"{_option_name('sheet', advice)} applies to .xlsx files only, not {path.name}"
        )
    if suffix == ".csv":
        df = _frame_from_grid(_csv_grid(path, encoding, delimiter, advice), path.name, header_row, advice)
        df = df.astype({c: "str" for c in df.columns if c != ROW_COLUMN})
    elif suffix == ".xlsx":
        names = resolve_sheets(path, sheet, advice)
        parts = []
        for name in names:
            part = _frame_from_grid(
                _excel_grid(path, name), f"{path.name} sheet {name!r}", header_row, advice
            )
            # columns of one cell type get that type (column by column: a block-wise pass keeps object)
            part = pd.DataFrame({c: part[c].infer_objects() for c in part.columns})
            if len(names) > 1 or sheet_column is not None:
                col = sheet_column or "source_sheet"
                if col in part.columns:
                    raise _fail(
                        f"{path.name} sheet {name!r}",
                        f"already has a column {col!r}; choose another sheet_column",
                    )
                part.insert(0, col, name)
            parts.append(part)
        df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        if len(parts) > 1:  # sheets with different columns: recorded, never silent (see read_source)
            every = [c for c in df.columns if c != ROW_COLUMN]
            gaps = {
                f"{path.name} sheet {name!r}": [c for c in every if c not in part.columns]
                for name, part in zip(names, parts, strict=True)
            }
            df.attrs["column_gaps"] = {k: v for k, v in gaps.items() if v}
            df.attrs["column_gap_rows"] = {
                f"{path.name} sheet {name!r}": len(part) for name, part in zip(names, parts, strict=True)
            }
    else:
        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises its own error classes
            raise _fail(path.name, f"not a readable Parquet file ({type(exc).__name__}: {exc})") from exc
        if len(df) == 0:
            raise _fail(path.name, "has no data rows")
        # Row numbers always refer to this file: a ``source_row`` column saved by an earlier run is replaced.
        df[ROW_COLUMN] = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(df), dtype="int64")
    return df.reset_index(drop=True)


def read_extract(
    path_or_frame: str | Path | pd.DataFrame,
    kind: str,
    *,
    mapping: Mapping[str, str] | str | Path | None = None,
    sheet: str | int | list[str | int] | None = None,
    date_format: str | Mapping[str, str] | None = None,
    encoding: str = "utf-8-sig",
    header_row: int | None = None,
    delimiter: str | None = None,
    timezone: str | None = None,
    advice: str | None = None,
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
    sheet : str, int, list or "*", optional
        Worksheet(s) of an ``.xlsx`` file: a name, a position counted from 1, a list, or ``"*"``
        (see :func:`read_table`). Default: the first.
    date_format : str or dict, optional
        ``strftime`` layout of date-time text, e.g. ``"%d/%m/%Y %H:%M"``, or one per canonical column
        (``{"admitted": "%d/%m/%Y"}``). Default: ISO 8601.
    encoding, header_row, delimiter : optional
        How to read a CSV file (see :func:`read_table`).
    timezone : str, optional
        Time zone that date-times with offsets are converted to (see :mod:`evaltoolkit.data.parse`).
    advice : str, optional
        ``"protocol:<kind>"`` or ``"cli"``: reading errors then name protocol keys or CLI options.

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
    ExtractValidationError
        If ``date_format`` is not a valid layout (an unknown ``%`` code, no ``%`` code, no day, month or
        year code), naming the keyword (or the protocol key / CLI option given by ``advice``).
    MissingInputError
        If the file does not exist.

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
    check_layouts(date_format, _option_name("date_format", advice))
    if isinstance(path_or_frame, pd.DataFrame):
        if sheet is not None:
            raise ValueError("sheet= applies to .xlsx files only, not to a DataFrame")
        raw = path_or_frame.copy()
        if ROW_COLUMN not in raw.columns:
            raw[ROW_COLUMN] = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(raw), dtype="int64")
        raw = raw.reset_index(drop=True)
    elif isinstance(path_or_frame, str | Path):
        raw = read_table(
            path_or_frame,
            sheet=sheet,
            encoding=encoding or "utf-8-sig",
            header_row=header_row,
            delimiter=delimiter,
            advice=advice,
        )
    else:
        raise TypeError(f"read_extract needs a file path or a DataFrame, got {type(path_or_frame).__name__}")
    flat = load_mapping(mapping, kind)
    mapped = apply_mapping(raw, kind, flat)
    zone = {"timezone": timezone} if timezone is not None else {}
    parsed, bad, _ = parse_frame(mapped, schema, date_format=date_format, **zone)  # type: ignore[arg-type]
    if bad.to_numpy().any():
        recorded = _record_unparseable(mapped, bad)
        if UNPARSEABLE_COLUMN in mapped.columns:  # values an earlier step could not read (date_time joins)
            recorded = _merge_records(mapped[UNPARSEABLE_COLUMN], recorded)
        parsed[UNPARSEABLE_COLUMN] = recorded
    return parsed


def _merge_records(first: pd.Series, second: pd.Series) -> pd.Series:
    """Two ``source_unparseable`` columns as one (JSON ``{column: text}`` per row; missing where none)."""
    out = first.astype(object).copy()
    for label, text in second[second.notna()].items():
        old = out.at[label]
        merged = json.loads(str(old)) if isinstance(old, str) and old else {}
        merged.update(json.loads(str(text)))
        out.at[label] = json.dumps(merged, ensure_ascii=False)
    return out.where(out.notna(), np.nan)


def check_layouts(date_format: Any, where: str = "date_format") -> None:
    """Refuse a date layout (or a ``{column: layout}`` mapping) that is not a valid ``strftime`` layout.

    ``where`` names the setting in messages: a protocol key, a CLI option or a Python keyword.

    Raises
    ------
    ExtractValidationError
        Naming ``where`` (and the column) and the layout: unknown ``%`` codes, no ``%`` code at all,
        or no day, month or year code.

    Examples
    --------
    >>> check_layouts({"arrival": "%d/%m/%Y"}, "--date-format")
    >>> try:
    ...     check_layouts("%Q", "data.sources.spells.date_format")
    ... except ExtractValidationError as err:
    ...     print(str(err)[:67])
    data.sources.spells.date_format '%Q' is not a valid strftime layout
    """
    from evaltoolkit.data.parse import _check_format

    if isinstance(date_format, Mapping):
        for column, layout in date_format.items():
            _check_format(layout, where=f"{where.rstrip('=')} for column {column!r}")
    elif date_format is not None:
        _check_format(date_format, where=where.rstrip("="))


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
