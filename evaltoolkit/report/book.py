"""Jupyter Book pages for protocols, generated from one template.

The template is :data:`~evaltoolkit.report.templates.BOOK_PAGE`.

``evaltoolkit book --pages-only`` (or :func:`write_book_pages`) writes ``book/reports/<name>.md`` for every
``protocols/*.yaml``. Each page is a MyST text notebook that runs its protocol when the book is built and
shows the report section by section, so every number on the page is computed at build time and no page is
edited by hand. A test checks that the committed pages equal what the generator writes.
"""

from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaltoolkit.data.load import source_files
from evaltoolkit.protocol import Protocol, load_protocol
from evaltoolkit.report.document import SECTIONS
from evaltoolkit.report.templates import BOOK_PAGE, BOOK_SECTION

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "book_page",
    "book_table",
    "format_number",
    "format_p",
    "page_sections",
    "stale_book_pages",
    "write_book_pages",
]

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
    present = {"verdict", "summary", "limitations", "methods", "data_quality"}
    if protocol.series:
        present |= {
            "counterfactual",
            "spc",
            "effects",
            "certainty",
            "sensitivity",
            "robustness",
            "diagnostics",
        }
        if any(s.unit_cost is not None for s in protocol.series):
            present.add("worth")
    if protocol.cohort is not None:
        present |= {"cohort", "certainty"}
    if protocol.outcome_measures is not None:
        present |= {"measures", "certainty"}
        if not protocol.series:
            present.add("spc")  # people starting each month (evaltoolkit.report._spc.rom_spc_block)
        if protocol.service_cost is not None and not protocol.series:
            present.add("worth")  # cost per person (evaltoolkit.report._per_person)
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


# -- tables on book pages ---------------------------------------------------------------------------------
_P_COLUMN = re.compile(r"(^|_)p(_value|_adjusted|_adj)?$|^q_p_value$|p_value")


def format_p(p: Any) -> str:
    """A p-value as text: ``< 0.001`` below 0.001, else three decimals; ``–`` when missing.

    Examples
    --------
    >>> format_p(8.4624e-05), format_p(0.04321), format_p(1.0), format_p(None)
    ('< 0.001', '0.043', '1.000', '–')
    """
    if p is None or (isinstance(p, float) and not math.isfinite(p)) or p is pd.NA:
        return "–"
    p = float(p)
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def format_number(x: Any, digits: int = 3) -> str:
    """A number as text without scientific notation: ``digits`` decimals, more for a small non-zero value
    (two significant digits, at most 10 decimals), whole numbers without decimals, thousands separated
    from 10,000; booleans as ``yes``/``no``; missing values as ``–``.

    Examples
    --------
    >>> [format_number(v) for v in (8.4624e-05, -0.12345, 2019, 38625, 2.0, True, float("nan"))]
    ['0.000085', '-0.123', '2019', '38,625', '2', 'yes', '–']
    """
    if x is None or x is pd.NA or x is pd.NaT:
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, pd.Timestamp):
        return x.strftime("%Y-%m-%d") if x == x.normalize() else x.isoformat(sep=" ")
    if not isinstance(x, (int, float)) and not hasattr(x, "__float__"):
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "–" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if v == int(v) and abs(v) < 1e15:
        n = int(v)
        return f"{n:,}" if abs(n) >= 10_000 else str(n)
    d = digits
    if 0 < abs(v) < 10**-digits:
        d = min(10, -math.floor(math.log10(abs(v))) + 1)
    return f"{v:,.{d}f}" if abs(v) >= 10_000 else f"{v:.{d}f}"


def book_table(
    df: pd.DataFrame, *, digits: int = 3, p_columns: list[str] | None = None, index: bool = False
) -> Styler:
    """A DataFrame formatted for a book page: no scientific notation, p-values as ``< 0.001``, booleans as
    ``yes``/``no``, missing values as ``–``, and the index hidden unless ``index=True``.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (not modified).
    digits : int, default 3
        Decimals of non-integer numbers (more for small non-zero values, see :func:`format_number`).
    p_columns : list of str, optional
        Columns holding p-values; default: columns named ``p``, ``p_value``, ``p_adjusted``, ``…_p_value``.
    index : bool, default False
        Show the index.

    Returns
    -------
    pandas.io.formats.style.Styler

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"term": ["level"], "estimate": [-0.1234567], "p_value": [8.46e-05],
    ...                   "significant": [True]})
    >>> styled = book_table(t)
    >>> "8.46e-05" in styled.to_html(), "&lt; 0.001" in styled.to_html(), ">yes<" in styled.to_html()
    (False, True, True)
    """
    p_cols = set(p_columns) if p_columns is not None else {c for c in df.columns if _P_COLUMN.search(str(c))}

    def fmt(column: Any) -> Any:
        if column in p_cols:
            return lambda v: html.escape(format_p(v))
        return lambda v: html.escape(format_number(v, digits))

    formats = {c: fmt(c) for c in df.columns}
    styler = df.style.format(formats)
    if not index:
        styler = styler.hide(axis="index")
    else:
        styler = styler.format_index(lambda v: html.escape(format_number(v, digits)))
    return styler
