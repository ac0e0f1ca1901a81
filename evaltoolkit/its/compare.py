"""Fit one interrupted time series design with several pre-specified methods: :func:`compare_methods`.

Re-analysing 190 published series with six methods, Turner et al. (2021) found that the choice of method
changed estimates, standard errors and p-values, and that significance at 5% disagreed in 4–25% of
pairwise comparisons of methods. An evaluation should pre-specify its primary method and report the others
as a sensitivity analysis: :func:`compare_methods` fits them all to the same design and returns
:class:`MethodComparison`, with one tidy table (:meth:`MethodComparison.table`), an agreement summary
(:meth:`MethodComparison.agreement`) and a forest plot (:meth:`MethodComparison.plot`). A method that cannot
be fitted, or fits with a warning (e.g. an AR estimate at the boundary), stays in the table with its
status and the message: nothing is dropped silently.
"""

from __future__ import annotations

import inspect
import itertools
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaltoolkit._deprecate import warn_renamed
from evaltoolkit.its._types import COUNT_FAMILIES, Family, Method, check_literal
from evaltoolkit.its.errors import ITSInputError, ITSWarning
from evaltoolkit.its.fit import fit_its
from evaltoolkit.its.results import COEFFICIENT_COLUMNS, RATE_RATIO_COLUMNS, ITSResult, _jsonable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "COMPARISON_COLUMNS",
    "DEFAULT_COUNT_METHODS",
    "DEFAULT_GAMMA_METHODS",
    "DEFAULT_GAUSSIAN_METHODS",
    "MethodComparison",
    "MethodSpec",
    "compare_methods",
    "parse_method",
]

DEFAULT_GAUSSIAN_METHODS: tuple[str, ...] = (
    "ols",
    "ols+newey-west(lags=1)",
    "prais-winsten",
    "gls-ml",
    "gls-reml",
    "arima",
)
"""Default methods for a Gaussian outcome: the methods compared by Turner et al. (2021) that
:func:`~evaltoolkit.its.fit_its` offers (``arima`` is left out of the default for controlled designs;
name it to include it)."""

DEFAULT_COUNT_METHODS: tuple[str, ...] = (
    "poisson",
    "quasipoisson",
    "negbin",
    "quasipoisson+newey-west(lags=1)",
)
"""Default methods when ``family`` is a count family: Poisson, quasi-Poisson, negative binomial and
Newey–West SEs (for a Poisson GLM these equal the quasi-Poisson Newey–West SEs)."""

DEFAULT_GAMMA_METHODS: tuple[str, ...] = ("gamma", "gamma+newey-west(lags=1)")
"""Default methods when ``family="gamma"`` (a positive mean such as length of stay): the gamma GLM with
model-based and with Newey–West SEs (AR error models are for Gaussian outcomes)."""

COMPARISON_COLUMNS: tuple[str, ...] = (
    "method",
    "family",
    "fit_method",
    "se_type",
    "lags",
    "ar_order",
    *COEFFICIENT_COLUMNS,
)
"""Leading columns of :meth:`MethodComparison.table`; then ``rate_ratio`` columns (if any method is a count
model), ``ar1``, ``significant``, ``status`` and ``note``."""

# Options that a method spec sets; everything else passed to compare_methods describes the design.
_METHOD_KEYS = ("family", "method", "se_type", "lags", "ar_order", "ma_order", "nw_adjust", "use_t")
_FIT_KEYS = tuple(p for p in inspect.signature(fit_its).parameters if p != "data")
_FAMILIES = ("gaussian", "poisson", "quasipoisson", "negbin", "gamma")
_METHODS = ("ols", "gls-reml", "gls-ml", "prais-winsten", "arima")
_SPEC_PART = re.compile(r"^\s*([a-z][a-z-]*)\s*(?:\((.*)\))?\s*$")
_CAUGHT = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def _recorded_categories() -> tuple[type[Warning], ...]:
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        HessianInversionWarning,
        IterationLimitWarning,
        PerfectSeparationWarning,
    )

    return (
        ITSWarning,
        ConvergenceWarning,
        HessianInversionWarning,
        IterationLimitWarning,
        PerfectSeparationWarning,
    )


_RECORDED: tuple[type[Warning], ...] = _recorded_categories()
"""Warnings of a fit that :func:`compare_methods` records in the table (and re-issues with the method's
label): the ITS warnings and statsmodels' model-fit warnings. Any other warning (a ``DeprecationWarning``
or ``FutureWarning`` of a dependency) is not a property of the fit and passes through unchanged."""
_REISSUED: dict[Any, Any] = {}  # registry for passed-through warnings ("default" filters show each once)


@dataclass(frozen=True)
class MethodSpec:
    """One analysis method: its label and the :func:`~evaltoolkit.its.fit_its` options it sets.

    Attributes
    ----------
    label : str
        Name shown in tables and plots (unique within a comparison).
    options : Mapping[str, Any]
        Keyword arguments for :func:`~evaltoolkit.its.fit_its` that override the shared design
        (``family``, ``method``, ``se_type``, ``lags``, ``ar_order``…; a dict spec may also override design
        keywords such as ``outcome``).
    """

    label: str
    options: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def __repr__(self) -> str:
        return f"MethodSpec(label={self.label!r}, options={dict(self.options)!r})"


def _parse_value(text: str, where: str) -> Any:
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("wald", "calibrated"):  # ci_method
        return low
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        raise ITSInputError(f"cannot read the value {text!r} in method spec {where!r}") from None


def _parse_args(text: str | None, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if text is None or not text.strip():
        return out
    for item in text.split(","):
        if "=" not in item:
            raise ITSInputError(
                f"method spec {where!r}: options are written key=value (e.g. lags=1), not {item.strip()!r}"
            )
        key, value = (s.strip() for s in item.split("=", 1))
        if key not in allowed:
            raise ITSInputError(
                f"method spec {where!r}: option {key!r} is not allowed here; allowed: {', '.join(allowed)}"
            )
        out[key] = _parse_value(value, where)
    return out


def _arima_orders(name: str, args: str | None, where: str) -> tuple[int, int] | None:
    """``(p, q)`` for the positional form ``arima(p, q)`` (``arima(p)``: ``q = 0``); ``None`` otherwise."""
    if name != "arima" or args is None or "=" in args or not args.strip():
        return None
    items = [a.strip() for a in args.split(",")]
    if len(items) > 2 or not all(re.fullmatch(r"\d+", a) for a in items):
        raise ITSInputError(
            f"method spec {where!r}: write ARMA orders as arima(p, q) with whole numbers, e.g. 'arima(1,1)'"
        )
    orders = [int(a) for a in items] + [0] * (2 - len(items))
    return orders[0], orders[1]


def parse_method(spec: str | Mapping[str, Any] | MethodSpec) -> MethodSpec:
    """Turn a method spec (a string or a dict) into a :class:`MethodSpec`.

    String specs are a method or family name, optionally with options in brackets, optionally followed by
    ``+newey-west(lags=L)``:

    * ``"ols"``, ``"gls-reml"``, ``"gls-ml"``, ``"prais-winsten"``, ``"arima"`` set ``method``
      (``"gls-reml(ar_order=2)"`` sets the AR order too; ``"arima(ma_order=1)"`` or ``"arima(1,1)"``, i.e.
      ``arima(ar_order, ma_order)``, sets ARMA errors);
    * ``"gls-reml(ci_method=calibrated)"`` asks for simulation-calibrated intervals, and ``"default"``
      leaves the method to :func:`~evaltoolkit.its.fit_its` (:func:`~evaltoolkit.its.default_method`);
    * ``"poisson"``, ``"quasipoisson"``, ``"negbin"`` (and ``"gaussian"``) set ``family`` with
      ``method="ols"`` (a GLM for count families);
    * ``"+newey-west(lags=L)"`` (or ``"+nw(lags=L)"``) adds Newey–West SEs with ``L`` lags
      (``adjust=false`` drops the small-sample factor, ``nw_adjust=False``).

    Dict specs give :func:`~evaltoolkit.its.fit_its` keywords directly plus an optional ``"label"``, e.g.
    ``{"label": "REML, AR(2)", "method": "gls-reml", "ar_order": 2}``; they may also override design keywords
    (e.g. ``"outcome"`` to analyse a log rate with GLS next to count models).

    Parameters
    ----------
    spec : str, dict or MethodSpec
        The method.

    Returns
    -------
    MethodSpec
        Label (the normalised string, or the dict's ``label``) and options.

    Raises
    ------
    ITSInputError
        The spec cannot be read; the message names the spec.

    Examples
    --------
    >>> parse_method("ols + newey-west(lags=2)")
    MethodSpec(label='ols+newey-west(lags=2)', options={'method': 'ols', 'se_type': 'newey-west', 'lags': 2})
    >>> parse_method("arima(1,1)")
    MethodSpec(label='arima(1,1)', options={'method': 'arima', 'ar_order': 1, 'ma_order': 1})
    >>> dict(parse_method("gls-reml(ci_method=calibrated)").options)
    {'method': 'gls-reml', 'ci_method': 'calibrated'}
    >>> parse_method("quasipoisson").options["family"]
    'quasipoisson'
    >>> parse_method({"label": "REML AR(2)", "method": "gls-reml", "ar_order": 2}).label
    'REML AR(2)'
    """
    if isinstance(spec, MethodSpec):
        return spec
    if isinstance(spec, Mapping):
        options = dict(spec)
        label = options.pop("label", None)
        if "se" in options:  # deprecated spelling of se_type (one release)
            if "se_type" in options:
                raise ITSInputError(
                    f"method spec {spec!r}: give se_type only (se is its deprecated spelling)"
                )
            warn_renamed("parse_method", "se", "se_type", kind="key")
            options["se_type"] = options.pop("se")
        unknown = sorted(k for k in options if k not in _FIT_KEYS)
        if unknown:
            raise ITSInputError(
                f"method spec {spec!r}: unknown keyword(s) {unknown}; use fit_its keywords and 'label'"
            )
        if "family" in options:
            check_literal(options["family"], Family, "family")
        if "method" in options:
            check_literal(options["method"], Method, "method")
        if label is None:
            label = ", ".join(f"{k}={v}" for k, v in options.items()) or "default"
        if not isinstance(label, str) or not label:
            raise ITSInputError(f"method spec {spec!r}: label must be a non-empty string")
        return MethodSpec(label=label, options=options)
    if not isinstance(spec, str):
        raise ITSInputError(f"a method spec is a string or a dict, not {spec!r}")
    parts = [p for p in spec.lower().split("+")]
    if not parts or any(not p.strip() for p in parts):
        raise ITSInputError(f"cannot read method spec {spec!r}")
    options: dict[str, Any] = {}
    labels: list[str] = []
    for i, part in enumerate(parts):
        m = _SPEC_PART.match(part)
        if m is None:
            raise ITSInputError(f"cannot read {part.strip()!r} in method spec {spec!r}")
        name, args = m.group(1), m.group(2)
        positional = _arima_orders(name, args, spec) if i == 0 else None
        if positional is not None:  # arima(p, q): ARMA(p, q) errors
            options.update(method="arima", ar_order=positional[0], ma_order=positional[1])
            labels.append(f"arima({positional[0]},{positional[1]})")
            continue
        if i == 0:
            if name == "default" and len(parts) == 1:  # fit_its's own default for the family
                _parse_args(args, (), spec)
                return MethodSpec(label="default", options={})
            if name in _METHODS:
                options["method"] = name
                keys: tuple[str, ...] = ("ar_order", "use_t")
                if name == "arima":
                    keys = ("ar_order", "ma_order", "use_t")
                elif name in ("gls-reml", "gls-ml"):
                    keys = ("ar_order", "use_t", "ci_method")
                extra = _parse_args(args, keys, spec)
            elif name in _FAMILIES:
                options["family"] = name
                options["method"] = "ols"
                extra = _parse_args(args, ("use_t",), spec)
            else:
                raise ITSInputError(
                    f"method spec {spec!r}: {name!r} is not a method ({', '.join(_METHODS)}) or a family "
                    f"({', '.join(_FAMILIES)})"
                )
            options.update(extra)
        elif name in ("newey-west", "nw"):
            if "se_type" in options:
                raise ITSInputError(f"method spec {spec!r} names Newey–West twice")
            nw = _parse_args(args, ("lags", "adjust"), spec)
            if "lags" not in nw:
                raise ITSInputError(
                    f"method spec {spec!r}: Newey–West needs its lags, e.g. 'ols+newey-west(lags=1)'"
                )
            options["se_type"] = "newey-west"
            options["lags"] = nw["lags"]
            if "adjust" in nw:
                options["nw_adjust"] = nw["adjust"]
            name = "newey-west"
        else:
            raise ITSInputError(
                f"method spec {spec!r}: after '+' only 'newey-west(lags=L)' is allowed, not {name!r}"
            )
        shown = _parse_args(args, ("ar_order", "ma_order", "use_t", "lags", "adjust", "ci_method"), spec)
        labels.append(name + (f"({', '.join(f'{k}={v}' for k, v in shown.items())})" if shown else ""))
    return MethodSpec(label="+".join(labels), options=options)


@dataclass(frozen=True, eq=False)
class MethodComparison:
    """Several methods fitted to one design (from :func:`compare_methods`); immutable.

    Attributes
    ----------
    specs : tuple of MethodSpec
        The methods, in the order given.
    results : tuple of (ITSResult or None)
        The fit of each method (``None`` if it failed).
    errors : tuple of (str or None)
        The error message of each failed method.
    warnings : tuple of tuple of str
        Every warning raised while fitting each method.
    design : Mapping[str, Any]
        The shared :func:`~evaltoolkit.its.fit_its` keywords.
    conf_level : float
        Confidence level of the intervals (and ``1 - conf_level`` is the significance level).
    """

    specs: tuple[MethodSpec, ...]
    results: tuple[ITSResult | None, ...]
    errors: tuple[str | None, ...]
    warnings: tuple[tuple[str, ...], ...]
    design: Mapping[str, Any]
    conf_level: float

    @property
    def labels(self) -> tuple[str, ...]:
        """Method labels, in order."""
        return tuple(s.label for s in self.specs)

    def __getitem__(self, label: str) -> ITSResult:
        """The fit of the method called ``label`` (raises ``KeyError`` if unknown or failed)."""
        if label not in self.labels:
            raise KeyError(f"no method {label!r}; methods are {list(self.labels)}")
        i = self.labels.index(label)
        res = self.results[i]
        if res is None:
            raise KeyError(f"method {label!r} failed: {self.errors[i]}")
        return res

    def status(self, i: int) -> str:
        """``"failed"``, ``"warning"`` (fitted with warnings) or ``"ok"`` for the ``i``-th method."""
        if self.results[i] is None:
            return "failed"
        return "warning" if self.warnings[i] else "ok"

    def _default_terms(self) -> list[str]:
        for res in self.results:
            if res is not None:
                return list(res.design.effect_terms)
        return []

    def _resolve_terms(self, terms: str | Sequence[str] | None) -> list[str]:
        if terms is None:
            return self._default_terms()
        if isinstance(terms, str):
            if terms == "all":
                seen: list[str] = []
                for res in self.results:
                    if res is not None:
                        seen += [t for t in res.terms if t not in seen]
                return seen
            return [terms]
        out = list(terms)
        if not out:
            raise ITSInputError("terms must name at least one term")
        return out

    @property
    def has_counts(self) -> bool:
        """Whether any fitted method is a log-link model, i.e. a count family or gamma (the table then has
        rate-ratio columns: ratios of means for gamma)."""
        return any(r is not None and r.log_link for r in self.results)

    def table(self, terms: str | Sequence[str] | None = None) -> pd.DataFrame:
        """One tidy table: every method × term, with the method's status and messages.

        Parameters
        ----------
        terms : str or sequence of str, optional
            Terms to show: default the intervention terms (``level_change``, ``slope_change``…, or their
            ``diff_`` versions in a controlled design); ``"all"`` for every coefficient.

        Returns
        -------
        pandas.DataFrame
            One row per method and term, methods in the given order. Columns ``method`` (label),
            ``family``, ``fit_method``, ``se_type``, ``lags`` (Int64), ``ar_order`` (Int64), ``term, estimate,
            std_error, statistic, df, p_value, ci_lower, ci_upper``; if any method is a count model
            ``rate_ratio, rate_ratio_ci_lower, rate_ratio_ci_upper`` (NaN for Gaussian rows); ``ar1`` (the
            lag-1 AR coefficient of AR methods, NaN otherwise); ``significant`` (boolean, ``p_value <
            1 - conf_level``; missing for failed fits); ``status`` (``ok``, ``warning``, ``failed``) and
            ``note`` (warnings or the error message; empty when ``ok``). A failed method, or a term missing
            from a method's model, has NaN numbers.
        """
        names = self._resolve_terms(terms)
        counts = self.has_counts
        rows: list[dict[str, Any]] = []
        for i, (spec, res) in enumerate(zip(self.specs, self.results, strict=True)):
            status = self.status(i)
            note = self.errors[i] if res is None else "; ".join(self.warnings[i])
            options = {**self.design, **spec.options}
            base = {
                "method": spec.label,
                "family": options.get("family", "gaussian"),
                "fit_method": options.get("method", "ols"),
                "se_type": options.get("se_type", "model"),
                "lags": options.get("lags"),
                "ar_order": (res.ar_order if res is not None else None),
            }
            coefs = (
                res.coefficients(terms=[t for t in names if t in res.terms]).set_index("term")
                if res is not None
                else None
            )
            ar1 = float(res.ar_params[0]) if res is not None and res.ar_params else math.nan
            for term in names:
                row: dict[str, Any] = {**base, "term": term}
                term_note = note
                if coefs is not None and term in coefs.index:
                    c = coefs.loc[term]
                    for col in COEFFICIENT_COLUMNS[1:]:
                        row[col] = float(c[col])
                    if counts:
                        for col in RATE_RATIO_COLUMNS:
                            row[col] = float(c[col]) if col in c.index else math.nan
                    row["significant"] = bool(c["p_value"] < 1 - self.conf_level)
                else:
                    for col in COEFFICIENT_COLUMNS[1:]:
                        row[col] = math.nan
                    if counts:
                        for col in RATE_RATIO_COLUMNS:
                            row[col] = math.nan
                    row["significant"] = pd.NA
                    if res is not None:
                        term_note = "; ".join(filter(None, [f"term {term!r} is not in this model", note]))
                row.update(ar1=ar1, status=status, note=term_note or "")
                rows.append(row)
        cols = [*COMPARISON_COLUMNS]
        if counts:
            cols += list(RATE_RATIO_COLUMNS)
        cols += ["ar1", "significant", "status", "note"]
        out = pd.DataFrame(rows, columns=cols)
        for c in ("lags", "ar_order"):
            out[c] = out[c].astype("Int64")
        out["significant"] = out["significant"].astype("boolean")
        return out

    def agreement(self, terms: str | Sequence[str] | None = None) -> pd.DataFrame:
        """How far the methods agree, per term (Turner et al. 2021's comparison).

        Parameters
        ----------
        terms : str or sequence of str, optional
            As in :meth:`table`.

        Returns
        -------
        pandas.DataFrame
            One row per term: ``term``, ``n_methods`` (methods with an estimate), ``n_significant``,
            ``pairwise_disagreement`` (share of pairs of methods that disagree on significance at
            ``1 - conf_level``; Turner et al. found 4–25% across 190 published series), ``estimate_min``,
            ``estimate_max``, ``std_error_min``, ``std_error_max``, ``p_value_min``, ``p_value_max``.
        """
        t = self.table(terms)
        rows = []
        for term, g in t.groupby("term", sort=False):
            g = g[g["estimate"].notna()]
            sig = g["significant"].astype(bool).to_numpy()
            pairs = list(itertools.combinations(range(sig.size), 2))
            rows.append(
                {
                    "term": term,
                    "n_methods": int(sig.size),
                    "n_significant": int(sig.sum()),
                    "pairwise_disagreement": (
                        float(np.mean([sig[a] != sig[b] for a, b in pairs])) if pairs else math.nan
                    ),
                    "estimate_min": float(g["estimate"].min()) if sig.size else math.nan,
                    "estimate_max": float(g["estimate"].max()) if sig.size else math.nan,
                    "std_error_min": float(g["std_error"].min()) if sig.size else math.nan,
                    "std_error_max": float(g["std_error"].max()) if sig.size else math.nan,
                    "p_value_min": float(g["p_value"].min()) if sig.size else math.nan,
                    "p_value_max": float(g["p_value"].max()) if sig.size else math.nan,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary for reports: the methods, the table and the agreement summary.

        Returns
        -------
        dict
            Keys ``design`` (the shared keywords), ``methods`` (label and options of each), ``conf_level``,
            ``table`` and ``agreement`` (lists of records); non-finite numbers become ``None``, dates ISO
            strings.
        """
        table = self.table()
        agreement = self.agreement()
        return _jsonable(
            {
                "design": dict(self.design),
                "methods": [{"label": s.label, "options": dict(s.options)} for s in self.specs],
                "conf_level": self.conf_level,
                "table": [dict(zip(table.columns, r, strict=True)) for r in table.itertuples(index=False)],
                "agreement": [
                    dict(zip(agreement.columns, r, strict=True)) for r in agreement.itertuples(index=False)
                ],
            }
        )

    def plot(
        self, ax: Axes | None = None, *, term: str | None = None, exponentiate: bool | None = None
    ) -> Axes:
        """Forest plot of one term: one row per method, estimate and confidence interval.

        Filled markers are significant at ``1 - conf_level``, open markers not; a method that failed is
        listed with "failed" in place of an interval, and a method that fitted with warnings is marked
        "(warning)". Call once per term (level and slope changes are on different scales).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure is created otherwise.
        term : str, optional
            The term; default the first intervention term (``level_change`` or ``diff_level_change``).
        exponentiate : bool, optional
            Plot rate ratios on a log axis with a reference line at 1. Default: True when every method
            with an estimate is a count model; otherwise estimates with a reference line at 0.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on. The plotted numbers are :meth:`table` rows.
        """
        if term is None:
            default = self._default_terms()
            if not default:
                raise ITSInputError("no method was fitted, so there is nothing to plot")
            term = default[0]
        t = self.table([term])
        counts = {r.log_link for r in self.results if r is not None}
        if exponentiate is None:
            exponentiate = counts == {True}
        if exponentiate and not self.has_counts:
            raise ITSInputError("exponentiate=True needs count models (rate ratios)")
        if exponentiate:
            est, lo, hi = (
                t["rate_ratio"].to_numpy(dtype="float64"),
                t["rate_ratio_ci_lower"].to_numpy(dtype="float64"),
                t["rate_ratio_ci_upper"].to_numpy(dtype="float64"),
            )
        else:
            est, lo, hi = (t[c].to_numpy(dtype="float64") for c in ("estimate", "ci_lower", "ci_upper"))
        sig = t["significant"].fillna(False).to_numpy(dtype=bool)
        labels, empty = [], []
        for row in t.itertuples(index=False):
            suffix = {"failed": " (failed)", "warning": " (warning)"}.get(str(row.status), "")
            labels.append(f"{row.method}{suffix}")
            empty.append("  failed" if row.status == "failed" else "  not in model")
        return forest_plot(
            ax,
            labels,
            est,
            lo,
            hi,
            sig,
            exponentiate=bool(exponentiate),
            conf_level=self.conf_level,
            title=f"{term}: filled = significant at {1 - self.conf_level:.2g}",
            empty_text=empty,
        )

    def __repr__(self) -> str:
        states = ", ".join(f"{lab}: {self.status(i)}" for i, lab in enumerate(self.labels))
        return f"MethodComparison({states})"


def compare_methods(
    data: pd.DataFrame,
    *,
    methods: Sequence[str | Mapping[str, Any] | MethodSpec] | None = None,
    **design: Any,
) -> MethodComparison:
    """Fit the same ITS design with several pre-specified methods and collect the results in one table.

    Parameters
    ----------
    data : pandas.DataFrame
        As for :func:`~evaltoolkit.its.fit_its`; not modified.
    methods : sequence of str, dict or MethodSpec, optional
        The methods (see :func:`parse_method`), e.g. ``["ols", "ols+newey-west(lags=1)", "gls-reml",
        "arima"]`` or ``["poisson", "quasipoisson", "negbin", "quasipoisson+newey-west(lags=1)"]``.
        Default: :data:`DEFAULT_COUNT_METHODS` when ``family`` is a count family,
        :data:`DEFAULT_GAMMA_METHODS` for ``family="gamma"``, otherwise :data:`DEFAULT_GAUSSIAN_METHODS`
        (without ``arima`` in a controlled design).
    **design
        Every other :func:`~evaltoolkit.its.fit_its` keyword, with the same names: ``outcome``, ``time``,
        ``interruptions``, ``offset``, ``seasonality``, ``period``, ``covariates``, ``effect``,
        ``transition``, ``transition_shape``, ``group``, ``treated``, ``conf_level``, and defaults for
        ``family``, ``ar_order``, ``use_t`` and ``nw_adjust`` that a method spec may override. ``method``,
        ``se_type`` and ``lags`` belong in the method specs.

    Returns
    -------
    MethodComparison
        ``table()``, ``agreement()``, ``plot()``, ``to_dict()``; ``comparison[label]`` is a method's
        :class:`~evaltoolkit.its.ITSResult`.

    Raises
    ------
    ITSInputError
        Unknown keywords, unreadable or duplicated method specs, or every method failing (the first
        error is reported; a design error such as a missing column fails every method).

    Warns
    -----
    ITSWarning
        Each warning of each fit (e.g. :class:`~evaltoolkit.its.ARBoundaryWarning`, or a statsmodels
        ``ConvergenceWarning``) is re-issued once with the method's label in brackets in front, in its
        original category, and recorded in the table's ``note``. Other warnings (e.g. a
        ``DeprecationWarning`` from a dependency) are not recorded and pass through unchanged.

    Notes
    -----
    A method that cannot be fitted (an option combination :func:`~evaltoolkit.its.fit_its` rejects, such
    as ``prais-winsten(ar_order=2)``, or a numerical failure) is kept in the table with ``status``
    ``"failed"`` and the error message; it is never dropped. Pre-specify the primary method (Turner et al.
    2021: REML-type AR methods for series of more than about 12 points, OLS for shorter ones) and report the
    comparison as a sensitivity analysis.

    References
    ----------
    Turner SL, Karahalios A, Forbes AB, Taljaard M, Grimshaw JM, McKenzie JE. Comparison of six
    statistical methods for interrupted time series studies: empirical evaluation of 190 published series.
    BMC Med Res Methodol 2021;21:134.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from evaltoolkit.its import compare_methods
    >>> t = np.arange(1, 31)
    >>> y = 20 + 0.3 * t - 4 * (t >= 16) + np.tile([0.9, -0.4, -0.5, 0.6, -0.6], 6)
    >>> df = pd.DataFrame({"t": t, "y": y})
    >>> cmp = compare_methods(df, outcome="y", time="t", interruptions=16,
    ...                       methods=["ols", "ols+newey-west(lags=1)", "gls-reml"])
    >>> cmp.table(terms="level_change")[["method", "estimate", "std_error", "status"]].round(3)
                       method  estimate  std_error status
    0                     ols    -3.679      0.485     ok
    1  ols+newey-west(lags=1)    -3.679      0.369     ok
    2                gls-reml    -3.941      0.234     ok
    """
    if not isinstance(data, pd.DataFrame):
        raise ITSInputError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    # se= is fit_its' deprecated spelling of se_type=: reported below as a per-method keyword
    unknown = sorted(k for k in design if k not in _FIT_KEYS and k != "se")
    if unknown:
        raise ITSInputError(f"unknown keyword(s) {unknown}; compare_methods takes fit_its keywords")
    absent = [k for k in ("outcome", "time", "interruptions") if k not in design]
    if absent:
        raise ITSInputError(
            f"compare_methods needs the fit_its keywords {', '.join(f'{k}=' for k in absent)} "
            "(the shared design)"
        )
    per_method = sorted(k for k in ("method", "se", "se_type", "lags") if k in design)
    if per_method:
        raise ITSInputError(
            f"{', '.join(per_method)} belong in the method specs (methods=[...]), not in the shared design"
        )
    unknown = sorted(k for k in design if k not in _FIT_KEYS)
    if unknown:
        raise ITSInputError(f"unknown keyword(s) {unknown}; compare_methods takes fit_its keywords")
    if methods is None:
        if design.get("family", "gaussian") in COUNT_FAMILIES:
            methods = DEFAULT_COUNT_METHODS
        elif design.get("family") == "gamma":
            methods = DEFAULT_GAMMA_METHODS
        else:
            methods = tuple(m for m in DEFAULT_GAUSSIAN_METHODS if not (m == "arima" and design.get("group")))
    if isinstance(methods, (str, Mapping, MethodSpec)):
        methods = [methods]
    specs = tuple(parse_method(m) for m in methods)
    if not specs:
        raise ITSInputError("methods must list at least one method")
    labels = [s.label for s in specs]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise ITSInputError(f"duplicated method label(s) {dupes}; give dict specs distinct 'label's")
    conf_level = design.get("conf_level", 0.95)

    results: list[ITSResult | None] = []
    errors: list[str | None] = []
    caught: list[tuple[str, ...]] = []
    first_error: BaseException | None = None
    to_reissue: list[tuple[str, type[Warning]]] = []
    for spec in specs:
        kwargs = {**design, **spec.options}
        with warnings.catch_warnings(record=True) as record:
            for category in _RECORDED:
                warnings.simplefilter("always", category)
            try:
                res: ITSResult | None = fit_its(data, **kwargs)
                err: str | None = None
            except _CAUGHT as exc:
                res, err = None, f"{type(exc).__name__}: {exc}"
                first_error = first_error or exc
        messages: list[str] = []
        for w in record:
            if not issubclass(w.category, _RECORDED):
                # not a fit warning (e.g. a DeprecationWarning of a dependency): through the caller's filters
                warnings.warn_explicit(
                    w.message, w.category, w.filename, w.lineno, registry=_REISSUED, source=w.source
                )
                continue
            text = str(w.message)
            if text not in messages:
                messages.append(text)
                to_reissue.append((f"[{spec.label}] {text}", w.category))
        results.append(res)
        errors.append(err)
        caught.append(tuple(messages))
    for message, category in to_reissue:
        warnings.warn(message, category, stacklevel=2)
    if all(r is None for r in results):
        assert first_error is not None
        raise ITSInputError(
            f"every method failed; the first error ({labels[0]}): {errors[0]}"
        ) from first_error
    return MethodComparison(
        specs=specs,
        results=tuple(results),
        errors=tuple(errors),
        warnings=tuple(caught),
        design=MappingProxyType(dict(design)),
        conf_level=float(conf_level),
    )


def forest_plot(
    ax: Axes | None,
    labels: Sequence[str],
    est: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    significant: np.ndarray,
    *,
    exponentiate: bool,
    conf_level: float,
    title: str,
    empty_text: Sequence[str],
) -> Axes:
    """Draw a forest plot (the house style of :meth:`MethodComparison.plot`): one row per label, top down,
    estimate and CI, filled marker when significant, a dashed reference line at 0 (or 1 on a log axis for
    rate ratios), and ``empty_text`` where a row has no estimate. Returns the axes; never shows."""
    import matplotlib.pyplot as plt

    n = len(labels)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * n + 1.2))
    y = np.arange(n)[::-1]
    ref = 1.0 if exponentiate else 0.0
    ax.axvline(ref, color="0.4", lw=1, ls="--", zorder=0)
    for k in range(n):
        if np.isfinite(est[k]):
            ax.plot([lo[k], hi[k]], [y[k], y[k]], color="C0", lw=2, solid_capstyle="butt")
            ax.plot(
                est[k],
                y[k],
                "o",
                ms=7,
                color="C0",
                mfc="C0" if significant[k] else "white",
                mew=1.5,
            )
        else:
            ax.text(ref, y[k], empty_text[k], va="center", ha="left", fontsize="small", color="0.3")
    ax.set_yticks(y, list(labels))
    if exponentiate:
        ax.set_xscale("log")
        ax.set_xlabel(f"rate ratio ({conf_level:.0%} CI)")
    else:
        ax.set_xlabel(f"estimate ({conf_level:.0%} CI)")
    if np.isfinite(est).any():
        finite = np.r_[lo[np.isfinite(lo)], hi[np.isfinite(hi)], ref]
        span = float(finite.max() - finite.min()) or 1.0
        if not exponentiate:
            ax.set_xlim(float(finite.min()) - 0.05 * span, float(finite.max()) + 0.05 * span)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_title(title, fontsize="medium")
    return ax
