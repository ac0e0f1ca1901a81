"""The evaluation protocol schema: pydantic models, one per section of a protocol YAML file.

A protocol is written *before* the data arrive (Magenta Book, Cochrane EPOC: pre-specify the design, the
primary method and the sensitivity analyses) and then run unchanged by
:func:`evaltoolkit.report.run_protocol`.
Every model forbids unknown keys, so a misspelt key is an error, not a silently ignored line.

Sections (top-level keys)
-------------------------
``schema_version``, ``name``, ``title``, ``version``, ``registration``, ``authors``, ``question``, ``seed``
    Identity of the protocol.
``intervention``
    The service or programme, described with the TIDieR items (:class:`Intervention`), plus known
    co-interventions (flagged as a limitation).
``sites``
    Sites with their role (``intervention`` or ``control``) and go-live date (:class:`Site`).
``data``
    Where the extracts are (paths relative to the protocol file, kept inside its folder unless
    ``allow_outside_folder``), how each is read and mapped (:class:`DataSource`: files, sheets, presets,
    column and item maps, date formats, value maps, site aliases, ``where`` filters, annual population)
    and the observation window (:class:`DataSpec`).
``cohort``
    The per-patient cohort for before/after (mirror-image) analysis (:class:`CohortSpec`).
``series``
    Outcome series: what to count, how often, per what denominator (:class:`SeriesSpec`).
``design``
    Interruptions, transition (phase-in) period, control series, before/after windows
    (:class:`DesignSpec`).
``analysis``
    The primary method and the pre-specified sensitivity methods for the series
    (:class:`AnalysisSpec`, each method a set of :func:`~evaltoolkit.its.fit_its` options).
``outcome_measures``
    Questionnaires (instrument keys of :mod:`evaltoolkit.rom`), pre/post occasions and change rules
    (:class:`OutcomeMeasuresSpec`).
``suppression``
    The output-checking policy every published number passes (:class:`SuppressionSpec`): ``rule`` names a
    policy of :mod:`evaltoolkit.disclosure` (``nhs`` by default, ``opensafely``, ``opensafely_midpoint6``,
    ``ukllc``), ``custom`` (``low``/``high``/``round_to``) or ``none``.
``unit_costs``
    Unit costs with currency, price year and source (:class:`UnitCost`): a figure of the toolkit's table
    (``ncc``, ``year``) or your own, optionally inflated (``inflate_to``) and with a sensitivity ``range``.
``service_cost``
    What the service costs to run, for the net cost and return per pound (:class:`ServiceCost`).
``beds``
    Occupancy for showing bed-days released as beds (:class:`BedsSpec`).
``report``
    Report options (:class:`ReportSpec`).

Cross-section rules (an intervention site needs a go-live date, a series' ``unit_cost`` must be defined,
a controlled analysis needs a control site, instrument keys must exist, …) are checked by
:func:`evaltoolkit.protocol.check_protocol`, which reports every problem with the path of the key.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from evaltoolkit._deprecate import warn_renamed
from evaltoolkit.disclosure.policy import DisclosureError, Policy, get_policy

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "PRESET_NAMES",
    "AnalysisSpec",
    "BedsSpec",
    "ChangeRules",
    "CohortSpec",
    "DataSource",
    "DataSpec",
    "DesignSpec",
    "FitOptions",
    "InstrumentSpec",
    "Intervention",
    "MirrorSpec",
    "OutcomeMeasuresSpec",
    "PopulationSpec",
    "Protocol",
    "ReportSpec",
    "RobustnessSpec",
    "SeriesSpec",
    "ServiceCost",
    "Site",
    "SuppressionSpec",
    "TalkingTherapiesSpec",
    "UnitCost",
    "Window",
    "resolve_methods",
]

CURRENT_SCHEMA_VERSION = 1
"""Version of the protocol schema described here (the ``schema_version`` key of a protocol)."""

_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
_SOURCE_KINDS = ("attendances", "spells", "population", "cohort", "rom_responses", "staff_survey", "sites")

Family = Literal["gaussian", "poisson", "quasipoisson", "negbin", "gamma"]
Method = Literal["ols", "gls-reml", "gls-ml", "prais-winsten", "arima"]
SEType = Literal["model", "newey-west"]
CIMethod = Literal["wald", "calibrated"]
Effect = Literal["level", "slope", "level+slope"]
TransitionShape = Literal["exclude", "ramp"]
Frequency = Literal["MS", "QS", "W-MON"]


def _slug(value: Any) -> Any:
    if isinstance(value, str) and not _SLUG.match(value):
        raise ValueError(
            f"must be a short snake_case name: lower-case letters, digits and underscores, starting with "
            f"a letter (got {value!r})"
        )
    return value


def _where(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"must be a mapping of column: value (got {value!r})")
    bad = [k for k, v in value.items() if not isinstance(v, str | bool | int) or isinstance(v, float)]
    if bad:
        raise ValueError(
            f"values must be text, true/false or whole numbers (check {', '.join(map(str, bad))})"
        )
    return value


def _prorate(value: Any) -> Any:
    if value == "rule" or value is False:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and 0 <= value < 1:
        return value
    raise ValueError(
        "must be 'rule' (the instrument's missing-item rule), false (no missing items), a whole number of "
        f"items, or a fraction of items below 1 (got {value!r})"
    )


def _seasonality(value: Any) -> Any:
    if value is None or value == "month":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 6:
        raise ValueError(
            f"must be empty (no seasonal terms), a number of Fourier pairs from 1 to 6, or 'month' "
            f"(calendar-month indicators) (got {value!r})"
        )
    return value


def _code_keys(value: Any) -> Any:
    """Value maps: whole-number codes written unquoted in YAML (21: emergency) are codes as text."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for column, mapping in value.items():
        if isinstance(mapping, dict):
            bad = [k for k in mapping if isinstance(k, bool | float)]
            if bad:
                raise ValueError(
                    f"{column}: quote the value {bad[0]!r} (YAML reads yes/no/true/false and decimals as "
                    "other types), e.g. 'yes': true"
                )
            mapping = {str(k) if isinstance(k, int) else k: v for k, v in mapping.items()}
        out[column] = mapping
    return out


def _code_lists(value: Any) -> Any:
    """Site aliases: codes written as whole numbers are codes as text; one code may be given alone."""
    if not isinstance(value, dict):
        return value
    return {
        site: [str(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in codes]
        if isinstance(codes, list)
        else [str(codes) if isinstance(codes, int) and not isinstance(codes, bool) else codes]
        for site, codes in value.items()
    }


Slug = Annotated[str, BeforeValidator(_slug)]
ValueMaps = Annotated[dict[str, dict[str, str | bool | int]], BeforeValidator(_code_keys)]
SiteAliases = Annotated[dict[str, list[str]], BeforeValidator(_code_lists)]
Prorate = Annotated[Any, BeforeValidator(_prorate)]
Where = Annotated[dict[str, str | bool | int], BeforeValidator(_where)]
Seasonality = Annotated[int | str | None, BeforeValidator(_seasonality)]
Text = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Intervention(_Model):
    """The service or programme, described with the TIDieR checklist (Hoffmann et al. 2014).

    The twelve TIDieR items are ``brief_name`` (1), ``why`` (2), ``what_materials`` (3),
    ``what_procedures`` (4), ``who_provided`` (5), ``how`` (6), ``where`` (7), ``when_and_how_much`` (8),
    ``tailoring`` (9), ``modifications`` (10), ``how_well_planned`` (11) and ``how_well_actual`` (12).
    Items 1, 2, 4, 5, 7 and 8 are required; the others may be filled in after the evaluation.
    """

    brief_name: Text = Field(description="TIDieR 1: name or phrase describing the intervention.")
    why: Text = Field(description="TIDieR 2: rationale, theory or goal of the essential elements.")
    what_materials: str | None = Field(None, description="TIDieR 3: materials used (manuals, training).")
    what_procedures: Text = Field(description="TIDieR 4: procedures, activities and processes.")
    who_provided: Text = Field(description="TIDieR 5: who delivers it, their expertise and training.")
    how: str | None = Field(None, description="TIDieR 6: modes of delivery (face to face, group, phone).")
    where: Text = Field(description="TIDieR 7: where it is delivered, infrastructure needed.")
    when_and_how_much: Text = Field(description="TIDieR 8: number of sessions, schedule, duration, dose.")
    tailoring: str | None = Field(None, description="TIDieR 9: planned personalisation or adaptation.")
    modifications: str | None = Field(None, description="TIDieR 10: changes made during the evaluation.")
    how_well_planned: str | None = Field(None, description="TIDieR 11: how fidelity is assessed.")
    how_well_actual: str | None = Field(None, description="TIDieR 12: fidelity achieved.")
    co_interventions: list[Text] = Field(
        default_factory=list,
        description="Other changes at the same sites and time (reported as a limitation).",
    )


def _iso_date(value: Any) -> Any:
    """Protocol dates are ISO 8601 (YYYY-MM-DD) only: never a number, never dd/mm or mm/dd text."""
    if value is None:
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None or value.time() != dt.time(0):
            raise ValueError(f"must be a date without a time of day, YYYY-MM-DD (got {value.isoformat()})")
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"is not a real date: {text!r} (YYYY-MM-DD)") from None
        from evaltoolkit.data.parse import readings

        two = readings(text)
        if two is not None:
            options = [r for r in two if r]
            iso = [dt.datetime.strptime(r, "%d %B %Y").date().isoformat() for r in options]
            spelled = " or ".join(dict.fromkeys(options))
            written = " or ".join(dict.fromkeys(iso))
            raise ValueError(
                f"must be an ISO 8601 date, YYYY-MM-DD: {text!r} could be {spelled} and day/month order is "
                f"never guessed; write {written}"
            )
        raise ValueError(f"must be an ISO 8601 date, YYYY-MM-DD, e.g. 2021-04-01 (got {text!r})")
    raise ValueError(
        f"must be an ISO 8601 date, YYYY-MM-DD, e.g. 2021-04-01 (got the {type(value).__name__} {value!r}; "
        "numbers are not read as dates)"
    )


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A protocol date: ISO 8601 text (YYYY-MM-DD) or a YAML date; never a number or dd/mm text."""


class Site(_Model):
    """One site: its code in the extracts, its role and (for intervention sites) its go-live date."""

    code: Text = Field(description="Site code as it appears in the extracts' site column.")
    name: str | None = Field(None, description="Display name.")
    role: Literal["intervention", "control"] = Field(description="intervention or control.")
    go_live: IsoDate | None = Field(
        None, description="First day of the go-live month (intervention sites only; empty for controls)."
    )


class Window(_Model):
    """The half-open observation window ``[start, extract_date)``."""

    start: IsoDate = Field(description="First day observed (first day of a month), YYYY-MM-DD.")
    extract_date: IsoDate = Field(
        description="Extract date: the first day not covered; also the censoring date."
    )


PRESET_NAMES = ("ecds", "hes_apc", "sus_apcs", "mhsds_spells", "nsw_eddc", "nsw_apdc")
"""Names of the built-in presets for national extracts (see :mod:`evaltoolkit.data.presets`)."""

_FILE_TEXT = Annotated[str, Field(min_length=1)]
SheetKey = str | int | list[str | int]
WhereValue = str | bool | int | list[str | bool | int]


class PopulationSpec(_Model):
    """Annual population estimates (one row per site or area and year) turned into monthly denominators.

    See :func:`evaltoolkit.data.monthly_population`: each estimate sits on its reference date, a month's
    population is the straight line between the two nearest estimates at the middle of the month, and
    months before the first or after the last estimate are held at the nearest one (or extrapolated)
    and counted in the data-quality table. Populations are rounded to whole persons.
    """

    year: Text = Field(
        "year", description="Column (after mapping) holding the year of each estimate, e.g. 2021."
    )
    reference: Text = Field(
        "06-30", description="Month and day (MM-DD) the estimates refer to: 06-30 for mid-year estimates."
    )
    extrapolate: Literal["constant", "linear"] = Field(
        "constant",
        description=(
            "Months before the first or after the last estimate: hold the nearest estimate (constant) or "
            "extend the line through the two nearest (linear)."
        ),
    )


class DataSource(_Model):
    """One extract: its file(s), how to read them, and how their columns become the canonical columns.

    Reading: ``file`` (a name, a glob such as ``spells_*.csv``, or a list: several files are stacked with
    a ``source_file`` column and rows repeated across files are excluded and counted as
    ``duplicate_across_files``), ``sheet``/``sheet_column``/``header_row`` (Excel), ``encoding`` and
    ``delimiter`` (CSV). Mapping: ``preset`` (published field names of a national dataset),
    ``columns`` and ``item_map`` (your names → canonical names), ``date_time`` (join a date column and
    a time column). Values: ``date_format`` (one layout, or one per column), ``timezone``, ``values``
    (value maps), ``site_aliases``, ``where`` (keep only matching rows). Every step that changes or
    removes rows is counted in the data-quality table.
    """

    file: _FILE_TEXT | list[_FILE_TEXT] = Field(
        description=(
            "File name (.csv, .xlsx or .parquet) relative to data.folder; a glob pattern (spells_*.csv); "
            "or a list of names/patterns. Several files are stacked."
        )
    )
    preset: Literal[PRESET_NAMES] | None = Field(  # type: ignore[valid-type]
        None,
        description=(
            "A national extract whose published field names map themselves: ecds, hes_apc, sus_apcs, "
            "mhsds_spells, nsw_eddc, nsw_apdc. Your own keys override the preset's."
        ),
    )
    columns: dict[str, str] = Field(
        default_factory=dict, description="Column mapping {column in the file: canonical name}."
    )
    item_map: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Questionnaire item columns {your column: item column}, e.g. {Q1: core10_1}, or one pattern "
            "with {n} for the item number, e.g. {'Q{n}': 'core10_{n}'}."
        ),
    )
    sheet: SheetKey | None = Field(
        None,
        description=(
            "Worksheet(s) of an .xlsx file: a name, a position counted from 1, a list, or '*' for every "
            "sheet (stacked). Default: the first."
        ),
    )
    sheet_column: str | None = Field(
        None, description="Column that receives each row's sheet name when several sheets are stacked."
    )
    header_row: int | None = Field(
        None, ge=1, description="Spreadsheet row (from 1) holding the column names, below any title rows."
    )
    encoding: str | None = Field(
        None, description="Text encoding of CSV files (default utf-8, with or without BOM), e.g. cp1252."
    )
    delimiter: str | None = Field(
        None, description="CSV delimiter (default: detected among , ; tab |); 'tab' for tab."
    )
    date_format: str | dict[str, str] | None = Field(
        None,
        description=(
            "Layout of date-time text: one strftime layout (%d/%m/%Y %H:%M), ISO8601 or excel (serial "
            "day numbers) for every date column, or {canonical column: layout}. Default: ISO 8601."
        ),
    )
    timezone: str | None = Field(
        None,
        description=(
            "IANA time zone (Europe/London) that date-times with offsets are converted to before periods "
            "are assigned."
        ),
    )
    date_time: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Join a date column and a time column of the file into one canonical date-time: "
            "{arrival: [Arrival_Date, Arrival_Time]}."
        ),
    )
    values: ValueMaps = Field(
        default_factory=dict,
        description=(
            "Value maps per canonical column: {pd_flag: {Y: true, N: false}, ward_type: {MHIP: "
            "mental_health}}. Values not listed are kept as they are."
        ),
    )
    site_aliases: SiteAliases = Field(
        default_factory=dict,
        description="Local site codes mapped to a protocol site: {RXX01: [IPU1, 'IPU 1']}.",
    )
    where: dict[str, WhereValue] = Field(
        default_factory=dict,
        description=(
            "Keep only rows whose columns equal these values (a list: any of them); rows left out are "
            "counted as where_filter."
        ),
    )
    population: PopulationSpec | None = Field(
        None,
        description="For the population source: annual estimates to monthly denominators (interpolated).",
    )
    on_invalid: Literal["raise", "exclude"] = Field(
        "raise",
        description=(
            "Rows breaking an error rule (unreadable dates, empty required values...): raise (stop and list "
            "them) or exclude (leave them out, counted in the data-quality table)."
        ),
    )


class DataSpec(_Model):
    """Where the extracts are and which window they cover."""

    kind: Literal["synthetic", "real", "unspecified"] = Field(
        "unspecified",
        description=(
            "Whether the extracts are synthetic (made up, e.g. for training or a demonstration) or real "
            "(records of real people). Every report states it; 'unspecified' (the default) is reported as "
            "a notice that the protocol does not say."
        ),
    )
    folder: Text = Field(description="Folder holding the extracts, relative to the protocol file.")
    allow_outside_folder: bool = Field(
        False,
        description=(
            "Let data.folder and the source files lie outside the protocol's folder (e.g. ../data). "
            "Without it such paths are a validation problem."
        ),
    )
    sources: dict[str, DataSource] = Field(
        default_factory=dict,
        description=(
            "Extract files by kind (attendances, spells, population, cohort, rom_responses, staff_survey, "
            "sites). Empty: every file in the folder named after its kind."
        ),
    )
    window: Window | None = Field(None, description="Observation window; required for outcome series.")
    max_open_days: float | None = Field(
        365, gt=0, description="Open spells admitted longer ago than this at the extract date are flagged."
    )


class CohortSpec(_Model):
    """The per-patient cohort for a before/after (mirror-image) analysis."""

    source: Literal["cohort"] = Field("cohort", description="Extract kind holding the cohort.")
    description: Text = Field(description="How patients were selected (plain words, for the report).")
    comparison: Literal["control_sites", "none"] = Field(
        "control_sites",
        description="control_sites: patients selected at control sites form the comparison cohort.",
    )


class MirrorSpec(_Model):
    """Before/after windows around each cohort member's index date (see :mod:`evaltoolkit.prepost`)."""

    before_months: int = Field(12, ge=1, le=60, description="Months before the index date.")
    after_months: int = Field(12, ge=1, le=60, description="Months after the index date.")
    index_day: Literal["before", "after", "exclude"] = Field(
        "before", description="Which window the index day (the selecting crisis) belongs to."
    )
    outcomes: list[Literal["attendances", "admissions", "bed_days"]] = Field(
        default_factory=lambda: ["attendances", "admissions", "bed_days"], min_length=1
    )
    count_model: Literal["poisson", "negbin"] = Field("poisson", description="GEE count model.")


class SeriesSpec(_Model):
    """One outcome series: events counted (or bed-days, or mean LOS) per site and period."""

    name: Slug = Field(description="Identifier used in file names and results (snake_case).")
    label: Text = Field(description="Plain-English name, e.g. 'ED attendances by people with PD'.")
    short_label: str | None = Field(None, description="Short name for tables and charts (default: label).")
    unit: Text = Field(description="What one unit is, plural, e.g. 'attendances', 'bed-days', 'days'.")
    source: Literal["attendances", "spells"] = Field(description="Extract the events come from.")
    measure: Literal["count", "bed_days", "mean_los"] = Field(
        "count",
        description=(
            "count: events by arrival/admission date; bed_days: occupied bed-days (midnights); mean_los: "
            "mean length of stay of spells discharged in the period."
        ),
    )
    pd_only: bool = Field(
        False, description="Only people with a personality-disorder flag (attendance flag or cohort)."
    )
    where: Where = Field(
        default_factory=dict, description="Keep rows whose columns equal these values (all must hold)."
    )
    frequency: Frequency = Field(
        "MS",
        description=(
            "MS: calendar months; QS: calendar quarters; W-MON: weeks starting on Monday (a week cut by the "
            "window start or extract date is left out of the fits)."
        ),
    )
    denominator: Literal["population"] | None = Field(
        "population", description="population: rates per 'per' residents and a log(population) offset."
    )
    per: int = Field(100_000, ge=1, description="Rates are per this many residents.")
    unit_cost: str | None = Field(None, description="Key of unit_costs that values one unit.")
    primary: bool = Field(False, description="A primary (headline) outcome.")
    family: Family | None = Field(
        None,
        description=(
            "Model family for every method on this series. mean_los: gamma (log link, the default: ratio "
            "intervals that stay positive) or gaussian."
        ),
    )


class FitOptions(_Model):
    """One ITS method: :func:`~evaltoolkit.its.fit_its` options plus the design switches it may change.

    ``analysis.primary`` gives a full method; each ``analysis.sensitivity`` entry lists only what differs
    from the primary (and from ``design``). ``se_type`` is the kind of standard error (``model`` or
    ``newey-west``); the key ``se`` is its deprecated spelling (accepted with a ``DeprecationWarning``).
    """

    label: Text = Field(description="Name of the method in tables and the report.")
    family: Family | None = None
    method: Method | None = Field(
        None,
        description=(
            "Estimator; left empty, the toolkit's default for the family (GLS with AR(1) errors and "
            "calibrated intervals for Gaussian and Poisson/quasi-Poisson series; the GLM for negbin, gamma)."
        ),
    )
    ci_method: CIMethod | None = Field(
        None,
        description="wald or calibrated intervals; left empty, calibrated for the default method, else wald.",
    )
    ar_order: int | None = Field(None, ge=0, le=4, description="AR order of the error model (0: pure MA).")
    ma_order: int | None = Field(
        None, ge=0, le=4, description="MA order of ARMA errors (method: arima only; default 0)."
    )
    se_type: SEType | None = Field(None, description="Kind of standard error: model or newey-west.")
    lags: int | None = Field(None, ge=0, le=24)
    seasonality: Seasonality = Field(None, validate_default=True)
    effect: Effect | None = None
    transition: int | None = Field(None, ge=0, le=24)
    transition_shape: TransitionShape | None = None
    controlled: bool | None = Field(None, description="Use the control sites as a control series.")
    offset: bool | None = Field(None, description="Model counts as rates with a log(denominator) offset.")
    use_t: bool | None = None
    nw_adjust: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _arima_orders(cls, data: Any) -> Any:
        # method: "arima(p, q)" is shorthand for method: arima, ar_order: p, ma_order: q
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            m = re.fullmatch(r"\s*arima\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*", data["method"])
            if m is not None:
                for key, value in (("ar_order", int(m.group(1))), ("ma_order", int(m.group(2) or 0))):
                    if key in data and data[key] != value:
                        raise ValueError(f"method {data['method']!r} and {key}: {data[key]} disagree")
                data = {
                    **data,
                    "method": "arima",
                    "ar_order": int(m.group(1)),
                    "ma_order": int(m.group(2) or 0),
                }
        return data

    @model_validator(mode="before")
    @classmethod
    def _renamed_se(cls, data: Any) -> Any:
        if isinstance(data, dict) and "se" in data and "se_type" not in data:
            warn_renamed("protocol analysis method", "se", "se_type", kind="protocol key", stacklevel=2)
            data = {("se_type" if k == "se" else k): v for k, v in data.items()}
        return data

    def set_keys(self) -> dict[str, Any]:
        """The options this entry sets (those not left empty), without the label."""
        dumped = self.model_dump(exclude={"label"})
        return {k: v for k, v in dumped.items() if v is not None or k in self.model_fields_set}


class RobustnessSpec(_Model):
    """Placebo and robustness checks of the primary ITS analysis (:func:`evaltoolkit.its.robustness_checks`).

    ``in_space`` and ``leave_one_out`` left empty run when the design allows: in-space placebos when there
    are control sites, leave-one-site-out when there are two or more intervention sites.
    """

    in_time: bool = Field(
        True, description="In-time placebo: a fake go-live in the pre-period, fitted on pre-period data only."
    )
    in_space: bool | None = Field(
        None, description="In-space placebo: each control site analysed as if it went live (default: if any)."
    )
    leave_one_out: bool | None = Field(
        None,
        description="Leave each intervention site out of the combined estimate (default: with 2+ sites).",
    )
    placebo_dates: list[IsoDate] | None = Field(
        None,
        description=(
            "Placebo go-live dates (YYYY-MM-DD) inside every site's pre-period; default the middle of each "
            "site's pre-period."
        ),
    )


class AnalysisSpec(_Model):
    """Primary method and pre-specified sensitivity methods for the outcome series."""

    conf_level: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of every interval.")
    horizon_months: int = Field(
        24, ge=1, le=120, description="Effects are summed over this many months after each go-live."
    )
    draws: int = Field(
        10_000,
        ge=1_000,
        le=200_000,
        description=(
            "Draws of the fits' coefficients from which every derived effect (relative, absolute, combined "
            "over sites, costs) is computed; the Monte-Carlo SE of a 95% bound is about 0.027 SE at 10,000."
        ),
    )
    primary: FitOptions = Field(description="The primary method (pre-specified).")
    sensitivity: list[FitOptions] = Field(
        default_factory=list, description="Sensitivity methods; each lists only what differs from primary."
    )
    robustness: RobustnessSpec = Field(
        default_factory=RobustnessSpec,
        description="Placebo and robustness checks of the primary method (in-time placebo on by default).",
    )
    exclude_bed_day_warmup: bool = Field(
        True,
        description=(
            "Leave the bed-day warm-up months (from the length-of-stay distribution) out of the ITS fits; "
            "false keeps them in, and the report warns."
        ),
    )


class ExcludedPeriod(_Model):
    """A pre-specified range of periods left out of every ITS fit (e.g. COVID-19 months)."""

    start: IsoDate = Field(description="First day of the range: periods starting in the range are excluded.")
    end: IsoDate = Field(description="Last day of the range, inclusive (e.g. the last month's first day).")
    reason: Text = Field(description="Why these periods are excluded (printed in the report's methods).")

    @model_validator(mode="after")
    def _ordered(self) -> ExcludedPeriod:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class LevelShift(_Model):
    """A pre-specified level-shift dummy ``shift_<name>`` in every ITS fit (an adjustment, not an effect)."""

    name: Slug = Field(description="Name of the shift; the model term is shift_<name>.")
    start: IsoDate = Field(description="First period of the shift.")
    end: IsoDate | None = Field(None, description="Last day of the shift, inclusive; empty: to the end.")
    reason: Text = Field(description="Why the level is expected to shift (printed in the report's methods).")

    @model_validator(mode="after")
    def _ordered(self) -> LevelShift:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class DesignSpec(_Model):
    """The evaluation design: interruptions, phase-in, control series and before/after windows."""

    interruption: Literal["go_live"] = Field(
        "go_live", description="The interruption of each intervention site is its go-live month."
    )
    transition: int = Field(0, ge=0, le=24, description="Phase-in periods after go-live (months).")
    transition_shape: TransitionShape = Field("exclude", description="exclude or ramp the phase-in.")
    controlled: bool = Field(False, description="Primary analysis uses the control sites as control series.")
    seasonality: Seasonality = Field(
        1, validate_default=True, description="Fourier pairs (1–6), 'month', or empty for none."
    )
    effect: Effect = Field("level+slope", description="Change terms: level, slope or level+slope.")
    exclude_periods: list[ExcludedPeriod] = Field(
        default_factory=list, description="Periods left out of every ITS fit, each with a reason."
    )
    level_shifts: list[LevelShift] = Field(
        default_factory=list, description="Level-shift dummies in every ITS fit, each with a reason."
    )
    staggered: bool = Field(
        False,
        description="Also fit one staggered controlled model across the intervention sites (each at its own "
        "go-live) and the control sites; reported as a combined estimate beside the per-site ones.",
    )
    before_after: MirrorSpec | None = Field(None, description="Per-patient before/after windows.")


class InstrumentSpec(_Model):
    """One questionnaire scale analysed pre/post."""

    key: Text = Field(description="Instrument key in the evaltoolkit.rom registry, e.g. phq9.")
    scale: Text = Field("total", description="Scale of the instrument (default total).")
    label: str | None = Field(None, description="Display name (default: the instrument's name).")
    primary: bool = Field(False, description="A primary outcome measure.")
    prorate: Prorate = Field(
        "rule",
        description=(
            "Missing items allowed when scoring: 'rule' (the instrument's), false, a number or a fraction."
        ),
    )


class ChangeRules(_Model):
    """Reliable and clinically significant change (Jacobson & Truax 1991).

    See :func:`evaltoolkit.rom.reliable_change`.
    """

    reliable_change: bool = Field(True, description="Classify each person (recovered/improved/…).")
    criterion: Literal["auto", "a", "b", "c", "cutoff", "none"] = Field(
        "auto", description="Clinically significant change criterion."
    )
    sd_multiplier: float = Field(2.0, gt=0, description="k in criteria a and b.")


class TalkingTherapiesSpec(_Model):
    """NHS Talking Therapies paired outcomes from PHQ-9 and GAD-7 (recovery, reliable improvement…)."""

    phq9: Text = Field("phq9", description="Instrument key of the PHQ-9.")
    gad7: Text = Field("gad7", description="Instrument key of the GAD-7.")


class OutcomeMeasuresSpec(_Model):
    """Questionnaire outcomes: scoring, paired change, change rules, trajectories and attrition."""

    source: Literal["rom_responses", "staff_survey"] = Field(
        description="Extract holding the item responses."
    )
    subject: Text = Field(description="Person identifier column, e.g. patient_id or staff_id.")
    occasion: Text = Field(description="Occasion column, e.g. occasion or wave.")
    pre: Text = Field(description="Occasion value of the first measurement, e.g. baseline or pre.")
    post: Text = Field(description="Occasion value of the last measurement, e.g. end or post.")
    time: str | None = Field(None, description="Numeric time column for trajectories, e.g. session.")
    time_unit: Text = Field("session", description="Unit of time, e.g. week or session.")
    instruments: list[InstrumentSpec] = Field(min_length=1, description="Scales analysed.")
    p_adjust: Literal["holm", "bonferroni", "none"] = Field("holm", description="Multiplicity correction.")
    change: ChangeRules = Field(default_factory=ChangeRules)
    talking_therapies: TalkingTherapiesSpec | None = Field(
        None, description="NHS Talking Therapies outcomes."
    )
    trajectories: bool = Field(False, description="Mixed-model trajectories over time (needs time).")
    attrition: bool = Field(True, description="Completers vs drop-outs and complete-case vs mixed model.")
    internal_consistency: bool = Field(True, description="Cronbach's alpha at the pre occasion.")


SUPPRESSION_RULES: tuple[str, ...] = ("nhs", "opensafely", "opensafely_midpoint6", "ukllc", "custom", "none")
"""Values of ``suppression.rule``: the published policies of :data:`evaltoolkit.disclosure.POLICIES`,
``custom`` and ``none``."""


class SuppressionSpec(_Model):
    """The output-checking policy applied to every published count and to what rests on a count.

    ``rule`` names the policy (:func:`evaltoolkit.disclosure.get_policy`; each cites the rule it implements):

    * ``nhs`` (default): NHS Digital secondary-care rule (HES, ECDS): 0 stays 0, 1–7 shown as ``*``,
      other counts rounded to the nearest 5; nothing resting on fewer than 8 people is shown.
    * ``opensafely``: OpenSAFELY output checking: counts of 1–7 redacted, others rounded to 5, totals are
      the sums of the published counts.
    * ``opensafely_midpoint6``: OpenSAFELY midpoint-6 rounding (0 stays 0, 1–6 shown as 3, 7–12 as 9, ...);
      nothing resting on fewer than 8 people is shown.
    * ``ukllc``: UK LLC threshold: counts below 10, zero included, suppressed; no rounding.
    * ``custom``: your own ``low``/``high``/``round_to`` (the only rule that takes them).
    * ``none``: no suppression (national figures only).
    """

    rule: Literal["nhs", "opensafely", "opensafely_midpoint6", "ukllc", "custom", "none"] = Field(
        "nhs",
        description=(
            "Output-checking policy: nhs (default; 1-7 shown as *, others rounded to 5), opensafely "
            "(1-7 redacted, others rounded to 5, totals are sums of published counts), "
            "opensafely_midpoint6 (midpoint-6 rounding), ukllc (counts below 10, zero included, "
            "suppressed, no rounding), custom (low, high, round_to) or none."
        ),
    )
    low: int = Field(1, ge=1, description="custom: smallest suppressed count.")
    high: int = Field(7, ge=0, description="custom: largest suppressed count.")
    round_to: int = Field(5, ge=1, description="custom: other counts are rounded to this base.")


def _currency(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"[A-Z]{3}", value.strip()):
        raise ValueError(
            f"must be a three-letter ISO 4217 currency code in capitals, e.g. GBP (got {value!r})"
        )
    return value.strip() if isinstance(value, str) else value


Currency = Annotated[str, BeforeValidator(_currency)]


class UnitCost(_Model):
    """A unit cost with its currency, price year and source (always stated in the report).

    Either name a figure of the toolkit's table (:func:`evaltoolkit.economics.unit_costs`) with ``ncc``
    and ``year``, whose value, currency, price year, unit and source are filled in from the table, or give
    your own ``value``, ``currency`` (any ISO 4217 code), ``price_year``, ``unit`` and ``source``.
    ``inflate_to`` re-expresses a GBP figure at another financial year's prices with the NHS Cost
    Inflation Index of manual ``index_edition`` (``value`` and ``price_year`` then hold the inflated
    figure). ``range`` gives a sensitivity range drawn uniformly with the effect's draws: two NCC years
    (e.g. ``[2023/24, 2024/25]``) or two values at the entry's own price year. A figure (or index value)
    not verified against its published source is refused unless ``allow_unverified: true``.
    """

    ncc: Slug | None = Field(
        None, description="Key of the toolkit's unit-cost table (see evaltoolkit.economics.unit_costs())."
    )
    year: str | None = Field(None, description="With ncc: the table's price year, e.g. 2024/25.")
    value: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Cost of one unit (filled in from the table with ncc)."
    )
    currency: Currency | None = Field(None, description="ISO 4217 code, e.g. GBP, AUD, EUR, USD, NZD.")
    price_year: Text | None = Field(None, description="Price year, e.g. 2022/23 (filled in with ncc).")
    source: Text | None = Field(None, description="Where the value comes from (filled in with ncc).")
    unit: Text | None = Field(None, description="What one unit is, e.g. 'bed-day' (filled in with ncc).")
    note: str | None = Field(None, description="Caveats, e.g. 'cash-releasing only if beds close'.")
    inflate_to: str | None = Field(
        None, description="Financial year to inflate to with the NHS Cost Inflation Index (GBP only)."
    )
    index_edition: int | None = Field(
        None, description="Manual edition of the NHS Cost Inflation Index (default: the latest shipped)."
    )
    allow_unverified: bool = Field(
        False, description="Accept a figure or index value not verified against its published source."
    )
    range: list[float | str] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description=(
            "Sensitivity range [low, high]: two NCC years (with ncc) or two values at the entry's price year."
        ),
    )

    _verified: bool | None = PrivateAttr(default=None)
    _bounds: tuple[float, float] | None = PrivateAttr(default=None)
    _figures: tuple[Any, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _resolve(self) -> UnitCost:
        from evaltoolkit.economics.costs import UnitCostValue, inflate_value, normalise_year, unit_cost
        from evaltoolkit.errors import EconomicsInputError

        opts = {"index_edition": self.index_edition, "allow_unverified": self.allow_unverified}
        try:
            if self.ncc is not None:
                given = [k for k in ("value", "currency", "price_year") if getattr(self, k) is not None]
                if given:
                    raise ValueError(
                        f"{', '.join(given)}: filled in from the unit-cost table with ncc; remove "
                        f"{'it' if len(given) == 1 else 'them'}, or drop ncc and give your own figure"
                    )
                if self.year is None:
                    raise ValueError(f"ncc {self.ncc!r} needs year (the table's price year, e.g. 2024/25)")
                fig = unit_cost(self.ncc, self.year, allow_unverified=self.allow_unverified)
                source = self.source or fig.source
                unit = self.unit or fig.unit
            else:
                if self.year is not None:
                    raise ValueError("year goes with ncc (a figure of the table); give price_year instead")
                missing = [
                    k
                    for k in ("value", "currency", "price_year", "source", "unit")
                    if getattr(self, k) is None
                ]
                if missing:
                    raise ValueError(
                        f"give ncc and year (a figure of the toolkit's table) or your own figure: "
                        f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required"
                    )
                fig = UnitCostValue(
                    value=float(self.value),  # type: ignore[arg-type]
                    currency=str(self.currency),
                    unit=str(self.unit),
                    price_year=str(self.price_year),
                    source=str(self.source),
                    verified=None,
                )
                source, unit = str(self.source), str(self.unit)
            figures = [fig]
            if self.range is not None:
                for x in self.range:
                    if isinstance(x, str):
                        if self.ncc is None:
                            raise ValueError(f"range: {x!r} is a year; years go with ncc (give two values)")
                        figures.append(unit_cost(self.ncc, x, allow_unverified=self.allow_unverified))
                    else:
                        if not x > 0:
                            raise ValueError(f"range: values must be positive (got {x!r})")
                        figures.append(
                            UnitCostValue(
                                float(x), fig.currency, fig.unit, fig.price_year, fig.source, fig.verified
                            )
                        )
            if self.inflate_to is not None:
                normalise_year(self.inflate_to, "inflate_to")
                figures = [inflate_value(f, self.inflate_to, **opts) for f in figures]
            main = figures[0]
        except EconomicsInputError as exc:
            raise ValueError(str(exc)) from None
        object.__setattr__(self, "value", main.value)
        object.__setattr__(self, "currency", main.currency)
        object.__setattr__(self, "price_year", main.price_year)
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "source", main.source if self.inflate_to is not None else source)
        self._verified = None if self.ncc is None else all(bool(f.verified) for f in figures)
        self._figures = tuple(figures)
        if len(figures) == 3:
            lo, hi = sorted((figures[1].value, figures[2].value))
            self._bounds = (lo, hi)
        return self

    @property
    def verified(self) -> bool | None:
        """Whether a table figure (and any index values used) are verified; None for your own figure,
        which the toolkit cannot check."""
        return self._verified

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The sensitivity range (low, high) at the entry's price year, or None."""
        return self._bounds

    def price(self) -> Any:
        """What the money functions of :mod:`evaltoolkit.economics` take: one
        :class:`~evaltoolkit.economics.UnitCostValue`, or a (low, high) pair of them when ``range`` is given.
        """
        main = self._figures[0]
        if len(self._figures) < 3:
            return main
        lo, hi = sorted(self._figures[1:], key=lambda f: f.value)
        return (lo, hi)


class ServiceCost(_Model):
    """What the service costs to run, for the net cost and the return per pound spent.

    ``amount`` per year (``per: year``, the default) or for the whole evaluation (``per: total``), in the
    currency and price year of the unit costs it is set against. ``range`` gives a sensitivity range.
    """

    amount: float = Field(gt=0, allow_inf_nan=False, description="Cost of the service (per year, or total).")
    currency: Currency = Field(description="ISO 4217 code; the same as the unit costs'.")
    price_year: Text = Field(description="Price year, e.g. 2024/25.")
    per: Literal["year", "total"] = Field("year", description="year (the default) or total.")
    range: list[float] | None = Field(
        None, min_length=2, max_length=2, description="Sensitivity range [low, high], same basis as amount."
    )
    source: str | None = Field(None, description="Where the figure comes from (e.g. the service budget).")
    note: str | None = None

    @model_validator(mode="after")
    def _positive_range(self) -> ServiceCost:
        if self.range is not None and not all(x > 0 for x in self.range):
            raise ValueError(f"range: values must be positive (got {self.range})")
        return self

    def for_months(self, months: float) -> float | tuple[float, float]:
        """The cost over ``months`` (the horizon of the activity change): a value, or (low, high) with range.

        Examples
        --------
        >>> ServiceCost(amount=120_000, currency="GBP", price_year="2024/25").for_months(24)
        240000.0
        """
        f = months / 12 if self.per == "year" else 1.0
        if self.range is None:
            return self.amount * f
        lo, hi = sorted(self.range)
        return (lo * f, hi * f)


class BedsSpec(_Model):
    """How bed-days released are shown as beds: ``bed-days / (days × occupancy)``.

    They are **capacity released** (used by other patients, no cash) unless ``removed: true`` records
    that the service closes beds or removes staff.
    """

    occupancy: float = Field(0.85, gt=0, le=1, description="Target bed occupancy (proportion, 0-1).")
    removed: bool = Field(
        False, description="Beds or staff are removed, so bed-days released are cash (default: capacity)."
    )


class ReportSpec(_Model):
    """Report options."""

    audience: Text = Field("commissioners", description="Who the report is written for.")
    date: IsoDate | None = Field(
        None,
        description=(
            "Date the report carries (YYYY-MM-DD), e.g. the date it is signed off. Without it the report "
            "says the date is not set; the time of each run is in manifest.json. A date in the protocol "
            "keeps the outputs byte-identical between runs."
        ),
    )
    formats: list[Literal["png", "svg"]] = Field(
        default_factory=lambda: ["png", "svg"], min_length=1, description="Figure formats written."
    )
    dpi: int = Field(150, ge=50, le=600, description="PNG resolution.")
    min_pre_months: int = Field(
        12, ge=3, description="Less than this many months of data before go-live is flagged as a limitation."
    )
    max_missing_fraction: float = Field(
        0.2, ge=0, le=1, description="More missing outcome data than this is flagged as a limitation."
    )


class Protocol(_Model):
    """A complete evaluation protocol (see the module docstring for the sections)."""

    schema_version: Literal[1] = Field(1, description="Version of the protocol schema (currently 1).")
    name: Slug = Field(description="Short identifier, used for file names (snake_case).")
    title: Text = Field(description="Title of the evaluation.")
    version: Text = Field("1.0", description="Version of this protocol.")
    registration: str | None = Field(None, description="Registry and identifier, once registered.")
    authors: list[Text] = Field(default_factory=list)
    question: Text = Field(description="The evaluation question(s), in plain words.")
    seed: int = Field(20261121, ge=0, description="Random seed (recorded in the manifest).")
    intervention: Intervention
    sites: list[Site] = Field(min_length=1)
    data: DataSpec
    cohort: CohortSpec | None = None
    series: list[SeriesSpec] = Field(default_factory=list)
    design: DesignSpec = Field(default_factory=DesignSpec)
    analysis: AnalysisSpec | None = None
    outcome_measures: OutcomeMeasuresSpec | None = None
    suppression: SuppressionSpec = Field(default_factory=SuppressionSpec)
    unit_costs: dict[Slug, UnitCost] = Field(default_factory=dict)
    service_cost: ServiceCost | None = Field(
        None, description="What the service costs to run (net cost and return per pound spent)."
    )
    beds: BedsSpec | None = Field(None, description="Bed-days released shown as beds (occupancy).")
    report: ReportSpec = Field(default_factory=ReportSpec)

    _path: Path | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The protocol file this was loaded from (``None`` if built from a dictionary)."""
        return self._path

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths are resolved against: the protocol file's folder (else the cwd)."""
        if self._base_dir is not None:
            return self._base_dir
        return self._path.parent if self._path is not None else Path.cwd()

    def data_folder(self) -> Path:
        """The data folder, resolved against the protocol file's folder."""
        folder = Path(self.data.folder)
        return folder if folder.is_absolute() else self.base_dir / folder

    @property
    def intervention_sites(self) -> list[Site]:
        """Sites with role ``intervention``, in protocol order."""
        return [s for s in self.sites if s.role == "intervention"]

    @property
    def control_sites(self) -> list[Site]:
        """Sites with role ``control``, in protocol order."""
        return [s for s in self.sites if s.role == "control"]

    def disclosure_policy(self) -> Policy:
        """The output-checking policy named by ``suppression.rule`` (a ``disclosure.Policy``)."""
        s = self.suppression
        if s.rule == "custom":
            return get_policy({"low": s.low, "high": s.high, "round_to": s.round_to})
        return get_policy(s.rule)

    def suppression_args(self) -> dict[str, int] | None:
        """Arguments of :func:`evaltoolkit.privacy.suppress_counts` (``None``: no suppression).

        Every policy but ``opensafely_midpoint6`` (whose midpoint rounding ``suppress_counts`` cannot do;
        use :meth:`disclosure_policy`) is expressed as ``{low, high, round_to}``; ``opensafely`` gives the
        NHS thresholds (its totals rule needs :func:`evaltoolkit.disclosure.publish`).
        """
        s = self.suppression
        if s.rule == "custom":
            return {"low": s.low, "high": s.high, "round_to": s.round_to}
        pol = self.disclosure_policy()
        if pol.rounding != "nearest":
            raise DisclosureError(
                f"suppression.rule {s.rule!r} has midpoint rounding, which suppress_counts cannot apply; "
                "use Protocol.disclosure_policy() with evaltoolkit.disclosure"
            )
        if pol.suppress is None and pol.round_to == 1:
            return None
        low, high = pol.suppress if pol.suppress is not None else (1, 0)
        return {"low": low, "high": high, "round_to": pol.round_to}

    def methods(self) -> list[tuple[str, dict[str, Any]]]:
        """The ITS methods as ``(label, options)``: the primary first, then each sensitivity method.

        See :func:`resolve_methods`.
        """
        if self.analysis is None:
            return []
        return resolve_methods(self.design, self.analysis)


def resolve_methods(design: DesignSpec, analysis: AnalysisSpec) -> list[tuple[str, dict[str, Any]]]:
    """The ITS methods of a protocol as ``(label, options)``: the primary first, then each sensitivity method.

    Options start from the design (``seasonality``, ``effect``, ``transition``, ``transition_shape``,
    ``controlled``) and the defaults ``family="quasipoisson", method=None`` (the toolkit's default for each
    series' family, see :func:`evaltoolkit.its.default_method`), ``se_type="model"``, are overlaid
    with the primary's settings, then (for a sensitivity method) with its own. ``lags`` is dropped when the
    resulting ``se_type`` is not ``newey-west``, and ``ma_order`` is reset to 0 when a sensitivity method
    changes ``method`` away from ``arima`` without setting it. Keys: ``family, method, ar_order, ma_order,
    se_type, lags, seasonality, effect, transition, transition_shape, controlled, offset, use_t, nw_adjust``.
    """
    base: dict[str, Any] = {
        "family": "quasipoisson",
        "method": None,
        "ci_method": None,
        "ar_order": 1,
        "ma_order": 0,
        "se_type": "model",
        "lags": None,
        "seasonality": design.seasonality,
        "effect": design.effect,
        "transition": design.transition,
        "transition_shape": design.transition_shape,
        "controlled": design.controlled,
        "offset": True,
        "use_t": None,
        "nw_adjust": True,
    }
    primary = {**base, **analysis.primary.set_keys()}
    out = [(analysis.primary.label, primary)]
    for s in analysis.sensitivity:
        opts = {**primary, **s.set_keys()}
        if opts.get("se_type") != "newey-west" and "lags" not in s.set_keys():
            opts["lags"] = None
        if opts.get("method") != "arima" and "ma_order" not in s.set_keys():
            opts["ma_order"] = 0
        if "method" in s.set_keys() and "ci_method" not in s.set_keys():
            opts["ci_method"] = None  # a sensitivity method's own default intervals
        out.append((s.label, opts))
    return out
