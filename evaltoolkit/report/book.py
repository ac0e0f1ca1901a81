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

from evaltoolkit.data.load import source_files
from evaltoolkit.protocol import Protocol, load_protocol
from evaltoolkit.report.document import SECTIONS
from evaltoolkit.report.templates import BOOK_PAGE, BOOK_SECTION

__all__ = ["book_page", "page_sections", "stale_book_pages", "write_book_pages"]

PAGES_DIR = "reports"
"""Folder of the generated pages inside the book."""

OUTPUTS_DIR = "_outputs"
"""Folder (inside :data:`PAGES_DIR`) where a page writes its run's outputs when the book is built, for
download; ignored by git and by the book build."""

_KIND_NOTICE = {
    "synthetic": (
        "\n```{warning}\n**Synthetic data.** Every record behind this report is made up; no real "
        "person, site or service is described and no finding applies to a real service.\n```\n"
    ),
    "real": "",
    "unspecified": (
        "\n```{warning}\n**Kind of data not stated.** The protocol does not say whether its data are "
        "synthetic or real (`data.kind`).\n```\n"
    ),
}
_DATA_WORDS = {
    "synthetic": "the bundled **synthetic** data",
    "real": "the extracts named in the protocol",
    "unspecified": "the extracts named in the protocol",
}


def _rel(path: Path, pages: Path) -> str:
    return Path(os.path.relpath(path.resolve(), pages.resolve())).as_posix()


def _downloads(protocol: Protocol, protocol_path: Path, pages: Path) -> str:
    """The sentence offering the protocol, the data files (synthetic data only) and the results zip."""
    parts = [f"The protocol: {{download}}`{protocol_path.name} <{_rel(protocol_path, pages)}>`."]
    if protocol.data.kind == "synthetic":
        folder = protocol.data_folder()
        files = [f for src in protocol.data.sources.values() for f in source_files(src.file, folder)]
        links = ", ".join(f"{{download}}`{f.name} <{_rel(f, pages)}>`" for f in dict.fromkeys(files))
        if links:
            parts.append(f"The synthetic data it reads: {links}.")
    parts.append(
        f"The results files of this run (results.json, the tables as CSV, the figures, report.md, the "
        f"standalone report.html and manifest.json): "
        f"{{download}}`{protocol.name}_results.zip <{OUTPUTS_DIR}/{protocol.name}_results.zip>`."
    )
    return " ".join(parts)


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
        name=protocol.name,
        kind_notice=_KIND_NOTICE[protocol.data.kind],
        data_words=_DATA_WORDS[protocol.data.kind],
        protocol_file=protocol_path.name,
        protocol_path=rel,
        outputs=OUTPUTS_DIR,
        downloads=_downloads(protocol, protocol_path, pages),
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
