"""Disclosure control is one layer: the report's stages return exact results with typed values, published in
one pass by :func:`evaltoolkit.disclosure.deferred.publish_results`; ``evaltoolkit/report`` holds no
suppression or rounding of counts (checked statically here), and the typed values are checked by hand."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.disclosure import get_policy
from evaltoolkit.disclosure.deferred import (
    CountsInText,
    CountSlots,
    ExactCount,
    FromPublished,
    ProseCounts,
    Resting,
    ShareOf,
    ShownCount,
    SmallChoice,
    WilsonOf,
    publish_results,
)

REPORT = Path(__file__).resolve().parents[1] / "evaltoolkit" / "report"

# The publishing functions of the disclosure layer: none may be imported or called by the report stages.
PUBLISHERS = {
    "publish",
    "publish_count",
    "publish_count_text",
    "publish_table",
    "publish_text_counts",
    "round_published",
    "round_person_time",
    "blank_small",
    "suppress_counts",
    "complementary_suppression",
    "round_count",
}


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith(("evaltoolkit.disclosure", "evaltoolkit.privacy"))
        ):
            found += [f"imports {a.name}" for a in node.names if a.name in PUBLISHERS]
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in PUBLISHERS:
                found.append(f"calls {name} (line {node.lineno})")
    return found


def test_report_stages_hold_no_suppression_or_rounding_of_counts(tmp_path):
    files = sorted(REPORT.glob("*.py"))
    assert len(files) >= 10
    offences = {p.name: o for p in files if (o := _offences(p))}
    assert offences == {}
    # the check itself finds what it looks for
    fake = tmp_path / "probe.py"
    fake.write_text("from evaltoolkit.disclosure import publish_count\nx = rule.publish_count(3)\n")
    assert _offences(fake) == ["imports publish_count", "calls publish_count (line 2)"]


NHS = get_policy("nhs")
NONE = get_policy("none")


@pytest.mark.parametrize(
    ("n", "published"), [(0, 0), (1, "*"), (7, "*"), (8, 10), (12, 10), (13, 15), (1234, 1235), (None, None)]
)
def test_exact_count_follows_the_nhs_rule_by_hand(n, published):
    assert ExactCount(n).resolve(NHS) == published
    assert ExactCount(n).resolve(NONE) == n


def test_values_from_published_counts_cannot_be_solved_for_the_exact_ones():
    # a rate per 1,000 from the exact 13 of 1,003 would reveal 13; from the published 15 of 1,005 it cannot
    rate = FromPublished(lambda k, n: None if k == "*" else 1000 * k / n, (13, 1003), exact=1000 * 13 / 1003)
    assert rate.resolve(NHS) == pytest.approx(1000 * 15 / 1005)
    assert rate.resolve(NONE) == pytest.approx(1000 * 13 / 1003)
    assert FromPublished(rate.fn, (5, 1003)).resolve(NHS) is None
    assert ShareOf(13, 1003).resolve(NHS) == pytest.approx(15 / 1005)
    # Wilson bound of the published 15 / 1005, by hand: centre and half-width of the score interval
    z = 1.959963984540054
    p, n = 15 / 1005, 1005
    lower = (p + z * z / (2 * n) - z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    assert WilsonOf(13, 1003, 0.95, "lower").resolve(NHS) == pytest.approx(lower, rel=1e-12)


def test_statistics_resting_on_few_people_are_blank_and_others_rounded():
    assert Resting(2.345678, (8, 40)).resolve(NHS) == 2.35
    assert Resting(2.345678, (7, 40)).resolve(NHS) is None
    assert Resting(2.345678, (7, 40)).resolve(NONE) == 2.35
    assert Resting(float("nan"), (40,)).resolve(NHS) is None
    # nested: a mean that rests on a value computed from published counts
    nested = Resting(FromPublished(lambda k: k / 2, (13,)), (13,))
    assert publish_results({"x": nested}, NHS) == {"x": 7.5}


def test_prose_and_text_counts():
    assert SmallChoice((3,), "{few} people", "many").resolve(NHS) == "fewer than 8 people"
    assert SmallChoice((30,), "{few} people", "many").resolve(NHS) == "many"
    assert ProseCounts("Among 79 patients", (5,), "not shown: {few} people").resolve(NHS) == (
        "Among about 80 patients; not shown: fewer than 8 people"
    )
    slots = CountSlots()
    msg = slots.text(f"{slots(12.0)} of {slots(3)} sites")
    assert isinstance(msg, CountsInText)
    assert msg.resolve(NHS) == "10 of * sites" and str(msg) == "12 of 3 sites"
    assert ShownCount(6).resolve(NHS) is None and ShownCount(16).resolve(NHS) == 15.0


def test_one_pass_over_a_results_tree_with_frames_leaves_the_input_untouched():
    frame = pd.DataFrame({"site": ["A", "B"], "n": [ExactCount(3), ExactCount(143)], "mean": [1.0, 2.0]})
    tree = {"tables": [frame], "note": (CountsInText.of("{0} rows", 9381),), "kept": "as is"}
    out = publish_results(tree, "nhs")
    assert out["tables"][0]["n"].tolist() == ["*", 145]
    assert out["note"] == ("9,380 rows",) and out["kept"] == "as is"
    assert isinstance(frame["n"].iloc[0], ExactCount)  # the exact results are not modified

    # nothing typed survives the pass
    def typed(x):
        if isinstance(x, pd.DataFrame):
            return any(typed(v) for v in x.to_numpy().ravel())
        if isinstance(x, dict):
            return any(typed(v) for v in x.values())
        if isinstance(x, list | tuple):
            return any(typed(v) for v in x)
        return type(x).__module__ == "evaltoolkit.disclosure.deferred"

    assert not typed(out)
