"""Evaluation protocols as code: a documented, validated YAML schema.

A protocol pre-specifies an evaluation (Magenta Book; Cochrane EPOC): the intervention (TIDieR), the sites
and go-live dates, the data sources and their column mappings, the cohort, the outcome series, the design,
the primary and sensitivity methods, the outcome measures and change rules, the suppression rule, unit
costs and report options. :func:`load_protocol` reads and validates one, reporting **every** problem at
once with the path of its key::

    from evaltoolkit.protocol import load_protocol
    protocol = load_protocol("protocols/project_air.yaml")

and :func:`evaltoolkit.report.run_protocol` runs it. The sections are documented in
:mod:`evaltoolkit.protocol.schema`; :func:`protocol_json_schema` gives the JSON Schema.
"""

from evaltoolkit.errors import ProtocolError
from evaltoolkit.protocol.loader import (
    Problem,
    available_sources,
    check_protocol,
    format_problems,
    load_protocol,
    protocol_from_dict,
    protocol_json_schema,
    validate_protocol,
)
from evaltoolkit.protocol.schema import (
    CURRENT_SCHEMA_VERSION,
    AnalysisSpec,
    BedsSpec,
    ChangeRules,
    CohortSpec,
    DataSource,
    DataSpec,
    DesignSpec,
    FitOptions,
    InstrumentSpec,
    Intervention,
    MirrorSpec,
    OutcomeMeasuresSpec,
    Protocol,
    ReportSpec,
    SeriesSpec,
    ServiceCost,
    Site,
    SuppressionSpec,
    TalkingTherapiesSpec,
    UnitCost,
    Window,
)

__all__ = [
    "CURRENT_SCHEMA_VERSION",
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
    "Problem",
    "Protocol",
    "ProtocolError",
    "ReportSpec",
    "SeriesSpec",
    "ServiceCost",
    "Site",
    "SuppressionSpec",
    "TalkingTherapiesSpec",
    "UnitCost",
    "Window",
    "available_sources",
    "check_protocol",
    "format_problems",
    "load_protocol",
    "protocol_from_dict",
    "protocol_json_schema",
    "validate_protocol",
]
