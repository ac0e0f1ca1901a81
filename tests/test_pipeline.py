"""End-to-end: the bundled synthetic data through loading, cleaning and series building.

The expected numbers come from ``synthetic_data/truth.json`` (written by the generator from what it injected)
or from plain pandas recomputation here, never from the code under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaltoolkit.data import load_extracts
from evaltoolkit.pipeline import SERIES_COLUMNS, build_series, write_series

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthetic_data"
TRUTH = json.loads((DATA / "truth.json").read_text())
WINDOW = (TRUTH["window"]["start"], TRUTH["window"]["extract_date"])


@pytest.fixture(scope="module")
def build():
    return build_series(DATA, max_open_days=TRUTH["config"]["los_max_days"])


@pytest.fixture(scope="module")
def extracts():
    return load_extracts(DATA, window=WINDOW, max_open_days=TRUTH["config"]["los_max_days"])


def _found(quality: pd.DataFrame, extract: str, rule: str) -> int:
    row = quality[(quality["extract"] == extract) & (quality["rule"] == rule)]
    assert len(row) == 1, f"rule {rule} missing from the {extract} data-quality table"
    return int(row["n_rows"].iloc[0])


def test_every_injected_defect_is_detected_and_counted(extracts):
    for extract in ("attendances", "spells"):
        quality = extracts[extract].quality
        for rule, info in TRUTH["defects"][extract].items():
            if rule == "total_defect_rows":
                continue
            assert _found(quality, extract, rule) == info["count"], (extract, rule)
        # Every defect row injected is removed or flagged; the clean records survive exactly.
        excluded = int(quality["n_excluded"].sum())
        assert extracts[extract].n_input == TRUTH["realised"][extract]["rows_in_file"]
        assert extracts[extract].n_output + excluded == extracts[extract].n_input


def test_excluded_rows_leave_exactly_the_clean_records(extracts):
    att = extracts["attendances"]
    # Rows kept = clean records + defect rows that are kept and only flagged or corrected.
    kept_defects = sum(
        TRUTH["defects"]["attendances"][r]["count"]
        for r in ("departure_before_arrival", "missing_patient_id")
    )
    assert att.n_output == TRUTH["realised"]["attendances"]["clean_total"] + kept_defects


def test_open_spells_counted(extracts):
    q = extracts["spells"].quality
    expected = (
        TRUTH["realised"]["spells"]["clean_open_at_extract"]
        + TRUTH["defects"]["spells"]["stale_open_spell"]["count"]
    )
    assert _found(q, "spells", "open_spell") == expected


def test_series_shape_and_zero_fill(build):
    s = build.series
    assert list(s.columns) == list(SERIES_COLUMNS)
    n_months = 72
    assert len(s) == 4 * n_months
    assert s.groupby("site")["period"].nunique().eq(n_months).all()
    assert not s[["ed_attendances", "admissions", "bed_days"]].isna().any().any()


def test_series_totals_match_truth(build):
    s = build.series
    real = TRUTH["realised"]
    kept_att_defects = (
        TRUTH["defects"]["attendances"]["missing_patient_id"]["count"]
        + TRUTH["defects"]["attendances"]["departure_before_arrival"]["count"]
    )
    assert s["ed_attendances"].sum() == real["attendances"]["clean_total"] + kept_att_defects
    # Kept defect rows (flagged, not excluded) are listed by id in truth.json; add their PD rows per site.
    raw = pd.read_csv(DATA / "attendances.csv", dtype=str, keep_default_na=False)
    kept_ids = set(TRUTH["defects"]["attendances"]["missing_patient_id"]["ids"]) | set(
        TRUTH["defects"]["attendances"]["departure_before_arrival"]["ids"]
    )
    kept = raw[raw["attendance_id"].isin(kept_ids) & (raw["pd_flag"] == "True")]
    by_site_pd = s.groupby("site")["ed_attendances_pd"].sum()
    for site, n in real["attendances"]["clean_pd_by_site"].items():
        assert by_site_pd[site] == n + int((kept["site"] == site).sum()), site


def test_bed_days_equal_clipped_length_of_stay(build, extracts):
    spells = extracts["spells"].data
    start, end = (pd.Timestamp(w) for w in WINDOW)
    adm = spells["admitted"].dt.normalize().clip(lower=start)
    dis = spells["discharged"].fillna(end).dt.normalize().clip(upper=end)
    expected = int((dis - adm).dt.days.clip(lower=0).sum())
    assert int(build.series["bed_days"].sum()) == expected
    open_only = spells["discharged"].isna()
    expected_open = int((end - adm[open_only]).dt.days.clip(lower=0).sum())
    assert int(build.series["bed_days_open_spells"].sum()) == expected_open


def _pooled_its(series: pd.DataFrame, count: str) -> tuple[float, float, float, float]:
    """Quasi-Poisson segmented regression pooled over sites, written here independently of the toolkit."""
    sites = pd.read_csv(DATA / "sites.csv")
    go_live = dict(zip(sites["site"], pd.to_datetime(sites["go_live"]), strict=True))
    d = series.copy()
    start = d["period"].min()
    d["t"] = (d["period"].dt.year - start.year) * 12 + d["period"].dt.month - start.month
    gl = d["site"].map(go_live)
    gl_t = (gl.dt.year - start.year) * 12 + gl.dt.month - start.month
    d["post"] = (d["t"] >= gl_t).fillna(False).astype(float)
    d["since"] = np.where(d["post"] == 1, d["t"] - gl_t, 0.0)
    d["cos"] = np.cos(2 * np.pi * d["period"].dt.month / 12)
    d["sin"] = np.sin(2 * np.pi * d["period"].dt.month / 12)
    X = pd.get_dummies(d["site"], dtype=float)
    X[["t", "cos", "sin", "post", "since"]] = d[["t", "cos", "sin", "post", "since"]]
    fit = sm.GLM(d[count], X, family=sm.families.Poisson(), offset=np.log(d["population"])).fit(scale="X2")
    return fit.params["post"], fit.bse["post"], fit.params["since"], fit.bse["since"]


def test_series_recover_injected_attendance_effect(build):
    eff = TRUTH["effects"]["attendances_pd"]
    level, level_se, slope, slope_se = _pooled_its(build.series, "ed_attendances_pd")
    assert abs(level - eff["level_change_log"]) < 2.5 * level_se
    assert abs(slope - eff["slope_change_log_per_month"]) < 2.5 * slope_se
    assert level < 0  # the injected fall is visible at series level


def test_series_recover_injected_admission_effect(build):
    eff = TRUTH["effects"]["spells_pd"]
    level, level_se, slope, slope_se = _pooled_its(build.series, "admissions_pd")
    assert abs(level - eff["level_change_log"]) < 2.5 * level_se
    assert abs(slope - eff["slope_change_log_per_month"]) < 2.5 * slope_se


def test_mean_los_by_discharge_month_matches_pandas(build, extracts):
    # Independent recomputation: completed spells grouped by calendar month of discharge.
    spells = extracts["spells"].data
    done = spells[spells["discharged"].notna()].copy()
    done["los"] = (done["discharged"].dt.normalize() - done["admitted"].dt.normalize()).dt.days
    done["period"] = done["discharged"].dt.to_period("M").dt.to_timestamp()
    expected = done.groupby(["site", "period"])["los"].agg(["size", "mean", "median"]).reset_index()
    got = build.series.merge(expected, on=["site", "period"], how="left")
    has = got["size"].notna()
    assert (got.loc[has, "discharges"] == got.loc[has, "size"]).all()
    assert (got.loc[~has, "discharges"] == 0).all() and got.loc[~has, "mean_los_discharged"].isna().all()
    np.testing.assert_allclose(got.loc[has, "mean_los_discharged"], got.loc[has, "mean"], rtol=1e-12)
    np.testing.assert_allclose(got.loc[has, "median_los_discharged"], got.loc[has, "median"], rtol=1e-12)


def test_los_shift_recovered(extracts):
    # The toolkit's length_of_stay against the generator's realised LOS ratio for PD spells at the
    # implementing sites (truth uses exact un-rounded days; the toolkit counts midnights, hence 0.03).
    from evaltoolkit.series import length_of_stay

    spells = extracts["spells"].data
    sites = pd.read_csv(DATA / "sites.csv")
    go_live = dict(zip(sites["site"], pd.to_datetime(sites["go_live"]), strict=True))
    pd_ids = set(extracts["attendances"].data.query("pd_flag == True")["patient_id"].dropna())
    closed = spells[spells["discharged"].notna() & spells["patient_id"].isin(pd_ids)]
    los = length_of_stay(closed, admitted="admitted", discharged="discharged")
    gl = los["site"].map(go_live)
    impl = gl.notna()
    after = los.loc[impl & (los["admitted"] >= gl), "los_days"].mean()
    before = los.loc[impl & (los["admitted"] < gl), "los_days"].mean()
    real = TRUTH["effects"]["los_pd"]
    realised = (
        real["realised_mean_los_closed_pd_implementing_after"]
        / real["realised_mean_los_closed_pd_implementing_before"]
    )
    assert after / before == pytest.approx(realised, abs=0.03)
    assert after / before < 0.8  # the injected shortening (x0.7) is visible


def test_missing_inputs_give_missing_series_not_zeros(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("population.csv", "sites.csv"):
        (folder / name).write_bytes((DATA / name).read_bytes())
    att = pd.read_csv(DATA / "attendances.csv", dtype=str, keep_default_na=False).drop(columns=["pd_flag"])
    att.to_csv(folder / "attendances.csv", index=False)
    spells = pd.read_csv(DATA / "spells.csv", dtype=str, keep_default_na=False).drop(columns=["ward_type"])
    spells.to_csv(folder / "spells.csv", index=False)
    b = build_series(folder, max_open_days=TRUTH["config"]["los_max_days"])
    for col in ("ed_attendances_pd", "admissions_pd", "emergency_admissions_mh"):
        assert b.series[col].isna().all(), col
    assert any("pd_flag" in n for n in b.notes) and any("ward_type" in n for n in b.notes)
    assert b.series["ed_attendances"].sum() > 0


def test_outputs_deterministic_and_private(build, tmp_path):
    a = write_series(build, tmp_path / "a", command="test")
    b = write_series(
        build_series(DATA, max_open_days=TRUTH["config"]["los_max_days"]), tmp_path / "b", command="t"
    )
    for name, path in a.items():
        if name == "manifest":
            continue
        assert path.read_bytes() == b[name].read_bytes(), name
    manifest = json.loads(a["manifest"].read_text())
    assert set(manifest["inputs"]) >= {"attendances", "spells", "population"}
    assert all(len(v["sha256"]) == 64 for v in manifest["inputs"].values())
    # No patient identifier from the input appears in any output file.
    ids = set(pd.read_csv(DATA / "attendances.csv", usecols=["patient_id"])["patient_id"].dropna())
    text = "\n".join(p.read_text() for p in a.values())
    assert not any(pid in text for pid in ids)
    # No count 1-7 survives into a published file.
    pub = pd.read_csv(a["series_published"], dtype=str)
    count_cols = (
        "ed_attendances",
        "ed_attendances_pd",
        "admissions",
        "admissions_pd",
        "emergency_admissions_mh",
        "bed_days",
        "bed_days_open_spells",
        "discharges",
    )
    for col in count_cols:
        shown = pd.to_numeric(pub[col], errors="coerce").dropna()
        assert not shown.between(1, 7).any(), col
        assert (shown % 5 == 0).all(), col
    dq = pd.read_csv(a["data_quality"], dtype=str)
    assert "rows" not in dq.columns  # row numbers stay in the internal file
    for col in ("n_rows", "n_excluded"):
        assert not pd.to_numeric(dq[col], errors="coerce").dropna().between(1, 7).any()
    win = pd.read_csv(a["patient_windows_summary"])
    for rate, count in (
        ("attendances_per_person_year", "attendances"),
        ("bed_days_per_person_year", "bed_days"),
    ):
        shown = pd.to_numeric(win[count], errors="coerce")
        np.testing.assert_allclose(win[rate], shown / win["person_years"], rtol=1e-5)
    # The published rate is computed from the rounded count, so it cannot reveal the exact count.
    back = pd.to_numeric(pub["ed_attendances_per_100k"]) * pd.to_numeric(pub["population"]) / 100_000
    remainder = back.dropna() % 5  # the CSV holds 6 significant digits, so allow a small error
    assert ((remainder < 0.05) | (remainder > 4.95)).all()


def test_cli_series_and_validate(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "evaltoolkit", "series", str(DATA), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (out / "series.csv").exists() and (out / "data_quality.csv").exists()
    assert "rows excluded by data-quality rules" in done.stdout
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "population.csv").write_text("site,period,population\nA,2023-01-15,-5\n")
    done = subprocess.run(
        [sys.executable, "-m", "evaltoolkit", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "population" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "evaltoolkit", "series", str(tmp_path / "nope"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
