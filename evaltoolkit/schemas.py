"""Canonical extract schemas: the column names every module agrees on.

Users map their own column names onto these with a column mapping (see
:func:`evaltoolkit.data.read_extract`). Everything downstream (validation,
series builders, synthetic data) speaks only these names.

The schemas are data, not code: one :class:`ExtractSchema` per extract kind,
listing each column's type, whether it must be present and whether it may be
empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from evaltoolkit.errors import ExtractValidationError

ColumnType = Literal["string", "datetime", "date", "integer", "number", "boolean", "category"]

__all__ = [
    "ATTENDANCES",
    "COHORT",
    "POPULATION",
    "ROM_RESPONSES",
    "SCHEMAS",
    "SPELLS",
    "STAFF_SURVEY",
    "Column",
    "ExtractSchema",
    "get_schema",
]


@dataclass(frozen=True)
class Column:
    """One canonical column of an extract.

    Parameters
    ----------
    name : str
        Canonical snake_case name.
    type : str
        One of ``string``, ``datetime``, ``date``, ``integer``, ``number``,
        ``boolean``, ``category``.
    required : bool
        The column must be present (after mapping).
    nullable : bool
        Empty values are allowed (they may still be counted as a
        data-quality issue, e.g. missing patient ids).
    allowed : tuple of str, optional
        For ``category`` columns: the permitted values.
    description : str
        Plain-English meaning, used in the data dictionary.
    """

    name: str
    type: ColumnType
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class ExtractSchema:
    """The canonical columns of one extract kind."""

    kind: str
    columns: tuple[Column, ...]
    description: str = ""
    item_prefixes: tuple[str, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        """Canonical column names, in order."""
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        """Names of the columns that must be present."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        """Return the :class:`Column` called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.kind} has no canonical column {name!r}; columns are {self.names}")


ATTENDANCES = ExtractSchema(
    kind="attendances",
    description="Emergency-department attendances, one row per attendance (ECDS / EDDC style).",
    columns=(
        Column("attendance_id", "string", description="Record key of the attendance (e.g. ECDS EC_Ident)."),
        Column("patient_id", "string", nullable=True, description="Pseudonymised patient identifier."),
        Column("site", "string", description="Site (hospital / service) code."),
        Column("arrival", "datetime", description="Arrival date and time."),
        Column("departure", "datetime", nullable=True, description="Departure date and time."),
        Column("age_band", "string", required=False, nullable=True, description="Age band, e.g. 18-24."),
        Column(
            "sex",
            "category",
            required=False,
            nullable=True,
            allowed=("F", "M", "U"),
            description="Sex: F, M or U (unknown).",
        ),
        Column(
            "pd_flag",
            "boolean",
            required=False,
            nullable=True,
            description="Patient has a recorded personality-disorder diagnosis.",
        ),
    ),
)

SPELLS = ExtractSchema(
    kind="spells",
    description="Hospital admission spells (admission to discharge at one provider), one row per spell.",
    columns=(
        Column("spell_id", "string", description="Spell identifier."),
        Column("patient_id", "string", nullable=True, description="Pseudonymised patient identifier."),
        Column("site", "string", description="Site (hospital / service) code."),
        Column("admitted", "datetime", description="Admission date and time."),
        Column(
            "discharged",
            "datetime",
            nullable=True,
            description="Discharge date and time; empty for spells still open at the extract date.",
        ),
        Column(
            "ward_type",
            "category",
            required=False,
            allowed=("mental_health", "acute"),
            description="Ward type: mental_health or acute.",
        ),
        Column(
            "admission_method",
            "category",
            required=False,
            allowed=("emergency", "elective"),
            description="Admission method: emergency or elective.",
        ),
        Column(
            "pd_flag",
            "boolean",
            required=False,
            nullable=True,
            description=(
                "The spell is of a person with a recorded personality-disorder diagnosis (used directly for "
                "PD admissions and bed-days; without it PD spells are inferred from attendances)."
            ),
        ),
    ),
)

POPULATION = ExtractSchema(
    kind="population",
    description="Population denominators, one row per site and month.",
    columns=(
        Column("site", "string", description="Site code."),
        Column("period", "date", description="First day of the month."),
        Column("population", "integer", description="Population served (persons)."),
    ),
)

COHORT = ExtractSchema(
    kind="cohort",
    description="Patients in the evaluation cohort, one row per patient, with their index date.",
    columns=(
        Column("patient_id", "string", description="Pseudonymised patient identifier."),
        Column("site", "string", description="Site at which the patient was selected."),
        Column("pd_flag", "boolean", required=False, description="Personality-disorder flag."),
        Column("index_date", "date", description="Index date (e.g. crisis presentation or referral)."),
        Column(
            "end_date",
            "date",
            required=False,
            nullable=True,
            description="Date follow-up ends early (death, transfer out); empty if none.",
        ),
    ),
)

ROM_RESPONSES = ExtractSchema(
    kind="rom_responses",
    description=(
        "Item-level routine outcome measure responses, one row per patient and occasion; item columns "
        "are named <instrument key>_<item number>, e.g. phq9_1."
    ),
    columns=(
        Column("patient_id", "string", description="Pseudonymised patient identifier."),
        Column("site", "string", required=False, description="Site code."),
        Column("occasion", "string", description="baseline, session_1 ... session_8, end."),
        Column("session", "integer", description="0 = baseline, 1..8 = weekly sessions, 9 = end."),
        Column("date", "date", description="Date the measures were completed."),
    ),
    item_prefixes=("phq9", "gad7", "core10", "bsl23", "swemwbs"),
)

STAFF_SURVEY = ExtractSchema(
    kind="staff_survey",
    description=(
        "Staff wellbeing survey before and after a leadership programme, one row per staff member and wave."
    ),
    columns=(
        Column("staff_id", "string", description="Pseudonymised staff identifier."),
        Column("site", "string", required=False, description="Site code."),
        Column("wave", "category", allowed=("pre", "post"), description="pre or post programme."),
        Column("date", "date", description="Date the survey was completed."),
    ),
    item_prefixes=("pss10", "mhc_sf", "scs_sf", "ffmq15", "cbi"),
)

SCHEMAS: dict[str, ExtractSchema] = {
    s.kind: s for s in (ATTENDANCES, SPELLS, POPULATION, COHORT, ROM_RESPONSES, STAFF_SURVEY)
}


def get_schema(kind: str) -> ExtractSchema:
    """Return the canonical schema for an extract kind.

    Examples
    --------
    >>> get_schema("spells").required
    ['spell_id', 'patient_id', 'site', 'admitted', 'discharged']
    """
    try:
        return SCHEMAS[kind]
    except (KeyError, TypeError):
        shown = repr(kind) if isinstance(kind, str) else f"of type {type(kind).__name__}"
        raise ExtractValidationError(
            f"unknown extract kind {shown}; expected one of {sorted(SCHEMAS)}"
        ) from None
