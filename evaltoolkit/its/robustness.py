"""Placebo and robustness checks of a fitted ITS analysis: :func:`robustness_checks`.

One call re-fits the same analysis (same family, method, SEs, seasonality, effect…) with one thing changed
at a time, through :meth:`~evaltoolkit.its.ITSResult.refit`:

* **in-time placebo**: a fake interruption in the pre-period, fitted on the pre-period data only (the real
  post period never enters the fit). A placebo "effect" whose confidence interval excludes 0 is a warning
  sign: the pre-period has a break of its own, or the model (trend, seasonality, error model) does not fit,
  so the real estimate may not be an effect of the intervention either.
* **in-space placebo** (controlled designs): each control series analysed as if it were treated, at the
  treated series' interruption, with the treated series left out. With other control series left, it is a
  controlled ITS against them; with none (a design with one control series), a single-series ITS of that
  control. A control that "changes" at the go-live suggests a co-intervention or a shared shock.
* **leave-one-out** (controlled designs with several control series): the analysis again without each
  control series in turn; estimates that move a lot depend on one control. (For an estimate combined over
  several intervention sites, the report leaves each site out; see :mod:`evaltoolkit.report`.)

The fits are independent re-analyses on subsets of the same data, not a formal test: read them as a check
of the design, as recommended for ITS by Lopez Bernal et al. (2018) and for synthetic-control designs by
Abadie (2021).

References
----------
Lopez Bernal J, Cummins S, Gasparrini A. The use of controls in interrupted time series studies of public
health interventions. Int J Epidemiol 2018;47:2082–2093.
Abadie A. Using synthetic controls: feasibility, data requirements, and methodological aspects. J Econ Lit
2021;59:391–425.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaltoolkit.its.compare import _RECORDED, forest_plot
from evaltoolkit.its.errors import ITSInputError
from evaltoolkit.its.results import RATE_RATIO_COLUMNS, ITSResult, _fmt, _jsonable, _records

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CHECKS", "ROBUSTNESS_COLUMNS", "RobustnessChecks", "robustness_checks"]

CHECKS = ("original", "in_time_placebo", "in_space_placebo", "leave_one_out")
"""Values of the ``check`` column of :meth:`RobustnessChecks.table`, in table order."""

ROBUSTNESS_COLUMNS = (
    "check",
    "label",
    "term",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "p_value",
    "n",
    "method",
)
"""Leading columns of :meth:`RobustnessChecks.table` (count families then add the rate-ratio columns, and
every table ends with ``interruption, significant, status, note``)."""

_CAUGHT = (ValueError, ArithmeticError, np.linalg.LinAlgError)


@dataclass(frozen=True, eq=False)
class _Fit:
    check: str
    label: str
    interruption: Any
    result: ITSResult | None
    error: str
    warnings: tuple[str, ...]


def _method_label(r: ITSResult) -> str:
    label = r.method if not r.is_count else (r.family if r.method == "ols" else f"{r.family}+{r.method}")
    if r.se_type == "newey-west":
        label += f"+newey-west(lags={r.lags})"
    return label


def _without(data: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``data`` without the rows at 0-based positions ``rows`` (a new frame; ``data`` is not modified)."""
    return data.iloc[np.setdiff1d(np.arange(len(data)), rows)]


def _refit(original: ITSResult, check: str, label: str, interruption: Any, **changes: Any) -> _Fit:
    with warnings.catch_warnings(record=True) as record:
        for category in _RECORDED:
            warnings.simplefilter("always", category)
        try:
            res: ITSResult | None = original.refit(**changes)
            err = ""
        except _CAUGHT as exc:
            res, err = None, f"{type(exc).__name__}: {exc}"
    messages: list[str] = []
    for w in record:
        if not issubclass(w.category, _RECORDED):  # not a property of the fit: through the caller's filters
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
            continue
        if str(w.message) not in messages:
            messages.append(str(w.message))
    return _Fit(check, label, interruption, res, err, tuple(messages))


@dataclass(frozen=True, eq=False)
class RobustnessChecks:
    """Placebo and robustness re-fits of one ITS analysis (from :func:`robustness_checks`); immutable.

    Attributes
    ----------
    original : ITSResult
        The analysis checked.
    fits : tuple
        One entry per re-fit, in table order (``check``, ``label``, ``interruption``, ``result`` or ``None``
        when it failed, ``error``, ``warnings`` recorded while fitting).
    conf_level : float
        Confidence level of every interval.
    """

    original: ITSResult
    fits: tuple[Any, ...]
    conf_level: float

    def __getitem__(self, label: str) -> ITSResult | None:
        """The re-fit with this label (``None`` if it failed)."""
        for f in self._all():
            if f.label == label:
                return f.result
        raise KeyError(f"no check labelled {label!r}; labels: {[f.label for f in self._all()]}")

    def _all(self) -> tuple[_Fit, ...]:
        first = _Fit("original", "original", self.original.design.interruptions[0], self.original, "", ())
        return (first, *self.fits)

    def table(self) -> pd.DataFrame:
        """One tidy table: every check × effect term of the first interruption.

        Returns
        -------
        pandas.DataFrame
            Columns ``check`` (``original``, ``in_time_placebo``, ``in_space_placebo``, ``leave_one_out``),
            ``label``, ``term`` (``level_change``/``slope_change``, ``diff_…`` in controlled fits),
            ``estimate, std_error, ci_lower, ci_upper, p_value``, ``n`` (fitted periods), ``method``; for
            count families ``rate_ratio, rate_ratio_ci_lower, rate_ratio_ci_upper`` (as
            :meth:`~evaltoolkit.its.ITSResult.effects` shows them: ``exp`` of the log-scale estimate and
            CI); then ``interruption`` (the real or placebo date), ``significant`` (the CI excludes 0),
            ``status`` (``ok``, ``warning``, ``failed``) and ``note`` (the fit's warnings or the error).
        """
        counts = self.original.is_count
        rows: list[dict[str, Any]] = []
        for f in self._all():
            status = "failed" if f.result is None else ("warning" if f.warnings else "ok")
            note = f.error if f.result is None else "; ".join(f.warnings)
            base = {"check": f.check, "label": f.label}
            if f.result is None:
                row = {**base, "term": None, "n": pd.NA, "method": _method_label(self.original)}
                rows.append({**row, "interruption": f.interruption, "status": status, "note": note})
                continue
            r = f.result
            coefs = r.coefficients(terms=list(r.design.interruption_terms[0])).set_index("term")
            for term in r.design.interruption_terms[0]:
                c = coefs.loc[term]
                row = {**base, "term": term}
                for col in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value"):
                    row[col] = float(c[col])
                row.update(n=r.n_obs, method=_method_label(r))
                if counts:
                    for col in RATE_RATIO_COLUMNS:
                        row[col] = float(c[col]) if col in c.index else math.nan
                row.update(
                    interruption=f.interruption,
                    significant=bool(c["ci_lower"] > 0 or c["ci_upper"] < 0),
                    status=status,
                    note=note,
                )
                rows.append(row)
        cols = [*ROBUSTNESS_COLUMNS, *(RATE_RATIO_COLUMNS if counts else ()), "interruption"]
        cols += ["significant", "status", "note"]
        out = pd.DataFrame(rows, columns=cols)
        for c in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value"):
            out[c] = out[c].astype("float64")
        out["n"] = out["n"].astype("Int64")
        out["significant"] = out["significant"].astype("boolean")
        return out

    def warning_signs(self) -> list[str]:
        """Plain sentences for each placebo whose CI excludes 0 (in-time or in-space), and failed checks."""
        t = self.table()
        out = []
        for row in t.itertuples(index=False):
            flagged = not pd.isna(row.significant) and bool(row.significant)
            if row.check in ("in_time_placebo", "in_space_placebo") and flagged:
                kind = "in-time" if row.check == "in_time_placebo" else "in-space"
                out.append(
                    f"{kind} placebo ({row.label}): {row.term} {row.estimate:.4g} "
                    f"({self.conf_level:.0%} CI {row.ci_lower:.4g} to {row.ci_upper:.4g}) excludes 0 — a "
                    "warning sign: a change where there was no intervention suggests a break in the "
                    "pre-period, a shared shock or a misfitting model"
                )
        for row in t[t["status"] == "failed"].itertuples(index=False):
            out.append(f"{row.label}: could not be fitted ({row.note})")
        return out

    def summary(self) -> str:
        """Plain-text summary: the table and the warning signs (or that there are none)."""
        t = self.table()
        show = t[[c for c in ("label", "term", "estimate", "ci_lower", "ci_upper", "n", "status")]]
        lines = [
            f"Robustness checks: {self.original.design.outcome} ({_method_label(self.original)}, "
            f"{self.conf_level:.0%} CIs)",
            show.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
        signs = self.warning_signs()
        if signs:
            lines += ["", "Warning signs:"] + [f"- {s}" for s in signs]
        else:
            lines += ["", "No placebo interval excludes 0 and every check was fitted."]
        notes = [f"{row.label}: {row.note}" for row in t.itertuples(index=False) if row.status == "warning"]
        if notes:
            lines += ["", "Fit warnings:"] + [f"- {n}" for n in dict.fromkeys(notes)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        counts = pd.Series([f.check for f in self.fits]).value_counts().to_dict() if self.fits else {}
        parts = ", ".join(f"{k}={counts.get(k, 0)}" for k in CHECKS[1:])
        signs = len(self.warning_signs())
        return f"RobustnessChecks({self.original.design.outcome!r}: {parts}; warning signs: {signs})"

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: ``conf_level``, ``checks`` (the table's rows), ``warning_signs``."""
        return _jsonable(
            {
                "conf_level": self.conf_level,
                "checks": _records(self.table()),
                "warning_signs": self.warning_signs(),
            }
        )

    def plot(
        self, ax: Axes | None = None, *, term: str | None = None, exponentiate: bool | None = None
    ) -> Axes:
        """Forest plot of one effect: the original estimate and every check, one row each.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure is created otherwise.
        term : {"level_change", "slope_change"}, optional
            The effect (its ``diff_`` version is used for controlled fits). Default ``level_change`` when
            the design has one, else ``slope_change``.
        exponentiate : bool, optional
            Rate ratios on a log axis (default for count families).

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (never shown). Filled markers: the CI excludes the null.
        """
        t = self.table()
        names = [x for x in t["term"].dropna().unique()]
        if term is None:
            term = "level_change" if any(str(n).endswith("level_change") for n in names) else "slope_change"
        if term not in ("level_change", "slope_change"):
            raise ITSInputError(f"plot(term=...) takes 'level_change' or 'slope_change', not {term!r}")
        if exponentiate is None:
            exponentiate = self.original.is_count
        if exponentiate and not self.original.is_count:
            raise ITSInputError("exponentiate=True needs a count model (rate ratios)")
        keep = t["term"].isin([term, f"diff_{term}"]) | t["term"].isna()
        t = t[keep]
        if exponentiate:
            cols = ("rate_ratio", "rate_ratio_ci_lower", "rate_ratio_ci_upper")
        else:
            cols = ("estimate", "ci_lower", "ci_upper")
        est, lo, hi = (t[c].to_numpy(dtype="float64", na_value=np.nan) for c in cols)
        sig = t["significant"].fillna(False).to_numpy(dtype=bool)
        labels = [
            f"{row.label}" + {"failed": " (failed)", "warning": " (warning)"}.get(str(row.status), "")
            for row in t.itertuples(index=False)
        ]
        return forest_plot(
            ax,
            labels,
            est,
            lo,
            hi,
            sig,
            exponentiate=bool(exponentiate),
            conf_level=self.conf_level,
            title=f"{term}: original and checks (filled = CI excludes the null)",
            empty_text=["  failed"] * len(labels),
        )


def _pre_data(result: ITSResult) -> pd.DataFrame:
    d = result.design
    f = d.frame
    data = result._fit_kwargs["data"]  # type: ignore[index]
    rows = np.sort(f.loc[f["t"] < d.interruption_t[0], "row"].to_numpy())
    return data.iloc[rows]


def _placebo_points(result: ITSResult, placebo_dates: Sequence[Any] | None) -> list[Any]:
    d = result.design
    f = d.frame
    t0 = d.interruption_t[0]
    pre_t = np.unique(f.loc[f["t"] < t0, "t"].to_numpy())
    if pre_t.size == 0:
        raise ITSInputError("robustness_checks: the analysis has no pre-period, so no in-time placebo")
    if placebo_dates is None:
        return [d.time_of(int(pre_t[0] + pre_t.size // 2))]
    if isinstance(placebo_dates, (str, pd.Timestamp)) or np.isscalar(placebo_dates):
        placebo_dates = [placebo_dates]
    out = []
    first, last = d.time_of(int(pre_t[0])), d.time_of(int(pre_t[-1]))
    for value in placebo_dates:
        tt = result._t_of(value, "placebo_dates")
        if tt not in set(pre_t.tolist()) or tt == pre_t[0]:
            raise ITSInputError(
                f"placebo_dates: {value!r} is not inside the pre-period ({_fmt(first)} to {_fmt(last)}, the "
                f"real interruption being {_fmt(d.interruptions[0])}); a placebo date must be a later "
                "pre-period period"
            )
        out.append(d.time_of(tt))
    return out


def robustness_checks(
    result: ITSResult,
    *,
    in_time: bool = True,
    in_space: bool = True,
    leave_one_out: bool = True,
    placebo_dates: Any = None,
) -> RobustnessChecks:
    """Run placebo and robustness checks of a fitted ITS analysis in one call.

    Parameters
    ----------
    result : ITSResult
        A fit from :func:`~evaltoolkit.its.fit_its` (it is re-fitted with changes; never modified).
    in_time : bool, default True
        In-time placebo: a fake interruption in the pre-period, fitted on the pre-period data only.
    in_space : bool, default True
        In-space placebo (controlled designs; ignored otherwise): each control series as if treated at the
        treated series' interruption, without the treated series (against the other controls; a
        single-series ITS when it is the only control).
    leave_one_out : bool, default True
        Controlled designs with two or more control series (ignored otherwise): the analysis without each
        control series in turn.
    placebo_dates : time value or sequence, optional
        Placebo interruption(s), values of the time column inside the pre-period (not its first period).
        Default: the middle of the pre-period (the period that splits it into halves, the later half
        starting there).

    Returns
    -------
    RobustnessChecks
        ``table()``, ``summary()``, ``warning_signs()``, ``to_dict()``, ``plot()``; ``checks[label]`` is a
        re-fit.

    Raises
    ------
    ITSInputError
        A result not made by ``fit_its``, or a placebo date outside the pre-period. A re-fit that fails
        (e.g. too few pre-period points for two segments of 3) is kept in the table as ``failed``.

    Notes
    -----
    The warnings of the re-fits (short segments, guards) are recorded in the table's ``note`` column and
    :meth:`RobustnessChecks.summary`, not issued again.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from evaltoolkit.its import fit_its, robustness_checks
    >>> t = np.arange(1, 37)
    >>> y = 50 + 0.5 * t - 6 * (t >= 25) + np.tile([0.4, -0.4, -0.4, 0.4], 9)
    >>> res = fit_its(pd.DataFrame({"t": t, "y": y}), outcome="y", time="t", interruptions=25, method="ols")
    >>> checks = robustness_checks(res)
    >>> table = checks.table()
    >>> table.assign(estimate=table["estimate"].round(3) + 0.0)[["check", "label", "term", "estimate", "n"]]
                 check          label          term  estimate   n
    0         original       original  level_change      -6.0  36
    1         original       original  slope_change       0.0  36
    2  in_time_placebo  placebo at 13  level_change       0.0  24
    3  in_time_placebo  placebo at 13  slope_change       0.0  24
    >>> checks.warning_signs()
    []
    """
    if not isinstance(result, ITSResult):
        raise ITSInputError(f"robustness_checks takes an ITSResult from fit_its, not {type(result).__name__}")
    if result._fit_kwargs is None:
        raise ITSInputError("robustness_checks needs a result made by fit_its (it re-fits the analysis)")
    d = result.design
    data: pd.DataFrame = result._fit_kwargs["data"]
    fits: list[_Fit] = []
    if in_time:
        pre = _pre_data(result)
        for value in _placebo_points(result, placebo_dates):
            fits.append(
                _refit(
                    result,
                    "in_time_placebo",
                    f"placebo at {_fmt(value)}",
                    value,
                    data=pre,
                    interruptions=value,
                )
            )
    if d.controlled:
        f = d.frame
        groups = list(pd.unique(f["group"]))
        controls = [g for g in groups if g not in set(d.treated)]
        treated_rows = f.loc[f["treated"], "row"].to_numpy()
        without_treated = _without(data, treated_rows)
        real = list(d.interruptions)
        real_arg = real[0] if len(real) == 1 else real
        if in_space:
            for c in controls:
                if len(controls) > 1:
                    fits.append(
                        _refit(
                            result,
                            "in_space_placebo",
                            f"control {c} as treated (vs other controls)",
                            real[0],
                            data=without_treated,
                            treated=c,
                            interruptions=real_arg,
                        )
                    )
                else:
                    own = without_treated[without_treated[d.group] == c]
                    fits.append(
                        _refit(
                            result,
                            "in_space_placebo",
                            f"control {c} as treated (single series)",
                            real[0],
                            data=own,
                            group=None,
                            treated=None,
                            interruptions=real_arg,
                        )
                    )
        if leave_one_out and len(controls) > 1:
            for c in controls:
                rows = f.loc[f["group"] == c, "row"].to_numpy()
                fits.append(
                    _refit(
                        result,
                        "leave_one_out",
                        f"without control {c}",
                        real[0],
                        data=_without(data, rows),
                    )
                )
    return RobustnessChecks(original=result, fits=tuple(fits), conf_level=result.conf_level)
