"""Item columns: resolve names, read values into a float matrix, check them, reverse-key them.

Row numbers in messages follow :mod:`evaltoolkit.data`: spreadsheet rows (header = row 1, first data
row = row 2), taken from the ``source_row`` column when present.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaltoolkit.rom.definition import Instrument
from evaltoolkit.rom.errors import RomInputError

__all__ = [
    "QUALITY_COLUMNS",
    "ROWS_NOTE",
    "ItemMatrix",
    "Items",
    "default_id_columns",
    "format_rows",
    "item_columns",
    "read_items",
    "row_numbers",
]

Items = Mapping[int, str] | Sequence[str] | str | None
"""Item-column spec: None (``<key>_<n>``), ``{item number: column}``, a list in item order, or a
template containing ``{n}`` such as ``"q{n}"``."""

InvalidPolicy = Literal["raise", "missing"]

QUALITY_COLUMNS = [
    "instrument",
    "column",
    "item",
    "problem",
    "n_values",
    "rows",
    "examples",
    "allowed",
    "action",
]
"""Columns of the data-quality table returned by :func:`evaltoolkit.rom.check_responses`."""

_MAX_EXAMPLES = 3

# Same convention as evaltoolkit.data (kept local so importing rom stays light): spreadsheet rows,
# taken from the ``source_row`` column that evaltoolkit.data.read_extract adds.
ROW_COLUMN = "source_row"
ROWS_NOTE = (
    "row numbers are spreadsheet rows: the header is row 1, the first data row is row 2 (for a DataFrame, "
    "position 0)"
)
_MAX_ROWS = 5


def row_numbers(df: pd.DataFrame) -> np.ndarray:
    """Spreadsheet row numbers of ``df`` (from ``source_row`` when present and complete)."""
    if ROW_COLUMN in df.columns:
        rows = pd.to_numeric(df[ROW_COLUMN], errors="coerce")
        if rows.notna().all():
            return rows.to_numpy(dtype="int64")
    return np.arange(2, 2 + len(df), dtype="int64")


def format_rows(rows: np.ndarray) -> str:
    """First few row numbers, ascending, as ``"2, 5, 9"``; ``", ..."`` marks more."""
    arr = np.sort(np.asarray(rows, dtype="int64"))
    text = ", ".join(str(int(r)) for r in arr[:_MAX_ROWS])
    return text + (", ..." if len(arr) > _MAX_ROWS else "")


def item_columns(inst: Instrument, items: Items = None) -> list[str]:
    """Column name of every item, in item order (item 1 first)."""
    n = inst.n_items
    if items is None:
        return [f"{inst.key}_{i}" for i in range(1, n + 1)]
    if isinstance(items, str):
        if "{n}" not in items:
            raise RomInputError(
                f"{inst.key}: an items template must contain '{{n}}', e.g. 'q{{n}}', got {items!r}"
            )
        return [items.format(n=i) for i in range(1, n + 1)]
    if isinstance(items, Mapping):
        keys = sorted(items)
        if keys != list(range(1, n + 1)):
            missing = sorted(set(range(1, n + 1)) - set(items))
            extra = sorted(set(items) - set(range(1, n + 1)), key=str)
            raise RomInputError(
                f"{inst.key}: the items mapping must give a column for every item 1..{n}"
                + (f"; missing items {missing}" if missing else "")
                + (f"; unknown items {extra}" if extra else "")
            )
        cols = [str(items[i]) for i in range(1, n + 1)]
    else:
        cols = [str(c) for c in items]
        if len(cols) != n:
            raise RomInputError(
                f"{inst.key}: items lists {len(cols)} columns but the instrument has {n} items"
            )
    if len(set(cols)) != len(cols):
        raise RomInputError(f"{inst.key}: the same column is given for two items: {cols}")
    return cols


def default_id_columns(df: pd.DataFrame, item_cols: Sequence[str], keys: Sequence[str]) -> list[str]:
    """Columns that are neither item columns here nor ``<key>_<n>`` items of a registered instrument."""
    pattern = re.compile(
        r"^(?:" + "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)) + r")_\d+$"
    )
    skip = set(item_cols)
    return [c for c in df.columns if c not in skip and not (isinstance(c, str) and pattern.match(c))]


@dataclass
class ItemMatrix:
    """Item values as floats (NaN = missing), with what was found on the way."""

    values: np.ndarray  # n_rows × n_items, raw (not reverse-keyed), Fortran order
    columns: list[str]
    quality: list[dict[str, Any]] = field(default_factory=list)
    forced_missing: np.ndarray | None = None  # cells made missing (bad values, missing codes); None if none

    def keyed(self, inst: Instrument, *, inplace: bool = False) -> np.ndarray:
        """Reverse-keyed values (a copy unless ``inplace``): reversed items become ``low + high − x``."""
        out = self.values if inplace else self.values.copy(order="F")
        flip = inst.response.low + inst.response.high
        for item in inst.reverse.items:
            out[:, item - 1] = flip - out[:, item - 1]
        return out


def _quality_row(
    inst: Instrument,
    column: str,
    item: int,
    problem: str,
    rows: np.ndarray,
    examples: Sequence[Any],
    action: str,
) -> dict[str, Any]:
    return {
        "instrument": inst.key,
        "column": column,
        "item": item,
        "problem": problem,
        "n_values": len(rows),
        "rows": format_rows(rows),
        "examples": ", ".join(repr(e) if isinstance(e, str) else f"{e:g}" for e in examples[:_MAX_EXAMPLES]),
        "allowed": inst.response.describe(),
        "action": action,
    }


def _as_float(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values (NaN = empty) and a mask of non-empty cells that are not numbers."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        arr = np.full(len(col), np.nan)
        return arr, col.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        arr = col.to_numpy(dtype="float64", na_value=np.nan)
        return arr, np.zeros(len(col), dtype=bool)
    text = col.astype("string")
    blank = text.isna() | (text.str.strip() == "")
    num = pd.to_numeric(text.where(~blank), errors="coerce")
    arr = num.to_numpy(dtype="float64", na_value=np.nan)
    # text conversion turns booleans hidden in object columns into "True"/"False": non-numeric
    non_numeric = (~blank).to_numpy(dtype=bool) & np.isnan(arr)
    return arr, non_numeric


def read_items(
    df: pd.DataFrame,
    inst: Instrument,
    *,
    items: Items = None,
    invalid: InvalidPolicy = "raise",
    invalid_advice: str = "pass on_invalid='missing' to score them as missing and get a data-quality table",
) -> ItemMatrix:
    """Read and check the item columns of ``inst`` from ``df``.

    Missing codes (e.g. HoNOS 9) become missing and are recorded. Non-numeric and out-of-range
    values raise :class:`RomInputError` (``invalid="raise"``, ending with ``invalid_advice``: what the
    caller of the public function can do) or become missing and are recorded (``invalid="missing"``).
    """
    if not isinstance(df, pd.DataFrame):
        raise RomInputError(f"responses must be a pandas DataFrame, not {type(df).__name__}")
    if invalid not in ("raise", "missing"):
        raise RomInputError(f"on_invalid must be 'raise' or 'missing', not {invalid!r}")
    cols = item_columns(inst, items)
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise RomInputError(
            f"{inst.key}: item columns {absent} are not in the data (expected {cols[0]} … {cols[-1]}; "
            "pass items= to map your column names)"
        )
    repeated = sorted({c for c in df.columns[df.columns.duplicated()] if c in cols})
    if repeated:
        raise RomInputError(
            f"{inst.key}: item columns {repeated} appear more than once in the data; keep one of each"
        )
    n = len(df)
    values = np.empty((n, len(cols)), dtype="float64", order="F")  # column-major: items are contiguous
    allowed = inst.response.allowed
    codes = np.asarray(sorted(inst.response.missing_codes), dtype="float64")
    quality: list[dict[str, Any]] = []
    problems: list[str] = []
    rownums: np.ndarray | None = None
    forced: np.ndarray | None = None
    action = "raised" if invalid == "raise" else "set to missing"
    for j, c in enumerate(cols):
        parsed, non_numeric = _as_float(df[c])
        values[:, j] = parsed  # copy: `parsed` may be a read-only view of the caller's data
        arr = values[:, j]  # a view into our own matrix, safe to edit
        present = ~np.isnan(arr)
        if codes.size:
            is_code = present & np.isin(arr, codes)
            if is_code.any():
                rownums = row_numbers(df) if rownums is None else rownums
                desc = "; ".join(f"{k:g} = {v}" for k, v in sorted(inst.response.missing_codes.items()))
                quality.append(
                    _quality_row(
                        inst, c, j + 1, "missing_code", rownums[is_code], [desc], "treated as missing"
                    )
                )
                arr[is_code] = np.nan
                present &= ~is_code
                forced = np.zeros(values.shape, dtype=bool, order="F") if forced is None else forced
                forced[:, j] |= is_code
        if inst.response.values is None:
            ok = (arr >= inst.response.low) & (arr <= inst.response.high) & (arr == np.floor(arr))
        else:
            ok = np.isin(arr, allowed)
        out_of_range = present & ~ok
        for mask, problem in ((non_numeric, "non_numeric"), (out_of_range, "out_of_range")):
            if not mask.any():
                continue
            rownums = row_numbers(df) if rownums is None else rownums
            raw = df[c].to_numpy()[mask]
            examples = list(dict.fromkeys(raw.tolist()))
            quality.append(_quality_row(inst, c, j + 1, problem, rownums[mask], examples, action))
            what = "non-numeric values" if problem == "non_numeric" else "values outside the allowed range"
            problems.append(
                f"column {c!r}: {int(mask.sum())} {what} at rows {format_rows(rownums[mask])} "
                f"(e.g. {quality[-1]['examples']})"
            )
            arr[mask] = np.nan
            forced = np.zeros(values.shape, dtype=bool, order="F") if forced is None else forced
            forced[:, j] |= mask
    if problems and invalid == "raise":
        raise RomInputError(
            f"{inst.key}: item responses must be {_allowed_text(inst)}.\n  "
            + "\n  ".join(problems)
            + f"\n({ROWS_NOTE}; {invalid_advice})"
        )
    return ItemMatrix(values=values, columns=cols, quality=quality, forced_missing=forced)


def _allowed_text(inst: Instrument) -> str:
    r = inst.response
    text = f"one of {r.describe()}" if r.values is not None else f"whole numbers {r.min}–{r.max}"
    if r.missing_codes:
        text += (
            " (missing codes: " + ", ".join(f"{k} = {v}" for k, v in sorted(r.missing_codes.items())) + ")"
        )
    return text
