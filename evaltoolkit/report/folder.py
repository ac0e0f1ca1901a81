"""Re-render a results folder (``evaltoolkit report DIR``): report.md and report.html from results.json."""

from __future__ import annotations

import json
from pathlib import Path

from evaltoolkit.errors import EvalToolkitError, MissingInputError
from evaltoolkit.report.document import build_report, render_html, render_markdown
from evaltoolkit.report.figures import save_figures
from evaltoolkit.report.results_schema import check_results

__all__ = ["render_folder"]


def render_folder(
    folder: str | Path, *, redraw: bool = True, html: bool = True, formats: tuple[str, ...] | None = None
) -> dict[str, Path]:
    """Re-render the report of a results folder written by :func:`~evaltoolkit.report.write_outputs`.

    Parameters
    ----------
    folder : str or Path
        Folder holding ``results.json``.
    redraw : bool, default True
        Redraw the figures from results.json (byte-identical to the run's when nothing changed).
    html : bool, default True
        Also write ``report.html``.
    formats : tuple of str, optional
        Figure formats when redrawing (default: the protocol's ``report.formats``).

    Returns
    -------
    dict of str to Path
        Files written.

    Raises
    ------
    FileNotFoundError
        No results.json in the folder.
    EvalToolkitError
        results.json is not JSON or does not follow the documented schema; or, with ``redraw=False``,
        a figure the report links is missing from ``figures/``.
    """
    folder = Path(folder)
    path = folder / "results.json"
    if not path.exists():
        raise MissingInputError(
            f"{folder} has no results.json; run `evaltoolkit run PROTOCOL --out {folder}` first"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalToolkitError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}; "
            "run `evaltoolkit run PROTOCOL` again to rewrite it"
        ) from exc
    problems = check_results(results)
    if problems:
        raise EvalToolkitError(
            f"{path} does not follow the results schema:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    written: dict[str, Path] = {}
    if redraw:
        options = (results.get("protocol") or {}).get("report") or {}
        formats = formats or tuple(options.get("formats") or ("png", "svg"))
        dpi = int(options.get("dpi") or 150)
        for p in save_figures(results, folder / "figures", formats=formats, dpi=dpi):
            written[f"figure:{p.name}"] = p
    report = build_report(results)
    if not redraw:
        from evaltoolkit.report.document import Figure

        names = [b.name for sec in report.sections for b in sec.blocks if isinstance(b, Figure)]
        missing = [f"{n}.svg" for n in names if not (folder / "figures" / f"{n}.svg").exists()]
        if missing:
            raise EvalToolkitError(
                f"{folder / 'figures'} lacks {len(missing)} figure file(s) the report links: "
                f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}; run `evaltoolkit report "
                f"{folder} --redraw` to draw them from results.json (nothing was written)"
            )
    written["report_md"] = folder / "report.md"
    written["report_md"].write_text(render_markdown(report, figure_dir="figures"), encoding="utf-8")
    if html:
        written["report_html"] = folder / "report.html"
        written["report_html"].write_text(
            render_html(report, figure_dir=folder / "figures"), encoding="utf-8"
        )
    return written
