"""The ``evaltoolkit`` command line.

Commands: ``synth`` (synthetic data), ``validate`` (a folder of extracts, or a protocol and its data),
``series`` (site × period series), ``run`` (a protocol end to end), ``score`` (outcome measures from a
file), ``report`` (re-render a results folder) and ``book`` (generate the report pages and build the book).

Exit codes scripts can rely on:

* ``0`` success;
* ``1`` invalid input: the data or the protocol failed validation (every problem is printed), a folder
  holds no extract the toolkit recognises, an extract is empty or every row of it is excluded, a results
  folder does not follow the schema, a file cannot be read or written (not UTF-8, permission denied),
  generated book pages are out of date (``book --check``) or the book build failed;
* ``2`` wrong usage: unknown option or command, an option value that is not valid (a date that is not
  ``YYYY-MM-DD``, an unknown frequency), a file or folder named on the command line that does not exist,
  or an ``--out`` that would overwrite an input (the input file itself, the data folder, a file where a
  folder is needed and the reverse, or for ``synth`` a folder of real extracts); nothing is written;
* ``3`` internal error: an unexpected failure, which is a bug in evaltoolkit. One line names it; run again
  with ``--debug`` (``evaltoolkit --debug run ...``) or the environment variable ``EVALTOOLKIT_DEBUG=1`` to
  see the Python traceback, and please report it.

No command prints a Python traceback otherwise: every failure is one message on stderr that names the
file, column, protocol key and rows at fault. Progress messages go to stderr (``--quiet`` silences them);
results and reports go to stdout and files.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import shlex
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from evaltoolkit.errors import EvalToolkitError

app = typer.Typer(
    name="evaltoolkit",
    help=(
        "Evaluate mental-health service changes: validate extracts and protocols, build series, run a "
        "pre-specified protocol into results.json, tables, figures and a commissioner report, score "
        "outcome measures, and build the book. Exit codes: 0 ok, 1 invalid data or protocol, 2 usage, "
        "3 internal error (a bug: --debug shows the traceback)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
DEBUG_ENV = "EVALTOOLKIT_DEBUG"
"""Environment variable: set to 1 to let unexpected errors show their Python traceback."""

_state = {"debug": False}


def _fail(message: str, code: int) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@app.callback()
def _main(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help=f"Show the Python traceback of an unexpected error (or set {DEBUG_ENV}=1)."
        ),
    ] = False,
) -> None:
    """Evaluate mental-health service changes (see the commands below)."""
    _state["debug"] = debug


def _debugging() -> bool:
    return _state["debug"] or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


# Advice written for Python callers (keywords of a function), and what a command-line user can do instead.
# Each pattern is tested in tests/test_bad_inputs.py.
_CLI_ADVICE: list[tuple[str, str]] = [
    (
        r"Fix the source data or the column mapping(, or pass on_invalid='exclude' to clean_extract to "
        r"exclude the invalid rows and count them in the data-quality table)?",
        "Fix the rows listed in the file, or the column mapping (protocol key data.sources.{kind}.columns)",
    ),
    (r" The full problem table is in the exception's \.problems attribute\.", ""),
    (
        r"Fixable defects, handled by clean_extract:",
        "Fixable defects (handled and counted in the data-quality table):",
    ),
    (r"pass items= to map your column names", "rename the item columns in the file to these names"),
    (r"pass on_invalid='missing' to score them as missing", "use --invalid missing to score them as missing"),
    (r"\bsheet= applies", "--sheet applies"),
    (r"pass start= and end=", "give --start and --extract-date"),
    (
        r"sites is empty; pass the site codes to keep, or sites=None to skip the check",
        "the sites file lists no site: add the site codes to it (or remove it to skip the site check)",
    ),
    (r"pass header_row=(\d+)", r"pass --header-row \1"),
    (r"pass encoding='([\w-]+)'", r"pass --encoding \1"),
    (r"Use prorate='rule' or a number", "Use --prorate rule or a number"),
    (r"\bprorate=(\S+) allows", r"--prorate \1 allows"),
]


def _cli_text(message: str, *, folder: bool = False) -> str:
    """``message`` with advice meant for Python callers rewritten for the command line.

    ``folder``: the command reads a folder of extracts (no protocol), so advice names no protocol key.
    """
    found = re.match(r"\s*(\w+) extract has", message)
    kind = found.group(1) if found else "<kind>"
    for pattern, replacement in _CLI_ADVICE:
        if folder and "(protocol key data.sources.{kind}.columns)" in replacement:
            replacement = "Fix the rows listed in the file (or give its columns the canonical names)"
        message = re.sub(pattern, replacement.replace("{kind}", kind), message)
    return message


def _raised_by_toolkit(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` is evaltoolkit code (a deliberate message, not a crash)."""
    tb = exc.__traceback__
    module = ""
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next
    return module.startswith("evaltoolkit")


def _guard(func: Callable[..., None]) -> Callable[..., None]:
    """Run a command so that no traceback reaches the user: one message on stderr and a documented code."""

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            with warnings.catch_warnings():
                # evaltoolkit's own deprecations (a renamed protocol key or option) are shown to the user
                # as one line each; Python hides DeprecationWarning by default.
                warnings.filterwarnings(
                    "always", message=r".* is deprecated, use ", category=DeprecationWarning
                )
                warnings.showwarning = _show_warning
                func(*args, **kwargs)
        except (
            typer.Exit,
            typer.Abort,
            click.exceptions.Exit,
            click.exceptions.Abort,
            click.ClickException,
            KeyboardInterrupt,
        ):
            raise
        except EvalToolkitError as exc:
            _fail(f"error: {_cli_text(str(exc))}", EXIT_INVALID)
        except UnicodeDecodeError as exc:
            _fail(
                f"error: a file is not UTF-8 text (byte {exc.start}: "
                f"{exc.object[exc.start : exc.start + 1]!r}); re-save it as UTF-8 (CSV UTF-8 in Excel)",
                EXIT_INVALID,
            )
        except OSError as exc:
            if exc.strerror is None:  # raised by evaltoolkit with a message of its own
                _fail(f"error: {_cli_text(str(exc))}", EXIT_INVALID)
            where = f" {exc.filename}" if exc.filename else ""
            _fail(f"error: cannot read or write{where}: {exc.strerror}", EXIT_INVALID)
        except ValueError as exc:
            if _raised_by_toolkit(exc):  # a message written for the user by evaltoolkit
                _fail(f"error: {_cli_text(str(exc))}", EXIT_INVALID)
            if _debugging():
                raise
            _internal(exc)
        except Exception as exc:  # a bug: say so in one line
            if _debugging():
                raise
            _internal(exc)

    return wrapper


def _sheet_option(sheet: str | None) -> str | int | list[str | int] | None:
    """--sheet as read_table takes it: a name, a position from 1, a comma-separated list, or ``*``."""
    if sheet is None or sheet.strip() == "*":
        return None if sheet is None else "*"
    parts: list[str | int] = [int(p) if p.strip().isdigit() else p.strip() for p in sheet.split(",")]
    return parts[0] if len(parts) == 1 else parts


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    typer.echo(f"warning: {message}", err=True)


def _internal(exc: BaseException) -> None:
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    _fail(
        f"internal error: {type(exc).__module__}.{type(exc).__name__}: {first}\n"
        f"This is a bug in evaltoolkit. Run again with --debug (or {DEBUG_ENV}=1) for the traceback, "
        "and please report it with the command you ran.",
        EXIT_INTERNAL,
    )


# -- option checks (exit 2, naming the option) ---------------------------------------------------------
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_option(param: typer.CallbackParam, value: str | None) -> str | None:
    """Callback for date options: ``YYYY-MM-DD`` only (day/month order is never guessed); exit 2."""
    if value is None:
        return None
    value = value.strip()
    if _ISO_DATE.fullmatch(value):
        try:
            dt.date.fromisoformat(value)
            return value
        except ValueError:
            pass
    from evaltoolkit.data import parse_date

    option = "--" + str(param.name).replace("_", "-")
    try:
        parse_date(value, what=option)
        reason = "is not a date in the form YYYY-MM-DD (e.g. 2024-04-01)"
    except EvalToolkitError as exc:
        reason = str(exc)
    if not reason.startswith(option):
        reason = f"{option} {value!r}: {reason}"
    _fail(f"error: {reason}", EXIT_USAGE)
    return None  # unreachable: _fail exits


def _freq_option(value: str) -> str:
    from evaltoolkit.series._periods import parse_freq

    try:
        return parse_freq(value).code
    except ValueError as exc:
        raise typer.BadParameter(str(exc).replace("freq ", "", 1)) from None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _out_folder(
    out: Path, *, inputs: Iterable[Path] = (), written: Iterable[str] = (), option: str = "--out"
) -> None:
    """Refuse (exit 2) an output folder that is a file, an input folder, or would overwrite an input file."""
    if out.exists() and not out.is_dir():
        _fail(f"error: {option} {out} is a file; give a folder (it is created if needed)", EXIT_USAGE)
    names = list(written)
    for src in inputs:
        if src.is_dir() and _same(out, src):
            _fail(
                f"error: {option} {out} is the input folder {src}; outputs would be mixed with (or "
                "overwrite) the extracts. Give another folder",
                EXIT_USAGE,
            )
        if src.is_file():
            for name in names:
                if _same(out / name, src):
                    _fail(
                        f"error: {option} {out} would overwrite the input file {src}; give another folder",
                        EXIT_USAGE,
                    )


@app.command()
@_guard
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the synthetic extracts into.")],
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; the same seed gives identical files.")
    ] = 20261121,
    preset: Annotated[
        str,
        typer.Option(
            "--preset",
            help="Named configuration: project_air (the default dataset) or crisis_pathway "
            "(synthetic_data/crisis_pathway, seed 20261205).",
        ),
    ] = "project_air",
) -> None:
    """Write a seeded synthetic dataset (extracts, truth.json, data dictionary)."""
    from evaltoolkit.synth import FILES, PRESETS, write_synthetic

    if preset not in PRESETS:
        _fail(f"error: --preset must be one of {', '.join(PRESETS)} (got {preset!r})", EXIT_USAGE)

    if seed < 0:
        _fail(f"error: --seed must be a whole number ≥ 0 (got {seed})", EXIT_USAGE)
    _out_folder(out)
    if out.is_dir() and not (out / FILES["truth"]).exists():  # truth.json marks a synthetic dataset
        clash = sorted(name for name in FILES.values() if (out / name).exists())
        if clash:
            _fail(
                f"error: --out {out} already holds {', '.join(clash)}, which synth would overwrite, and is "
                "not a synthetic dataset (no truth.json); give a new or empty folder",
                EXIT_USAGE,
            )
    paths = write_synthetic(out, seed=seed, config=PRESETS[preset]())
    typer.echo(f"wrote {len(paths)} files to {out} (seed {seed}, preset {preset})")


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
        typer.echo(f"data: {_cli_text(str(exc))}")
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
    from evaltoolkit.report._checks import check_lines, occasion_problems

    occasions = occasion_problems(protocol, loaded)
    for line in occasions:
        typer.echo(line)
    lines, failed = check_lines(protocol, loaded)  # series: gaps, empty stretches, partial periods
    for line in lines:
        typer.echo(line)
    return EXIT_INVALID if failed or occasions else 0


def _unusable(ex: object) -> str | None:
    """Why a cleaned extract cannot be used (no rows, or every row excluded), else None."""
    from evaltoolkit.data._usable import unusable_reason

    return unusable_reason(ex)  # type: ignore[arg-type]


@app.command()
@_guard
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
    start: Annotated[
        str | None, typer.Option(help="Window start (YYYY-MM-DD) for a folder.", callback=_date_option)
    ] = None,
    extract_date: Annotated[
        str | None,
        typer.Option(
            help="Extract date (YYYY-MM-DD): end of the window (excluded), for a folder.",
            callback=_date_option,
        ),
    ] = None,
    date_format: DateFormatOption = None,
    timezone: TimezoneOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    header_row: HeaderRowOption = None,
) -> None:
    """Check a folder of extracts, or a protocol and the data it names; print every problem at once.

    Exit 1 if anything is invalid, if the folder holds no extract file the toolkit recognises, or if an
    extract is empty or has every row excluded. Examples: `evaltoolkit validate synthetic_data`,
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
        target, start, extract_date, _reading_options(date_format, timezone, encoding, delimiter, header_row)
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
    date_format: str | None,
    timezone: str | None,
    encoding: str | None,
    delimiter: str | None,
    header_row: str | None = None,
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
    header = _header_row_option(header_row)
    if header is not None:
        out["header_row"] = header
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
HeaderRowOption = Annotated[
    str | None,
    typer.Option(
        "--header-row",
        help="Spreadsheet row (from 1) holding the column names: one number for every file of the folder, "
        "or per extract: attendances=2,spells=1.",
    ),
]


def _header_row_option(value: str | None) -> int | dict[str, int] | None:
    """--header-row as a number for every file, or ``kind=number`` pairs; exit 2 if malformed."""
    if value is None:
        return None
    try:
        if "=" in value:
            pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
            out = {k.strip(): int(v) for k, v in pairs}
            if all(n >= 1 for n in out.values()):
                return out
        elif int(value) >= 1:
            return int(value)
    except ValueError:
        pass
    _fail(
        f"error: --header-row {value!r} must be a row number from 1 (e.g. 2), or per extract "
        "(e.g. attendances=2,spells=1)",
        EXIT_USAGE,
    )
    return None  # unreachable: _fail exits


def _header_advice(message: str, kind: str | None) -> str:
    """In folder mode, --header-row advice for one extract: ``--header-row attendances=2``."""
    if kind is None:
        return message
    return re.sub(r"pass --header-row (\d+)", rf"pass --header-row {kind}=\1", message)


def _kind_in(message: str, folder: Path) -> str | None:
    """The extract kind whose file a message names first (folder mode), else None."""
    from evaltoolkit.data import find_extract_files

    try:
        found = find_extract_files(folder)
    except (EvalToolkitError, OSError):
        return None
    hits = [(message.find(p.name), k) for k, p in found.items() if p.name in message]
    return min(hits)[1] if hits else None


def _for_kind(options: dict[str, object] | None, kind: str) -> dict[str, object]:
    """The reading options for one extract kind (a per-kind --header-row resolved)."""
    out = dict(options or {})
    header = out.pop("header_row", None)
    if isinstance(header, dict):
        header = header.get(kind)
    if header is not None:
        out["header_row"] = header
    return out


def _validate_folder(
    folder: Path, start: str | None, extract_date: str | None, options: dict[str, object] | None = None
) -> None:
    import pandas as pd

    from evaltoolkit.data import clean_extract, find_extract_files, read_extract, read_sites, validate_extract
    from evaltoolkit.data.load import reading_by_kind
    from evaltoolkit.data.read import SUFFIXES
    from evaltoolkit.schemas import SCHEMAS

    if not folder.is_dir():
        _fail(f"error: {folder} is not a folder", EXIT_USAGE)
    window = _window(start, extract_date)
    files = find_extract_files(folder)
    if not [k for k in files if k != "sites"]:
        present = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        _fail(
            f"error: {folder} holds no extract file that evaltoolkit recognises. It looks for files named "
            f"after their kind ({', '.join(SCHEMAS)}, and sites for the site list), in any letter case, "
            f"ending in {', '.join(SUFFIXES)}; the folder holds "
            + (", ".join(present[:10]) + (", ..." if len(present) > 10 else "") if present else "no files")
            + ". Rename the files, or validate a protocol that names them (data.sources.<kind>.file)",
            EXIT_INVALID,
        )
    sites = read_sites(files["sites"]) if "sites" in files else None
    try:
        by_kind = reading_by_kind(options or {}, files, option="--date-format")
    except EvalToolkitError as exc:
        _fail(f"error: {exc}", EXIT_USAGE)
    n_errors = 0
    kept: dict[str, tuple[Path, pd.DataFrame]] = {}
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        for kind, path in files.items():
            if kind == "sites":
                continue
            reading = _for_kind(by_kind.get(kind, {}), kind)
            dates = {k: reading[k] for k in ("date_format", "timezone") if k in reading}
            try:
                frame = read_extract(path, kind, advice="cli", **reading)  # type: ignore[arg-type]
                problems = validate_extract(frame, kind, sites=sites, window=window, **dates)
                errors = problems[problems["severity"] == "error"] if len(problems) else problems
                unusable = None
                if len(frame) == 0:
                    unusable = _unusable(None)
                elif not len(errors):
                    cleaned = clean_extract(
                        frame, kind, sites=sites, window=window, on_invalid="exclude", **dates
                    )
                    unusable = _unusable(cleaned)
                    kept[kind] = (path, cleaned.data)
            except EvalToolkitError as exc:
                typer.echo(f"{kind} ({path.name}): {_header_advice(_cli_text(str(exc), folder=True), kind)}")
                n_errors += 1
                continue
            except UnicodeDecodeError as exc:
                typer.echo(
                    f"{kind} ({path.name}): not UTF-8 text (byte {exc.start}); re-save the file as UTF-8 "
                    "(CSV UTF-8 in Excel)"
                )
                n_errors += 1
                continue
            n_errors += len(errors) + (1 if unusable else 0)
            status = "ERRORS" if len(errors) or unusable else "ok"
            typer.echo(f"{kind} ({path.name}): {status}; {len(problems)} problem rules")
            if unusable:
                typer.echo(f"  {kind} ({path.name}): {unusable}")
            if len(problems):
                typer.echo(problems[["rule", "column", "severity", "n_rows", "rows"]].to_string(index=False))
            for r in errors.itertuples(index=False):  # what is wrong, an example and how to fix it
                typer.echo(
                    textwrap.fill(
                        f"{r.rule} ({r.column}): {_cli_text(str(r.message), folder=True)}",
                        110,
                        initial_indent="  - ",
                        subsequent_indent="    ",
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                )
    for line in _population_gaps(kept) if sites is not None else ():  # without sites.csv: population's
        typer.echo(line)
        n_errors += 1
    from evaltoolkit.report._checks import folder_check_lines

    lines, failed = folder_check_lines(folder, window, sites=sites)  # gaps, data end, warm-up
    for line in lines:
        typer.echo(line)
    if n_errors or failed:
        raise typer.Exit(EXIT_INVALID)


def _population_gaps(kept: dict[str, tuple[Path, Any]]) -> list[str]:
    """Sites with attendances or spells but no row in the population file (series has no denominator)."""
    if "population" not in kept:
        return []
    pop_path, pop = kept["population"]
    have = set(pop["site"].astype(str))
    counts: dict[str, list[str]] = {}
    for kind in ("attendances", "spells"):
        if kind in kept:
            path, frame = kept[kind]
            for site, n in frame["site"].astype(str).value_counts().sort_index().items():
                if site not in have:
                    counts.setdefault(str(site), []).append(f"{n:,} {kind} ({path.name})")
    return [
        f"population ({pop_path.name}): no rows for site {site}, which has {' and '.join(what)}; "
        f"`evaltoolkit series` would have no denominator for it. Add the site's population to "
        f"{pop_path.name} (or leave the site out of sites.csv)"
        for site, what in sorted(counts.items())
    ]


@app.command()
@_guard
def series(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    folder: Annotated[
        Path | None, typer.Argument(help="Folder of extracts with canonical column names (or --protocol).")
    ] = None,
    freq: Annotated[
        str,
        typer.Option(
            help="MS (calendar months), W-MON (weeks from Monday), QS or YS (quarters, years).",
            callback=_freq_option,
        ),
    ] = "MS",
    start: Annotated[
        str | None,
        typer.Option(
            help="Window start (YYYY-MM-DD); default from the population file (or the protocol's window).",
            callback=_date_option,
        ),
    ] = None,
    extract_date: Annotated[
        str | None,
        typer.Option(help="Extract date (YYYY-MM-DD): window end, excluded.", callback=_date_option),
    ] = None,
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
    header_row: HeaderRowOption = None,
) -> None:
    """Build site × period series and the data-quality table from the extracts in FOLDER (or a protocol's)."""
    from evaltoolkit.pipeline import build_series, write_series

    options: dict = {"freq": freq}
    if protocol is not None and folder is not None:
        _fail(
            f"error: give a folder or --protocol, not both (the protocol names its own data folder, "
            f"{folder} would be ignored)",
            EXIT_USAGE,
        )
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
        _series_checks_or_fail(spec, options["window"])
    elif folder is None:
        _fail("error: give a folder of extracts or --protocol P.yaml", EXIT_USAGE)
    else:
        options["window"] = _window(start, extract_date)
        reading = _reading_options(date_format, timezone, encoding, delimiter, header_row)
        if reading and folder.is_dir():
            from evaltoolkit.data import find_extract_files

            try:
                found = find_extract_files(folder)
            except EvalToolkitError as exc:
                _fail(f"error: {exc}", EXIT_INVALID)
            from evaltoolkit.data.load import reading_by_kind

            try:
                by_kind = reading_by_kind(reading, found, option="--date-format")
            except EvalToolkitError as exc:
                _fail(f"error: {exc}", EXIT_USAGE)
            options["sources"] = {
                k: {"file": p.name, **_for_kind(by_kind[k], k)} for k, p in found.items() if k != "sites"
            }
            if "sites" in found:
                options["sources"]["sites"] = {"file": found["sites"].name}
    assert folder is not None
    if not folder.is_dir():
        _fail(f"error: {folder} is not a folder", EXIT_USAGE)
    _out_folder(out, inputs=[folder])
    try:
        typer.echo(f"reading and validating extracts in {folder} ...", err=True)
        build = build_series(folder, **options)
    except EvalToolkitError as exc:
        if protocol is None and options.get("window") is not None:
            _folder_checks_or_fail(folder, options["window"], str(exc))
        text = _cli_text(str(exc), folder=protocol is None)
        _fail(
            f"error: {_header_advice(text, _kind_in(text, folder)) if protocol is None else text}",
            EXIT_INVALID,
        )
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


def _series_checks_or_fail(spec: Any, window: tuple[object, object] | None) -> None:
    """Before ``series --protocol`` writes anything: the series checks of ``validate``/``run`` (exit 1)."""
    from evaltoolkit.protocol.schema import Window
    from evaltoolkit.report._checks import check_lines
    from evaltoolkit.report._data import load_data

    if window is not None:
        import pandas as pd

        dates = [pd.Timestamp(d).date() for d in window]  # type: ignore[arg-type]
        data = spec.data.model_copy(update={"window": Window(start=dates[0], extract_date=dates[1])})
        spec = spec.model_copy(update={"data": data})
    lines, failed = check_lines(spec, load_data(spec))
    if failed:
        _fail(
            "error: the protocol's series cannot be built as the data stand (nothing was written):\n"
            + "\n".join(line for line in lines if not line.lstrip().startswith("warning")),
            EXIT_INVALID,
        )


def _folder_checks_or_fail(folder: Path, window: tuple[object, object], message: str) -> None:
    """When ``series DIR`` fails: say first what the series checks of ``validate DIR`` find (exit 1)."""
    from evaltoolkit.data import find_extract_files, read_sites
    from evaltoolkit.report._checks import folder_check_lines

    try:
        files = find_extract_files(folder)
        sites = read_sites(files["sites"]) if "sites" in files else None
        lines, failed = folder_check_lines(folder, window, sites=sites)
    except (EvalToolkitError, OSError):
        return
    if failed:
        _fail(
            "error: "
            + "\n".join(line for line in lines if not line.lstrip().startswith("warning"))
            + f"\nand so: {_cli_text(message)}",
            EXIT_INVALID,
        )


@app.command()
@_guard
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
        _check_run_out(out, protocol, spec.data_folder())
        evaluation = run_protocol(spec, progress=say)
    except EvalToolkitError as exc:
        _fail(f"error: {_cli_text(str(exc))}", EXIT_INVALID)
    except FileNotFoundError as exc:
        _fail(f"error: {_cli_text(str(exc))}", EXIT_INVALID)
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


def _check_run_out(out: Path, protocol: Path, data_folder: Path) -> None:
    inputs = [protocol, data_folder]
    if data_folder.is_dir():
        inputs += [p for p in data_folder.iterdir() if p.is_file()]
    written = ["results.json", "report.md", "report.html", "manifest.json"]
    _out_folder(out, inputs=inputs, written=written)
    for sub in ("tables", "figures"):  # earlier tables and figures there are deleted by a run
        for src in inputs:
            if src.is_file() and _same(out / sub, src.parent):
                _fail(
                    f"error: --out {out} would delete the input file {src}; give another folder", EXIT_USAGE
                )


@app.command()
@_guard
def score(
    file: Annotated[Path, typer.Argument(help="Item responses (.csv, .xlsx or .parquet), one row per form.")],
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="Instrument key, e.g. phq9.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output CSV of scores.")],
    keep_columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns to copy (default: every non-item column).")
    ] = None,
    id_columns: Annotated[
        str | None, typer.Option(hidden=True, help="Deprecated spelling of --keep-columns.")
    ] = None,
    prorate: Annotated[
        str,
        typer.Option(
            help="Missing items allowed: rule (the instrument's), none, a number or a fraction of the items "
            "(at most half of them, unless the instrument's rule allows more)."
        ),
    ] = "rule",
    invalid: Annotated[
        str, typer.Option(help="raise (stop on out-of-range values) or missing (score them as missing).")
    ] = "raise",
    sheet: Annotated[
        str | None,
        typer.Option(
            help="Worksheet of an .xlsx file: a name, a position counted from 1, several separated by "
            "commas, or * for every sheet (stacked)."
        ),
    ] = None,
    sheet_column: Annotated[
        str | None,
        typer.Option(
            "--sheet-column",
            help="With several sheets: the column that gets each row's sheet name (e.g. occasion).",
        ),
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

    Writes one row per form: the kept columns, total, band, subscales, n_missing, prorated and valid. The
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
    if id_columns is not None:
        if keep_columns is not None:
            _fail("error: give --keep-columns only (--id-columns is its deprecated spelling)", EXIT_USAGE)
        from evaltoolkit._deprecate import REMOVED_IN

        note = f"warning: --id-columns is deprecated, use --keep-columns (removed in release {REMOVED_IN})"
        typer.echo(note, err=True)
        keep_columns = id_columns
    rule: str | bool | int | float
    if prorate == "rule":
        rule = "rule"
    elif prorate == "none":
        rule = False
    else:
        try:
            rule = int(prorate) if prorate.isdigit() else float(prorate)
            if isinstance(rule, float) and not 0 <= rule < 1:
                raise ValueError
        except ValueError:
            _fail(
                "error: --prorate must be rule, none, a whole number of missing items or a fraction in "
                f"[0, 1), not {prorate!r}",
                EXIT_USAGE,
            )
        _check_prorate(instrument, rule)
    if out.is_dir():
        _fail(f"error: --out {out} is a folder; give the name of the CSV file to write", EXIT_USAGE)
    if _same(out, file):
        _fail(
            f"error: --out {out} is the input file; give another file name (the input is never overwritten)",
            EXIT_USAGE,
        )
    try:
        table = read_table(
            file,
            sheet=_sheet_option(sheet),
            encoding=encoding,
            header_row=header_row,
            delimiter=delimiter,
            sheet_column=sheet_column,
            advice="cli",
        )
        if item_map:
            renames = item_columns(parse_item_map(item_map), [str(c) for c in table.columns])
            table = table.rename(columns=renames)
            shown = ", ".join(f"{a}→{b}" for a, b in renames.items())
            typer.echo(f"item map: {len(renames)} columns renamed ({shown})", err=True)
        ids = [c.strip() for c in keep_columns.split(",")] if keep_columns else None
        scored = score_items(table, instrument, keep_columns=ids, prorate=rule, on_invalid=invalid)  # type: ignore[arg-type]
    except EvalToolkitError as exc:
        text = _cli_text(str(exc))
        found = re.match(r"keep_columns (\[.*?\]) (is|are) not in the data", text)
        if found:
            absent = re.findall(r"'([^']*)'", found.group(1))
            verb = "is not a column" if len(absent) == 1 else "are not columns"
            text = (
                f"--keep-columns {', '.join(absent)}: {verb} of {file.name}; its columns are "
                f"{', '.join(map(str, table.columns[:30]))}" + text[found.end() :]
            )
        _fail(f"error: {text}", EXIT_INVALID)
    out.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(out, index=False, lineterminator="\n", float_format="%.6g")
    quality = data_quality(scored)
    if len(quality):
        typer.echo(quality.to_string(index=False), err=True)
    valid = int(scored["valid"].sum())
    typer.echo(f"scored {len(scored)} forms with {instrument}: {valid} valid totals; wrote {out}")


def _check_prorate(instrument: str, rule: int | float) -> None:
    """Exit 2 naming --prorate when it allows more missing items than the instrument can be scored with."""
    from evaltoolkit.rom import get_instrument
    from evaltoolkit.rom.errors import RomInputError
    from evaltoolkit.rom.scoring import check_prorate

    try:
        check_prorate(get_instrument(instrument), rule)
    except RomInputError as exc:
        _fail(f"error: --prorate: {_cli_text(str(exc))}", EXIT_USAGE)


@app.command()
@_guard
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
        _fail(f"error: {_cli_text(str(exc))}", EXIT_USAGE)
    except EvalToolkitError as exc:
        _fail(f"error: {_cli_text(str(exc))}", EXIT_INVALID)
    typer.echo(
        f"re-rendered {folder}: "
        + ", ".join(sorted(p.name for k, p in paths.items() if not k.startswith("figure:")))
    )


@app.command()
@_guard
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
        _fail(f"error: {_cli_text(str(exc))}", EXIT_INVALID)
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
