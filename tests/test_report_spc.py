"""The SPC view of a protocol run (evaltoolkit.report._spc): charts of the published primary series,
limits rebased at go-live, checked by hand; months hidden by the small-number rule stop a chart rather than
bias it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.protocol import load_protocol
from evaltoolkit.report._spc import spc_block
from evaltoolkit.report._verdict import verdict

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def protocol():
    return load_protocol(ROOT / "protocols" / "crisis_pathway.yaml", check_files=False)


def _published(protocol, values_by_site: dict[str, list]) -> pd.DataFrame:
    periods = pd.date_range("2019-04-01", periods=48, freq="MS")
    rows = []
    for spec in protocol.series:
        for site, values in values_by_site.items():
            rows += [
                {"series": spec.name, "site": site, "period": p, "value": v}
                for p, v in zip(periods, values, strict=True)
            ]
    return pd.DataFrame(rows)


def test_limits_are_rebased_at_go_live_and_computed_from_the_published_values(protocol):
    rng = np.random.default_rng(5)
    before = rng.integers(30, 50, 36) // 5 * 5  # published counts are multiples of 5
    after = rng.integers(15, 35, 12) // 5 * 5
    values = [str(v) for v in np.r_[before, after]]
    block = spc_block(protocol, _published(protocol, {"RX1": values}))
    chart = next(c for c in block["charts"] if c["series"] == "pd_ed_attendances")
    assert chart["charted"] and chart["go_live"] == "2022-04-01"
    pts = pd.DataFrame(chart["points"])
    pre, post = pts[pts["period"] < "2022-04-01"], pts[pts["period"] >= "2022-04-01"]
    assert len(pre) == 36 and len(post) == 12
    # by hand: mean of each group, moving ranges within the group, limits mean ± 2.66 × mean moving range
    for group, raw in ((pre, before), (post, after)):
        mr = np.abs(np.diff(raw.astype(float)))
        mr = mr[mr < 3.267 * mr.mean()]  # screened once
        assert group["mean"].iloc[0] == pytest.approx(raw.mean())
        assert group["upl"].iloc[0] == pytest.approx(raw.mean() + 2.66 * mr.mean())
        assert group["lpl"].iloc[0] == pytest.approx(raw.mean() - 2.66 * mr.mean())
    assert chart["mean_before"] == pytest.approx(before.mean())
    assert chart["mean_after"] == pytest.approx(after.mean())
    board = block["board"][0]
    assert board["site"] == "RX1" and board["latest_value"] == float(after[-1])


def test_a_series_with_hidden_months_is_not_charted_and_says_why(protocol):
    values = ["10"] * 40 + ["*"] * 3 + ["10"] * 5
    block = spc_block(protocol, _published(protocol, {"RX2": values}))
    chart = block["charts"][0]
    assert not chart["charted"]
    assert chart["reason"] == "not charted: the small-number rule hides 3 months in 48"
    assert block["board"] == []


def test_special_cause_after_go_live_reaches_the_verdict_watch_list(protocol):
    # a stable pre-period; after go-live 4 months at 30 then 8 at 20: a shift below the post-go-live mean
    before = [40, 45] * 18
    after = [30] * 4 + [20] * 8
    values = [str(v) for v in before + after]
    block = spc_block(protocol, _published(protocol, {"RX1": values}))
    chart = next(c for c in block["charts"] if c["series"] == "pd_ed_attendances")
    pts = pd.DataFrame(chart["points"])
    post = pts[pts["period"] >= "2022-04-01"]
    # post mean 23.33: the last 8 points (20) sit below it, a shift of 7 or more: improvement (fewer)
    assert (post["point_type"].iloc[-8:] == "special_cause_improvement").all()
    assert chart["n_special_cause_after_go_live"] >= 8
    results = {"spc": block, "synthesis": {"findings": []}, "series": []}
    watch = verdict(results)["watch"]
    assert any(w.startswith("RX1, PD ED attendances: special-cause improvement") for w in watch)


def test_every_report_and_book_page_opens_with_the_verdict(protocol):
    from evaltoolkit.report.book import page_sections
    from evaltoolkit.report.document import SECTIONS

    assert SECTIONS[0] == ("verdict", "The verdict")
    ids = [i for i, _ in page_sections(protocol)]
    assert ids[0] == "verdict" and {"spc", "worth"} <= set(ids)
    for name in ("project_air", "change_programme", "leadership_programme"):
        other = load_protocol(ROOT / "protocols" / f"{name}.yaml", check_files=False)
        assert page_sections(other)[0][0] == "verdict"
