"""The disclosure layer: policies against their published sources, every role on hand-made tables,
secondary suppression worked by hand, and the differencing attack."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.disclosure import (
    NHS,
    OPENSAFELY,
    OPENSAFELY_MIDPOINT6,
    POLICIES,
    UKLLC,
    ColumnSum,
    Count,
    DisclosureError,
    Mean,
    Phrase,
    Policy,
    RowSum,
    Share,
    Table,
    TableSum,
    expand_relations,
    get_policy,
    publish,
    publish_table,
    publish_text_counts,
    recoverable,
)
from evaltoolkit.disclosure import is_small as report_is_small
from evaltoolkit.disclosure import publish_count as report_publish_count
from evaltoolkit.privacy import suppress_counts

STAR = "*"

# --------------------------------------------------------------------------------------------- policies


def test_every_policy_cites_its_source() -> None:
    for name, pol in POLICIES.items():
        if name == "none":
            continue
        assert pol.source is not None and pol.source.url.startswith("https://")
        assert pol.source.rule and pol.source.year >= 2018 and pol.describe().endswith(".")


def test_nhs_rule_as_published() -> None:
    # NHS Digital (2018): "0 stays 0; values between 1 and 7 are replaced with '*'; all remaining values are
    # rounded to the nearest 5" (halves up, as the toolkit always did).
    exact = [0, 1, 2, 7, 8, 12, 13, 17, 18, 102, 103, 209]
    assert [NHS.publish_count(v) for v in exact] == [0, STAR, STAR, STAR, 10, 10, 15, 15, 20, 100, 105, 210]
    assert NHS.publish_count(8) == 10 and NHS.publish_count(22) == 20 and NHS.publish_count(23) == 25


def test_nhs_keeps_the_report_behaviour_exactly() -> None:
    # the rule as the report always applied it, written out by hand: 0 stays 0, 1-7 '*', others to the
    # nearest 5 with halves up; what rests on 1-7 people is small
    rule = {"low": 1, "high": 7, "round_to": 5}
    for v in range(0, 400):
        expected = 0 if v == 0 else STAR if v <= 7 else 5 * ((2 * v + 5) // 10)
        assert NHS.publish_count(v) == expected == report_publish_count(v, rule)
        assert report_publish_count(v, "nhs") == expected
        assert NHS.is_small(v) == (1 <= v <= 7) == report_is_small(v, rule)
    assert get_policy(rule).publish_count(37) == 35


def test_opensafely_published_example_table() -> None:
    # docs.opensafely.org/sdc "Rounding counts": before
    #   21-30: 3, 18; 31-40: 8, 23; 41-50: 16, 31; 51+: 23, 44; Total: 50, 116
    # after: [REDACTED], 20; 10, 25; 15, 30; 25, 45; Total 50, 120
    # "Note that column and row totals are the sum of the rounded counts."
    df = pd.DataFrame(
        {
            "age": ["21-30", "31-40", "41-50", "51+", "Total"],
            "heart_disease": [3, 8, 16, 23, 50],
            "population": [18, 23, 31, 44, 116],
        }
    )
    roles = {"age": "label", "heart_disease": "count", "population": "count"}
    out = publish(
        {"t": Table(df, roles, margins=[ColumnSum("age", "Total", ("heart_disease", "population"))])},
        OPENSAFELY,
    )
    t = out.tables["t"]
    assert t["heart_disease"].tolist() == [STAR, 10, 15, 25, 50]
    assert t["population"].tolist() == [20, 25, 30, 45, 120]
    assert not out.attack["recovered"].any()
    assert "total is the sum of the published counts" in set(out.actions["action"])


def test_opensafely_midpoint6_mapping_as_published() -> None:
    # docs.opensafely.org/sdc "Midpoint 6 rounding": 0 -> 0, 1-6 -> 3, 7-12 -> 9, 13-18 -> 15;
    # "For non-zero rounded values of x, we know true values range between x-2 and x+3".
    pol = OPENSAFELY_MIDPOINT6
    assert pol.publish_count(0) == 0
    assert {pol.publish_count(v) for v in range(1, 7)} == {3}
    assert {pol.publish_count(v) for v in range(7, 13)} == {9}
    assert {pol.publish_count(v) for v in range(13, 19)} == {15}
    for x in (3, 9, 15, 99):
        assert pol.interval(x) == (x - 2, x + 3)
    # "any rate calculated from counts <=7 should also be redacted"
    assert pol.is_small(7) and not pol.is_small(8)


def test_ukllc_threshold_as_published() -> None:
    # UK LLC guidebook: "Any output ... that includes counts <10, including zero, cannot be taken out";
    # means, SDs "should only be reported where they are based on a count of at least 10".
    assert [UKLLC.publish_count(v) for v in (0, 1, 9, 10, 11, 137)] == [STAR, STAR, STAR, 10, 11, 137]
    assert UKLLC.is_small(9) and not UKLLC.is_small(10) and UKLLC.secondary
    df = pd.DataFrame({"g": ["a", "b"], "n": [9, 10], "mean": [1.234, 5.678]})
    out, _ = publish_table(df, {"g": "label", "n": "n", "mean": "mean"}, UKLLC, n="n")
    assert out["n"].tolist() == [STAR, 10]
    assert math.isnan(out["mean"].iloc[0]) and out["mean"].iloc[1] == 5.68


def test_get_policy_forms_and_errors() -> None:
    assert (
        get_policy("NHS") is NHS and get_policy(None).suppress is None and get_policy("none").name == "none"
    )
    custom = get_policy({"low": 1, "high": 4, "round_to": 1})
    assert custom.publish_count(4) == STAR and custom.publish_count(5) == 5 and custom.secondary
    assert get_policy({"low": 1, "high": 0, "round_to": 5}).publish_count(3) == 5
    with pytest.raises(DisclosureError, match="unknown policy 'hes'"):
        get_policy("hes")
    with pytest.raises(DisclosureError, match="missing"):
        get_policy({"low": 1})
    with pytest.raises(DisclosureError, match="non-negative whole number"):
        NHS.publish_count(2.5)


# ---------------------------------------------------------------------------------------------- roles


def _every_role_table() -> tuple[pd.DataFrame, dict]:
    df = pd.DataFrame(
        {
            "site": ["A", "B", "C"],
            "quarter": ["2024Q1", "2024Q1", "2024Q2"],
            "start": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-04-01"]),
            "pid": ["P-0001", "P-0002", "P-0003"],
            "note": ["seen by Dr X", "none", "moved away"],
            "patients": [5, 43, 120],
            "events": [3, 18, 0],
            "improved": [2, 20, 61],
            "person_years": [4.2, 57.2, 1234.0],
            "share": [0.4, 20 / 43, 61 / 120],
            "pct": [40.0, 100 * 20 / 43, 100 * 61 / 120],
            "rate_py": [3 / 4.2 * 1000, 18 / 57.2 * 1000, 0.0],
            "mean_los": [3.14159, 8.2468, 10.0061],
            "estimate": [1.23456, -0.98765, 2.5],
            "se": [0.123456, 0.0456789, 1.5],
            "p": [0.0123456, 0.000123456, 0.5],
            "t": [10.0, -21.6216, 1.66667],
            "df": [4, 42, 119],
            "fitted": [1234.56789, 0.1234567891, 42.0],
        }
    )
    roles = {
        "site": "label",
        "quarter": "period",
        "start": "date",
        "pid": "identifier",
        "note": "free_text",
        "patients": "n",
        "events": "count",
        "improved": "count",
        "person_years": "person_time",
        "share": {"role": "proportion", "numerator": "improved", "denominator": "patients"},
        "pct": {"role": "percent", "numerator": "improved", "denominator": "patients"},
        "rate_py": {"role": "rate", "numerator": "events", "denominator": "person_years", "per": 1000},
        "mean_los": "mean",
        "estimate": "estimate",
        "se": "std_error",
        "p": "p_value",
        "t": "statistic",
        "df": "df",
        "fitted": "model",
    }
    return df, roles


def test_every_role_by_hand_under_nhs() -> None:
    df, roles = _every_role_table()
    before = df.copy()
    out, actions = publish_table(df, roles, "nhs", n="patients", name="cohort")
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert "pid" not in out.columns and "note" not in out.columns
    assert out["site"].tolist() == ["A", "B", "C"] and out["quarter"].tolist() == [
        "2024Q1",
        "2024Q1",
        "2024Q2",
    ]
    pd.testing.assert_series_equal(out["start"], df["start"])
    assert out["patients"].tolist() == [STAR, 45, 120]
    assert out["events"].tolist() == [STAR, 20, 0]
    assert out["improved"].tolist() == [STAR, 20, 60]
    expected = {
        # person-time: row A rests on 5 people; 57.2 -> nearest 5 = 55; 1234 -> 2 significant digits = 1200
        "person_years": [np.nan, 55.0, 1200.0],
        # ratios from the published counts: 20/45, 60/120; rate 20/55*1000 = 363.636..., 0/1200
        "share": [np.nan, 0.44, 0.5],
        "pct": [np.nan, 44.44, 50.0],
        "rate_py": [np.nan, 363.64, 0.0],
        "mean_los": [np.nan, 8.25, 10.01],
        "estimate": [np.nan, -0.99, 2.5],
        "se": [np.nan, 0.046, 1.5],
        "p": [np.nan, 0.000123, 0.5],
        "t": [np.nan, -21.62, 1.67],
        "df": [np.nan, np.nan, np.nan],
        "fitted": [1234.57, 0.123457, 42.0],
    }
    for col, values in expected.items():
        np.testing.assert_allclose(out[col].to_numpy(dtype=float), values, rtol=0, atol=1e-12, err_msg=col)
    dropped = actions[actions["action"].str.startswith("dropped")]
    assert set(dropped["column"]) == {"pid", "note"}
    assert set(actions["table"]) == {"cohort"}
    blank = actions[(actions["column"] == "mean_los") & (actions["action"] == "blank: rests on few people")]
    assert blank["rows"].tolist() == [1]


def test_identifiers_and_free_text_never_survive() -> None:
    df, roles = _every_role_table()
    for policy in ("nhs", "opensafely", "ukllc", None):
        out = publish({"cohort": Table(df, roles, n="patients")}, policy)
        text = out.tables["cohort"].to_csv() + out.actions.to_csv()
        for secret in [*df["pid"], *df["note"]]:
            assert secret not in text


def test_undeclared_column_is_refused() -> None:
    df = pd.DataFrame({"site": ["A"], "patients": [12], "nhs_number": ["943 476 5919"]})
    with pytest.raises(DisclosureError, match=r"table 'cohort'.*\['nhs_number'\] have no role"):
        publish_table(df, {"site": "label", "patients": "count"}, "nhs", name="cohort")
    with pytest.raises(DisclosureError, match="missing column"):
        publish_table(df, {"site": "label", "patients": "count", "nhs_number": "identifier", "x": "label"})
    with pytest.raises(DisclosureError, match="unknown role 'secret'"):
        publish_table(df, {"site": "label", "patients": "count", "nhs_number": "secret"})
    with pytest.raises(DisclosureError, match=r"'mean_x' \(mean\) rests on people"):
        publish_table(pd.DataFrame({"mean_x": [1.0]}), {"mean_x": "mean"}, "nhs")
    with pytest.raises(DisclosureError, match="needs numerator="):
        publish_table(pd.DataFrame({"r": [0.5]}), {"r": "rate"}, "nhs")


def test_blank_where_hides_effect_size_standard_errors() -> None:
    df = pd.DataFrame({"term": ["mean_pre", "d_z"], "se": [0.626273, 0.095], "n": [145, 145]})
    roles = {"term": "label", "n": "n", "se": {"role": "std_error", "blank_where": ("term", ("d_z",))}}
    out, _ = publish_table(df, roles, "nhs", n="n")
    assert out["se"].iloc[0] == 0.63 and math.isnan(out["se"].iloc[1])


# ------------------------------------------------------------------------------ secondary suppression

THREE_BY_THREE = pd.DataFrame(
    {
        "row": ["r1", "r2", "r3", "total"],
        "A": [4, 15, 18, 37],
        "B": [20, 12, 22, 54],
        "C": [30, 25, 11, 66],
        "total": [54, 52, 51, 157],
    }
)
ROLES_3X3 = {"row": "label", "A": "count", "B": "count", "C": "count", "total": "count"}
MARGINS_3X3 = [RowSum("total", ("A", "B", "C")), ColumnSum("row", "total", ("A", "B", "C", "total"))]


def test_secondary_suppression_three_by_three_by_hand() -> None:
    # UK LLC: only r1/A (4) is below 10. Worked by hand, rows first then columns, the smallest other cell:
    # row r1 has one hidden cell -> hide r1/B (20 < 30 < 54); column A has one -> hide r2/A (15 < 18 < 37);
    # column B has one -> hide r2/B (12 < 22 < 54); row r2 now has two: stable.
    out = publish({"t": Table(THREE_BY_THREE, ROLES_3X3, margins=MARGINS_3X3)}, UKLLC)
    t = out.tables["t"]
    assert t["A"].tolist() == [STAR, STAR, 18, 37]
    assert t["B"].tolist() == [STAR, STAR, 22, 54]
    assert t["C"].tolist() == [30, 25, 11, 66]
    assert t["total"].tolist() == [54, 52, 51, 157]
    second = out.actions[out.actions["action"].str.startswith("secondary")]
    assert dict(zip(second["column"], second["rows"], strict=True)) == {"A": 1, "B": 2}
    # the attack: one degree of freedom t = r1/A, with r1/B = 24 - t, r2/A = 19 - t, r2/B = 8 + t, all >= 0
    att = out.attack.set_index(["row", "column"])
    assert att.loc[(0, "A"), ["lower", "upper"]].tolist() == [0.0, 19.0]
    assert att.loc[(0, "B"), ["lower", "upper"]].tolist() == [5.0, 24.0]
    assert att.loc[(1, "A"), ["lower", "upper"]].tolist() == [0.0, 19.0]
    assert att.loc[(1, "B"), ["lower", "upper"]].tolist() == [8.0, 27.0]
    assert not out.attack["recovered"].any()


def test_attack_finds_the_planted_cell_in_a_naive_table() -> None:
    naive = THREE_BY_THREE.astype(object).copy()
    naive.loc[0, "A"] = STAR  # primary suppression only, exact totals beside it
    rel = expand_relations({"t": THREE_BY_THREE}, {"t": MARGINS_3X3})
    found = recoverable({"t": naive}, rel, UKLLC)
    assert found[["row", "column", "lower", "upper", "recovered"]].values.tolist() == [
        [0, "A", 4.0, 4.0, True]
    ]


def test_rounding_protects_without_secondary_suppression() -> None:
    out = publish({"t": Table(THREE_BY_THREE, ROLES_3X3, margins=MARGINS_3X3)}, NHS)
    t = out.tables["t"]
    # 4 -> *, others to the nearest 5 (halves up): 15, 20, 30 / 15, 10, 25 / 20, 20, 10; totals 55 50 50 155
    assert t["A"].tolist() == [STAR, 15, 20, 35]
    assert t["total"].tolist() == [55, 50, 50, 155]
    assert not out.actions["action"].str.startswith("secondary").any()
    assert len(out.attack) == 1 and not out.attack["recovered"].any()


def test_secondary_suppression_across_two_tables_and_ratios_follow() -> None:
    f = pd.DataFrame({"age": ["<40", "40+"], "n": [5, 20]})
    m = pd.DataFrame({"age": ["<40", "40+"], "n": [12, 25]})
    both = pd.DataFrame({"age": ["<40", "40+"], "n": [17, 45], "pct_female": [100 * 5 / 17, 100 * 20 / 45]})
    both_roles = {
        "age": "label",
        "n": "n",
        "pct_female": {"role": "percent", "numerator": "n", "denominator": "n"},
    }
    out = publish(
        {
            "female": (f, {"age": "label", "n": "count"}),
            "male": (m, {"age": "label", "n": "count"}),
            "all": (both, both_roles, {"margins": [TableSum("all", ("female", "male"), ("age",), ("n",))]}),
        },
        "ukllc",
    )
    # <40: female 5 hidden; all 17 = female + male, so male 12 (smaller than 17) is hidden too
    assert out.tables["female"]["n"].tolist() == [STAR, 20]
    assert out.tables["male"]["n"].tolist() == [STAR, 25]
    assert out.tables["all"]["n"].tolist() == [17, 45]


def test_a_rate_whose_count_is_hidden_by_secondary_suppression_is_blanked() -> None:
    df = pd.DataFrame({"site": ["A", "B"], "yes": [4, 30], "no": [25, 12], "all": [29, 42]})
    roles = {
        "site": "label",
        "yes": "count",
        "no": "count",
        "all": "denominator",
        "pct_no": {"role": "percent", "numerator": "no", "denominator": "all"},
    }
    df["pct_no"] = 100 * df["no"] / df["all"]
    out = publish({"t": (df, roles, {"margins": {"all": ["yes", "no"]}})}, "ukllc")
    t = out.tables["t"]
    assert t["no"].tolist() == [STAR, 12]
    assert math.isnan(t["pct_no"].iloc[0]) and t["pct_no"].iloc[1] == round(100 * 12 / 42, 2)


# ----------------------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("text", "published"),
    [
        (
            "SD 9.762 (pre scores, n = 187); mean change among the 144 complete cases",
            "SD 9.762 (pre scores, n ≈ 185); mean change among the about 145 complete cases",
        ),
        ("3 patients, n = 5, n = 0", "fewer than 8 patients, n < 8, n = 0"),
        (
            "(60 of 79); 19 stopped, 0 started; 76 non-zero changes; 3 cases",
            "(60 of about 80); about 20 stopped, 0 started; about 75 non-zero changes; fewer than 8 cases",
        ),
        ("173 end scores of 12 staff; 1.5 of 3.2", "about 175 end scores of about 10 staff; 1.5 of 3.2"),
    ],
)
def test_text_counts_as_the_report_did(text: str, published: str) -> None:
    # expected wording by hand from the NHS rule (as the report always wrote it)
    rule = {"low": 1, "high": 7, "round_to": 5}
    assert publish_text_counts(text, rule) == published
    assert publish_text_counts(text, "nhs") == published
    assert publish_text_counts(text, None) == text


def test_phrases_by_hand() -> None:
    p = Phrase(
        "of {started} staff who started, {analysed} ({share}); mean {mean}",
        started=Count(200),
        analysed=Count(140),
        share=Share(140, 200),
        mean=Mean(13.80556, 140),
    )
    assert p.render("nhs") == "of 200 staff who started, 140 (70%); mean 13.81"
    assert Phrase("{k} of {n} ({s})", k=Count(9), n=Count(12), s=Share(9, 12)).render("ukllc") == (
        "fewer than 10 of 12 (not shown)"
    )
    assert Phrase("{k} ({s})", k=Count(143), s=Share(143, 202)).render("nhs") == "about 145 (73%)"  # 145/200
    with pytest.raises(KeyError, match="share"):
        Phrase("{share}")


def test_suppress_counts_unchanged() -> None:
    t = pd.DataFrame({"c": [0, 3, 7, 8, 12, 13, None]})
    assert suppress_counts(t, ["c"])["c"].tolist() == ["0", STAR, STAR, "10", "10", "15", None]
    assert suppress_counts(t, ["c"], low=0, high=4)["c"].tolist() == [STAR, STAR, "5", "10", "10", "15", None]


def test_attack_reports_a_narrowed_cell_under_rounding() -> None:
    # NHS: a = 6 -> *, b = 12 -> 10, total 18 -> 20. A reader knows total in [18, 22], b in [8, 12] and
    # a in [1, 7], so a = total - b is in [6, 7]: narrowed (it is not 1 to 5) but not recovered.
    df = pd.DataFrame({"a": [6], "b": [12], "total": [18]})
    out = publish({"t": (df, dict.fromkeys(df.columns, "count"), {"margins": {"total": ["a", "b"]}})}, "nhs")
    assert out.tables["t"].iloc[0].tolist() == [STAR, 10, 20]
    assert out.attack[["lower", "upper", "recovered", "narrowed"]].values.tolist() == [
        [6.0, 7.0, False, True]
    ]


def test_a_threshold_policy_without_declared_secondary_gets_it_from_the_attack() -> None:
    # counts 1 to 7 hidden, nothing rounded, secondary suppression not declared: the attack finds r1/A = 4
    # (54 - 20 - 30), then r1/B and r2/A, and complementary cells are added until nothing is recovered;
    # by hand the same four cells as under the UK LLC rule.
    pol = Policy(name="threshold_only", suppress=(1, 7))
    out = publish({"t": Table(THREE_BY_THREE, ROLES_3X3, margins=MARGINS_3X3)}, pol)
    t = out.tables["t"]
    assert t["A"].tolist() == [STAR, STAR, 18, 37] and t["B"].tolist() == [STAR, STAR, 22, 54]
    assert len(out.attack) == 4 and not out.attack["recovered"].any()
    # every "*" read as [1, inf): r1/A = t >= 1 and r2/A = 19 - t >= 1, so t is anything from 1 to 18
    assert out.attack.iloc[0][["lower", "upper"]].tolist() == [1.0, 18.0]
