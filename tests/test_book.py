"""The Jupyter Book builds offline, strictly (-W -n --keep-going), with every page executed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.book
@pytest.mark.slow
def test_book_builds_strictly(tmp_path):
    jb = Path(sys.executable).with_name("jupyter-book")
    if not jb.exists():  # pragma: no cover - the book extra is part of make test's install
        pytest.fail("jupyter-book is not installed: run `make test`, which installs the [book] extra")
    book = tmp_path / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_build"))
    # Pages read ../../synthetic_data relative to their own folder; mirror the repository layout.
    (tmp_path / "synthetic_data").symlink_to(ROOT / "synthetic_data")
    done = subprocess.run(
        [str(jb), "build", str(book), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    html = book / "_build" / "html"
    page = (html / "data" / "extract_to_series.html").read_text()
    assert "<img" in page  # the executed figure is on the page
    assert "Traceback" not in page
    assert "cdn.jsdelivr.net" not in (html / "intro.html").read_text()  # MathJax served locally
