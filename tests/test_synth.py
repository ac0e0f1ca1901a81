"""Tests for evaltoolkit.synth: reproducibility, schema, truth consistency and recovery sanity.

Expected values are recomputed here from the written files with plain pandas (or written out by
hand from the brief), never copied from the generator's internals.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from evaltoolkit.schemas import SCHEMAS
from evaltoolkit.synth import FILES, SynthConfig, generate, write_synthetic

DATA_DIR = Path(__file__).resolve().parents[1] / "synthetic_data"
SEED = 20261121
START = pd.Timestamp("2019-04-01")
EXTRACT = pd.Timestamp("2025-04-01")

# A small configuration for tests that only need *some* data quickly.
SMALL = SynthConfig(
    pd_patients_per_site=60,
    other_patients_per_site=400,
    rom_patients=20,
    staff_n=10,
    ed_pd_rate_per_100k=2.0,
    ed_other_rate_per_100k=4.0,
    spell_pd_rate_per_100k=0.5,
    spell_other_rate_per_100k=1.0,
)

# Item columns, values and reverse keys as given in the brief (written out independently of the code).
ITEMS = {
    "rom_responses": {
        "phq9": (9, set(range(0, 4))),
        "gad7": (7, set(range(0, 4))),
        "core10": (10, set(range(0, 5))),
        "bsl23": (23, set(range(0, 5))),
        "swemwbs": (7, set(range(1, 6))),
    },
    "staff_survey": {
        "pss10": (10, set(range(0, 5))),
        "mhc_sf": (14, set(range(0, 6))),
        "scs_sf": (12, set(range(1, 6))),
        "ffmq15": (15, set(range(1, 6))),
        "cbi": (19, {0, 25, 50, 75, 100}),
    },
}
REVERSE = {
    "core10": [2, 3],
    "pss10": [4, 5, 7, 8],
    "scs_sf": [1, 4, 8, 9, 11, 12],
    "ffmq15": [3, 4, 7, 8, 9, 13, 14],
}


def _item_cols(kind: str) -> list[str]:
    return [f"{k}_{j}" for k, (n, _) in ITEMS[kind].items() for j in range(1, n + 1)]


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((DATA_DIR / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    """Committed CSVs read as plain strings (empty cell → empty string)."""
    return {
        k: pd.read_csv(DATA_DIR / name, dtype=str, keep_default_na=False)
        for k, name in FILES.items()
        if name.endswith(".csv")
    }


@pytest.fixture(scope="module")
def att(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    a = raw["attendances"].copy()
    a["arrival"] = pd.to_datetime(a["arrival"], format="%Y-%m-%d %H:%M:%S")
    a["departure"] = pd.to_datetime(a["departure"].replace("", None), format="%Y-%m-%d %H:%M:%S")
    return a


@pytest.fixture(scope="module")
def spells(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    s = raw["spells"].copy()
    s["admitted"] = pd.to_datetime(s["admitted"], format="%Y-%m-%d %H:%M:%S")
    s["discharged"] = pd.to_datetime(s["discharged"].replace("", None), format="%Y-%m-%d %H:%M:%S")
    return s


@pytest.fixture(scope="module")
def site_codes(raw: dict[str, pd.DataFrame]) -> set[str]:
    return set(raw["sites"]["site"])


def _att_flags(att: pd.DataFrame, site_codes: set[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "exact_duplicate": att.duplicated(),
            "departure_before_arrival": att["departure"] < att["arrival"],
            "outside_window": (att["arrival"] < START) | (att["arrival"] >= EXTRACT),
            "unknown_site": ~att["site"].isin(site_codes),
            "missing_patient_id": att["patient_id"] == "",
        }
    )


def _spell_flags(spells: pd.DataFrame, site_codes: set[str]) -> pd.DataFrame:
    open_ = spells["discharged"].isna()
    return pd.DataFrame(
        {
            "exact_duplicate": spells.duplicated(),
            "stale_open_spell": open_ & (spells["admitted"] < EXTRACT - pd.Timedelta(days=365)),
            "outside_window": spells["admitted"] >= EXTRACT,
            "unknown_site": ~spells["site"].isin(site_codes),
            "missing_patient_id": spells["patient_id"] == "",
        }
    )


@pytest.fixture(scope="module")
def clean_att(att: pd.DataFrame, site_codes: set[str]) -> pd.DataFrame:
    return att[~_att_flags(att, site_codes).any(axis=1)]


@pytest.fixture(scope="module")
def clean_spells(spells: pd.DataFrame, site_codes: set[str]) -> pd.DataFrame:
    return spells[~_spell_flags(spells, site_codes).any(axis=1)]


# ---------------------------------------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------------------------------------


def test_regenerated_files_are_byte_identical_to_committed(tmp_path: Path) -> None:
    paths = write_synthetic(tmp_path, seed=SEED)
    committed = sorted(p.name for p in DATA_DIR.iterdir() if p.is_file())
    assert committed == sorted(p.name for p in paths.values())
    for path in paths.values():
        if path.name == "README.md":
            continue
        assert path.read_bytes() == (DATA_DIR / path.name).read_bytes(), path.name


def test_same_seed_identical_different_seed_differs() -> None:
    a, b, c = generate(SMALL, seed=7), generate(SMALL, seed=7), generate(SMALL, seed=8)
    for f in dataclasses.fields(a):
        if f.name == "truth":
            assert a.truth == b.truth
        else:
            pd.testing.assert_frame_equal(getattr(a, f.name), getattr(b, f.name))
    assert len(a.attendances) != len(c.attendances) or not a.attendances.equals(c.attendances)
    assert not a.rom_responses.equals(c.rom_responses)
    assert a.truth["seed"] == 7 and c.truth["seed"] == 8


def test_components_draw_from_independent_streams() -> None:
    base = generate(SMALL, seed=3)
    more_rom = generate(dataclasses.replace(SMALL, rom_patients=25, staff_n=30), seed=3)
    pd.testing.assert_frame_equal(base.attendances, more_rom.attendances)
    pd.testing.assert_frame_equal(base.spells, more_rom.spells)
    pd.testing.assert_frame_equal(base.cohort, more_rom.cohort)
    assert not base.staff_survey.equals(more_rom.staff_survey)
    fewer_defects = generate(dataclasses.replace(SMALL, defects_att_duplicates=5), seed=3)
    pd.testing.assert_frame_equal(base.rom_responses, fewer_defects.rom_responses)
    assert fewer_defects.attendances.duplicated().sum() == 5


def test_truth_json_is_canonical(truth: dict) -> None:
    text = (DATA_DIR / "truth.json").read_text(encoding="utf-8")
    assert text == json.dumps(truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert truth["seed"] == SEED


def test_csv_formats(raw: dict[str, pd.DataFrame]) -> None:
    for name in FILES.values():
        if name.endswith(".csv"):
            data = (DATA_DIR / name).read_bytes()
            assert b"\r" not in data, name
            assert re.search(rb"\d\.\d", data.split(b"\n", 1)[1]) is None, f"{name} has a decimal number"
    dt = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
    day = re.compile(r"^\d{4}-\d{2}-\d{2}$")
    assert raw["attendances"]["arrival"].str.match(dt).all()
    assert raw["spells"]["admitted"].str.match(dt).all()
    assert raw["cohort"]["index_date"].str.match(day).all()
    assert raw["population"]["period"].str.match(day).all()
    assert set(raw["attendances"]["pd_flag"]) == {"True", "False"}


# ---------------------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------------------


def test_columns_match_canonical_schemas(raw: dict[str, pd.DataFrame]) -> None:
    for kind in ("attendances", "population", "cohort"):
        assert list(raw[kind].columns) == SCHEMAS[kind].names, kind
    # The bundled spells carry no personality-disorder flag (like most trust extracts): PD spells are
    # found through ED attendances, which the protocol run reports as a note. Every other column is there.
    assert list(raw["spells"].columns) == [c for c in SCHEMAS["spells"].names if c != "pd_flag"]
    for kind in ("rom_responses", "staff_survey"):
        assert list(raw[kind].columns) == SCHEMAS[kind].names + _item_cols(kind), kind
        assert tuple(ITEMS[kind]) == SCHEMAS[kind].item_prefixes
    assert list(raw["sites"].columns) == ["site", "site_name", "go_live", "implements"]


def test_category_values_and_ids(raw: dict[str, pd.DataFrame], clean_att: pd.DataFrame) -> None:
    assert set(raw["attendances"]["sex"]) <= {"F", "M", "U"}
    assert set(raw["attendances"]["age_band"]) <= {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    assert set(raw["spells"]["ward_type"]) == {"mental_health", "acute"}
    assert set(raw["spells"]["admission_method"]) == {"emergency", "elective"}
    assert set(raw["staff_survey"]["wave"]) == {"pre", "post"}
    assert clean_att["patient_id"].str.fullmatch(r"P\d{7}").all()
    assert raw["attendances"]["attendance_id"].str.fullmatch(r"EC\d{8}").all()
    assert raw["spells"]["spell_id"].str.fullmatch(r"SP\d{7}").all()


@pytest.mark.parametrize("kind", ["rom_responses", "staff_survey"])
def test_item_values_in_allowed_ranges(raw: dict[str, pd.DataFrame], kind: str) -> None:
    df = raw[kind]
    n_cells = 0
    n_empty = 0
    for key, (n, allowed) in ITEMS[kind].items():
        for j in range(1, n + 1):
            col = df[f"{key}_{j}"]
            filled = col[col != ""]
            assert filled.str.fullmatch(r"\d+").all(), f"{key}_{j} has a non-integer"
            assert set(filled.astype(int)) <= allowed, f"{key}_{j} outside {sorted(allowed)}"
            n_cells += len(col)
            n_empty += int((col == "").sum())
    # Some, but only a few per cent, of item cells are empty.
    assert 0 < n_empty / n_cells < 0.08


def test_no_item_wording_anywhere() -> None:
    fragments = [
        "interest or pleasure", "feeling down", "nervous, anxious", "trouble relaxing", "feeling tense",
        "optimistic about the future", "upset because of something", "energy for family",
        "kind to myself", "physically exhausted", "i felt", "over the last 2 weeks", "how often",
    ]  # fmt: skip
    package = Path(__file__).resolve().parents[1] / "evaltoolkit" / "synth"
    texts = [p.read_text(encoding="utf-8").lower() for p in DATA_DIR.iterdir() if p.is_file()]
    texts += [p.read_text(encoding="utf-8").lower() for p in package.glob("*.py")]
    for frag in fragments:
        assert not any(frag in t for t in texts), frag


# ---------------------------------------------------------------------------------------------------------
# Truth consistency, recomputed from the files
# ---------------------------------------------------------------------------------------------------------


def test_sites_go_live_and_population(raw: dict[str, pd.DataFrame], truth: dict) -> None:
    sites = raw["sites"].set_index("site")
    expected = {"RA1": "2021-04-01", "RB2": "2022-01-01", "RC3": "2022-10-01", "RD4": ""}
    assert sites["go_live"].to_dict() == expected
    assert sites["implements"].to_dict() == {"RA1": "True", "RB2": "True", "RC3": "True", "RD4": "False"}
    assert {s["site"]: s["go_live"] or "" for s in truth["sites"]} == expected
    # Go-live month indices counted by hand from April 2019.
    assert {s["site"]: s["go_live_month_index"] for s in truth["sites"]} == {
        "RA1": 24, "RB2": 33, "RC3": 42, "RD4": None,
    }  # fmt: skip

    pop = raw["population"].assign(population=lambda d: d["population"].astype(int))
    assert pop.groupby("site").size().to_dict() == {"RA1": 72, "RB2": 72, "RC3": 72, "RD4": 72}
    assert pop["period"].min() == "2019-04-01" and pop["period"].max() == "2025-03-01"
    assert pop["population"].between(150_000, 400_000).all()
    assert (pop.groupby("site")["population"].diff().dropna() >= 0).all()


def test_attendance_defect_counts_and_ids(att: pd.DataFrame, site_codes: set[str], truth: dict) -> None:
    flags = _att_flags(att, site_codes)
    block = truth["defects"]["attendances"]
    for kind in flags.columns:
        assert int(flags[kind].sum()) == block[kind]["count"], kind
        assert sorted(att.loc[flags[kind], "attendance_id"]) == block[kind]["ids"], kind
    assert flags.sum(axis=1).max() == 1  # each defect row has exactly one defect
    assert block["exact_duplicate"]["count"] == 40 and block["missing_patient_id"]["count"] == 30
    assert set(att.loc[flags["unknown_site"], "site"]) == {"ZZ9"}


def test_spell_defect_counts_and_ids(spells: pd.DataFrame, site_codes: set[str], truth: dict) -> None:
    flags = _spell_flags(spells, site_codes)
    block = truth["defects"]["spells"]
    for kind in flags.columns:
        assert int(flags[kind].sum()) == block[kind]["count"], kind
        assert sorted(spells.loc[flags[kind], "spell_id"]) == block[kind]["ids"], kind
    assert flags.sum(axis=1).max() == 1
    assert block["stale_open_spell"]["count"] == 10 and block["outside_window"]["count"] == 6


def test_realised_clean_totals(clean_att: pd.DataFrame, clean_spells: pd.DataFrame, truth: dict) -> None:
    ra, rs = truth["realised"]["attendances"], truth["realised"]["spells"]
    assert len(clean_att) == ra["clean_total"]
    assert 30_000 <= ra["clean_total"] <= 60_000
    assert int((clean_att["pd_flag"] == "True").sum()) == ra["clean_pd"]
    assert clean_att["site"].value_counts().to_dict() == ra["clean_by_site"]
    assert int(clean_att["departure"].isna().sum()) == ra["censored_departures"]
    assert len(clean_spells) == rs["clean_total"]
    assert clean_spells["site"].value_counts().to_dict() == rs["clean_by_site"]
    assert int(clean_spells["discharged"].isna().sum()) == rs["clean_open_at_extract"]
    pd_ids = set(clean_att.loc[clean_att["pd_flag"] == "True", "patient_id"])
    assert int(clean_spells["patient_id"].isin(pd_ids).sum()) == rs["clean_pd_linkable_via_attendances"]
    assert rs["clean_pd_linkable_via_attendances"] <= rs["clean_pd"]
    # PD share of ED activity in the 20–27 % range of the domain notes (allowing sampling noise).
    assert 0.17 < ra["clean_pd"] / ra["clean_total"] < 0.27


def test_clean_data_are_internally_consistent(clean_att: pd.DataFrame, clean_spells: pd.DataFrame) -> None:
    # A patient's attendances never overlap and are at least an hour apart.
    a = clean_att.sort_values(["patient_id", "arrival"])
    prev_dep = a.groupby("patient_id")["departure"].shift()
    assert not (a["arrival"] < prev_dep + pd.Timedelta(hours=1)).any()
    # A patient's spells never overlap; LOS ≤ 365 days; open spells were admitted within a year.
    s = clean_spells.sort_values(["patient_id", "admitted"])
    end = s["discharged"].fillna(EXTRACT)
    prev_end = end.groupby(s["patient_id"]).shift()
    assert not (s["admitted"] < prev_end).any()
    assert ((end - s["admitted"]) <= pd.Timedelta(days=365)).all()
    assert (s["discharged"].isna() <= (s["admitted"] >= EXTRACT - pd.Timedelta(days=365))).all()
    assert (s["discharged"].dropna() > s.loc[s["discharged"].notna(), "admitted"]).all()


def test_spells_cross_leap_days_and_boundaries(clean_spells: pd.DataFrame, truth: dict) -> None:
    end = clean_spells["discharged"].fillna(EXTRACT)
    rs = truth["realised"]["spells"]
    for day, key in (("2020-02-29", "spanning_2020_02_29"), ("2024-02-29", "spanning_2024_02_29")):
        d0 = pd.Timestamp(day)
        n = int(((clean_spells["admitted"] < d0 + pd.Timedelta(days=1)) & (end > d0)).sum())
        assert n == rs[key] and n > 0
    months = clean_spells["admitted"].dt.to_period("M") != end.dt.to_period("M")
    years = clean_spells["admitted"].dt.year != end.dt.year
    assert int(months.sum()) == rs["crossing_month_boundary"] > 0
    assert int(years.sum()) == rs["crossing_year_boundary"] > 0


def test_frequent_attenders_heavy_tail(clean_att: pd.DataFrame) -> None:
    per = clean_att["patient_id"].value_counts().to_numpy()
    share = np.cumsum(per) / per.sum()
    top = (np.searchsorted(share, 0.5) + 1) / per.size
    assert top < 0.25  # a small share of patients makes half of the attendances
    assert per.max() >= 20


# ---------------------------------------------------------------------------------------------------------
# Cohort and regression to the mean
# ---------------------------------------------------------------------------------------------------------


def test_cohort_selection_rule(
    raw: dict[str, pd.DataFrame], clean_att: pd.DataFrame, spells: pd.DataFrame
) -> None:
    cohort = raw["cohort"]
    assert cohort["patient_id"].is_unique and (cohort["pd_flag"] == "True").all()
    pd_ids = set(clean_att.loc[clean_att["pd_flag"] == "True", "patient_id"])
    assert set(cohort["patient_id"]) <= pd_ids
    go_live = raw["sites"].set_index("site")["go_live"]
    sites = set(cohort["site"])
    assert "RD4" in sites and sites & {"RA1", "RB2", "RC3"}
    a = clean_att.assign(
        day=clean_att["arrival"].dt.normalize(), month=clean_att["arrival"].dt.to_period("M")
    )
    for row in cohort.itertuples(index=False):  # ~100 patients
        idx = pd.Timestamp(row.index_date)
        assert pd.Timestamp("2020-04-01") <= idx <= pd.Timestamp("2024-03-31")
        if go_live[row.site]:
            assert idx >= pd.Timestamp(go_live[row.site])
        mine = a[a["patient_id"] == row.patient_id]
        month = mine[mine["month"] == idx.to_period("M")].sort_values("arrival")
        assert len(month) >= 3 and month["day"].iloc[2] == idx
        if row.end_date:
            end = pd.Timestamp(row.end_date) + pd.Timedelta(days=1)
            assert (mine["arrival"] < end).all()
            theirs = spells[spells["patient_id"] == row.patient_id]
            assert (theirs["discharged"] < end).all()


def test_naive_before_after_shows_regression_to_the_mean(
    raw: dict[str, pd.DataFrame], clean_att: pd.DataFrame, truth: dict
) -> None:
    cohort = raw["cohort"].assign(index_date=lambda d: pd.to_datetime(d["index_date"]))
    m = clean_att[["patient_id", "arrival"]].merge(
        cohort[["patient_id", "site", "index_date"]], on="patient_id"
    )
    days = (m["arrival"].dt.normalize() - m["index_date"]).dt.days
    m = m.assign(before=(days > -365) & (days <= 0), after=(days > 0) & (days <= 365))
    control = m[m["site"] == "RD4"]
    ratio_control = control["after"].sum() / control["before"].sum()
    impl = m[m["site"] != "RD4"]
    ratio_impl = impl["after"].sum() / impl["before"].sum()
    nb = truth["regression_to_the_mean"]["naive_before_after"]
    assert ratio_control == pytest.approx(nb["control"]["ratio_after_to_before"], abs=1e-6)
    assert ratio_impl == pytest.approx(nb["implementing"]["ratio_after_to_before"], abs=1e-6)
    assert ratio_control < 0.8  # a clear fall at the control site, where nothing changed
    assert ratio_impl < 1.0


# ---------------------------------------------------------------------------------------------------------
# Recovery of the true effects (quick, default seed)
# ---------------------------------------------------------------------------------------------------------


def _monthly_pd(
    clean: pd.DataFrame, raw: dict[str, pd.DataFrame], when: str, pd_ids: set[str] | None
) -> pd.DataFrame:
    keep = clean["pd_flag"] == "True" if pd_ids is None else clean["patient_id"].isin(pd_ids)
    ev = clean[keep]
    counts = ev.groupby(["site", ev[when].dt.to_period("M").dt.to_timestamp()]).size().rename("n")
    pop = raw["population"].assign(
        period=lambda d: pd.to_datetime(d["period"]), population=lambda d: d["population"].astype(int)
    )
    df = pop.merge(counts.reset_index().rename(columns={when: "period"}), on=["site", "period"], how="left")
    df["n"] = df["n"].fillna(0)
    df["t"] = (df["period"].dt.year - 2019) * 12 + df["period"].dt.month - 4
    go = {"RA1": 24, "RB2": 33, "RC3": 42}  # months from April 2019 to each go-live, by hand
    gl = df["site"].map(go)
    df["post"] = (gl.notna() & (df["t"] >= gl)).astype(int)
    df["since"] = np.where(df["post"] == 1, df["t"] - gl.fillna(0), 0)
    df["sin"] = np.sin(2 * np.pi * df["period"].dt.month / 12)
    df["cos"] = np.cos(2 * np.pi * df["period"].dt.month / 12)
    return df


def _fit(df: pd.DataFrame) -> Any:  # a statsmodels GLM results wrapper
    model = smf.glm(
        "n ~ C(site) + t + sin + cos + post + since",
        data=df,
        family=sm.families.Poisson(),
        offset=np.log(df["population"]),
    )
    return model.fit(scale="X2")  # quasi-Poisson: overdispersion widens the CI


def test_poisson_glm_recovers_ed_level_change(
    raw: dict[str, pd.DataFrame], clean_att: pd.DataFrame, truth: dict
) -> None:
    fit = _fit(_monthly_pd(clean_att, raw, "arrival", None))
    eff = truth["effects"]["attendances_pd"]
    assert eff["level_change_log"] == pytest.approx(np.log(0.85), abs=1e-6)
    lo, hi = fit.conf_int().loc["post"]
    assert lo <= eff["level_change_log"] <= hi
    assert abs(fit.params["post"] - eff["level_change_log"]) < 0.12
    assert fit.params["post"] < 0
    # The slope change (-0.004 a month) is small next to the AR(1) site shocks, which this simple GLM
    # ignores; only a loose tolerance is asserted for it.
    assert abs(fit.params["since"] - eff["slope_change_log_per_month"]) < 0.01


def test_admissions_and_los_fall_after_go_live(
    raw: dict[str, pd.DataFrame], clean_att: pd.DataFrame, clean_spells: pd.DataFrame, truth: dict
) -> None:
    pd_ids = set(clean_att.loc[clean_att["pd_flag"] == "True", "patient_id"])
    fit = _fit(_monthly_pd(clean_spells, raw, "admitted", pd_ids))
    eff = truth["effects"]["spells_pd"]
    lo, hi = fit.conf_int().loc["post"]
    assert lo <= eff["level_change_log"] <= hi

    go = {"RA1": "2021-04-01", "RB2": "2022-01-01", "RC3": "2022-10-01"}
    s = clean_spells[clean_spells["patient_id"].isin(pd_ids) & clean_spells["discharged"].notna()]
    los = (s["discharged"] - s["admitted"]).dt.total_seconds() / 86_400
    impl = s["site"].isin(go)
    after = s["admitted"] >= pd.to_datetime(s["site"].map(go))
    ratio = los[impl & after].mean() / los[impl & ~after].mean()
    assert truth["effects"]["los_pd"]["los_ratio"] == 0.7
    assert 0.55 < ratio < 0.85
    assert 11.0 < los[impl & ~after].mean() < 15.0  # baseline PD mean LOS ≈ 13 days


# ---------------------------------------------------------------------------------------------------------
# ROM responses and staff survey
# ---------------------------------------------------------------------------------------------------------


def _num(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return df[cols].replace("", np.nan).astype(float)


def _scored_total(df: pd.DataFrame, key: str, n: int, top: int, bottom: int) -> pd.Series:
    cols = [f"{key}_{j}" for j in range(1, n + 1)]
    x = _num(df, cols)
    for j in REVERSE.get(key, []):
        x[f"{key}_{j}"] = top + bottom - x[f"{key}_{j}"]
    return x.sum(axis=1, min_count=n)  # complete forms only


def test_rom_structure_and_dropout(raw: dict[str, pd.DataFrame], truth: dict) -> None:
    rom = raw["rom_responses"].assign(session=lambda d: d["session"].astype(int))
    occasion = {0: "baseline", **{k: f"session_{k}" for k in range(1, 9)}, 9: "end"}
    assert (rom["occasion"] == rom["session"].map(occasion)).all()
    per = rom.groupby("patient_id")["session"].agg(["min", "max", "count"])
    assert (per["min"] == 0).all() and (per["count"] == per["max"] + 1).all()  # absent only after drop-out
    assert len(per) == truth["rom"]["patients"] == 300
    assert int((per["max"] == 9).sum()) == truth["rom"]["realised"]["completers"]
    assert 0.5 < (per["max"] == 9).mean() < 0.9
    dates = pd.to_datetime(rom["date"])
    base = dates.groupby(rom["patient_id"]).transform("min")
    offset = (dates - base).dt.days - 7 * rom["session"]
    assert offset.between(-1, 1).all()
    assert set(rom["site"]) <= {"RA1", "RB2", "RC3"}


def test_rom_scores_improve_and_dropout_is_informative(raw: dict[str, pd.DataFrame], truth: dict) -> None:
    rom = raw["rom_responses"].assign(session=lambda d: d["session"].astype(int))
    phq = _scored_total(rom, "phq9", 9, 3, 0)
    base = rom["session"] == 0
    end = rom["session"] == 9
    expected = truth["rom"]["instruments"]["phq9"]["expected_scored_total_by_session"]
    assert phq[base].mean() == pytest.approx(expected[0], abs=1.5)
    assert phq[end].mean() < phq[base].mean() - 2
    completers = set(rom.loc[end, "patient_id"])
    is_completer = rom.loc[base, "patient_id"].isin(completers)
    assert phq[base][is_completer].mean() < phq[base][~is_completer].mean()  # drop-outs were more severe
    # Wellbeing runs against severity: SWEMWBS rises while PHQ-9 falls.
    swe = _scored_total(rom, "swemwbs", 7, 5, 1)
    assert swe[end].mean() > swe[base].mean()
    assert phq.corr(swe) < -0.3
    # Reverse-keyed CORE-10 items: the raw response runs against the other items, the reversed one with them.
    core = _num(rom, [f"core10_{j}" for j in range(1, 11)])
    others = core[[f"core10_{j}" for j in (1, 4, 5, 6, 7, 8, 9, 10)]].sum(axis=1, min_count=8)
    assert core["core10_2"].corr(others) < -0.2
    assert (4 - core["core10_3"]).corr(others) > 0.2
    # Some forms have two or more missing items.
    missing_per_form = rom[[f"bsl23_{j}" for j in range(1, 24)]].eq("").sum(axis=1)
    assert ((missing_per_form >= 2) & (missing_per_form < 23)).any()


def test_staff_survey_waves_and_effects(raw: dict[str, pd.DataFrame], truth: dict) -> None:
    staff = raw["staff_survey"]
    pre, post = staff[staff["wave"] == "pre"], staff[staff["wave"] == "post"]
    assert pre["staff_id"].is_unique and post["staff_id"].is_unique
    assert set(post["staff_id"]) < set(pre["staff_id"])
    assert (
        len(pre) == truth["staff_survey"]["staff"]
        and len(pre) - len(post) == truth["staff_survey"]["pre_only"]
    )
    assert 150 <= len(pre) <= 250 and len(post) < len(pre)
    both = pre.merge(post, on="staff_id", suffixes=("_pre", "_post"))
    assert (pd.to_datetime(both["date_post"]) > pd.to_datetime(both["date_pre"])).all()
    pairs = staff[staff["staff_id"].isin(post["staff_id"])]
    pss = _scored_total(pairs, "pss10", 10, 4, 0)
    mean_by_wave = pss.groupby(pairs["wave"]).mean()
    assert mean_by_wave["post"] < mean_by_wave["pre"]  # stress falls (true latent change -0.3 SD)
    # Reverse-keyed PSS-10 items run against the others.
    x = _num(staff, ["pss10_1", "pss10_2", "pss10_3", "pss10_4"])
    assert x["pss10_4"].corr(x[["pss10_1", "pss10_2", "pss10_3"]].sum(axis=1)) < 0


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="stale_open_min_age_days"):
        generate(dataclasses.replace(SMALL, stale_open_min_age_days=100))
    with pytest.raises(ValueError, match="unknown_site_code"):
        generate(dataclasses.replace(SMALL, unknown_site_code="RA1"))
    with pytest.raises(ValueError, match="extract_date"):
        generate(dataclasses.replace(SMALL, extract_date="2025-04-15"))


def test_crisis_pathway_dataset_regenerates_byte_identical(tmp_path: Path) -> None:
    """The second bundled dataset (protocols/crisis_pathway.yaml) is the named preset at seed 20261205."""
    from evaltoolkit.synth import PRESETS

    folder = DATA_DIR / "crisis_pathway"
    paths = write_synthetic(tmp_path, seed=20261205, config=PRESETS["crisis_pathway"]())
    for path in paths.values():
        assert path.read_bytes() == (folder / path.name).read_bytes(), path.name
    sites = pd.read_csv(folder / "sites.csv")
    assert sites["site"].tolist() == ["RX1", "RX2", "RX3", "RX4"]
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    assert truth["config"]["ed_level_rr"] == 0.9 and truth["seed"] == 20261205
    assert "--preset crisis_pathway" in (folder / "README.md").read_text(encoding="utf-8")
