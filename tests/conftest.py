"""Shared fixtures. Forces the non-interactive matplotlib backend."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build a copy of the book strictly (-W -n --keep-going) once per session; return its html folder."""
    jb = Path(sys.executable).with_name("jupyter-book")
    if not jb.exists():  # pragma: no cover - the book extra is part of make test's install
        pytest.fail("jupyter-book is not installed: run `make test`, which installs the [book] extra")
    work = tmp_path_factory.mktemp("bookbuild")
    book = work / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_build"))
    # Pages read ../../synthetic_data relative to their own folder; mirror the repository layout.
    (work / "synthetic_data").symlink_to(ROOT / "synthetic_data")
    (work / "protocols").symlink_to(ROOT / "protocols")  # report pages run the protocols
    (work / "benchmarks").symlink_to(ROOT / "benchmarks")  # its/coverage reads the committed study CSVs
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    done = subprocess.run(
        # tools/build_book.py: `jupyter-book build` with parallel Sphinx jobs (pages execute two at a time)
        [sys.executable, str(ROOT / "tools" / "build_book.py"), str(book), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        check=False,
        cwd=work,
        env=env,
    )
    if done.returncode != 0:
        pytest.fail("book build failed:\n" + done.stdout[-6000:] + done.stderr[-3000:])
    return book / "_build" / "html"


READY = ("project_air", "change_programme", "leadership_programme", "crisis_pathway")
"""The ready protocols of ``protocols/``."""


class _Evaluations(dict):
    """Each ready protocol run once per session, on first use (``evaluations["project_air"]``)."""

    def __missing__(self, name: str):
        from evaltoolkit.report import run_protocol

        self[name] = run_protocol(ROOT / "protocols" / f"{name}.yaml")
        return self[name]


@pytest.fixture(scope="session")
def evaluations() -> _Evaluations:
    """The ready protocols' evaluations, shared by the test modules that read them (never modified)."""
    return _Evaluations()
