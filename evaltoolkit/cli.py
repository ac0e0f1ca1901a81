"""The ``evaltoolkit`` command line.

Commands: ``synth`` (synthetic data), ``validate`` (a folder of extracts, or a protocol and its data),
``series`` (site × period series), ``run`` (a protocol end to end), ``score`` (outcome measures from a
file), ``report`` (re-render a results folder) and ``book`` (generate the report pages and build the book).

Exit codes scripts can rely on:

* ``0`` success;
* ``1`` invalid input: the data or the protocol failed validation (every problem is printed), a results
  folder does not follow the schema, generated book pages are out of date (``book --check``) or the
  book build failed;
* ``2`` wrong usage: unknown option or command, a file or folder that does not exist.

Progress messages go to stderr (``--quiet`` silences them); results and reports go to stdout and files.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from evaltoolkit.errors import EvalToolkitError

app = typer.Typer(
    name="evaltoolkit",
    help=(
        "Evaluate mental-health service changes: validate extracts and protocols, build series, run a "
        "pre-specified protocol into results.json, tables, figures and a commissioner report, score "
        "outcome measures, and build the book. Exit codes: 0 ok, 1 invalid data or protocol, 2 usage."
    ),
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


def _progress(quiet: bool) -> Callable[[str], None]:
    start = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            typer.echo(f"[{time.perf_counter() - start:6.1f}s] {message}", err=True)

    return say


def _is_protocol(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def _validate_protocol(path: Path, *, data: bool) -> int:
    from evaltoolkit.protocol import format_problems, load_protocol, validate_protocol

    if not path.exists():
        _fail(f"error: protocol file {path} does not exist", EXIT_USAGE)
    problems = validate_protocol(path)
    if problems:
        typer.echo(format_problems(problems, path))
        return EXIT_INVALID
    typer.echo(f"protocol {path}: ok")
    if not data:
        return 0
    import pandas as pd

    from evaltoolkit.report._data import load_data

    protocol = load_protocol(path)
    try:
        loaded = load_data(protocol)
    except (EvalToolkitError, FileNotFoundError) as exc:
        typer.echo(f"data: {exc}")
        return EXIT_INVALID
    q = loaded.quality
    for kind, ex in loaded.extracts.items():
        names = ", ".join(p.name for p in loaded.inputs.get(kind, (loaded.files[kind],)))
        mine = q[q["extract"] == kind]
        read = mine.loc[mine["rule"] == "rows_read", "n_rows"]
        n_read = int(read.iloc[0]) if len(read) else ex.n_input
        annual = "; annual estimates became " + f"{ex.n_input} site-months" if n_read != ex.n_input else ""
        typer.echo(
            f"{kind} ({names}): ok; {n_read} rows read{annual}, {ex.n_excluded} excluded by data-quality "
            f"rules, {ex.n_output} kept"
        )
        for r in mine.itertuples(index=False):
            if r.rule != "rows_read" and not pd.isna(r.n_rows) and int(r.n_rows) > 0:
                typer.echo(
                    f"  {r.rule} ({r.column}): {int(r.n_rows)} rows, {int(r.n_excluded)} excluded; {r.action}"
                )
    for note in loaded.notes:
        typer.echo(f"note: {note}")
    return 0


@app.command()
def validate(
    target: Annotated[
        Path | None,
        typer.Argument(help="Folder of extracts (attendances, spells, ...) or a protocol file (.yaml)."),
    ] = None,
    protocol: Annotated[
        Path | None, typer.Option("--protocol", "-p", help="Protocol file to validate (with its data).")
    ] = None,
    data: Annotated[
        bool, typer.Option("--data/--no-data", help="With a protocol: also read and check its extracts.")
    ] = True,
    start: Annotated[str | None, typer.Option(help="Window start (YYYY-MM-DD) for a folder.")] = None,
    extract_date: Annotated[
        str | None, typer.Option(help="Extract date: end of the window (excluded), for a folder.")
    ] = None,
    date_format: DateFormatOption = None,
    timezone: TimezoneOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
) -> None:
    """Check a folder of extracts, or a protocol and the data it names; print every problem at once.

    Exit 1 if anything is invalid. Examples: `evaltoolkit validate synthetic_data`,
    `evaltoolkit validate protocols/project_air.yaml`, `evaltoolkit validate --protocol P.yaml --no-data`.
    """
    if protocol is not None or (target is not None and _is_protocol(target)):
        path = protocol if protocol is not None else target
        assert path is not None
        code = _validate_protocol(path, data=data)
        if code:
            raise typer.Exit(code)
        return
    if target is None:
        _fail(
            "error: give a folder of extracts or a protocol file (see evaltoolkit validate --help)",
            EXIT_USAGE,
        )
    assert target is not None
    _validate_folder(
        target, start, extract_date, _reading_options(date_format, timezone, encoding, delimiter)
    )


def _window(start: str | None, extract_date: str | None) -> tuple[object, object] | None:
    """--start/--extract-date as a window: ISO 8601 only (dd/mm text is refused, never guessed); exit 2."""
    from evaltoolkit.data import parse_date

    if (start is None) != (extract_date is None):
        given, missing = ("--start", "--extract-date") if start else ("--extract-date", "--start")
        _fail(f"error: {given} needs {missing} too (the window is [start, extract date))", EXIT_USAGE)
    if start is None or extract_date is None:
        return None
    try:
        first, end = parse_date(start, what="--start"), parse_date(extract_date, what="--extract-date")
    except EvalToolkitError as exc:
        _fail(f"error: {exc}", EXIT_USAGE)
        raise  # unreachable: _fail exits
    if first >= end:
        _fail(f"error: --start {start} must be before --extract-date {extract_date}", EXIT_USAGE)
    return (first, end)


def _reading_options(
    date_format: str | None, timezone: str | None, encoding: str | None, delimiter: str | None
) -> dict[str, object]:
    """Data-source keys from the reading options of ``validate``/``series`` on a folder."""
    out: dict[str, object] = {}
    if date_format:
        if "=" in date_format:  # per column: arrival=%d/%m/%Y %H:%M,departure=...
            pairs = [p.split("=", 1) for p in date_format.split(",") if p.strip()]
            out["date_format"] = {k.strip(): v.strip() for k, v in pairs}
        else:
            out["date_format"] = date_format
    if timezone:
        out["timezone"] = timezone
    if encoding:
        out["encoding"] = encoding
    if delimiter:
        out["delimiter"] = delimiter
    return out


DateFormatOption = Annotated[
    str | None,
    typer.Option(
        "--date-format",
        help="Layout of date text in the extracts: a strftime layout (%d/%m/%Y), ISO8601 or excel, or per "
        "column: arrival=%d/%m/%Y %H:%M,departure=%d/%m/%Y %H:%M. Day/month are never guessed.",
    ),
]
TimezoneOption = Annotated[
    str | None, typer.Option("--timezone", help="Time zone date-times with offsets are converted to.")
]
EncodingOption = Annotated[
    str | None, typer.Option("--encoding", help="Text encoding of CSV files, e.g. cp1252 (default utf-8).")
]
DelimiterOption = Annotated[
    str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected among , ; tab |).")
]


def _validate_folder(
    folder: Path, start: str | None, extract_date: str | None, options: dict[str, object] | None = None
) -> None:
    import pandas as pd

    from evaltoolkit.data import find_extract_files, read_extract, read_sites, validate_extract

    if not folder.is_dir():
        _fail(f"error: {folder} is not a folder", EXIT_USAGE)
    files = find_extract_files(folder)
    sites = read_sites(files["sites"]) if "sites" in files else None
    window = _window(start, extract_date)
    n_errors = 0
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        for kind, path in files.items():
            if kind == "sites":
                continue
            try:
                problems = validate_extract(
                    read_extract(path, kind, advice="cli", **(options or {})),  # type: ignore[arg-type]
                    kind,
                    sites=sites,
                    window=window,
                )
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
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    folder: Annotated[
        Path | None, typer.Argument(help="Folder of extracts with canonical column names (or --protocol).")
    ] = None,
    freq: Annotated[str, typer.Option(help="MS (calendar months) or W-MON (weeks from Monday).")] = "MS",
    start: Annotated[str | None, typer.Option(help="Window start; default from the population file.")] = None,
    extract_date: Annotated[str | None, typer.Option(help="Extract date (window end, excluded).")] = None,
    protocol: Annotated[
        Path | None,
        typer.Option(
            "--protocol",
            "-p",
            help="Read the extracts a protocol names, with its data keys (files, preset, columns, sheets, "
            "date formats, value maps, site aliases, where...), its window and its sites.",
        ),
    ] = None,
    date_format: DateFormatOption = None,
    timezone: TimezoneOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
) -> None:
    """Build site × period series and the data-quality table from the extracts in FOLDER (or a protocol's)."""
    from evaltoolkit.pipeline import build_series, write_series

    options: dict = {"freq": freq}
    if protocol is not None:
        from evaltoolkit.protocol import load_protocol

        if not protocol.exists():
            _fail(f"error: protocol file {protocol} does not exist", EXIT_USAGE)
        try:
            spec = load_protocol(protocol)
        except EvalToolkitError as exc:
            _fail(f"error: {exc}", EXIT_INVALID)
        if spec.data.window is None:
            _fail(f"error: protocol {protocol} has no data.window (start, extract_date)", EXIT_INVALID)
        assert spec.data.window is not None
        folder = spec.data_folder()
        options.update(
            window=_window(
                start or spec.data.window.start.isoformat(),
                extract_date or spec.data.window.extract_date.isoformat(),
            ),
            sites=[s.code for s in spec.sites],
            max_open_days=spec.data.max_open_days,
            sources={k: v.model_dump() for k, v in spec.data.sources.items()} or None,
        )
    elif folder is None:
        _fail("error: give a folder of extracts or --protocol P.yaml", EXIT_USAGE)
    else:
        options["window"] = _window(start, extract_date)
        reading = _reading_options(date_format, timezone, encoding, delimiter)
        if reading and folder.is_dir():
            from evaltoolkit.data import find_extract_files

            try:
                found = find_extract_files(folder)
            except EvalToolkitError as exc:
                _fail(f"error: {exc}", EXIT_INVALID)
            options["sources"] = {k: {"file": p.name, **reading} for k, p in found.items() if k != "sites"}
            if "sites" in found:
                options["sources"]["sites"] = {"file": found["sites"].name}
    assert folder is not None
    if not folder.is_dir():
        _fail(f"error: {folder} is not a folder", EXIT_USAGE)
    try:
        typer.echo(f"reading and validating extracts in {folder} ...", err=True)
        build = build_series(folder, **options)
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
    for note in build.notes:
        typer.echo(f"note: {note}", err=True)


@app.command()
def run(
    protocol: Annotated[Path, typer.Argument(help="Protocol file (.yaml).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if needed).")],
    html: Annotated[bool, typer.Option("--html/--no-html", help="Write the standalone report.html.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages on stderr.")] = False,
) -> None:
    """Run a protocol end to end: results.json, tables/, figures/, report.md, report.html, manifest.json.

    results.json, the tables and the figures are byte-identical for the same inputs; the manifest records
    the time, command, seed, package versions and SHA-256 of every input and of the protocol.
    """
    from evaltoolkit.protocol import load_protocol
    from evaltoolkit.report import run_protocol, write_outputs

    if not protocol.exists():
        _fail(f"error: protocol file {protocol} does not exist", EXIT_USAGE)
    say = _progress(quiet)
    try:
        say(f"validating protocol {protocol}")
        spec = load_protocol(protocol)
        evaluation = run_protocol(spec, progress=say)
    except EvalToolkitError as exc:
        _fail(f"error: {exc}", EXIT_INVALID)
    except FileNotFoundError as exc:
        _fail(f"error: {exc}", EXIT_INVALID)
    paths = write_outputs(
        evaluation, out, command=shlex.join(["evaltoolkit", *sys.argv[1:]]), progress=say, html=html
    )
    say("done")
    n_fig = sum(1 for k in paths if k.startswith("figure:"))
    n_tab = sum(1 for k in paths if k.startswith("table:"))
    typer.echo(f"{evaluation.protocol.title}")
    for line in evaluation.results["summary"]:
        typer.echo(f"  - {line}")
    typer.echo(f"wrote {out}: results.json, {n_tab} tables, {n_fig} figure files, report.md"
               + (", report.html" if html else "") + ", manifest.json")  # fmt: skip


@app.command()
def score(
    file: Annotated[Path, typer.Argument(help="Item responses (.csv, .xlsx or .parquet), one row per form.")],
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="Instrument key, e.g. phq9.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output CSV of scores.")],
    id_columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns to copy (default: every non-item column).")
    ] = None,
    prorate: Annotated[
        str,
        typer.Option(help="Missing items allowed: rule (the instrument's), none, a number or a fraction."),
    ] = "rule",
    invalid: Annotated[
        str, typer.Option(help="raise (stop on out-of-range values) or missing (score them as missing).")
    ] = "raise",
    sheet: Annotated[
        str | None, typer.Option(help="Worksheet of an .xlsx file: a name, or a position counted from 1.")
    ] = None,
    item_map: Annotated[
        str | None,
        typer.Option(
            "--item-map",
            help="Your item columns → the instrument's, e.g. Q1=core10_1,Q2=core10_2 or Q{n}=core10_{n}.",
        ),
    ] = None,
    encoding: Annotated[
        str, typer.Option(help="Text encoding of a CSV file, e.g. cp1252 or latin-1 (default utf-8).")
    ] = "utf-8-sig",
    header_row: Annotated[
        int | None, typer.Option(min=1, help="Spreadsheet row (from 1) holding the column names.")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected among , ; tab |).")
    ] = None,
) -> None:
    """Score an outcome measure (PHQ-9, GAD-7, CORE-10, BSL-23, ...) from item responses.

    Writes one row per form: the id columns, total, band, subscales, n_missing, prorated and valid. The
    output keeps the identifiers of the input: it is for analysis, not for publication. Run
    `python -c "from evaltoolkit.rom import instruments; print(instruments())"` for the keys.
    """
    from evaltoolkit.data import item_columns, parse_item_map, read_table
    from evaltoolkit.rom import data_quality, instrument_keys
    from evaltoolkit.rom import score as score_items

    if not file.exists():
        _fail(f"error: {file} does not exist", EXIT_USAGE)
    if instrument not in instrument_keys():
        _fail(f"error: unknown instrument {instrument!r}; known: {', '.join(instrument_keys())}", EXIT_USAGE)
    if invalid not in ("raise", "missing"):
        _fail("error: --invalid must be raise or missing", EXIT_USAGE)
    rule: str | bool | int | float
    if prorate == "rule":
        rule = "rule"
    elif prorate == "none":
        rule = False
    else:
        try:
            rule = int(prorate) if prorate.isdigit() else float(prorate)
        except ValueError:
            _fail(f"error: --prorate must be rule, none, a number or a fraction, not {prorate!r}", EXIT_USAGE)
    try:
        chosen = int(sheet) if sheet is not None and sheet.strip().isdigit() else sheet
        table = read_table(
            file, sheet=chosen, encoding=encoding, header_row=header_row, delimiter=delimiter, advice="cli"
        )
        if item_map:
            renames = item_columns(parse_item_map(item_map), [str(c) for c in table.columns])
            table = table.rename(columns=renames)
            shown = ", ".join(f"{a}→{b}" for a, b in renames.items())
            typer.echo(f"item map: {len(renames)} columns renamed ({shown})", err=True)
        ids = [c.strip() for c in id_columns.split(",")] if id_columns else None
        scored = score_items(table, instrument, id_columns=ids, prorate=rule, invalid=invalid)  # type: ignore[arg-type]
    except EvalToolkitError as exc:
        _fail(f"error: {exc}", EXIT_INVALID)
    out.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(out, index=False, lineterminator="\n", float_format="%.6g")
    quality = data_quality(scored)
    if len(quality):
        typer.echo(quality.to_string(index=False), err=True)
    valid = int(scored["valid"].sum())
    typer.echo(f"scored {len(scored)} forms with {instrument}: {valid} valid totals; wrote {out}")


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="Results folder written by `evaltoolkit run`.")],
    redraw: Annotated[bool, typer.Option("--redraw/--no-redraw", help="Redraw the figures too.")] = True,
    html: Annotated[bool, typer.Option("--html/--no-html", help="Write report.html.")] = True,
) -> None:
    """Re-render report.md and report.html (and the figures) from the results.json in FOLDER."""
    from evaltoolkit.report import render_folder

    if not folder.is_dir():
        _fail(f"error: {folder} is not a folder", EXIT_USAGE)
    try:
        paths = render_folder(folder, redraw=redraw, html=html)
    except FileNotFoundError as exc:
        _fail(f"error: {exc}", EXIT_USAGE)
    except EvalToolkitError as exc:
        _fail(f"error: {exc}", EXIT_INVALID)
    typer.echo(
        f"re-rendered {folder}: "
        + ", ".join(sorted(p.name for k, p in paths.items() if not k.startswith("figure:")))
    )


@app.command()
def book(
    book_dir: Annotated[Path, typer.Option("--book-dir", help="The Jupyter Book folder.")] = Path("book"),
    protocols: Annotated[Path, typer.Option("--protocols", help="Folder of protocol files.")] = Path(
        "protocols"
    ),
    pages_only: Annotated[
        bool, typer.Option("--pages-only", help="Only (re)generate the report pages; do not build.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Only check that the report pages are up to date (exit 1 if not).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages on stderr.")] = False,
) -> None:
    """Generate the report page of every protocol (book/reports/<name>.md) and build the book strictly.

    Pages come from one template; each runs its protocol when the book is built. The build is
    `jupyter-book build BOOK -W -n --keep-going` (the `book` extra must be installed).
    """
    from evaltoolkit.protocol import ProtocolError
    from evaltoolkit.report import stale_book_pages, write_book_pages

    if not book_dir.is_dir():
        _fail(f"error: book folder {book_dir} does not exist", EXIT_USAGE)
    if not protocols.is_dir():
        _fail(f"error: protocols folder {protocols} does not exist", EXIT_USAGE)
    say = _progress(quiet)
    try:
        if check:
            stale = stale_book_pages(protocols, book_dir)
            for p in stale:
                typer.echo(f"out of date: {p} (run `evaltoolkit book --pages-only`)")
            if stale:
                raise typer.Exit(EXIT_INVALID)
            typer.echo("report pages are up to date")
            return
        written = write_book_pages(protocols, book_dir)
    except ProtocolError as exc:
        _fail(f"error: {exc}", EXIT_INVALID)
    for p in written:
        typer.echo(f"wrote {p}")
    if pages_only:
        return
    import shutil
    import subprocess

    jb = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))
    if not Path(jb).exists():
        _fail("error: jupyter-book is not installed (pip install -e '.[book]')", EXIT_USAGE)
    say(f"building {book_dir} (this runs every page)")
    done = subprocess.run([jb, "build", str(book_dir), "-W", "-n", "--keep-going"], check=False)
    if done.returncode != 0:
        _fail("error: the book build failed (see the messages above)", EXIT_INVALID)
    say(f"book built: {book_dir / '_build' / 'html' / 'index.html'}")


def main() -> None:  # pragma: no cover - thin wrapper
    """Entry point for ``python -m evaltoolkit``."""
    app()
