"""The Jupyter Book builds offline, strictly (-W -n --keep-going), with every page executed."""

from __future__ import annotations

import pytest


@pytest.mark.book
@pytest.mark.slow
def test_book_builds_strictly(built_book):
    page = (built_book / "data" / "extract_to_series.html").read_text()
    assert "<img" in page  # the executed figure is on the page
    assert "Traceback" not in page
    for html in built_book.rglob("*.html"):
        text = html.read_text()
        assert "cdn.jsdelivr.net" not in text, html  # MathJax is served locally
        assert text.count("const THEBE_JS_URL") <= 1, html  # duplicated inline scripts are removed


@pytest.mark.book
@pytest.mark.slow
def test_built_report_pages_hold_no_identifier(built_book):
    """The worked-example report pages of the built book (what commissioners read) contain no patient, staff,
    attendance or spell identifier of the bundled extracts (their id columns, read here independently)."""
    import re
    from pathlib import Path

    import pandas as pd

    data = Path(__file__).resolve().parents[1] / "synthetic_data"
    ids: set[str] = set()
    for file, cols in (
        ("attendances.csv", ["attendance_id", "patient_id"]),
        ("spells.csv", ["spell_id", "patient_id"]),
        ("cohort.csv", ["patient_id"]),
        ("rom_responses.csv", ["patient_id"]),
        ("staff_survey.csv", ["staff_id"]),
    ):
        frame = pd.read_csv(data / file, usecols=cols, dtype=str)
        for c in cols:
            ids |= set(frame[c].dropna())
    pages = sorted((built_book / "reports").glob("*.html"))
    assert len(pages) >= 3
    token = re.compile(r"\b[A-Z]{1,2}\d{5,8}\b")  # the shape of every id column above
    assert all(token.fullmatch(i) for i in list(ids)[:1000])
    for page in pages:
        found = set(token.findall(page.read_text(encoding="utf-8"))) & ids
        assert not found, (page.name, sorted(found)[:3])
