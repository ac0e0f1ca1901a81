"""Byte-reproducible CSV / JSON output and the generated data dictionary."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._deprecate import renamed_kwargs
from ..schemas import SCHEMAS
from ._generate import SynthData, _config_dict, generate
from ._measures import ROM_SPECS, STAFF_SPECS
from .config import DEFAULT_SEED, PRESETS, SynthConfig

__all__ = ["FILES", "data_dictionary", "write_synthetic"]

#: Output file of each part of :class:`SynthData` (``readme`` is the data dictionary).
FILES: dict[str, str] = {
    "sites": "sites.csv",
    "population": "population.csv",
    "attendances": "attendances.csv",
    "spells": "spells.csv",
    "cohort": "cohort.csv",
    "rom_responses": "rom_responses.csv",
    "staff_survey": "staff_survey.csv",
    "truth": "truth.json",
    "readme": "README.md",
}

# Columns written as dates (YYYY-MM-DD); every other datetime column is written as YYYY-MM-DD HH:MM:SS.
_DATE_COLUMNS = {"period", "go_live", "index_date", "end_date", "date"}
_REGENERATE = "evaltoolkit synth --out {folder} --seed {seed}{preset}"


def _as_text(df: pd.DataFrame) -> str:
    """CSV text with fixed formats: ISO dates/datetimes, True/False, integers, empty cells for missing."""
    out = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            fmt = "%Y-%m-%d" if col in _DATE_COLUMNS else "%Y-%m-%d %H:%M:%S"
            out[col] = s.dt.strftime(fmt).astype(object).where(s.notna(), "")
        elif pd.api.types.is_bool_dtype(s):
            out[col] = s.astype(object).map({True: "True", False: "False"}).where(s.notna(), "")
        elif pd.api.types.is_float_dtype(s):
            raise TypeError(f"column {col!r} is floating point; the synthetic files contain no floats")
        else:
            out[col] = s.astype(object).where(s.notna(), "").astype(str)
    return pd.DataFrame(out, columns=list(df.columns)).to_csv(index=False, lineterminator="\n")


def _clean_json(x: Any) -> Any:
    """Plain JSON types, floats rounded to 6 decimals, NaN → null."""
    if isinstance(x, dict):
        return {str(k): _clean_json(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean_json(v) for v in x]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        v = float(x)
        return None if math.isnan(v) else round(v, 6)
    return x


def truth_json(truth: dict[str, Any]) -> str:
    """``truth.json`` text: sorted keys, indent 2, floats rounded to 6 decimals, trailing newline."""
    return json.dumps(_clean_json(truth), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@renamed_kwargs(out_dir="out")
def write_synthetic(
    out: str | Path, *, seed: int = DEFAULT_SEED, config: SynthConfig | None = None
) -> dict[str, Path]:
    """Generate a synthetic dataset and write it to ``out``.

    Writes ``sites.csv``, ``population.csv``, ``attendances.csv``, ``spells.csv``, ``cohort.csv``,
    ``rom_responses.csv``, ``staff_survey.csv``, ``truth.json`` and a data dictionary ``README.md``
    (see :data:`FILES`). The same ``(seed, config)`` always produces byte-identical files: fixed
    column order, ISO dates (``YYYY-MM-DD``) and datetimes (``YYYY-MM-DD HH:MM:SS``), ``True``/``False``
    booleans, integers only, empty cells for missing values, UTF-8 with ``\\n`` line endings, and
    ``truth.json`` with sorted keys and floats rounded to 6 decimals. No timestamps of the run are
    written.

    Parameters
    ----------
    out : str or Path
        Directory to write into (created if needed; existing files of the same names are replaced;
        formerly ``out_dir=``, deprecated).
    seed : int
        Seed passed to :func:`evaltoolkit.synth.generate`.
    config : SynthConfig, optional
        Generator parameters; defaults to ``SynthConfig()``.

    Returns
    -------
    dict of str to Path
        The path of each file written, keyed as in :data:`FILES`.

    Examples
    --------
    >>> import tempfile
    >>> from evaltoolkit.synth import SynthConfig, write_synthetic
    >>> small = SynthConfig(pd_patients_per_site=60, other_patients_per_site=400, rom_patients=20, staff_n=10,
    ...                     ed_pd_rate_per_100k=2.0, ed_other_rate_per_100k=4.0,
    ...                     spell_pd_rate_per_100k=0.5, spell_other_rate_per_100k=1.0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = write_synthetic(d, seed=1, config=small)
    ...     names = sorted(p.name for p in paths.values())
    >>> names[:4]
    ['README.md', 'attendances.csv', 'cohort.csv', 'population.csv']
    >>> len(names)
    9
    """
    data = generate(config, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for key, name in FILES.items():
        if key == "truth":
            text = truth_json(data.truth)
        elif key == "readme":
            text = data_dictionary(data)
        else:
            text = _as_text(getattr(data, key))
        path = out / name
        path.write_bytes(text.encode("utf-8"))
        paths[key] = path
    return paths


# --------------------------------------------------------------------------------------------------------
# Data dictionary
# --------------------------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "string": "text",
    "datetime": "datetime `YYYY-MM-DD HH:MM:SS`",
    "date": "date `YYYY-MM-DD`",
    "integer": "integer",
    "number": "number",
    "boolean": "`True`/`False`",
    "category": "category",
}

_EXTRA_NOTES = {
    (
        "attendances",
        "attendance_id",
    ): "`EC` + 8 digits, numbered in arrival order; unique except duplicate rows.",
    ("attendances", "patient_id"): "`P` + 7 digits. Empty only on `missing_patient_id` defect rows.",
    ("attendances", "site"): "Site code from `sites.csv`; `{unknown}` on `unknown_site` defect rows.",
    ("attendances", "departure"): "Empty when the patient was still in ED at the extract date (censoring).",
    ("attendances", "age_band"): "Age at arrival: 18-24, 25-34, 35-44, 45-54, 55-64, 65+.",
    ("attendances", "pd_flag"): "Stream of the attendance: `True` for PD-flagged patients.",
    ("spells", "spell_id"): "`SP` + 7 digits, numbered in admission order; unique except duplicate rows.",
    ("spells", "patient_id"): "`P` + 7 digits (same ids as attendances). Empty only on defect rows.",
    ("spells", "site"): "Site code from `sites.csv`; `{unknown}` on `unknown_site` defect rows.",
    ("spells", "discharged"): (
        "Clean open spells were admitted less than {maxlos} days before the extract date. Also empty on "
        "`stale_open_spell` / `outside_window` defect rows."
    ),
    ("population", "population"): "Smooth growth of 0.5–0.8 % a year, whole persons.",
    ("cohort", "index_date"): "Date of the crisis attendance that selected the patient (see the model).",
    ("cohort", "end_date"): "The patient has no events after it.",
    ("rom_responses", "date"): "Baseline date + 7 × session days (±1 day after baseline).",
    ("staff_survey", "date"): "Pre wave spread over 4 weeks; post wave {weeks} weeks later (±3 days).",
}

_SITES_COLUMNS = (
    ("site", "text", "no", "Synthetic site code."),
    ("site_name", "text", "no", "Display name (synthetic)."),
    ("go_live", "date `YYYY-MM-DD`", "yes", "First day of the go-live month; empty for the control site."),
    ("implements", "`True`/`False`", "no", "Whether the site implements the service change."),
)


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _columns_table(kind: str, truth: dict[str, Any]) -> str:
    cfg = truth["config"]
    rows = []
    for c in SCHEMAS[kind].columns:
        note = _EXTRA_NOTES.get((kind, c.name), "")
        note = note.format(
            unknown=cfg["unknown_site_code"], maxlos=int(cfg["los_max_days"]), weeks=cfg["staff_post_weeks"]
        )
        typ = _TYPE_WORDS[c.type] + (f" ({', '.join(c.allowed)})" if c.allowed else "")
        rows.append((f"`{c.name}`", typ, "yes" if c.nullable else "no", f"{c.description} {note}".strip()))
    return _table(("column", "type", "empty allowed", "meaning"), rows)


def _items_table(block: dict[str, Any], specs: tuple[Any, ...]) -> str:
    rows = []
    for spec in specs:
        t = block["instruments"][spec.key]
        vals = t["response_values"]
        values = ", ".join(str(v) for v in vals) if spec.step != 1 else f"{vals[0]}–{vals[-1]}"
        rev = ", ".join(str(j) for j in t["reverse_keyed_items"]) or "none"
        direction = "higher = worse" if t["scored_total_higher_is_worse"] else "higher = better"
        rows.append(
            (f"`{spec.key}_1` … `{spec.key}_{spec.n_items}`", values, rev, direction, t["missing_cells"])
        )
    header = ("columns", "values (integer)", "reverse-keyed items", "scored total", "empty cells")
    return _table(header, rows)


def data_dictionary(data: SynthData) -> str:
    """The data dictionary (``README.md``) of a generated dataset, with its exact counts.

    Parameters
    ----------
    data : SynthData
        Output of :func:`evaltoolkit.synth.generate`.

    Returns
    -------
    str
        Markdown text.
    """
    t = data.truth
    cfg = t["config"]
    seed = t["seed"]
    # the bundled datasets name their preset in the regeneration command (the default needs none)
    preset = next(
        (k for k, make in PRESETS.items() if k != "project_air" and _config_dict(make()) == cfg), None
    )
    folder = f"synthetic_data/{preset}" if preset else "synthetic_data"
    real = t["realised"]
    rtm = t["regression_to_the_mean"]
    eff = t["effects"]
    rom = t["rom"]
    staff = t["staff_survey"]
    d_att, d_sp = t["defects"]["attendances"], t["defects"]["spells"]

    sites_rows = [
        (
            f"`{s['site']}`",
            s["site_name"],
            s["go_live"] or "never (control)",
            f"{s['population_first_month']:,}",
        )
        for s in t["sites"]
    ]
    file_rows = [
        ("`sites.csv`", len(data.sites), "one row per site: code, name, go-live date"),
        ("`population.csv`", len(data.population), "population per site and month (denominators)"),
        ("`attendances.csv`", len(data.attendances), "mental-health ED attendances, one row per attendance"),
        ("`spells.csv`", len(data.spells), "mental-health-related admission spells, one row per spell"),
        ("`cohort.csv`", len(data.cohort), "PD patients selected at a crisis, with index date"),
        ("`rom_responses.csv`", len(data.rom_responses), "item-level outcome measures, patient × occasion"),
        ("`staff_survey.csv`", len(data.staff_survey), "item-level staff survey, staff member × wave"),
        (
            "`truth.json`",
            "–",
            "the generating model, true effects, realised totals, every defect with row ids",
        ),
    ]

    def defect_rows(block: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(f"`{k}`", v["count"], v["rule"]) for k, v in block.items() if isinstance(v, dict)]

    nb = rtm["naive_before_after"]
    att_e, sp_e, los = eff["attendances_pd"], eff["spells_pd"], eff["los_pd"]
    parts = [
        f"# Synthetic evaluation data (seed {seed})",
        "",
        "Everything here is **synthetic**: made up by `evaltoolkit.synth` from a stated model. No row "
        "describes "
        "a real person, site or staff member. The data are realistic in shape and deliberately imperfect, "
        "and "
        "`truth.json` records what is true, so every analysis in evaltoolkit can be checked against a known "
        "answer.",
        "",
        "Regenerate (byte-identical) with:",
        "",
        "```bash",
        _REGENERATE.format(seed=seed, folder=folder, preset=f" --preset {preset}" if preset else ""),
        "```",
        "",
        f"or from Python: `evaltoolkit.synth.write_synthetic('{folder}', seed={seed}"
        + (f", config=evaltoolkit.synth.PRESETS['{preset}']()" if preset else "")
        + ")`. "
        "This file is generated too; edit `evaltoolkit/synth/_write.py`, not this file.",
        "",
        "## Files",
        "",
        _table(("file", "rows", "content"), file_rows),
        "",
        "Format of every CSV: UTF-8, comma separated, header row, `\\n` line endings; datetimes "
        "`YYYY-MM-DD HH:MM:SS`, dates `YYYY-MM-DD`, booleans `True`/`False`, integers only (no floating "
        "point), "
        "and an **empty cell means missing**. Column names are the canonical names of "
        "`evaltoolkit/schemas.py`.",
        "",
        "## Sites and window",
        "",
        f"The window runs from {t['window']['start']} to the extract date {t['window']['extract_date']} "
        f"(exclusive): {t['window']['months']} months. The extract date is also the censoring date.",
        "",
        _table(("site", "name", "go-live", "population, first month"), sites_rows),
        "",
        "## The generating model in plain words",
        "",
        "**Population.** Each site's population grows smoothly (0.5–0.8 % a year).",
        "",
        "**Counts per site and month.** ED attendances and admissions are drawn per site, month and stream "
        "(PD-flagged patients vs other patients) from a log-linear model: log(population) + a site intercept "
        f"+ a secular trend ({cfg['trend_log_per_year']} a year on the log scale) + an annual cosine "
        f"(amplitude {cfg['season_amplitude']}, peak in month {cfg['season_peak_month']}) + an AR(1) "
        "site-level "
        f"shock (phi {cfg['ar_phi']}, innovation SD {cfg['ar_sigma']}, shared by a site's two streams) + "
        f"overdispersion (a mean-one gamma multiplier, shape {cfg['gamma_shape']}), then Poisson. Baseline "
        "rates "
        f"per 100,000 a month: ED {cfg['ed_pd_rate_per_100k']} (PD) and {cfg['ed_other_rate_per_100k']} "
        "(other); "
        f"admissions {cfg['spell_pd_rate_per_100k']} (PD) and {cfg['spell_other_rate_per_100k']} (other). "
        "PD patients make about a fifth of the activity (domain notes: 20–27 %).",
        "",
        "**True effects** act only on PD-flagged activity at implementing sites, from the go-live month on. "
        "On the log scale the effect is `level × post + slope × months_since_go_live`, where `post` is 1 "
        "from "
        "the go-live month and `months_since_go_live` is 0 in the go-live month itself.",
        "",
        _table(
            (
                "outcome",
                "level change (rate ratio)",
                "slope change (rate ratio per month)",
                "ratio after 24 months",
            ),
            [
                (
                    "PD ED attendances",
                    att_e["level_change_rr"],
                    att_e["slope_change_rr_per_month"],
                    f"{att_e['rate_ratio_after_24_months']:.3f}",
                ),
                (
                    "PD admissions",
                    sp_e["level_change_rr"],
                    sp_e["slope_change_rr_per_month"],
                    f"{sp_e['rate_ratio_after_24_months']:.3f}",
                ),
            ],
        ),
        "",
        "Other patients' activity and the control site have no effect. The defaults follow the domain notes' "
        "advice of a −15 % to −30 % true effect (Grenyer et al. 2018 found a rate ratio of about 0.77 for ED "
        "re-presentation, i.e. about 1/1.3).",
        "",
        "**Patients.** Each site has a pool of "
        f"{cfg['pd_patients_per_site']} PD-flagged and {cfg['other_patients_per_site']} other patients. "
        "Events "
        "go to patients with probability proportional to a heavy-tailed (lognormal) frailty, so a few "
        "frequent "
        "attenders have many attendances. PD patients also have transient crisis bursts (a burst starts in a "
        f"month with probability {cfg['burst_start_prob']}, continues with probability "
        f"{cfg['burst_continue_prob']} and multiplies the patient's rate by {cfg['burst_multiplier']}). "
        "Some PD "
        "patients join late and some leave (death or transfer out). A patient's attendances are at least an "
        "hour apart and their spells never overlap.",
        "",
        f"**Time in ED** is lognormal (median {cfg['ed_duration_median_hours']} h). **Length of stay** is "
        f"lognormal with a long tail: mean {cfg['los_pd_mean_days']} days for PD spells (Grenyer 2018: 13.46 "
        f"days per admission at baseline) and {cfg['los_other_mean_days']} for others, many 1–3-day crisis "
        f"admissions, clipped to {cfg['los_min_days']}–{int(cfg['los_max_days'])} days. PD spells admitted "
        "on or "
        f"after go-live at implementing sites have every LOS quantile multiplied by {los['los_ratio']} "
        "(realised mean of closed clean PD spells there: "
        f"{los['realised_mean_los_closed_pd_implementing_before']:.1f} "
        f"days before, {los['realised_mean_los_closed_pd_implementing_after']:.1f} after). Spells still in "
        "hospital "
        f"at the extract date are open (empty `discharged`): {real['spells']['clean_open_at_extract']} clean "
        "spells. That is censoring, not a defect. Spells cross month and year boundaries, "
        f"{real['spells']['spanning_2020_02_29']} include 29 Feb 2020 and "
        f"{real['spells']['spanning_2024_02_29']} "
        "include 29 Feb 2024.",
        "",
        "**Crisis cohort and regression to the mean.** `cohort.csv` holds PD patients selected at a crisis: "
        f"{rtm['selection_rule']}. Because crises are transient, the year before the index date is inflated "
        "and "
        "the year after falls back even with no effect. Naive after/before ratio of clean ED attendances "
        f"(365 days each side): control site {nb['control']['ratio_after_to_before']:.2f} "
        f"({nb['control']['patients']} patients; about {rtm['expected_ratio_without_selection_control']:.2f} "
        f"expected without selection), implementing sites {nb['implementing']['ratio_after_to_before']:.2f} "
        f"({nb['implementing']['patients']} patients; regression to the mean plus the true effect). "
        f"{rtm['with_end_date']} cohort patients have an `end_date`.",
        "",
        "**Routine outcome measures (CHANGE-style).** "
        f"{rom['patients']} PD patients at implementing sites, baseline then 8 weekly sessions and an end "
        "measurement (session 9). A latent severity falls by "
        f"{-rom['weekly_change_latent_sd']} SD a week on average (patients vary); items are drawn from it "
        "through a binomial link, with reverse-keyed items running the other way. "
        f"About {rom['item_missing_prob']:.0%} of items and {rom['form_missing_prob']:.0%} of whole forms "
        "are "
        "empty. Drop-out: after each occasion the chance of leaving rises with current severity, so "
        "completers "
        f"were less severe at baseline ({rom['realised']['completers']} of {rom['patients']} completed; mean "
        f"baseline severity {rom['realised']['mean_baseline_severity_completers']:.2f} for completers vs "
        f"{rom['realised']['mean_baseline_severity_dropouts']:.2f} for drop-outs). Comparing completers' end "
        "scores "
        "with everyone's baseline therefore overstates improvement. Rows after drop-out are absent.",
        "",
        "**Staff survey.** "
        f"{staff['staff']} staff answer a pre wave; {staff['with_post']} also answer a post wave "
        f"{cfg['staff_post_weeks']} weeks later (more burnt-out staff are a little more likely to drop out). "
        "True latent changes (SD units, in the direction of each scored total): "
        + ", ".join(f"{k} {v['effect_latent_sd']:+}" for k, v in staff["instruments"].items())
        + ".",
        "",
        "## Injected defects",
        "",
        "Every defect row is an **extra** row with exactly one defect; clean rows are never altered. "
        "Removing the "
        "defect rows (for duplicates, the second copy) leaves exactly the clean data that the truth "
        "describes. "
        "`truth.json` lists the ids of every defect row (`defects.<file>.<kind>.ids`).",
        "",
        "`attendances.csv`:",
        "",
        _table(("defect", "rows", "rule"), defect_rows(d_att)),
        "",
        "`spells.csv`:",
        "",
        _table(("defect", "rows", "rule"), defect_rows(d_sp)),
        "",
        "Not defects: " + "; ".join(t["defects"]["not_defects"]) + ".",
        "",
        "Clean totals: "
        f"{real['attendances']['clean_total']:,} attendances ({real['attendances']['clean_pd']:,} PD) and "
        f"{real['spells']['clean_total']:,} spells ({real['spells']['clean_pd']:,} PD).",
        "",
        "## Columns",
        "",
        "### `sites.csv`",
        "",
        _table(
            ("column", "type", "empty allowed", "meaning"),
            [(f"`{a}`", b, c, d) for a, b, c, d in _SITES_COLUMNS],
        ),
        "",
        "### `population.csv`",
        "",
        _columns_table("population", t),
        "",
        "### `attendances.csv`",
        "",
        _columns_table("attendances", t),
        "",
        "### `spells.csv`",
        "",
        _columns_table("spells", t),
        "",
        "### `cohort.csv`",
        "",
        _columns_table("cohort", t),
        "",
        "### `rom_responses.csv`",
        "",
        _columns_table("rom_responses", t),
        "",
        "Item columns (item codes only; no item wording is shipped). Empty cell = item not answered.",
        "",
        _items_table(rom, ROM_SPECS),
        "",
        "### `staff_survey.csv`",
        "",
        _columns_table("staff_survey", t),
        "",
        "Item columns. CBI items take the values 0, 25, 50, 75, 100; no CBI item is generated reverse-keyed.",
        "",
        _items_table(staff, STAFF_SPECS),
        "",
        "## `truth.json`",
        "",
        "Keys: `seed`, `config` (every parameter), `window`, `sites`, `model` (the exact formula and time "
        "coding), `effects` (level and slope changes as rate ratios and log coefficients, LOS shift), "
        "`realised` (clean totals, by site and stream), `regression_to_the_mean` (selection rule and "
        "realised "
        "naive ratios by site), `rom` and `staff_survey` (latent models, effects, drop-out, expected scored "
        "totals, reverse keys), `defects` (count, rule and ids per kind and file). Floats are rounded to "
        "6 decimals.",
        "",
        "## Sources of the base rates",
        "",
        "Grenyer et al. 2018, *PLOS ONE* 13(11): e0206472 (bed days per admission 13.46 → 4.28; ED "
        "re-presentation about 1.3× less likely); Lewis et al. 2019, *BJPsych Open* 5(1): e1 (PD = 20.5 % of "
        "mental-health emergency presentations, 26.6 % of inpatients); Huxley et al. 2019, *BMC Psychiatry* "
        "19:341 (attendance and drop-out in a brief intervention). The CHANGE effect is hypothetical: no "
        "published CHANGE evaluation was found.",
        "",
    ]
    return "\n".join(parts)
