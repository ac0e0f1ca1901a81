"""Presets for national extracts: name the dataset and its published field names map themselves.

A preset is a set of data-source keys (``columns``, ``date_time``, ``date_format``, ``values``) for one
extract kind. In a protocol::

    data:
      sources:
        attendances: {file: ecds_2023.csv, preset: ecds}
        spells: {file: hes_apc.csv, preset: hes_apc, columns: {SITECODE: site}}

Your own keys override the preset's: a ``columns`` entry for the same file column replaces the preset's,
a ``date_format`` you give replaces the preset's, and so on. Preset columns that are not in your file are
skipped (a *required* canonical column that is then missing is reported by validation as usual).

Which field names were verified
-------------------------------
Field names marked **[V]** below were seen in published material (NHS analysts' SQL on NCDR/UDAL, NHS
Digital HES documentation, NHS England MHSDS code, the CHeReL/PHRN data dictionaries for NSW). Names marked
**[U]** are assumptions: check them against your extract's data dictionary and override them with
``columns`` where they differ. Date layouts are always an assumption (**[U]**): extracts of the same dataset
arrive in different layouts depending on who produced them, so check one row and set ``date_format`` if
yours differ.

``ecds`` (attendances; NHS England Emergency Care Data Set)
    ``EC_Ident`` → attendance_id [V]; ``Der_Pseudo_NHS_Number`` → patient_id [V];
    ``Der_Provider_Site_Code`` → site [V]; ``Arrival_Date`` + ``Arrival_Time`` → arrival [V];
    ``EC_Departure_Date`` + ``EC_Departure_Time`` → departure [V]. Dates ISO ``YYYY-MM-DD`` and times
    ``HH:MM`` or ``HH:MM:SS`` as exported from SQL Server [U].
``hes_apc`` (spells; HES admitted patient care)
    ``PROVSPNOPS`` → spell_id [V]; ``TOKEN_PERSON_ID`` → patient_id [V]; ``PROCODE`` → site [V] (a
    *provider* code: map a site column instead if you have one); ``ADMIDATE`` → admitted [V];
    ``DISDATE`` → discharged [V] (dates only, no time); ``ADMIMETH`` → admission_method [V] with codes
    11, 12, 13 → elective and 21–25, 2A, 2B, 2C, 2D, 28 → emergency [codes U]. HES rows are *episodes*:
    keep one row per spell with ``where: {EPIORDER: '01'}`` [field V, value layout U]. Dates ISO [U].
``sus_apcs`` (spells; SUS+ admitted patient care spell table APCS)
    ``Der_Pseudo_NHS_Number`` → patient_id [V]; ``Admission_Date`` + ``Admission_Time`` → admitted [V];
    ``Discharge_Date`` + ``Discharge_Time`` → discharged [V]; ``Admission_Method`` → admission_method
    [V] (codes as HES [U]); ``APCS_Ident`` → spell_id [U]; ``Der_Provider_Site_Code`` → site [U].
``mhsds_spells`` (spells; MHSDS table MHS501 Hospital Provider Spell)
    ``UniqHospProvSpellID`` → spell_id [V]; ``Person_ID`` → patient_id [V];
    ``StartDateHospProvSpell`` → admitted [V]; ``DischDateHospProvSpell`` → discharged [V];
    ``MethAdmMHHospProvSpell`` → admission_method [V] (codes as HES [U]); ``OrgIDProv`` → site [U];
    every MHSDS spell is a mental-health spell, so give ``ward_type`` with ``values`` if you need it.
``nsw_eddc`` (attendances; NSW Emergency Department Data Collection)
    ``EDDC_PROJECT_RECNUM`` → attendance_id [V]; ``FACILITY_IDENTIFIER`` → site [V];
    ``ARRIVAL_DATE`` + ``ARRIVAL_TIME`` → arrival [V]; ``ACTUAL_DEPARTURE_DATE`` +
    ``ACTUAL_DEPARTURE_TIME`` → departure [V]; ``PPN`` (CHeReL project person number) → patient_id [U].
    Dates ``dd/mm/yyyy`` [U].
``nsw_apdc`` (spells; NSW Admitted Patient Data Collection, one row per *episode of care*)
    ``APDC_PROJECT_RECNUM`` → spell_id [U]; ``PPN`` → patient_id [U]; ``FACILITY_IDENTIFIER`` → site
    [V name, as EDDC]; ``EPISODE_START_DATE`` → admitted [U]; ``EPISODE_END_DATE`` → discharged [U].
    Dates ``dd/mm/yyyy`` [U]. Episodes split at a change of care type: chain them into stays first if
    you count admissions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PRESETS", "apply_preset", "preset_for"]

_HES_METHODS: dict[str, str] = {
    **{code: "elective" for code in ("11", "12", "13")},
    **{code: "emergency" for code in ("21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28")},
}

PRESETS: dict[str, dict[str, Any]] = {
    "ecds": {
        "kind": "attendances",
        "columns": {
            "EC_Ident": "attendance_id",
            "Der_Pseudo_NHS_Number": "patient_id",
            "Der_Provider_Site_Code": "site",
        },
        "date_time": {
            "arrival": ["Arrival_Date", "Arrival_Time"],
            "departure": ["EC_Departure_Date", "EC_Departure_Time"],
        },
    },
    "hes_apc": {
        "kind": "spells",
        "columns": {
            "PROVSPNOPS": "spell_id",
            "TOKEN_PERSON_ID": "patient_id",
            "PROCODE": "site",
            "ADMIDATE": "admitted",
            "DISDATE": "discharged",
            "ADMIMETH": "admission_method",
        },
        "values": {"admission_method": dict(_HES_METHODS)},
    },
    "sus_apcs": {
        "kind": "spells",
        "columns": {
            "APCS_Ident": "spell_id",
            "Der_Pseudo_NHS_Number": "patient_id",
            "Der_Provider_Site_Code": "site",
            "Admission_Method": "admission_method",
        },
        "date_time": {
            "admitted": ["Admission_Date", "Admission_Time"],
            "discharged": ["Discharge_Date", "Discharge_Time"],
        },
        "values": {"admission_method": dict(_HES_METHODS)},
    },
    "mhsds_spells": {
        "kind": "spells",
        "columns": {
            "UniqHospProvSpellID": "spell_id",
            "Person_ID": "patient_id",
            "OrgIDProv": "site",
            "StartDateHospProvSpell": "admitted",
            "DischDateHospProvSpell": "discharged",
            "MethAdmMHHospProvSpell": "admission_method",
        },
        "values": {"admission_method": dict(_HES_METHODS)},
    },
    "nsw_eddc": {
        "kind": "attendances",
        "columns": {
            "EDDC_PROJECT_RECNUM": "attendance_id",
            "PPN": "patient_id",
            "FACILITY_IDENTIFIER": "site",
        },
        "date_time": {
            "arrival": ["ARRIVAL_DATE", "ARRIVAL_TIME"],
            "departure": ["ACTUAL_DEPARTURE_DATE", "ACTUAL_DEPARTURE_TIME"],
        },
        "date_format": {"arrival": "%d/%m/%Y %H:%M", "departure": "%d/%m/%Y %H:%M"},
    },
    "nsw_apdc": {
        "kind": "spells",
        "columns": {
            "APDC_PROJECT_RECNUM": "spell_id",
            "PPN": "patient_id",
            "FACILITY_IDENTIFIER": "site",
            "EPISODE_START_DATE": "admitted",
            "EPISODE_END_DATE": "discharged",
        },
        "date_format": {"admitted": "%d/%m/%Y", "discharged": "%d/%m/%Y"},
    },
}
"""The presets: ``{name: {"kind": extract kind, data-source keys...}}`` (see the module docstring)."""

_MERGED = ("columns", "date_time", "values")


def preset_for(name: str, kind: str) -> dict[str, Any]:
    """The data-source keys of preset ``name`` (a copy), checking that it fits the extract ``kind``.

    Raises
    ------
    ValueError
        Unknown preset, or a preset for another extract kind.

    Examples
    --------
    >>> preset_for("ecds", "attendances")["date_time"]["arrival"]
    ['Arrival_Date', 'Arrival_Time']
    >>> preset_for("ecds", "spells")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: preset 'ecds' is for the attendances extract, not spells; presets for spells: ...
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if preset["kind"] != kind:
        fits = [n for n, p in PRESETS.items() if p["kind"] == kind]
        raise ValueError(
            f"preset {name!r} is for the {preset['kind']} extract, not {kind}; presets for {kind}: "
            + (", ".join(fits) if fits else "none")
        )
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in preset.items() if k != "kind"}


def apply_preset(options: Mapping[str, Any], kind: str, present: list[str] | None = None) -> dict[str, Any]:
    """Data-source options with the preset's keys filled in; the user's own keys win.

    ``columns``, ``date_time`` and ``values`` are merged entry by entry (yours replace the preset's for
    the same column); other keys (``date_format``...) are taken from the preset only when you give none.
    With ``present`` (the file's column names), preset columns and date-time joins that the file does
    not have are left out.

    Examples
    --------
    >>> opts = apply_preset({"preset": "hes_apc", "columns": {"SITE": "site"}}, "spells",
    ...                     present=["PROVSPNOPS", "ADMIDATE", "DISDATE", "SITE", "PROCODE"])
    >>> opts["columns"]
    {'PROVSPNOPS': 'spell_id', 'ADMIDATE': 'admitted', 'DISDATE': 'discharged', 'SITE': 'site'}
    """
    out = dict(options)
    name = out.get("preset")
    if not name:
        return out
    preset = preset_for(name, kind)
    have = set(present) if present is not None else None
    mine_columns = dict(out.get("columns") or {})
    for key in _MERGED:
        theirs = dict(preset.get(key) or {})
        if key == "columns":
            taken = set(mine_columns.values())
            theirs = {c: t for c, t in theirs.items() if t not in taken and (have is None or c in have)}
        if key == "date_time" and have is not None:
            theirs = {t: cols for t, cols in theirs.items() if all(c in have for c in cols)}
        out[key] = {**theirs, **dict(out.get(key) or {})}
    for key, value in preset.items():
        if key not in _MERGED and not out.get(key):
            out[key] = value
    return out
