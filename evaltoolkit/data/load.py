"""Load and clean every extract found in a folder."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaltoolkit.data._common import ROW_COLUMN, format_rows
from evaltoolkit.data.clean import CleanExtract, clean_extract
from evaltoolkit.data.mapping import load_mapping
from evaltoolkit.data.quality import combine_quality, quality_table
from evaltoolkit.data.read import SUFFIXES, read_extract, read_sites
from evaltoolkit.data.rules import Finding
from evaltoolkit.errors import ColumnMappingError, ExtractValidationError, MissingInputError
from evaltoolkit.schemas import SCHEMAS, get_schema

__all__ = [
    "FILE_COLUMN",
    "SOURCE_KEYS",
    "SourceRead",
    "find_extract_files",
    "load_extracts",
    "load_source",
    "read_source",
    "reading_by_kind",
    "source_files",
]


def _find(folder: Path, stem: str) -> Path | None:
    """The file named ``stem`` plus a known suffix, ignoring case (``Attendances.CSV`` counts)."""
    found = sorted(
        p for p in folder.iterdir() if p.is_file() and p.stem.lower() == stem and p.suffix.lower() in SUFFIXES
    )
    if len(found) > 1:
        raise ExtractValidationError(
            f"{folder} holds several {stem} files ({', '.join(p.name for p in found)}); keep only one"
        )
    return found[0] if found else None


def find_extract_files(folder: str | Path) -> dict[str, Path]:
    """Extract files in ``folder``, by kind (``attendances.csv``, ``spells.parquet``, ``sites.xlsx``...).

    Files are named after the extract kind (plus ``sites``) with a ``.csv``, ``.xlsx`` or ``.parquet``
    suffix, in any letter case (``Spells.CSV`` is the spells extract); other files are ignored. Two files
    for one kind (``spells.csv`` and ``spells.xlsx``) are an
    :class:`~evaltoolkit.errors.ExtractValidationError`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "spells.csv").write_text("spell_id\\n")
    >>> _ = (folder / "SITES.CSV").write_text("site\\n")
    >>> _ = (folder / "notes.txt").write_text("hello")
    >>> {kind: path.name for kind, path in find_extract_files(folder).items()}
    {'spells': 'spells.csv', 'sites': 'SITES.CSV'}
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingInputError(f"extract folder {folder} does not exist")
    out: dict[str, Path] = {}
    for stem in (*SCHEMAS, "sites"):
        path = _find(folder, stem)
        if path is not None:
            out[stem] = path
    return out


def load_extracts(
    folder: str | Path,
    *,
    mappings: Mapping[str, Any] | str | Path | None = None,
    window: tuple[Any, Any] | None = None,
    sites: Iterable[Any] | pd.DataFrame | None = None,
    max_open_days: float | None = None,
    on_invalid: Literal["raise", "exclude"] = "raise",
    sources: Mapping[str, Any] | None = None,
) -> dict[str, CleanExtract]:
    """Read and clean every extract in a folder.

    Parameters
    ----------
    folder : str or pathlib.Path
        Folder with files named by kind: ``attendances``, ``spells``, ``population``, ``cohort``,
        ``rom_responses``, ``staff_survey`` (and optionally ``sites``), each ``.csv``, ``.xlsx`` or
        ``.parquet``.
    mappings : dict, str or pathlib.Path, optional
        Column mappings keyed by kind (``{"spells": {"ADMIDATE": "admitted"}}``), or a JSON/YAML file
        holding them.
    window : tuple, optional
        ``(start, extract_date)`` for ``outside_window`` and the open-spell rules.
    sites : iterable of str or pandas.DataFrame, optional
        Known site codes. Default: the ``site`` column of the folder's sites file, if there is one.
    max_open_days : float, optional
        Threshold for ``stale_open_spell``.
    on_invalid : {"raise", "exclude"}, default "raise"
        Passed to :func:`~evaltoolkit.data.clean_extract`.
    sources : dict, optional
        ``{kind: data-source keys}`` (as under ``data.sources`` in a protocol: ``file`` (names, globs or
        a list), ``preset``, ``columns``, ``sheet``, ``date_format``...; see :func:`read_source`). When
        given, these kinds are read with :func:`load_source` instead of the files named by kind (and
        ``mappings`` is not used for them); a ``sites`` source gives the site list.

    Returns
    -------
    dict
        ``{kind: CleanExtract}`` for the extracts found, in schema order (the sites file is used for
        the site list only; read it with :func:`~evaltoolkit.data.read_sites`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "sites.csv").write_text("site,site_name\\nA,Alpha\\n")
    >>> text = "site,period,population\\nA,2023-01-01,500\\nB,2023-01-01,9\\n"
    >>> _ = (folder / "population.csv").write_text(text)
    >>> extracts = load_extracts(folder)
    >>> extracts["population"].n_output
    2
    """
    if sources:
        unknown = sorted(set(sources) - {*SCHEMAS, "sites"})
        if unknown:
            raise ValueError(
                f"sources has unknown extract kinds {unknown}; expected some of {sorted(SCHEMAS)}"
            )
        if sites is None and "sites" in sources:
            site_files = source_files(_source_options(sources["sites"])["file"], folder)
            sites = read_sites(site_files[0])
        out_sources: dict[str, CleanExtract] = {}
        for kind in (k for k in SCHEMAS if k in sources):
            out_sources[kind] = load_source(
                kind,
                sources[kind],
                folder,
                sites=sites if kind in ("attendances", "spells", "population") else None,
                window=window,
                max_open_days=max_open_days,
                on_invalid=None if on_invalid == "raise" else on_invalid,  # else the source's own key
            )
        return out_sources
    files = find_extract_files(folder)
    kinds = [k for k in SCHEMAS if k in files]
    if not kinds:
        raise MissingInputError(
            f"no extract files in {folder}; expected files named {sorted(SCHEMAS)} with a .csv, .xlsx or "
            ".parquet suffix"
        )
    if isinstance(mappings, str | Path):
        mapping_source: Mapping[str, Any] = {k: load_mapping(mappings, k) for k in kinds}
    else:
        mapping_source = dict(mappings or {})
        unknown = sorted(set(mapping_source) - set(SCHEMAS))
        if unknown:
            raise ColumnMappingError(
                f"mappings has unknown extract kinds {unknown}; expected some of {sorted(SCHEMAS)}"
            )
    if sites is None and "sites" in files:
        sites = read_sites(files["sites"])
    out: dict[str, CleanExtract] = {}
    for kind in kinds:
        df = read_extract(files[kind], kind, mapping=mapping_source.get(kind))
        try:
            out[kind] = clean_extract(
                df, kind, sites=sites, window=window, max_open_days=max_open_days, on_invalid=on_invalid
            )
        except ExtractValidationError as exc:
            text = _with_files(str(exc), [files[kind]])
            if text == str(exc):
                raise
            raise ExtractValidationError(text, exc.problems) from exc
    return out


_CLEAN_HEAD = " problem(s) to fix before it can be cleaned ("


def _with_files(text: str, files: list[Path]) -> str:
    """A clean_extract error message naming the file(s) the rows came from."""
    if not files or _CLEAN_HEAD not in text:
        return text
    names = ", ".join(p.name for p in files)
    return text.replace(_CLEAN_HEAD, f"{_CLEAN_HEAD}{'files' if len(files) > 1 else 'file'} {names}; ", 1)


def reading_by_kind(
    options: Mapping[str, Any], kinds: Iterable[str], *, option: str = "date_format"
) -> dict[str, dict[str, Any]]:
    """Reading options given once for a folder, as each extract kind of the folder takes them.

    A ``date_format`` mapping ``{column: layout}`` names the date columns of every extract in the
    folder; each kind gets the layouts of its own columns only (the others are ISO 8601). A single
    layout applies to every date column of every kind. Other options are passed on unchanged.

    Parameters
    ----------
    options : mapping
        Data-source keys such as ``date_format``, ``timezone``, ``encoding``, ``delimiter``.
    kinds : iterable of str
        The extract kinds found in the folder (``sites`` is ignored).
    option : str, default "date_format"
        How the date format was given, for messages (e.g. ``"--date-format"``).

    Raises
    ------
    ColumnMappingError
        The mapping names a column that is not a date column of any of ``kinds``.

    Examples
    --------
    >>> opts = {"date_format": {"arrival": "%d/%m/%Y", "admitted": "%d/%m/%Y"}, "timezone": "UTC"}
    >>> got = reading_by_kind(opts, ["attendances", "spells", "population"])
    >>> got["attendances"]
    {'date_format': {'arrival': '%d/%m/%Y'}, 'timezone': 'UTC'}
    >>> got["spells"]["date_format"]
    {'admitted': '%d/%m/%Y'}
    >>> got["population"]
    {'timezone': 'UTC'}
    """
    from evaltoolkit.data.read import check_layouts

    check_layouts(options.get("date_format"), option)
    kinds = [k for k in kinds if k in SCHEMAS]
    date_cols = {k: [c.name for c in SCHEMAS[k].columns if c.type in ("datetime", "date")] for k in kinds}
    layouts = options.get("date_format")
    if isinstance(layouts, Mapping):
        known = {c for cols in date_cols.values() for c in cols}
        unknown = [str(c) for c in layouts if c not in known]
        if unknown:
            listed = "; ".join(f"{k}: {', '.join(cols) or 'none'}" for k, cols in date_cols.items())
            raise ColumnMappingError(
                f"{option} names {', '.join(map(repr, unknown))}, which "
                f"{'is not a date column' if len(unknown) == 1 else 'are not date columns'} of any extract "
                f"here (date columns by extract: {listed}); name the columns by their canonical names"
            )
    out: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        mine = {k: v for k, v in options.items() if k != "date_format"}
        if isinstance(layouts, Mapping):
            own = {c: f for c, f in layouts.items() if c in date_cols[kind]}
            if own:
                mine = {"date_format": own, **mine}
        elif layouts is not None:
            mine = {"date_format": layouts, **mine}
        out[kind] = mine
    return out


# -- one protocol-style data source -----------------------------------------------------------------------
SOURCE_KEYS = (
    "file",
    "preset",
    "columns",
    "item_map",
    "sheet",
    "sheet_column",
    "header_row",
    "encoding",
    "delimiter",
    "date_format",
    "timezone",
    "date_time",
    "values",
    "site_aliases",
    "where",
    "population",
    "on_invalid",
)
"""Keys of a data source (``data.sources.<kind>`` in a protocol; see
``evaltoolkit.protocol.DataSource``)."""

FILE_COLUMN = "source_file"
"""Column naming the file each row came from, when a source has several files."""

_GLOB = set("*?[")


def _source_options(source: Any) -> dict[str, Any]:
    if hasattr(source, "model_dump"):
        opts = source.model_dump()
    elif isinstance(source, str | Path):
        opts = {"file": str(source)}
    elif isinstance(source, Mapping):
        opts = dict(source)
        unknown = sorted(set(opts) - set(SOURCE_KEYS))
        if unknown:
            raise ValueError(f"unknown data-source keys {unknown}; keys are {', '.join(SOURCE_KEYS)}")
    else:
        raise TypeError(f"a data source is a file name or a mapping of keys, not {type(source).__name__}")
    if not opts.get("file"):
        raise ValueError("a data source needs a file (name, glob pattern or list)")
    return opts


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def source_files(file: str | list[str], folder: str | Path) -> list[Path]:
    """The files of a data source: names and glob patterns (``spells_*.csv``) relative to ``folder``.

    Patterns expand to the matching files in name order; a pattern that matches nothing and a plain name
    are returned as given (so a missing file is reported by name). Repeated files are listed once.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("spells_2023.csv", "spells_2022.csv", "notes.txt"):
    ...     _ = (folder / name).write_text("x")
    >>> [p.name for p in source_files(["spells_*.csv", "spells_2022.csv"], folder)]
    ['spells_2022.csv', 'spells_2023.csv']
    """
    folder = Path(folder)
    names = [file] if isinstance(file, str) else list(file)
    out: list[Path] = []
    for name in names:
        if _GLOB & set(name):
            matched = sorted(p for p in folder.glob(name) if p.is_file())
            out.extend(matched if matched else [folder / name])
        else:
            path = Path(name)
            out.append(path if path.is_absolute() else folder / path)
    return list(dict.fromkeys(out))


def _row_refs(files: pd.Series, rows: pd.Series) -> str:
    parts: dict[str, list[int]] = {}
    for f, r in zip(files, rows, strict=True):
        parts.setdefault(str(f), []).append(int(r))
    return "; ".join(f"{f} rows {format_rows(r)}" for f, r in parts.items())


def _finding(
    rule: str, column: str, n_rows: int, n_excluded: int, rows: str, action: str, detail: str
) -> Finding:
    return Finding(
        rule, column, "fixable", n_rows, n_excluded, rows, action, detail, f"{n_rows} rows: {detail}"
    )


@dataclass(frozen=True, eq=False)
class SourceRead:
    """A data source read, stacked and mapped, before cleaning.

    Attributes
    ----------
    data : pandas.DataFrame
        Canonical, typed columns (see :func:`~evaltoolkit.data.read_extract`) plus ``source_row`` and,
        with several files, ``source_file``.
    findings : list of Finding
        What reading changed or removed (``duplicate_across_files``, ``where_filter``, value maps...),
        for the data-quality table.
    files : tuple of pathlib.Path
        The files read.
    n_input : int
        Rows read from all files and sheets together (blank rows not counted).
    """

    data: pd.DataFrame
    findings: list[Finding]
    files: tuple[Path, ...]
    n_input: int
    date_format: Any = None
    """The layout(s) the date columns were read with (``date_format`` less the ``date_time`` columns)."""
    timezone: str | None = None
    """The zone offsets were converted to."""


def read_source(
    kind: str,
    source: Any,
    folder: str | Path = ".",
    *,
    window: tuple[Any, Any] | None = None,
    advice: str | None = None,
) -> SourceRead:
    """Read one data source: its file(s) and sheet(s), stacked, mapped and typed (not yet cleaned).

    Parameters
    ----------
    kind : str
        Extract kind (``attendances``, ``spells``, ``population``, ``cohort``, ``rom_responses``,
        ``staff_survey``).
    source : mapping, DataSource, str or Path
        The data-source keys (:data:`SOURCE_KEYS`; see ``evaltoolkit.protocol.DataSource``), or
        just a file name.
    folder : str or Path
        Folder that file names are relative to.
    window : tuple, optional
        ``(start, extract_date)``: the months an annual population is spread over.
    advice : str, optional
        ``"protocol:<kind>"`` or ``"cli"``, so messages name protocol keys or CLI options.

    Steps, in order: read each file (and sheet) → stack (``source_file``) → exclude rows repeated in
    another file (``duplicate_across_files``) → join date and time columns (``date_time``) → rename
    (``preset``, ``columns``, ``item_map``) → site aliases → value maps → ``where`` → annual population
    to months → parse types (``date_format``, ``timezone``). Every step that changes or removes rows
    adds a finding with its counts.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "pop_2023.csv").write_text("Site;Month;Pop\\nA;2023-01-01;500\\n")
    >>> _ = (folder / "pop_2024.csv").write_text("Site;Month;Pop\\nA;2023-01-01;500\\nA;2024-01-01;510\\n")
    >>> got = read_source("population", {"file": "pop_*.csv",
    ...                   "columns": {"Site": "site", "Month": "period", "Pop": "population"}}, folder)
    >>> got.n_input, len(got.data), [(f.rule, f.n_rows, f.n_excluded) for f in got.findings]
    (3, 2, [('rows_read', 3, 0), ('duplicate_across_files', 1, 1)])
    >>> got.findings[0].detail
    'data rows read, by file and sheet: pop_2023.csv: 1; pop_2024.csv: 2'
    """
    from evaltoolkit.data.mapping import apply_mapping, item_columns
    from evaltoolkit.data.presets import apply_preset
    from evaltoolkit.data.read import _option_name, check_layouts, read_extract, read_table

    get_schema(kind)  # an unknown kind is an error listing the kinds
    opts = _source_options(source)
    check_layouts(opts.get("date_format"), _option_name("date_format", advice))
    files = source_files(opts["file"], folder)
    parts = []
    counts: list[str] = []
    for path in files:
        part = read_table(
            path,
            sheet=opts.get("sheet"),
            encoding=opts.get("encoding") or "utf-8-sig",
            header_row=opts.get("header_row"),
            delimiter=opts.get("delimiter"),
            sheet_column=opts.get("sheet_column"),
            advice=advice,
        )
        if len(files) > 1:
            if FILE_COLUMN in part.columns:
                raise ExtractValidationError(f"{path.name}: already has a column {FILE_COLUMN!r}; rename it")
            part[FILE_COLUMN] = path.name
        sheet_col = opts.get("sheet_column") or "source_sheet"
        if path.suffix.lower() == ".xlsx" and sheet_col in part.columns:
            by_sheet = part[sheet_col].value_counts(sort=False)
            counts += [f"{path.name} sheet {name!r}: {n}" for name, n in by_sheet.items()]
        else:
            counts.append(f"{path.name}: {len(part)}")
        parts.append(part)
    gaps: dict[str, list[str]] = {}
    gap_rows: dict[str, int] = {}
    for part in parts:
        gaps.update(part.attrs.get("column_gaps", {}))
        gap_rows.update(part.attrs.get("column_gap_rows", {}))
        part.attrs = {}
    raw = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if len(parts) > 1:
        every = [c for c in raw.columns if c not in (ROW_COLUMN, FILE_COLUMN)]
        for path, part in zip(files, parts, strict=True):
            lacking = [c for c in every if c not in part.columns]
            if lacking:
                gaps[path.name] = lacking
                gap_rows[path.name] = len(part)
    n_input = len(raw)
    findings: list[Finding] = [
        _finding(
            "rows_read", "all columns", n_input, 0, "", "read (blank rows not counted)",
            "data rows read, by file and sheet: " + "; ".join(counts),
        )
    ]  # fmt: skip
    if gaps:
        findings.append(
            _finding(
                "columns_differ",
                ", ".join(sorted({c for cols in gaps.values() for c in cols})),
                sum(gap_rows[k] for k in gaps),
                0,
                "",
                "left empty in the rows of the files or sheets without the column; rows kept",
                "files or sheets stacked with different columns: "
                + "; ".join(f"{k} has no {', '.join(map(str, v))}" for k, v in gaps.items()),
            )
        )
    if len(files) > 1:
        data_cols = [c for c in raw.columns if c not in (ROW_COLUMN, FILE_COLUMN)]
        # rows compared as text (a CSV and a workbook of the same data agree), missing values equal
        key = pd.util.hash_pandas_object(raw[data_cols].astype("string").fillna("\x00"), index=False)
        first_file = raw[FILE_COLUMN].groupby(key.to_numpy()).transform("first")
        across = (raw[FILE_COLUMN] != first_file).to_numpy(dtype=bool)
        findings.append(
            _finding(
                "duplicate_across_files",
                "all columns",
                int(across.sum()),
                int(across.sum()),
                _row_refs(raw.loc[across, FILE_COLUMN], raw.loc[across, ROW_COLUMN]) if across.any() else "",
                "excluded (the copy in the first file kept)",
                f"identical in every column to a row of an earlier file ({', '.join(p.name for p in files)})",
            )
        )
        raw = raw.loc[~across].reset_index(drop=True)
    opts = apply_preset(opts, kind, present=[str(c) for c in raw.columns])
    frame, found = _transforms_before_mapping(raw, opts)
    findings += found
    mapping = dict(opts.get("columns") or {})
    items = item_columns(opts["item_map"], [str(c) for c in frame.columns]) if opts.get("item_map") else {}
    mapping.update(items)
    if items:
        shown = ", ".join(f"{a}→{b}" for a, b in list(items.items())[:4]) + (
            ", ..." if len(items) > 4 else ""
        )
        findings.append(
            _finding(
                "item_map",
                ", ".join(items.values()),
                0,
                0,
                "",
                "renamed (values unchanged)",
                f"item columns {shown}",
            )
        )
    frame = apply_mapping(frame, kind, mapping)
    n_before = len(frame)
    frame, found = _transforms_after_mapping(frame, opts, kind, window)
    findings += found
    if opts.get("population"):
        # annual rows became site-months: the table's identity is over the monthly rows from here on
        # (the annual rows are counted by population_interpolated)
        n_input += len(frame) - (n_before - sum(f.n_excluded for f in found))
    date_format = opts.get("date_format")
    if isinstance(date_format, Mapping):  # joined columns are date-times already
        date_format = {c: f for c, f in date_format.items() if c not in (opts.get("date_time") or {})} or None
    if opts.get("timezone"):
        findings.append(_timezone_finding(frame, kind, date_format, opts["timezone"]))
    data = read_extract(
        frame,
        kind,
        date_format=date_format,
        **({"timezone": opts["timezone"]} if opts.get("timezone") else {}),
    )
    return SourceRead(
        data=data,
        findings=findings,
        files=tuple(files),
        n_input=n_input,
        date_format=opts.get("date_format"),  # with the layouts of joined columns, for messages
        timezone=opts.get("timezone") or None,
    )


def _date_layout(opts: Mapping[str, Any], target: str) -> str | None:
    fmt = opts.get("date_format")
    if isinstance(fmt, Mapping):
        return fmt.get(target)
    return fmt


def _timezone_finding(frame: pd.DataFrame, kind: str, date_format: Any, timezone: str) -> Finding:
    """``timezone_converted``: date-times whose offset was converted to ``timezone`` (counted per column)."""
    from evaltoolkit.data.parse import parse_frame
    from evaltoolkit.schemas import get_schema

    converted: dict[str, int] = {}
    parse_frame(frame, get_schema(kind), date_format=date_format, timezone=timezone, tz_converted=converted)
    n = sum(converted.values())
    per_column = ", ".join(f"{c} {k}" for c, k in converted.items() if k) or "none"
    return _finding(
        "timezone_converted",
        ", ".join(converted) or "date columns",
        n,
        0,
        "",
        f"converted to {timezone} wall time, then the offset dropped; rows kept",
        f"date-times with a time-zone offset converted to {timezone} (per column: {per_column})",
    )


def _row_places(data: pd.DataFrame, message: str) -> str:
    """For an error on stacked files or sheets: the files/sheets holding the row numbers in ``message``."""
    import re

    place_cols = [c for c in (FILE_COLUMN, "source_sheet") if c in data.columns]
    numbers = {int(n) for n in re.findall(r"\b(\d+)\b", message)} & set(data[ROW_COLUMN].astype(int))
    if not place_cols or not numbers:
        return "the source_file / sheet columns say which"
    hits = data[data[ROW_COLUMN].isin(sorted(numbers)[:10])]
    labels = hits[place_cols].astype(str).agg(" ".join, axis=1)
    pairs = sorted({(int(r), lab) for r, lab in zip(hits[ROW_COLUMN], labels, strict=True)})
    return "; ".join(f"row {r}: {lab}" for r, lab in pairs[:10])


def _transforms_before_mapping(
    df: pd.DataFrame, opts: Mapping[str, Any]
) -> tuple[pd.DataFrame, list[Finding]]:
    """``date_time``: join a date column and a time column into one date-time (file column names).

    The layout of the date column is ``date_format`` (one layout, or the entry for the joined column).
    """
    found: list[Finding] = []
    joins = opts.get("date_time") or {}
    if not joins:
        return df, found
    from evaltoolkit.data.transform import join_date_time

    for target, cols in joins.items():
        if len(cols) != 2:
            raise ValueError(
                f"date_time.{target} must list two columns: [date column, time column], not {cols}"
            )
        before = df
        df, more = join_date_time(
            df,
            target,
            cols[0],
            cols[1],
            date_format=_date_layout(opts, target),
            timezone=opts.get("timezone"),
        )
        found += more
        df = _record_join_failures(before, df, target, (cols[0], cols[1]), opts)
    return df, found


def _record_join_failures(
    before: pd.DataFrame, joined: pd.DataFrame, target: str, cols: tuple[str, str], opts: Mapping[str, Any]
) -> pd.DataFrame:
    """Rows whose date (or time) could not be read for a ``date_time`` join: their text is recorded in
    ``source_unparseable`` so that validation reports them as unparseable, with an example, not as empty.

    An unreadable date is recorded as its own text (so the message compares it with the date layout);
    a readable date with an unreadable time as ``date time``."""
    import json

    from evaltoolkit.data._common import UNPARSEABLE_COLUMN
    from evaltoolkit.data.parse import _check_format, _parse_datetime, _present

    date, time = cols
    has_date = _present(before[date]).to_numpy()
    failed = has_date & joined[target].isna().to_numpy()
    if not failed.any():
        return joined
    fmt = _check_format(_date_layout(opts, target))
    dates, _ = _parse_datetime(before[date], fmt, opts.get("timezone"))
    date_ok = dates.notna().to_numpy()
    texts = [
        json.dumps({target: str(d).strip() + (f" {str(t).strip()}" if ok else "")}, ensure_ascii=False)
        for d, t, ok in zip(before.loc[failed, date], before.loc[failed, time], date_ok[failed], strict=True)
    ]
    out = joined.copy()
    record = pd.Series(np.nan, index=out.index, dtype=object)
    record[failed] = texts
    if UNPARSEABLE_COLUMN in out.columns:
        from evaltoolkit.data.read import _merge_records

        record = _merge_records(out[UNPARSEABLE_COLUMN], record)
    out[UNPARSEABLE_COLUMN] = record
    return out


def _transforms_after_mapping(
    df: pd.DataFrame, opts: Mapping[str, Any], kind: str, window: tuple[Any, Any] | None
) -> tuple[pd.DataFrame, list[Finding]]:
    """Site aliases, value maps, ``where`` filters and annual populations (canonical column names)."""
    from evaltoolkit.data.transform import apply_site_aliases, filter_rows, map_values

    found: list[Finding] = []
    if opts.get("site_aliases"):
        df, more = apply_site_aliases(df, opts["site_aliases"])
        found += more
    for column, mapping in (opts.get("values") or {}).items():
        df, more = map_values(df, column, mapping)
        found += more
    if opts.get("where"):
        df, more = filter_rows(df, opts["where"])
        found += more
    if opts.get("population"):
        if kind != "population":
            raise ValueError(f"the population key applies to the population source, not {kind}")
        df, more = _monthly(df, dict(opts["population"]), window)
        found += more
    return df, found


def _monthly(
    df: pd.DataFrame, spec: dict[str, Any], window: tuple[Any, Any] | None
) -> tuple[pd.DataFrame, list[Finding]]:
    """Annual estimates → one row per site and month of the window (whole persons)."""
    from evaltoolkit.data.population import monthly_population

    start, end = window if window is not None else (None, None)
    monthly, found = monthly_population(
        df,
        year=spec.get("year", "year"),
        reference=spec.get("reference", "06-30"),
        extrapolate=spec.get("extrapolate", "constant"),
        start=start,
        end=end,
        with_findings=True,
    )  # type: ignore[misc]
    monthly = monthly.copy()
    monthly["population"] = monthly["population"].round().astype("int64")
    monthly[ROW_COLUMN] = np.arange(2, 2 + len(monthly), dtype="int64")
    annual = _finding(
        "annual_population",
        "population",
        len(df),
        0,
        "",
        "turned into monthly denominators (rounded to whole persons)",
        f"{len(df)} annual estimates became {len(monthly)} site-months; from here on the table counts "
        "site-months",
    )
    return monthly, [annual, *found]


def load_source(
    kind: str,
    source: Any,
    folder: str | Path = ".",
    *,
    sites: Iterable[Any] | pd.DataFrame | None = None,
    window: tuple[Any, Any] | None = None,
    max_open_days: float | None = None,
    on_invalid: Literal["raise", "exclude"] | None = None,
    advice: str | None = None,
) -> CleanExtract:
    """Read (:func:`read_source`) and clean (:func:`~evaltoolkit.data.clean_extract`) one data source.

    The data-quality table starts with the reading steps (``duplicate_across_files``, ``where_filter``,
    value maps, site aliases...) followed by the cleaning rules, and accounts for every row read from
    every file and sheet: ``n_input = n_output + quality["n_excluded"].sum()``. ``on_invalid``
    (default: the source's ``on_invalid`` key, else ``"raise"``) is passed to
    :func:`~evaltoolkit.data.clean_extract`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.csv").write_text("site,period,population\\nA,2023-01-01,5\\nA,2023-01-01,5\\n")
    >>> _ = (folder / "b.csv").write_text("site,period,population\\nA,2023-01-01,5\\nA,2023-02-01,6\\n")
    >>> clean = load_source("population", {"file": ["a.csv", "b.csv"]}, folder)
    >>> clean.n_input, clean.n_output, clean.quality.set_index("rule")["n_excluded"].head(3).to_dict()
    (4, 2, {'rows_read': 0, 'duplicate_across_files': 1, 'exact_duplicate': 1})
    """
    got = read_source(kind, source, folder, window=window, advice=advice)
    return _clean_source(
        got,
        kind,
        source,
        sites=sites,
        window=window,
        max_open_days=max_open_days,
        on_invalid=on_invalid,
        advice=advice,
    )


def _clean_source(
    got: SourceRead,
    kind: str,
    source: Any,
    *,
    sites: Iterable[Any] | pd.DataFrame | None = None,
    window: tuple[Any, Any] | None = None,
    max_open_days: float | None = None,
    on_invalid: Literal["raise", "exclude"] | None = None,
    advice: str | None = None,
) -> CleanExtract:
    """Clean a source already read by :func:`read_source` (the second half of :func:`load_source`).

    The reading findings come first in the data-quality table, then the cleaning rules; the arguments
    are those of :func:`load_source`.
    """
    if on_invalid is None:
        on_invalid = _source_options(source).get("on_invalid") or "raise"
    try:
        cleaned = clean_extract(
            got.data,
            kind,
            sites=sites,
            window=window,
            max_open_days=max_open_days,
            on_invalid=on_invalid,
            date_format=got.date_format,  # so messages about unreadable dates know the layout
            timezone=got.timezone,
        )
    except ExtractValidationError as exc:
        text = str(exc)
        if advice is not None and advice.startswith("protocol:"):
            text = text.replace(
                "pass on_invalid='exclude' to clean_extract",
                f"set data.sources.{kind}.on_invalid: exclude in the protocol",
            )
        text = _with_files(text, list(got.files))
        stacked = len(got.files) > 1 or any(
            f.rule == "rows_read" and " sheet " in f.detail for f in got.findings
        )
        if stacked:
            problems = exc.problems
            listed = " ".join(map(str, problems["rows"])) if isinstance(problems, pd.DataFrame) else ""
            places = _row_places(got.data, listed)
            text += f"\nRow numbers are spreadsheet rows of their own file or sheet ({places})."
        if text == str(exc):
            raise
        raise ExtractValidationError(text, exc.problems) from exc
    quality = combine_quality(quality_table(got.findings, kind), cleaned.quality)
    n_removed = int(quality["n_excluded"].sum())
    if got.n_input != cleaned.n_output + n_removed:  # pragma: no cover - internal invariant
        raise AssertionError(
            f"{kind}: {got.n_input} rows in != {cleaned.n_output} out + {n_removed} excluded"
        )
    return CleanExtract(
        data=cleaned.data,
        quality=quality,
        n_input=got.n_input,
        n_output=cleaned.n_output,
        kind=kind,
        files=got.files,
    )
