"""Jupyter Book pages for protocols, generated from one template.

The template is :data:`~evaltoolkit.report.templates.BOOK_PAGE`.

``evaltoolkit book --pages-only`` (or :func:`write_book_pages`) writes ``book/reports/<name>.md`` for every
``protocols/*.yaml``. Each page is a MyST text notebook that runs its protocol when the book is built and
shows the report section by section, so every number on the page is computed at build time and no page is
edited by hand. A test checks that the committed pages equal what the generator writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from evaltoolkit.protocol import Protocol, load_protocol
from evaltoolkit.report.document import SECTIONS
from evaltoolkit.report.templates import BOOK_PAGE, BOOK_SECTION

__all__ = ["book_page", "page_sections", "stale_book_pages", "write_book_pages"]

PAGES_DIR = "reports"
"""Folder of the generated pages inside the book."""


def page_sections(protocol: Protocol) -> list[tuple[str, str]]:
    """The report sections a protocol's page shows, ``(id, title)`` in report order."""
    present = {"summary", "limitations", "methods", "data_quality"}
    if protocol.series:
        present |= {"counterfactual", "effects", "certainty", "sensitivity", "robustness", "diagnostics"}
    if protocol.cohort is not None:
        present.add("cohort")
    if protocol.outcome_measures is not None:
        present.add("measures")
    return [(i, t) for i, t in SECTIONS if i in present]


def book_page(protocol_path: str | Path, *, book_dir: str | Path) -> str:
    """The text of the book page of one protocol file (placed in ``book_dir/reports/``)."""
    protocol_path = Path(protocol_path)
    protocol = load_protocol(protocol_path, check_files=False)
    pages = Path(book_dir) / PAGES_DIR
    rel = Path(os.path.relpath(protocol_path.resolve(), pages.resolve())).as_posix()
    sections = "".join(BOOK_SECTION.substitute(id=i, title=t) for i, t in page_sections(protocol))
    return BOOK_PAGE.substitute(
        title=protocol.title,
        protocol_file=protocol_path.name,
        protocol_path=rel,
        sections=sections,
    )


def _targets(protocols_dir: Path, book_dir: Path) -> list[tuple[Path, Path]]:
    out = []
    for path in sorted(protocols_dir.glob("*.yaml")):
        name = load_protocol(path, check_files=False).name
        out.append((path, book_dir / PAGES_DIR / f"{name}.md"))
    return out


def write_book_pages(protocols_dir: str | Path, book_dir: str | Path) -> list[Path]:
    """Write the page of every ``*.yaml`` protocol in ``protocols_dir`` into ``book_dir/reports/``."""
    protocols_dir, book_dir = Path(protocols_dir), Path(book_dir)
    (book_dir / PAGES_DIR).mkdir(parents=True, exist_ok=True)
    written = []
    for src, dst in _targets(protocols_dir, book_dir):
        dst.write_text(book_page(src, book_dir=book_dir), encoding="utf-8")
        written.append(dst)
    return written


def stale_book_pages(protocols_dir: str | Path, book_dir: str | Path) -> list[Path]:
    """Pages that are missing or differ from what :func:`write_book_pages` would write."""
    protocols_dir, book_dir = Path(protocols_dir), Path(book_dir)
    stale = []
    for src, dst in _targets(protocols_dir, book_dir):
        if not dst.exists() or dst.read_text(encoding="utf-8") != book_page(src, book_dir=book_dir):
            stale.append(dst)
    return stale
