"""The SPC view of the programmes judged on outcome measures: people starting each quarter, from the published
counts, counted here independently from the bundled CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _nhs(n: int) -> int | str:
    """The NHS rule by hand: 1–7 hidden, others rounded to the nearest 5."""
    return "*" if 1 <= n <= 7 else int(5 * np.floor(n / 5 + 0.5))


def test_people_starting_each_quarter_match_a_count_of_the_csv(evaluations):
    raw = pd.read_csv(ROOT / "synthetic_data" / "rom_responses.csv", dtype=str)
    first = pd.to_datetime(
        raw.loc[raw["occasion"] == "baseline", ["patient_id", "date"]].set_index("patient_id")["date"]
    )
    first = first.groupby(level=0).min()
    by_quarter = first.dt.to_period("Q").value_counts().sort_index()
    quarters = pd.period_range(by_quarter.index.min(), by_quarter.index.max(), freq="Q")
    expected = [_nhs(int(by_quarter.get(q, 0))) for q in quarters]
    assert sum(int(by_quarter.get(q, 0)) for q in quarters) == 300  # every person who started, once

    evaluation = evaluations["change_programme"]
    published = evaluation.tables["series_published"]
    assert published["value"].astype(str).tolist() == [str(v) for v in expected]

    spc = evaluation.results["spc"]
    (chart,) = spc["charts"]
    shown = [i for i, v in enumerate(expected) if v != "*"]
    lo, hi = shown[0], shown[-1] + 1
    assert all(v != "*" for v in expected[lo:hi])  # hidden quarters only at the edges here
    assert chart["charted"] and chart["n_edge_quarters_left_out"] == len(expected) - (hi - lo)
    values = [p["value"] for p in chart["points"]]
    assert values == [float(v) for v in expected[lo:hi]]
    # one group, no rebase: the plain mean (results.json keeps 6 significant digits)
    assert chart["points"][0]["mean"] == pytest.approx(np.mean(values), rel=1e-5)
    assert [p["period"][:7] for p in chart["points"]] == [
        str(q.start_time.date())[:7] for q in quarters[lo:hi]
    ]


def test_programme_verdicts_say_what_to_watch(evaluations):
    from evaltoolkit.report._verdict import verdict

    watch = verdict(evaluations["change_programme"].results)["watch"]
    assert len(watch) == 1 and "people starting each quarter" in watch[0].lower()
    leadership = evaluations["leadership_programme"].results["spc"]["charts"][0]
    assert not leadership["charted"] and leadership["reason"].startswith("not charted: 1 quarter")
