"""Read a protocol file, validate it completely and report every problem with the path of its key.

Validation runs in two passes and reports both together:

1. **Structure** (pydantic): unknown or misspelt keys, missing required keys, wrong types, values out of
   range, values not in an allowed set.
2. **Consistency** (:func:`check_protocol`): rules that tie sections together, e.g. an intervention site
   needs a go-live date inside the window, a series' ``unit_cost`` must be defined under ``unit_costs``, a
   controlled analysis needs a control site, questionnaire keys must be registered, data files must exist.
   Sections that failed the first pass are skipped here, so one mistake is not reported twice.

Every problem is a :class:`Problem` ``(path, message)`` such as ``("design.transition", "must be ≥ 0
(got -1)")``; :class:`~evaltoolkit.errors.ProtocolError` lists them all.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, NamedTuple

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from evaltoolkit._yaml import YAMLTooLargeError, safe_load
from evaltoolkit.errors import MissingInputError, ProtocolError
from evaltoolkit.protocol.schema import _SOURCE_KINDS, DesignSpec, Protocol, resolve_methods

__all__ = [
    "Problem",
    "available_sources",
    "check_protocol",
    "format_problems",
    "load_protocol",
    "protocol_from_dict",
    "protocol_json_schema",
    "validate_protocol",
]

_COUNT_FAMILIES = ("poisson", "quasipoisson", "negbin")
_AR_METHODS = ("gls-reml", "gls-ml", "prais-winsten", "arima")


class Problem(NamedTuple):
    """One problem in a protocol: the dotted path of the key and what is wrong / allowed."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# -- YAML ---------------------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that reports duplicated keys instead of keeping the last one silently."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise MissingInputError(f"protocol file {path} does not exist")
    if path.is_dir():
        raise ProtocolError(
            f"protocol {path} is a folder; give the protocol file (.yaml)", [Problem("(file)", "is a folder")]
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"protocol {path} is not UTF-8 text (byte {exc.start}); re-save it as UTF-8",
            [Problem("(file)", "not UTF-8 text")],
            source=path,
        ) from exc
    try:
        return safe_load(text, loader=_UniqueKeyLoader)  # bounded alias expansion
    except YAMLTooLargeError as exc:
        raise ProtocolError(
            f"protocol {path} is refused: {exc}", [Problem("(file)", str(exc))], source=path
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProtocolError(
            f"protocol {path} is not valid YAML ({where}): {problem}",
            [Problem("(file)", f"not valid YAML at {where}: {problem}")],
            source=path,
        ) from None


# -- pydantic errors → problems -------------------------------------------------------------------
def _strip(annotation: Any) -> Any:
    """Remove Annotated and Optional wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    ann: Any = Protocol
    for part in loc:
        ann = _strip(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            if field is None:
                return None
            ann = field.annotation
        elif typing.get_origin(ann) is list and isinstance(part, int):
            ann = typing.get_args(ann)[0]
        elif typing.get_origin(ann) is dict:
            ann = typing.get_args(ann)[1]
        else:
            return None
    ann = _strip(ann)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "protocol"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_MESSAGES = {
    "missing": "is required",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "date_type": "must be a date written YYYY-MM-DD",
    "date_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date without a time of day",
    "list_type": "must be a list",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
}


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = f" (got {_show(value)})"
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"is not a known key{hint}; allowed keys here: {', '.join(allowed)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}{got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}[
            kind
        ]
        bound = next(iter(ctx.values()), "")
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {sign} {bound}{got}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        what = "item" if n == 1 else "items"
        return f"must have at least {n} {what}" if isinstance(value, list) else f"must not be empty{got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        text = str(ctx.get("error", err.get("msg", "")))
        return text.removeprefix("Value error, ")
    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        last = loc[-1] if loc else None
        if last == "[key]":  # a mapping key
            return f'must be text{got}: write the key in quotes, e.g. "{value}": ...'
        example = f'{last}: "{value}"' if isinstance(last, str) else f'"{value}"'
        return f"must be text{got}: write it in quotes, e.g. {example}"
    if kind in _MESSAGES:
        return _MESSAGES[kind] + ("" if kind == "missing" else got)
    return f"{err.get('msg', kind)}{got}"


def _problems_from(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        out.append(Problem(_path(loc), _message({**err, "loc": loc})))
    return out


# -- consistency checks ------------------------------------------------------------------------------
def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def _canonical_columns(kind: str) -> tuple[list[str], tuple[str, ...]]:
    from evaltoolkit.schemas import get_schema

    if kind == "sites":
        return ["site", "site_name", "go_live", "implements"], ()
    schema = get_schema(kind)
    return schema.names, schema.item_prefixes


def _check_sites(p: SimpleNamespace, out: list[Problem]) -> None:
    sites = p.sites
    if sites is None:
        return
    seen: dict[str, int] = {}
    for i, s in enumerate(sites):
        if s is None:
            continue
        if s.code in seen:
            out.append(
                Problem(f"sites[{i}].code", f"duplicates the code of sites[{seen[s.code]}] ({s.code!r})")
            )
        seen.setdefault(s.code, i)
        if s.role == "intervention" and s.go_live is None:
            out.append(Problem(f"sites[{i}].go_live", "is required for an intervention site (YYYY-MM-DD)"))
        if s.role == "control" and s.go_live is not None:
            out.append(
                Problem(f"sites[{i}].go_live", "must be empty for a control site (controls never go live)")
            )
        if s.go_live is not None and s.go_live.day != 1:
            out.append(
                Problem(
                    f"sites[{i}].go_live",
                    f"must be the first day of the go-live month (got {s.go_live.isoformat()})",
                )
            )
    if all(s is not None for s in sites) and not any(s.role == "intervention" for s in sites):
        out.append(Problem("sites", "at least one site must have role: intervention"))
    window = p.data.window if p.data is not None else None
    if window is None:
        return
    if window.start >= window.extract_date:
        out.append(Problem("data.window.extract_date", "must be after data.window.start"))
        return
    if window.start.day != 1:
        out.append(Problem("data.window.start", f"must be the first day of a month (got {window.start})"))
    for i, s in enumerate(sites):
        if s is None or s.go_live is None:
            continue
        if not window.start < s.go_live < window.extract_date:
            out.append(
                Problem(
                    f"sites[{i}].go_live",
                    f"must lie inside data.window ({window.start} to {window.extract_date}, end excluded)",
                )
            )
            continue
        before = _months_between(window.start, s.go_live)
        if before < 3:
            out.append(
                Problem(
                    f"sites[{i}].go_live",
                    f"only {before} month(s) of data before go-live at {s.code}; the Cochrane EPOC minimum "
                    "is 3 points before and after",
                )
            )


def _check_design_periods(p: SimpleNamespace, out: list[Problem]) -> None:
    """Excluded periods and level shifts: inside the window, sparing each go-live. Staggered: a control."""
    design = p.design
    if design is None:
        return
    sites = [s for s in (p.sites or []) if s is not None]
    if design.staggered and not any(s.role == "control" for s in sites) and "sites" not in p.failed:
        out.append(Problem("design.staggered", "needs at least one site with role: control"))
    window = p.data.window if p.data is not None else None
    for i, ex in enumerate(design.exclude_periods):
        at = f"design.exclude_periods[{i}]"
        if window is not None and (ex.end < window.start or ex.start >= window.extract_date):
            out.append(
                Problem(
                    at,
                    f"{ex.start} to {ex.end} lies outside data.window ({window.start} to "
                    f"{window.extract_date}, end excluded)",
                )
            )
        for s in sites:
            if s.go_live is not None and ex.start <= s.go_live <= ex.end:
                out.append(
                    Problem(
                        at,
                        f"{ex.start} to {ex.end} covers the go-live of {s.code} ({s.go_live}); the first "
                        "month after go-live must be fitted (move or split the range)",
                    )
                )
            elif s.go_live is not None and window is not None and ex.end < s.go_live:
                before = _months_between(window.start, s.go_live)
                lo, hi = max(ex.start, window.start), min(ex.end, s.go_live)
                dropped = _months_between(lo.replace(day=1), hi.replace(day=1)) + 1
                if before - dropped < 3 <= before:
                    out.append(
                        Problem(
                            at,
                            f"leaves {max(before - dropped, 0)} month(s) before go-live at {s.code}; the "
                            "Cochrane EPOC minimum is 3 points before and after",
                        )
                    )
    names: dict[str, int] = {}
    for i, sh in enumerate(design.level_shifts):
        at = f"design.level_shifts[{i}]"
        if sh.name in names:
            out.append(Problem(f"{at}.name", f"duplicates design.level_shifts[{names[sh.name]}].name"))
        names.setdefault(sh.name, i)
        if window is not None and not window.start <= sh.start < window.extract_date:
            out.append(
                Problem(
                    f"{at}.start",
                    f"{sh.start} lies outside data.window ({window.start} to {window.extract_date}, "
                    "end excluded)",
                )
            )


def _escapes(path: Path, root: Path) -> bool:
    """True when ``path`` (relative: resolved against ``root``; or absolute) leads outside ``root``.

    Examples
    --------
    >>> _escapes(Path("../data"), Path("/p")), _escapes(Path("data/x.csv"), Path("/p"))
    (True, False)
    >>> _escapes(Path("/elsewhere/data"), Path("/p")), _escapes(Path("/p/data"), Path("/p"))
    (True, False)
    """
    if path.is_absolute():
        # written out in full: inside ``root`` as written, or once symbolic links are resolved
        def inside(a: Path, b: Path) -> bool:
            return os.path.commonpath([a, b]) == str(b)

        written = Path(os.path.normpath(path)), Path(os.path.normpath(os.path.abspath(root)))
        try:
            resolved = path.resolve(), root.resolve()
        except OSError:
            resolved = written
        return not (inside(*written) or inside(*resolved))
    # judged on the path as written (symbolic links inside the folder are the user's own arrangement)
    return os.path.normpath(path.as_posix()).split(os.sep)[0] == ".."


def _check_source_keys(kind: str, source: Any, out: list[Problem]) -> None:
    at = f"data.sources.{kind}"
    names, prefixes = _canonical_columns(kind)

    def canonical(name: str) -> bool:
        return name in names or any(name.startswith(f"{px}_") for px in prefixes)

    for theirs, ours in source.columns.items():
        if not canonical(ours):
            close = difflib.get_close_matches(ours, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(
                Problem(
                    f"{at}.columns.{theirs}",
                    f"maps to {ours!r}, which is not a canonical {kind} column{hint}; "
                    f"canonical columns: {', '.join(names)}",
                )
            )
    for theirs, ours in source.item_map.items():
        if ("{n}" in theirs) != ("{n}" in ours):
            out.append(
                Problem(f"{at}.item_map.{theirs}", "write {n} on both sides, e.g. 'Q{n}': 'core10_{n}'")
            )
        elif not prefixes or not canonical(ours.replace("{n}", "1")):
            allowed = ", ".join(f"{px}_<n>" for px in prefixes) or "none (this extract has no item columns)"
            out.append(
                Problem(
                    f"{at}.item_map.{theirs}",
                    f"maps to {ours!r}, which is not an item column; items: {allowed}",
                )
            )
    if source.date_format is not None and source.date_format not in ("ISO8601", "excel"):
        from evaltoolkit.data.read import check_layouts
        from evaltoolkit.errors import EvalToolkitError

        try:  # a layout that is not strftime is found here, before any file is read (also with --no-data)
            check_layouts(source.date_format, f"{at}.date_format")
        except EvalToolkitError as exc:
            out.append(Problem(f"{at}.date_format", str(exc).split(f"{at}.date_format ", 1)[-1]))
    if source.preset is not None and kind != "sites":
        from evaltoolkit.data.presets import preset_for

        try:
            preset_for(source.preset, kind)
        except ValueError as exc:
            out.append(Problem(f"{at}.preset", str(exc)))
    for target, cols in source.date_time.items():
        if len(cols) != 2:
            out.append(
                Problem(f"{at}.date_time.{target}", f"must list two columns [date, time] (got {cols})")
            )
        if not canonical(target):
            out.append(Problem(f"{at}.date_time.{target}", f"{target!r} is not a canonical {kind} column"))
    if isinstance(source.date_format, dict):
        for col in source.date_format:
            if not canonical(col):
                out.append(
                    Problem(f"{at}.date_format.{col}", f"{col!r} is not a canonical {kind} column; use "
                            f"the canonical name (after columns/preset mapping): {', '.join(names)}")
                )  # fmt: skip
    if source.site_aliases and "site" not in names:
        out.append(Problem(f"{at}.site_aliases", f"the {kind} extract has no site column"))
    if source.population is not None and kind != "population":
        out.append(Problem(f"{at}.population", "applies to the population source only"))
    if kind == "sites":
        for key in ("preset", "item_map", "date_time", "values", "site_aliases", "where", "population"):
            if getattr(source, key):
                out.append(Problem(f"{at}.{key}", "is not used for the sites table (file, sheet and reading "
                                   "options only)"))  # fmt: skip


def _check_sources(p: SimpleNamespace, out: list[Problem], check_files: bool, base_dir: Path) -> None:
    data = p.data
    if data is None:
        return
    for kind, source in data.sources.items():
        if kind not in _SOURCE_KINDS:
            close = difflib.get_close_matches(kind, _SOURCE_KINDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(
                Problem(
                    f"data.sources.{kind}",
                    f"is not an extract kind{hint}; allowed: {', '.join(_SOURCE_KINDS)}",
                )
            )
            continue
        _check_source_keys(kind, source, out)
    folder_path = Path(data.folder)
    if not data.allow_outside_folder:
        if _escapes(folder_path, base_dir):
            out.append(
                Problem(
                    "data.folder",
                    f"{data.folder!r} lies outside the protocol's folder ({base_dir}); set "
                    "data.allow_outside_folder: true if the data are meant to be there",
                )
            )
        else:
            root = folder_path if folder_path.is_absolute() else base_dir / folder_path
            for kind, source in data.sources.items():
                names = [source.file] if isinstance(source.file, str) else source.file
                for i, name in enumerate(names):
                    if _escapes(Path(name), root):
                        where = f"data.sources.{kind}.file" + (
                            "" if isinstance(source.file, str) else f"[{i}]"
                        )
                        out.append(
                            Problem(
                                where,
                                f"{name!r} lies outside data.folder; set data.allow_outside_folder: true if "
                                "the file is meant to be there",
                            )
                        )
    if not check_files:
        return
    folder = folder_path if folder_path.is_absolute() else base_dir / folder_path
    if not folder.is_dir():
        out.append(Problem("data.folder", f"folder {data.folder!r} does not exist (looked in {folder})"))
        return
    from evaltoolkit.data.load import _inside, source_files

    for kind, source in data.sources.items():
        if kind not in _SOURCE_KINDS:
            continue
        missing = [p for p in source_files(source.file, folder) if not p.is_file()]
        for path in missing:
            shown = path.relative_to(folder).as_posix() if _inside(path, folder) else str(path)
            glob = bool(set("*?[") & set(path.name))
            message = (
                f"no file matches {shown!r} in {folder}"
                if glob
                else f"file {shown!r} does not exist in {folder}"
            )
            out.append(Problem(f"data.sources.{kind}.file", message))
    found = available_sources(data, folder)
    needed: dict[str, str] = {}
    for i, s in enumerate(p.series or []):
        if s is None:
            continue
        needed.setdefault(s.source, f"series[{i}]")
        if s.denominator == "population":
            needed.setdefault("population", f"series[{i}].denominator")
    if p.cohort is not None:
        needed.setdefault("cohort", "cohort")
        needed.setdefault("attendances", "design.before_after")
        needed.setdefault("spells", "design.before_after")
    if p.outcome_measures is not None:
        needed.setdefault(p.outcome_measures.source, "outcome_measures.source")
    for kind, why in needed.items():
        if kind not in found:
            out.append(
                Problem(
                    "data.sources",
                    f"no {kind} extract: {why} needs one (add data.sources.{kind}.file, or put a file named "
                    f"{kind}.csv/.xlsx/.parquet in {data.folder!r})",
                )
            )


def available_sources(data: Any, folder: Path) -> dict[str, Path]:
    """Extract files of a protocol's data section, by kind: the listed sources, else files named by kind.

    For a source with several files (a list or a glob pattern) this is the first; see
    :func:`evaltoolkit.data.source_files` for them all.
    """
    if data.sources:
        from evaltoolkit.data.load import source_files

        return {k: source_files(s.file, folder)[0] for k, s in data.sources.items() if k in _SOURCE_KINDS}
    from evaltoolkit.data import find_extract_files

    try:
        return find_extract_files(folder)
    except (FileNotFoundError, ValueError):
        return {}


def _check_series(p: SimpleNamespace, out: list[Problem]) -> None:
    series = p.series
    if not series:
        return
    if p.data is not None and p.data.window is None:
        out.append(Problem("data.window", "is required when outcome series are given (start, extract_date)"))
    if p.analysis is None and "analysis" not in p.failed:
        out.append(Problem("analysis", "is required when outcome series are given (primary method)"))
    seen: dict[str, int] = {}
    for i, s in enumerate(series):
        if s is None:
            continue
        at = f"series[{i}]"
        if s.name in seen:
            out.append(Problem(f"{at}.name", f"duplicates series[{seen[s.name]}].name ({s.name!r})"))
        seen.setdefault(s.name, i)
        if s.measure in ("bed_days", "mean_los") and s.source != "spells":
            out.append(Problem(f"{at}.source", f"must be spells for measure {s.measure}"))
        horizon = getattr(p.analysis, "horizon_months", None) if p.analysis is not None else None
        if s.frequency == "QS" and horizon is not None and horizon % 3:
            below = horizon - horizon % 3
            nearest = " or ".join(str(x) for x in (below, below + 3) if x >= 3)
            out.append(
                Problem(
                    f"{at}.frequency",
                    f"quarterly (QS), but analysis.horizon_months = {horizon} is not a whole number of "
                    f"quarters; use a multiple of 3 (nearest: {nearest}) or a monthly series",
                )
            )
        if s.measure == "mean_los":
            if s.denominator is not None:
                out.append(
                    Problem(
                        f"{at}.denominator", "must be empty for measure mean_los (a mean has no denominator)"
                    )
                )
            if s.family is not None and s.family not in ("gamma", "gaussian"):
                out.append(
                    Problem(
                        f"{at}.family",
                        "must be gamma (log link, the default) or gaussian for measure mean_los "
                        "(a mean, not a count)",
                    )
                )
        elif s.family == "gamma":
            out.append(
                Problem(
                    f"{at}.family",
                    f"gamma models a positive mean (measure mean_los), not measure {s.measure}: use a count "
                    "family (quasipoisson, poisson, negbin) or gaussian",
                )
            )
            if s.unit_cost is not None:
                out.append(
                    Problem(f"{at}.unit_cost", "cannot value a mean length of stay; cost bed-days instead")
                )
        if s.unit_cost is not None and p.unit_costs is not None and s.unit_cost not in p.unit_costs:
            known = ", ".join(sorted(p.unit_costs)) or "none defined"
            out.append(
                Problem(f"{at}.unit_cost", f"{s.unit_cost!r} is not defined under unit_costs ({known})")
            )
        names, _ = _canonical_columns(s.source)
        from evaltoolkit.schemas import get_schema

        schema = get_schema(s.source)
        for col, value in s.where.items():
            if col not in names:
                out.append(
                    Problem(
                        f"{at}.where.{col}",
                        f"is not a column of {s.source}; columns: {', '.join(names)}",
                    )
                )
                continue
            allowed = schema.column(col).allowed
            if allowed is not None and value not in allowed:
                out.append(
                    Problem(f"{at}.where.{col}", f"must be one of {', '.join(allowed)} (got {value!r})")
                )
        if s.pd_only and s.source == "attendances" and "pd_flag" in s.where:
            out.append(Problem(f"{at}.where.pd_flag", "is implied by pd_only: true; remove one of them"))


def _check_analysis(p: SimpleNamespace, out: list[Problem]) -> None:
    a = p.analysis
    if a is None:
        return
    labels: dict[str, str] = {}
    entries = [("analysis.primary", a.primary)] + [
        (f"analysis.sensitivity[{i}]", s) for i, s in enumerate(a.sensitivity)
    ]
    for at, entry in entries:
        if entry.label in labels:
            out.append(
                Problem(f"{at}.label", f"duplicates the label of {labels[entry.label]} ({entry.label!r})")
            )
        labels.setdefault(entry.label, at)
    design = p.design if p.design is not None else DesignSpec()
    series = [s for s in (p.series or []) if s is not None]
    sites = [s for s in (p.sites or []) if s is not None]
    has_control = any(s.role == "control" for s in sites) or "sites" in p.failed
    for (at, entry), (_, opts) in zip(entries, resolve_methods(design, a), strict=True):
        set_keys = entry.set_keys()
        if opts["se_type"] == "newey-west" and opts["lags"] is None:
            out.append(
                Problem(f"{at}.lags", "is required with se_type: newey-west (pre-specify it, e.g. lags: 1)")
            )
        if set_keys.get("lags") is not None and opts["se_type"] != "newey-west":
            out.append(Problem(f"{at}.lags", "is only used with se_type: newey-west"))
        window = p.data.window if p.data is not None and "data" not in p.failed else None
        if opts["se_type"] == "newey-west" and opts["lags"] is not None and window is not None and series:
            months = _months_between(window.start, window.extract_date)
            days = (window.extract_date - window.start).days
            shortest = min(
                days // 7
                if s.frequency == "W-MON"
                else months // (3 if s.frequency.upper().startswith("QS") else 1)
                for s in series
            )
            if opts["lags"] >= shortest:
                out.append(
                    Problem(
                        f"{at}.lags",
                        f"must be smaller than the number of periods in the window ({shortest}); got "
                        f"{opts['lags']} (Turner et al. used 1)",
                    )
                )
        if opts["method"] in _AR_METHODS:
            gls = opts["method"] in ("gls-reml", "gls-ml")  # also fit Poisson/quasi-Poisson counts
            count_series = [
                s.name
                for s in series
                if s.measure != "mean_los"
                and (s.family or opts["family"]) in _COUNT_FAMILIES
                and not (gls and (s.family or opts["family"]) in ("poisson", "quasipoisson"))
            ]
            gamma_series = [s.name for s in series if s.measure == "mean_los" and s.family in (None, "gamma")]
            if count_series or gamma_series:
                uses = []
                if count_series:
                    uses.append(f"series {', '.join(count_series)} use family {opts['family']!r}")
                if gamma_series:
                    uses.append(f"series {', '.join(gamma_series)} (mean_los) use family gamma")
                out.append(
                    Problem(
                        f"{at}.method",
                        f"{opts['method']!r} models AR errors for Gaussian outcomes, but "
                        f"{' and '.join(uses)}; for these use method: ols (a GLM), with se_type: newey-west "
                        "for autocorrelation, or family: quasipoisson with method: gls-reml"
                        + (" (or set family: gaussian on a mean_los series)" if gamma_series else ""),
                    )
                )
        if opts["family"] == "gamma":
            counted = [s.name for s in series if s.measure != "mean_los" and s.family is None]
            if counted:
                out.append(
                    Problem(
                        f"{at}.family",
                        f"gamma models a positive mean, but series {', '.join(counted)} are counts; set "
                        "family: gamma on the mean_los series instead (it is their default)",
                    )
                )
        if opts["method"] == "prais-winsten" and opts["ar_order"] != 1:
            out.append(Problem(f"{at}.ar_order", "must be 1 with method: prais-winsten"))
        ma_order = opts.get("ma_order") or 0
        if ma_order > 0 and opts["method"] != "arima":
            out.append(Problem(f"{at}.ma_order", f"MA errors need method: arima, not {opts['method']!r}"))
        if opts["ar_order"] == 0 and not (opts["method"] == "arima" and ma_order > 0):
            out.append(
                Problem(f"{at}.ar_order", "0 (no AR part) needs method: arima with ma_order of 1 or more")
            )
        if opts.get("ci_method") == "calibrated" and (
            opts["method"] not in (None, "gls-reml", "gls-ml") or opts["ar_order"] != 1
        ):
            out.append(
                Problem(
                    f"{at}.ci_method",
                    f"calibrated intervals need method: gls-reml or gls-ml with ar_order: 1, not "
                    f"{opts['method']!r} with ar_order: {opts['ar_order']}",
                )
            )
        if opts["se_type"] == "newey-west" and opts["method"] not in (None, "ols"):
            out.append(Problem(f"{at}.se_type", f"newey-west applies to method: ols, not {opts['method']!r}"))
        if opts["controlled"] and not has_control:
            key = f"{at}.controlled" if "controlled" in set_keys else "design.controlled"
            out.append(Problem(key, "needs at least one site with role: control"))
    window = p.data.window if p.data is not None else None
    if window is None or not series:
        return
    for i, s in enumerate(p.sites or []):
        if s is None or s.go_live is None or not window.start < s.go_live < window.extract_date:
            continue
        after = _months_between(s.go_live, window.extract_date)
        if after < a.horizon_months:
            out.append(
                Problem(
                    "analysis.horizon_months",
                    f"{a.horizon_months} months after go-live at {s.code} ({s.go_live}) reach beyond the "
                    f"extract date ({after} months available; sites[{i}])",
                )
            )
        elif after - design.transition < 3:
            out.append(
                Problem(f"sites[{i}].go_live", "leaves fewer than 3 months after go-live and the transition")
            )


def _check_cohort(p: SimpleNamespace, out: list[Problem]) -> None:
    design = p.design
    ba = design.before_after if design is not None else None
    if p.cohort is not None and ba is None and "design" not in p.failed:
        out.append(
            Problem("design.before_after", "is required when a cohort is given (before/after windows)")
        )
    if ba is not None and p.cohort is None and "cohort" not in p.failed:
        out.append(Problem("cohort", "is required for design.before_after (who is in the cohort)"))
    if (
        p.cohort is not None
        and p.cohort.comparison == "control_sites"
        and p.sites is not None
        and all(s is not None for s in p.sites)
        and not any(s.role == "control" for s in p.sites)
    ):
        out.append(Problem("cohort.comparison", "control_sites needs at least one site with role: control"))


def _check_measures(p: SimpleNamespace, out: list[Problem]) -> None:
    om = p.outcome_measures
    if om is None:
        return
    from evaltoolkit.rom import get_instrument, instrument_keys

    keys = instrument_keys()
    seen: dict[tuple[str, str], int] = {}
    for i, spec in enumerate(om.instruments):
        at = f"outcome_measures.instruments[{i}]"
        if spec.key not in keys:
            close = difflib.get_close_matches(spec.key, keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(
                Problem(
                    f"{at}.key",
                    f"{spec.key!r} is not a registered instrument{hint}; known: {', '.join(keys)}",
                )
            )
            continue
        inst = get_instrument(spec.key)
        if spec.scale not in inst.scales:
            out.append(
                Problem(
                    f"{at}.scale",
                    f"{spec.key} has no scale {spec.scale!r}; scales: {', '.join(inst.scales)}",
                )
            )
        if spec.prorate not in ("rule", True):
            from evaltoolkit.rom.errors import RomInputError
            from evaltoolkit.rom.scoring import check_prorate

            try:
                check_prorate(inst, spec.prorate)
            except RomInputError as exc:
                message = str(exc).replace("prorate='rule'", "prorate: rule").replace("prorate=", "prorate: ")
                out.append(Problem(f"{at}.prorate", message))
        pair = (spec.key, spec.scale)
        if pair in seen:
            out.append(Problem(at, f"repeats instruments[{seen[pair]}] ({spec.key} {spec.scale})"))
        seen.setdefault(pair, i)
    if om.pre == om.post:
        out.append(Problem("outcome_measures.post", "must differ from outcome_measures.pre"))
    if om.trajectories and om.time is None:
        out.append(
            Problem("outcome_measures.time", "is required when trajectories: true (a numeric time column)")
        )
    tt = om.talking_therapies
    if tt is not None:
        present = {(s.key, s.scale) for s in om.instruments}
        for which, key in (("phq9", tt.phq9), ("gad7", tt.gad7)):
            if (key, "total") not in present:
                out.append(
                    Problem(
                        f"outcome_measures.talking_therapies.{which}",
                        f"instrument {key!r} (scale total) must also be listed under "
                        "outcome_measures.instruments",
                    )
                )


def _year(value: Any) -> str:
    """A price year in one spelling (2024/25 for 2024-25 and 2024–25), else as written."""
    from evaltoolkit.economics.costs import normalise_year
    from evaltoolkit.errors import EconomicsInputError

    try:
        return normalise_year(value)
    except EconomicsInputError:
        return str(value)


def _check_misc(p: SimpleNamespace, out: list[Problem], raw: Mapping[str, Any]) -> None:
    sup = p.suppression
    raw_sup = raw.get("suppression") if isinstance(raw, Mapping) else None
    if sup is not None and sup.rule == "nhs" and isinstance(raw_sup, Mapping):
        fixed = {"low": 1, "high": 7, "round_to": 5}
        for key, value in fixed.items():
            if key in raw_sup and raw_sup[key] != value:
                out.append(
                    Problem(
                        f"suppression.{key}",
                        f"rule nhs fixes low 1, high 7, round_to 5; use rule: custom to set {key} "
                        f"(got {raw_sup[key]!r})",
                    )
                )
    if sup is not None and sup.rule not in ("nhs", "custom", "none") and isinstance(raw_sup, Mapping):
        for key in ("low", "high", "round_to"):
            if key in raw_sup:
                out.append(
                    Problem(
                        f"suppression.{key}",
                        f"rule {sup.rule} fixes its thresholds (see evaltoolkit.disclosure.POLICIES); use "
                        f"rule: custom to set {key} (got {raw_sup[key]!r})",
                    )
                )
    if sup is not None and sup.rule == "custom" and sup.high < sup.low:
        out.append(Problem("suppression.high", f"must be ≥ suppression.low ({sup.low})"))
    svc = getattr(p, "service_cost", None)
    if svc is not None and p.unit_costs:
        used = {s.unit_cost for s in (p.series or []) if s is not None and s.unit_cost is not None}
        for key in sorted(used):
            uc = p.unit_costs.get(key)
            if uc is None:
                continue
            if uc.currency != svc.currency:
                out.append(
                    Problem(
                        "service_cost.currency",
                        f"is {svc.currency} but unit_costs.{key} is in {uc.currency}; a net cost needs one "
                        "currency",
                    )
                )
            elif _year(uc.price_year) != _year(svc.price_year):
                out.append(
                    Problem(
                        "service_cost.price_year",
                        f"is {svc.price_year} but unit_costs.{key} is at {uc.price_year} prices; give both "
                        "at one price year (unit_costs inflate_to)",
                    )
                )
    nothing = not (p.series or []) and p.cohort is None and p.outcome_measures is None and not p.failed
    if nothing:
        out.append(
            Problem(
                "protocol",
                "nothing to analyse: give outcome series (series), a cohort (cohort and design.before_after) "
                "or outcome measures (outcome_measures)",
            )
        )


def check_protocol(
    protocol: Protocol, *, check_files: bool = True, raw: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Consistency checks across sections of a structurally valid protocol.

    Parameters
    ----------
    protocol : Protocol
        A protocol that passed structural validation.
    check_files : bool, default True
        Also check that the data folder and the extract files the analyses need exist.
    raw : mapping, optional
        The protocol as read from YAML (used to tell keys written explicitly from defaults).

    Returns
    -------
    list of Problem
        Every problem found (empty when the protocol is consistent).
    """
    if not isinstance(protocol, Protocol):
        raise ProtocolError(
            f"check_protocol needs a Protocol (from load_protocol), not {type(protocol).__name__}",
            [Problem("(protocol)", f"expected a Protocol, got {type(protocol).__name__}")],
        )
    sections = SimpleNamespace(
        **{name: getattr(protocol, name) for name in Protocol.model_fields}, failed=set()
    )
    return _run_checks(sections, check_files, protocol.base_dir, raw or {})


def _run_checks(
    sections: SimpleNamespace,
    check_files: bool,
    base_dir: Path,
    raw: Mapping[str, Any],
) -> list[Problem]:
    out: list[Problem] = []
    _check_sites(sections, out)
    _check_design_periods(sections, out)
    _check_sources(sections, out, check_files, base_dir)
    _check_series(sections, out)
    _check_analysis(sections, out)
    _check_cohort(sections, out)
    _check_measures(sections, out)
    _check_misc(sections, out, raw)
    return list(dict.fromkeys(out))  # one check can find the same problem from several keys: say it once


def _sections_of(raw: Mapping[str, Any]) -> SimpleNamespace:
    """Validate each top-level section on its own, so consistency checks can run on the valid ones."""
    values: dict[str, Any] = {}
    failed: set[str] = set()
    for name, field in Protocol.model_fields.items():
        if name not in raw:
            values[name] = None if field.is_required() else field.get_default(call_default_factory=True)
            if field.is_required():
                failed.add(name)
            continue
        adapter: TypeAdapter[Any] = TypeAdapter(Annotated[field.annotation, field])
        try:
            values[name] = adapter.validate_python(raw[name])
        except ValidationError:
            values[name] = None
            failed.add(name)
            item = _list_item_model(field.annotation)
            if item is not None and isinstance(raw[name], list):
                # keep the valid items (in place) so their cross-section rules are still checked
                values[name] = [_try(item, v) for v in raw[name]]
            elif isinstance(raw[name], Mapping) and _dict_value_model(field.annotation) is not None:
                model = _dict_value_model(field.annotation)
                values[name] = {k: _try(model, v) for k, v in raw[name].items()}
    return SimpleNamespace(**values, failed=failed)


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    ann = _strip(annotation)
    if typing.get_origin(ann) is list:
        item = _strip(typing.get_args(ann)[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _dict_value_model(annotation: Any) -> type[BaseModel] | None:
    ann = _strip(annotation)
    if typing.get_origin(ann) is dict:
        item = _strip(typing.get_args(ann)[1])
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _try(model: type[BaseModel], value: Any) -> BaseModel | None:
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


# -- public entry points -------------------------------------------------------------------------------
def _validate(
    raw: Any, base_dir: Path, path: Path | None, check_files: bool
) -> tuple[Protocol | None, list[Problem]]:
    if not isinstance(raw, Mapping):
        return None, [
            Problem("protocol", f"must be a mapping of sections (key: value lines), not {type(raw).__name__}")
        ]
    try:
        protocol = Protocol.model_validate(dict(raw))
    except ValidationError as exc:
        problems = _problems_from(exc)
        sections = _sections_of(raw)
        problems += _run_checks(sections, check_files, base_dir, raw)
        return None, list(dict.fromkeys(problems))
    protocol._path = path
    protocol._base_dir = base_dir
    return protocol, check_protocol(protocol, check_files=check_files, raw=raw)


def format_problems(problems: list[Problem], source: object = None) -> str:
    """The message of a :class:`~evaltoolkit.errors.ProtocolError`: one line per problem."""
    what = f"protocol {source}" if source is not None else "protocol"
    n = len(problems)
    lines = [f"{what} has {n} problem{'s' if n != 1 else ''}:"]
    lines += [f"  - {p.path}: {p.message}" for p in problems]
    return "\n".join(lines)


def validate_protocol(
    source: str | Path | Mapping[str, Any], *, check_files: bool = True, base_dir: str | Path | None = None
) -> list[Problem]:
    """Every problem in a protocol (file or dictionary), without raising.

    Parameters
    ----------
    source : str, Path or mapping
        A protocol YAML file, or the protocol as a dictionary.
    check_files : bool, default True
        Also check that the data folder and needed extract files exist.
    base_dir : str or Path, optional
        For a dictionary: the folder relative paths are resolved against (default: the working folder).

    Returns
    -------
    list of Problem
        Empty when the protocol is valid.

    Examples
    --------
    >>> problems = validate_protocol({"name": "demo", "title": "Demo"}, check_files=False)
    >>> [p.path for p in problems][:4]
    ['question', 'intervention', 'sites', 'data']
    """
    if isinstance(source, Mapping):
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        return _validate(source, base, None, check_files)[1]
    if not isinstance(source, str | Path):
        raise ProtocolError(
            f"a protocol is a file path or a mapping, not {type(source).__name__}",
            [Problem("(protocol)", f"expected a path or a mapping, got {type(source).__name__}")],
        )
    path = Path(source)
    try:
        raw = _read_yaml(path)
    except ProtocolError as exc:
        return list(exc.problems)
    return _validate(raw, path.parent, path, check_files)[1]


def protocol_from_dict(
    data: Mapping[str, Any], *, base_dir: str | Path | None = None, check_files: bool = True
) -> Protocol:
    """Build a validated :class:`Protocol` from a dictionary.

    Raises
    ------
    ProtocolError
        Listing every problem with the path of its key.

    Examples
    --------
    >>> spec = {
    ...     "name": "demo", "title": "Demo", "question": "Did scores fall?",
    ...     "intervention": {"brief_name": "Group", "why": "w", "what_procedures": "p",
    ...                      "who_provided": "staff", "where": "clinic", "when_and_how_much": "8 sessions"},
    ...     "sites": [{"code": "A", "role": "intervention", "go_live": "2023-01-01"}],
    ...     "data": {"folder": "data"},
    ...     "outcome_measures": {"source": "rom_responses", "subject": "patient_id", "occasion": "occasion",
    ...                          "pre": "baseline", "post": "end", "instruments": [{"key": "phq9"}]},
    ... }
    >>> protocol_from_dict(spec, check_files=False).suppression_args()
    {'low': 1, 'high': 7, 'round_to': 5}
    >>> spec["suppression"] = {"rule": "ukllc"}
    >>> protocol_from_dict(spec, check_files=False).disclosure_policy().publish_count(9)
    '*'
    >>> del spec["suppression"]
    >>> spec["sites"][0]["go_live"] = None
    >>> try:
    ...     protocol_from_dict(spec, check_files=False)
    ... except ProtocolError as exc:
    ...     print(exc)
    protocol has 1 problem:
      - sites[0].go_live: is required for an intervention site (YYYY-MM-DD)
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    protocol, problems = _validate(data, base, None, check_files)
    if problems or protocol is None:
        raise ProtocolError(format_problems(problems), problems)
    return protocol


def load_protocol(path: str | Path, *, check_files: bool = True) -> Protocol:
    """Read and validate a protocol YAML file.

    Relative paths inside the protocol (``data.folder``) are resolved against the file's folder.

    Parameters
    ----------
    path : str or Path
        The protocol file.
    check_files : bool, default True
        Also check that the data folder and the extract files the analyses need exist.

    Returns
    -------
    Protocol
        The validated protocol; ``protocol.path`` is the file.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ProtocolError
        The file is not valid YAML, or the protocol has problems; every problem is listed with the path
        of its key (``exc.problems``).
    """
    if not isinstance(path, str | Path):
        raise ProtocolError(
            f"a protocol is a file path, not {type(path).__name__}",
            [Problem("(protocol)", f"expected a path, got {type(path).__name__}")],
        )
    path = Path(path)
    raw = _read_yaml(path)
    protocol, problems = _validate(raw, path.parent, path, check_files)
    if problems or protocol is None:
        raise ProtocolError(format_problems(problems, path), problems, source=path)
    return protocol


def protocol_json_schema() -> dict[str, Any]:
    """The JSON Schema of a protocol (for editors and documentation).

    Examples
    --------
    >>> schema = protocol_json_schema()
    >>> sorted(schema["properties"])[:4]
    ['analysis', 'authors', 'beds', 'cohort']
    """
    return Protocol.model_json_schema()
