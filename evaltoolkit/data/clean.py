"""Clean an extract: exclude or fix the fixable defects and record every change in a data-quality table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evaltoolkit.data.quality import combine_quality, problem_table, quality_table
from evaltoolkit.data.validate import _context, _run, error_message
from evaltoolkit.errors import ExtractValidationError

__all__ = ["CleanExtract", "clean_extract"]


@dataclass(frozen=True, eq=False)
class CleanExtract:
    """A cleaned extract and the data-quality table that travels with it.

    Attributes
    ----------
    data : pandas.DataFrame
        Cleaned rows: canonical columns (schema order), item columns, any extra columns, ``source_row``
        (spreadsheet row number in the original file) and boolean ``dq_*`` flag columns
        (attendances: ``dq_departure_before_arrival``, ``dq_missing_patient_id``; spells:
        ``dq_discharge_after_extract``, ``dq_open_spell``, ``dq_stale_open_spell``,
        ``dq_missing_patient_id``).
    quality : pandas.DataFrame
        Data-quality table (see :mod:`evaltoolkit.data.quality`).
    n_input : int
        Rows read.
    n_output : int
        Rows kept; ``n_input == n_output + quality["n_excluded"].sum()``.
    kind : str
        Extract kind.
    files : tuple of pathlib.Path
        The files read (empty when cleaned from a DataFrame).
    """

    data: pd.DataFrame
    quality: pd.DataFrame
    n_input: int
    n_output: int
    kind: str = ""
    files: tuple[Path, ...] = ()

    @property
    def n_excluded(self) -> int:
        """Rows excluded by cleaning."""
        return self.n_input - self.n_output

    def summary(self) -> pd.DataFrame:
        """One-row table: ``extract, n_input, n_excluded, n_output``.

        Examples
        --------
        >>> pop = pd.DataFrame({"site": ["A", "A"], "period": ["2023-01-01"] * 2, "population": [9, 9]})
        >>> clean_extract(pop, "population").summary()
              extract  n_input  n_excluded  n_output
        0  population        2           1         1
        """
        return pd.DataFrame(
            {
                "extract": [self.kind],
                "n_input": [self.n_input],
                "n_excluded": [self.n_excluded],
                "n_output": [self.n_output],
            }
        )

    def combine(self, *others: CleanExtract) -> pd.DataFrame:
        """This extract's data-quality table stacked with those of ``others`` (see ``combine_quality``)."""
        return combine_quality(self, *others)


def clean_extract(
    df: pd.DataFrame,
    kind: str,
    *,
    sites: Iterable[Any] | pd.DataFrame | None = None,
    window: tuple[Any, Any] | None = None,
    max_open_days: float | None = None,
    on_invalid: Literal["raise", "exclude"] = "raise",
    date_format: str | dict[str, str] | None = None,
    timezone: str | None = None,
) -> CleanExtract:
    """Clean an extract, recording every excluded or changed row in a data-quality table.

    Rules run in a fixed order (see :mod:`evaltoolkit.data.rules`); a row removed by one rule is not
    seen by later ones.

    attendances
        ``exact_duplicate`` (excluded, first copy kept) → ``unknown_site`` (excluded; only with
        ``sites``) → ``outside_window`` (arrival before the start or on/after the extract date:
        excluded; only with ``window``) → ``departure_before_arrival`` (departure set to missing; row
        kept) → ``missing_patient_id`` (kept, flagged).
    spells
        ``exact_duplicate`` → ``unknown_site`` → ``outside_window`` (admitted on/after the extract
        date or discharged before the start: excluded; spells admitted before the start and still in
        hospital inside the window are kept) → ``discharge_before_admission`` (excluded) →
        ``discharge_after_extract`` (discharge set to missing) → ``open_spell`` (kept; censored at the
        extract date downstream) → ``stale_open_spell`` (open and admitted more than
        ``max_open_days`` before the extract date: kept, flagged) → ``missing_patient_id`` (kept,
        flagged).
    population, cohort, rom_responses, staff_survey
        ``exact_duplicate`` (excluded); the schema checks below.

    Errors (unparseable values, empty required values, values outside the allowed categories,
    duplicated keys with differing values, non-positive population, periods that are not month starts,
    cohort end before index) stop cleaning with ``on_invalid="raise"``; with ``on_invalid="exclude"``
    those rows are excluded and counted. A missing required column always raises.

    Parameters
    ----------
    df : pandas.DataFrame
        Extract with canonical column names (e.g. from :func:`~evaltoolkit.data.read_extract`);
        not modified.
    kind : str
        Extract kind (see :mod:`evaltoolkit.schemas`).
    sites : iterable of str or pandas.DataFrame, optional
        Known site codes, or a sites table with a ``site`` column.
    window : tuple, optional
        ``(start, extract_date)``: half-open observation window.
    max_open_days : float, optional
        Threshold for ``stale_open_spell`` (default: not applied).
    on_invalid : {"raise", "exclude"}, default "raise"
        What to do with rows that break an error rule.
    date_format : str or mapping, optional
        Layout of date text in a frame of raw values (one for every date column, or ``{column: layout}``;
        ``"excel"`` for serial day numbers); default ISO 8601 (see :mod:`evaltoolkit.data.parse`).
    timezone : str, optional
        Zone that date-times with a time-zone offset are converted to (counted as ``timezone_converted``);
        without it they are unparseable.

    Returns
    -------
    CleanExtract
        ``data``, ``quality``, ``n_input``, ``n_output``, ``kind``.

    Raises
    ------
    ExtractValidationError
        Listing every error (rule, column, count, first rows), with the problem table in ``.problems``.

    Examples
    --------
    >>> raw = pd.DataFrame({
    ...     "attendance_id": ["a1", "a1", "a2", "a3"],
    ...     "patient_id": ["p1", "p1", None, "p2"],
    ...     "site": ["A", "A", "A", "A"],
    ...     "arrival": ["2023-01-05 10:00", "2023-01-05 10:00", "2023-02-01 09:00", "2022-12-30 08:00"],
    ...     "departure": ["2023-01-05 14:00", "2023-01-05 14:00", "2023-02-01 08:00", "2022-12-30 09:00"],
    ... })
    >>> result = clean_extract(raw, "attendances", window=("2023-01-01", "2024-01-01"))
    >>> result.n_input, result.n_output
    (4, 2)
    >>> found = result.quality[result.quality["n_rows"] > 0]
    >>> for row in found.itertuples():
    ...     print(f"{row.rule}: {row.n_rows} (row {row.rows}) -> {row.action}")
    exact_duplicate: 1 (row 3) -> excluded (first copy kept)
    outside_window: 1 (row 5) -> excluded
    departure_before_arrival: 1 (row 4) -> departure set to missing; row kept
    missing_patient_id: 1 (row 4) -> kept; flagged (left out of per-patient analyses)
    """
    ctx = _context(sites, window, max_open_days, on_invalid, date_format=date_format, timezone=timezone)
    result = _run(df, kind, ctx)
    if result.errors and (on_invalid == "raise" or any(f.rule == "missing_column" for f in result.errors)):
        problems = problem_table(result.findings)
        raise ExtractValidationError(error_message(kind, result, problems), problems)
    if result.data is None:  # pragma: no cover - run_pipeline returns data whenever there is no error
        raise AssertionError("cleaning produced no data")
    quality = quality_table(result.findings, kind)
    n_output = len(result.data)
    n_removed = int(quality["n_excluded"].sum())
    if result.n_input != n_output + n_removed:  # pragma: no cover - internal invariant
        raise AssertionError(f"{kind}: {result.n_input} rows in != {n_output} out + {n_removed} excluded")
    return CleanExtract(
        data=result.data, quality=quality, n_input=result.n_input, n_output=n_output, kind=kind
    )
