"""The instrument registry: bundled YAML definitions plus instruments registered by the user.

The bundled definitions live in ``evaltoolkit/rom/instruments/<key>.yaml`` (one file per instrument,
data only, no item wording). Users add their own, for example a licensed instrument whose scoring key
the toolkit must not ship, with :func:`register_instrument`, from a YAML/JSON file or a dictionary.
A definition may start from a bundled one with ``extends: <key>`` and change only what differs.

Examples
--------
>>> from evaltoolkit.rom import instruments
>>> table = instruments()
>>> table.loc[table["key"] == "phq9", ["key", "n_items", "response", "score_range", "direction"]]
    key  n_items response score_range        direction
0  phq9        9      0–3        0–27  higher_is_worse
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from evaltoolkit._yaml import safe_load
from evaltoolkit.rom.definition import Instrument
from evaltoolkit.rom.errors import InstrumentDefinitionError

__all__ = [
    "BUILTIN_KEYS",
    "get_instrument",
    "instrument_keys",
    "instruments",
    "load_definition",
    "register_instrument",
    "unregister_instrument",
]

BUILTIN_KEYS: tuple[str, ...] = (
    "phq9",
    "gad7",
    "k10",
    "k6",
    "dass21",
    "core_om",
    "core10",
    "bsl23",
    "wemwbs",
    "swemwbs",
    "reqol10",
    "honos",
    "wsas",
    "pss10",
    "mhc_sf",
    "scs_sf",
    "ffmq15",
    "cbi",
    "olbi",
)
"""Keys of the bundled instruments, in registry order."""

_BUILTIN: dict[str, Instrument] = {}
_USER: dict[str, Instrument] = {}


def _validate(raw: Mapping[str, Any], origin: str) -> Instrument:
    try:
        return Instrument.model_validate(dict(raw))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(definition)"
            lines.append(f"  {where}: {err['msg']}")
        raise InstrumentDefinitionError(
            f"invalid instrument definition ({origin}):\n" + "\n".join(lines)
        ) from None


def _load_builtins() -> dict[str, Instrument]:
    if not _BUILTIN:
        folder = resources.files("evaltoolkit.rom") / "instruments"
        for key in BUILTIN_KEYS:
            text = (folder / f"{key}.yaml").read_text(encoding="utf-8")
            inst = _validate(safe_load(text), f"bundled {key}.yaml")
            if inst.key != key:  # pragma: no cover - guards the bundled files
                raise InstrumentDefinitionError(f"bundled {key}.yaml declares key {inst.key!r}")
            _BUILTIN[key] = inst
    return _BUILTIN


def instrument_keys() -> list[str]:
    """Keys of every registered instrument: bundled first (registry order), then user-defined.

    Examples
    --------
    >>> instrument_keys()[:3]
    ['phq9', 'gad7', 'k10']
    """
    return [*_load_builtins(), *_USER]


def get_instrument(instrument: str | Instrument) -> Instrument:
    """Return the :class:`~evaltoolkit.rom.definition.Instrument` for a key (an Instrument passes through).

    Raises
    ------
    InstrumentDefinitionError
        If the key is not registered.

    Examples
    --------
    >>> get_instrument("gad7").n_items
    7
    """
    if isinstance(instrument, Instrument):
        return instrument
    builtins = _load_builtins()
    if instrument in _USER:
        return _USER[instrument]
    if instrument in builtins:
        return builtins[instrument]
    raise InstrumentDefinitionError(
        f"unknown instrument {instrument!r}; registered instruments are {instrument_keys()} "
        "(add your own with register_instrument())"
    )


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_definition(definition: str | Path | Mapping[str, Any]) -> Instrument:
    """Build and validate an :class:`Instrument` from a YAML/JSON file or a dictionary (not registered).

    ``extends: <key>`` starts from a registered instrument: nested mappings are merged key by key, lists
    and scalars replace the base value, and ``null`` removes a fact (back to its default: e.g. no
    cut-off, no bands).

    Parameters
    ----------
    definition : str, Path or mapping
        Path to a ``.yaml``/``.yml``/``.json`` file, or the definition itself.

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentDefinitionError
        With one line per problem, naming the field (e.g. ``scales.total.items``).

    Examples
    --------
    >>> inst = load_definition({"extends": "k10", "key": "k10_us", "name": "K10, US 0-4 coding",
    ...     "response": {"min": 0, "max": 4},
    ...     "scales": {"total": {"bands": None, "default_bands": None, "clinical_cutoff": None}}})
    >>> inst.scale_range("total")
    (0.0, 40.0)
    """
    if isinstance(definition, (str, Path)):
        path = Path(definition)
        if not path.is_file():
            raise InstrumentDefinitionError(f"instrument definition file {str(path)!r} does not exist")
        text = path.read_text(encoding="utf-8")
        try:
            raw = json.loads(text) if path.suffix.lower() == ".json" else safe_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise InstrumentDefinitionError(f"cannot parse {str(path)!r}: {exc}") from None
        origin = str(path)
    elif isinstance(definition, Mapping):
        raw = definition
        origin = "dictionary"
    else:
        raise InstrumentDefinitionError(
            f"an instrument definition must be a file path or a mapping, not {type(definition).__name__}"
        )
    if not isinstance(raw, Mapping):
        raise InstrumentDefinitionError(
            f"instrument definition ({origin}) must be a mapping at the top level"
        )
    raw = dict(raw)
    base_key = raw.pop("extends", None)
    if base_key is not None:
        base = get_instrument(str(base_key)).model_dump(mode="python")
        raw = _deep_merge(base, raw)
    return _validate(raw, origin)


def register_instrument(
    definition: str | Path | Mapping[str, Any] | Instrument, *, replace: bool = False
) -> Instrument:
    """Validate a user-defined instrument and add it to the registry.

    Parameters
    ----------
    definition : str, Path, mapping or Instrument
        A YAML/JSON file, a dictionary (see :func:`load_definition`, including ``extends:``) or an
        Instrument.
    replace : bool, default False
        Allow replacing an instrument the user registered earlier. Bundled keys can never be
        replaced: register a variant under a new key instead.

    Returns
    -------
    Instrument
        The validated definition, now usable by key in every function of :mod:`evaltoolkit.rom`.

    Raises
    ------
    InstrumentDefinitionError
        If the definition is invalid or the key is taken.

    Examples
    --------
    >>> inst = register_instrument({"extends": "wsas", "key": "wsas_work_missing",
    ...     "name": "WSAS, blank work item counted as missing", "optional_items": []})
    >>> "wsas_work_missing" in instrument_keys()
    True
    >>> unregister_instrument("wsas_work_missing")
    """
    inst = definition if isinstance(definition, Instrument) else load_definition(definition)
    if inst.key in _load_builtins():
        raise InstrumentDefinitionError(
            f"{inst.key!r} is a bundled instrument and cannot be replaced; register a variant under a new "
            f"key (e.g. extends: {inst.key}, key: {inst.key}_local)"
        )
    if inst.key in _USER and not replace:
        raise InstrumentDefinitionError(f"instrument {inst.key!r} is already registered; pass replace=True")
    _USER[inst.key] = inst
    return inst


def unregister_instrument(key: str) -> None:
    """Remove a user-registered instrument (bundled instruments cannot be removed).

    Examples
    --------
    >>> unregister_instrument("phq9")
    Traceback (most recent call last):
    ...
    evaltoolkit.rom.errors.InstrumentDefinitionError: 'phq9' is not a user-registered instrument
    """
    if key not in _USER:
        raise InstrumentDefinitionError(f"{key!r} is not a user-registered instrument")
    del _USER[key]


def _fmt(v: float) -> str:
    return f"{v:g}"


def _instrument_row(inst: Instrument) -> dict[str, Any]:
    total = inst.scales.get("total")
    primary = total if total is not None else next(iter(inst.scales.values()))
    pname = "total" if total is not None else next(iter(inst.scales))
    lo, hi = inst.scale_range(pname, primary)
    method = primary.method + (f"×{_fmt(primary.multiplier)}" if primary.multiplier != 1 else "")
    cut = primary.clinical_cutoff
    rc = primary.reliable_change
    norms = primary.norms
    return {
        "key": inst.key,
        "name": inst.name,
        "n_items": inst.n_items,
        "response": inst.response.describe(),
        "reverse_items": ", ".join(str(i) for i in inst.reverse.items),
        "scales": ", ".join(inst.scales),
        "has_total": total is not None,
        "method": method if total is not None else "",
        "score_range": f"{_fmt(lo)}–{_fmt(hi)}" if total is not None else "",
        "direction": inst.direction,
        "max_missing": primary.missing.max_missing if total is not None else pd.NA,
        "bands": ("keyes category" if inst.category is not None else primary.default_bands or "")
        if total is not None
        else "",
        "clinical_cutoff": f"{cut.clinical} {_fmt(cut.value)}"
        if cut is not None and total is not None
        else "",
        "reliable_change": rc.value if rc is not None and total is not None else float("nan"),
        "reliable_change_source": rc.source if rc is not None and total is not None else "",
        "jt_norms": ", ".join(k for k in ("functional", "dysfunctional") if getattr(norms, k) is not None),
        "licence": inst.licence.text,
        "citation": inst.citation,
        "verified": inst.verified,
        "unverified": "; ".join(inst.unverified),
    }


def _scale_rows(inst: Instrument) -> list[dict[str, Any]]:
    rows = []
    for name, s in inst.scales.items():
        lo, hi = inst.scale_range(name, s)
        cut, rc, rel = s.clinical_cutoff, s.reliable_change, s.reliability
        rows.append(
            {
                "key": inst.key,
                "scale": name,
                "label": s.label,
                "items": ", ".join(str(i) for i in inst.scale_items(name, s)),
                "method": s.method + (f"×{_fmt(s.multiplier)}" if s.multiplier != 1 else ""),
                "min": lo,
                "max": hi,
                "direction": inst.direction,
                "max_missing": s.missing.max_missing,
                "prorate": s.missing.prorate,
                "missing_rule_verified": s.missing.verified,
                "bands": ", ".join(s.bands),
                "default_bands": s.default_bands or "",
                "clinical_cutoff": cut.value if cut is not None else float("nan"),
                "clinical_side": cut.clinical if cut is not None else "",
                "reliable_change": rc.value if rc is not None else float("nan"),
                "rc_z": rc.z if rc is not None else float("nan"),
                "reliability": rel.value if rel is not None else float("nan"),
                "functional_mean": s.norms.functional.mean if s.norms.functional else float("nan"),
                "functional_sd": s.norms.functional.sd if s.norms.functional else float("nan"),
                "dysfunctional_mean": s.norms.dysfunctional.mean if s.norms.dysfunctional else float("nan"),
                "dysfunctional_sd": s.norms.dysfunctional.sd if s.norms.dysfunctional else float("nan"),
            }
        )
    return rows


def instruments(*, by: str = "instrument") -> pd.DataFrame:
    """The registry as a table.

    Parameters
    ----------
    by : {"instrument", "scale"}, default "instrument"
        One row per instrument (columns ``key``, ``name``, ``n_items``, ``response``,
        ``reverse_items``, ``scales``, ``has_total``, ``method``, ``score_range``, ``direction``,
        ``max_missing``, ``bands``, ``clinical_cutoff``, ``reliable_change``,
        ``reliable_change_source``, ``jt_norms``, ``licence``, ``citation``, ``verified``,
        ``unverified``; total-scale facts), or one row per scale (columns ``key``, ``scale``,
        ``label``, ``items``, ``method``, ``min``, ``max``, ``direction``, ``max_missing``,
        ``prorate``, ``missing_rule_verified``, ``bands``, ``default_bands``, ``clinical_cutoff``,
        ``clinical_side``, ``reliable_change``, ``rc_z``, ``reliability``, ``functional_mean``,
        ``functional_sd``, ``dysfunctional_mean``, ``dysfunctional_sd``).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> t = instruments(by="scale")
    >>> t.loc[t["key"] == "dass21", ["scale", "method", "min", "max", "clinical_cutoff"]]
            scale method  min    max  clinical_cutoff
    4       total  sum×2  0.0  126.0              NaN
    5  depression  sum×2  0.0   42.0             10.0
    6     anxiety  sum×2  0.0   42.0              8.0
    7      stress  sum×2  0.0   42.0             15.0
    """
    if by not in ("instrument", "scale"):
        raise InstrumentDefinitionError(f"by must be 'instrument' or 'scale', not {by!r}")
    insts = [get_instrument(k) for k in instrument_keys()]
    if by == "instrument":
        return pd.DataFrame([_instrument_row(i) for i in insts])
    return pd.DataFrame([r for i in insts for r in _scale_rows(i)])
