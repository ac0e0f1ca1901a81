"""Run a protocol and report it: results.json, tables, figures, a commissioner report and a manifest.

* :func:`run_protocol` runs a protocol (:mod:`evaltoolkit.protocol`) end to end and returns an
  :class:`Evaluation` whose ``results`` are publishable (small counts suppressed per the protocol);
  :func:`write_outputs` writes the output folder (see :mod:`evaltoolkit.report.run`).
* :func:`build_report` turns results into a :class:`~evaltoolkit.report.document.Report` (plain-language
  summary first); :func:`render_markdown` / :func:`render_html` render it; :func:`render_folder`
  re-renders a results folder; :func:`show_section` displays a section in a notebook and
  :func:`show_metadata` the facts every report states at its top (:func:`report_metadata`).
* :func:`write_book_pages` generates the Jupyter Book page of every protocol from one template;
  :func:`book_table` formats a DataFrame for a book page (no scientific notation, p-values as
  ``< 0.001``, booleans as yes/no).

The results.json schema is documented in :mod:`evaltoolkit.report.results_schema`.
"""

from evaltoolkit.report.book import (
    book_page,
    book_table,
    format_number,
    format_p,
    page_sections,
    stale_book_pages,
    write_book_pages,
)
from evaltoolkit.report.document import (
    SECTIONS,
    Report,
    build_report,
    render_html,
    render_markdown,
    report_metadata,
    show_metadata,
    show_section,
)
from evaltoolkit.report.figures import figure_specs, save_figures
from evaltoolkit.report.folder import render_folder
from evaltoolkit.report.results_schema import RESULTS_SCHEMA, check_results
from evaltoolkit.report.run import RESULTS_SCHEMA_VERSION, Evaluation, run_protocol, write_outputs

__all__ = [
    "RESULTS_SCHEMA",
    "RESULTS_SCHEMA_VERSION",
    "SECTIONS",
    "Evaluation",
    "Report",
    "book_page",
    "book_table",
    "build_report",
    "check_results",
    "figure_specs",
    "format_number",
    "format_p",
    "page_sections",
    "render_folder",
    "render_html",
    "render_markdown",
    "report_metadata",
    "run_protocol",
    "save_figures",
    "show_metadata",
    "show_section",
    "stale_book_pages",
    "write_book_pages",
    "write_outputs",
]
