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
