"""Load and clean every extract found in a folder."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evaltoolkit.data.clean import CleanExtract, clean_extract
from evaltoolkit.data.mapping import load_mapping
from evaltoolkit.data.read import SUFFIXES, read_extract, read_sites
from evaltoolkit.errors import ColumnMappingError, ExtractValidationError, MissingInputError
from evaltoolkit.schemas import SCHEMAS

__all__ = ["find_extract_files", "load_extracts"]


def _find(folder: Path, stem: str) -> Path | None:
    wanted = {f"{stem}{suffix}".lower() for suffix in SUFFIXES}
    found = sorted(p for p in folder.iterdir() if p.name.lower() in wanted and p.is_file())
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
        out[kind] = clean_extract(
            df, kind, sites=sites, window=window, max_open_days=max_open_days, on_invalid=on_invalid
        )
    return out
