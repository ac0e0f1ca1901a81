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

from typing import TYPE_CHECKING, Any

# Names are imported on first use (PEP 562): ``import evaltoolkit.report`` stays fast, and a script that
# only renders a results folder does not pay for the statistics and plotting stacks.
_LAZY = {
    "book_page": "book",
    "book_table": "book",
    "format_number": "book",
    "format_p": "book",
    "page_sections": "book",
    "stale_book_pages": "book",
    "write_book_pages": "book",
    "SECTIONS": "document",
    "Report": "document",
    "build_report": "document",
    "render_html": "document",
    "render_markdown": "document",
    "report_metadata": "document",
    "show_metadata": "document",
    "show_section": "document",
    "figure_specs": "figures",
    "save_figures": "figures",
    "render_folder": "folder",
    "RESULTS_SCHEMA": "results_schema",
    "check_results": "results_schema",
    "RESULTS_SCHEMA_VERSION": "run",
    "Evaluation": "run",
    "run_protocol": "run",
    "write_outputs": "run",
}

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evaltoolkit.report' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"evaltoolkit.report.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
