"""The ``evaltoolkit`` command line.

Exit codes scripts can rely on: 0 success, 1 the data failed validation (every problem is printed),
2 wrong usage (unknown option, missing folder).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from evaltoolkit.errors import EvalToolkitError

app = typer.Typer(
    name="evaltoolkit",
    help="Evaluate mental-health service changes: extracts → series, with a data-quality table.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_INVALID = 1
EXIT_USAGE = 2


def _fail(message: str, code: int) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the synthetic extracts into.")],
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; the same seed gives identical files.")
    ] = 20261121,
) -> None:
    """Write a seeded synthetic dataset (extracts, truth.json, data dictionary)."""
    from evaltoolkit.synth import write_synthetic

    paths = write_synthetic(out, seed=seed)
    typer.echo(f"wrote {len(paths)} files to {out} (seed {seed})")


@app.command()
def validate(
    folder: Annotated[
        Path, typer.Argument(help="Folder of extracts (attendances, spells, population, ...).")
    ],
    start: Annotated[str | None, typer.Option(help="Window start (YYYY-MM-DD).")] = None,
    extract_date: Annotated[
        str | None, typer.Option(help="Extract date: end of the window (excluded).")
    ] = None,
) -> None:
    """Check every extract in FOLDER and print all problems at once; exit 1 if any has errors."""
    import pandas as pd

    from evaltoolkit.data import find_extract_files, read_extract, read_sites, validate_extract

    if not folder.is_dir():
        _fail(f"error: {folder} is not a folder", EXIT_USAGE)
    files = find_extract_files(folder)
    sites = read_sites(files["sites"]) if "sites" in files else None
    window = (start, extract_date) if start and extract_date else None
    n_errors = 0
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        for kind, path in files.items():
            if kind == "sites":
                continue
            try:
                problems = validate_extract(read_extract(path, kind), kind, sites=sites, window=window)
            except EvalToolkitError as exc:
                typer.echo(f"{kind} ({path.name}): {exc}")
                n_errors += 1
                continue
            errors = problems[problems["severity"] == "error"] if len(problems) else problems
            n_errors += len(errors)
            status = "ERRORS" if len(errors) else "ok"
            typer.echo(f"{kind} ({path.name}): {status}; {len(problems)} problem rules")
            if len(problems):
                typer.echo(problems[["rule", "column", "severity", "n_rows", "rows"]].to_string(index=False))
    if n_errors:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def series(
    folder: Annotated[Path, typer.Argument(help="Folder of extracts with canonical column names.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    freq: Annotated[str, typer.Option(help="MS (calendar months) or W-MON (weeks from Monday).")] = "MS",
    start: Annotated[str | None, typer.Option(help="Window start; default from the population file.")] = None,
    extract_date: Annotated[str | None, typer.Option(help="Extract date (window end, excluded).")] = None,
) -> None:
    """Build site × period series and the data-quality table from the extracts in FOLDER."""
    from evaltoolkit.pipeline import build_series, write_series

    if not folder.is_dir():
        _fail(f"error: {folder} is not a folder", EXIT_USAGE)
    window = (start, extract_date) if start and extract_date else None
    try:
        typer.echo(f"reading and validating extracts in {folder} ...", err=True)
        build = build_series(folder, freq=freq, window=window)
    except EvalToolkitError as exc:
        _fail(f"error: {exc}", EXIT_INVALID)
    typer.echo("writing outputs ...", err=True)
    paths = write_series(build, out, command=shlex.join(["evaltoolkit", *sys.argv[1:]]))
    excluded = int(build.quality["n_excluded"].sum()) if "n_excluded" in build.quality.columns else 0
    typer.echo(
        f"{len(build.series)} site-periods ({build.series['site'].nunique()} sites, "
        f"window {build.window[0].date()} to {build.window[1].date()}, end excluded); "
        f"{excluded} rows excluded by data-quality rules (see {paths['data_quality'].name})"
    )
    for name, path in paths.items():
        typer.echo(f"  {name}: {path}")


def main() -> None:  # pragma: no cover - thin wrapper
    """Entry point for ``python -m evaltoolkit``."""
    app()
