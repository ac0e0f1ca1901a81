"""Read extracts, map columns, validate, and clean fixable defects with a data-quality table.

Typical use::

    from evaltoolkit.data import read_extract, validate_extract, clean_extract

    raw = read_extract("attendances.csv", "attendances", mapping={"EC_Ident": "attendance_id"})
    validate_extract(raw, "attendances", window=("2019-01-01", "2024-01-01"))  # every problem at once
    clean = clean_extract(raw, "attendances", window=("2019-01-01", "2024-01-01"))
    clean.data, clean.quality

Row numbers in every message and table are spreadsheet rows: the header is row 1, so the first data
row is row 2 (kept in the ``source_row`` column).
"""

from evaltoolkit.data._common import FLAG_PREFIX, ROW_COLUMN, UNPARSEABLE_COLUMN, parse_window
from evaltoolkit.data.clean import CleanExtract, clean_extract
from evaltoolkit.data.load import (
    FILE_COLUMN,
    SOURCE_KEYS,
    SourceRead,
    find_extract_files,
    load_extracts,
    load_source,
    read_source,
    source_files,
)
from evaltoolkit.data.mapping import (
    apply_mapping,
    item_columns,
    load_mapping,
    parse_item_map,
    suggest_mapping,
)
from evaltoolkit.data.parse import parse_column, parse_date, parse_frame
from evaltoolkit.data.population import monthly_population
from evaltoolkit.data.presets import PRESETS, apply_preset
from evaltoolkit.data.quality import (
    PROBLEM_COLUMNS,
    QUALITY_COLUMNS,
    combine_quality,
    format_quality_table,
    problem_table,
    quality_table,
)
from evaltoolkit.data.read import read_extract, read_sites, read_table
from evaltoolkit.data.rules import ERROR_RULES, FIXABLE_RULES, KEYS
from evaltoolkit.data.transform import apply_site_aliases, filter_rows, join_date_time, map_values
from evaltoolkit.data.validate import check_extract, validate_extract

__all__ = [
    "ERROR_RULES",
    "FILE_COLUMN",
    "FIXABLE_RULES",
    "FLAG_PREFIX",
    "KEYS",
    "PRESETS",
    "PROBLEM_COLUMNS",
    "QUALITY_COLUMNS",
    "ROW_COLUMN",
    "SOURCE_KEYS",
    "UNPARSEABLE_COLUMN",
    "CleanExtract",
    "SourceRead",
    "apply_mapping",
    "apply_preset",
    "check_extract",
    "clean_extract",
    "combine_quality",
    "find_extract_files",
    "format_quality_table",
    "item_columns",
    "load_extracts",
    "load_mapping",
    "load_source",
    "parse_column",
    "parse_frame",
    "parse_item_map",
    "parse_window",
    "problem_table",
    "quality_table",
    "read_extract",
    "read_sites",
    "read_source",
    "read_table",
    "source_files",
    "suggest_mapping",
    "validate_extract",
]

# Column-level building blocks (issue 10): strict dates, transforms, monthly population.
__all__ += [
    "apply_site_aliases",
    "filter_rows",
    "join_date_time",
    "map_values",
    "monthly_population",
    "parse_date",
]
