"""The ready protocols run end to end; the output folder is deterministic, suppressed and identifier-free.

Each protocol is run once (module-scoped fixture) and its outputs are written; a second, independent run
checks byte-for-byte determinism. Expected values come from truth.json, hashlib and the input CSVs, never
from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from pathlib import Path

import jsonschema  # a dev dependency: imported directly, so this test cannot skip silently
import numpy as np
import pandas as pd
import pytest

from evaltoolkit.report import (
    build_report,
    check_results,
    render_folder,
    run_protocol,
    stale_book_pages,
    write_outputs,
)
from evaltoolkit.report.document import Figure

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ROOT / "protocols"
DATA = ROOT / "synthetic_data"
TRUTH = json.loads((DATA / "truth.json").read_text())
READY = ("project_air", "change_programme", "leadership_programme")

# Keys and columns that hold counts of people, events or rows (written here, not imported).
COUNT_FIELDS = {
    "n",
    "n_started",
    "n_valid_pre",
    "n_valid_post",
    "n_analysed",
    "n_completers",
    "n_dropouts",
    "n_classified",
    "n_rows",
    "n_excluded",
    "rows_read",
    "rows_excluded",
    "rows_kept",
    "numerator",
    "denominator",
    "patients",
    "excluded_patients",
    "observed_n",
    "attendances",
    "admissions",
    "bed_days",
    "discharges",
    "value",
    "person_years",  # a sum of each patient's time at risk: a year per patient when no window is cut short
    "df",  # degrees of freedom: n − 1 of a paired t, so it gives the exact n away
}
# Fields computed from exact counts that must never hold a value (null, blank or absent), and the one place a
# field of that name is not about people: the lags of a residual autocorrelation test of an ITS fit.
NEVER_PUBLISHED = {"df"}
NOT_ABOUT_PEOPLE = re.compile(r"^\.its\.fits\[\d+\]\.diagnostics\.tests\[\d+\]\.df$")
# A count of people written in words ("76 non-zero changes", "173 end scores", "60 of 79"): published
# counts are 0 or rounded to 5 (or said as "fewer than 8").
COUNT_IN_TEXT = re.compile(
    r"(?<![\w.,])(?<!than )(\d+) (?:[\w-]+ )?(?:patients|people|persons|staff|subjects|participants|cases|"
    r"pairs|completers|drop-outs|responses|scores|changes|stopped|started)\b"
)
K_OF_N_IN_TEXT = re.compile(r"(?<![\w.,])(?<!than )(\d+) of (\d+)\b(?![.,]\d)")
SMALL_IN_TEXT = [
    re.compile(r"\bn\s*[=≈]\s*[1-7]\b"),
    re.compile(
        r"(?<![\d.,])\b[1-7] (patients|people|persons|staff|attendances|admissions|bed-days|rows|complete "
        r"cases|"
        r"cases|forms|pairs|participants|subjects|completers|spells|discharges)\b"
    ),
]
ID_TOKEN = re.compile(rb"\b(?:P\d{7}|ST\d{5}|EC\d{8}|SP\d{7})\b")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, evaluations):
    out = {}
    for name in READY:
        folder = tmp_path_factory.mktemp(f"run_{name}")
        evaluation = evaluations[name]
        paths = write_outputs(evaluation, folder, command=f"test {name}")
        out[name] = (evaluation, folder, paths)
    return out


@pytest.fixture(scope="module")
def input_ids():
    ids: set[bytes] = set()
    for file, cols in (
        ("attendances.csv", ["attendance_id", "patient_id"]),
        ("spells.csv", ["spell_id", "patient_id"]),
        ("cohort.csv", ["patient_id"]),
        ("rom_responses.csv", ["patient_id"]),
        ("staff_survey.csv", ["staff_id"]),
    ):
        frame = pd.read_csv(DATA / file, usecols=cols, dtype=str)
        for c in cols:
            ids |= {v.encode() for v in frame[c].dropna()}
    return ids


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_ready_protocol_runs_end_to_end(runs, name):
    _, folder, _ = runs[name]
    for rel in ("results.json", "report.md", "report.html", "manifest.json", "tables/estimates.csv"):
        assert (folder / rel).exists(), rel
    results = json.loads((folder / "results.json").read_text())
    assert check_results(results) == []
    assert results["protocol"]["name"] == name
    assert results["summary"] and all(isinstance(s, str) and s for s in results["summary"])
    assert (folder / "figures").is_dir() and any((folder / "figures").glob("*.svg"))
    assert any((folder / "figures").glob("*.png"))
    estimates = pd.read_csv(folder / "tables" / "estimates.csv")
    assert len(estimates) == len(results["estimates"]) > 0
    assert estimates["id"].is_unique


@pytest.mark.slow
def test_project_air_estimates_cover_the_true_effects(runs):
    results = runs["project_air"][0].results
    combined = {(c["series"], c["method_id"]): c for c in results["its"]["combined"]}
    h = np.arange(results["its"]["horizon_months"])
    for series, key in (("pd_ed_attendances", "attendances_pd"), ("pd_admissions", "spells_pd")):
        eff = TRUTH["effects"][key]
        # the true ratio over the horizon: level change times the slope change compounding each month
        truth = float(np.mean(eff["level_change_rr"] * eff["slope_change_rr_per_month"] ** h)) - 1
        c = combined[(series, "m0")]
        assert c["status"] == "ok"
        assert c["relative_ci_lower"] < truth < c["relative_ci_upper"], (series, truth, c)
        assert c["relative_change"] < 0
    # every series × site × method was fitted (or declared a duplicate), none failed
    statuses = {f["status"] for f in results["its"]["fits"]}
    assert statuses <= {"ok", "warning", "duplicate"}
    n_methods = len(results["its"]["methods"])
    assert len(results["its"]["fits"]) == len(results["series"]) * 3 * n_methods


@pytest.mark.slow
def test_project_air_cohort_separates_regression_to_the_mean(runs):
    cohort = runs["project_air"][0].results["cohort"]
    did = {(r["outcome"], r["term"]): r for r in cohort["did"]}
    # truth.json: naive after/before ratios 0.46 (implementing) and 0.49 (control), so the ratio of rate
    # ratios is close to 1 while each cohort's own ratio is about a half
    comp = did[("attendances", "rate_ratio_comparison")]
    assert (
        comp["ci_lower"]
        < TRUTH["regression_to_the_mean"]["naive_before_after"]["control"]["ratio_after_to_before"]
        < comp["ci_upper"]
    )
    assert (
        did[("attendances", "ratio_of_rate_ratios")]["ci_lower"]
        < 1
        < did[("attendances", "ratio_of_rate_ratios")]["ci_upper"]
    )
    assert "regression to the mean" in cohort["statements"]["attendances"]


@pytest.mark.slow
def test_change_programme_measures(runs):
    om = runs["change_programme"][0].results["outcome_measures"]
    paired = {(r["outcome"], r["term"]): r for r in om["paired"]}
    for key in ("phq9", "gad7", "core10", "bsl23"):  # higher is worse: scores fall
        assert paired[(key, "mean_change")]["ci_upper"] < 0, key
    assert paired[("swemwbs", "mean_change")]["ci_lower"] > 0  # wellbeing rises
    tt = {r["indicator"]: r for r in om["talking_therapies"]}
    assert set(tt) >= {"recovery", "reliable_improvement", "reliable_recovery", "reliable_deterioration"}
    # percentages and proportions are computed from the published (rounded) counts
    r = tt["recovery"]
    assert r["proportion"] == pytest.approx(r["numerator"] / r["denominator"], rel=1e-5)  # 6 digits
    assert om["trajectories"] is not None
    # truth.json: 300 patients started, 209 completed
    started = {a["outcome"]: a["n_started"] for a in om["analysed"]}
    assert started["phq9"] == 300
    limitations = {x["id"] for x in runs["change_programme"][0].results["limitations"]}
    assert {"no_comparison_group", "missing_outcome_data"} <= limitations


@pytest.mark.slow
def test_leadership_programme_measures(runs):
    om = runs["leadership_programme"][0].results["outcome_measures"]
    paired = {(r["outcome"], r["term"]): r for r in om["paired"]}
    truth = TRUTH["staff_survey"]["instruments"]
    for key, outcome in (
        ("pss10", "pss10"),
        ("mhc_sf", "mhc_sf"),
        ("scs_sf", "scs_sf"),
        ("ffmq15", "ffmq15"),
    ):
        sign = np.sign(truth[key]["expected_scored_total_post"] - truth[key]["expected_scored_total_pre"])
        assert np.sign(paired[(outcome, "mean_change")]["estimate"]) == sign, key
    assert {"cbi_personal", "cbi_work", "cbi_client"} <= {k for k, _ in paired}
    holm = [r for r in om["paired"] if r["term"] == "mean_change"]
    assert all(r["p_adjusted"] >= r["p_value"] for r in holm)


@pytest.mark.slow
def test_two_runs_are_byte_identical(runs, tmp_path):
    for name in READY:
        _, first, _ = runs[name]
        second = tmp_path / name
        write_outputs(run_protocol(PROTOCOLS / f"{name}.yaml"), second, command="another command line")
        a = [p.relative_to(first) for p in _files(first)]
        b = [p.relative_to(second) for p in _files(second)]
        assert a == b
        for rel in a:
            if rel.name == "manifest.json":
                continue  # the only file allowed to change: time and command line
            assert (first / rel).read_bytes() == (second / rel).read_bytes(), (name, rel)
        assert (first / "manifest.json").read_bytes() != (second / "manifest.json").read_bytes()
        assert b"created_utc" not in (first / "results.json").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_manifest_records_provenance(runs, name):
    _, folder, _ = runs[name]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 20261121
    assert manifest["command"] == f"test {name}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created_utc"])
    protocol_file = PROTOCOLS / f"{name}.yaml"
    assert manifest["protocol"]["sha256"] == hashlib.sha256(protocol_file.read_bytes()).hexdigest()
    for kind, info in manifest["inputs"].items():
        assert info["sha256"] == hashlib.sha256((DATA / f"{kind}.csv").read_bytes()).hexdigest()
    assert (
        manifest["outputs"]["results.json"]
        == hashlib.sha256((folder / "results.json").read_bytes()).hexdigest()
    )
    assert {"numpy", "pandas", "statsmodels", "matplotlib", "python"} <= set(manifest["packages"])


def _walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, obj


def _key(path: str) -> str:
    return re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]


def _svg_text(path: Path) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text(encoding="utf-8"))


def _count_leaks(results: dict) -> list[str]:
    """Paths of results.json whose count (or count-derived field) is not published per the NHS rule."""
    bad = []
    for path, value in _walk(results):
        key = _key(path)
        if key not in COUNT_FIELDS or NOT_ABOUT_PEOPLE.match(path) or value is None or value == "*":
            continue
        if key in NEVER_PUBLISHED:
            bad.append(f"{path} = {value!r} (computed from an exact count)")
            continue
        whole = isinstance(value, int) or (
            key != "value" and isinstance(value, float) and value.is_integer()  # "value": also unit costs
        )
        if isinstance(value, bool) or not whole:
            continue
        if 1 <= value <= 7 or value % 5:  # 0 stays 0; 1–7 are "*"; every other count is rounded to 5
            bad.append(f"{path} = {value!r}")
    return bad


def _count_leaks_in_text(text: str) -> list[str]:
    found = [m.group(0) for m in SMALL_IN_TEXT[0].finditer(text)]
    found += [m.group(0) for m in SMALL_IN_TEXT[1].finditer(text)]
    for m in COUNT_IN_TEXT.finditer(text):
        if int(m.group(1)) % 5:
            found.append(m.group(0))
    for m in K_OF_N_IN_TEXT.finditer(text):
        if int(m.group(1)) % 5 or int(m.group(2)) % 5:
            found.append(m.group(0))
    return found


def test_the_count_scans_find_leaks():
    leaks = {
        "cohort": {"change": [{"n": 145, "df": 143.0}, {"n": 30, "df": 31}, {"n": "*", "df": None}]},
        "outcome_measures": {"attrition": [{"n_dropouts": 3, "df": 65.5, "person_years": 32.0}]},
        "its": {"fits": [{"diagnostics": {"tests": [{"df": 12.0}]}}]},
        "costs": [{"value": 1074.0}],
    }
    assert sorted(_count_leaks(leaks)) == [
        ".cohort.change[0].df = 143.0 (computed from an exact count)",
        ".cohort.change[1].df = 31 (computed from an exact count)",
        ".outcome_measures.attrition[0].df = 65.5 (computed from an exact count)",
        ".outcome_measures.attrition[0].n_dropouts = 3",
        ".outcome_measures.attrition[0].person_years = 32.0",
    ]
    text = (
        "(60 of 79); about 20 stopped, 0 started; 76 non-zero changes; mean of 173 end scores; 10 occasions"
    )
    assert _count_leaks_in_text(text) == ["76 non-zero changes", "173 end scores", "60 of 79"]
    assert _count_leaks_in_text("(60 of 80); fewer than 8 patients; about 145 complete cases") == []


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_no_small_count_is_published(runs, name):
    _, folder, _ = runs[name]
    results = json.loads((folder / "results.json").read_text())
    assert results["suppression"]["rule"] == "nhs"
    assert _count_leaks(results) == []
    means = {s["name"] for s in results["series"] if s["measure"] == "mean_los"}
    for csv in (folder / "tables").glob("*.csv"):
        table = pd.read_csv(csv, dtype=str)
        for col in NEVER_PUBLISHED & set(table.columns):
            assert table[col].isna().all(), (csv.name, col)  # kept as a column, always blank
        if "series" in table.columns:
            table = table[~table["series"].isin(means)]  # mean length of stay: a mean, not a count
        for col in table.columns:
            if col in COUNT_FIELDS and not (csv.name == "costs.csv" and col == "value"):  # a unit cost
                shown = pd.to_numeric(table[col], errors="coerce").dropna()
                shown = shown[shown == shown.round()]
                assert not shown.between(1, 7).any(), (csv.name, col)
                assert (shown % 5 == 0).all(), (csv.name, col)
    texts = [(folder / "report.md").read_text(), (folder / "report.html").read_text()]
    texts += [s for _, s in _walk(results) if isinstance(s, str)]
    texts += [
        s
        for csv in (folder / "tables").glob("*.csv")
        for s in pd.read_csv(csv, dtype=str).stack()
        if isinstance(s, str)
    ]
    for svg in (folder / "figures").glob("*.svg"):
        texts += _svg_text(svg)
    for text in texts:
        assert _count_leaks_in_text(text) == [], text


@pytest.mark.slow
def test_exact_small_counts_from_truth_are_suppressed(runs):
    results = runs["project_air"][0].results
    quality = {(q["extract"], q["rule"]): q["n_rows"] for q in results["data"]["quality"]}
    defects = TRUTH["defects"]
    # (spells, unknown_site) = 5 and (spells, outside_window) = 6 rows: shown as *; 8 and 12 rounded
    assert defects["spells"]["unknown_site"]["count"] == 5
    assert quality[("spells", "unknown_site")] == "*"
    assert quality[("spells", "outside_window")] == "*"
    assert quality[("spells", "missing_patient_id")] == 10  # 8 → 10
    assert quality[("attendances", "unknown_site")] == 10  # 12 → 10
    # observed points drawn in the ITS charts come from published counts
    series = {s["name"]: s for s in results["series"]}
    hidden = 0
    for plot in results["its"]["plots"]:
        if series[plot["series"]]["measure"] == "mean_los":
            continue
        for p in plot["points"]:
            if p["observed"] is None:
                hidden += 1
            else:
                assert p["observed"] == 0 or (p["observed"] >= 8 and p["observed"] % 5 == 0)
    assert hidden > 0  # PD admissions at the smaller sites have months with 1–7 admissions


def _id_tokens(folder: Path) -> set[bytes]:
    found: set[bytes] = set()
    for path in _files(folder):
        found |= set(ID_TOKEN.findall(path.read_bytes()))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_no_patient_or_staff_identifier_in_the_outputs(runs, input_ids, name):
    _, folder, _ = runs[name]
    assert _id_tokens(folder) & input_ids == set()


def test_the_identifier_scan_finds_identifiers(tmp_path, input_ids):
    sample = sorted(input_ids)[:3]
    (tmp_path / "leak.csv").write_bytes(b"x\n" + b"\n".join(sample) + b"\n")
    assert _id_tokens(tmp_path) & input_ids == set(sample)


@pytest.mark.slow
def test_standalone_html_has_no_external_resources(runs):
    evaluation, folder, _ = runs["project_air"]
    page = (folder / "report.html").read_text()
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    images = re.findall(r'<img src="([^"]+)"', page)
    figures = [
        b for s in build_report(evaluation.results).sections for b in s.blocks if isinstance(b, Figure)
    ]
    assert len(images) == len(figures) > 0
    assert all(src.startswith("data:image/svg+xml;base64,") for src in images)
    # the plain-language summary comes first
    assert page.index('id="summary"') < page.index('id="counterfactual"') < page.index('id="limitations"')


@pytest.mark.slow
def test_report_folder_re_renders_identically(runs, tmp_path):
    _, folder, _ = runs["change_programme"]
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "report.md").unlink()
    (copy / "report.html").unlink()
    render_folder(copy)
    for rel in ("report.md", "report.html", *[f"figures/{p.name}" for p in (folder / "figures").iterdir()]):
        assert (copy / rel).read_bytes() == (folder / rel).read_bytes(), rel


def test_committed_book_pages_equal_the_generator_output():
    assert stale_book_pages(PROTOCOLS, ROOT / "book") == []
    page = (ROOT / "book" / "reports" / "project_air.md").read_text()
    assert 'run_protocol(Path("../../protocols/project_air.yaml"))' in page
    for section in ("summary", "counterfactual", "cohort", "limitations", "data_quality"):
        assert f'show_section(report, "{section}", glossary=True)' in page
    assert 'show_section(report, "measures"' not in page


@pytest.mark.slow
def test_results_follow_the_published_json_schema(runs):
    from evaltoolkit.report import RESULTS_SCHEMA

    jsonschema.Draft202012Validator.check_schema(RESULTS_SCHEMA)
    for name in READY:
        results = json.loads((runs[name][1] / "results.json").read_text())
        jsonschema.validate(results, RESULTS_SCHEMA)
    broken = json.loads((runs["leadership_programme"][1] / "results.json").read_text())
    broken["estimates"][0]["extra_key"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, RESULTS_SCHEMA)


# Published estimates of the outcome-measure and cohort sections, rounded so no exact n can be solved for
# (the ITS section is left as it is: model coefficients on counts already published rounded to 5).
TWO_DECIMAL_FIELDS = {
    "estimate",
    "ci_lower",
    "ci_upper",
    "statistic",
    "smd",
    "mean_completers",
    "mean_dropouts",
    "sd_completers",
    "sd_dropouts",
    "observed_mean",
}
EFFECT_SIZES = {"d_z", "d_av", "g_av"}


def _published_rows(results: dict) -> list[tuple[str, dict]]:
    rows = []
    om = results.get("outcome_measures") or {}
    for key in ("paired", "attrition", "complete_vs_available", "internal_consistency"):
        rows += [(f"outcome_measures.{key}", r) for r in om.get(key) or []]
    traj = om.get("trajectories") or {}
    for key in ("estimates", "curve"):
        rows += [(f"outcome_measures.trajectories.{key}", r) for r in traj.get(key) or []]
    cohort = results.get("cohort") or {}
    for key in ("windows", "change", "did"):
        rows += [(f"cohort.{key}", r) for r in cohort.get(key) or []]
    return rows


def _decimals_at_most(v: float, k: int) -> bool:
    return abs(v * 10**k - round(v * 10**k)) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_published_estimates_are_rounded_so_n_cannot_be_solved_for(runs, name):
    _, folder, _ = runs[name]
    results = json.loads((folder / "results.json").read_text())
    rows = _published_rows(results)
    if name in ("change_programme", "leadership_programme"):
        assert any(w.startswith("outcome_measures.paired") for w, _ in rows)
    if name == "project_air":
        assert any(w == "cohort.did" for w, _ in rows)
    checked = 0
    for where, r in rows:
        for k, v in r.items():
            if not isinstance(v, float):
                continue
            if k in TWO_DECIMAL_FIELDS or k.endswith("_per_person_year"):
                assert _decimals_at_most(v, 2), (where, k, v, r)
                checked += 1
            elif k in ("p_value", "p_adjusted"):
                assert float(f"{v:.3g}") == v, (where, k, v, r)
            elif k == "std_error":
                assert r.get("term") not in EFFECT_SIZES, (where, r)
                assert float(f"{v:.2g}") == v, (where, k, v, r)
        if r.get("term") in EFFECT_SIZES:
            assert "std_error" in r and r["std_error"] is None, (where, r)
    assert checked > 0
    # the same numbers in the CSV tables
    for table in ("measures_paired", "cohort_change", "cohort_did", "measures_attrition"):
        path = folder / "tables" / f"{table}.csv"
        if path.exists():
            t = pd.read_csv(path)
            for c in ("estimate", "ci_lower", "ci_upper", "mean_completers", "sd_completers"):
                if c in t.columns:
                    v = t[c].dropna().to_numpy(float)
                    assert np.all(np.abs(v * 100 - np.round(v * 100)) < 1e-6), (table, c)
            if "term" in t.columns and "std_error" in t.columns:
                assert t.loc[t["term"].isin(EFFECT_SIZES), "std_error"].isna().all(), table


@pytest.mark.slow
def test_a_published_mean_fits_many_sample_sizes(runs):
    # 13.8056 = 1988 / 144 gave away n = 144 behind the published 145; at 2 decimals a mean is consistent
    # with a whole-number sum for several sample sizes near the published n
    om = runs["change_programme"][0].results["outcome_measures"]
    means = [r for r in om["paired"] if r["term"] in ("mean_pre", "mean_post") and r["estimate"] is not None]
    assert means
    for r in means:
        m, n = r["estimate"], r["n"]
        fits = [
            k
            for k in range(max(n - 10, 1), n + 11)
            # some whole-number sum s with s / k rounding to m: s in [k (m - 0.005), k (m + 0.005)]
            if math.floor(k * (m + 0.005)) >= math.ceil(k * (m - 0.005))
        ]
        assert len(fits) >= 5, (r["outcome"], r["term"], m, n, fits)
