"""Column mappings: user column names → canonical names from :mod:`evaltoolkit.schemas`."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from evaltoolkit.errors import ColumnMappingError
from evaltoolkit.schemas import SCHEMAS, ExtractSchema, get_schema

__all__ = ["apply_mapping", "item_columns", "load_mapping", "parse_item_map", "suggest_mapping"]


def load_mapping(source: Mapping[str, Any] | str | Path | None, kind: str | None = None) -> dict[str, str]:
    """Return a flat mapping ``{user name: canonical name}``.

    Parameters
    ----------
    source : dict, str or pathlib.Path, optional
        A mapping, or the path of a JSON (``.json``) or YAML (``.yml``/``.yaml``) file holding one.
        The file (or dict) may be flat, or keyed by extract kind (``{"attendances": {...}, "spells":
        {...}}``), in which case the entry for ``kind`` is used (an empty mapping if absent).
    kind : str, optional
        Extract kind, used to pick the entry from a mapping keyed by kind.

    Returns
    -------
    dict
        ``{user column name: canonical column name}``.

    Examples
    --------
    >>> load_mapping({"spells": {"ADMIDATE": "admitted"}, "attendances": {"EC_Ident": "attendance_id"}},
    ...              kind="spells")
    {'ADMIDATE': 'admitted'}
    >>> load_mapping(None)
    {}
    """
    if source is None:
        return {}
    if isinstance(source, str | Path):
        data = _read_mapping_file(Path(source))
    elif isinstance(source, Mapping):
        data = dict(source)
    else:
        raise ColumnMappingError(
            f"mapping must be a dict or a JSON/YAML file path, got {type(source).__name__}"
        )
    nested = [k for k, v in data.items() if isinstance(v, Mapping)]
    if nested:
        unknown = sorted(set(nested) - set(SCHEMAS))
        if unknown or len(nested) != len(data):
            raise ColumnMappingError(
                f"mapping mixes extract kinds and column names, or names unknown kinds {unknown}; "
                f"use either a flat {{user column: canonical column}} mapping or one keyed by kind "
                f"({sorted(SCHEMAS)})"
            )
        data = dict(data.get(kind, {})) if kind is not None else {}
    bad = {k: v for k, v in data.items() if not isinstance(v, str)}
    if bad:
        raise ColumnMappingError(f"mapping targets must be column names (text); got {bad}")
    return {str(k): v for k, v in data.items()}


def _read_mapping_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ColumnMappingError(f"mapping file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ColumnMappingError(f"mapping file {path} is not valid JSON: {exc}") from exc
    elif suffix in (".yml", ".yaml"):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ColumnMappingError("reading a YAML mapping needs PyYAML; use a JSON file instead") from exc
        from evaltoolkit._yaml import safe_load

        try:
            data = safe_load(text)
        except yaml.YAMLError as exc:
            raise ColumnMappingError(f"mapping file {path} is not valid YAML: {exc}") from exc
    else:
        raise ColumnMappingError(f"mapping file {path} must end in .json, .yml or .yaml")
    if not isinstance(data, dict):
        raise ColumnMappingError(f"mapping file {path} must hold a mapping of column names")
    return data


def _is_canonical(name: str, schema: ExtractSchema) -> bool:
    if name in schema.names:
        return True
    return any(name.startswith(f"{p}_") for p in schema.item_prefixes)


def apply_mapping(df: pd.DataFrame, kind: str, mapping: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Rename user columns to canonical names (returns a copy; extra columns are kept).

    Column names are converted to text and stripped of surrounding spaces first.

    Raises
    ------
    ColumnMappingError
        If the mapping names a column that is not in ``df``, maps to a name that is not a canonical
        column of ``kind``, or would create duplicate column names. All mistakes are listed at once.

    Examples
    --------
    >>> raw = pd.DataFrame({"EC_Ident": ["a1"], "Arrival": ["2023-01-01 10:00"], "note": ["x"]})
    >>> mapping = {"EC_Ident": "attendance_id", "Arrival": "arrival"}
    >>> apply_mapping(raw, "attendances", mapping).columns.tolist()
    ['attendance_id', 'arrival', 'note']
    """
    schema = get_schema(kind)
    out = df.copy()
    out.columns = [str(c).strip() for c in out.columns]
    mapping = {str(k).strip(): v.strip() for k, v in (mapping or {}).items()}
    mistakes: list[str] = []
    missing = [k for k in mapping if k not in out.columns]
    for name in missing:
        close = difflib.get_close_matches(name, list(out.columns), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        mistakes.append(f"mapping names column {name!r}, which is not in the extract{hint}")
    for user, target in mapping.items():
        if not _is_canonical(target, schema):
            close = difflib.get_close_matches(target, schema.names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            mistakes.append(
                f"mapping sends {user!r} to {target!r}, which is not a canonical {kind} column{hint}; "
                f"canonical columns are {schema.names}"
            )
    renamed = [mapping.get(c, c) for c in out.columns]
    dupes = sorted({c for c in renamed if renamed.count(c) > 1})
    for name in dupes:
        sources = [c for c in out.columns if mapping.get(c, c) == name]
        mistakes.append(f"columns {sources} would all be called {name!r} after mapping; keep only one")
    if mistakes:
        raise ColumnMappingError(
            f"column mapping for {kind} has {len(mistakes)} problem(s):\n"
            + "\n".join(f"  - {m}" for m in mistakes)
            + f"\ncolumns in the extract: {list(out.columns)}"
        )
    out.columns = renamed
    return out


def suggest_mapping(columns: list[str], kind: str) -> dict[str, str]:
    """Suggest a mapping for columns that match canonical names ignoring case, spaces and underscores.

    Examples
    --------
    >>> suggest_mapping(["Spell ID", "ADMITTED", "Other"], "spells")
    {'Spell ID': 'spell_id', 'ADMITTED': 'admitted'}
    """
    schema = get_schema(kind)

    def key(name: str) -> str:
        return "".join(ch for ch in str(name).lower() if ch.isalnum())

    canonical = {key(n): n for n in schema.names}
    out: dict[str, str] = {}
    for col in columns:
        target = canonical.get(key(col))
        if target is not None and target != col and target not in columns:
            out[col] = target
    return out


def parse_item_map(text: str) -> dict[str, str]:
    """Parse an item map written on the command line: ``"Q1=core10_1,Q2=core10_2"`` or ``"Q{n}=core10_{n}"``.

    Raises
    ------
    ColumnMappingError
        An entry is not ``your column=item column``.

    Examples
    --------
    >>> parse_item_map("Q1=core10_1, Q2=core10_2")
    {'Q1': 'core10_1', 'Q2': 'core10_2'}
    >>> parse_item_map("Q{n}=core10_{n}")
    {'Q{n}': 'core10_{n}'}
    """
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        theirs, sep, ours = part.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise ColumnMappingError(
                f"item map entry {part!r} must be 'your column=item column', e.g. Q1=core10_1 or "
                "Q{n}=core10_{n}"
            )
        out[theirs.strip()] = ours.strip()
    if not out:
        raise ColumnMappingError(
            "the item map is empty; write e.g. Q1=core10_1,Q2=core10_2 or Q{n}=core10_{n}"
        )
    return out


def item_columns(item_map: Mapping[str, str], columns: list[str]) -> dict[str, str]:
    """Expand an item map against a file's columns: ``{your column: item column}``.

    Entries are either one column (``{"Q1": "core10_1"}``) or a pattern with ``{n}`` standing for the
    item number on both sides (``{"Q{n}": "core10_{n}"}``: ``Q1``..``Q10`` → ``core10_1``..``core10_10``).

    Raises
    ------
    ColumnMappingError
        A pattern matches no column, only one side has ``{n}``, or a named column is not in the file.

    Examples
    --------
    >>> item_columns({"Q{n}": "core10_{n}"}, ["ID", "Q1", "Q2", "Q10", "Qx"])
    {'Q1': 'core10_1', 'Q2': 'core10_2', 'Q10': 'core10_10'}
    """
    out: dict[str, str] = {}
    problems: list[str] = []
    for theirs, ours in item_map.items():
        if ("{n}" in theirs) != ("{n}" in ours):
            problems.append(
                f"{theirs!r}: {ours!r}: write {{n}} on both sides (e.g. 'Q{{n}}': 'core10_{{n}}')"
            )
            continue
        if "{n}" in theirs:
            pattern = re.compile("^" + re.escape(theirs).replace(re.escape("{n}"), r"0*(\d+)") + "$")
            matched = {c: pattern.match(str(c)) for c in columns}
            found = {c: ours.replace("{n}", m.group(1)) for c, m in matched.items() if m is not None}
            if not found:
                problems.append(f"pattern {theirs!r} matches no column; columns are {list(columns)}")
            out.update(found)
        elif theirs not in columns:
            close = difflib.get_close_matches(theirs, [str(c) for c in columns], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"item map names column {theirs!r}, which is not in the file{hint}")
        else:
            out[theirs] = ours
    if problems:
        raise ColumnMappingError("item map problems:\n" + "\n".join(f"  - {p}" for p in problems))
    return out
